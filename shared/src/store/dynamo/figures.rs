//! The network's figures as the `network-figures` consumer writes them: one item per stream
//! shard, to which each window of that shard's records adds its sum in one conditional
//! update guarded by the shard's high-water mark (so a window delivered again adds nothing,
//! and no two writers ever contend: a shard's windows come one at a time). A shard quiet for
//! longer than the stream keeps records is closed: the sweeper folds its item into the base
//! figures (`NET#0`), which only the fold writes. Readers add the base and the open shards.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{Item, attr, key, n, s, tier_attribute, to_attr};
use super::transaction::{Role, TxItem};
use super::{DynamoStore, failure};
use crate::domain::{Activity, NetworkSum, Refusal, Tier, month_of};
use crate::store::{FiguresWindow, StoreError, StoreResult, keys, stream_position};

/// The counts of an activity, by attribute name.
const ACTIVITY_FIELDS: [&str; 5] = ["credits_added", "credits_spent", "provisions", "acquisitions", "credits_expired"];

fn fields(a: &Activity) -> [i64; 5] {
    [a.credits_added, a.credits_spent, a.provisions, a.acquisitions, a.credits_expired]
}

fn activity_of(values: [i64; 5]) -> Activity {
    let [credits_added, credits_spent, provisions, acquisitions, credits_expired] = values;
    Activity { credits_added, credits_spent, provisions, acquisitions, credits_expired }
}

/// The attribute of a shard item counting `field` on `day`.
fn day_attribute(day: NaiveDate, field: &str) -> String {
    format!("day:{day}:{field}")
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The figures a shard item holds.
pub(super) fn shard_sum(item: &Item) -> StoreResult<NetworkSum> {
    let mut sum = NetworkSum {
        outstanding: number(item, "outstanding"),
        promotional: number(item, "promotional"),
        ..NetworkSum::default()
    };
    for tier in Tier::ALL {
        *sum.tiers.count_mut(tier) = number(item, tier_attribute(tier));
    }
    sum.as_of = text(item, "as_of").and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc));
    let mut days: BTreeMap<NaiveDate, [i64; 5]> = BTreeMap::new();
    for (name, value) in item {
        let Some(rest) = name.strip_prefix("day:") else { continue };
        let Some((day, field)) = rest.split_once(':') else { continue };
        let day: NaiveDate =
            day.parse().map_err(|_| StoreError::Backend(format!("{name}: not a day attribute").into()))?;
        let Some(slot) = ACTIVITY_FIELDS.iter().position(|f| *f == field) else { continue };
        let count = value.as_n().ok().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
        days.entry(day).or_default()[slot] += count;
    }
    sum.days = days.into_iter().map(|(d, v)| (d, activity_of(v))).filter(|(_, a)| !a.is_empty()).collect();
    Ok(sum)
}

/// The `ADD`s of `sum` (negated with `sign` -1): for each count, its placeholder, its
/// attribute and its value; and the clause that names them.
fn sum_adds(sum: &NetworkSum, sign: i64) -> (Vec<(String, String, i64)>, String) {
    let mut adds: Vec<(String, String, i64)> = Vec::new();
    let mut push = |name: String, value: i64| adds.push((format!("f{}", adds.len()), name, sign * value));
    push("outstanding".into(), sum.outstanding);
    push("promotional".into(), sum.promotional);
    for tier in Tier::ALL {
        push(tier_attribute(tier).into(), sum.tiers.count(tier));
    }
    for (day, activity) in &sum.days {
        for (field, value) in ACTIVITY_FIELDS.iter().zip(fields(activity)) {
            if value != 0 {
                push(day_attribute(*day, field), value);
            }
        }
    }
    let clause = adds.iter().map(|(p, ..)| format!("#{p} :{p}")).collect::<Vec<_>>().join(", ");
    (adds, clause)
}

impl DynamoStore {
    /// Adds a window to its shard's item, once.
    pub(super) async fn write_window(&self, window: &FiguresWindow) -> StoreResult<bool> {
        let pk = keys::shard_figures(&window.shard);
        let (adds, clause) = sum_adds(&window.sum, 1);
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), pk)))
            .update_expression(format!(
                "SET #last = :last, #at = :at, #shard = :shard, #as_of = :as_of, #open_pk = :open, \
                 #open_sk = :shard ADD {clause} REMOVE #expires"
            ))
            .condition_expression("attribute_not_exists(#last) OR #last < :first")
            .expression_attribute_names("#last", LAST_POSITION)
            .expression_attribute_names("#at", "updated_at")
            .expression_attribute_names("#shard", "shard")
            .expression_attribute_names("#as_of", "as_of")
            .expression_attribute_names("#open_pk", attr::STATUS_PK)
            .expression_attribute_names("#open_sk", attr::STATUS_SK)
            .expression_attribute_names("#expires", attr::EXPIRES_AT)
            .expression_attribute_values(":first", s(stream_position(&window.first)))
            .expression_attribute_values(":last", s(stream_position(&window.last)))
            .expression_attribute_values(":at", to_attr(&window.at)?)
            .expression_attribute_values(":shard", s(&window.shard))
            .expression_attribute_values(":open", s(keys::sparse(keys::OPEN_FIGURES, &window.shard)))
            .expression_attribute_values(":as_of", to_attr(&window.sum.as_of.unwrap_or(window.at))?)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (placeholder, name, value) in adds {
            update = update
                .expression_attribute_names(format!("#{placeholder}"), name)
                .expression_attribute_values(format!(":{placeholder}"), n(value));
        }
        let written = update.send().await;
        match written {
            Ok(_) => Ok(true),
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let seen = failed.item.as_ref().and_then(|i| text(i, LAST_POSITION).map(str::to_string));
                    if seen.is_some_and(|seen| seen >= stream_position(&window.last)) {
                        Ok(false)
                    } else {
                        Err(StoreError::Refused(Refusal::Duplicate))
                    }
                }
                e => Err(failure(e)),
            },
        }
    }

    /// The open shard items (not folded yet), read by key after the sparse index.
    pub(super) async fn open_shards(&self) -> StoreResult<Vec<Item>> {
        self.swept(keys::OPEN_FIGURES, "\u{7f}".into()).await
    }

    /// The figures of every open shard, summed.
    pub(super) async fn open_sum(&self) -> StoreResult<NetworkSum> {
        let mut total = NetworkSum::default();
        for item in self.open_shards().await? {
            let sum = shard_sum(&item)?;
            total.outstanding += sum.outstanding;
            total.promotional += sum.promotional;
            for tier in Tier::ALL {
                *total.tiers.count_mut(tier) += sum.tiers.count(tier);
            }
            for (day, activity) in sum.days {
                *total.days.entry(day).or_default() += activity;
            }
            total.as_of = total.as_of.max(sum.as_of);
        }
        Ok(total)
    }

    /// Folds one quiet shard item into the base figures: its counts taken off it (under its
    /// high-water mark as read) and added to the base in one transaction; it leaves the open
    /// list and expires after the stream's retention, keeping its mark until then.
    pub(super) async fn fold_shard(&self, item: &Item) -> StoreResult<()> {
        let sum = shard_sum(item)?;
        let (Some(pk), Some(last)) = (text(item, attr::PK), text(item, LAST_POSITION)) else {
            return Err(StoreError::Backend("a figures shard item without its key or mark".into()));
        };
        let expires = (Utc::now() + chrono::Duration::days(FOLDED_KEPT_DAYS)).timestamp();
        let (adds, clause) = sum_adds(&sum, -1);
        let mut shard = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk.to_string(), pk.to_string())))
            .update_expression(format!("SET #expires = :expires ADD {clause} REMOVE #open_pk, #open_sk"))
            // Still open: a second sweep that read it before this fold finds it folded.
            .condition_expression("#last = :last AND attribute_exists(#open_pk)")
            .expression_attribute_names("#last", LAST_POSITION)
            .expression_attribute_names("#open_pk", attr::STATUS_PK)
            .expression_attribute_names("#open_sk", attr::STATUS_SK)
            .expression_attribute_names("#expires", attr::EXPIRES_AT)
            .expression_attribute_values(":last", s(last))
            .expression_attribute_values(":expires", n(expires));
        for (placeholder, name, value) in adds {
            shard = shard
                .expression_attribute_names(format!("#{placeholder}"), name)
                .expression_attribute_values(format!(":{placeholder}"), n(value));
        }
        let shard = shard.build().map_err(StoreError::backend)?;
        let mut items = vec![TxItem {
            write: TransactWriteItem::builder().update(shard).build(),
            role: Role::Requires(Refusal::VersionChanged),
        }];
        items.extend(self.base_additions(&sum)?);
        self.transact(items).await
    }

    /// The `ADD`s of `sum` to the base figures: its days, their months, its totals.
    fn base_additions(&self, sum: &NetworkSum) -> StoreResult<Vec<TxItem<'static>>> {
        let base = keys::network(0);
        let mut items = Vec::new();
        let mut months: BTreeMap<NaiveDate, Activity> = BTreeMap::new();
        for (day, activity) in &sum.days {
            items.push(TxItem::plain(self.counter(base.clone(), keys::day(*day), *day, activity, None, None)?));
            *months.entry(month_of(*day)).or_default() += *activity;
        }
        for (month, activity) in &months {
            items.push(TxItem::plain(self.counter(base.clone(), keys::month(*month), *month, activity, None, None)?));
        }
        if let Some(as_of) = sum.as_of {
            let totals = crate::domain::NetworkTotals {
                outstanding: sum.outstanding,
                promotional: sum.promotional,
                tiers: sum.tiers,
                as_of: Some(as_of),
            };
            items.push(self.totals(0, &totals, as_of)?);
        }
        Ok(items)
    }

    /// Adds `sum` to the base figures, a month of days at a time (a transaction holds at
    /// most 100 items): each part is whole, and a recount cut short is finished by running
    /// it again, which adds only the difference left.
    pub(super) async fn add_to_base(&self, sum: &NetworkSum) -> StoreResult<()> {
        let mut months: BTreeMap<NaiveDate, NetworkSum> = BTreeMap::new();
        for (day, activity) in &sum.days {
            months.entry(month_of(*day)).or_default().days.insert(*day, *activity);
        }
        for part in months.values() {
            self.transact(self.base_additions(part)?).await?;
        }
        let totals = NetworkSum { days: BTreeMap::new(), ..sum.clone() };
        self.transact(self.base_additions(&totals)?).await
    }

    /// Folds every shard item not written since `quiet_since`.
    pub(super) async fn fold_quiet(&self, quiet_since: DateTime<Utc>) -> StoreResult<usize> {
        let mut folded = 0;
        for item in self.open_shards().await? {
            let written = text(&item, "updated_at").and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            if written.is_some_and(|w| w.with_timezone(&Utc) < quiet_since) {
                match self.fold_shard(&item).await {
                    Ok(()) => folded += 1,
                    // Written or folded since it was read: the next sweep judges it again.
                    Err(StoreError::Refused(Refusal::VersionChanged) | StoreError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(folded)
    }
}

/// The attribute of a shard item holding its high-water mark: the stream position of the
/// last record added.
const LAST_POSITION: &str = "last_position";

/// How long a folded shard item keeps its high-water mark: past the stream's retention, no
/// window of it can come again.
const FOLDED_KEPT_DAYS: i64 = 2;
