//! Counters: the `ADD` updates a money transaction carries (the reseller's own day and
//! month, nothing shared), and the reads analytics make of them and of the network's
//! figures (the base and the stream shards' open windows, see `figures`).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::DynamoStore;
use super::item::{
    ACCRUED_PROMOTIONAL, ACCRUED_SPENDS, ACCRUED_SPENT, CounterItem, Item, TotalsItem, accruals, attr, key, n, parse,
    s, tier_attribute, to_attr,
};
use super::transaction::TxItem;
use crate::domain::{Accrual, Activity, DateRange, NetworkTotals, Tier, UserId, month_of};
use crate::store::{Counters, FiguresWindow, Granularity, StoreError, StoreResult, keys};

impl DynamoStore {
    /// `ADD`s `activity` to the counter item `(pk, sk)` of `period`; a reseller's day and
    /// month items also join the by-day and by-month indexes.
    pub(super) fn counter(
        &self,
        pk: String,
        sk: String,
        period: NaiveDate,
        activity: &Activity,
        indexed_for: Option<(&UserId, Granularity)>,
        accrual: Option<&Accrual>,
    ) -> StoreResult<TransactWriteItem> {
        let mut set = String::from("SET #period = :period");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .expression_attribute_names("#period", "period")
            .expression_attribute_values(":period", to_attr(&period)?);
        if let Some((user, granularity)) = indexed_for {
            // The index keys never change once set, and the index projects only them, so
            // the counts moving do not write the index again.
            let shard = keys::active_shard(user);
            let (index_pk, index_sk, partition) = match granularity {
                Granularity::Day => (attr::DAY_PK, attr::DAY_SK, keys::active_day(period, shard)),
                Granularity::Month => (attr::MONTH_PK, attr::MONTH_SK, keys::active_month(period, shard)),
            };
            set.push_str(", #user_id = :user, #index_pk = :index_pk, #index_sk = :user");
            update = update
                .expression_attribute_names("#user_id", "user_id")
                .expression_attribute_names("#index_pk", index_pk)
                .expression_attribute_names("#index_sk", index_sk)
                .expression_attribute_values(":user", s(user.as_str()))
                .expression_attribute_values(":index_pk", s(partition));
        }
        // A spend's commission accrues on the day item, under attributes named for the
        // parent (top level: `ADD` takes no nested path).
        let mut accrued = String::new();
        if let Some(accrual) = accrual {
            accrued.push_str(", #accrued_spent :accrued_spent, #accrued_promotional :accrued_promotional, #accrued_spends :one_spend");
            let parent = accrual.parent.as_str();
            update = update
                .expression_attribute_names("#accrued_spent", format!("{ACCRUED_SPENT}{parent}"))
                .expression_attribute_names("#accrued_promotional", format!("{ACCRUED_PROMOTIONAL}{parent}"))
                .expression_attribute_names("#accrued_spends", format!("{ACCRUED_SPENDS}{parent}"))
                .expression_attribute_values(":accrued_spent", n(accrual.spent))
                .expression_attribute_values(":accrued_promotional", n(accrual.promotional))
                .expression_attribute_values(":one_spend", n(accrual.spends));
        }
        let update = update
            .update_expression(format!(
                "{set} ADD #credits_added :added, #credits_spent :spent, #provisions :provisions, \
                 #acquisitions :acquisitions, #credits_expired :expired{accrued}"
            ))
            .expression_attribute_names("#credits_expired", "credits_expired")
            .expression_attribute_values(":expired", n(activity.credits_expired))
            .expression_attribute_names("#credits_added", "credits_added")
            .expression_attribute_names("#credits_spent", "credits_spent")
            .expression_attribute_names("#provisions", "provisions")
            .expression_attribute_names("#acquisitions", "acquisitions")
            .expression_attribute_values(":added", n(activity.credits_added))
            .expression_attribute_values(":spent", n(activity.credits_spent))
            .expression_attribute_values(":provisions", n(activity.provisions))
            .expression_attribute_values(":acquisitions", n(activity.acquisitions))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The reseller's own counter updates of `activity` at `at`: its day and its month.
    pub(super) fn counters(
        &self,
        owner: &UserId,
        at: DateTime<Utc>,
        activity: &Activity,
        accrual: Option<&Accrual>,
    ) -> StoreResult<Vec<TxItem<'static>>> {
        let day = at.date_naive();
        let month = month_of(day);
        Ok(vec![
            TxItem::plain(self.counter(
                keys::stats(owner),
                keys::day(day),
                day,
                activity,
                Some((owner, Granularity::Day)),
                accrual,
            )?),
            TxItem::plain(self.counter(
                keys::stats(owner),
                keys::month(month),
                month,
                activity,
                Some((owner, Granularity::Month)),
                None,
            )?),
        ])
    }

    /// `ADD`s to one shard of the network's base totals: outstanding credits (and the promotional
    /// part) and tier counts, and `as_of`, the time of the newest change counted.
    pub(super) fn totals(
        &self,
        shard: u8,
        delta: &NetworkTotals,
        as_of: DateTime<Utc>,
    ) -> StoreResult<TxItem<'static>> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::network(shard), keys::TOTALS)))
            .update_expression(
                "SET #as_of = :as_of ADD #outstanding :outstanding, #promotional :promotional, \
                 #standard :standard, #gold :gold, #platinum :platinum",
            )
            .expression_attribute_names("#as_of", "as_of")
            .expression_attribute_names("#outstanding", "outstanding")
            .expression_attribute_names("#promotional", "promotional")
            .expression_attribute_values(":as_of", to_attr(&as_of)?)
            .expression_attribute_values(":outstanding", n(delta.outstanding))
            .expression_attribute_values(":promotional", n(delta.promotional));
        for (placeholder, tier) in [("standard", Tier::Standard), ("gold", Tier::Gold), ("platinum", Tier::Platinum)] {
            update = update
                .expression_attribute_names(format!("#{placeholder}"), tier_attribute(tier))
                .expression_attribute_values(format!(":{placeholder}"), n(delta.tiers.count(tier)));
        }
        let update = update.build().map_err(StoreError::backend)?;
        Ok(TxItem::plain(TransactWriteItem::builder().update(update).build()))
    }

    /// The counter items of every reseller active in `period` (all shards of the index).
    async fn active_items(&self, period: NaiveDate, granularity: Granularity) -> StoreResult<Vec<Item>> {
        let (index, index_pk) = match granularity {
            Granularity::Day => (keys::BY_DAY_INDEX, attr::DAY_PK),
            Granularity::Month => (keys::BY_MONTH_INDEX, attr::MONTH_PK),
        };
        let shards = (0..keys::ACTIVE_SHARDS).map(|shard| {
            let partition = match granularity {
                Granularity::Day => keys::active_day(period, shard),
                Granularity::Month => keys::active_month(period, shard),
            };
            self.query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(index)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", index_pk)
                    .expression_attribute_values(":pk", s(partition)),
            )
        });
        // The index holds the keys only: the counters are read by key.
        let keys: Vec<Item> = futures::future::try_join_all(shards)
            .await?
            .into_iter()
            .flatten()
            .filter_map(|found| {
                Some(key(found.get(attr::PK)?.as_s().ok()?.clone(), found.get(attr::SK)?.as_s().ok()?.clone()))
            })
            .collect();
        self.get_many(keys).await
    }
}

impl Counters for DynamoStore {
    async fn activity(
        &self,
        owner_id: Option<&UserId>,
        range: &DateRange,
        granularity: Granularity,
    ) -> StoreResult<BTreeMap<NaiveDate, Activity>> {
        let (from, to) = match granularity {
            Granularity::Day => (keys::day(range.start), keys::day(range.end)),
            Granularity::Month => (keys::month(month_of(range.start)), keys::month(range.end)),
        };
        let partitions: Vec<String> = match owner_id {
            Some(owner) => vec![keys::stats(owner)],
            None => (0..keys::NETWORK_SHARDS).map(keys::network).collect(),
        };
        let queries = partitions.into_iter().map(|pk| {
            self.query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                    .expression_attribute_names("#pk", attr::PK)
                    .expression_attribute_names("#sk", attr::SK)
                    .expression_attribute_values(":pk", s(pk))
                    .expression_attribute_values(":from", s(from.clone()))
                    .expression_attribute_values(":to", s(to.clone())),
            )
        });
        let mut out: BTreeMap<NaiveDate, Activity> = BTreeMap::new();
        for items in futures::future::try_join_all(queries).await? {
            for item in items {
                let counter: CounterItem = parse(item)?;
                *out.entry(counter.period).or_default() += counter.activity();
            }
        }
        if owner_id.is_none() {
            // The shards' windows not folded yet, by day or by their days' month.
            for (day, activity) in self.open_sum().await?.days {
                let (from, period) = match granularity {
                    Granularity::Day => (range.start, day),
                    Granularity::Month => (month_of(range.start), month_of(day)),
                };
                if (from..=range.end).contains(&period) {
                    *out.entry(period).or_default() += activity;
                }
            }
        }
        Ok(out)
    }

    async fn active(&self, period: NaiveDate, granularity: Granularity) -> StoreResult<Vec<(UserId, Activity)>> {
        self.active_items(period, granularity).await?.into_iter().map(owned_activity).collect()
    }

    async fn accrued(&self, day: NaiveDate) -> StoreResult<Vec<(UserId, Accrual)>> {
        let mut out = Vec::new();
        for item in self.active_items(day, Granularity::Day).await? {
            let accruals = accruals(&item)?;
            if accruals.is_empty() {
                continue;
            }
            let (user, _) = owned_activity(item)?;
            out.extend(accruals.into_iter().map(|a| (user.clone(), a)));
        }
        Ok(out)
    }

    async fn month_activity(&self, users: &[UserId], month: NaiveDate) -> StoreResult<Vec<(UserId, Activity)>> {
        let wanted = users.iter().map(|u| key(keys::stats(u), keys::month(month))).collect();
        self.get_many(wanted).await?.into_iter().map(owned_activity).collect()
    }

    async fn apply_figures(&self, window: &FiguresWindow) -> StoreResult<bool> {
        self.write_window(window).await
    }

    async fn fold_figures(&self, quiet_since: DateTime<Utc>) -> StoreResult<usize> {
        self.fold_quiet(quiet_since).await
    }

    async fn correct_figures(&self, correction: &crate::domain::NetworkSum) -> StoreResult<()> {
        self.add_to_base(correction).await
    }

    async fn network_totals(&self) -> StoreResult<NetworkTotals> {
        let shards = (0..keys::NETWORK_SHARDS).map(|shard| key(keys::network(shard), keys::TOTALS)).collect();
        let open = self.open_sum().await?;
        let mut totals = NetworkTotals {
            outstanding: open.outstanding,
            promotional: open.promotional,
            tiers: open.tiers,
            as_of: open.as_of,
        };
        for item in self.get_many(shards).await? {
            let shard: TotalsItem = parse(item)?;
            totals.outstanding += shard.outstanding;
            totals.promotional += shard.promotional;
            totals.tiers.standard += shard.tier_standard;
            totals.tiers.gold += shard.tier_gold;
            totals.tiers.platinum += shard.tier_platinum;
            totals.as_of = totals.as_of.max(shard.as_of);
        }
        Ok(totals)
    }
}

/// A reseller's own counter item: whose it is, and what it counts.
fn owned_activity(item: Item) -> StoreResult<(UserId, Activity)> {
    let counter: CounterItem = parse(item)?;
    let activity = counter.activity();
    let user = counter.user_id.ok_or(StoreError::Backend("counter item without user_id".into()))?;
    Ok((user, activity))
}
