//! Change records of the table: what DynamoDB Streams reports for each written item, and
//! what the memory store emits the same way.

use chrono::{DateTime, Utc};

use crate::domain::{Client, LedgerEntry, ProvisionedService, Reseller, UserId};

/// One item change of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemChange {
    /// Unique per change and stable across redeliveries: event ids derive from it.
    pub id: String,
    pub at: DateTime<Utc>,
    pub old: Option<Stored>,
    pub new: Option<Stored>,
}

/// What a changed item was.
#[derive(Debug, Clone, PartialEq)]
pub enum Stored {
    Reseller(Box<Reseller>),
    Entry {
        owner_id: UserId,
        entry: LedgerEntry,
    },
    Client(Client),
    Service(ProvisionedService),
    /// An item no event is made of (idempotency records, counters, refids).
    Other,
}
