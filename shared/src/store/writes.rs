//! What the money path writes in one transaction: the wallet change, and the records that
//! travel with it (idempotency record, hold, lot items, the reversal's count).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Accrual, Activity, Client, Guard, Hold, IdempotencyKey, LedgerEntry, Lot, Lots, ParentRef, ProvisionedService,
    RefId, TopUpStep, UserId,
};

/// Progress of the operation an idempotency key guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdempotencyState {
    /// Charged, but follow-up writes (a bulk fill) may be missing: a retry finishes them.
    Pending,
    /// Finished: a retry replays `response`.
    Done,
}

/// The first result of an idempotent operation, written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub key: IdempotencyKey,
    /// Hash of the operation and its input: the same key with another input is a conflict.
    pub request_hash: String,
    pub state: IdempotencyState,
    /// The operation's result as JSON, replayed to retries.
    pub response: String,
    pub created_at: DateTime<Utc>,
    /// Unix seconds after which the table's TTL may delete the record; none for a receipt
    /// of an external event (a payment, a referral), which is kept for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// While a bulk's fill is pending: its request (JSON), so the fill can be finished
    /// without the caller. Removed when the record is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_fill: Option<String>,
}

/// `amount` more reversed of entry `entry_id`, allowed only while what was reversed of it
/// before is at most `limit` (the entry's amount less `amount`): however many reversals run
/// at once, never more than the entry in all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReversalOf {
    pub entry_id: String,
    pub amount: i64,
    pub limit: i64,
}

/// A hold written with a wallet change: placed (it must not exist yet) or closed (it must
/// still be active: a capture, a void and the sweeper's expiry exclude each other).
#[derive(Debug, Clone)]
pub struct HoldWrite {
    pub hold: Hold,
    pub placed: bool,
}

/// A lot item written with a wallet change (its live state rides on the wallet item).
#[derive(Debug, Clone)]
pub enum LotWrite {
    /// Opened by a credit, or grown by one that joined it: the lot as it now stands; one
    /// with an expiry is listed among the expiring lots the expiry job reads.
    Put(Lot),
    /// Expired: what its expiry took. It leaves the expiring lots, where it must still be.
    Expired { lot: String, amount: i64 },
}

/// An external payment credited: its key taken once in the whole table, in the credit's own
/// write, so one payment credits one reseller once whichever events (and refids) name it,
/// and its refunds and disputes find the credit it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentReceipt {
    /// The payment's key (`payment:<id>`).
    pub key: IdempotencyKey,
    pub user_id: UserId,
    /// The credit entry it made.
    pub entry_id: String,
    /// Of that credit, what the payment's money back (refunds, disputes) holds now.
    #[serde(default)]
    pub taken_back: i64,
    /// How often `taken_back` moved: each move is conditioned on the count read.
    #[serde(default)]
    pub moves: u64,
}

/// What a wallet change does to its payment's receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptWrite {
    /// The payment credited: its receipt taken, once in the whole table.
    Take(PaymentReceipt),
    /// What its money back holds moved to `taken_back`, from the receipt as read after
    /// `moves` moves (a receipt moved since refuses it).
    Move { key: IdempotencyKey, moves: u64, taken_back: i64 },
}

/// One atomic change of a wallet: the new balance and reserve under the wallet rule, the
/// ledger entry that explains a balance change, the idempotency record, what was bought
/// and the hold placed or closed.
#[derive(Debug, Clone)]
pub struct WalletChange {
    pub user_id: UserId,
    pub guard: Guard,
    pub new_balance: i64,
    /// What active holds reserve after the change.
    pub new_held: i64,
    /// Debt after the change.
    pub new_debt: i64,
    /// The open lots after the change (they sum to `new_balance`).
    pub new_lots: Lots,
    /// The lot items the change opens, grows or expires.
    pub lot_writes: Vec<LotWrite>,
    /// What the change adds to the reseller's own counters.
    pub activity: Activity,
    /// What a spend owes the parent, added to the reseller's own day counters.
    pub accrual: Option<Accrual>,
    /// The entries that explain the balance change, in order: none when the balance does
    /// not move (a hold placed, voided or expired), two when a credit also repays debt.
    pub entries: Vec<LedgerEntry>,
    pub hold: Option<HoldWrite>,
    /// A reversal counted on the entry it reverses, in the same write.
    pub reversal: Option<ReversalOf>,
    /// What was bought, written with the money: a service, or a bulk's first clients and
    /// their services.
    pub clients: Vec<Client>,
    pub services: Vec<ProvisionedService>,
    pub idempotency: IdempotencyRecord,
    /// The network-wide receipt of the external payment this change credits, or moves
    /// money back of.
    pub payment: Option<ReceiptWrite>,
    /// Lift a low-credit hold in the same write (the balance is back at the threshold).
    pub lift_hold: bool,
    /// The auto top-up rule's new state with the request the change opens or fulfils.
    pub top_up: Option<TopUpStep>,
    pub at: DateTime<Utc>,
}

/// A reseller of the chain above a new parent, with its own parent as read: the write
/// requires it unchanged, so two moves at once cannot close a cycle, and gives it a new
/// tree version, so a move of it judged on the depth below it as read cannot deepen the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    pub user_id: UserId,
    pub parent: Option<RefId>,
}

/// The parent a reseller is put under: its user, what the child shows of it, and the chain
/// from it to the top (itself first) as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    pub parent: UserId,
    pub shown: ParentRef,
    pub chain: Vec<Ancestor>,
}

/// A reseller moved under another parent, or to the top: its profile under the version read,
/// the link under the old parent removed and one under the new written, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentChange {
    pub child: UserId,
    pub child_refid: RefId,
    pub child_created_at: DateTime<Utc>,
    pub version: u64,
    /// The version of the tree below the child as read: its move was judged on that depth.
    pub tree_version: u64,
    pub old: Option<UserId>,
    pub new: Option<ParentLink>,
    pub at: DateTime<Utc>,
}
