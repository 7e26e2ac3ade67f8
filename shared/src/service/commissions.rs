//! Commissions: a parent earns a share (`ALLY_COMMISSION_PERCENT`, by its tier) of its
//! direct sub-resellers' spends. A spend never writes the parent's wallet: its own write
//! adds what it owes to the spender's day counters, under the parent the tree named at the
//! spend. Once a day is over, the sweeper settles it: one `commission` entry per parent and
//! day (and one more for the share earned on promotional credit, which is promotional and
//! expires as a reward does), exactly once under the day's key however often it runs.
//! So a distributor's wallet is written once a day by its subtree, whatever the rate of
//! its children's spends.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use futures::StreamExt;
use tracing::instrument;

use super::{Ally, CreditRequest};
use crate::domain::{Accrual, AllyError, COMMISSION_ACTOR, EntryKind, IdempotencyKey, Note, RefId, UserId};
use crate::metrics::{Metric, record};
use crate::store::Store;

/// How long after a day ends its commissions are settled: longer than Lambda's 15-minute
/// limit on an invocation, so no spend that read the clock on that day is still being
/// written.
pub const COMMISSION_GRACE_MINUTES: i64 = 16;

/// The checkpoint naming the last day settled.
const SETTLED_THROUGH: &str = "commissions-settled-through";

/// How many days before the last closed one a first settlement looks back.
const FIRST_LOOKBACK_DAYS: u64 = 7;

/// How many parents are paid at once.
const PARENTS_AT_ONCE: usize = 8;

/// How many sub-resellers a commission entry names; past that, it counts them.
const NAMED_CHILDREN: usize = 3;

impl<S: Store> Ally<S> {
    /// Settles every closed day not settled yet: what the sweeper runs. Returns how many
    /// commission entries this run wrote (or found written by a run cut short).
    #[instrument(skip(self))]
    pub async fn settle_commissions(&self) -> Result<usize, AllyError> {
        if self.config.commissions.is_off() {
            return Ok(0);
        }
        let Some(closed) = (self.now() - Duration::minutes(COMMISSION_GRACE_MINUTES)).date_naive().pred_opt() else {
            return Ok(0);
        };
        let first = match self.store.checkpoint(SETTLED_THROUGH).await? {
            Some(day) => day.parse::<NaiveDate>().map_err(AllyError::internal)?.succ_opt(),
            None => closed.checked_sub_days(chrono::Days::new(FIRST_LOOKBACK_DAYS)),
        };
        let mut written = 0;
        let mut day = first;
        while let Some(d) = day.filter(|d| *d <= closed) {
            written += self.settle_commission_day(d).await?;
            self.store.save_checkpoint(SETTLED_THROUGH, &d.to_string()).await?;
            day = d.succ_opt();
        }
        Ok(written)
    }

    /// Credits each parent what its sub-resellers' spends of `day` earned it.
    async fn settle_commission_day(&self, day: NaiveDate) -> Result<usize, AllyError> {
        let mut owed: BTreeMap<RefId, (Accrual, BTreeSet<UserId>)> = BTreeMap::new();
        for (child, accrual) in self.store.accrued(day).await? {
            let (sum, children) = owed.entry(accrual.parent.clone()).or_insert_with(|| {
                (Accrual { parent: accrual.parent.clone(), spent: 0, promotional: 0, spends: 0 }, BTreeSet::new())
            });
            sum.add(&accrual);
            children.insert(child);
        }
        // A few parents at a time; one parent's failure (a wallet too busy, a drift) is
        // logged and counted and does not stop the others: the day stays unsettled (no
        // checkpoint), and the next sweep pays what is left (the paid replay their key).
        let paid: Vec<(RefId, Result<usize, AllyError>)> = futures::stream::iter(owed)
            .map(|(parent, (accrued, children))| async move {
                let outcome = self.pay_commission(day, &parent, &accrued, &children).await;
                (parent, outcome)
            })
            .buffer_unordered(PARENTS_AT_ONCE)
            .collect()
            .await;
        let mut written = 0;
        let mut failed = None;
        for (parent, outcome) in paid {
            match outcome {
                Ok(n) => written += n,
                Err(e) => {
                    tracing::error!(%parent, %day, error = %e, "a parent's commission could not be paid; the day is settled again next sweep");
                    record(&[Metric::CommissionUnpaid]);
                    failed.get_or_insert(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(written),
        }
    }

    /// One parent's commission of `day`: its paid and promotional parts.
    async fn pay_commission(
        &self,
        day: NaiveDate,
        parent: &RefId,
        accrued: &Accrual,
        children: &BTreeSet<UserId>,
    ) -> Result<usize, AllyError> {
        let Some(parent_user) = self.store.user_by_refid(parent).await? else {
            tracing::warn!(%parent, %day, spent = accrued.spent, "commission for a parent that no longer exists");
            return Ok(0);
        };
        let Some(tier) = self.store.reseller(&parent_user).await?.map(|r| r.tier) else {
            return Ok(0);
        };
        let (amount, promotional) = self.config.commissions.earned(accrued, tier);
        let reason = Some(Note::parse(self.commission_reason(day, accrued, children).await?)?);
        // From the day, not the clock: a run cut short and retried asks the same thing.
        let expires_at = day
            .succ_opt()
            .and_then(|next| next.and_hms_opt(0, 0, 0))
            .map(|midnight| midnight.and_utc())
            .and_then(|midnight| midnight.checked_add_signed(Duration::days(self.config.referral_expiry_days)));
        // A day's commission above the most one credit may be is paid in several entries.
        let most = self.config.max_credit_amount.max(1);
        let mut parts = Vec::new();
        for (total, suffix) in [(amount - promotional, ""), (promotional, ":promotional")] {
            let mut left = total;
            let mut n = 0;
            while left > 0 {
                let part = left.min(most);
                let key = if n == 0 { suffix.to_string() } else { format!("{suffix}:{n}") };
                parts.push((part, key, !suffix.is_empty()));
                left -= part;
                n += 1;
            }
        }
        let mut written = 0;
        for (part, suffix, promotional) in parts {
            let request = CreditRequest {
                amount: part,
                reason: reason.clone(),
                promotional,
                expires_at: if promotional { expires_at } else { None },
                ..CreditRequest::default()
            };
            let key = IdempotencyKey::commission(day, &suffix)?;
            match self.add_credits(&parent_user, request, EntryKind::Commission, COMMISSION_ACTOR, &key).await {
                Ok(_) => written += 1,
                // Settled before at the parent's tier of then (a run cut short, then a tier
                // change), or a promotional part whose expiry passed before it was paid:
                // what was paid stands, and a person is told.
                Err(e @ (AllyError::IdempotencyConflict | AllyError::Validation(_))) => {
                    tracing::error!(%parent, %day, amount = part, error = %e, "a commission part left as it was");
                    record(&[Metric::CommissionUnpaid]);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(written)
    }

    /// What a commission entry says it covers: the day, the spends, and the sub-resellers
    /// by refid (counted past a few).
    async fn commission_reason(
        &self,
        day: NaiveDate,
        accrued: &Accrual,
        children: &BTreeSet<UserId>,
    ) -> Result<String, AllyError> {
        let of = if children.len() <= NAMED_CHILDREN {
            let users: Vec<UserId> = children.iter().cloned().collect();
            let mut named: Vec<String> =
                self.store.resellers_by_user(&users).await?.into_iter().map(|r| r.refid.to_string()).collect();
            named.sort();
            named.join(", ")
        } else {
            format!("{} sub-resellers", children.len())
        };
        let spends = if accrued.spends == 1 { "1 spend".to_string() } else { format!("{} spends", accrued.spends) };
        Ok(format!("commission on {spends} ({} credits) of {of} on {day}", accrued.spent))
    }
}
