//! The `provision` function: the catalog, single and bulk provisioning.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use super::{PageBody, sealed_page};
use crate::domain::{AllyError, CallerKey, Hold, HoldStatus, IdempotencyKey};
use crate::http::extract::{Body, Caller, ListParams, RequestKey};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::{
    BulkReceipt, BulkRequest, BulkState, BulkStatus, CaptureReceipt, CaptureRequest, HoldReceipt, HoldRequest,
    ProvisionReceipt, ProvisionRequest, VoidReceipt,
};
use crate::store::Store;

/// A product as a reseller sees it: its base price, its price at the reseller's tier,
/// and whether the tier may sell it.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Offer {
    id: String,
    name: String,
    base_price: i64,
    price: i64,
    allowed: bool,
}

/// The catalog.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Offers {
    items: Vec<Offer>,
}

pub const PRODUCTS: Operation = Operation::get::<Offers>("/products", "products", "The catalog at your tier's prices")
    .errors(&[404])
    .describe("The catalog with each product's base price, your price at your tier and whether your tier may sell it.");
pub const PROVISION: Operation =
    Operation::post::<ProvisionReceipt>("/provision", "provision", "Provision one service at your tier's price")
        .idempotent()
        .body::<ProvisionRequest>()
        .errors(&[402, 403, 404, 409])
.describe("Charges your tier's price of a product (or a custom base price, `cost`, at your tier's discount) and provisions the service, for one of your clients if `client_id` is given. Refused with 402 when what you may spend does not cover it, with 403 when your account is suspended, on hold or your tier may not sell the product; nothing moves then.");
pub const BULK: Operation = Operation::post::<BulkReceipt>(
    "/clients/bulk",
    "bulkOnboard",
    "Onboard and provision up to 500 clients, all or nothing",
)
.idempotent()
.accepted()
.body::<BulkRequest>()
.errors(&[402, 403, 404, 409])
.describe("Charges the tier price of one product (or a custom cost) per client at once, then writes the clients and their services: all or nothing if the credits do not suffice. Up to 47 clients ride in the charge itself; a bigger bulk answers 202 while its fill finishes (read it at `Location`), and the sweeper finishes a fill its caller abandoned. A retry with the same key answers the same receipt.");
pub const BULK_STATUS: Operation = Operation::get::<BulkStatus>(
    "/clients/bulk/{key}",
    "bulkStatus",
    "A bulk onboarding of yours by its Idempotency-Key: filling or done, and its charge",
)
.errors(&[404])
.describe("Where a bulk onboarding of yours stands, by the Idempotency-Key it was sent with: `filling` or `done`, what it charged and the clients' ids.");

pub const PLACE_HOLD: Operation = Operation::post::<HoldReceipt>(
    "/holds",
    "placeHold",
    "Reserve the tier price of a product or cost until it expires",
)
.idempotent()
.body::<HoldRequest>()
.created()
.errors(&[402, 403, 404, 409])
.describe("Reserves the tier price of a product (or a custom cost) from what you may spend, without charging it, for `expires_in_s` seconds (default 24 hours). Capture it when the service is built, or void it; at its end the sweeper releases it.");
pub const LIST_HOLDS: Operation =
    Operation::get::<PageBody<Hold>>("/holds", "listHolds", "Your holds, newest first, with their status as of now")
        .query(&[
            ("status", "active, captured, voided or expired: only those"),
            ("limit", "page size, 1 to 100 (default 25)"),
            ("cursor", "next_cursor of the previous page"),
        ])
        .values(&[("status", &["active", "captured", "voided", "expired"])])
        .errors(&[404])
.describe("Your holds, newest first; `status` keeps one status (a hold past its end reads as `expired` even before the sweeper releases it).");
pub const CAPTURE_HOLD: Operation = Operation::post::<CaptureReceipt>(
    "/holds/{id}/capture",
    "captureHold",
    "Debit all or part of a hold, provision its service and release the rest",
)
.idempotent()
.body::<CaptureRequest>()
.errors(&[404, 409])
.describe("Charges `amount` (at most what was reserved; all of it when absent), writes the service, and releases the rest of the reserve, in one write. The body may be `{}`.");
pub const VOID_HOLD: Operation = Operation::post::<VoidReceipt>("/holds/{id}/void", "voidHold", "Release a hold")
    .idempotent()
    .errors(&[404, 409])
    .describe("Releases the whole reserve of an active hold; nothing is charged. A closed hold is `409 hold_closed`.");

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "provision";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] =
    &[PRODUCTS, PROVISION, BULK, BULK_STATUS, PLACE_HOLD, LIST_HOLDS, CAPTURE_HOLD, VOID_HOLD];

/// Spending: the catalog, single and bulk provisioning.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG)
        .route(PRODUCTS, products::<S>)
        .route(PROVISION, provision::<S>)
        .route(BULK, bulk::<S>)
        .route(BULK_STATUS, bulk_status::<S>)
        .route(PLACE_HOLD, place_hold::<S>)
        .route(LIST_HOLDS, list_holds::<S>)
        .route(CAPTURE_HOLD, capture_hold::<S>)
        .route(VOID_HOLD, void_hold::<S>)
}

async fn products<S: Store>(State(app): State<Shared<S>>, Caller(actor): Caller) -> Result<Json<Offers>, ApiError> {
    let reseller = app.ally.find_by_user(&actor.user_id).await?;
    let config = app.ally.config();
    let items = config
        .catalog
        .0
        .iter()
        .map(|p| Offer {
            id: p.id.clone(),
            name: p.name.clone(),
            base_price: p.base_price.get(),
            price: config.discounts.price(p.base_price, reseller.tier).get(),
            allowed: p.allows(reseller.tier),
        })
        .collect();
    Ok(Json(Offers { items }))
}

async fn provision<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    RequestKey(key): RequestKey,
    Body(request): Body<ProvisionRequest>,
) -> Result<Json<ProvisionReceipt>, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok(Json(app.ally.provision(&actor.user_id, request, &key).await?))
}

async fn bulk<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    RequestKey(key): RequestKey,
    Body(request): Body<BulkRequest>,
) -> Result<Response, ApiError> {
    let location = format!("/clients/bulk/{}", utf8_percent_encode(key.as_str(), NON_ALPHANUMERIC));
    let key = IdempotencyKey::caller(&key);
    let receipt = app.ally.bulk_onboard(&actor.user_id, request, &key).await?;
    Ok(match receipt.state {
        BulkState::Done => Json(receipt).into_response(),
        BulkState::Filling => (StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(receipt)).into_response(),
    })
}

/// `{key}` is the Idempotency-Key the bulk was sent with (percent-encoded).
async fn bulk_status<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Path(key): Path<String>,
) -> Result<Json<BulkStatus>, ApiError> {
    let key = CallerKey::parse(&key).map_err(|_| AllyError::NotFound("bulk onboarding"))?;
    Ok(Json(app.ally.bulk_status(&actor.user_id, &IdempotencyKey::caller(&key)).await?))
}

async fn place_hold<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    RequestKey(key): RequestKey,
    Body(request): Body<HoldRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok((StatusCode::CREATED, Json(app.ally.place_hold(&actor.user_id, request, &key).await?)))
}

#[derive(Deserialize)]
struct HoldQuery {
    status: Option<String>,
}

async fn list_holds<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    query: Result<Query<HoldQuery>, axum::extract::rejection::QueryRejection>,
    list: ListParams,
) -> Result<Json<PageBody<Hold>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::validation(e.body_text()))?;
    let status: Option<HoldStatus> = query.status.as_deref().map(str::parse).transpose()?;
    let scope = format!("holds:{}:{status:?}", actor.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.holds(&actor.user_id, status, &page).await?))
}

async fn capture_hold<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    RequestKey(key): RequestKey,
    Body(request): Body<CaptureRequest>,
) -> Result<Json<CaptureReceipt>, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok(Json(app.ally.capture_hold(&actor.user_id, &hold_id(&id)?, request, &key).await?))
}

async fn void_hold<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
    RequestKey(key): RequestKey,
) -> Result<Json<VoidReceipt>, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok(Json(app.ally.void_hold(&actor.user_id, &hold_id(&id)?, &key).await?))
}

/// A hold id from a path: a ULID, or no hold (404, as another partner's).
fn hold_id(text: &str) -> Result<String, ApiError> {
    match ulid::Ulid::from_string(text) {
        Ok(_) => Ok(text.to_string()),
        Err(_) => Err(AllyError::NotFound("hold").into()),
    }
}
