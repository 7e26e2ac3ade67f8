//! Batches: reads of many keys and writes of many items, unprocessed ones retried.

use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use futures::{StreamExt, TryStreamExt};

use super::item::Item;
use super::{DynamoStore, failure};
use crate::store::{StoreError, StoreResult, backoff};

/// How many times unprocessed keys or items are sent again before giving up as throttled.
const BATCH_ATTEMPTS: u32 = 10;

impl DynamoStore {
    /// Items by key (strongly consistent), unprocessed keys retried.
    pub(super) async fn get_many(&self, keys: Vec<Item>) -> StoreResult<Vec<Item>> {
        let mut found = Vec::new();
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(StoreError::backend)?;
            let mut attempt = 0;
            loop {
                let out =
                    self.client.batch_get_item().request_items(&self.table, wanted).send().await.map_err(failure)?;
                found.extend(out.responses.and_then(|mut m| m.remove(&self.table)).unwrap_or_default());
                match out.unprocessed_keys.and_then(|mut m| m.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() && attempt < BATCH_ATTEMPTS => wanted = rest,
                    // Throttled past the retries: a partial read must not pass for missing items.
                    Some(rest) if !rest.keys().is_empty() => return Err(StoreError::Throttled),
                    _ => break,
                }
                backoff(attempt).await;
                attempt += 1;
            }
        }
        Ok(found)
    }

    /// Pre-checked items: batches of 25, a few in flight, unprocessed items retried. Puts
    /// overwrite, so writing the same items again changes nothing.
    pub(super) async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
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
        for attempt in 0..BATCH_ATTEMPTS {
            let out = self.client.batch_write_item().request_items(&self.table, chunk).send().await.map_err(failure)?;
            chunk = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
            if chunk.is_empty() {
                return Ok(());
            }
            backoff(attempt).await;
        }
        Err(StoreError::Throttled)
    }
}
