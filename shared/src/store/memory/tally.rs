//! The memory store's analytics counters: each reseller's own, and the network's, counted
//! once per change record as the DynamoDB store's consumer counts them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Accrual, Activity, NetworkDelta, NetworkTotals, Tier, UserId, month_of};

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
    /// The change records counted in the network's figures, with when: DynamoDB's markers.
    #[serde(default)]
    applied: BTreeMap<String, DateTime<Utc>>,
}

/// How many markers the memory store keeps before it forgets those older than the
/// stream's retention, as DynamoDB's TTL would.
const APPLIED_KEPT: usize = 10_000;

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

    /// Adds the delta of record `id` to the network's figures, unless it was counted.
    pub(super) fn apply_network(&mut self, id: &str, delta: &NetworkDelta) {
        if self.applied.contains_key(id) {
            return;
        }
        if self.applied.len() >= APPLIED_KEPT {
            let horizon = Utc::now() - chrono::Duration::days(2);
            self.applied.retain(|_, at| *at > horizon);
        }
        self.applied.insert(id.to_string(), Utc::now());
        if !delta.activity.is_empty() {
            *self.network_days.entry(delta.day).or_default() += delta.activity;
            *self.network_months.entry(month_of(delta.day)).or_default() += delta.activity;
        }
        self.totals.outstanding += delta.outstanding;
        self.totals.promotional += delta.promotional;
        for tier in Tier::ALL {
            *self.totals.tiers.count_mut(tier) += delta.tiers.count(tier);
        }
        self.totals.as_of = self.totals.as_of.max(Some(delta.at));
    }
}
