//! Who is calling. The one place identity is read: verified JWT claims only, never a
//! header or body field the caller controls.
//!
//! In AWS, API Gateway's JWT authorizer has verified the token (signature, issuer, audience,
//! expiry); [`from_lambda_authorizer`] copies its claims from the request context. Locally,
//! [`from_local_jwt`] verifies an HS256 bearer token with `ALLY_LOCAL_JWT_SECRET`, the same
//! way. Both hand handlers the same [`Claims`].

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lambda_http::request::RequestContext;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::UserId;
use crate::service::Actor;

/// The verified claims a handler may rely on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the identity provider verified `email` (Cognito's `email_verified`). An
    /// unverified address is never used for mail.
    #[serde(default, deserialize_with = "flag")]
    pub email_verified: bool,
    #[serde(rename = "cognito:groups", default)]
    pub groups: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

impl Claims {
    /// The caller as the service sees it; none when the subject is not a user id Ally
    /// can key a wallet by (the request is then unauthenticated).
    pub fn actor(&self) -> Option<Actor> {
        let user_id = UserId::parse(self.sub.as_str()).ok()?;
        let email = self.email.clone().filter(|_| self.email_verified);
        Some(Actor { user_id, email, admin: self.groups.iter().any(|g| g == "admin") })
    }
}

/// Copies the claims API Gateway's JWT authorizer verified into the request. Requests
/// without an authorizer (the webhook, health) carry no identity.
pub async fn from_lambda_authorizer(mut request: Request, next: Next) -> Response {
    let claims = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).and_then(|jwt| claims_from_authorizer(&jwt.claims))
        }
        _ => None,
    };
    if let Some(claims) = claims {
        request.extensions_mut().insert(claims);
    }
    next.run(request).await
}

/// API Gateway hands claims over as strings; `cognito:groups` arrives as `[a b]`.
fn claims_from_authorizer(raw: &std::collections::HashMap<String, String>) -> Option<Claims> {
    let sub = raw.get("sub").filter(|s| !s.is_empty())?.clone();
    let groups = raw.get("cognito:groups").map(|g| group_names(g)).unwrap_or_default();
    let exp = raw.get("exp").and_then(|e| e.parse().ok()).unwrap_or(i64::MAX);
    let email_verified = raw.get("email_verified").is_some_and(|v| v == "true");
    Some(Claims { sub, email: raw.get("email").cloned(), email_verified, groups, exp })
}

/// The group names of a `cognito:groups` claim as API Gateway's authorizer hands it over:
/// the names in one pair of brackets separated by spaces (`[admin support]`), or bare. A
/// Cognito group name has no whitespace but may hold any punctuation, so a space is the only
/// separator and nothing else is read into it: groups named `support,admin`, `[admin]` or
/// `"admin"` stay whole and are never `admin`. (A token's own JSON array, as Cognito and the
/// local tokens carry it, is read as such by [`Claims`].)
pub fn group_names(claim: &str) -> Vec<String> {
    let inner = claim.strip_prefix('[').and_then(|c| c.strip_suffix(']')).unwrap_or(claim);
    inner.split_whitespace().map(ToString::to_string).collect()
}

/// The secret local tokens are signed with.
#[derive(Clone)]
pub struct LocalJwtSecret(pub Arc<Vec<u8>>);

/// Verifies a local HS256 bearer token and puts its claims on the request. A present but
/// invalid token is refused outright (401), so a typo never silently makes a caller anonymous.
pub async fn from_local_jwt(State(secret): State<LocalJwtSecret>, mut request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let header = request.headers().get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or(""));
    if let Some(value) = header {
        let token = value.strip_prefix("Bearer ").unwrap_or("");
        match verify_hs256(token, &secret.0, chrono::Utc::now().timestamp()) {
            Ok(claims) => {
                request.extensions_mut().insert(claims);
            }
            Err(reason) => return super::ApiError::unauthorized(reason).into_response(),
        }
    }
    next.run(request).await
}

#[derive(Deserialize)]
struct JwtHeader {
    alg: String,
}

/// The issuer of local tokens (`iss`).
pub const LOCAL_ISSUER: &str = "ally-local";
/// The audience of local tokens (`aud`).
pub const LOCAL_AUDIENCE: &str = "ally";

/// A local token's payload: the claims, with the issuer and audience they are valid for.
#[derive(Serialize, Deserialize)]
struct LocalToken {
    iss: String,
    aud: String,
    #[serde(flatten)]
    claims: Claims,
}

/// Signs `claims` as an HS256 JWT of the local issuer for the local audience.
pub fn mint_hs256(claims: &Claims, secret: &[u8]) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let token = LocalToken { iss: LOCAL_ISSUER.into(), aud: LOCAL_AUDIENCE.into(), claims: claims.clone() };
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hs256(secret, signing_input.as_bytes()).finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn hs256(secret: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac
}

/// Verifies an HS256 JWT: signature in constant time, `alg` pinned, the local issuer and
/// audience, `exp` in the future.
pub fn verify_hs256(token: &str, secret: &[u8], now: i64) -> Result<Claims, &'static str> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the bearer token is not a JWT");
    };
    let header: JwtHeader = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or("the token header is malformed")?;
    if header.alg != "HS256" {
        return Err("the token must be signed with HS256");
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| "the token signature is malformed")?;
    hs256(secret, format!("{}.{payload}", token.split('.').next().unwrap_or("")).as_bytes())
        .verify_slice(&signature)
        .map_err(|_| "the token signature does not verify")?;
    let token: LocalToken = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or("the token claims are malformed")?;
    if token.iss != LOCAL_ISSUER {
        return Err("the token is from another issuer");
    }
    if token.aud != LOCAL_AUDIENCE {
        return Err("the token is for another audience");
    }
    let claims = token.claims;
    if claims.exp <= now {
        return Err("the token has expired");
    }
    if claims.sub.is_empty() {
        return Err("the token has no subject");
    }
    Ok(claims)
}

/// `email_verified` as a JSON boolean (an ID token) or the string `"true"` (claims as API
/// Gateway passes them on).
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    Ok(match Flag::deserialize(deserializer)? {
        Flag::Bool(b) => b,
        Flag::Text(t) => t == "true",
    })
}

#[cfg(test)]
#[path = "identity_test.rs"]
mod tests;
