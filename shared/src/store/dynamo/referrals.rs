//! Referral bookkeeping: a referrer's reward slots of a month (one conditional update of its
//! own item) and referrals waiting for their referred user (a partition per referred user).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chrono::NaiveDate;

use super::item::{attr, item, key, n, parse, s};
use super::{DynamoStore, failure};
use crate::domain::UserId;
use crate::store::{PendingReferral, Referrals, RewardSlot, StoreResult, keys};

impl Referrals for DynamoStore {
    async fn take_reward_slot(
        &self,
        referrer: &UserId,
        month: NaiveDate,
        referral_id: &str,
        cap: u32,
    ) -> StoreResult<RewardSlot> {
        // The count and the set of referral ids in one item: the slot is taken only below
        // the cap and only by a referral that holds none yet.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::reseller(referrer), keys::reward_slots(month))))
            .update_expression("ADD #taken :one, #ids :id")
            .condition_expression(
                "(attribute_not_exists(#taken) OR #taken < :cap) AND (attribute_not_exists(#ids) OR NOT contains(#ids, :referral))",
            )
            .expression_attribute_names("#taken", "taken")
            .expression_attribute_names("#ids", "referral_ids")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cap", n(cap))
            .expression_attribute_values(":id", AttributeValue::Ss(vec![referral_id.to_string()]))
            .expression_attribute_values(":referral", s(referral_id))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(RewardSlot::Taken),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(failed) => {
                    let held = failed
                        .item
                        .as_ref()
                        .and_then(|i| i.get("referral_ids"))
                        .and_then(|ids| ids.as_ss().ok())
                        .is_some_and(|ids| ids.iter().any(|id| id == referral_id));
                    Ok(if held { RewardSlot::Held } else { RewardSlot::CapReached })
                }
                e => Err(failure(e)),
            },
        }
    }

    async fn park_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        // `expires_at` is the table's TTL attribute: a referral past its window goes by itself.
        let waiting = item(pending, keys::referred(&pending.referred_user_id), keys::referral(&pending.referral_id))?;
        self.client.put_item().table_name(&self.table).set_item(Some(waiting)).send().await.map_err(failure)?;
        Ok(())
    }

    async fn pending_referrals(&self, referred: &UserId) -> StoreResult<Vec<PendingReferral>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_names("#sk", attr::SK)
            .expression_attribute_values(":pk", s(keys::referred(referred)))
            .expression_attribute_values(":prefix", s(keys::REFERRAL_PREFIX));
        self.query_all(query).await?.into_iter().map(parse).collect()
    }

    async fn settle_referral(&self, pending: &PendingReferral) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::referred(&pending.referred_user_id), keys::referral(&pending.referral_id))))
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }
}
