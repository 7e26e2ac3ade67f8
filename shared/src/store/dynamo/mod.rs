//! The production store: one DynamoDB table (see `design.md`), items mapped with
//! `serde_dynamo`, keys from [`keys`](super::keys).

mod table;

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, PutRequest, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update, WriteRequest,
};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

pub use table::{ChangeStream, create_table};

use super::{
    Granularity, IdempotencyRecord, Page, PageRequest, ProfileUpdate, Refusal, ResellerFilter, Store, StoreError,
    StoreResult, Taken, WalletChange, backoff, decode_cursor, encode_cursor, keys,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::domain::{
    Activity, Client, DateRange, LedgerEntry, NetworkTotals, ProvisionedService, Reseller, Status, Tier, month_of,
};

/// Attribute names that are not fields of a domain type.
mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const TIER_PK: &str = "gsi1pk";
    pub const TIER_SK: &str = "gsi1sk";
    pub const STATUS_PK: &str = "gsi2pk";
    pub const STATUS_SK: &str = "gsi2sk";
    pub const DAY_PK: &str = "gsi3pk";
    pub const DAY_SK: &str = "gsi3sk";
    /// The table's TTL attribute (idempotency records).
    pub const EXPIRES_AT: &str = "expires_at";
}

type Item = HashMap<String, AttributeValue>;

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Serialises `value` and adds its key attributes: the one item mapping of this store.
fn item<T: Serialize>(value: &T, pk: String, sk: String) -> StoreResult<Item> {
    let mut item: Item = to_item(value).map_err(StoreError::backend)?;
    item.insert(attr::PK.into(), s(pk));
    item.insert(attr::SK.into(), s(sk));
    Ok(item)
}

fn parse<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    from_item(item).map_err(StoreError::backend)
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(attr::PK.into(), s(pk)), (attr::SK.into(), s(sk))])
}

fn reseller_item(r: &Reseller) -> StoreResult<Item> {
    let mut item = item(r, keys::reseller(&r.user_id), keys::PROFILE.into())?;
    let order = keys::reseller_order(&r.created_at, &r.user_id);
    item.insert(attr::TIER_PK.into(), s(keys::tier_partition(r.tier)));
    item.insert(attr::TIER_SK.into(), s(order.clone()));
    item.insert(attr::STATUS_PK.into(), s(keys::status_partition(r.status)));
    item.insert(attr::STATUS_SK.into(), s(order));
    Ok(item)
}

fn idempotency_item(owner: &str, record: &IdempotencyRecord) -> StoreResult<Item> {
    item(record, keys::reseller(owner), keys::idempotency(&record.key))
}

/// What each item of a transaction stands for, to read its cancellation reason.
#[derive(Clone, Copy)]
enum Role<'a> {
    /// The wallet of this user, written under this guard.
    Wallet(&'a str, &'a super::WalletGuard),
    /// The profile of this user, which must exist and be active.
    ActiveReseller(&'a str),
    /// An item that must not exist yet.
    Unique(Taken),
    /// An idempotency record that must not exist yet.
    IdempotencyKey,
    /// An item without a condition.
    Plain,
}

/// DynamoDB store over one table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: DynamoClient,
    table: String,
}

impl DynamoStore {
    /// A store over `table` with an SDK client built once per cold start.
    pub fn new(client: DynamoClient, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Loads the AWS configuration from the environment (region, credentials, and
    /// `AWS_ENDPOINT_URL_DYNAMODB` for an emulator) and builds the client.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(DynamoClient::new(&sdk), table)
    }

    /// The SDK client (to create tables in tests and tools).
    pub fn client(&self) -> &DynamoClient {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    fn put(&self, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_string))
            .build()
            .map_err(StoreError::backend)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// `ADD`s `activity` to the counter item `(pk, sk)` of `period`; a reseller's day item
    /// also joins the by-day index.
    fn counter(
        &self,
        pk: String,
        sk: String,
        period: NaiveDate,
        activity: &Activity,
        indexed_for: Option<&str>,
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
                .expression_attribute_values(":user", s(user))
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
    fn counters(&self, owner: &str, at: DateTime<Utc>, activity: &Activity) -> StoreResult<Vec<TransactWriteItem>> {
        let day = at.date_naive();
        let month = month_of(day);
        let shard = random_shard();
        Ok(vec![
            self.counter(keys::stats(owner), keys::day(day), day, activity, Some(owner))?,
            self.counter(keys::stats(owner), keys::month(month), month, activity, None)?,
            self.counter(keys::network(shard), keys::day(day), day, activity, None)?,
            self.counter(keys::network(shard), keys::month(month), month, activity, None)?,
        ])
    }

    /// `ADD`s to one random shard of the network totals: outstanding credits and tier counts.
    fn totals(&self, outstanding: i64, tiers: &[(Tier, i64)]) -> StoreResult<TransactWriteItem> {
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
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Every item a query yields, page after page.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> StoreResult<Vec<Item>> {
        query.into_paginator().items().send().try_collect().await.map_err(StoreError::backend)
    }

    /// Items by key (strongly consistent), unprocessed keys retried.
    async fn get_many(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(StoreError::backend)?;
            let mut attempt = 0;
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, wanted)
                    .send()
                    .await
                    .map_err(StoreError::backend)?;
                found.extend(out.responses.and_then(|mut m| m.remove(&self.table)).unwrap_or_default());
                match out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() && attempt < 10 => wanted = rest,
                    // Throttled past the retries: a partial read must not pass for missing items.
                    Some(rest) if !rest.keys().is_empty() => return Err(StoreError::Conflict),
                    _ => break,
                }
                backoff(attempt).await;
                attempt += 1;
            }
        }
        Ok(found)
    }

    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(out.item)
    }

    async fn transact(&self, items: Vec<TransactWriteItem>, roles: &[Role<'_>]) -> StoreResult<()> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.into_err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    Err(self.cancelled(c.cancellation_reasons(), roles).await)
                }
                TransactWriteItemsError::TransactionInProgressException(_) => Err(StoreError::Conflict),
                other => Err(StoreError::backend(other)),
            },
            Err(other) => Err(StoreError::backend(other)),
        }
    }

    /// The one place that turns DynamoDB's cancellation reasons (one per item, in order)
    /// into typed refusals. A duplicate idempotency key wins over everything: it is a replay.
    async fn cancelled(&self, reasons: &[CancellationReason], roles: &[Role<'_>]) -> StoreError {
        let failed = |r: &CancellationReason| r.code() == Some("ConditionalCheckFailed");
        let pairs = || roles.iter().zip(reasons);
        if pairs().any(|(role, r)| matches!(role, Role::IdempotencyKey) && failed(r)) {
            return StoreError::Refused(Refusal::Duplicate);
        }
        for (role, reason) in pairs().filter(|(_, r)| failed(r)) {
            match role {
                Role::Unique(taken) => return StoreError::Taken(*taken),
                Role::Wallet(user, guard) => {
                    return match self.old_profile(user, reason).await {
                        Ok(old) => match guard.check(old.as_ref()) {
                            Err(refusal) => StoreError::Refused(refusal),
                            // It held when read again: it was a passing change; retry.
                            Ok(()) => StoreError::Refused(Refusal::VersionChanged),
                        },
                        Err(e) => e,
                    };
                }
                Role::ActiveReseller(user) => {
                    return match self.old_profile(user, reason).await {
                        Ok(None) => StoreError::Refused(Refusal::Missing),
                        Ok(Some(r)) if r.status != Status::Active => StoreError::Refused(Refusal::Suspended),
                        Ok(Some(_)) => StoreError::Conflict,
                        Err(e) => e,
                    };
                }
                Role::IdempotencyKey | Role::Plain => {}
            }
        }
        if reasons.iter().any(|r| matches!(r.code(), Some("TransactionConflict") | Some("ThrottlingError"))) {
            return StoreError::Conflict;
        }
        let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("None").to_string()).collect();
        StoreError::Backend(format!("transaction cancelled: {codes:?}").into())
    }

    /// The profile as the failed condition saw it (ALL_OLD), or as it is now when the
    /// emulator does not return it.
    async fn old_profile(&self, user_id: &str, reason: &CancellationReason) -> StoreResult<Option<Reseller>> {
        match reason.item() {
            Some(item) if !item.is_empty() => parse(item.clone()).map(Some),
            _ => self.reseller(user_id).await,
        }
    }

    async fn query_page<T: DeserializeOwned>(
        &self,
        pk: String,
        prefix: &str,
        page: &PageRequest,
        id_of: impl Fn(&T) -> String,
    ) -> StoreResult<Page<T>> {
        let start = match &page.cursor {
            Some(c) => {
                let after = decode_cursor(c)?.remove("after").ok_or(StoreError::InvalidCursor)?;
                Some(key(pk.clone(), format!("{prefix}{after}")))
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .set_exclusive_start_key(start);
        newest_first(query, page.limit, |last: &T| BTreeMap::from([("after".to_string(), id_of(last))])).await
    }

    /// Pre-checked clients and services: batches of 25, a few in flight, unprocessed
    /// items retried. Puts overwrite, so writing the same items again changes nothing.
    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        let requests: Vec<WriteRequest> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(StoreError::backend)
            })
            .collect::<StoreResult<_>>()?;
        let chunks: Vec<Vec<WriteRequest>> = requests.chunks(25).map(<[_]>::to_vec).collect();
        futures::stream::iter(chunks.into_iter().map(|chunk| self.batch_chunk(chunk)))
            .buffer_unordered(4)
            .try_collect::<()>()
            .await
    }

    async fn batch_chunk(&self, mut chunk: Vec<WriteRequest>) -> StoreResult<()> {
        for attempt in 0..10 {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, chunk)
                .send()
                .await
                .map_err(StoreError::backend)?;
            chunk = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
            if chunk.is_empty() {
                return Ok(());
            }
            backoff(attempt).await;
        }
        Err(StoreError::Conflict)
    }
}

/// A counter item (per reseller or per network shard, per day or month) as stored.
#[derive(Deserialize)]
struct CounterItem {
    period: NaiveDate,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    credits_added: i64,
    #[serde(default)]
    credits_spent: i64,
    #[serde(default)]
    provisions: i64,
    #[serde(default)]
    acquisitions: i64,
}

impl CounterItem {
    fn activity(&self) -> Activity {
        Activity {
            credits_added: self.credits_added,
            credits_spent: self.credits_spent,
            provisions: self.provisions,
            acquisitions: self.acquisitions,
        }
    }
}

/// One shard of the network's running totals as stored.
#[derive(Deserialize)]
struct TotalsItem {
    #[serde(default)]
    outstanding: i64,
    #[serde(default)]
    tier_standard: i64,
    #[serde(default)]
    tier_gold: i64,
    #[serde(default)]
    tier_platinum: i64,
}

fn tier_attribute(tier: Tier) -> &'static str {
    match tier {
        Tier::Standard => "tier_standard",
        Tier::Gold => "tier_gold",
        Tier::Platinum => "tier_platinum",
    }
}

fn random_shard() -> u8 {
    rand::random_range(0..keys::NETWORK_SHARDS)
}

/// Runs `query` newest first for one page: reads `limit + 1` items and keeps `limit`; the
/// extra one only says a next page exists, so the last page has no cursor.
async fn newest_first<T: DeserializeOwned>(
    query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    limit: u16,
    cursor_of: impl Fn(&T) -> BTreeMap<String, String>,
) -> StoreResult<Page<T>> {
    let out = query.scan_index_forward(false).limit(i32::from(limit) + 1).send().await.map_err(StoreError::backend)?;
    let mut items: Vec<T> = out.items.unwrap_or_default().into_iter().map(parse).collect::<StoreResult<_>>()?;
    let more = items.len() > usize::from(limit);
    items.truncate(usize::from(limit));
    let next_cursor = if more { items.last().map(|last| encode_cursor(&cursor_of(last))) } else { None };
    Ok(Page { items, next_cursor })
}

impl Store for DynamoStore {
    async fn insert_reseller(&self, reseller: &Reseller) -> StoreResult<()> {
        let refid = HashMap::from([
            (attr::PK.to_string(), s(keys::refid(&reseller.refid))),
            (attr::SK.to_string(), s(keys::REFID)),
            ("user_id".to_string(), s(reseller.user_id.clone())),
        ]);
        let items = vec![
            self.put(reseller_item(reseller)?, Some("attribute_not_exists(pk)"))?,
            self.put(refid, Some("attribute_not_exists(pk)"))?,
            self.totals(0, &[(reseller.tier, 1)])?,
        ];
        self.transact(items, &[Role::Unique(Taken::User), Role::Unique(Taken::Refid), Role::Plain]).await
    }

    async fn reseller(&self, user_id: &str) -> StoreResult<Option<Reseller>> {
        self.get(key(keys::reseller(user_id), keys::PROFILE)).await?.map(parse).transpose()
    }

    async fn reseller_by_refid(&self, refid: &str) -> StoreResult<Option<Reseller>> {
        let pointer = self.get(key(keys::refid(refid), keys::REFID)).await?;
        let user = pointer.as_ref().and_then(|i| i.get("user_id")).and_then(|v| v.as_s().ok());
        match user {
            Some(user) => self.reseller(user).await,
            None => Ok(None),
        }
    }

    async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
        let (index, pk_attr, sk_attr, partition) = match filter {
            ResellerFilter::Tier(t) => (keys::BY_TIER_INDEX, attr::TIER_PK, attr::TIER_SK, keys::tier_partition(t)),
            ResellerFilter::Status(st) => {
                (keys::BY_STATUS_INDEX, attr::STATUS_PK, attr::STATUS_SK, keys::status_partition(st))
            }
        };
        let start = match &page.cursor {
            Some(c) => {
                let after = decode_cursor(c)?.remove("after").ok_or(StoreError::InvalidCursor)?;
                let (_, user) = after.rsplit_once('#').ok_or(StoreError::InvalidCursor)?;
                let mut start = key(keys::reseller(user), keys::PROFILE);
                start.insert(pk_attr.into(), s(partition.clone()));
                start.insert(sk_attr.into(), s(after.clone()));
                Some(start)
            }
            None => None,
        };
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", s(partition))
            .set_exclusive_start_key(start);
        newest_first(query, page.limit, |r: &Reseller| {
            BTreeMap::from([("after".to_string(), keys::reseller_order(&r.created_at, &r.user_id))])
        })
        .await
    }

    async fn update_profile(&self, user_id: &str, update: &ProfileUpdate) -> StoreResult<Reseller> {
        let metadata = to_item(&update.metadata).map_err(StoreError::backend)?;
        let profile = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user_id), keys::PROFILE)))
            .update_expression(
                "SET #tier = :tier, #status = :status, #hold = :hold, #metadata = :metadata, \
                 #updated_at = :at, #version = #version + :one, #tier_pk = :tier_pk, #status_pk = :status_pk",
            )
            .condition_expression("#version = :version")
            .expression_attribute_names("#tier", "tier")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#hold", "hold_provisioning")
            .expression_attribute_names("#metadata", "metadata")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#tier_pk", attr::TIER_PK)
            .expression_attribute_names("#status_pk", attr::STATUS_PK)
            .expression_attribute_values(":tier", s(update.tier.as_str()))
            .expression_attribute_values(":status", s(update.status.as_str()))
            .expression_attribute_values(":hold", AttributeValue::Bool(update.hold_provisioning))
            .expression_attribute_values(":metadata", AttributeValue::M(metadata))
            .expression_attribute_values(":at", to_attr(&update.at)?)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":version", n(update.expected_version))
            .expression_attribute_values(":tier_pk", s(keys::tier_partition(update.tier)))
            .expression_attribute_values(":status_pk", s(keys::status_partition(update.status)))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![TransactWriteItem::builder().update(profile).build()];
        if update.previous_tier != update.tier {
            items.push(self.totals(0, &[(update.previous_tier, -1), (update.tier, 1)])?);
        }
        // Only the version matters here: the guard then reports a missing reseller or a race.
        let guard = super::WalletGuard {
            version: update.expected_version,
            require_active: false,
            require_no_hold: false,
            tier: None,
            min_balance: i64::MIN,
        };
        self.transact(items, &[Role::Wallet(user_id, &guard), Role::Plain]).await?;
        self.reseller(user_id).await?.ok_or(StoreError::Refused(Refusal::Missing))
    }

    async fn wallet(
        &self,
        user_id: &str,
        idempotency_key: &str,
    ) -> StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)> {
        let pk = keys::reseller(user_id);
        let found =
            self.get_many(vec![key(pk.clone(), keys::PROFILE), key(pk, keys::idempotency(idempotency_key))]).await?;
        let mut profile = None;
        let mut record = None;
        for item in found {
            match item.get(attr::SK).and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some(keys::PROFILE) => profile = Some(parse(item)?),
                _ => record = Some(parse(item)?),
            }
        }
        Ok((profile, record))
    }

    async fn commit_wallet_change(&self, change: &WalletChange) -> StoreResult<()> {
        let guard = &change.guard;
        let mut condition = String::from("#version = :version AND #balance >= :min");
        if guard.require_active {
            condition.push_str(" AND #status = :active");
        }
        if guard.require_no_hold {
            condition.push_str(" AND #hold = :false");
        }
        if guard.tier.is_some() {
            condition.push_str(" AND #tier = :tier");
        }
        let mut names = HashMap::from([
            ("#version", "version"),
            ("#balance", "balance"),
            ("#wallet_open", "wallet_open"),
            ("#updated_at", "updated_at"),
            ("#credits_added", "credits_added"),
            ("#credits_spent", "credits_spent"),
            ("#provisions", "provisions"),
            ("#clients", "clients"),
        ]);
        let mut values = HashMap::from([
            (":version", n(guard.version)),
            (":new_version", n(guard.version + 1)),
            (":min", n(guard.min_balance)),
            (":balance", n(change.new_balance)),
            (":true", AttributeValue::Bool(true)),
            (":at", to_attr(&change.at)?),
            (":added", n(change.activity.credits_added)),
            (":spent", n(change.activity.credits_spent)),
            (":provisions", n(change.activity.provisions)),
            (":clients", n(change.activity.acquisitions)),
        ]);
        if guard.require_active {
            names.insert("#status", "status");
            values.insert(":active", s(Status::Active.as_str()));
        }
        if guard.require_no_hold {
            names.insert("#hold", "hold_provisioning");
            values.insert(":false", AttributeValue::Bool(false));
        }
        if let Some(tier) = guard.tier {
            names.insert("#tier", "tier");
            values.insert(":tier", s(tier.as_str()));
        }
        let wallet = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(&change.user_id), keys::PROFILE)))
            .update_expression(
                "SET #balance = :balance, #version = :new_version, #wallet_open = :true, #updated_at = :at \
                 ADD #credits_added :added, #credits_spent :spent, #provisions :provisions, #clients :clients",
            )
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names.into_iter().map(|(k, v)| (k.into(), v.into())).collect()))
            .set_expression_attribute_values(Some(values.into_iter().map(|(k, v)| (k.into(), v)).collect()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let owner = keys::reseller(&change.user_id);
        let mut items = vec![
            TransactWriteItem::builder().update(wallet).build(),
            self.put(item(&change.entry, owner.clone(), keys::ledger_entry(&change.entry.id))?, None)?,
            self.put(idempotency_item(&change.user_id, &change.idempotency)?, Some("attribute_not_exists(pk)"))?,
        ];
        let mut roles = vec![Role::Wallet(&change.user_id, guard), Role::Plain, Role::IdempotencyKey];
        items.extend(self.counters(&change.user_id, change.at, &change.activity)?);
        items.push(self.totals(change.entry.delta(), &[])?);
        if let Some(service) = &change.service {
            items.push(self.put(item(service, owner, keys::service(&service.id))?, None)?);
        }
        roles.resize(items.len(), Role::Plain);
        self.transact(items, &roles).await
    }

    async fn finish_idempotency(&self, user_id: &str, key_name: &str, response: &str) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user_id), keys::idempotency(key_name))))
            .update_expression("SET #state = :done, #response = :response")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":done", to_attr(&super::IdempotencyState::Done)?)
            .expression_attribute_values(":response", s(response))
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let owner = keys::reseller(&client.owner_id);
        let count = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(owner.clone(), keys::PROFILE)))
            .update_expression("ADD #clients :one")
            .condition_expression("attribute_exists(#pk) AND #status = :active")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#clients", "clients")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":active", s(Status::Active.as_str()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(StoreError::backend)?;
        let mut items = vec![
            self.put(item(client, owner, keys::client(&client.id))?, Some("attribute_not_exists(pk)"))?,
            TransactWriteItem::builder().update(count).build(),
        ];
        let acquisition = Activity { acquisitions: 1, ..Activity::default() };
        items.extend(self.counters(&client.owner_id, client.created_at, &acquisition)?);
        let mut roles = vec![Role::Unique(Taken::Client), Role::ActiveReseller(&client.owner_id)];
        roles.resize(items.len(), Role::Plain);
        self.transact(items, &roles).await
    }

    async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
        let mut items = Vec::with_capacity(clients.len() + services.len());
        for c in clients {
            items.push(item(c, keys::reseller(&c.owner_id), keys::client(&c.id))?);
        }
        for sv in services {
            items.push(item(sv, keys::reseller(&sv.owner_id), keys::service(&sv.id))?);
        }
        self.batch_put(items).await
    }

    async fn client(&self, owner_id: &str, client_id: &str) -> StoreResult<Option<Client>> {
        self.get(key(keys::reseller(owner_id), keys::client(client_id))).await?.map(parse).transpose()
    }

    async fn clients(&self, owner_id: &str, page: &PageRequest) -> StoreResult<Page<Client>> {
        self.query_page(keys::reseller(owner_id), keys::CLIENT_PREFIX, page, |c: &Client| c.id.clone()).await
    }

    async fn services(&self, owner_id: &str, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
        self.query_page(keys::reseller(owner_id), keys::SERVICE_PREFIX, page, |sv: &ProvisionedService| sv.id.clone())
            .await
    }

    async fn ledger(&self, owner_id: &str, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
        self.query_page(keys::reseller(owner_id), keys::LEDGER_PREFIX, page, |e: &LedgerEntry| e.id.clone()).await
    }

    async fn activity(
        &self,
        owner_id: Option<&str>,
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

    async fn active_on(&self, day: NaiveDate) -> StoreResult<Vec<(String, Activity)>> {
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
                let user = counter.user_id.clone().ok_or(StoreError::Backend("counter item without user_id".into()))?;
                Ok((user, counter.activity()))
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

    async fn resellers_by_user(&self, user_ids: &[String]) -> StoreResult<Vec<Reseller>> {
        let wanted = user_ids.iter().map(|u| key(keys::reseller(u), keys::PROFILE)).collect();
        self.get_many(wanted).await?.into_iter().map(parse).collect()
    }

    async fn claim(&self, claim_key: &str) -> StoreResult<bool> {
        let pk = keys::claim(claim_key);
        let expires = (Utc::now() + chrono::Duration::days(super::CLAIM_DAYS)).timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(pk.clone(), pk)))
            .item(attr::EXPIRES_AT, n(expires))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) => match err.into_service_error() {
                e if e.is_conditional_check_failed_exception() => Ok(false),
                e => Err(StoreError::backend(e)),
            },
        }
    }

    async fn release(&self, claim_key: &str) -> StoreResult<()> {
        let pk = keys::claim(claim_key);
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk.clone(), pk)))
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }

    async fn checkpoint(&self, name: &str) -> StoreResult<Option<String>> {
        let pk = keys::checkpoint(name);
        let item = self.get(key(pk.clone(), pk)).await?;
        Ok(item.and_then(|i| i.get("value").and_then(|v| v.as_s().ok()).cloned()))
    }

    async fn save_checkpoint(&self, name: &str, value: &str) -> StoreResult<()> {
        let pk = keys::checkpoint(name);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(pk.clone(), pk)))
            .item("value", s(value))
            .send()
            .await
            .map_err(StoreError::backend)?;
        Ok(())
    }
}

fn to_attr<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(StoreError::backend)
}
