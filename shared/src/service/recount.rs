//! The network figures rebuilt from the resellers' own counters: what a person runs when
//! the figures' consumer lost records (an unreadable one counted `UncountedRecords`, a
//! failed batch past the stream's retention). Each reseller's counters and wallet are
//! written in the same transactions as its money, so their sum is the truth; the recount
//! adds to the base figures the difference between that sum and the figures as they read,
//! so running it again adds nothing more. Days are corrected up to yesterday only (a day
//! still open has windows in flight, which the consumer will count); the outstanding and
//! promotional credits and the tiers are exact when no money moves while it runs (money
//! moved meanwhile, not counted yet, would be counted twice): run it in a quiet minute.

use chrono::NaiveDate;
use serde::Serialize;

use super::Ally;
use crate::domain::{Activity, AllyError, DateRange, LotKind, NetworkSum, Tier};
use crate::store::{Granularity, PageRequest, ResellerFilter, Store};

/// What a recount found and added.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recount {
    /// Resellers whose counters were summed.
    pub resellers: usize,
    /// The difference added to the figures (empty when they were right).
    pub correction: NetworkSum,
}

impl<S: Store> Ally<S> {
    /// Rebuilds the network figures from the resellers' own counters: the days from `from`
    /// to yesterday, the outstanding and promotional credits and the resellers per tier.
    pub async fn recount_network_figures(&self, from: NaiveDate) -> Result<Recount, AllyError> {
        let today = self.now().date_naive();
        if from > today {
            return Err(AllyError::validation(format!("the recount starts on {from}, after today")));
        }
        let range = DateRange { start: from, end: today };
        let mut truth = NetworkSum::default();
        let mut resellers = 0;
        // The by-tier index lists every reseller, whatever its status.
        for tier in Tier::ALL {
            let mut cursor = None;
            loop {
                let page = PageRequest { limit: 100, cursor };
                let listed = self.store.resellers(ResellerFilter::Tier(tier), &page).await?;
                for listed in &listed.items {
                    // Read whole: the lots beside the wallet hold promotional credit too.
                    let Some(r) = self.store.reseller(&listed.user_id).await? else { continue };
                    resellers += 1;
                    *truth.tiers.count_mut(r.tier) += 1;
                    truth.outstanding += r.balance;
                    truth.promotional +=
                        r.lots.iter().filter(|l| l.kind == LotKind::Promotional).map(|l| l.remaining).sum::<i64>();
                    for (day, activity) in self.store.activity(Some(&r.user_id), &range, Granularity::Day).await? {
                        *truth.days.entry(day).or_default() += activity;
                    }
                }
                cursor = listed.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
        }
        let counted = self.store.activity(None, &range, Granularity::Day).await?;
        let totals = self.store.network_totals().await?;
        let mut correction = NetworkSum {
            outstanding: truth.outstanding - totals.outstanding,
            promotional: truth.promotional - totals.promotional,
            as_of: Some(self.now()),
            ..NetworkSum::default()
        };
        for tier in Tier::ALL {
            *correction.tiers.count_mut(tier) = truth.tiers.count(tier) - totals.tiers.count(tier);
        }
        let days = truth.days.keys().chain(counted.keys()).copied().collect::<std::collections::BTreeSet<_>>();
        for day in days.into_iter().filter(|day| *day < today) {
            let owed = difference(truth.days.get(&day), counted.get(&day));
            if !owed.is_empty() {
                correction.days.insert(day, owed);
            }
        }
        if !correction.is_empty() {
            tracing::warn!(?correction, "the network figures were recounted and corrected");
            self.store.correct_figures(&correction).await?;
        }
        Ok(Recount { resellers, correction })
    }
}

/// `truth` less `counted`, count by count.
fn difference(truth: Option<&Activity>, counted: Option<&Activity>) -> Activity {
    let (t, c) = (truth.copied().unwrap_or_default(), counted.copied().unwrap_or_default());
    Activity {
        credits_added: t.credits_added - c.credits_added,
        credits_spent: t.credits_spent - c.credits_spent,
        provisions: t.provisions - c.provisions,
        acquisitions: t.acquisitions - c.acquisitions,
        credits_expired: t.credits_expired - c.credits_expired,
    }
}
