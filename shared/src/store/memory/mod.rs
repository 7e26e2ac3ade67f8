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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use counters::Tally;
use serde::{Deserialize, Serialize};
use snapshot::Persistence;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use chrono::{DateTime, Utc};

use super::{ChildLink, IdempotencyRecord, ItemChange, PendingReferral, StoreError, StoreResult, Stored};
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

/// What the store does with one call, when a test asks it to fail as a network and
/// DynamoDB fail (the DynamoDB store's tests inject the same at the SDK: `tests/src/sdk.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Proceed,
    /// Fail without touching the store.
    Fail,
    /// Write the first half of a batch, then fail (a function dying mid-fill).
    HalfThenFail,
    /// Refused for capacity (DynamoDB throttling past the SDK's retries).
    Throttle,
    /// Cancelled by a transaction in flight on the same item (`TransactionConflict`).
    Conflict,
    /// Written, and the answer lost on the way back (a timeout after commit).
    LoseAnswer,
}

/// Chooses the fault of each call from the name of the store method called.
type FaultHook = Arc<dyn Fn(&'static str) -> Fault + Send + Sync>;

/// How the store behaves like one across a network: the calls it counts, the faults it
/// injects, whether each call first lets the other tasks run.
#[derive(Default)]
struct Network {
    calls: AtomicU64,
    faults: Option<FaultHook>,
    interleaved: bool,
}

impl std::fmt::Debug for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Network").field("calls", &self.calls).field("interleaved", &self.interleaved).finish()
    }
}

/// In-process store for `make dev` and fast tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Arc<Mutex<Tables>>,
    persistence: Option<Persistence>,
    changes: Option<UnboundedSender<ItemChange>>,
    network: Network,
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
        Ok(Self { tables, persistence: Some(persistence), changes: None, network: Network::default() })
    }

    /// This store, failing the calls `hook` chooses by method name (for tests).
    pub fn with_faults(mut self, hook: impl Fn(&'static str) -> Fault + Send + Sync + 'static) -> Self {
        self.network.faults = Some(Arc::new(hook));
        self
    }

    /// This store, letting the other tasks run before each call: operations then interleave
    /// at every store call, as they would over a network (deterministically on one thread).
    pub fn interleaved(mut self) -> Self {
        self.network.interleaved = true;
        self
    }

    /// The store calls made so far (every trait method counts one).
    pub fn calls(&self) -> u64 {
        self.network.calls.load(Ordering::SeqCst)
    }

    /// The start of every call: counts it, lets the other tasks run if interleaved, and
    /// fails it if the test's hook says so; answers the fault the call itself carries out
    /// (`HalfThenFail`, `LoseAnswer`) or `Proceed`.
    async fn enter(&self, method: &'static str) -> StoreResult<Fault> {
        self.network.calls.fetch_add(1, Ordering::SeqCst);
        let fault = match self.network.faults.as_ref().map_or(Fault::Proceed, |hook| hook(method)) {
            Fault::Fail => return Err(StoreError::Backend(format!("injected failure of {method}").into())),
            Fault::Throttle => return Err(StoreError::Throttled),
            Fault::Conflict => return Err(StoreError::Conflict),
            other => other,
        };
        if self.network.interleaved {
            tokio::task::yield_now().await;
        }
        Ok(fault)
    }

    /// A write's answer, lost on the way back if the call's fault says so.
    fn answer<T>(fault: Fault, written: StoreResult<T>) -> StoreResult<T> {
        match (fault, written) {
            (Fault::LoseAnswer, Ok(_)) => {
                Err(StoreError::Backend("injected: the answer was lost after the write".into()))
            }
            (_, written) => written,
        }
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
