//! The table's definition, for emulators and tests. `template.yaml` declares the same table
//! for AWS; keep the two in step.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use super::failure;
use super::item::attr;
use crate::store::{StoreError, StoreResult, keys};

fn key(name: &str, kind: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(StoreError::backend)
}

/// An index on `pk` / `sk` projecting the keys and `include`.
fn index(name: &str, pk: &str, sk: &str, include: &[&str]) -> StoreResult<GlobalSecondaryIndex> {
    let projection = if include.is_empty() {
        Projection::builder().projection_type(ProjectionType::KeysOnly).build()
    } else {
        Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(include.iter().map(|a| a.to_string()).collect()))
            .build()
    };
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(pk, KeyType::Hash)?)
        .key_schema(key(sk, KeyType::Range)?)
        .projection(projection)
        .build()
        .map_err(StoreError::backend)
}

/// Whether the table's change stream is on. Deployments always have it (the event pipeline
/// reads it); tests that do not read it leave it off, because moto keeps every stream record
/// in memory and copies all tables on each transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeStream {
    On,
    Off,
}

/// Creates the single table (keys, indexes, stream, TTL).
pub async fn create_table(client: &Client, name: &str, stream: ChangeStream) -> StoreResult<()> {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(attr::PK, KeyType::Hash)?)
        .key_schema(key(attr::SK, KeyType::Range)?)
        .global_secondary_indexes(index(keys::BY_TIER_INDEX, attr::TIER_PK, attr::TIER_SK, &["status"])?)
        .global_secondary_indexes(index(keys::BY_STATUS_INDEX, attr::STATUS_PK, attr::STATUS_SK, &[])?)
        .global_secondary_indexes(index(keys::BY_DAY_INDEX, attr::DAY_PK, attr::DAY_SK, &[])?)
        .global_secondary_indexes(index(keys::BY_MONTH_INDEX, attr::MONTH_PK, attr::MONTH_SK, &[])?)
        .stream_specification(match stream {
            ChangeStream::On => StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(StoreError::backend)?,
            ChangeStream::Off => {
                StreamSpecification::builder().stream_enabled(false).build().map_err(StoreError::backend)?
            }
        });
    for name in [
        attr::PK,
        attr::SK,
        attr::TIER_PK,
        attr::TIER_SK,
        attr::STATUS_PK,
        attr::STATUS_SK,
        attr::DAY_PK,
        attr::DAY_SK,
        attr::MONTH_PK,
        attr::MONTH_SK,
    ] {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::backend)?,
        );
    }
    request.send().await.map_err(failure)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(attr::EXPIRES_AT)
                .build()
                .map_err(StoreError::backend)?,
        )
        .send()
        .await
        .map_err(failure)?;
    Ok(())
}
