//! The embedded store: the whole table in one mutex, each write applied all-or-nothing
//! under the lock, with the same conditions and answers as the DynamoDB store. Optionally
//! kept in a JSON file (the dev server's `.ally/store.json`) by [`snapshot`]: rewritten by
//! a writer thread shortly after writes, and by [`MemoryStore::flush`] on shutdown.
//! (Rewriting the whole file inside every write made each write cost the size of the
//! store: the dev server managed 200 provisions a second; see BENCHMARKS.md.) The counters
//! are in [`tally`]. The five store traits stay together here, a little over 400 lines, so
//! each write and the lock it holds can be read in one place.

mod hierarchy;
mod jobs;
mod referrals;
mod snapshot;
mod tally;
mod top_ups;
mod waiting;
mod wallets;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use snapshot::Persistence;
use tally::Tally;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::{
    ChildLink, Counters, FiguresWindow, Granularity, IdempotencyRecord, ItemChange, MetadataPatched, Page, PageRequest,
    ParentLink, PendingReferral, Portfolio, ProfileUpdate, Profiles, ResellerFilter, StoreError, StoreResult, Stored,
    Taken, WithMetadata, keys, page_newest_first,
};
use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{
    Accrual, Activity, Client, ClientId, DateRange, Guard, Hold, HoldStatus, LedgerEntry, Lot, METADATA_MAX_BYTES,
    Metadata, MetadataPatch, NetworkTotals, ProvisionedService, RefId, Refusal, Reseller, UserId, merge_metadata,
    metadata_bytes, month_of, new_id,
};

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

impl Profiles for MemoryStore {
    async fn insert_reseller(&self, reseller: &Reseller, parent: Option<&ParentLink>) -> StoreResult<()> {
        let mut t = self.lock();
        if parent.is_some_and(|l| !t.chain_holds(&l.chain)) {
            return Err(StoreError::Refused(Refusal::VersionChanged));
        }
        if t.resellers.contains_key(reseller.user_id.as_str()) {
            return Err(StoreError::Taken(Taken::User));
        }
        if t.refids.contains_key(reseller.refid.as_str()) {
            return Err(StoreError::Taken(Taken::Refid));
        }
        t.refids.insert(reseller.refid.to_string(), reseller.user_id.to_string());
        if let Some(link) = parent {
            let child = ChildLink {
                user_id: reseller.user_id.clone(),
                refid: reseller.refid.clone(),
                created_at: reseller.created_at,
            };
            t.link(child, link);
        }
        let mut profile = reseller.clone();
        let metadata = std::mem::take(&mut profile.metadata);
        t.metadata.insert(reseller.user_id.to_string(), (1, metadata));
        t.resellers.insert(reseller.user_id.to_string(), profile.clone());
        self.changed();
        self.emit(&mut t, None, Some(Stored::Reseller(Box::new(profile))));
        Ok(())
    }

    async fn reseller(&self, user_id: &UserId) -> StoreResult<Option<Reseller>> {
        Ok(self.with_metadata(user_id).await?.map(|read| read.reseller))
    }

    async fn with_metadata(&self, user_id: &UserId) -> StoreResult<Option<WithMetadata>> {
        let t = self.lock();
        Ok(t.resellers.get(user_id.as_str()).map(|profile| {
            let mut reseller = profile.clone();
            // A profile kept before metadata had an entry of its own keeps it inline until
            // its first metadata change, as in DynamoDB.
            let metadata_version = match t.metadata.get(user_id.as_str()) {
                Some((version, metadata)) => {
                    reseller.metadata = metadata.clone();
                    *version
                }
                None => 0,
            };
            WithMetadata { reseller, metadata_version }
        }))
    }

    async fn put_metadata(&self, user_id: &UserId, expected: u64, metadata: &Metadata) -> StoreResult<()> {
        let mut t = self.lock();
        let version = t.metadata.get(user_id.as_str()).map_or(0, |(version, _)| *version);
        if version != expected {
            return Err(StoreError::Refused(Refusal::VersionChanged));
        }
        t.metadata.insert(user_id.to_string(), (expected + 1, metadata.clone()));
        self.changed();
        Ok(())
    }

    async fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        _growth: usize,
    ) -> StoreResult<MetadataPatched> {
        // Exact under the lock: what fits is written, what does not is handed back (as
        // DynamoDB's bound would, sooner or later).
        let mut t = self.lock();
        let Some((version, metadata)) = t.metadata.get_mut(user_id.as_str()) else {
            return Ok(MetadataPatched::Unproven(None));
        };
        let merged = merge_metadata(metadata.clone(), patch);
        if metadata_bytes(&merged) > METADATA_MAX_BYTES {
            return Ok(MetadataPatched::Unproven(Some((metadata.clone(), *version))));
        }
        *metadata = merged.clone();
        *version += 1;
        self.changed();
        Ok(MetadataPatched::Written(merged))
    }

    async fn user_by_refid(&self, refid: &RefId) -> StoreResult<Option<UserId>> {
        let user = self.lock().refids.get(refid.as_str()).cloned();
        user.map(UserId::parse).transpose().map_err(StoreError::backend)
    }

    async fn resellers_by_user(&self, user_ids: &[UserId]) -> StoreResult<Vec<Reseller>> {
        let t = self.lock();
        Ok(user_ids.iter().filter_map(|u| t.resellers.get(u.as_str()).cloned()).collect())
    }

    async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
        let t = self.lock();
        let matching: BTreeMap<String, Reseller> = t
            .resellers
            .values()
            .filter(|r| filter.admits(r))
            .map(|r| (keys::reseller_order(&r.created_at, &r.user_id), r.clone()))
            .collect();
        page_newest_first(Some(&matching), page)
    }

    async fn update_profile(&self, user_id: &UserId, update: &ProfileUpdate) -> StoreResult<Reseller> {
        let mut t = self.lock();
        update.guard.check(t.resellers.get(user_id.as_str())).map_err(StoreError::Refused)?;
        let r = t.resellers.get_mut(user_id.as_str()).ok_or(StoreError::Refused(Refusal::Missing))?;
        let before = r.clone();
        r.tier = update.tier;
        r.status = update.status;
        r.hold_provisioning = update.hold_provisioning;
        r.hold_reason = update.hold_reason;
        r.alerts = update.alerts.clone();
        r.updated_at = update.at;
        r.version += 1;
        let updated = r.clone();
        self.emit(&mut t, Some(Stored::Reseller(Box::new(before))), Some(Stored::Reseller(Box::new(updated.clone()))));
        self.changed();
        Ok(updated)
    }
}

impl Portfolio for MemoryStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let mut t = self.lock();
        let owner = client.owner_id.to_string();
        if t.clients.get(&owner).is_some_and(|m| m.contains_key(client.id.as_str())) {
            return Err(StoreError::Taken(Taken::Client));
        }
        Guard::AddClient.check(t.resellers.get(&owner)).map_err(StoreError::Refused)?;
        t.clients.entry(owner.clone()).or_default().insert(client.id.to_string(), client.clone());
        if let Some(r) = t.resellers.get_mut(&owner) {
            r.clients += 1;
        }
        let acquisition = Activity { acquisitions: 1, ..Activity::default() };
        t.counters.count(&client.owner_id, client.created_at, acquisition, None);
        self.changed();
        self.emit(&mut t, None, Some(Stored::Client(client.clone())));
        Ok(())
    }

    async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
        let mut t = self.lock();
        for c in clients {
            let old = t.clients.entry(c.owner_id.to_string()).or_default().insert(c.id.to_string(), c.clone());
            self.emit(&mut t, old.map(Stored::Client), Some(Stored::Client(c.clone())));
        }
        for s in services {
            let old = t.services.entry(s.owner_id.to_string()).or_default().insert(s.id.clone(), s.clone());
            self.emit(&mut t, old.map(Stored::Service), Some(Stored::Service(s.clone())));
        }
        self.changed();
        Ok(())
    }

    async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Client>> {
        Ok(self.lock().clients.get(owner_id.as_str()).and_then(|m| m.get(client_id.as_str())).cloned())
    }

    async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Client>> {
        page_newest_first(self.lock().clients.get(owner_id.as_str()), page)
    }

    async fn services(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
        page_newest_first(self.lock().services.get(owner_id.as_str()), page)
    }

    async fn entry(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<LedgerEntry>> {
        Ok(self.lock().ledger.get(owner_id.as_str()).and_then(|l| l.get(id)).cloned())
    }

    async fn hold(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Hold>> {
        Ok(self.lock().holds.get(owner_id.as_str()).and_then(|h| h.get(id)).cloned())
    }

    async fn holds(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Hold>> {
        page_newest_first(self.lock().holds.get(owner_id.as_str()), page)
    }

    async fn expired_holds(&self, now: DateTime<Utc>) -> StoreResult<Vec<Hold>> {
        let t = self.lock();
        let active = t.holds.values().flat_map(|h| h.values());
        Ok(active.filter(|h| h.status == HoldStatus::Active && h.expires_at < now).cloned().collect())
    }

    async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
        page_newest_first(self.lock().ledger.get(owner_id.as_str()), page)
    }

    async fn lots(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Lot>> {
        page_newest_first(self.lock().lots.get(owner_id.as_str()), page)
    }

    async fn expired_lots(&self, now: DateTime<Utc>) -> StoreResult<Vec<(UserId, Lot)>> {
        let t = self.lock();
        let mut found = Vec::new();
        for (owner, ids) in &t.expiring_lots {
            let owner_id = UserId::parse(owner.as_str()).map_err(StoreError::backend)?;
            let lots = ids.iter().filter_map(|id| t.lots.get(owner).and_then(|l| l.get(id)));
            found.extend(lots.filter(|l| l.is_expired(now)).map(|l| (owner_id.clone(), l.clone())));
        }
        Ok(found)
    }

    async fn settle_lot(&self, owner_id: &UserId, lot: &str) -> StoreResult<()> {
        let mut t = self.lock();
        if let Some(ids) = t.expiring_lots.get_mut(owner_id.as_str()) {
            ids.remove(lot);
        }
        self.changed();
        Ok(())
    }
}

impl Counters for MemoryStore {
    async fn activity(
        &self,
        owner_id: Option<&UserId>,
        range: &DateRange,
        granularity: Granularity,
    ) -> StoreResult<BTreeMap<NaiveDate, Activity>> {
        let t = self.lock();
        let c = &t.counters;
        let (series, from) = match (owner_id, granularity) {
            (Some(owner), Granularity::Day) => (c.days.get(owner.as_str()), range.start),
            (Some(owner), Granularity::Month) => (c.months.get(owner.as_str()), month_of(range.start)),
            (None, Granularity::Day) => (Some(&c.network_days), range.start),
            (None, Granularity::Month) => (Some(&c.network_months), month_of(range.start)),
        };
        Ok(series.map(|m| m.range(from..=range.end).map(|(d, a)| (*d, *a)).collect()).unwrap_or_default())
    }

    async fn month_activity(&self, users: &[UserId], month: NaiveDate) -> StoreResult<Vec<(UserId, Activity)>> {
        let t = self.lock();
        let of = |u: &UserId| t.counters.months.get(u.as_str()).and_then(|m| m.get(&month)).map(|a| (u.clone(), *a));
        Ok(users.iter().filter_map(of).collect())
    }

    async fn active(&self, period: NaiveDate, granularity: Granularity) -> StoreResult<Vec<(UserId, Activity)>> {
        let t = self.lock();
        let series = match granularity {
            Granularity::Day => &t.counters.days,
            Granularity::Month => &t.counters.months,
        };
        series
            .iter()
            .filter_map(|(owner, periods)| periods.get(&period).map(|a| (owner, *a)))
            .map(|(owner, a)| Ok((UserId::parse(owner.as_str()).map_err(StoreError::backend)?, a)))
            .collect()
    }

    async fn accrued(&self, day: NaiveDate) -> StoreResult<Vec<(UserId, Accrual)>> {
        let t = self.lock();
        let Some(owners) = t.counters.accrued.get(&day) else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        for (owner, by_parent) in owners {
            let owner = UserId::parse(owner.as_str()).map_err(StoreError::backend)?;
            out.extend(by_parent.values().map(|a| (owner.clone(), a.clone())));
        }
        Ok(out)
    }

    async fn network_totals(&self) -> StoreResult<NetworkTotals> {
        Ok(self.lock().counters.totals)
    }

    async fn apply_figures(&self, window: &FiguresWindow) -> StoreResult<bool> {
        let added = self.lock().counters.apply_window(window).ok_or(StoreError::Refused(Refusal::Duplicate))?;
        self.changed();
        Ok(added)
    }

    async fn fold_figures(&self, _quiet_since: DateTime<Utc>) -> StoreResult<usize> {
        // One running sum: nothing waits to be folded.
        Ok(0)
    }

    async fn correct_figures(&self, correction: &crate::domain::NetworkSum) -> StoreResult<()> {
        self.lock().counters.add_to_network(correction);
        Ok(())
    }
}
