//! Counters: the `ADD` updates a money transaction carries (the reseller's day and month,
//! one network shard's day and month and totals) and the reads analytics make of them.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::DynamoStore;
use super::item::{CounterItem, TotalsItem, attr, key, n, parse, s, tier_attribute, to_attr};
use super::transaction::TxItem;
use crate::domain::{Activity, DateRange, NetworkTotals, Tier, UserId, month_of};
use crate::store::{Counters, Granularity, StoreError, StoreResult, keys};

fn random_shard() -> u8 {
    rand::random_range(0..keys::NETWORK_SHARDS)
}

impl DynamoStore {
    /// `ADD`s `activity` to the counter item `(pk, sk)` of `period`; a reseller's day item
    /// also joins the by-day index.
    fn counter(
        &self,
        pk: String,
        sk: String,
        period: NaiveDate,
        activity: &Activity,
        indexed_for: Option<&UserId>,
    ) -> StoreResult<TransactWriteItem> {
        let mut set = String::from("SET #period = :period");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .expression_attribute_names("#period", "period")
            .expression_attribute_values(":period", to_attr(&period)?);
        if let Some(user) = indexed_for {
            set.push_str(", #user_id = :user, #day_pk = :day_pk, #day_sk = :user");
            update = update
                .expression_attribute_names("#user_id", "user_id")
                .expression_attribute_names("#day_pk", attr::DAY_PK)
                .expression_attribute_names("#day_sk", attr::DAY_SK)
                .expression_attribute_values(":user", s(user.as_str()))
                .expression_attribute_values(":day_pk", s(keys::day(period)));
        }
        let update = update
            .update_expression(format!(
                "{set} ADD #credits_added :added, #credits_spent :spent, #provisions :provisions, \
                 #acquisitions :acquisitions"
            ))
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

    /// The four counter updates of `activity` by `owner` at `at`: the reseller's day and
    /// month, and one random network shard's day and month.
    pub(super) fn counters(
        &self,
        owner: &UserId,
        at: DateTime<Utc>,
        activity: &Activity,
    ) -> StoreResult<Vec<TxItem<'static>>> {
        let day = at.date_naive();
        let month = month_of(day);
        let shard = random_shard();
        Ok(vec![
            TxItem::plain(self.counter(keys::stats(owner), keys::day(day), day, activity, Some(owner))?),
            TxItem::plain(self.counter(keys::stats(owner), keys::month(month), month, activity, None)?),
            TxItem::plain(self.counter(keys::network(shard), keys::day(day), day, activity, None)?),
            TxItem::plain(self.counter(keys::network(shard), keys::month(month), month, activity, None)?),
        ])
    }

    /// `ADD`s to one random shard of the network totals: outstanding credits and tier counts.
    pub(super) fn totals(&self, outstanding: i64, tiers: &[(Tier, i64)]) -> StoreResult<TxItem<'static>> {
        let mut expression = String::from("ADD #outstanding :outstanding");
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::network(random_shard()), keys::TOTALS)))
            .expression_attribute_names("#outstanding", "outstanding")
            .expression_attribute_values(":outstanding", n(outstanding));
        for (tier, count) in tiers {
            let name = tier_attribute(*tier);
            expression.push_str(&format!(", #{name} :{name}"));
            update = update
                .expression_attribute_names(format!("#{name}"), name)
                .expression_attribute_values(format!(":{name}"), n(count));
        }
        let update = update.update_expression(expression).build().map_err(StoreError::backend)?;
        Ok(TxItem::plain(TransactWriteItem::builder().update(update).build()))
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
        Ok(out)
    }

    async fn active_on(&self, day: NaiveDate) -> StoreResult<Vec<(UserId, Activity)>> {
        let items = self
            .query_all(
                self.client
                    .query()
                    .table_name(&self.table)
                    .index_name(keys::BY_DAY_INDEX)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", attr::DAY_PK)
                    .expression_attribute_values(":pk", s(keys::day(day))),
            )
            .await?;
        items
            .into_iter()
            .map(|item| {
                let counter: CounterItem = parse(item)?;
                let activity = counter.activity();
                let user = counter.user_id.ok_or(StoreError::Backend("counter item without user_id".into()))?;
                Ok((user, activity))
            })
            .collect()
    }

    async fn network_totals(&self) -> StoreResult<NetworkTotals> {
        let shards = (0..keys::NETWORK_SHARDS).map(|shard| key(keys::network(shard), keys::TOTALS)).collect();
        let mut totals = NetworkTotals::default();
        for item in self.get_many(shards).await? {
            let shard: TotalsItem = parse(item)?;
            totals.outstanding += shard.outstanding;
            totals.tiers.standard += shard.tier_standard;
            totals.tiers.gold += shard.tier_gold;
            totals.tiers.platinum += shard.tier_platinum;
        }
        Ok(totals)
    }
}
