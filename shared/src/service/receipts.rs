//! What the service answers. Money answers are stored with their idempotency key and
//! replayed as they were.

use serde::{Deserialize, Serialize};

use crate::domain::{Client, LedgerEntry, ProvisionedService, Tier};

/// The result of adding credits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreditReceipt {
    pub balance: i64,
    pub transaction: LedgerEntry,
}

/// The result of provisioning one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProvisionReceipt {
    /// What was charged (the tier price).
    pub cost: i64,
    pub balance: i64,
    pub service: ProvisionedService,
    pub transaction: LedgerEntry,
}

/// The charge of a bulk onboarding: what the idempotency record keeps. The clients and
/// services are derived from it and the request, so a retry rebuilds the same items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkCharge {
    /// Price per client at the tier.
    pub cost: i64,
    pub base_cost: i64,
    pub tier: Tier,
    pub total: i64,
    pub balance: i64,
    pub transaction: LedgerEntry,
}

/// The result of a bulk onboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkReceipt {
    pub cost: i64,
    pub total: i64,
    pub balance: i64,
    pub transaction: LedgerEntry,
    pub clients: Vec<Client>,
    pub services: Vec<ProvisionedService>,
}

/// A reseller's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResellerStats {
    pub balance: i64,
    pub tier: Tier,
    pub clients: i64,
    pub credits_added: i64,
    pub credits_spent: i64,
    pub provisions: i64,
}
