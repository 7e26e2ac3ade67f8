//! The `clients` function: a partner's clients.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::{LIST_QUERY, PageBody, client_id, sealed_page};
use crate::domain::Client;
use crate::http::extract::{Body, Caller, ListParams};
use crate::http::{Api, ApiError, Operation, Shared};
use crate::service::NewClient;
use crate::store::Store;

pub const CREATE: Operation = Operation::post::<Client>("/clients", "createClient", "Onboard a client")
    .body::<NewClient>()
    .created()
    .errors(&[403, 404])
.describe("Adds a client to your account. Its name is 1 to 200 visible characters; the email, if given, must be an address.");
pub const LIST: Operation = Operation::get::<PageBody<Client>>("/clients", "listClients", "Your clients, newest first")
    .query(LIST_QUERY)
    .errors(&[404])
    .describe("Your clients, newest first, a page at a time. A user without a partner account gets 404.");
pub const GET: Operation = Operation::get::<Client>("/clients/{id}", "getClient", "One of your clients")
    .errors(&[404])
    .describe("One of your clients by id; another partner's client is 404, as if it did not exist.");

/// The function's name: its binary, its SAM resource, its operations' tag.
pub const TAG: &str = "clients";

/// What it serves, in the order [`api`] routes it.
pub const OPERATIONS: &[Operation] = &[CREATE, LIST, GET];

/// A partner's clients.
pub fn api<S: Store>() -> Api<S> {
    Api::new(TAG).route(CREATE, create::<S>).route(LIST, list::<S>).route(GET, get::<S>)
}

async fn create<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Body(request): Body<NewClient>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(app.ally.onboard_client(&actor.user_id, request).await?)))
}

async fn list<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    list: ListParams,
) -> Result<Json<PageBody<Client>>, ApiError> {
    let scope = format!("clients:{}", actor.user_id);
    let page = list.page(&app.cursors, &scope)?;
    Ok(sealed_page(&app, &scope, app.ally.clients(&actor.user_id, &page).await?))
}

async fn get<S: Store>(
    State(app): State<Shared<S>>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Client>, ApiError> {
    Ok(Json(app.ally.client(&actor.user_id, &client_id(&id)?).await?))
}
