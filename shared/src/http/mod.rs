//! The HTTP API: one axum `Router` per Lambda function, all built from one list of
//! [`Operation`]s that also yields the OpenAPI document. The same routers run in Lambda
//! (`lambda_http::run`) and merged in the local dev server.

mod extract;
pub mod identity;
pub mod openapi;
pub mod pages;
mod problem;
mod routes;
pub mod stripe;
pub mod webhook;

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::on;

pub use extract::{Body, CursorSeal, MAX_BODY};
pub use openapi::{Access, Method, Operation};
pub use problem::{ApiError, catch_panic};

use crate::Ally;
use crate::store::Store;

/// What every handler shares: the service and the HTTP-only secrets.
pub struct HttpApp<S> {
    pub ally: Arc<Ally<S>>,
    /// Seals list cursors to their caller (`ALLY_CURSOR_SECRET`).
    pub cursors: CursorSeal,
    /// Verifies the payment webhook (`ALLY_WEBHOOK_SECRET`); without it the webhook refuses all.
    pub webhook_secret: Option<Vec<u8>>,
    /// Verifies Stripe's webhook (`ALLY_STRIPE_WEBHOOK_SECRET`); none refuses every event.
    pub stripe_secret: Option<Vec<u8>>,
}

/// The shared state of the routers.
pub type Shared<S> = Arc<HttpApp<S>>;

impl<S: Store> HttpApp<S> {
    /// The app over `ally`, with the secrets of its configuration. Without
    /// `ALLY_CURSOR_SECRET` cursors are sealed with a per-process key: fine for one process,
    /// but cursors then fail across Lambda instances, so deployments set it.
    pub fn new(ally: impl Into<Arc<Ally<S>>>) -> Shared<S> {
        let ally = ally.into();
        let config = ally.config();
        let cursor_key = match &config.cursor_secret {
            Some(secret) => secret.bytes().to_vec(),
            None => {
                tracing::warn!("ALLY_CURSOR_SECRET is not set; cursors are valid in this process only");
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        let webhook_secret = config.webhook_secret.as_ref().map(|s| s.bytes().to_vec());
        let stripe_secret = config.stripe_webhook_secret.as_ref().map(|s| s.bytes().to_vec());
        Arc::new(Self { ally, cursors: CursorSeal::new(cursor_key), webhook_secret, stripe_secret })
    }
}

/// `api` as a Lambda function serves it: identity from API Gateway's JWT authorizer.
pub fn lambda_router<S: Store>(api: Api<S>, app: Shared<S>) -> Router {
    api.into_router(app)
        .layer(axum::middleware::from_fn(identity::from_lambda_authorizer))
        .layer(axum::middleware::map_response(private_answer))
}

/// Every route as the dev server serves it: identity from a local HS256 token.
pub fn local_router<S: Store>(app: Shared<S>, jwt_secret: &[u8]) -> Router {
    let secret = identity::LocalJwtSecret(Arc::new(jwt_secret.to_vec()));
    merged_router(app)
        .layer(axum::middleware::from_fn_with_state(secret, identity::from_local_jwt))
        .layer(axum::middleware::map_response(private_answer))
}

/// Every API answer (a profile, a ledger, an error naming a refid) is a reseller's: no
/// cache keeps it and no browser reads it as anything but what it says. Outermost, so the
/// identity layer's 401s carry it too.
pub async fn private_answer(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A router under construction with the operations it serves.
pub struct Api<S> {
    /// The function it is, which tags its operations in the document.
    tag: &'static str,
    router: Router<Shared<S>>,
    operations: Vec<Operation>,
}

/// The tag of `/health` and `/openapi.json`, which every function serves.
const META: &str = "meta";

impl<S: Store> Api<S> {
    pub(crate) fn new(tag: &'static str) -> Self {
        Self { tag, router: Router::new(), operations: Vec::new() }
    }

    /// Serves `handler` for `op` and records it for the document.
    pub(crate) fn route<H, T>(mut self, op: Operation, handler: H) -> Self
    where
        H: Handler<T, Shared<S>>,
        T: 'static,
    {
        self.router = self.router.route(op.path, on(op.method.filter(), handler));
        self.operations.push(op);
        self
    }

    /// The operations it serves.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The function's name, the tag of its operations in the document.
    pub fn tag(&self) -> &'static str {
        self.tag
    }

    /// The finished router: the routes, `/health`, `/openapi.json`, the 256 KiB body limit,
    /// a problem+json answer for unknown routes, and a 500 problem for a handler that
    /// panicked (never a dropped connection or an aborted Lambda).
    pub fn into_router(self, app: Shared<S>) -> Router {
        let common = Api::<S>::new(META).route(routes::HEALTH, routes::health).route(routes::OPENAPI, routes::openapi);
        self.router
            .merge(common.router)
            .fallback(routes::no_route)
            .method_not_allowed_fallback(routes::no_route)
            .layer(DefaultBodyLimit::max(MAX_BODY))
            .layer(axum::middleware::from_fn(catch_panic))
            .with_state(app)
    }
}

pub use routes::{FUNCTIONS, HEALTH, OPENAPI, add_credits, analytics, clients, onboarding, provision};

/// Every function's API, in deployment order.
pub fn every_api<S: Store>() -> Vec<Api<S>> {
    vec![onboarding::api(), add_credits::api(), provision::api(), clients::api(), analytics::api()]
}

/// The OpenAPI document of the whole API (every function serves the same one). Built from
/// the functions' operation lists, so it needs no store: a Lambda links only its own.
pub fn openapi_json() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut operations: Vec<(&str, Operation)> =
            routes::FUNCTIONS.iter().flat_map(|(tag, ops)| ops.iter().map(move |op| (*tag, *op))).collect();
        operations.extend([(META, routes::HEALTH), (META, routes::OPENAPI)]);
        openapi::document(&operations)
    })
}

/// Every route merged into one router: the local dev server and the HTTP tests.
pub fn merged_router<S: Store>(app: Shared<S>) -> Router {
    // Its tag goes unused: the document is built from the functions' lists, tagged each.
    let mut api = Api::<S>::new("all");
    for part in every_api::<S>() {
        api.router = api.router.merge(part.router);
        api.operations.extend(part.operations);
    }
    api.into_router(app)
}
