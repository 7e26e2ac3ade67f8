use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{AllyError, Tier};

/// Whether a reseller may spend credits and onboard clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
}

impl Status {
    /// The status as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Suspended => "suspended",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Status {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(Status::Active),
            "suspended" => Ok(Status::Suspended),
            other => Err(AllyError::validation(format!("unknown status `{other}` (active, suspended)"))),
        }
    }
}

/// A partner: its profile and its credit wallet, kept together so one conditional write
/// covers every check a spend depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Reseller {
    /// The identity provider's subject (`sub`); part of every key the partner owns.
    pub user_id: String,
    /// The public reference (unique), used by admins and payment providers.
    pub refid: String,
    pub company: String,
    /// Where notices (low credit, statements) go.
    pub email: Option<String>,
    pub tier: Tier,
    pub status: Status,
    /// Credits held; never below zero.
    pub balance: i64,
    /// False until the wallet is opened (at onboarding with `auto_provision_wallet`, or by the
    /// first credit). A closed wallet holds nothing and cannot pay.
    pub wallet_open: bool,
    /// Set by an admin (or a low-credit rule): provisioning is refused while true.
    pub hold_provisioning: bool,
    /// Whitelabel settings (company name, logo URL, colours...).
    pub metadata: BTreeMap<String, String>,
    /// Bumped by every change of balance, tier, status or hold: a write is conditioned on it.
    pub version: u64,
    /// Running totals for the reseller's stats, kept in the same writes as the money.
    pub credits_added: i64,
    pub credits_spent: i64,
    pub provisions: i64,
    pub clients: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Caps on whitelabel metadata, so one partner cannot grow its profile without bound.
pub const METADATA_MAX_KEYS: usize = 50;
const METADATA_MAX_KEY_LEN: usize = 64;
const METADATA_MAX_VALUE_LEN: usize = 2_048;

/// Keys of metadata that carry meaning for Ally itself; only admins may set them.
pub const RESERVED_METADATA_KEYS: [&str; 1] = ["hold_provisioning"];

/// Checks a metadata patch: keys `[a-z0-9_]{1,64}`, values up to 2,048 characters without
/// control characters. Reserved keys are refused here; admins set them as fields.
pub fn check_metadata(patch: &BTreeMap<String, String>) -> Result<(), AllyError> {
    for (key, value) in patch {
        let key_ok = !key.is_empty()
            && key.len() <= METADATA_MAX_KEY_LEN
            && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            return Err(AllyError::validation(format!(
                "metadata key `{}` must be 1 to 64 characters of a-z, 0-9 and _",
                key.chars().take(64).collect::<String>()
            )));
        }
        if RESERVED_METADATA_KEYS.contains(&key.as_str()) {
            return Err(AllyError::validation(format!("metadata key `{key}` is reserved")));
        }
        if value.chars().count() > METADATA_MAX_VALUE_LEN || value.chars().any(char::is_control) {
            return Err(AllyError::validation(format!(
                "metadata value of `{key}` must be at most 2048 characters without control characters"
            )));
        }
    }
    Ok(())
}

/// Checks a user id (the identity provider's `sub`): 1..=128 of `[A-Za-z0-9._@:-]`.
pub fn check_user_id(user_id: &str) -> Result<(), AllyError> {
    let ok = !user_id.is_empty()
        && user_id.len() <= 128
        && user_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@:-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AllyError::validation("user_id must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ @ : -"))
    }
}

/// Length of a refid: 10 Crockford base-32 characters, about 50 bits.
const REFID_LEN: usize = 10;
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh random refid. Uniqueness is enforced by the store, which refuses a taken one.
pub fn new_refid() -> String {
    let mut rng = rand::rng();
    (0..REFID_LEN).map(|_| char::from(CROCKFORD[rng.random_range(0..32)])).collect()
}

/// Checks that `refid` has the shape of one Ally issued, before it is used in a key.
pub fn check_refid(refid: &str) -> Result<(), AllyError> {
    if refid.len() == REFID_LEN && refid.bytes().all(|b| CROCKFORD.contains(&b)) {
        Ok(())
    } else {
        Err(AllyError::validation("refid must be 10 characters of 0-9 and A-Z (Crockford base 32)"))
    }
}

/// Checks a display name (company, client): 1..=200 characters, no control characters.
pub fn check_name(field: &str, name: &str) -> Result<(), AllyError> {
    let len = name.chars().count();
    if name.trim().is_empty() || len > 200 || name.chars().any(char::is_control) {
        return Err(AllyError::validation(format!(
            "{field} must be 1 to 200 characters, not blank, without control characters"
        )));
    }
    Ok(())
}

/// Checks an email address well enough to send to it: one `@`, no spaces, at most 254 bytes.
pub fn check_email(email: &str) -> Result<(), AllyError> {
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                && !domain.starts_with('.') && !domain.ends_with('.'));
    if ok {
        Ok(())
    } else {
        Err(AllyError::validation(format!("`{}` is not an email address", email.chars().take(254).collect::<String>())))
    }
}

#[cfg(test)]
#[path = "reseller_test.rs"]
mod tests;
