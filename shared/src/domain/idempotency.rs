//! Idempotency keys: the `Idempotency-Key` a caller sends ([`CallerKey`]) and the stored
//! key of a money movement ([`IdempotencyKey`]), in namespaces that keep a caller's keys,
//! the keys the system derives (payments, referrals, holds, commissions...) and one
//! route's keys from another's apart.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{AllyError, UserId};

/// Longest key a caller may send.
const CALLER_KEY_MAX: usize = 128;
/// Longest id of an external event (payment, referral) that keys a credit.
const EVENT_ID_MAX: usize = 200;

/// Prefixes of the keys the system derives. A caller's key that starts with one of them
/// (or with the escape itself) is stored behind [`CALLER_ESCAPE`], so no caller key can
/// ever equal a derived one, and two different caller keys never share a stored form.
const SYSTEM_PREFIXES: [&str; 8] =
    ["admin:", "payment:", "referral:", "bulk:", "hold:", "lot:", "transfer:", "commission:"];
const CALLER_ESCAPE: &str = "caller:";
/// The namespace of an admin's keys.
const ADMIN_PREFIX: &str = "admin:";

/// The `Idempotency-Key` header as a caller sent it: 1..=128 printable ASCII characters,
/// not only spaces. Becomes an [`IdempotencyKey`] in the namespace of the route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerKey(String);

impl CallerKey {
    /// The pattern of a caller's key, for the OpenAPI document.
    pub const PATTERN: &'static str = "^[ -~]*[!-~][ -~]*$";
    /// The longest caller key.
    pub const MAX: usize = CALLER_KEY_MAX;

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a caller's key.
    pub fn parse(key: impl Into<String>) -> Result<Self, AllyError> {
        let key = key.into();
        if printable(&key, CALLER_KEY_MAX) {
            Ok(Self(key))
        } else {
            Err(AllyError::validation("Idempotency-Key must be 1 to 128 printable ASCII characters"))
        }
    }
}

fn printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && text.bytes().all(|b| (0x20..0x7f).contains(&b)) && !text.trim().is_empty()
}

/// The key an operation is recorded under in a wallet: a caller's own key, an admin's key
/// for a top-up, or a key the system derives from an external event. The stored forms of
/// the namespaces never meet (see [`SYSTEM_PREFIXES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// A partner's own key for its own wallet. Stored as sent (so keys recorded before
    /// namespaces existed still replay) unless it looks like a system key.
    pub fn caller(key: &CallerKey) -> Self {
        let raw = &key.0;
        if SYSTEM_PREFIXES.iter().chain([&CALLER_ESCAPE]).any(|p| raw.starts_with(p)) {
            Self(format!("{CALLER_ESCAPE}{raw}"))
        } else {
            Self(raw.clone())
        }
    }

    /// An admin's key for a top-up of a partner's wallet.
    pub fn admin(key: &CallerKey) -> Self {
        Self(format!("{ADMIN_PREFIX}{}", key.0))
    }

    /// The key as the wallet's entries show it to its owner: an admin's as a digest (the
    /// key is the admin's words, perhaps its address, not the partner's), every other as
    /// it is stored. Entries written before this rule are shown the same way when read.
    pub fn shown(stored: &str) -> String {
        use sha2::{Digest, Sha256};
        match stored.strip_prefix(ADMIN_PREFIX) {
            // Already a digest (shown once, or read again): as it is.
            Some(raw)
                if !(raw.len() == 17 && raw.starts_with('#') && raw[1..].bytes().all(|b| b.is_ascii_hexdigit())) =>
            {
                format!("{ADMIN_PREFIX}#{}", &hex::encode(Sha256::digest(raw.as_bytes()))[..16])
            }
            _ => stored.to_string(),
        }
    }

    /// The commission a parent earned on its sub-resellers' spends of `day` (and `part`:
    /// the promotional share is an entry of its own): one per day however often it is settled.
    pub fn commission(day: chrono::NaiveDate, part: &str) -> Result<Self, AllyError> {
        Self::external("commission:", "the day", &format!("{day}{part}"))
    }

    /// The receiving side's record of a transfer made by `from` with `key`, in the
    /// receiver's partition: both sides of a transfer are written once, together. The
    /// receiver reads it on its entry, so it is a digest of the giver's user and key, never
    /// either of them (the entry names the giver by refid).
    pub fn transfer_in(from: &UserId, key: &IdempotencyKey) -> Self {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        digest.update(from.as_str().as_bytes());
        digest.update([0]);
        digest.update(key.0.as_bytes());
        Self(format!("transfer:{}", &hex::encode(digest.finalize())[..32]))
    }

    /// The payment provider's event id: one credit per event.
    pub fn payment(event_id: &str) -> Result<Self, AllyError> {
        Self::external("payment:", "the payment event id", event_id)
    }

    /// The referral system's referral id: one reward per referral.
    pub fn referral(referral_id: &str) -> Result<Self, AllyError> {
        Self::external("referral:", "the referral id", referral_id)
    }

    /// Whether this key is an external payment's: it credits once in the whole network.
    pub fn is_payment(&self) -> bool {
        self.0.starts_with("payment:")
    }

    /// Whether this key is an external event's receipt (a payment or a referral), kept for
    /// good, rather than a caller's key, kept for the idempotency window.
    pub fn is_receipt(&self) -> bool {
        ["payment:", "referral:", "commission:"].iter().any(|p| self.0.starts_with(p))
    }

    /// The sweeper's key for the expiry of hold `id`: one release however often it runs.
    pub fn hold_expiry(id: &str) -> Self {
        Self(format!("hold:{id}:expired"))
    }

    /// The expiry job's key for the expiry of lot `id`: one expiry however often it runs.
    pub fn lot_expiry(id: &str) -> Self {
        Self(format!("lot:{id}:expired"))
    }

    fn external(prefix: &str, what: &str, id: &str) -> Result<Self, AllyError> {
        if printable(id, EVENT_ID_MAX) {
            Ok(Self(format!("{prefix}{id}")))
        } else {
            Err(AllyError::validation(format!("{what} must be 1 to {EVENT_ID_MAX} printable ASCII characters")))
        }
    }

    /// The stored form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[path = "idempotency_test.rs"]
mod tests;
