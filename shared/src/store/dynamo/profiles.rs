//! Reseller profiles: onboarding (profile + refid, both or neither), lookups, the index
//! lists, and admin changes under the version read.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::hierarchy::child_of;
use super::item::{
    Item, MetadataItem, attr, key, metadata_item, n, parse, refid_item, reseller_item, s, sort_key, to_attr,
};
use super::paging::newest_first;
use super::transaction::{Role, TxItem, guard_condition};
use super::{DynamoStore, failure};
use crate::domain::{METADATA_MAX_BYTES, Metadata, MetadataPatch, RefId, Reseller, UserId};
use crate::store::{
    MetadataPatched, Page, PageRequest, ParentLink, ProfileUpdate, Profiles, Refusal, ResellerFilter, StoreError,
    StoreResult, Taken, WithMetadata, decode_cursor, keys,
};

impl Profiles for DynamoStore {
    async fn insert_reseller(&self, reseller: &Reseller, parent: Option<&ParentLink>) -> StoreResult<()> {
        let items = vec![
            TxItem {
                write: self.put(reseller_item(reseller)?, Some("attribute_not_exists(pk)"))?,
                role: Role::Unique(Taken::User),
            },
            TxItem {
                write: self.put(refid_item(reseller), Some("attribute_not_exists(pk)"))?,
                role: Role::Unique(Taken::Refid),
            },
        ];
        let mut items = items;
        if let Some(link) = parent {
            items.extend(self.link_items(&child_of(reseller), link)?);
        }
        // Every reseller has a metadata item, so a patch of it is one update.
        items.push(TxItem::plain(self.put(metadata_item(&reseller.user_id, &reseller.metadata, 1)?, None)?));
        self.transact(items).await
    }

    async fn reseller(&self, user_id: &UserId) -> StoreResult<Option<Reseller>> {
        Ok(self.with_metadata(user_id).await?.map(|read| read.reseller))
    }

    async fn with_metadata(&self, user_id: &UserId) -> StoreResult<Option<WithMetadata>> {
        let pk = keys::reseller(user_id);
        let mut profile: Option<Reseller> = None;
        let mut metadata: Option<MetadataItem> = None;
        for found in self.get_many(vec![key(pk.clone(), keys::PROFILE), key(pk, keys::METADATA)]).await? {
            match sort_key(&found) {
                Some(keys::PROFILE) => profile = Some(self.with_lots_beside(found).await?),
                _ => metadata = Some(parse(found)?),
            }
        }
        Ok(profile.map(|mut reseller| {
            // A profile written before metadata had an item of its own keeps it inline
            // until its first metadata change.
            let metadata_version = match metadata {
                Some(item) => {
                    reseller.metadata = item.metadata;
                    item.version
                }
                None => 0,
            };
            WithMetadata { reseller, metadata_version }
        }))
    }

    async fn put_metadata(&self, user_id: &UserId, expected: u64, metadata: &Metadata) -> StoreResult<()> {
        // One conditional put of the one item (a transaction would cost twice the units).
        let condition = if expected == 0 { "attribute_not_exists(pk)" } else { "version = :expected" };
        let written = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(metadata_item(user_id, metadata, expected + 1)?))
            .condition_expression(condition)
            .set_expression_attribute_values(
                (expected > 0).then(|| HashMap::from([(":expected".to_string(), n(expected))])),
            )
            .send()
            .await;
        match written {
            Ok(_) => Ok(()),
            Err(e) => match e.into_service_error() {
                PutItemError::ConditionalCheckFailedException(_) => Err(StoreError::Refused(Refusal::VersionChanged)),
                e => Err(failure(e)),
            },
        }
    }

    async fn patch_metadata(
        &self,
        user_id: &UserId,
        patch: &MetadataPatch,
        growth: usize,
    ) -> StoreResult<MetadataPatched> {
        // Each key set or removed in place; the size bound grows by the most the patch can
        // add, and the condition keeps it within the limit: what this admits always fits.
        let mut names = HashMap::from([
            ("#m".to_string(), "metadata".to_string()),
            ("#bytes".to_string(), attr::METADATA_BYTES.to_string()),
            ("#version".to_string(), "version".to_string()),
        ]);
        let mut values = HashMap::from([
            (":growth".to_string(), n(growth)),
            (":room".to_string(), n(METADATA_MAX_BYTES.saturating_sub(growth))),
            (":one".to_string(), n(1)),
        ]);
        let mut set = vec!["#bytes = #bytes + :growth".to_string(), "#version = #version + :one".to_string()];
        let mut remove = Vec::new();
        for (i, (name, value)) in patch.iter().enumerate() {
            names.insert(format!("#k{i}"), name.to_string());
            match value {
                Some(value) => {
                    values.insert(format!(":v{i}"), to_attr(value)?);
                    set.push(format!("#m.#k{i} = :v{i}"));
                }
                None => remove.push(format!("#m.#k{i}")),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user_id), keys::METADATA)))
            .update_expression(expression)
            .condition_expression("#bytes <= :room")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let written: MetadataItem = parse(out.attributes.unwrap_or_default())?;
                Ok(MetadataPatched::Written(written.metadata))
            }
            Err(e) => match e.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let found = failed.item.map(parse::<MetadataItem>).transpose()?;
                    Ok(MetadataPatched::Unproven(found.map(|item| (item.metadata, item.version))))
                }
                e => Err(failure(e)),
            },
        }
    }

    async fn user_by_refid(&self, refid: &RefId) -> StoreResult<Option<UserId>> {
        let pointer = self.get(key(keys::refid(refid), keys::REFID)).await?;
        let user = pointer.as_ref().and_then(|i| i.get("user_id")).and_then(|v| v.as_s().ok());
        match user.map(UserId::parse) {
            Some(Ok(user)) => Ok(Some(user)),
            Some(Err(_)) => Err(StoreError::Backend("a refid item points at a malformed user id".into())),
            None => Ok(None),
        }
    }

    async fn resellers_by_user(&self, user_ids: &[UserId]) -> StoreResult<Vec<Reseller>> {
        let wanted = user_ids.iter().map(|u| key(keys::reseller(u), keys::PROFILE)).collect();
        self.get_many(wanted).await?.into_iter().map(parse).collect()
    }

    async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
        // Tier and status together: the tier's partition, filtered by status (the pages are
        // filled on from `LastEvaluatedKey` when the filter drops items).
        let (index, pk_attr, sk_attr, partition, status) = match filter {
            ResellerFilter::Tier(t) => {
                (keys::BY_TIER_INDEX, attr::TIER_PK, attr::TIER_SK, keys::tier_partition(t), None)
            }
            ResellerFilter::TierAndStatus(t, st) => {
                (keys::BY_TIER_INDEX, attr::TIER_PK, attr::TIER_SK, keys::tier_partition(t), Some(st))
            }
            ResellerFilter::Status(st) => {
                (keys::BY_STATUS_INDEX, attr::STATUS_PK, attr::STATUS_SK, keys::status_partition(st), None)
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
        let query = match status {
            Some(status) => query
                .filter_expression("#status = :status")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":status", s(status.as_str())),
            None => query,
        };
        // The index holds the keys (and the status a tier list filters on): the profiles are
        // read by key, in the index's order.
        let keys = newest_first(query, page.limit, Ok, |found: &Item| {
            let order = found.get(sk_attr).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            BTreeMap::from([("after".to_string(), order)])
        })
        .await?;
        let order: Vec<String> =
            keys.items.iter().filter_map(|k| k.get(attr::PK).and_then(|v| v.as_s().ok()).cloned()).collect();
        let wanted = order.iter().map(|pk| key(pk.clone(), keys::PROFILE)).collect();
        let mut profiles: HashMap<String, Reseller> = HashMap::new();
        for found in self.get_many(wanted).await? {
            let r: Reseller = parse(found)?;
            profiles.insert(keys::reseller(&r.user_id), r);
        }
        let items = order.iter().filter_map(|pk| profiles.remove(pk)).collect();
        Ok(Page { items, next_cursor: keys.next_cursor })
    }

    async fn update_profile(&self, user_id: &UserId, update: &ProfileUpdate) -> StoreResult<Reseller> {
        let condition = guard_condition(&update.guard);
        // One item: a plain conditional update that answers the new profile, no re-read.
        let reason = update.hold_reason.map(|r| to_attr(&r)).transpose()?;
        let mut values = condition.values;
        if let Some(reason) = &reason {
            values.insert(":reason".into(), reason.clone());
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user_id), keys::PROFILE)))
            .update_expression(match reason {
                Some(_) => {
                    "SET #tier_attr = :tier_new, #status_attr = :status_new, #hold_attr = :hold, \
                     #updated_at = :at, #version_attr = #version_attr + :one, #tier_pk = :tier_pk, \
                     #status_pk = :status_pk, #hold_reason = :reason, #alerts = :alerts"
                }
                _ => {
                    "SET #tier_attr = :tier_new, #status_attr = :status_new, #hold_attr = :hold, \
                     #updated_at = :at, #version_attr = #version_attr + :one, #tier_pk = :tier_pk, \
                     #status_pk = :status_pk, #alerts = :alerts REMOVE #hold_reason"
                }
            })
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(values))
            .expression_attribute_names("#tier_attr", "tier")
            .expression_attribute_names("#status_attr", "status")
            .expression_attribute_names("#hold_attr", "hold_provisioning")
            .expression_attribute_names("#hold_reason", "hold_reason")
            .expression_attribute_names("#updated_at", "updated_at")
            .expression_attribute_names("#version_attr", "version")
            .expression_attribute_names("#tier_pk", attr::TIER_PK)
            .expression_attribute_names("#status_pk", attr::STATUS_PK)
            .expression_attribute_values(":tier_new", s(update.tier.as_str()))
            .expression_attribute_values(":status_new", s(update.status.as_str()))
            .expression_attribute_values(":hold", AttributeValue::Bool(update.hold_provisioning))
            .expression_attribute_values(":at", to_attr(&update.at)?)
            .expression_attribute_names("#alerts", "alerts")
            .expression_attribute_values(":alerts", to_attr(&update.alerts)?)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":tier_pk", s(keys::tier_partition(update.tier)))
            .expression_attribute_values(":status_pk", s(keys::status_partition(update.status)))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => out.attributes.map(parse).transpose()?.ok_or(StoreError::Refused(Refusal::Missing)),
            Err(err) => Err(self.wallet_update_failed(user_id, &update.guard, err.into_service_error()).await),
        }
    }
}
