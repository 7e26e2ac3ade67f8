//! Request extractors that fail with problem+json: the caller, JSON bodies, the
//! idempotency key, list parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use super::ApiError;
use super::identity::Claims;
use crate::domain::CallerKey;
use crate::service::Actor;
use crate::store::PageRequest;

/// Largest request body accepted (256 KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// The verified caller; 401 when the request carries no verified identity.
pub struct Caller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Claims>()
            .and_then(Claims::actor)
            .map(Caller)
            .ok_or_else(|| ApiError::unauthorized("a valid bearer token is required"))
    }
}

/// A verified caller in the `admin` group; 401 without identity, 403 without the role.
pub struct AdminCaller(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Caller(actor) = Caller::from_request_parts(parts, state).await?;
        if actor.admin { Ok(AdminCaller(actor)) } else { Err(ApiError::forbidden("this route is for admins")) }
    }
}

/// The raw body (the webhook signs bytes, not JSON): over 256 KiB is 413 problem+json.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(request, state).await.map(RawBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the body is over 256 KiB")
            } else {
                ApiError::validation("the body could not be read")
            }
        })
    }
}

/// A JSON body: over 256 KiB is 413; malformed JSON, unknown fields, or a string holding a
/// character no reader sees (in any field: names, notes, metadata, addresses) are 422.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        let invalid = |e: serde_json::Error| ApiError::validation(format!("invalid JSON body: {e}"));
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(invalid)?;
        if let Some((field, hidden)) = unseen_in(&value, "") {
            return Err(ApiError::validation(format!(
                "{} holds U+{:04X}, a character that cannot be seen (format and invisible characters are refused)",
                if field.is_empty() { "the body" } else { field.as_str() },
                hidden as u32
            )));
        }
        T::deserialize(value).map(Body).map_err(invalid)
    }
}

/// The first string of `value` (at `path`) holding a character no reader sees, and it.
fn unseen_in(value: &serde_json::Value, path: &str) -> Option<(String, char)> {
    use serde_json::Value;
    match value {
        Value::String(text) => crate::domain::first_unseen(text).map(|c| (path.to_string(), c)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| unseen_in(item, &format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(name, field)| {
            let at = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
            crate::domain::first_unseen(name).map(|c| (at.clone(), c)).or_else(|| unseen_in(field, &at))
        }),
        _ => None,
    }
}

/// The `Idempotency-Key` header of a mutation that moves credits (required), checked once
/// here; the route puts it in its namespace ([`crate::domain::IdempotencyKey`]).
pub struct RequestKey(pub CallerKey);

impl<S: Send + Sync> FromRequestParts<S> for RequestKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get("idempotency-key").ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "idempotency_key_required",
                "this request needs an Idempotency-Key header",
            )
        })?;
        let key = value
            .to_str()
            .map_err(|_| ApiError::validation("Idempotency-Key must be 1 to 128 printable ASCII characters"))?;
        Ok(RequestKey(CallerKey::parse(key)?))
    }
}

#[derive(Deserialize)]
struct RawList {
    limit: Option<String>,
    cursor: Option<String>,
}

/// `?limit=&cursor=` of a list, still sealed; [`ListParams::page`] opens it for a caller.
pub struct ListParams {
    limit: Option<i64>,
    cursor: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(raw) = Query::<RawList>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::validation(e.body_text()))?;
        let limit = match raw.limit {
            Some(l) => {
                Some(l.parse::<i64>().map_err(|_| ApiError::validation("limit must be a number from 1 to 100"))?)
            }
            None => None,
        };
        Ok(ListParams { limit, cursor: raw.cursor.filter(|c| !c.is_empty()) })
    }
}

/// Seals cursors to the list and caller they were issued for, so a cursor cannot be
/// replayed by another partner or forged (HMAC-SHA256 with a server-side key).
#[derive(Clone)]
pub struct CursorSeal {
    key: std::sync::Arc<Vec<u8>>,
}

impl CursorSeal {
    /// A seal with this key.
    pub fn new(key: Vec<u8>) -> Self {
        Self { key: std::sync::Arc::new(key) }
    }

    fn tag(&self, scope: &str, raw: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(raw.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    /// The sealed form of a store cursor for `scope` (the list and its caller).
    pub fn seal(&self, scope: &str, raw: &str) -> String {
        format!("{raw}.{}", self.tag(scope, raw))
    }

    /// The store cursor, if `sealed` was issued for `scope`.
    pub fn open(&self, scope: &str, sealed: &str) -> Result<String, ApiError> {
        let invalid = || ApiError::validation("cursor was not issued for this list and caller");
        let (raw, tag) = sealed.rsplit_once('.').ok_or_else(invalid)?;
        let expected = self.tag(scope, raw);
        // Compare as MACs do: in constant time.
        let same = expected.len() == tag.len()
            && expected.bytes().zip(tag.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        if same { Ok(raw.to_string()) } else { Err(invalid()) }
    }
}

impl ListParams {
    /// The page to read for `scope`, with the cursor opened and the limit checked.
    pub fn page(&self, seal: &CursorSeal, scope: &str) -> Result<PageRequest, ApiError> {
        let cursor = self.cursor.as_deref().map(|c| seal.open(scope, c)).transpose()?;
        Ok(PageRequest::new(self.limit, cursor)?)
    }
}
