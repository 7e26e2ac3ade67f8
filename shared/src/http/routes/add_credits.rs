//! The `add-credits` function: the admin top-up, the payment webhook, reversals and
//! transfers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::refid;
use crate::domain::{ADMIN_ACTOR, EntryKind, IdempotencyKey, Note};
use crate::http::extract::{AdminCaller, Body, Caller, RawBody, RequestKey};
use crate::http::openapi::Access;
use crate::http::{Api, ApiError, Operation, Shared, stripe, webhook};
use crate::service::{
    Actor, AdminTransferRequest, CreditReceipt, CreditRequest, Paid, ReversalReceipt, ReversalRequest, StripeAck,
    TransferReceipt, TransferRequest,
};
use crate::store::Store;

pub const ADD: Operation = Operation::post::<CreditReceipt>(
    "/resellers/{refid}/credits",
    "addCredits",
    "Add credits to a reseller's wallet (admin)",
)
.admin()
.idempotent()
.body::<CreditRequest>()
.errors(&[403, 404, 409])
.describe("Credits a reseller's wallet; the credit first repays any debt. `promotional` credit may expire (`expires_at`). A retry with the same key credits nothing again.");
pub const WEBHOOK: Operation = Operation::post::<PaymentAnswer>(
    "/webhooks/payments",
    "paymentWebhook",
    "A payment provider's signed notice: credits the reseller once per event id; a payment Ally cannot credit is kept (unattributed)",
)
.access(Access::Signed)
.body::<PaymentEvent>()
.errors(&[409])
.describe("For a payment provider: a `payment.succeeded` event signed with `Ally-Signature` (HMAC-SHA256 of `<t>.<raw body>` with the webhook secret, 5 minutes of tolerance) credits the reseller once per event id. A payment Ally cannot credit (unknown refid, a currency it does not take, too large) is kept for an admin and answered 200 `unattributed`, so the provider stops retrying.");

/// What the payment webhook answers: the credit, or a payment kept for an admin.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum PaymentAnswer {
    Credited(CreditReceipt),
    /// `{received: true, outcome: "unattributed"}`: no reseller Ally knows, a currency it
    /// does not take, or more than `ALLY_MAX_CREDIT_AMOUNT`.
    Kept(StripeAck),
}

pub const REVERSE: Operation = Operation::post::<ReversalReceipt>(
    "/resellers/{refid}/reversals",
    "reverseEntry",
    "Take back all or part of a credit, payment or reward; what the wallet cannot give becomes debt (admin)",
)
.admin()
.idempotent()
.body::<ReversalRequest>()
.errors(&[403, 404, 409])
.describe("Takes back all or part of a credit, payment or reward (never more than it in all, however many reversals run at once); what the wallet no longer holds becomes debt that the next top-ups repay.");

pub const STRIPE: Operation = Operation::post::<StripeAck>(
    "/webhooks/stripe",
    "stripeWebhook",
    "Stripe's signed events: payments credit once per PaymentIntent, refunds and disputes reverse, other types are acknowledged",
)
.access(Access::Signed)
.body::<serde_json::Value>()
.errors(&[400, 422])
.describe("For Stripe: events signed with `Stripe-Signature`. A paid Checkout Session or PaymentIntent credits the reseller it names (`client_reference_id` or metadata `refid`) once per PaymentIntent in the whole network; refunds and lost disputes reverse it (debt if spent); won disputes and failed refunds give it back; other types are acknowledged and ignored.");

pub const TRANSFER: Operation = Operation::post::<TransferReceipt>(
    "/resellers/me/transfers",
    "transferToSubReseller",
    "Pass credits to one of your direct sub-resellers (404 for anyone else)",
)
.idempotent()
.body::<TransferRequest>()
.errors(&[402, 403, 404, 409])
.describe("Passes credits from your wallet to one of your direct sub-resellers, in one write; the credit keeps its kind and expiry. Anyone else is 404.");

pub const ADMIN_TRANSFER: Operation = Operation::post::<TransferReceipt>(
    "/resellers/transfers",
    "transferBetweenResellers",
    "Move credits between any two resellers (admin)",
)
.admin()
.idempotent()
.body::<AdminTransferRequest>()
.errors(&[402, 403, 404, 409])
.describe("Moves credits between any two resellers, in one write, as an admin; the entries name the admin as `admin`.");

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "add-credits";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[ADD, WEBHOOK, STRIPE, REVERSE, TRANSFER, ADMIN_TRANSFER];

/// Credits in: the admin top-up and the payment webhook.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG)
        .route(ADD, add::<S>)
        .route(WEBHOOK, payment_webhook::<S>)
        .route(STRIPE, stripe_webhook::<S>)
        .route(REVERSE, reverse::<S>)
        .route(TRANSFER, transfer::<S>)
        .route(ADMIN_TRANSFER, admin_transfer::<S>)
}

async fn add<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    RequestKey(key): RequestKey,
    Body(request): Body<CreditRequest>,
) -> Result<Json<CreditReceipt>, ApiError> {
    let user = app.ally.user_by_refid(&refid(&id)?).await?;
    let key = IdempotencyKey::admin(&key);
    Ok(Json(app.ally.add_credits(&user, request, EntryKind::Credit, admin_actor(&admin, "credit"), &key).await?))
}

async fn reverse<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    Path(id): Path<String>,
    RequestKey(key): RequestKey,
    Body(request): Body<ReversalRequest>,
) -> Result<Json<ReversalReceipt>, ApiError> {
    let user = app.ally.user_by_refid(&refid(&id)?).await?;
    let key = IdempotencyKey::admin(&key);
    Ok(Json(app.ally.reverse(&user, request, admin_actor(&admin, "reversal"), &key).await?))
}

async fn transfer<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    RequestKey(key): RequestKey,
    Body(request): Body<TransferRequest>,
) -> Result<Json<TransferReceipt>, ApiError> {
    let key = IdempotencyKey::caller(&key);
    Ok(Json(app.ally.transfer_to_child(&actor.user_id, request, &key).await?))
}

async fn admin_transfer<S: Store>(
    State(app): State<Shared<S>>,
    AdminCaller(admin): AdminCaller,
    RequestKey(key): RequestKey,
    Body(request): Body<AdminTransferRequest>,
) -> Result<Json<TransferReceipt>, ApiError> {
    let key = IdempotencyKey::admin(&key);
    Ok(Json(app.ally.transfer_between(request, admin_actor(&admin, "transfer"), &key).await?))
}

/// How the entries an admin makes name them: by role, since partners read them; which admin
/// it was goes to the log.
fn admin_actor(admin: &Actor, what: &'static str) -> &'static str {
    tracing::info!(admin = %admin.user_id, what, "an admin moves credit");
    ADMIN_ACTOR
}

async fn stripe_webhook<S: Store>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<StripeAck>, ApiError> {
    let secret = app.stripe_secret.as_deref().ok_or_else(|| {
        tracing::error!("ALLY_STRIPE_WEBHOOK_SECRET is not set: every Stripe event is refused");
        ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_signature", "the Stripe webhook is not configured")
    })?;
    let header = headers.get("stripe-signature").and_then(|v| v.to_str().ok());
    webhook::verify_stripe(header, &body, secret, chrono::Utc::now().timestamp())?;
    let event: stripe::StripeEvent =
        serde_json::from_slice(&body).map_err(|e| ApiError::validation(format!("not a Stripe event: {e}")))?;
    Ok(Json(stripe::handle(&app.ally, event).await?))
}

/// The payment provider's event.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentEvent {
    /// The provider's event id: a repeated id credits nothing.
    pub id: String,
    /// Only `payment.succeeded` is accepted.
    #[serde(rename = "type")]
    pub kind: String,
    pub reseller_refid: String,
    /// The amount paid in the currency's minor unit (ISO 4217: cents for USD, yen for JPY,
    /// fils for KWD).
    pub amount_minor: i64,
    pub currency: String,
    /// The auto top-up request the payment answers (`AutoTopUpRequested.request_id`).
    #[serde(default)]
    pub top_up_request: Option<String>,
}

async fn payment_webhook<S: Store>(
    State(app): State<Shared<S>>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<PaymentAnswer>, ApiError> {
    let secret = app.webhook_secret.as_deref().ok_or_else(|| {
        tracing::error!("ALLY_WEBHOOK_SECRET is not set: every payment webhook is refused");
        ApiError::invalid_signature("the webhook is not configured")
    })?;
    let header = headers.get("ally-signature").and_then(|v| v.to_str().ok());
    webhook::verify(header, &body, secret, chrono::Utc::now().timestamp())?;
    let event: PaymentEvent =
        serde_json::from_slice(&body).map_err(|e| ApiError::validation(format!("invalid JSON body: {e}")))?;
    if event.kind != "payment.succeeded" {
        return Err(ApiError::validation(format!(
            "unsupported event type `{}`",
            event.kind.chars().take(64).collect::<String>()
        )));
    }
    // In a namespace of its own: a provider's id can never name a Stripe payment's receipt.
    let key = IdempotencyKey::payment(&format!("webhook:{}", event.id))?;
    let paid = Paid {
        source: "payments",
        payment: &event.id,
        refid: Some(&event.reseller_refid),
        amount_minor: event.amount_minor,
        currency: &event.currency,
    };
    let (user, credits) = match app.ally.creditable(&paid).await? {
        Ok(creditable) => creditable,
        Err(kept) => return Ok(Json(PaymentAnswer::Kept(kept))),
    };
    let request = CreditRequest {
        amount: credits.get(),
        reason: Some(Note::parse(format!("payment {}", event.id))?),
        top_up_request: event.top_up_request,
        ..CreditRequest::default()
    };
    let receipt = app.ally.add_credits(&user, request, EntryKind::Credit, "webhook:payments", &key).await?;
    Ok(Json(PaymentAnswer::Credited(receipt)))
}
