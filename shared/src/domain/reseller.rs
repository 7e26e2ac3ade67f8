use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Alerts, AllyError, AutoTopUp, CompanyName, Email, Lots, MetadataKey, RefId, Tier, UserId};

/// Who put provisioning on hold, which says who may lift it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// An admin: it stays until an admin lifts it.
    Manual,
    /// The low-credit rule (`ALLY_HOLD_ON_LOW_CREDIT`): lifted by the credit that brings the
    /// balance back to the threshold, in the same write.
    LowCredit,
}

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

/// The reseller a sub-reseller sits under, as the sub-reseller (and its profile) shows it:
/// its refid and company, nothing of its figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParentRef {
    pub refid: RefId,
    pub company: CompanyName,
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
    /// Credits in the wallet; never below zero.
    pub balance: i64,
    /// Credits reserved by active holds: `available = balance - held` is what may be spent.
    #[serde(default)]
    pub held: i64,
    /// Credits reversed that the balance could not give: the next credits repay it first.
    #[serde(default)]
    pub debt: i64,
    /// The open credit lots, in the spending order: they sum to the balance, and their
    /// reservations to `held`.
    #[serde(default, skip_serializing_if = "Lots::is_empty")]
    pub lots: Lots,
    /// False until the wallet is opened (at onboarding with `auto_provision_wallet`, or by the
    /// first credit). A closed wallet holds nothing and cannot pay.
    pub wallet_open: bool,
    /// Set by an admin (or a low-credit rule): provisioning is refused while true.
    pub hold_provisioning: bool,
    /// Who set the hold; none while there is none (or for a hold set before reasons were
    /// kept, which counts as an admin's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_reason: Option<HoldReason>,
    /// Its own credit alerts; none: the network's low-credit threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<Alerts>,
    /// Its auto top-up rule and state; none: no rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_top_up: Option<AutoTopUp>,
    /// The reseller it sits under (a distributor's reseller, or a referrer's recruit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// Whitelabel settings (company name, logo URL, colours...). Kept in an item of its own
    /// beside the wallet, so a spend never rewrites it; lists of resellers leave it empty.
    #[serde(default)]
    pub metadata: Metadata,
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

impl Reseller {
    /// What may be spent: the balance less what active holds reserve (never below zero).
    pub fn available(&self) -> i64 {
        self.balance - self.held
    }

    /// Credit whose lots expire after `now` and within 30 days.
    pub fn expiring_30d(&self, now: DateTime<Utc>) -> i64 {
        self.lots.expiring(now, now + chrono::Duration::days(30))
    }

    /// What a new spend or hold may take at `now`: what is available less expired credit
    /// the expiry job has not taken yet (never spendable).
    pub fn spendable(&self, now: DateTime<Utc>) -> i64 {
        self.available() - self.lots.expired_unreserved(now)
    }
}

/// A whitelabel metadata value: any JSON string, number or boolean, as the seed's
/// `updateMetadata($k, $v)` takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum MetadataValue {
    Flag(bool),
    Number(serde_json::Number),
    Text(String),
}

/// A reseller's whitelabel metadata, by key.
pub type Metadata = BTreeMap<String, MetadataValue>;

/// A whitelabel metadata patch: a value sets a key, `null` removes it.
pub type MetadataPatch = BTreeMap<MetadataKey, Option<MetadataValue>>;

/// The most metadata one reseller keeps, serialised as JSON: it bounds the item it lives in
/// (DynamoDB's items stop at 400 KB) and what every page load carries.
pub const METADATA_MAX_BYTES: usize = 8 * 1024;

/// Checks a whole metadata map: text without control characters, at most
/// [`METADATA_MAX_BYTES`] of JSON in all (413 beyond).
pub fn check_metadata(metadata: &Metadata) -> Result<(), AllyError> {
    metadata.iter().try_for_each(|(key, value)| check_metadata_value(key, value))?;
    let bytes = metadata_bytes(metadata);
    if bytes > METADATA_MAX_BYTES {
        return Err(AllyError::TooLarge(format!(
            "metadata may hold {METADATA_MAX_BYTES} bytes of JSON in all; this would be {bytes}"
        )));
    }
    Ok(())
}

/// `metadata` with `patch` applied.
pub fn merge_metadata(mut metadata: Metadata, patch: &MetadataPatch) -> Metadata {
    for (key, value) in patch {
        match value {
            Some(value) => metadata.insert(key.to_string(), value.clone()),
            None => metadata.remove(key.as_str()),
        };
    }
    metadata
}

/// Checks one metadata value: text without control characters.
pub fn check_metadata_value(key: &str, value: &MetadataValue) -> Result<(), AllyError> {
    if matches!(value, MetadataValue::Text(text) if text.chars().any(char::is_control)) {
        return Err(AllyError::validation(format!("metadata value of `{key}` has control characters")));
    }
    Ok(())
}

/// The size of `metadata` serialised as JSON, in bytes.
pub fn metadata_bytes(metadata: &Metadata) -> usize {
    json_len(metadata)
}

/// The most `patch` can grow serialised metadata by, whatever it holds: each key it sets
/// as if new (`"key":value,`), nothing back for the keys it replaces or removes. A bound
/// kept this way never falls below the size, so a write it admits always fits.
pub fn metadata_growth_bound(patch: &MetadataPatch) -> usize {
    patch
        .iter()
        .filter_map(|(key, value)| value.as_ref().map(|value| json_len(&key.as_str()) + 1 + json_len(value) + 1))
        .fold(0, usize::saturating_add)
}

/// The length of `value` as JSON; past the limit should it not serialise (it always does).
fn json_len(value: &impl Serialize) -> usize {
    serde_json::to_vec(value).map_or(METADATA_MAX_BYTES + 1, |json| json.len())
}

#[cfg(test)]
#[path = "reseller_test.rs"]
mod tests;

/// A reseller for unit tests: active, standard, `balance` in no lot, created at `at`.
#[cfg(test)]
pub(crate) fn sample_reseller(balance: i64, at: DateTime<Utc>) -> Reseller {
    Reseller {
        lots: super::Lots::default(),
        alerts: None,
        auto_top_up: None,
        parent: None,
        user_id: UserId::parse("u-1").unwrap(),
        refid: RefId::parse("RRRRRRRRRR").unwrap(),
        company: CompanyName::parse("Acme").unwrap(),
        email: None,
        tier: Tier::Standard,
        status: Status::Active,
        balance,
        wallet_open: true,
        held: 0,
        debt: 0,
        hold_provisioning: false,
        hold_reason: None,
        metadata: Default::default(),
        version: 1,
        credits_added: 0,
        credits_spent: 0,
        provisions: 0,
        clients: 0,
        created_at: at,
        updated_at: at,
    }
}
