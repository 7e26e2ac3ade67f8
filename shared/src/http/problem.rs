//! The one mapping from errors to HTTP: `application/problem+json` bodies with a stable
//! `code`. 5xx details are logged, never shown.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::AllyError;
use crate::metrics::Metric;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
    /// The cause of a 5xx, for the log only.
    cause: Option<String>,
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    code: &'a str,
}

impl ApiError {
    /// An error with this status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into(), cause: None }
    }

    /// 401: no valid identity.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: a valid identity without the role.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 422: the input is not acceptable.
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", detail)
    }

    /// 401: a webhook whose signature does not verify.
    pub fn invalid_signature(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_signature", detail)
    }
}

impl From<AllyError> for ApiError {
    fn from(err: AllyError) -> Self {
        use StatusCode as S;
        let detail = err.to_string();
        let (status, code) = match &err {
            AllyError::Validation(_) => (S::UNPROCESSABLE_ENTITY, "validation_failed"),
            AllyError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            AllyError::AlreadyExists(_) => (S::CONFLICT, "already_exists"),
            AllyError::InsufficientCredits { .. } => (S::PAYMENT_REQUIRED, "insufficient_credits"),
            AllyError::OnHold => (S::FORBIDDEN, "provisioning_on_hold"),
            AllyError::Suspended => (S::FORBIDDEN, "reseller_inactive"),
            AllyError::TierNotAllowed { .. } => (S::FORBIDDEN, "tier_not_allowed"),
            AllyError::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AllyError::IdempotencyConflict => (S::CONFLICT, "idempotency_conflict"),
            AllyError::HoldClosed => (S::CONFLICT, "hold_closed"),
            AllyError::ReversalExceedsOriginal => (S::UNPROCESSABLE_ENTITY, "reversal_exceeds_original"),
            AllyError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
            AllyError::Contention => (S::SERVICE_UNAVAILABLE, "busy"),
            AllyError::Throttled => (S::SERVICE_UNAVAILABLE, "throttled"),
            AllyError::Store(_) | AllyError::Internal(_) => {
                return Self {
                    status: S::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    detail: "an internal error occurred".into(),
                    cause: Some(format!("{:?}", error_chain(&err))),
                };
            }
        };
        Self::new(status, code, detail)
    }
}

/// The error and every source below it, for the log.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut counted = vec![Metric::Refused(self.code)];
        if self.code == "busy" {
            counted.push(Metric::BusyExhausted);
        }
        crate::metrics::record(&counted);
        if self.status.is_server_error() {
            tracing::error!(code = self.code, cause = self.cause.as_deref().unwrap_or(""), "request failed");
        }
        let title = self.status.canonical_reason().unwrap_or("Error");
        let problem = Problem {
            kind: format!("/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// The last resort of every router: a handler that panicked answers a 500 problem, logged
/// and counted, instead of dropping the connection (or, in Lambda, the process). Inputs are
/// checked before they reach arithmetic; this is for the bug that slipped through.
pub async fn catch_panic(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use futures::FutureExt;
    match std::panic::AssertUnwindSafe(next.run(request)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(panic = %what, "a handler panicked: answered 500");
            crate::metrics::record(&[Metric::Panic]);
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                detail: "an internal error occurred".into(),
                cause: Some(format!("panic: {what}")),
            }
            .into_response()
        }
    }
}
