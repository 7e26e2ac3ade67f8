//! The production store: one DynamoDB table (see `design.md`), a room per concern:
//! - [`item`]: attribute names and the mapping of domain types to items;
//! - [`transaction`]: transactions, the wallet rule as a condition, cancellation reasons;
//! - [`wallet`], [`profiles`], [`portfolio`], [`counters`], [`jobs`]: the store traits;
//! - [`figures`]: the network's figures, one item per stream shard, folded into a base;
//! - [`paging`] and [`batch`]: queries page by page, batch reads and writes;
//! - [`table`]: the table's definition for emulators and tests.

mod batch;
mod counters;
mod figures;
mod hierarchy;
mod item;
mod jobs;
mod paging;
mod portfolio;
mod profiles;
mod referrals;
mod table;
mod top_ups;
mod transaction;
mod waiting;
mod wallet;

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

pub use table::{ChangeStream, create_table};

use item::Item;

use crate::store::{StoreError, StoreResult};

/// The one reading of a DynamoDB call's failure that no condition of the call explains:
/// throttled (after the SDK's own retries) tells the caller to come back later, a
/// transaction holding the item is a race to retry, anything else is the backend's.
fn failure<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(error: E) -> StoreError {
    match error.code() {
        Some("ProvisionedThroughputExceededException" | "RequestLimitExceeded" | "ThrottlingException") => {
            StoreError::Throttled
        }
        Some("TransactionConflictException" | "TransactionInProgressException") => StoreError::Conflict,
        _ => StoreError::backend(error),
    }
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

    /// The SDK client (to create tables in tests and tools).
    pub fn client(&self) -> &DynamoClient {
        &self.client
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// One item by key, strongly consistent.
    async fn get(&self, key: Item) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(failure)?;
        Ok(out.item)
    }
}
