//! Handlers, one file per Lambda function, each holding its operations (what the router
//! serves and the document describes) and its handlers: parse, authorize, call one service
//! method, map the result. Here: what every function serves, and the pieces lists share.

pub mod add_credits;
pub mod analytics;
pub mod clients;
pub mod onboarding;
pub mod provision;

use axum::Json;
use axum::http::StatusCode;
use serde::Serialize;

use super::openapi::{Access, Operation};
use super::{ApiError, Shared};
use crate::domain::{AllyError, ClientId, RefId};
use crate::store::Page;

/// `{status: "ok"}`.
#[derive(Serialize, schemars::JsonSchema)]
pub struct Health {
    status: &'static str,
}

pub const HEALTH: Operation = Operation::get::<Health>("/health", "health", "Liveness")
    .access(Access::Public)
    .describe("Answers `{\"status\": \"ok\"}` when the function is up; needs no token.");
pub const OPENAPI: Operation =
    Operation::get::<serde_json::Map<String, serde_json::Value>>("/openapi.json", "openapi", "This document")
        .access(Access::Public)
        .describe("The OpenAPI 3.1 document of every function's routes; needs no token.");

/// Every function's tag and operations, for the document (no handler, so no store type).
pub const FUNCTIONS: &[(&str, &[Operation])] = &[
    (onboarding::TAG, onboarding::OPERATIONS),
    (add_credits::TAG, add_credits::OPERATIONS),
    (provision::TAG, provision::OPERATIONS),
    (clients::TAG, clients::OPERATIONS),
    (analytics::TAG, analytics::OPERATIONS),
];

pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

pub async fn openapi() -> Json<&'static serde_json::Value> {
    Json(super::openapi_json())
}

pub async fn no_route() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

/// A page of items as the API shows it, the cursor sealed to its caller.
#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct PageBody<T> {
    items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn sealed_page<T, S>(app: &Shared<S>, scope: &str, page: Page<T>) -> Json<PageBody<T>> {
    let next_cursor = page.next_cursor.map(|raw| app.cursors.seal(scope, &raw));
    Json(PageBody { items: page.items, next_cursor })
}

const LIST_QUERY: &[(&str, &str)] =
    &[("limit", "page size, 1 to 100 (default 25)"), ("cursor", "next_cursor of the previous page")];

/// A refid from a path or a body: one of another shape names no reseller (404, as any
/// reseller the caller cannot see).
fn refid(text: &str) -> Result<RefId, ApiError> {
    RefId::parse(text).map_err(|_| AllyError::NotFound("reseller").into())
}

/// A client id from a path: one of another shape names no client (404).
fn client_id(text: &str) -> Result<ClientId, ApiError> {
    ClientId::parse(text).map_err(|_| AllyError::NotFound("client").into())
}
