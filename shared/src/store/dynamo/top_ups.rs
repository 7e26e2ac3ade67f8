//! Growth: the auto top-up rule on the wallet item under its version, requests as items of
//! their own (a pending one also in the sparse `TOPUP#PENDING` partition of `by-status`);
//! upgrade suggestions, one item per reseller and month.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{attr, item, key, n, parse, s, to_attr};
use super::transaction::{Role, TxItem, guard_condition};
use super::{DynamoStore, failure};
use crate::domain::{AutoTopUp, Guard, Refusal, TopUpRequest, TopUpStatus, UpgradeSuggestion, UserId};
use crate::store::{StoreError, StoreResult, TopUps, Upgrades, keys};

impl DynamoStore {
    /// A request as stored: opened (it must not exist yet, and is listed as pending) or
    /// closed (it must still be pending, and leaves the list since the put replaces it).
    pub(super) fn top_up_write(&self, request: &TopUpRequest) -> StoreResult<TxItem<'static>> {
        let mut stored = item(request, keys::reseller(&request.owner_id), keys::top_up(&request.id))?;
        let put = Put::builder().table_name(&self.table);
        let put = if request.status == TopUpStatus::Pending {
            stored.insert(attr::STATUS_PK.into(), s(keys::sparse(keys::PENDING_TOP_UPS, &request.owner_id)));
            let order = keys::pending_top_up_order(&request.requested_at, &request.owner_id, &request.id);
            stored.insert(attr::STATUS_SK.into(), s(order));
            put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", attr::PK)
        } else {
            put.condition_expression("#request_status = :pending")
                .expression_attribute_names("#request_status", "status")
                .expression_attribute_values(":pending", to_attr(&TopUpStatus::Pending)?)
        };
        let write = TransactWriteItem::builder().put(put.set_item(Some(stored)).build().map_err(StoreError::backend)?);
        Ok(TxItem { write: write.build(), role: Role::Requires(Refusal::VersionChanged) })
    }
}

impl TopUps for DynamoStore {
    async fn put_auto_top_up(
        &self,
        user_id: &UserId,
        version: u64,
        state: Option<&AutoTopUp>,
        closed: Option<&TopUpRequest>,
    ) -> StoreResult<()> {
        let guard = Guard::Profile { version };
        let condition = guard_condition(&guard);
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(user_id), keys::PROFILE)))
            .condition_expression(condition.text)
            .set_expression_attribute_names(Some(condition.names))
            .set_expression_attribute_values(Some(condition.values))
            .expression_attribute_names("#auto_top_up", "auto_top_up")
            .expression_attribute_names("#version_attr", "version")
            .expression_attribute_values(":one", n(1));
        let update = match state {
            Some(state) => update
                .update_expression("SET #auto_top_up = :auto_top_up, #version_attr = #version_attr + :one")
                .expression_attribute_values(":auto_top_up", to_attr(state)?),
            None => update.update_expression("SET #version_attr = #version_attr + :one REMOVE #auto_top_up"),
        };
        let update = update.build().map_err(StoreError::backend)?;
        let Some(request) = closed else {
            // The wallet alone: a plain conditional update, half the write units of a
            // transaction of one item.
            let written = self
                .client
                .update_item()
                .table_name(update.table_name)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            return match written {
                Ok(_) => Ok(()),
                Err(e) => Err(self.wallet_update_failed(user_id, &guard, e.into_service_error()).await),
            };
        };
        let wallet = TransactWriteItem::builder().update(update).build();
        self.transact(vec![TxItem { write: wallet, role: Role::Wallet(user_id, &guard) }, self.top_up_write(request)?])
            .await
    }

    async fn stale_top_ups(&self, before: DateTime<Utc>) -> StoreResult<Vec<TopUpRequest>> {
        let found = self.swept(keys::PENDING_TOP_UPS, keys::pending_top_up_order(&before, "", "")).await?;
        let requests = found.into_iter().map(parse).collect::<StoreResult<Vec<TopUpRequest>>>()?;
        // Read after the index: one closed in between is no longer pending.
        Ok(requests.into_iter().filter(|r| r.status == TopUpStatus::Pending).collect())
    }
}

impl Upgrades for DynamoStore {
    async fn suggest_upgrade(&self, suggestion: &UpgradeSuggestion) -> StoreResult<UpgradeSuggestion> {
        let stored = item(suggestion, keys::reseller(&suggestion.owner_id), keys::suggestion(suggestion.month))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(stored))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(suggestion.clone()),
            Err(err) => match err.into_service_error() {
                PutItemError::ConditionalCheckFailedException(failed) => {
                    failed.item.map(parse).transpose()?.ok_or(StoreError::Conflict)
                }
                e => Err(failure(e)),
            },
        }
    }

    async fn upgrade_applied(&self, owner_id: &UserId, month: NaiveDate, at: DateTime<Utc>) -> StoreResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(owner_id), keys::suggestion(month))))
            .update_expression("SET #applied_at = :at")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#applied_at", "applied_at")
            .expression_attribute_values(":at", to_attr(&at)?)
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }
}
