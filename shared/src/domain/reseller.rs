use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AllyError, CompanyName, Email, RefId, Tier, UserId};

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
    pub user_id: UserId,
    /// The public reference (unique), used by admins and payment providers.
    pub refid: RefId,
    pub company: CompanyName,
    /// Where notices (low credit, statements) go.
    pub email: Option<Email>,
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
const METADATA_MAX_VALUE_LEN: usize = 2_048;

/// Checks a metadata value: at most 2,048 characters without control characters.
pub fn check_metadata_value(key: &str, value: &str) -> Result<(), AllyError> {
    if value.chars().count() > METADATA_MAX_VALUE_LEN || value.chars().any(char::is_control) {
        return Err(AllyError::validation(format!(
            "metadata value of `{key}` must be at most 2048 characters without control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "reseller_test.rs"]
mod tests;
