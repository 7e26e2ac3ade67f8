//! Persistence: narrow traits (profiles, wallets, portfolio, counters, jobs) whose sum is
//! [`Store`], with two implementations held to one contract test suite.
//!
//! [`dynamo::DynamoStore`] is production (one DynamoDB table); [`memory::MemoryStore`] is the
//! embedded default for `make dev` and fast tests. Every write that moves credits is one
//! atomic operation conditioned on the wallet rule ([`Guard`]) the service decided under.

mod change;
pub mod dynamo;
pub mod keys;
pub mod memory;
mod page;
mod referrals;
mod top_ups;
mod waiting;
mod writes;

pub use change::{FiguresWindow, ItemChange, Stored, stream_position};
pub use page::{Page, PageRequest};
pub(crate) use page::{decode_cursor, encode_cursor, page_newest_first};
pub use referrals::{PendingReferral, Referrals, RewardSlot};
pub use top_ups::{TopUps, Upgrades};
pub use waiting::Waiting;
pub use writes::{
    Ancestor, HoldWrite, IdempotencyRecord, IdempotencyState, LotWrite, ParentChange, ParentLink, PaymentReceipt,
    ReceiptWrite, ReversalOf, WalletChange,
};

use std::collections::BTreeMap;
use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Accrual, Activity, Alerts, AllyError, Client, ClientId, DateRange, Guard, Hold, HoldReason, IdempotencyKey,
    LedgerEntry, Lot, Metadata, MetadataPatch, NetworkTotals, ProvisionedService, RefId, Refusal, Reseller, Status,
    Tier, UserId,
};

/// Whether counters are read per day or per month (keyed by the month's first day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Month,
}

/// Which resellers to list (the seed's scopes: `scopeActive`, `scopePlatinum`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResellerFilter {
    Tier(Tier),
    Status(Status),
    TierAndStatus(Tier, Status),
}

impl ResellerFilter {
    /// The filter of the given scopes; none when neither is given.
    pub fn of(tier: Option<Tier>, status: Option<Status>) -> Option<Self> {
        match (tier, status) {
            (Some(tier), Some(status)) => Some(Self::TierAndStatus(tier, status)),
            (Some(tier), None) => Some(Self::Tier(tier)),
            (None, Some(status)) => Some(Self::Status(status)),
            (None, None) => None,
        }
    }

    /// Whether `reseller` is in the list.
    pub fn admits(&self, reseller: &Reseller) -> bool {
        match *self {
            Self::Tier(tier) => reseller.tier == tier,
            Self::Status(status) => reseller.status == status,
            Self::TierAndStatus(tier, status) => reseller.tier == tier && reseller.status == status,
        }
    }
}

/// Profile fields an update sets, under a [`Guard::Profile`] of the version read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub guard: Guard,
    pub tier: Tier,
    pub status: Status,
    pub hold_provisioning: bool,
    pub hold_reason: Option<HoldReason>,
    pub alerts: Option<Alerts>,
    pub at: DateTime<Utc>,
}

/// A reseller with the version of its metadata, which a metadata write is conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithMetadata {
    pub reseller: Reseller,
    /// 0 while the reseller has no metadata item (onboarded before every reseller got one).
    pub metadata_version: u64,
}

/// What a metadata patch bounded by size did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetadataPatched {
    /// Written: the metadata as it now stands.
    Written(Metadata),
    /// Nothing written: the bound could not show the patch fits. The metadata and its
    /// version as found, none when the reseller has no metadata item.
    Unproven(Option<(Metadata, u64)>),
}

/// What must be unique and was not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The user already has a reseller.
    User,
    /// The refid is taken by another reseller: pick another.
    Refid,
    /// A client with this id exists.
    Client,
}

/// A store failure. Refusals and uniqueness stay typed so the service can act on them;
/// everything else is a backend failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error("already exists: {0:?}")]
    Taken(Taken),
    /// Another transaction touched the same items at the same time; retry after a pause.
    #[error("transaction conflict")]
    Conflict,
    /// DynamoDB refused for capacity past the retries (throttled requests or batch items).
    #[error("throttled")]
    Throttled,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("store backend failure")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(err))
    }
}

impl From<StoreError> for AllyError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Refused(refusal) => refusal.into(),
            StoreError::Taken(Taken::User) => AllyError::AlreadyExists("reseller"),
            StoreError::Taken(Taken::Client) => AllyError::AlreadyExists("client"),
            // Only seen when every refid drawn was taken, a race to retry.
            StoreError::Taken(Taken::Refid) | StoreError::Conflict => AllyError::Contention,
            StoreError::Throttled => AllyError::Throttled,
            StoreError::InvalidCursor => AllyError::validation("cursor is not valid for this list"),
            StoreError::Backend(source) => AllyError::Store(source),
        }
    }
}

/// Store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// Jittered exponential pause before trying again after a lost race, a transaction
/// conflict or throttled batch items (up to 5 ms, doubling to 80 ms).
pub async fn backoff(attempt: u32) {
    let cap = 5u64 << attempt.min(4);
    tokio::time::sleep(std::time::Duration::from_millis(rand::random_range(1..=cap))).await;
}

/// Reseller profiles: onboarding, lookups, lists, admin changes.
pub trait Profiles: Send + Sync {
    /// Creates the profile and claims its refid, both or neither; under `parent` (whose chain
    /// must be as read, and gets new versions), with the link in the parent's partition, in
    /// the same transaction.
    fn insert_reseller(
        &self,
        reseller: &Reseller,
        parent: Option<&ParentLink>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The reseller of `user_id` with its metadata (strongly consistent).
    fn reseller(&self, user_id: &UserId) -> impl Future<Output = StoreResult<Option<Reseller>>> + Send;

    /// The reseller of `user_id` with its metadata and the metadata's version, in one read.
    fn with_metadata(&self, user_id: &UserId) -> impl Future<Output = StoreResult<Option<WithMetadata>>> + Send;

    /// Replaces the metadata of `user_id` if its version is still `expected` (refused with
    /// `VersionChanged` otherwise). The caller has read the reseller, and resellers are never
    /// deleted: the write checks nothing else (one item, one conditional put).
    fn put_metadata(
        &self,
        user_id: &UserId,
        expected: u64,
        metadata: &Metadata,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Merges `patch` into the metadata of `user_id` in one write, when the bound its item
    /// keeps of its serialised size, grown by `growth` (the patch's
    /// [`metadata_growth_bound`](crate::domain::metadata_growth_bound)), stays within
    /// [`METADATA_MAX_BYTES`](crate::domain::METADATA_MAX_BYTES); otherwise writes nothing
    /// and answers what it found, for an exact merge.
    fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        growth: usize,
    ) -> impl Future<Output = StoreResult<MetadataPatched>> + Send;

    /// The user id a refid names, in one read (the money path needs nothing more).
    fn user_by_refid(&self, refid: &RefId) -> impl Future<Output = StoreResult<Option<UserId>>> + Send;

    /// The resellers of these user ids that exist.
    fn resellers_by_user(&self, user_ids: &[UserId]) -> impl Future<Output = StoreResult<Vec<Reseller>>> + Send;

    /// Resellers of one tier or status, newest first (without their metadata).
    fn resellers(
        &self,
        filter: ResellerFilter,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<Reseller>>> + Send;

    /// Sets profile fields if the guard still holds; returns the new profile (without its
    /// metadata, which lives apart).
    fn update_profile(
        &self,
        user_id: &UserId,
        update: &ProfileUpdate,
    ) -> impl Future<Output = StoreResult<Reseller>> + Send;
}

/// The money path: a wallet read with its idempotency record, one atomic change.
pub trait Wallets: Send + Sync {
    /// The wallet and the record of `key`, read together (strongly consistent).
    fn wallet(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
    ) -> impl Future<Output = StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)>> + Send;

    /// Applies a wallet change atomically, or refuses it with the reason.
    fn commit_wallet_change(&self, change: &WalletChange) -> impl Future<Output = StoreResult<()>> + Send;

    /// The receipt of external payment `key`, whichever reseller it credited.
    fn payment_receipt(&self, key: &IdempotencyKey)
    -> impl Future<Output = StoreResult<Option<PaymentReceipt>>> + Send;

    /// Lot `id` of `owner_id` as its item stands: what was credited into it and, once the
    /// expiry job wrote it off, what its expiry took (its live amounts ride on the wallet).
    fn lot(&self, owner_id: &UserId, id: &str) -> impl Future<Output = StoreResult<Option<Lot>>> + Send;

    /// Commits the two sides of a transfer in one atomic write, each under its own rule.
    fn commit_transfer(&self, from: &WalletChange, to: &WalletChange) -> impl Future<Output = StoreResult<()>> + Send;

    /// Marks an idempotency record done with its final response (and forgets its pending
    /// fill).
    fn finish_idempotency(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        response: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// The records of every reseller whose bulk fill is still pending and was charged
    /// before `before`, with their owners (an index of pending fills, never a scan).
    fn pending_fills(
        &self,
        before: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<Vec<(UserId, IdempotencyRecord)>>> + Send;
}

/// What a reseller owns: clients, services, ledger entries.
pub trait Portfolio: Send + Sync {
    /// Adds a client to an active reseller and counts it, atomically.
    fn insert_client(&self, client: &Client) -> impl Future<Output = StoreResult<()>> + Send;

    /// Writes clients and services whose charge is already committed. Idempotent: the same
    /// items written twice leave one copy.
    fn put_portfolio(
        &self,
        clients: &[Client],
        services: &[ProvisionedService],
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// One client of `owner_id`.
    fn client(
        &self,
        owner_id: &UserId,
        client_id: &ClientId,
    ) -> impl Future<Output = StoreResult<Option<Client>>> + Send;

    /// Clients of `owner_id`, newest first.
    fn clients(&self, owner_id: &UserId, page: &PageRequest) -> impl Future<Output = StoreResult<Page<Client>>> + Send;

    /// Services of `owner_id`, newest first.
    fn services(
        &self,
        owner_id: &UserId,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<ProvisionedService>>> + Send;

    /// One ledger entry of `owner_id`'s.
    fn entry(&self, owner_id: &UserId, id: &str) -> impl Future<Output = StoreResult<Option<LedgerEntry>>> + Send;

    /// One hold of `owner_id`'s.
    fn hold(&self, owner_id: &UserId, id: &str) -> impl Future<Output = StoreResult<Option<Hold>>> + Send;

    /// Holds of `owner_id`, newest first.
    fn holds(&self, owner_id: &UserId, page: &PageRequest) -> impl Future<Output = StoreResult<Page<Hold>>> + Send;

    /// Every active hold whose `expires_at` is before `now`, of every reseller (the sparse
    /// partition of active holds, by expiry: never a scan).
    fn expired_holds(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<Hold>>> + Send;

    /// The lots of `owner_id` as opened (live amounts are on the wallet), newest first.
    fn lots(&self, owner_id: &UserId, page: &PageRequest) -> impl Future<Output = StoreResult<Page<Lot>>> + Send;

    /// Every lot still among the expiring lots whose `expires_at` is before `now`, with its
    /// owner (a sparse partition by expiry: never a scan).
    fn expired_lots(&self, now: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<(UserId, Lot)>>> + Send;

    /// Takes lot `lot` of `owner_id` out of the expiring lots with nothing to expire (it
    /// was spent or reversed whole first).
    fn settle_lot(&self, owner_id: &UserId, lot: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Ledger of `owner_id`, newest first.
    fn ledger(
        &self,
        owner_id: &UserId,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<LedgerEntry>>> + Send;
}

/// Pre-aggregated figures for analytics and statements.
pub trait Counters: Send + Sync {
    /// The counters of month `month` (its first day) of each of `users` active in it.
    fn month_activity(
        &self,
        users: &[UserId],
        month: NaiveDate,
    ) -> impl Future<Output = StoreResult<Vec<(UserId, Activity)>>> + Send;

    /// Counters of one reseller (`Some(user)`) or of the whole network (`None`), for each
    /// day or month with activity in `range` (months overlapping it).
    fn activity(
        &self,
        owner_id: Option<&UserId>,
        range: &DateRange,
        granularity: Granularity,
    ) -> impl Future<Output = StoreResult<BTreeMap<NaiveDate, Activity>>> + Send;

    /// Every reseller with counters in the day or month starting `period`, with them.
    fn active(
        &self,
        period: NaiveDate,
        granularity: Granularity,
    ) -> impl Future<Output = StoreResult<Vec<(UserId, Activity)>>> + Send;

    /// The commissions accrued on day `day`: each spender with what its spends owe each
    /// parent they named.
    fn accrued(&self, day: NaiveDate) -> impl Future<Output = StoreResult<Vec<(UserId, Accrual)>>> + Send;

    /// Outstanding credits and resellers per tier, network-wide.
    fn network_totals(&self) -> impl Future<Output = StoreResult<NetworkTotals>> + Send;

    /// Adds `window` to the network's figures exactly once, in one write to an item of its
    /// stream shard guarded by the shard's high-water mark: a window delivered again (a
    /// retried invocation, a second consumer) adds nothing. Answers whether it was added
    /// now; a window that overlaps one added before without being it is refused
    /// (`Duplicate`): a stream shard's windows never overlap.
    fn apply_figures(&self, window: &FiguresWindow) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Folds the figures of every stream shard quiet since `quiet_since` (no window written
    /// after it: closed, and past the stream's retention) into the network's base figures,
    /// each exactly once; answers how many.
    fn fold_figures(&self, quiet_since: DateTime<Utc>) -> impl Future<Output = StoreResult<usize>> + Send;

    /// Adds `correction` to the network's base figures: each day's activity (and its
    /// month's), the outstanding and promotional credits and the tiers. What a recount
    /// writes: the difference between the resellers' own counters and the figures.
    fn correct_figures(&self, correction: &crate::domain::NetworkSum) -> impl Future<Output = StoreResult<()>> + Send;
}

/// Bookkeeping of event consumers and long jobs: work claimed once, checkpoints.
pub trait Jobs: Send + Sync {
    /// Records that the work named `key` is done (a mail sent for an event id): true the
    /// first time, false when it was already recorded. The record expires after 90 days.
    fn claim(&self, key: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Whether the work named `key` was recorded done.
    fn claimed(&self, key: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Where a long job named `key` stopped (a cursor), if it saved one.
    fn checkpoint(&self, key: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;

    /// Saves where a long job stopped.
    fn save_checkpoint(&self, key: &str, value: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A sub-reseller as its parent's partition lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub user_id: UserId,
    pub refid: RefId,
    /// The child's onboarding time: the list's order, newest first.
    pub created_at: DateTime<Utc>,
}

/// The reseller tree: parent links and the children of each reseller.
pub trait Hierarchy: Send + Sync {
    /// Moves a reseller under a parent or to the top, under its version, its tree version and
    /// the chain above the new parent as read (a refusal `VersionChanged` when any moved).
    /// Each reseller of that chain gets a new tree version (never a new wallet version), so
    /// a move of one of them decided on its subtree's depth before this one is refused, to
    /// be judged again.
    fn set_parent(&self, change: &ParentChange) -> impl Future<Output = StoreResult<()>> + Send;

    /// The version of the tree below `user` (0 while nothing was ever hung below it).
    fn tree_version(&self, user: &UserId) -> impl Future<Output = StoreResult<u64>> + Send;

    /// The direct children of `parent`, newest first.
    fn children(
        &self,
        parent: &UserId,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<ChildLink>>> + Send;
}

/// Everything the service needs from persistence: the sum of the narrow traits. Each
/// method is one round trip (or one atomic write) on DynamoDB; the memory store gives the
/// same answers.
pub trait Store:
    Profiles + Wallets + Portfolio + Counters + Jobs + Referrals + Hierarchy + Waiting + TopUps + Upgrades + 'static
{
}

impl<
    T: Profiles + Wallets + Portfolio + Counters + Jobs + Referrals + Hierarchy + Waiting + TopUps + Upgrades + 'static,
> Store for T
{
}

/// How long a claim is remembered.
pub const CLAIM_DAYS: i64 = 90;
