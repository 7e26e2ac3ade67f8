//! A partner's own figures: its profile and stats, with the runway read from its daily
//! counters (never the ledger): one query of at most 30 small items, made at the same time
//! as the profile's read.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Ally, Profile, ResellerStats};
use crate::domain::{AllyError, DateRange, RUNWAY_WINDOW_DAYS, Reseller, UserId, runway_days};
use crate::store::{Counters, Granularity, Store, StoreResult};

/// What `user_id` spent over the [`RUNWAY_WINDOW_DAYS`] days up to `day` (included), from
/// its daily counters.
pub async fn spent_in_window<S: Counters>(store: &S, user_id: &UserId, day: NaiveDate) -> StoreResult<i64> {
    let range = DateRange { start: day - chrono::Duration::days(RUNWAY_WINDOW_DAYS - 1), end: day };
    let days = store.activity(Some(user_id), &range, Granularity::Day).await?;
    Ok(days.values().map(|a| a.credits_spent).sum())
}

impl<S: Store> Ally<S> {
    /// The reseller of `user_id` and what it spent in the runway's window, read at once.
    async fn with_spend(&self, user_id: &UserId, now: DateTime<Utc>) -> Result<(Reseller, i64), AllyError> {
        let (reseller, spent) =
            tokio::join!(self.find_by_user(user_id), spent_in_window(&self.store, user_id, now.date_naive()));
        Ok((reseller?, spent?))
    }

    /// The caller's profile, what it may spend and its runway.
    pub async fn profile(&self, user_id: &UserId) -> Result<Profile, AllyError> {
        let now = self.now();
        let (reseller, spent) = self.with_spend(user_id, now).await?;
        let available = reseller.spendable(now);
        Ok(Profile {
            available,
            expiring_30d: reseller.expiring_30d(now),
            runway_days: runway_days(available, spent),
            reseller,
        })
    }

    /// The caller's balance, tier, running totals and runway.
    pub async fn stats(&self, user_id: &UserId) -> Result<ResellerStats, AllyError> {
        let now = self.now();
        let (r, spent) = self.with_spend(user_id, now).await?;
        let available = r.spendable(now);
        Ok(ResellerStats {
            balance: r.balance,
            held: r.held,
            available,
            debt: r.debt,
            expiring_30d: r.expiring_30d(now),
            runway_days: runway_days(available, spent),
            tier: r.tier,
            clients: r.clients,
            credits_added: r.credits_added,
            credits_spent: r.credits_spent,
            provisions: r.provisions,
        })
    }
}
