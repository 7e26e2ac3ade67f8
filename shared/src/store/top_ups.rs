//! Growth: auto top-up (the rule on the wallet, each request an item of its own that the
//! sweeper finds by age while it is pending) and monthly upgrade suggestions.

use std::future::Future;

use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{AutoTopUp, TopUpRequest, UpgradeSuggestion, UserId};

/// The auto top-up rule and its requests, outside the money path.
pub trait TopUps: Send + Sync {
    /// Sets (`None`: removes) the auto top-up of `user_id` if the wallet's version is still
    /// `version` (bumping it, so a money write decided on the old rule starts over), and
    /// writes `closed`, which must still be pending, in the same transaction. Refused with
    /// `VersionChanged` or `Missing`.
    fn put_auto_top_up(
        &self,
        user_id: &UserId,
        version: u64,
        state: Option<&AutoTopUp>,
        closed: Option<&TopUpRequest>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Every request still pending that was made before `before`, of every reseller (a
    /// sparse partition by age: never a scan).
    fn stale_top_ups(&self, before: DateTime<Utc>) -> impl Future<Output = StoreResult<Vec<TopUpRequest>>> + Send;
}

/// Upgrade suggestions: one per reseller and month.
pub trait Upgrades: Send + Sync {
    /// Records `suggestion` unless its reseller has one for its month; answers the one
    /// stored (this one, or the one recorded before).
    fn suggest_upgrade(
        &self,
        suggestion: &UpgradeSuggestion,
    ) -> impl Future<Output = StoreResult<UpgradeSuggestion>> + Send;

    /// Records that the suggestion of `owner_id` for `month` was applied at `at`.
    fn upgrade_applied(
        &self,
        owner_id: &UserId,
        month: chrono::NaiveDate,
        at: DateTime<Utc>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}
