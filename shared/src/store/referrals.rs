//! The referral program's store contract.

use std::future::Future;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::UserId;

/// A referral waiting for its referred user to become a reseller (within the window).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReferral {
    pub referral_id: String,
    pub referrer_user_id: UserId,
    pub referred_user_id: UserId,
    /// When the referral happened: its reward counts in that month, whichever path pays it.
    pub referred_at: DateTime<Utc>,
    /// Unix seconds after which the referral is no longer paid (and the table's TTL may
    /// delete it).
    pub expires_at: i64,
}

/// What asking for a referrer's reward slot came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardSlot {
    /// A slot of the month is now this referral's.
    Taken,
    /// This referral took one before (a retry): pay it.
    Held,
    /// Every slot of the month is held by other referrals.
    CapReached,
}

/// The referral program's bookkeeping: monthly reward slots and referrals waiting for
/// their referred user.
pub trait Referrals: Send + Sync {
    /// Takes one of `referrer`'s `cap` reward slots of `month` for `referral_id`, atomically:
    /// concurrent referrals never hold more than `cap`, and a referral holds at most one.
    fn take_reward_slot(
        &self,
        referrer: &UserId,
        month: NaiveDate,
        referral_id: &str,
        cap: u32,
    ) -> impl Future<Output = StoreResult<RewardSlot>> + Send;

    /// Keeps `pending` until its referred user onboards (or its window ends).
    fn park_referral(&self, pending: &PendingReferral) -> impl Future<Output = StoreResult<()>> + Send;

    /// The referrals waiting for `referred` (read consistently).
    fn pending_referrals(&self, referred: &UserId) -> impl Future<Output = StoreResult<Vec<PendingReferral>>> + Send;

    /// Forgets a waiting referral once it is paid (or its window is over).
    fn settle_referral(&self, pending: &PendingReferral) -> impl Future<Output = StoreResult<()>> + Send;
}
