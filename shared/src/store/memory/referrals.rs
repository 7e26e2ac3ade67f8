//! The memory store's referral bookkeeping: reward slots by referrer and month, referrals
//! waiting for their referred user.

use chrono::NaiveDate;

use super::MemoryStore;
use crate::domain::UserId;
use crate::store::{PendingReferral, Referrals, RewardSlot, StoreResult};

impl Referrals for MemoryStore {
    async fn take_reward_slot(
        &self,
        referrer: &UserId,
        month: NaiveDate,
        referral_id: &str,
        cap: u32,
    ) -> StoreResult<RewardSlot> {
        self.enter("take_reward_slot").await?;
        let mut t = self.lock();
        let held = t.reward_slots.entry(format!("{referrer}#{}", month.format("%Y-%m"))).or_default();
        let slot = if held.contains(referral_id) {
            RewardSlot::Held
        } else if held.len() >= cap as usize {
            RewardSlot::CapReached
        } else {
            held.insert(referral_id.to_string());
            RewardSlot::Taken
        };
        self.changed();
        Ok(slot)
    }

    async fn park_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        self.enter("park_referral").await?;
        let mut t = self.lock();
        let waiting = t.pending_referrals.entry(pending.referred_user_id.to_string()).or_default();
        waiting.insert(pending.referral_id.clone(), pending.clone());
        self.changed();
        Ok(())
    }

    async fn pending_referrals(&self, referred: &UserId) -> StoreResult<Vec<PendingReferral>> {
        self.enter("pending_referrals").await?;
        let t = self.lock();
        Ok(t.pending_referrals.get(referred.as_str()).map(|w| w.values().cloned().collect()).unwrap_or_default())
    }

    async fn settle_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        self.enter("settle_referral").await?;
        let mut t = self.lock();
        if let Some(waiting) = t.pending_referrals.get_mut(pending.referred_user_id.as_str()) {
            waiting.remove(&pending.referral_id);
        }
        self.changed();
        Ok(())
    }
}
