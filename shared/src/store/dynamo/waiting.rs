//! Waiting items: one partition per group, one item per id.

use super::item::{attr, key, s};
use super::{DynamoStore, failure};
use crate::store::{StoreResult, Waiting, keys};

impl Waiting for DynamoStore {
    async fn park(&self, group: &str, id: &str, value: &str) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key(keys::waiting(group), id)))
            .item("value", s(value))
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }

    async fn waiting(&self, group: &str) -> StoreResult<Vec<(String, String)>> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", attr::PK)
            .expression_attribute_values(":pk", s(keys::waiting(group)))
            .consistent_read(true);
        let text = |item: &super::item::Item, name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        Ok(self
            .query_all(query)
            .await?
            .iter()
            .filter_map(|item| Some((text(item, attr::SK)?, text(item, "value")?)))
            .collect())
    }

    async fn settle(&self, group: &str, id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::waiting(group), id)))
            .send()
            .await
            .map_err(failure)?;
        Ok(())
    }
}
