//! The dev server's own routes: `POST /_local/events` puts an EventBridge-shaped event on
//! the in-process bus (a `ReferralCompleted` from the referral system, say),
//! `GET /_local/outbox` lists the mail sent so far, and `POST /_local/sign-in` is the pages'
//! development sign-in: a token for the user id typed in. None of them exists in AWS.

use std::sync::Arc;

use ally::config::Secret;
use ally::events::BusEvent;
use ally::events::bus::Bus;
use ally::events::local::{LocalBus, Outbox, SentMail};
use ally::http::{ApiError, Body};
use ally::store::memory::MemoryStore;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

#[derive(Clone)]
struct Local {
    bus: Arc<LocalBus<MemoryStore>>,
    outbox: Arc<Outbox>,
    jwt: Secret,
}

/// Who signs in on the pages, locally.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    user_id: ally::domain::UserId,
    #[serde(default)]
    admin: bool,
}

async fn sign_in(State(local): State<Local>, Body(who): Body<SignIn>) -> Result<Json<serde_json::Value>, ApiError> {
    let email = crate::default_email(&who.user_id);
    Ok(Json(serde_json::json!({"token": crate::token(&local.jwt, &who.user_id, who.admin, email, 12)})))
}

async fn put_event(
    State(local): State<Local>,
    Body(event): Body<BusEvent>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if event.detail_type.is_empty() || event.source.is_empty() {
        return Err(ApiError::validation("source and detail-type are required"));
    }
    let accepted = local.bus.publish(std::slice::from_ref(&event)).await;
    Ok(Json(serde_json::json!({"accepted": accepted.first() == Some(&ally::events::bus::Published::Accepted)})))
}

async fn list_outbox(State(local): State<Local>) -> Json<Vec<SentMail>> {
    Json(local.outbox.sent())
}

/// The `/_local/*` routes.
pub fn routes(bus: Arc<LocalBus<MemoryStore>>, outbox: Arc<Outbox>, jwt: Secret) -> Router {
    Router::new()
        .route("/_local/events", post(put_event))
        .route("/_local/outbox", get(list_outbox))
        .route("/_local/sign-in", post(sign_in))
        .with_state(Local { bus, outbox, jwt })
}
