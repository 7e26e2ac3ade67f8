//! What callers ask of the service. The HTTP layer deserialises request bodies straight
//! into these (unknown fields refused), so each input shape is declared once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Status, Tier};

/// Onboard a reseller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReseller {
    pub company: String,
    #[serde(default)]
    pub tier: Option<Tier>,
    /// Only an admin may onboard someone else.
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A whitelabel metadata patch: a value sets a key, `null` removes it.
pub type MetadataPatch = BTreeMap<String, Option<String>>;

/// An admin's change to a reseller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResellerPatch {
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub hold_provisioning: Option<bool>,
    #[serde(default)]
    pub metadata: MetadataPatch,
}

/// Add credits to a wallet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditRequest {
    pub amount: i64,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Provision one service: a catalog `product`, or a custom base `cost`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cost: Option<i64>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// Onboard one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    #[serde(default)]
    pub email: Option<String>,
}

/// Onboard many clients and provision one service for each, all or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    pub clients: Vec<NewClient>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub cost: Option<i64>,
}
