//! The embedded store: the whole table in one mutex, each write applied all-or-nothing
//! under the lock, with the same conditions and answers as the DynamoDB store. Optionally
//! kept in a JSON file (the dev server's `.ally/store.json`) by [`snapshot`]: rewritten by
//! a writer thread shortly after writes, and by [`MemoryStore::flush`] on shutdown.
//! (Rewriting the whole file inside every write made each write cost the size of the
//! store: the dev server managed 200 provisions a second; see BENCHMARKS.md.) Each store
//! trait has the file its DynamoDB twin has (`profiles.rs`, `portfolio.rs`, `counters.rs`,
//! `wallet.rs`, ...), over the tables and the lock kept here.

mod counters;
mod hierarchy;
mod jobs;
mod portfolio;
mod profiles;
mod referrals;
mod snapshot;
mod top_ups;
mod waiting;
mod wallet;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use counters::Tally;
use serde::{Deserialize, Serialize};
use snapshot::Persistence;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use chrono::{DateTime, Utc};

use super::{ChildLink, IdempotencyRecord, ItemChange, PendingReferral, StoreResult, Stored};
use crate::domain::{Client, Hold, LedgerEntry, Lot, Metadata, ProvisionedService, Reseller, new_id};

/// Items grouped by owner, then by id (ULIDs sort by time).
type Owned<T> = BTreeMap<String, BTreeMap<String, T>>;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tables {
    resellers: BTreeMap<String, Reseller>,
    refids: BTreeMap<String, String>,
    ledger: Owned<LedgerEntry>,
    clients: Owned<Client>,
    services: Owned<ProvisionedService>,
    idempotency: Owned<IdempotencyRecord>,
    /// Whitelabel metadata by user, with its version: kept apart from the profiles, as in
    /// DynamoDB, so lists of resellers leave it out.
    #[serde(default)]
    metadata: BTreeMap<String, (u64, Metadata)>,
    #[serde(default)]
    counters: Tally,
    #[serde(default)]
    claims: BTreeMap<String, DateTime<Utc>>,
    #[serde(default)]
    checkpoints: BTreeMap<String, String>,
    /// External payments credited, by key: one credit in the whole store.
    #[serde(default)]
    payment_receipts: BTreeMap<String, crate::store::PaymentReceipt>,
    /// Holds by owner, then by id.
    #[serde(default)]
    holds: Owned<Hold>,
    /// Items waiting, by group then id.
    #[serde(default)]
    waiting: BTreeMap<String, BTreeMap<String, String>>,
    /// Links to each reseller's direct children, by parent then child order.
    #[serde(default)]
    children: BTreeMap<String, BTreeMap<String, ChildLink>>,
    /// Each reseller's tree version (absent: 0), bumped when a reseller is hung below it.
    #[serde(default)]
    tree_versions: BTreeMap<String, u64>,
    /// Credit lots as opened, by owner then id (live amounts are on the wallet).
    #[serde(default)]
    lots: Owned<Lot>,
    /// The lots with an expiry the expiry job has not taken yet, by owner.
    #[serde(default)]
    expiring_lots: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Referral ids holding a reward slot, by referrer and month (`user#YYYY-MM`).
    #[serde(default)]
    reward_slots: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Referrals waiting for their referred user, by referred user and referral id.
    #[serde(default)]
    pending_referrals: BTreeMap<String, BTreeMap<String, PendingReferral>>,
    /// Auto top-up requests by owner, then id.
    #[serde(default)]
    top_ups: Owned<crate::domain::TopUpRequest>,
    /// Upgrade suggestions by owner, then month (`YYYY-MM`).
    #[serde(default)]
    suggestions: Owned<crate::domain::UpgradeSuggestion>,
}

/// In-process store for `make dev` and fast tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    persistence: Option<Persistence>,
    changes: Option<UnboundedSender<ItemChange>>,
}

impl MemoryStore {
    /// An empty store, in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store kept in `file`: loaded now if it exists, rewritten shortly after writes.
    /// Call [`MemoryStore::flush`] before the process ends. A rewrite that fails is logged
    /// and retried at the next write; the writes themselves have succeeded in memory.
    pub fn open(file: impl AsRef<Path>) -> StoreResult<Self> {
        let path = file.as_ref().to_path_buf();
        let tables = Arc::new(Mutex::new(snapshot::load(&path)?));
        let persistence = Persistence::start(path, tables.clone())?;
        Ok(Self { tables, persistence: Some(persistence), changes: None })
    }

    /// Writes the store to its file now (on shutdown; the writer thread may be waiting).
    pub fn flush(&self) -> StoreResult<()> {
        match &self.persistence {
            Some(persistence) => persistence.flush(&self.tables),
            None => Ok(()),
        }
    }

    /// This store, emitting a change record for every item it writes (as DynamoDB Streams
    /// does), and the receiving end of that feed.
    pub fn with_change_feed(mut self) -> (Self, UnboundedReceiver<ItemChange>) {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        self.changes = Some(sender);
        (self, receiver)
    }

    /// Records a change: counts it in the network's figures at once (the consumer caught
    /// up), and sends it to the change feed, if any, as DynamoDB Streams would.
    fn emit(&self, t: &mut Tables, old: Option<Stored>, new: Option<Stored>) {
        let change = ItemChange { id: new_id(), at: Utc::now(), old, new };
        if let Some(delta) = change.network_delta() {
            t.counters.count_change(&delta);
        }
        if let Some(changes) = &self.changes {
            // A closed feed only means nobody listens any more.
            let _ = changes.send(change);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A panic while holding the lock cannot leave a half-applied write: every write
        // checks all its conditions before it changes anything.
        self.tables.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Tells the writer thread, if any, that the tables changed.
    fn changed(&self) {
        if let Some(persistence) = &self.persistence {
            // A gone writer thread only means nothing is kept on disk any more.
            persistence.wake();
        }
    }
}
