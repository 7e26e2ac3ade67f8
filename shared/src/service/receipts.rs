//! What the service answers. Money answers are stored with their idempotency key and
//! replayed as they were.

use serde::{Deserialize, Serialize};

use crate::domain::{Client, Hold, LedgerEntry, Metadata, ProvisionedService, Reseller, Tier};

/// A partner's whitelabel metadata as it stands after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct WhitelabelMetadata {
    pub metadata: Metadata,
}

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

/// How far a bulk onboarding got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkState {
    /// Charged; some clients and services are still being written (by a retry with the same
    /// key, or the sweeper within minutes). Nothing more will be charged.
    Filling,
    /// Every client and service is written.
    Done,
}

/// A bulk onboarding as `GET /clients/bulk/{key}` shows it: its state and its charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkStatus {
    pub state: BulkState,
    #[serde(flatten)]
    pub charge: BulkCharge,
}

/// The result of a bulk onboarding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BulkReceipt {
    /// `filling` when the charge went through but not every item is written yet (answered
    /// 202): the ids listed are final, and the fill finishes without the caller.
    pub state: BulkState,
    pub cost: i64,
    pub total: i64,
    pub balance: i64,
    pub transaction: LedgerEntry,
    pub clients: Vec<Client>,
    pub services: Vec<ProvisionedService>,
}

/// A hold placed: the hold and the wallet after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HoldReceipt {
    pub hold: Hold,
    pub balance: i64,
    pub held: i64,
    pub available: i64,
}

/// A hold captured: what was debited, the service provisioned, and what was released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CaptureReceipt {
    pub cost: i64,
    pub balance: i64,
    pub service: ProvisionedService,
    pub transaction: LedgerEntry,
    /// What the hold reserved beyond the capture, now available again.
    pub released: i64,
}

/// A hold voided (or expired): what was released, and what is available now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct VoidReceipt {
    pub released: i64,
    pub available: i64,
}

/// A transfer: the giver's balance and entry, and the receiver's side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TransferReceipt {
    pub balance: i64,
    pub transaction: LedgerEntry,
    pub to: TransferSide,
}

/// The receiving side of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TransferSide {
    pub refid: crate::domain::RefId,
    pub transaction: LedgerEntry,
}

/// A lot's expiry written down: what it took and the balance after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LotExpiry {
    pub lot: String,
    pub expired: i64,
    pub balance: i64,
}

/// A partner's own profile (`GET /resellers/me`): the reseller and what it may spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Profile {
    #[serde(flatten)]
    pub reseller: Reseller,
    /// What may be spent now: `balance - held`, less credit that has expired before the
    /// expiry job took it (at most a minute).
    pub available: i64,
    /// Credit whose lots expire within the next 30 days.
    pub expiring_30d: i64,
    /// Days what is available lasts at the average daily spend of the last 30 days; null
    /// when nothing was spent in them.
    pub runway_days: Option<i64>,
}

/// A reversal: what was reversed, what of it became debt, and the wallet after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReversalReceipt {
    pub reversed: i64,
    /// The wallet's debt after the reversal.
    pub debt: i64,
    pub balance: i64,
    pub transaction: LedgerEntry,
}

/// A reseller's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ResellerStats {
    pub balance: i64,
    /// Reserved by active holds.
    pub held: i64,
    /// What may be spent now: `balance - held`, less expired credit not yet taken.
    pub available: i64,
    /// Reversed credit the balance could not give; the next credits repay it first.
    pub debt: i64,
    /// Credit whose lots expire within the next 30 days.
    pub expiring_30d: i64,
    /// Days what is available lasts at the average daily spend of the last 30 days; null
    /// when nothing was spent in them.
    pub runway_days: Option<i64>,
    pub tier: Tier,
    pub clients: i64,
    pub credits_added: i64,
    pub credits_spent: i64,
    pub provisions: i64,
}
