//! Every analytics figure as the service reports it, and the same figures recomputed by
//! brute force from the ledgers, clients and profiles: the oracle of the analytics and
//! property tests.

use std::collections::BTreeMap;

use crate::stream::CatchUp;
use ally::Ally;
use ally::domain::{DateRange, EntryKind, Interval, LotKind, TierSnapshot};
use ally::service::TopReseller;
use ally::store::{PageRequest, Store};
use chrono::{NaiveDate, Utc};

use crate::all_entries;

/// A daily, a monthly and a yearly range, all ending `today` (read once per comparison, so
/// both sides of one see the same days even across midnight).
fn ranges(today: NaiveDate) -> Vec<(Interval, DateRange)> {
    let t = today.format("%Y-%m-%d").to_string();
    let back = |days: i64| (today - chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    vec![
        (Interval::Daily, DateRange::parse(&back(29), &t, 366).unwrap()),
        (Interval::Monthly, DateRange::parse(&back(400), &t, 3_700).unwrap()),
        (Interval::Yearly, DateRange::parse("2020-01-01", &t, 18_300).unwrap()),
    ]
}

/// Everything analytics report.
#[derive(Debug, PartialEq)]
pub struct Figures {
    pub total: i64,
    /// Of `total`, promotional credit.
    pub promotional: i64,
    pub tiers: TierSnapshot,
    pub top: Vec<TopReseller>,
    pub trends: Vec<BTreeMap<String, i64>>,
    pub own_trends: Vec<BTreeMap<String, i64>>,
}

/// The figures for `users` as the service reports them, for ranges ending `today`.
pub async fn figures<S: Store + CatchUp>(ally: &Ally<S>, users: &[String], today: NaiveDate) -> Figures {
    ally.store().catch_up().await;
    let range = ranges(today)[0].1;
    let mut trends = Vec::new();
    for (interval, range) in ranges(today) {
        trends.push(ally.credit_trends(interval, &range, None, ally::domain::Measure::Added).await.unwrap());
    }
    let mut own_trends = Vec::new();
    for user in users {
        for (interval, range) in ranges(today) {
            own_trends.push(
                ally.credit_trends(interval, &range, Some(&crate::uid(user)), ally::domain::Measure::Added)
                    .await
                    .unwrap(),
            );
        }
    }
    Figures {
        total: ally.total_credits().await.unwrap(),
        promotional: ally.network_totals().await.unwrap().promotional,
        tiers: ally.tier_snapshot().await.unwrap(),
        top: ally.top_resellers(&range, 100, ally::domain::Ranking::Acquisitions).await.unwrap(),
        trends,
        own_trends,
    }
}

/// The same figures, recomputed by walking every ledger, client list and profile, for
/// ranges ending today.
pub async fn recomputed<S: Store + CatchUp>(ally: &Ally<S>, users: &[String]) -> Figures {
    recomputed_on(ally, users, Utc::now().date_naive()).await
}

/// One walk over every item computing every figure (long: kept whole so that the brute-force
/// definition of each figure reads in one place, beside the others).
async fn recomputed_on<S: Store + CatchUp>(ally: &Ally<S>, users: &[String], today: NaiveDate) -> Figures {
    let mut total = 0;
    let mut promotional = 0;
    let mut tiers = TierSnapshot::default();
    let mut top = Vec::new();
    let mut network_days: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut own_days: Vec<BTreeMap<NaiveDate, i64>> = Vec::new();
    for user in users {
        let r = ally.find_by_user(&crate::uid(user)).await.unwrap();
        *tiers.count_mut(r.tier) += 1;
        let entries = all_entries(ally, user).await;
        total += entries.iter().map(|e| e.delta()).sum::<i64>();
        let promotional_draws = entries.iter().flat_map(|e| e.lots.iter().map(move |d| (e.kind, d)));
        promotional += promotional_draws
            .filter(|(_, d)| d.kind == LotKind::Promotional)
            .map(|(kind, d)| kind.sign() * d.amount)
            .sum::<i64>();
        let mut days = BTreeMap::new();
        // Credits distributed, net of what was taken back (reversals, debt repaid) and of
        // what moved between wallets.
        for e in entries.iter() {
            let added = match e.kind {
                EntryKind::Credit
                | EntryKind::Refund
                | EntryKind::Reward
                | EntryKind::TransferIn
                | EntryKind::Commission => e.amount,
                EntryKind::Reversal | EntryKind::DebtRepayment | EntryKind::TransferOut => -e.amount,
                EntryKind::Debit | EntryKind::Expiry => continue,
            };
            *days.entry(e.created_at.date_naive()).or_default() += added;
            *network_days.entry(e.created_at.date_naive()).or_default() += added;
        }
        own_days.push(days);
        let clients = ally.store().clients(&crate::uid(user), &PageRequest::first(100)).await.unwrap().items;
        let spent: i64 = entries.iter().filter(|e| e.kind == EntryKind::Debit).map(|e| e.amount).sum();
        if !clients.is_empty() || spent > 0 {
            top.push(TopReseller {
                refid: r.refid,
                company: r.company,
                tier: r.tier,
                acquisitions: clients.len() as i64,
                credits_spent: spent,
            });
        }
    }
    let trend_of = |days: &BTreeMap<NaiveDate, i64>| -> Vec<BTreeMap<String, i64>> {
        ranges(today)
            .into_iter()
            .map(|(interval, range)| {
                let mut out: BTreeMap<String, i64> = range.each_day().map(|d| (interval.label(d), 0)).collect();
                for (day, amount) in days.range(range.start..=range.end) {
                    *out.get_mut(&interval.label(*day)).unwrap() += amount;
                }
                out
            })
            .collect()
    };
    Figures {
        total,
        promotional,
        tiers,
        top,
        trends: trend_of(&network_days),
        own_trends: own_days.iter().flat_map(trend_of).collect(),
    }
}

/// Compares, ignoring the order of rows that tie in the ranking.
pub async fn assert_figures_match<S: Store + CatchUp>(ally: &Ally<S>, users: &[String]) {
    let today = Utc::now().date_naive();
    let mut got = figures(ally, users, today).await;
    let mut want = recomputed_on(ally, users, today).await;
    let key = |t: &TopReseller| (-t.acquisitions, -t.credits_spent, t.refid.clone());
    got.top.sort_by_key(key);
    want.top.sort_by_key(key);
    assert_eq!(got, want);
}
