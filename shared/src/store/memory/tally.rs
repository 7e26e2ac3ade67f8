//! The memory store's analytics counters: each reseller's own, and the network's, counted
//! once per change record as the DynamoDB store's consumer counts them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Accrual, Activity, NetworkDelta, NetworkSum, NetworkTotals, Tier, UserId, month_of};
use crate::store::{FiguresWindow, stream_position};

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
