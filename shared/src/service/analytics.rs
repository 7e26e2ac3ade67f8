//! Analytics over the pre-aggregated counters: their cost grows with the days asked for and
//! the resellers active on them, never with the length of any ledger.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, Duration, NaiveDate};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::Ally;
use crate::domain::{
    Activity, AllyError, CompanyName, DateRange, Interval, Measure, NetworkTotals, Ranking, RefId, Tier, TierSnapshot,
    UserId, month_of, trend,
};
use crate::store::{Granularity, Store};

/// The longest range the top-resellers ranking covers, in days (ten years: its cost grows
/// with the months, not the days, of a range).
pub const TOP_RESELLERS_MAX_DAYS: i64 = 3_660;

/// One line of the top-resellers ranking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TopReseller {
    pub refid: RefId,
    pub company: CompanyName,
    pub tier: Tier,
    /// Clients onboarded in the range (single and bulk).
    pub acquisitions: i64,
    pub credits_spent: i64,
}

/// A partner who onboarded enough clients in a month to be offered the next tier (the
/// product description's monthly step: more than 100 acquisitions, not yet platinum).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UpgradeCandidate {
    pub refid: RefId,
    pub company: CompanyName,
    pub tier: Tier,
    pub suggested_tier: Tier,
    /// Clients onboarded in the month.
    pub acquisitions: i64,
    pub credits_spent: i64,
}

/// The first day of the month after the one holding `day`.
fn next_month(day: NaiveDate) -> NaiveDate {
    let first = month_of(day);
    let (year, month) = if first.month() == 12 { (first.year() + 1, 1) } else { (first.year(), first.month() + 1) };
    NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(first)
}

/// `range` cut into what counters answer: the days at its edges (daily counters) and the
/// whole months between them (monthly counters), so a long range reads few items and the
/// edges stay exact. A range inside one month is all days.
fn pieces(range: &DateRange) -> Vec<(DateRange, Granularity)> {
    let first_full = if range.start.day() == 1 { range.start } else { next_month(range.start) };
    let after_last_full = if next_month(range.end) - Duration::days(1) == range.end {
        next_month(range.end)
    } else {
        month_of(range.end)
    };
    if first_full >= after_last_full {
        return vec![(*range, Granularity::Day)];
    }
    let mut out = vec![(DateRange { start: first_full, end: after_last_full - Duration::days(1) }, Granularity::Month)];
    if range.start < first_full {
        out.push((DateRange { start: range.start, end: first_full - Duration::days(1) }, Granularity::Day));
    }
    if after_last_full <= range.end {
        out.push((DateRange { start: after_last_full, end: range.end }, Granularity::Day));
    }
    out
}

/// The periods of `pieces`: each day of the day pieces, the first day of each month of the
/// month pieces.
fn periods(pieces: &[(DateRange, Granularity)]) -> Vec<(NaiveDate, Granularity)> {
    let mut out = Vec::new();
    for (range, granularity) in pieces {
        match granularity {
            Granularity::Day => out.extend(range.each_day().map(|d| (d, Granularity::Day))),
            Granularity::Month => {
                let mut month = range.start;
                while month <= range.end {
                    out.push((month, Granularity::Month));
                    month = next_month(month);
                }
            }
        }
    }
    out
}

/// How long DynamoDB Streams keeps a record: after it, a shard's windows cannot come again.
const STREAM_RETENTION_HOURS: i64 = 24;

impl<S: Store> Ally<S> {
    /// Folds the network figures of the stream shards quiet for longer than the stream
    /// keeps records (closed: no window of theirs can come again) into the base figures:
    /// what the sweeper runs, so reading the figures stays a few items whatever the age of
    /// the table. Returns how many shards it folded.
    pub async fn fold_network_figures(&self) -> Result<usize, AllyError> {
        let quiet_since = self.now() - chrono::Duration::hours(STREAM_RETENTION_HOURS + 1);
        Ok(self.store.fold_figures(quiet_since).await?)
    }

    /// Resellers ranked by clients onboarded in `range` (then by credits spent), at most `limit`.
    pub async fn top_resellers(
        &self,
        range: &DateRange,
        limit: usize,
        by: Ranking,
    ) -> Result<Vec<TopReseller>, AllyError> {
        if range.days() > TOP_RESELLERS_MAX_DAYS {
            return Err(AllyError::validation(format!("the range may cover at most {TOP_RESELLERS_MAX_DAYS} days")));
        }
        // The edge days and whole months of the range: the reads grow with the resellers
        // active in it, not with its days or any ledger.
        let periods = periods(&pieces(range));
        let days: Vec<Vec<(UserId, Activity)>> = futures::stream::iter(
            periods.into_iter().map(|(period, granularity)| self.store.active(period, granularity)),
        )
        .buffer_unordered(8)
        .try_collect()
        .await?;
        let mut totals: HashMap<UserId, Activity> = HashMap::new();
        for (user, activity) in days.into_iter().flatten() {
            *totals.entry(user).or_default() += activity;
        }
        self.ranked(totals, limit, by).await
    }

    /// The top-resellers ranking within the subtree of `members` (its root and every
    /// reseller below it): each member's own counters, a few reads per member however long
    /// the range.
    pub async fn subtree_top_resellers(
        &self,
        range: &DateRange,
        limit: usize,
        members: &[UserId],
        by: Ranking,
    ) -> Result<Vec<TopReseller>, AllyError> {
        if range.days() > TOP_RESELLERS_MAX_DAYS {
            return Err(AllyError::validation(format!("the range may cover at most {TOP_RESELLERS_MAX_DAYS} days")));
        }
        let mut totals: HashMap<UserId, Activity> = HashMap::new();
        for member in members {
            let counted = self.counted(Some(member), range, Interval::Monthly).await?;
            totals.insert(
                member.clone(),
                counted.into_values().fold(Activity::default(), |mut sum, a| {
                    sum += a;
                    sum
                }),
            );
        }
        self.ranked(totals, limit, by).await
    }

    /// `totals` ranked `by` clients onboarded or credits spent (the other breaking ties), at
    /// most `limit`, with their profiles.
    async fn ranked(
        &self,
        totals: HashMap<UserId, Activity>,
        limit: usize,
        by: Ranking,
    ) -> Result<Vec<TopReseller>, AllyError> {
        let mut ranked: Vec<(UserId, Activity)> =
            totals.into_iter().filter(|(_, a)| a.acquisitions > 0 || a.credits_spent > 0).collect();
        let key = |a: &Activity| match by {
            Ranking::Acquisitions => (a.acquisitions, a.credits_spent),
            Ranking::Spent => (a.credits_spent, a.acquisitions),
        };
        ranked.sort_by(|(ua, a), (ub, b)| key(b).cmp(&key(a)).then_with(|| ua.cmp(ub)));
        ranked.truncate(limit);
        let users: Vec<UserId> = ranked.iter().map(|(u, _)| u.clone()).collect();
        let profiles: HashMap<UserId, _> =
            self.store.resellers_by_user(&users).await?.into_iter().map(|r| (r.user_id.clone(), r)).collect();
        Ok(ranked
            .into_iter()
            .filter_map(|(user, activity)| {
                profiles.get(&user).map(|r| TopReseller {
                    refid: r.refid.clone(),
                    company: r.company.clone(),
                    tier: r.tier,
                    acquisitions: activity.acquisitions,
                    credits_spent: activity.credits_spent,
                })
            })
            .collect())
    }

    /// The partners below platinum whose acquisitions in `month` (its first day) reach
    /// `ALLY_UPGRADE_ACQUISITIONS`, most acquisitions first, with the tier to offer: one read
    /// of the month's active resellers (the sharded `by-month` index) and their profiles.
    pub async fn upgrade_candidates(&self, month: NaiveDate) -> Result<Vec<UpgradeCandidate>, AllyError> {
        Ok(self.candidates(month).await?.into_iter().map(|(_, c)| c).collect())
    }

    /// The upgrade candidates of `month` with their users.
    pub(super) async fn candidates(&self, month: NaiveDate) -> Result<Vec<(UserId, UpgradeCandidate)>, AllyError> {
        let month = month_of(month);
        let mut active: Vec<(UserId, Activity)> = self
            .store
            .active(month, Granularity::Month)
            .await?
            .into_iter()
            .filter(|(_, a)| a.acquisitions >= self.config.upgrade_acquisitions)
            .collect();
        active.sort_by(|(ua, a), (ub, b)| b.acquisitions.cmp(&a.acquisitions).then_with(|| ua.cmp(ub)));
        let users: Vec<UserId> = active.iter().map(|(u, _)| u.clone()).collect();
        let profiles: HashMap<UserId, _> =
            self.store.resellers_by_user(&users).await?.into_iter().map(|r| (r.user_id.clone(), r)).collect();
        Ok(active
            .into_iter()
            .filter_map(|(user, activity)| {
                let r = profiles.get(&user)?;
                let candidate = UpgradeCandidate {
                    refid: r.refid.clone(),
                    company: r.company.clone(),
                    tier: r.tier,
                    suggested_tier: r.tier.next()?,
                    acquisitions: activity.acquisitions,
                    credits_spent: activity.credits_spent,
                };
                Some((user, candidate))
            })
            .collect())
    }

    /// Every reseller counted by its tier, whatever its status.
    pub async fn tier_snapshot(&self) -> Result<TierSnapshot, AllyError> {
        Ok(self.store.network_totals().await?.tiers)
    }

    /// The network's totals (outstanding credits, tiers) and how recent they are.
    pub async fn network_totals(&self) -> Result<NetworkTotals, AllyError> {
        Ok(self.store.network_totals().await?)
    }

    /// Credits outstanding in all wallets together.
    pub async fn total_credits(&self) -> Result<i64, AllyError> {
        Ok(self.store.network_totals().await?.outstanding)
    }

    /// Credits distributed per period of `interval` in `range`, network-wide or for one
    /// reseller. Whole months come from monthly counters, the days at either end from
    /// daily ones, so a long range reads few items and the edges stay exact.
    pub async fn credit_trends(
        &self,
        interval: Interval,
        range: &DateRange,
        reseller: Option<&UserId>,
        measure: Measure,
    ) -> Result<BTreeMap<String, i64>, AllyError> {
        Ok(trend(range, interval, &self.counted(reseller, range, interval).await?, measure))
    }

    /// Credits distributed per period within the subtree of `members`: the sum of their
    /// own counters.
    pub async fn subtree_credit_trends(
        &self,
        interval: Interval,
        range: &DateRange,
        members: &[UserId],
        measure: Measure,
    ) -> Result<BTreeMap<String, i64>, AllyError> {
        let mut counters: BTreeMap<NaiveDate, Activity> = BTreeMap::new();
        for member in members {
            for (period, activity) in self.counted(Some(member), range, interval).await? {
                *counters.entry(period).or_default() += activity;
            }
        }
        Ok(trend(range, interval, &counters, measure))
    }

    /// The counters of one reseller (or the network) covering `range`: daily for a daily
    /// trend, else whole months between the edge days.
    async fn counted(
        &self,
        reseller: Option<&UserId>,
        range: &DateRange,
        interval: Interval,
    ) -> Result<BTreeMap<NaiveDate, Activity>, AllyError> {
        let pieces = if interval == Interval::Daily { vec![(*range, Granularity::Day)] } else { pieces(range) };
        let mut counters = BTreeMap::new();
        for (piece, granularity) in pieces {
            counters.extend(self.store.activity(reseller, &piece, granularity).await?);
        }
        Ok(counters)
    }
}

#[cfg(test)]
#[path = "analytics_test.rs"]
mod tests;
