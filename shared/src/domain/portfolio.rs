use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ClientId, ClientName, Email, Tier, UserId};

/// A partner's own customer. Owned by exactly one reseller, whose id is part of its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Client {
    pub id: ClientId,
    pub owner_id: UserId,
    pub name: ClientName,
    pub email: Option<Email>,
    pub created_at: DateTime<Utc>,
}

/// A service (license, server resource) a reseller paid for, optionally for one client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProvisionedService {
    pub id: String,
    pub owner_id: UserId,
    pub client_id: Option<ClientId>,
    pub product: Option<String>,
    pub description: Option<String>,
    /// The base price before the tier discount.
    pub base_cost: i64,
    /// What the reseller was charged.
    pub cost: i64,
    /// The tier the price was computed for.
    pub tier: Tier,
    pub license_key: String,
    pub created_at: DateTime<Utc>,
}

/// A license key derived from the service id: stable, so a retried write rewrites the same key.
pub fn license_key(owner_id: &str, service_id: &str) -> String {
    let digest = Sha256::digest(format!("{owner_id}/{service_id}").as_bytes());
    let hex = hex::encode_upper(&digest[..10]);
    format!("ALLY-{}-{}-{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16], &hex[16..20])
}
