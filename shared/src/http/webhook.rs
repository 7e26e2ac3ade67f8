//! The payment provider's signature: `Ally-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256
//! of "<t>.<raw body>">`, checked in constant time within a 5-minute window.

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
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(ApiError::invalid_signature("the signature timestamp is outside the 5-minute tolerance"));
    }
    let mac = signer(secret, timestamp, body);
    if candidates.iter().any(|candidate| mac.clone().verify_slice(candidate).is_ok()) {
        Ok(())
    } else {
        Err(ApiError::invalid_signature("the signature does not match the body"))
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
