//! The memory store's analytics counters (`Counters`, as `store/dynamo/counters.rs`): each
//! reseller's own, and the network's, counted once per change record as the DynamoDB
//! store's consumer counts them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::MemoryStore;
use crate::domain::{
    Accrual, Activity, DateRange, NetworkDelta, NetworkSum, NetworkTotals, Refusal, Tier, UserId, month_of,
};
use crate::store::{Counters, FiguresWindow, Granularity, StoreError, StoreResult, stream_position};

/// The memory store's analytics counters: each reseller's own, counted with its money, and
/// the network's, counted from the change records it emits, once per record id.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Tally {
    pub(super) days: BTreeMap<String, BTreeMap<NaiveDate, Activity>>,
    pub(super) months: BTreeMap<String, BTreeMap<NaiveDate, Activity>>,
    pub(super) network_days: BTreeMap<NaiveDate, Activity>,
    pub(super) network_months: BTreeMap<NaiveDate, Activity>,
    pub(super) totals: NetworkTotals,
    /// Each reseller's accrued commissions of a day, by parent.
    #[serde(default)]
    pub(super) accrued: BTreeMap<NaiveDate, BTreeMap<String, BTreeMap<String, Accrual>>>,
    /// Each stream shard's high-water mark: the position of the last change counted.
    #[serde(default)]
    marks: BTreeMap<String, String>,
    /// The position of the memory store's own changes, one shard of them.
    #[serde(default)]
    position: u64,
}

/// The shard the memory store's own changes are counted under.
pub(super) const MEMORY_SHARD: &str = "memory";

impl Tally {
    /// Counts `activity` in the reseller's own day and month.
    pub(super) fn count(&mut self, owner: &UserId, at: DateTime<Utc>, activity: Activity, accrual: Option<&Accrual>) {
        let day = at.date_naive();
        let month = month_of(day);
        if let Some(accrual) = accrual {
            let by_parent = self.accrued.entry(day).or_default().entry(owner.to_string()).or_default();
            match by_parent.get_mut(accrual.parent.as_str()) {
                Some(sum) => sum.add(accrual),
                None => {
                    by_parent.insert(accrual.parent.to_string(), accrual.clone());
                }
            }
        }
        *self.days.entry(owner.to_string()).or_default().entry(day).or_default() += activity;
        *self.months.entry(owner.to_string()).or_default().entry(month).or_default() += activity;
    }

    /// Counts one change the store made, at once (the consumer caught up), as the next
    /// position of its own shard.
    pub(super) fn count_change(&mut self, delta: &NetworkDelta) {
        self.position += 1;
        let position = self.position.to_string();
        let mut sum = NetworkSum::default();
        sum.add(delta);
        let window =
            FiguresWindow { shard: MEMORY_SHARD.into(), first: position.clone(), last: position, sum, at: delta.at };
        // Its positions only grow: never refused.
        let _ = self.apply_window(&window);
    }

    /// Adds a window unless its shard's mark is past it, as the DynamoDB store does;
    /// `None` for a window overlapping one added before.
    pub(super) fn apply_window(&mut self, window: &FiguresWindow) -> Option<bool> {
        let mark = self.marks.get(&window.shard);
        if mark.is_some_and(|m| *m >= stream_position(&window.first)) {
            return mark.is_some_and(|m| *m >= stream_position(&window.last)).then_some(false);
        }
        self.marks.insert(window.shard.clone(), stream_position(&window.last));
        self.add_to_network(&window.sum);
        Some(true)
    }

    /// Adds `sum` to the network's figures.
    pub(super) fn add_to_network(&mut self, sum: &NetworkSum) {
        for (day, activity) in &sum.days {
            *self.network_days.entry(*day).or_default() += *activity;
            *self.network_months.entry(month_of(*day)).or_default() += *activity;
        }
        self.totals.outstanding += sum.outstanding;
        self.totals.promotional += sum.promotional;
        for tier in Tier::ALL {
            *self.totals.tiers.count_mut(tier) += sum.tiers.count(tier);
        }
        self.totals.as_of = self.totals.as_of.max(sum.as_of);
    }
}

impl Counters for MemoryStore {
    async fn activity(
        &self,
        owner_id: Option<&UserId>,
        range: &DateRange,
        granularity: Granularity,
    ) -> StoreResult<BTreeMap<NaiveDate, Activity>> {
        self.enter("activity").await?;
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
        self.enter("month_activity").await?;
        let t = self.lock();
        let of = |u: &UserId| t.counters.months.get(u.as_str()).and_then(|m| m.get(&month)).map(|a| (u.clone(), *a));
        Ok(users.iter().filter_map(of).collect())
    }

    async fn active(&self, period: NaiveDate, granularity: Granularity) -> StoreResult<Vec<(UserId, Activity)>> {
        self.enter("active").await?;
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
        self.enter("accrued").await?;
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
        self.enter("network_totals").await?;
        Ok(self.lock().counters.totals)
    }

    async fn apply_figures(&self, window: &FiguresWindow) -> StoreResult<bool> {
        self.enter("apply_figures").await?;
        let added = self.lock().counters.apply_window(window).ok_or(StoreError::Refused(Refusal::Duplicate))?;
        self.changed();
        Ok(added)
    }

    async fn fold_figures(&self, _quiet_since: DateTime<Utc>) -> StoreResult<usize> {
        self.enter("fold_figures").await?;
        // One running sum: nothing waits to be folded.
        Ok(0)
    }

    async fn correct_figures(&self, correction: &NetworkSum) -> StoreResult<()> {
        self.enter("correct_figures").await?;
        self.lock().counters.add_to_network(correction);
        self.changed();
        Ok(())
    }
}
