//! Claims (work done once per event) and checkpoints (where a long job stopped).

use chrono::Utc;

use super::item::{attr, key, n, s};
use super::{DynamoStore, failure};
use crate::store::{CLAIM_DAYS, Jobs, StoreResult, keys};

impl Jobs for DynamoStore {
    async fn claim(&self, claim_key: &str) -> StoreResult<bool> {
        let pk = keys::claim(claim_key);
        let expires = (Utc::now() + chrono::Duration::days(CLAIM_DAYS)).timestamp();
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
                e => Err(failure(e)),
            },
        }
    }

    async fn claimed(&self, claim_key: &str) -> StoreResult<bool> {
        let pk = keys::claim(claim_key);
        Ok(self.get(key(pk.clone(), pk)).await?.is_some())
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
            .map_err(failure)?;
        Ok(())
    }
}
