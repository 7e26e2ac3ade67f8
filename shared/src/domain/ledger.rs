use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Draw, RefId};

/// What moved the credits of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// Credits bought (admin top-up, payment webhook).
    Credit,
    /// Credits spent on provisioning.
    Debit,
    /// Credits given back for a spend.
    Refund,
    /// Credits earned (a referral).
    Reward,
    /// Part or all of a credit, payment or reward taken back (what `available` could give;
    /// the rest became debt).
    Reversal,
    /// Debt repaid out of a credit, in the credit's own write.
    #[serde(rename = "debt_repayment")]
    #[schemars(rename = "debt_repayment")]
    DebtRepayment,
    /// What was left of a lot when it expired, taken by the expiry job.
    Expiry,
    /// Credits passed down the tree to a sub-reseller (or between two resellers by an admin).
    #[serde(rename = "transfer_out")]
    #[schemars(rename = "transfer_out")]
    TransferOut,
    /// Credits received from a parent (or from another reseller by an admin).
    #[serde(rename = "transfer_in")]
    #[schemars(rename = "transfer_in")]
    TransferIn,
    /// A parent's share of a direct child's spend.
    Commission,
}

impl EntryKind {
    /// The sign this kind applies to the balance.
    pub fn sign(self) -> i64 {
        match self {
            EntryKind::Debit
            | EntryKind::Reversal
            | EntryKind::DebtRepayment
            | EntryKind::Expiry
            | EntryKind::TransferOut => -1,
            EntryKind::Credit
            | EntryKind::Refund
            | EntryKind::Reward
            | EntryKind::TransferIn
            | EntryKind::Commission => 1,
        }
    }
}

/// One movement of a wallet. The entries of a reseller sum to its balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LedgerEntry {
    /// A ULID: entries sort by time.
    pub id: String,
    pub kind: EntryKind,
    /// Never negative (zero only for a reversal that became debt whole); `kind` gives the
    /// direction.
    pub amount: i64,
    pub balance_after: i64,
    pub reason: Option<String>,
    /// Who caused it, as its reader may see them: the owner's own user id (its spends and
    /// transfers), [`ADMIN_ACTOR`] for any admin, `reseller:<refid>` for another reseller,
    /// `webhook:<provider>`, `referral`, `commission`, `expiry`; never another person's id.
    pub actor: String,
    pub idempotency_key: String,
    pub created_at: DateTime<Utc>,
    /// Of a credit, payment or reward: how much of it was reversed since.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reversed: i64,
    /// The lots it moved: the one a credit opened (or joined), the ones a debit, reversal,
    /// repayment or expiry drew from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<Draw>,
    /// Of a transfer: the other side's reseller and entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<Counterpart>,
    /// Of a spend: the parent it earns a commission for, as the tree stood when it was made
    /// (a later move, or a redelivery after one, pays no one else).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commission_to: Option<RefId>,
}

/// How an entry names the admin who made it: by role only, since the partner reads it (the
/// admin's user id goes to the log, the audit trail).
pub const ADMIN_ACTOR: &str = "admin";
/// How a referral reward names what made it.
pub const REFERRAL_ACTOR: &str = "referral";
/// How a parent's commission names what made it.
pub const COMMISSION_ACTOR: &str = "commission";
/// How a lot's expiry names what made it.
pub const EXPIRY_ACTOR: &str = "expiry";

/// The other side of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Counterpart {
    pub refid: RefId,
    pub entry_id: String,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl LedgerEntry {
    /// The entry as its owner reads it: someone else only by role or refid, an admin's key
    /// as a digest. Entries are written so; this also covers those written before the rule
    /// (an admin's credit named the admin's user id then).
    pub fn as_read_by(mut self, owner: &crate::domain::UserId) -> Self {
        const SYSTEM: [&str; 4] = [ADMIN_ACTOR, REFERRAL_ACTOR, COMMISSION_ACTOR, EXPIRY_ACTOR];
        let known = self.actor == owner.as_str() || self.actor.contains(':') || SYSTEM.contains(&self.actor.as_str());
        if !known {
            self.actor = ADMIN_ACTOR.to_string();
        }
        self.idempotency_key = crate::domain::IdempotencyKey::shown(&self.idempotency_key);
        self
    }

    /// The signed change this entry made to the balance.
    pub fn delta(&self) -> i64 {
        self.kind.sign() * self.amount
    }
}

/// A new time-ordered id (ULID). Ids made by one process are strictly increasing, even
/// within one millisecond, so lists sorted by id are in creation order.
pub fn new_id() -> String {
    use std::sync::Mutex;
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    // The generator only fails when 2^80 ids were drawn in one millisecond.
    generator.generate().unwrap_or_else(|_| ulid::Ulid::new()).to_string()
}
