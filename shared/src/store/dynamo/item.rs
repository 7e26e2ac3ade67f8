//! Items of the single table: attribute names beside the domain fields, and the one
//! mapping between domain types and DynamoDB items (`serde_dynamo` plus the key attributes
//! from [`keys`](crate::store::keys)).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::NaiveDate;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_item};

use crate::domain::{Activity, IdempotencyKey, Metadata, Reseller, Tier, UserId, metadata_bytes};
use crate::store::{IdempotencyRecord, StoreError, StoreResult, keys};

/// Attribute names that are not fields of a domain type.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const TIER_PK: &str = "gsi1pk";
    pub const TIER_SK: &str = "gsi1sk";
    pub const STATUS_PK: &str = "gsi2pk";
    pub const STATUS_SK: &str = "gsi2sk";
    pub const DAY_PK: &str = "gsi3pk";
    pub const DAY_SK: &str = "gsi3sk";
    pub const MONTH_PK: &str = "gsi4pk";
    pub const MONTH_SK: &str = "gsi4sk";
    /// On a profile: how many open lots wait beside the wallet (a read queries them only
    /// when some do).
    pub const LOTS_BESIDE: &str = "lots_beside";
    /// On a metadata item: a bound of its metadata's serialised size, never below it.
    pub const METADATA_BYTES: &str = "bytes";
    /// The table's TTL attribute (idempotency records, claims).
    pub const EXPIRES_AT: &str = "expires_at";
}

/// One item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Any serialisable value as one attribute.
pub fn to_attr<T: Serialize>(value: &T) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(value).map_err(StoreError::backend)
}

/// Serialises `value` and adds its key attributes.
pub fn item<T: Serialize>(value: &T, pk: String, sk: String) -> StoreResult<Item> {
    let mut item: Item = to_item(value).map_err(StoreError::backend)?;
    item.insert(attr::PK.into(), s(pk));
    item.insert(attr::SK.into(), s(sk));
    Ok(item)
}

/// A domain value from its item.
pub fn parse<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    from_item(item).map_err(StoreError::backend)
}

/// The reseller whose partition `item` is in.
pub fn owner_of(item: &Item) -> StoreResult<UserId> {
    item.get(attr::PK)
        .and_then(|v| v.as_s().ok())
        .and_then(|pk| pk.strip_prefix(keys::RESELLER_PREFIX))
        .map(UserId::parse)
        .transpose()
        .map_err(StoreError::backend)?
        .ok_or_else(|| StoreError::Backend("an item outside a reseller's partition".into()))
}

/// The key attributes of an item.
pub fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(attr::PK.into(), s(pk)), (attr::SK.into(), s(sk))])
}

/// The sort key of an item, to tell what it is.
pub fn sort_key(item: &Item) -> Option<&str> {
    item.get(attr::SK).and_then(|v| v.as_s().ok()).map(String::as_str)
}

/// The profile + wallet item, with the keys of both reseller indexes. The metadata is not
/// in it: it has an item of its own ([`metadata_item`]).
pub fn reseller_item(r: &Reseller) -> StoreResult<Item> {
    let mut item = item(r, keys::reseller(&r.user_id), keys::PROFILE.into())?;
    item.remove("metadata");
    let order = keys::reseller_order(&r.created_at, &r.user_id);
    item.insert(attr::TIER_PK.into(), s(keys::tier_partition(r.tier)));
    item.insert(attr::TIER_SK.into(), s(order.clone()));
    item.insert(attr::STATUS_PK.into(), s(keys::status_partition(r.status)));
    item.insert(attr::STATUS_SK.into(), s(order));
    Ok(item)
}

/// The whitelabel metadata of a reseller, at `version`, with its serialised size: the
/// bound a patch written in one update grows (see `patch_metadata`), exact after a put.
pub fn metadata_item(owner: &UserId, metadata: &Metadata, version: u64) -> StoreResult<Item> {
    let mut item = key(keys::reseller(owner), keys::METADATA);
    item.insert("metadata".into(), to_attr(metadata)?);
    item.insert("version".into(), n(version));
    item.insert(attr::METADATA_BYTES.into(), n(metadata_bytes(metadata)));
    Ok(item)
}

/// The metadata item as stored.
#[derive(Deserialize)]
pub struct MetadataItem {
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub version: u64,
}

/// The item that reserves a refid for its reseller.
pub fn refid_item(r: &Reseller) -> Item {
    let mut item = key(keys::refid(&r.refid), keys::REFID);
    item.insert("user_id".into(), s(r.user_id.as_str()));
    item
}

/// The key of an idempotency record in its owner's partition.
pub fn idempotency_key(owner: &UserId, key_name: &IdempotencyKey) -> Item {
    key(keys::reseller(owner), keys::idempotency(key_name.as_str()))
}

/// An idempotency record, in its owner's partition.
pub fn idempotency_item(owner: &UserId, record: &IdempotencyRecord) -> StoreResult<Item> {
    let mut stored = item(record, keys::reseller(owner), keys::idempotency(record.key.as_str()))?;
    if record.pending_fill.is_some() {
        // In the sparse partition of pending fills of the `by-status` index until done.
        stored.insert(attr::STATUS_PK.into(), s(keys::sparse(keys::PENDING_FILLS, owner)));
        stored.insert(attr::STATUS_SK.into(), s(keys::pending_fill_order(&record.created_at, owner)));
    }
    Ok(stored)
}

/// A counter item (per reseller or per network shard, per day or month) as stored.
#[derive(Deserialize)]
pub struct CounterItem {
    pub period: NaiveDate,
    #[serde(default)]
    pub user_id: Option<UserId>,
    #[serde(default)]
    credits_added: i64,
    #[serde(default)]
    credits_spent: i64,
    #[serde(default)]
    provisions: i64,
    #[serde(default)]
    acquisitions: i64,
    #[serde(default)]
    credits_expired: i64,
}

impl CounterItem {
    /// The counted activity.
    pub fn activity(&self) -> Activity {
        Activity {
            credits_added: self.credits_added,
            credits_spent: self.credits_spent,
            provisions: self.provisions,
            acquisitions: self.acquisitions,
            credits_expired: self.credits_expired,
        }
    }
}

/// Prefixes of a day counter's accrual attributes, each followed by the parent's refid.
pub const ACCRUED_SPENT: &str = "accrued_spent:";
pub const ACCRUED_PROMOTIONAL: &str = "accrued_promotional:";
pub const ACCRUED_SPENDS: &str = "accrued_spends:";

/// The commissions a day counter item has accrued, one per parent its spends named.
pub fn accruals(item: &Item) -> StoreResult<Vec<crate::domain::Accrual>> {
    let number = |name: String| -> StoreResult<i64> {
        match item.get(&name) {
            None => Ok(0),
            Some(value) => value
                .as_n()
                .ok()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| StoreError::Backend(format!("{name} is not a whole number").into())),
        }
    };
    let mut out = Vec::new();
    for name in item.keys() {
        let Some(parent) = name.strip_prefix(ACCRUED_SPENT) else { continue };
        let parent = crate::domain::RefId::parse(parent)
            .map_err(|_| StoreError::Backend(format!("{name}: not a refid").into()))?;
        out.push(crate::domain::Accrual {
            spent: number(format!("{ACCRUED_SPENT}{parent}"))?,
            promotional: number(format!("{ACCRUED_PROMOTIONAL}{parent}"))?,
            spends: number(format!("{ACCRUED_SPENDS}{parent}"))?,
            parent,
        });
    }
    out.sort_by(|a, b| a.parent.cmp(&b.parent));
    Ok(out)
}

/// One shard of the network's running totals as stored.
#[derive(Deserialize)]
pub struct TotalsItem {
    #[serde(default)]
    pub outstanding: i64,
    #[serde(default)]
    pub promotional: i64,
    #[serde(default)]
    pub tier_standard: i64,
    #[serde(default)]
    pub tier_gold: i64,
    #[serde(default)]
    pub tier_platinum: i64,
    #[serde(default)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

/// The attribute of a totals shard that counts resellers of `tier`.
pub fn tier_attribute(tier: Tier) -> &'static str {
    match tier {
        Tier::Standard => "tier_standard",
        Tier::Gold => "tier_gold",
        Tier::Platinum => "tier_platinum",
    }
}
