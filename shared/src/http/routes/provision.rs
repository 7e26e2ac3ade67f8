//! The `provision` function: the catalog, single and bulk provisioning.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::domain::IdempotencyKey;
use crate::http::extract::{Body, Caller, RequestKey};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::{BulkReceipt, BulkRequest, ProvisionReceipt, ProvisionRequest};
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
.body::<BulkRequest>()
.errors(&[402, 403, 404, 409]);

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "provision";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[PRODUCTS, PROVISION, BULK];

/// Spending: the catalog, single and bulk provisioning.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG).route(PRODUCTS, products::<S>).route(PROVISION, provision::<S>).route(BULK, bulk::<S>)
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
) -> Result<Json<BulkReceipt>, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok(Json(app.ally.bulk_onboard(&actor.user_id, request, &key).await?))
}
