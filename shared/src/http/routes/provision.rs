//! The `provision` function: the catalog, single and bulk provisioning.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;

use crate::domain::{AllyError, CallerKey, IdempotencyKey};
use crate::http::extract::{Body, Caller, RequestKey};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::{BulkReceipt, BulkRequest, BulkState, BulkStatus, ProvisionReceipt, ProvisionRequest};
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

pub const PRODUCTS: Operation =
    Operation::get::<Offers>("/products", "products", "The catalog at your tier's prices").errors(&[404]);
pub const PROVISION: Operation =
    Operation::post::<ProvisionReceipt>("/provision", "provision", "Provision one service at your tier's price")
        .idempotent()
        .body::<ProvisionRequest>()
        .errors(&[402, 403, 404, 409]);
pub const BULK: Operation = Operation::post::<BulkReceipt>(
    "/clients/bulk",
    "bulkOnboard",
    "Onboard and provision up to 500 clients, all or nothing",
)
.idempotent()
.accepted()
.body::<BulkRequest>()
.errors(&[402, 403, 404, 409]);
pub const BULK_STATUS: Operation = Operation::get::<BulkStatus>(
    "/clients/bulk/{key}",
    "bulkStatus",
    "A bulk onboarding of yours by its Idempotency-Key: filling or done, and its charge",
)
.errors(&[404]);

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "provision";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[PRODUCTS, PROVISION, BULK, BULK_STATUS];

/// Spending: the catalog, single and bulk provisioning.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG)
        .route(PRODUCTS, products::<S>)
        .route(PROVISION, provision::<S>)
        .route(BULK, bulk::<S>)
        .route(BULK_STATUS, bulk_status::<S>)
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
