//! A store that counts every call and may inject a fault into any of them.

use std::collections::BTreeMap;

use ally::domain::{
    Activity, AutoTopUp, Client, ClientId, DateRange, Hold, IdempotencyKey, LedgerEntry, Lot, Metadata, MetadataPatch,
    NetworkSum, NetworkTotals, ProvisionedService, RefId, Reseller, TopUpRequest, UpgradeSuggestion, UserId,
};
use ally::store::{
    ChildLink, Counters, Granularity, Hierarchy, IdempotencyRecord, Jobs, MetadataPatched, Page, PageRequest,
    ParentChange, ParentLink, PaymentReceipt, PendingReferral, Portfolio, ProfileUpdate, Profiles, Referrals,
    ResellerFilter, RewardSlot, StoreError, StoreResult, TopUps, Upgrades, Waiting, WalletChange, Wallets,
    WithMetadata,
};
use chrono::{DateTime, NaiveDate, Utc};

/// What a [`Hooked`] store does with one call.
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

/// A store that counts every call and may inject a fault into any of them, chosen by a hook
/// that sees the method's name.
pub struct Hooked<S> {
    inner: S,
    hook: Box<dyn Fn(&'static str) -> Fault + Send + Sync>,
    calls: std::sync::atomic::AtomicU64,
    /// Whether each call first lets the other tasks run, as a network round trip would.
    yielding: bool,
}

impl<S> Hooked<S> {
    /// Wraps `inner`, asking `hook` before each call.
    pub fn new(inner: S, hook: impl Fn(&'static str) -> Fault + Send + Sync + 'static) -> Self {
        Self { inner, hook: Box::new(hook), calls: std::sync::atomic::AtomicU64::new(0), yielding: false }
    }

    /// Lets the other tasks run before each call: operations on an in-memory store then
    /// interleave at every store call, as they would over a network (deterministically on
    /// one thread).
    pub fn yielding(mut self) -> Self {
        self.yielding = true;
        self
    }

    async fn pause(&self) {
        if self.yielding {
            tokio::task::yield_now().await;
        }
    }

    /// Only counts calls.
    pub fn counting(inner: S) -> Self {
        Self::new(inner, |_| Fault::Proceed)
    }

    /// The first `crashes` bulk fills write half their items and fail.
    pub fn crashing_fill(inner: S, crashes: u32) -> Self {
        let left = std::sync::atomic::AtomicU32::new(crashes);
        Self::new(inner, move |method| {
            let crash = method == "put_portfolio"
                && left
                    .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                        n.checked_sub(1)
                    })
                    .is_ok();
            if crash { Fault::HalfThenFail } else { Fault::Proceed }
        })
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn before(&self, method: &'static str) -> Result<Fault, ally::store::StoreError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match (self.hook)(method) {
            Fault::Fail => Err(ally::store::StoreError::Backend(format!("injected failure of {method}").into())),
            Fault::Throttle => Err(ally::store::StoreError::Throttled),
            Fault::Conflict => Err(ally::store::StoreError::Conflict),
            other => Ok(other),
        }
    }
}

impl<S: Profiles> Profiles for Hooked<S> {
    async fn insert_reseller(&self, r: &Reseller, parent: Option<&ParentLink>) -> StoreResult<()> {
        self.before("insert_reseller")?;
        self.pause().await;
        self.inner.insert_reseller(r, parent).await
    }
    async fn reseller(&self, user_id: &UserId) -> StoreResult<Option<Reseller>> {
        self.before("reseller")?;
        self.pause().await;
        self.inner.reseller(user_id).await
    }
    async fn with_metadata(&self, user_id: &UserId) -> StoreResult<Option<WithMetadata>> {
        self.before("with_metadata")?;
        self.pause().await;
        self.inner.with_metadata(user_id).await
    }
    async fn put_metadata(&self, user_id: &UserId, expected: u64, metadata: &Metadata) -> StoreResult<()> {
        self.before("put_metadata")?;
        self.pause().await;
        self.inner.put_metadata(user_id, expected, metadata).await
    }
    async fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        growth: usize,
    ) -> StoreResult<MetadataPatched> {
        self.before("patch_metadata")?;
        self.pause().await;
        self.inner.patch_metadata(user_id, patch, growth).await
    }
    async fn user_by_refid(&self, refid: &RefId) -> StoreResult<Option<UserId>> {
        self.before("user_by_refid")?;
        self.pause().await;
        self.inner.user_by_refid(refid).await
    }
    async fn resellers_by_user(&self, user_ids: &[UserId]) -> StoreResult<Vec<Reseller>> {
        self.before("resellers_by_user")?;
        self.pause().await;
        self.inner.resellers_by_user(user_ids).await
    }
    async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
        self.before("resellers")?;
        self.pause().await;
        self.inner.resellers(filter, page).await
    }
    async fn update_profile(&self, user_id: &UserId, update: &ProfileUpdate) -> StoreResult<Reseller> {
        self.before("update_profile")?;
        self.pause().await;
        self.inner.update_profile(user_id, update).await
    }
}

impl<S: Wallets> Wallets for Hooked<S> {
    async fn wallet(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
    ) -> StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)> {
        self.before("wallet")?;
        self.pause().await;
        self.inner.wallet(user_id, key).await
    }
    async fn commit_wallet_change(&self, change: &WalletChange) -> StoreResult<()> {
        let fault = self.before("commit_wallet_change")?;
        self.pause().await;
        lose_answer(fault, self.inner.commit_wallet_change(change).await)
    }
    async fn payment_receipt(&self, key: &IdempotencyKey) -> StoreResult<Option<PaymentReceipt>> {
        self.before("payment_receipt")?;
        self.pause().await;
        self.inner.payment_receipt(key).await
    }
    async fn lot(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Lot>> {
        self.before("lot")?;
        self.pause().await;
        self.inner.lot(owner_id, id).await
    }
    async fn commit_transfer(&self, from: &WalletChange, to: &WalletChange) -> StoreResult<()> {
        let fault = self.before("commit_transfer")?;
        self.pause().await;
        lose_answer(fault, self.inner.commit_transfer(from, to).await)
    }
    async fn finish_idempotency(&self, user_id: &UserId, key: &IdempotencyKey, response: &str) -> StoreResult<()> {
        self.before("finish_idempotency")?;
        self.pause().await;
        self.inner.finish_idempotency(user_id, key, response).await
    }
    async fn pending_fills(
        &self,
        before: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<Vec<(UserId, IdempotencyRecord)>> {
        self.before("pending_fills")?;
        self.pause().await;
        self.inner.pending_fills(before).await
    }
}

impl<S: Portfolio> Portfolio for Hooked<S> {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        self.before("insert_client")?;
        self.pause().await;
        self.inner.insert_client(client).await
    }
    async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
        if self.before("put_portfolio")? == Fault::HalfThenFail {
            let half = clients.len() / 2;
            self.inner.put_portfolio(&clients[..half], &services[..half]).await?;
            return Err(StoreError::Backend("injected crash during the bulk fill".into()));
        }
        self.inner.put_portfolio(clients, services).await
    }
    async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Client>> {
        self.before("client")?;
        self.pause().await;
        self.inner.client(owner_id, client_id).await
    }
    async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Client>> {
        self.before("clients")?;
        self.pause().await;
        self.inner.clients(owner_id, page).await
    }
    async fn services(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
        self.before("services")?;
        self.pause().await;
        self.inner.services(owner_id, page).await
    }
    async fn entry(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<LedgerEntry>> {
        self.before("entry")?;
        self.pause().await;
        self.inner.entry(owner_id, id).await
    }
    async fn hold(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Hold>> {
        self.before("hold")?;
        self.pause().await;
        self.inner.hold(owner_id, id).await
    }
    async fn holds(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Hold>> {
        self.before("holds")?;
        self.pause().await;
        self.inner.holds(owner_id, page).await
    }
    async fn expired_holds(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<Vec<Hold>> {
        self.before("expired_holds")?;
        self.pause().await;
        self.inner.expired_holds(now).await
    }
    async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
        self.before("ledger")?;
        self.pause().await;
        self.inner.ledger(owner_id, page).await
    }
    async fn lots(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Lot>> {
        self.before("lots")?;
        self.pause().await;
        self.inner.lots(owner_id, page).await
    }
    async fn expired_lots(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<Vec<(UserId, Lot)>> {
        self.before("expired_lots")?;
        self.pause().await;
        self.inner.expired_lots(now).await
    }
    async fn settle_lot(&self, owner_id: &UserId, lot: &str) -> StoreResult<()> {
        self.before("settle_lot")?;
        self.pause().await;
        self.inner.settle_lot(owner_id, lot).await
    }
}

impl<S: Counters> Counters for Hooked<S> {
    async fn month_activity(&self, users: &[UserId], month: NaiveDate) -> StoreResult<Vec<(UserId, Activity)>> {
        self.before("month_activity")?;
        self.pause().await;
        self.inner.month_activity(users, month).await
    }
    async fn activity(
        &self,
        owner_id: Option<&UserId>,
        range: &DateRange,
        granularity: Granularity,
    ) -> StoreResult<BTreeMap<NaiveDate, Activity>> {
        self.before("activity")?;
        self.pause().await;
        self.inner.activity(owner_id, range, granularity).await
    }
    async fn active(&self, period: NaiveDate, granularity: Granularity) -> StoreResult<Vec<(UserId, Activity)>> {
        self.before("active")?;
        self.pause().await;
        self.inner.active(period, granularity).await
    }
    async fn accrued(&self, day: NaiveDate) -> StoreResult<Vec<(UserId, ally::domain::Accrual)>> {
        self.before("accrued")?;
        self.pause().await;
        self.inner.accrued(day).await
    }
    async fn network_totals(&self) -> StoreResult<NetworkTotals> {
        self.before("network_totals")?;
        self.pause().await;
        self.inner.network_totals().await
    }
    async fn apply_figures(&self, window: &ally::store::FiguresWindow) -> StoreResult<bool> {
        self.before("apply_figures")?;
        self.pause().await;
        self.inner.apply_figures(window).await
    }
    async fn fold_figures(&self, quiet_since: DateTime<Utc>) -> StoreResult<usize> {
        self.before("fold_figures")?;
        self.pause().await;
        self.inner.fold_figures(quiet_since).await
    }
    async fn correct_figures(&self, correction: &NetworkSum) -> StoreResult<()> {
        self.before("correct_figures")?;
        self.pause().await;
        self.inner.correct_figures(correction).await
    }
}

impl<S: Hierarchy> Hierarchy for Hooked<S> {
    async fn set_parent(&self, change: &ParentChange) -> StoreResult<()> {
        self.before("set_parent")?;
        self.pause().await;
        self.inner.set_parent(change).await
    }
    async fn tree_version(&self, user: &UserId) -> StoreResult<u64> {
        self.before("tree_version")?;
        self.pause().await;
        self.inner.tree_version(user).await
    }
    async fn children(&self, parent: &UserId, page: &PageRequest) -> StoreResult<Page<ChildLink>> {
        self.before("children")?;
        self.pause().await;
        self.inner.children(parent, page).await
    }
}

impl<S: Waiting> Waiting for Hooked<S> {
    async fn park(&self, group: &str, id: &str, value: &str) -> StoreResult<()> {
        self.before("park")?;
        self.pause().await;
        self.inner.park(group, id, value).await
    }
    async fn waiting(&self, group: &str) -> StoreResult<Vec<(String, String)>> {
        self.before("waiting")?;
        self.pause().await;
        self.inner.waiting(group).await
    }
    async fn settle(&self, group: &str, id: &str) -> StoreResult<()> {
        self.before("settle")?;
        self.pause().await;
        self.inner.settle(group, id).await
    }
}

impl<S: Jobs> Jobs for Hooked<S> {
    async fn claim(&self, key: &str) -> StoreResult<bool> {
        self.before("claim")?;
        self.pause().await;
        self.inner.claim(key).await
    }
    async fn claimed(&self, key: &str) -> StoreResult<bool> {
        self.before("claimed")?;
        self.pause().await;
        self.inner.claimed(key).await
    }
    async fn checkpoint(&self, key: &str) -> StoreResult<Option<String>> {
        self.before("checkpoint")?;
        self.pause().await;
        self.inner.checkpoint(key).await
    }
    async fn save_checkpoint(&self, key: &str, value: &str) -> StoreResult<()> {
        self.before("save_checkpoint")?;
        self.pause().await;
        self.inner.save_checkpoint(key, value).await
    }
}

impl<S: Referrals> Referrals for Hooked<S> {
    async fn take_reward_slot(
        &self,
        referrer: &UserId,
        month: NaiveDate,
        referral_id: &str,
        cap: u32,
    ) -> StoreResult<RewardSlot> {
        self.before("take_reward_slot")?;
        self.pause().await;
        self.inner.take_reward_slot(referrer, month, referral_id, cap).await
    }
    async fn park_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        self.before("park_referral")?;
        self.pause().await;
        self.inner.park_referral(pending).await
    }
    async fn pending_referrals(&self, referred: &UserId) -> StoreResult<Vec<PendingReferral>> {
        self.before("pending_referrals")?;
        self.pause().await;
        self.inner.pending_referrals(referred).await
    }
    async fn settle_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        self.before("settle_referral")?;
        self.pause().await;
        self.inner.settle_referral(pending).await
    }
}

impl<S: TopUps> TopUps for Hooked<S> {
    async fn put_auto_top_up(
        &self,
        user_id: &UserId,
        version: u64,
        state: Option<&AutoTopUp>,
        closed: Option<&TopUpRequest>,
    ) -> StoreResult<()> {
        self.before("put_auto_top_up")?;
        self.pause().await;
        self.inner.put_auto_top_up(user_id, version, state, closed).await
    }
    async fn stale_top_ups(&self, before: DateTime<Utc>) -> StoreResult<Vec<TopUpRequest>> {
        self.before("stale_top_ups")?;
        self.pause().await;
        self.inner.stale_top_ups(before).await
    }
}

impl<S: Upgrades> Upgrades for Hooked<S> {
    async fn suggest_upgrade(&self, suggestion: &UpgradeSuggestion) -> StoreResult<UpgradeSuggestion> {
        self.before("suggest_upgrade")?;
        self.pause().await;
        self.inner.suggest_upgrade(suggestion).await
    }
    async fn upgrade_applied(&self, owner_id: &UserId, month: NaiveDate, at: DateTime<Utc>) -> StoreResult<()> {
        self.before("upgrade_applied")?;
        self.pause().await;
        self.inner.upgrade_applied(owner_id, month, at).await
    }
}

/// What a call answers under `fault`: its own answer, or a lost one after it was written.
fn lose_answer<T>(fault: Fault, answer: StoreResult<T>) -> StoreResult<T> {
    match (fault, answer) {
        (Fault::LoseAnswer, Ok(_)) => Err(StoreError::Backend("injected: the answer was lost after the write".into())),
        (_, answer) => answer,
    }
}
