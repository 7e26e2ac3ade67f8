//! Webhook signatures, checked in constant time within a 5-minute window before the body is
//! read: Ally's own (`Ally-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw
//! body>">`) and Stripe's (`Stripe-Signature`, the same scheme as Stripe documents it: any
//! `v1` may match, other schemes such as `v0` are ignored, elements in any order).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::ApiError;

/// How far a signature's timestamp may be from now, either way.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Checks `header` signs `body` with `secret` at a time within the tolerance of `now`.
pub fn verify(header: Option<&str>, body: &[u8], secret: &[u8], now: i64) -> Result<(), ApiError> {
    let header = header.ok_or_else(|| ApiError::invalid_signature("the Ally-Signature header is missing"))?;
    // Exactly the documented shape: `t=` first, then one or more `v1=` (several during a
    // secret rotation). Anything else is refused rather than guessed at.
    let malformed = || ApiError::invalid_signature("the Ally-Signature header must be t=<unix seconds>,v1=<hex>");
    let mut parts = header.split(',');
    let timestamp = parts
        .next()
        .and_then(|p| p.strip_prefix("t="))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(malformed)?;
    let candidates = parts
        .map(|p| p.strip_prefix("v1=").and_then(|sig| hex::decode(sig).ok()).ok_or_else(malformed))
        .collect::<Result<Vec<_>, _>>()?;
    if candidates.is_empty() {
        return Err(malformed());
    }
    matches(timestamp, &candidates, body, secret, now).map_err(ApiError::invalid_signature)
}

/// Checks a `Stripe-Signature` header: `t=` once, one or more `v1=` (any may match: a
/// secret being rolled signs with both), other elements ignored. Refused with 400, as
/// Stripe expects of an endpoint.
pub fn verify_stripe(header: Option<&str>, body: &[u8], secret: &[u8], now: i64) -> Result<(), ApiError> {
    let refuse = |detail: &str| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_signature", detail);
    let header = header.ok_or_else(|| refuse("the Stripe-Signature header is missing"))?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for element in header.split(',') {
        match element.trim().split_once('=') {
            Some(("t", t)) if timestamp.is_none() => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => candidates.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| refuse("the Stripe-Signature header has no timestamp"))?;
    if candidates.is_empty() {
        return Err(refuse("the Stripe-Signature header has no v1 signature"));
    }
    matches(timestamp, &candidates, body, secret, now).map_err(refuse)
}

/// Whether one of `candidates` signs `body` at `timestamp`, within the tolerance of `now`.
fn matches(timestamp: i64, candidates: &[Vec<u8>], body: &[u8], secret: &[u8], now: i64) -> Result<(), &'static str> {
    if now.checked_sub(timestamp).is_none_or(|gap| gap.unsigned_abs() > TOLERANCE_SECONDS.unsigned_abs()) {
        return Err("the signature timestamp is outside the 5-minute tolerance");
    }
    let mac = signer(secret, timestamp, body);
    if candidates.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok()) {
        Ok(())
    } else {
        Err("the signature does not match the body")
    }
}

fn signer(secret: &[u8], timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header a provider would send for `body` at `timestamp` (for tests and tools).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(signer(secret, timestamp, body).finalize().into_bytes()))
}

#[cfg(test)]
#[path = "webhook_test.rs"]
mod tests;
