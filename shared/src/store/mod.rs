//! Persistence: one trait, two implementations held to one contract test suite.
//!
//! [`dynamo::DynamoStore`] is production (one DynamoDB table); [`memory::MemoryStore`] is the
//! embedded default for `make dev` and fast tests. Every write that moves credits is one
//! atomic operation conditioned on the wallet [`WalletGuard`] read by the service.

mod change;
pub mod dynamo;
mod keys;
pub mod memory;

pub use change::{ItemChange, Stored};

use std::collections::BTreeMap;
use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{
    Activity, AllyError, Client, DateRange, LedgerEntry, NetworkTotals, ProvisionedService, Reseller, Status, Tier,
};

/// One page of a list, newest first, and the cursor of the next page (absent at the end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Which page to read: at most `limit` items after `cursor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u16,
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The largest page a caller may ask for.
    pub const MAX_LIMIT: u16 = 100;
    /// The page size when none is asked for.
    pub const DEFAULT_LIMIT: u16 = 25;

    /// Checks `limit` is in 1..=100 (default 25).
    pub fn new(limit: Option<i64>, cursor: Option<String>) -> Result<Self, AllyError> {
        let limit = limit.unwrap_or(i64::from(Self::DEFAULT_LIMIT));
        if !(1..=i64::from(Self::MAX_LIMIT)).contains(&limit) {
            return Err(AllyError::validation(format!("limit must be between 1 and 100, got {limit}")));
        }
        Ok(Self { limit: limit as u16, cursor })
    }

    /// The first page of `limit` items.
    pub fn first(limit: u16) -> Self {
        Self { limit, cursor: None }
    }
}

/// Position of a page in a list: the id of its last item (`after`, plus the index key for
/// index lists), encoded URL-safe. Both stores write the same cursor for the same page. The
/// owner is never in it: the store takes the owner from the caller, so a cursor cannot reach
/// another partner's list.
pub(crate) fn encode_cursor(key: &BTreeMap<String, String>) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// Reads a cursor made by [`encode_cursor`]; anything else is [`StoreError::InvalidCursor`].
pub(crate) fn decode_cursor(cursor: &str) -> Result<BTreeMap<String, String>, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(StoreError::InvalidCursor)
}

/// Whether counters are read per day or per month (keyed by the month's first day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Day,
    Month,
}

/// Which resellers to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResellerFilter {
    Tier(Tier),
    Status(Status),
}

/// The state a wallet write requires; the write is refused unless all of it holds.
///
/// `version` alone already pins everything the service read; the other checks repeat the
/// business rules so the stored condition says what it protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletGuard {
    pub version: u64,
    pub require_active: bool,
    pub require_no_hold: bool,
    /// The tier the price was computed for.
    pub tier: Option<Tier>,
    /// The balance must be at least this (the cost of a spend; 0 for a credit).
    pub min_balance: i64,
}

/// Why a conditional write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such reseller.
    Missing,
    /// The wallet changed since it was read: read again and retry.
    VersionChanged,
    Suspended,
    OnHold,
    /// The tier changed since the price was computed: read again and retry.
    TierChanged,
    Insufficient {
        balance: i64,
    },
    /// The idempotency key is already recorded: replay it.
    Duplicate,
}

impl WalletGuard {
    /// Which condition `current` fails, in the order the API reports refusals. The one
    /// place that turns a failed wallet condition into a reason, for both stores.
    pub fn check(&self, current: Option<&Reseller>) -> Result<(), Refusal> {
        let Some(r) = current else {
            return Err(Refusal::Missing);
        };
        if self.require_active && r.status != Status::Active {
            return Err(Refusal::Suspended);
        }
        if self.require_no_hold && r.hold_provisioning {
            return Err(Refusal::OnHold);
        }
        if self.tier.is_some_and(|t| t != r.tier) {
            return Err(Refusal::TierChanged);
        }
        if r.balance < self.min_balance {
            return Err(Refusal::Insufficient { balance: r.balance });
        }
        if r.version != self.version {
            return Err(Refusal::VersionChanged);
        }
        Ok(())
    }
}

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
    pub key: String,
    /// Hash of the operation and its input: the same key with another input is a conflict.
    pub request_hash: String,
    pub state: IdempotencyState,
    /// The operation's result as JSON, replayed to retries.
    pub response: String,
    pub created_at: DateTime<Utc>,
    /// Unix seconds after which the table's TTL may delete the record.
    pub expires_at: i64,
}

/// One atomic change of a wallet: the new balance under a guard, the ledger entry that
/// explains it, the idempotency record, and what was bought.
#[derive(Debug, Clone)]
pub struct WalletChange {
    pub user_id: String,
    pub guard: WalletGuard,
    pub new_balance: i64,
    /// What the change adds to the reseller's and the network's counters.
    pub activity: Activity,
    pub entry: LedgerEntry,
    pub service: Option<ProvisionedService>,
    pub idempotency: IdempotencyRecord,
    pub at: DateTime<Utc>,
}

/// Profile fields an update sets, under a version condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileUpdate {
    pub expected_version: u64,
    /// The tier read with `expected_version`: a change moves the network's tier counts.
    pub previous_tier: Tier,
    pub tier: Tier,
    pub status: Status,
    pub hold_provisioning: bool,
    pub metadata: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
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
            StoreError::InvalidCursor => AllyError::validation("cursor is not valid for this list"),
            StoreError::Refused(Refusal::Missing) => AllyError::NotFound("reseller"),
            StoreError::Refused(Refusal::Suspended) => AllyError::Suspended,
            StoreError::Refused(Refusal::OnHold) => AllyError::OnHold,
            StoreError::Taken(Taken::User) => AllyError::AlreadyExists("reseller"),
            StoreError::Taken(_) => AllyError::AlreadyExists("client"),
            StoreError::Backend(source) => AllyError::Store(source),
            other => AllyError::Store(Box::new(other)),
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

/// Everything the service needs from persistence. Each method is one round trip (or one
/// atomic write) on DynamoDB; the memory store gives the same answers.
pub trait Store: Send + Sync + 'static {
    /// Creates the profile and claims its refid, both or neither.
    fn insert_reseller(&self, reseller: &Reseller) -> impl Future<Output = StoreResult<()>> + Send;

    /// The reseller of `user_id` (strongly consistent).
    fn reseller(&self, user_id: &str) -> impl Future<Output = StoreResult<Option<Reseller>>> + Send;

    /// The reseller with `refid`.
    fn reseller_by_refid(&self, refid: &str) -> impl Future<Output = StoreResult<Option<Reseller>>> + Send;

    /// Resellers of one tier or status, newest first.
    fn resellers(
        &self,
        filter: ResellerFilter,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<Reseller>>> + Send;

    /// Sets profile fields if the version is still `expected_version`; returns the new profile.
    fn update_profile(
        &self,
        user_id: &str,
        update: &ProfileUpdate,
    ) -> impl Future<Output = StoreResult<Reseller>> + Send;

    /// The wallet and the record of `idempotency_key`, read together (strongly consistent).
    fn wallet(
        &self,
        user_id: &str,
        idempotency_key: &str,
    ) -> impl Future<Output = StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)>> + Send;

    /// Applies a wallet change atomically, or refuses it with the reason.
    fn commit_wallet_change(&self, change: &WalletChange) -> impl Future<Output = StoreResult<()>> + Send;

    /// Marks an idempotency record done with its final response.
    fn finish_idempotency(
        &self,
        user_id: &str,
        key: &str,
        response: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send;

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
    fn client(&self, owner_id: &str, client_id: &str) -> impl Future<Output = StoreResult<Option<Client>>> + Send;

    /// Clients of `owner_id`, newest first.
    fn clients(&self, owner_id: &str, page: &PageRequest) -> impl Future<Output = StoreResult<Page<Client>>> + Send;

    /// Services of `owner_id`, newest first.
    fn services(
        &self,
        owner_id: &str,
        page: &PageRequest,
    ) -> impl Future<Output = StoreResult<Page<ProvisionedService>>> + Send;

    /// Ledger of `owner_id`, newest first.
    fn ledger(&self, owner_id: &str, page: &PageRequest)
    -> impl Future<Output = StoreResult<Page<LedgerEntry>>> + Send;

    /// Counters of one reseller (`Some(user)`) or of the whole network (`None`), for each
    /// day or month with activity in `range` (months overlapping it).
    fn activity(
        &self,
        owner_id: Option<&str>,
        range: &DateRange,
        granularity: Granularity,
    ) -> impl Future<Output = StoreResult<BTreeMap<NaiveDate, Activity>>> + Send;

    /// Every reseller with counters on `day`, with them.
    fn active_on(&self, day: NaiveDate) -> impl Future<Output = StoreResult<Vec<(String, Activity)>>> + Send;

    /// Outstanding credits and resellers per tier, network-wide.
    fn network_totals(&self) -> impl Future<Output = StoreResult<NetworkTotals>> + Send;

    /// The resellers of these user ids that exist.
    fn resellers_by_user(&self, user_ids: &[String]) -> impl Future<Output = StoreResult<Vec<Reseller>>> + Send;

    /// Records that the work named `key` is done (a mail sent for an event id): true the
    /// first time, false when it was already recorded. The record expires after 90 days.
    fn claim(&self, key: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Forgets a claim whose work failed, so a retry does it again.
    fn release(&self, key: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// Where a long job named `key` stopped (a cursor), if it saved one.
    fn checkpoint(&self, key: &str) -> impl Future<Output = StoreResult<Option<String>>> + Send;

    /// Saves where a long job stopped.
    fn save_checkpoint(&self, key: &str, value: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// How long a claim is remembered.
pub const CLAIM_DAYS: i64 = 90;

/// Items of a map, in reverse key order, after an optional exclusive start key: the memory
/// store's Query.
pub(crate) fn page_newest_first<T: Clone>(
    items: Option<&BTreeMap<String, T>>,
    page: &PageRequest,
) -> StoreResult<Page<T>> {
    let after = match &page.cursor {
        Some(c) => Some(decode_cursor(c)?.remove("after").ok_or(StoreError::InvalidCursor)?),
        None => None,
    };
    let mut iter = items
        .into_iter()
        .flat_map(|m| m.iter().rev())
        .filter(|(k, _)| after.as_ref().is_none_or(|a| k.as_str() < a.as_str()))
        .peekable();
    let mut out = Vec::new();
    let mut last = None;
    while out.len() < usize::from(page.limit) {
        let Some((k, v)) = iter.next() else { break };
        out.push(v.clone());
        last = Some(k.clone());
    }
    let next_cursor = match (iter.peek(), last) {
        (Some(_), Some(k)) => Some(encode_cursor(&BTreeMap::from([("after".to_string(), k)]))),
        _ => None,
    };
    Ok(Page { items: out, next_cursor })
}
