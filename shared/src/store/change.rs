//! Change records of the table: what DynamoDB Streams reports for each written item, and
//! what the memory store emits the same way.

use chrono::{DateTime, Utc};

use crate::domain::{
    Activity, Client, EntryKind, Hold, LedgerEntry, LotKind, NetworkDelta, ProvisionedService, Reseller, TopUpRequest,
    UpgradeSuggestion, UserId,
};

/// A stream sequence number in a form whose text order is its numeric order (DynamoDB's are
/// 21 to 40 digits): how a shard's high-water mark is compared.
pub fn stream_position(sequence_number: &str) -> String {
    format!("{sequence_number:0>40}")
}

/// One stream shard's run of change records, summed: its shard, the first and last
/// sequence numbers it covers, what they add to the network's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiguresWindow {
    pub shard: String,
    pub first: String,
    pub last: String,
    pub sum: crate::domain::NetworkSum,
    /// When it is written: a shard quiet for a day is folded into the base figures.
    pub at: DateTime<Utc>,
}

/// One item change of the table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ItemChange {
    /// Unique per change and stable across redeliveries: event ids derive from it.
    pub id: String,
    pub at: DateTime<Utc>,
    pub old: Option<Stored>,
    pub new: Option<Stored>,
}

/// What a changed item was.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Stored {
    Reseller(Box<Reseller>),
    Entry {
        owner_id: UserId,
        entry: LedgerEntry,
    },
    Client(Client),
    Service(ProvisionedService),
    Hold(Hold),
    TopUp(TopUpRequest),
    Suggestion(UpgradeSuggestion),
    /// An item no event is made of (idempotency records, counters, refids).
    Other,
}

impl ItemChange {
    /// What `change` adds to the network's figures; none for a change that moves nothing the
    /// figures count (counters, idempotency records, a profile edit that keeps the tier).
    pub fn network_delta(&self) -> Option<NetworkDelta> {
        let change = self;
        let mut delta = NetworkDelta { day: change.at.date_naive(), at: change.at, ..NetworkDelta::default() };
        match (&change.old, &change.new) {
            (None, Some(Stored::Reseller(r))) => *delta.tiers.count_mut(r.tier) += 1,
            (Some(Stored::Reseller(old)), Some(Stored::Reseller(new))) if old.tier != new.tier => {
                *delta.tiers.count_mut(old.tier) -= 1;
                *delta.tiers.count_mut(new.tier) += 1;
            }
            (None, Some(Stored::Entry { entry, .. })) => {
                delta.day = entry.created_at.date_naive();
                delta.outstanding = entry.delta();
                delta.promotional = entry
                    .lots
                    .iter()
                    .filter(|d| d.kind == LotKind::Promotional)
                    .map(|d| entry.kind.sign() * d.amount)
                    .sum();
                delta.activity = match entry.kind {
                    EntryKind::Debit => Activity { credits_spent: entry.amount, ..Activity::default() },
                    EntryKind::Credit | EntryKind::Refund | EntryKind::Reward | EntryKind::Commission => {
                        Activity { credits_added: entry.amount, ..Activity::default() }
                    }
                    // Taken back, or repaid out of a credit: credits distributed, net.
                    EntryKind::Reversal | EntryKind::DebtRepayment => {
                        Activity { credits_added: -entry.amount, ..Activity::default() }
                    }
                    // Lost, not spent: counted apart from both.
                    EntryKind::Expiry => Activity { credits_expired: entry.amount, ..Activity::default() },
                    // Moved between wallets: out of one's credits, into the other's.
                    EntryKind::TransferOut => Activity { credits_added: -entry.amount, ..Activity::default() },
                    EntryKind::TransferIn => Activity { credits_added: entry.amount, ..Activity::default() },
                };
            }
            (None, Some(Stored::Client(client))) => {
                delta.day = client.created_at.date_naive();
                delta.activity.acquisitions = 1;
            }
            (None, Some(Stored::Service(service))) => {
                delta.day = service.created_at.date_naive();
                delta.activity.provisions = 1;
            }
            _ => return None,
        }
        Some(delta)
    }
}
