//! The table's change stream as Lambda delivers it (in batches, or in tumbling windows by
//! shard), read from the emulator, and the network's figures caught up from it.

use std::collections::HashMap;

use ally::store::dynamo::DynamoStore;
use aws_lambda_events::event::dynamodb::{Event as StreamBatch, TimeWindowEvent};
use serde_json::json;

/// Every record of the table's stream so far, by shard, as Lambda would deliver them.
pub async fn stream_records(store: &DynamoStore) -> Vec<(String, Vec<serde_json::Value>)> {
    let sdk = crate::sdk_config();
    let table = store.client().describe_table().table_name(store.table()).send().await.unwrap();
    let arn = table.table.unwrap().latest_stream_arn.unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let description = streams.describe_stream().stream_arn(&arn).send().await.unwrap().stream_description.unwrap();
    let mut shards = Vec::new();
    for shard in description.shards.unwrap_or_default() {
        let shard_id = shard.shard_id.unwrap();
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(&shard_id)
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator
            .unwrap();
        let mut next = Some(iterator);
        let mut read = Vec::new();
        while let Some(iterator) = next.take() {
            let out = streams.get_records().shard_iterator(iterator).send().await.unwrap();
            let records = out.records.unwrap_or_default();
            if !records.is_empty() {
                next = out.next_shard_iterator;
            }
            read.extend(records);
        }
        let mut records = Vec::new();
        for r in read {
            let d = r.dynamodb.unwrap();
            let image = |i: Option<HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                serde_json::to_value(serde_dynamo::Item::from(i.unwrap_or_default())).unwrap()
            };
            records.push(json!({
                "eventID": r.event_id.unwrap(),
                "eventName": r.event_name.unwrap().as_str(),
                "eventSource": "aws:dynamodb",
                "eventVersion": "1.1",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
                "dynamodb": {
                    "ApproximateCreationDateTime": d.approximate_creation_date_time.map(|t| t.secs()).unwrap_or(0),
                    "Keys": image(d.keys),
                    "NewImage": image(d.new_image),
                    "OldImage": image(d.old_image),
                    "SequenceNumber": d.sequence_number.unwrap(),
                    "SizeBytes": d.size_bytes.unwrap_or(0),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                }
            }));
        }
        shards.push((shard_id, records));
    }
    shards
}

/// Every record of the table's stream so far, as Lambda would deliver them.
pub async fn stream_batch(store: &DynamoStore) -> StreamBatch {
    let records: Vec<_> = stream_records(store).await.into_iter().flat_map(|(_, records)| records).collect();
    serde_json::from_value(json!({"Records": records})).unwrap()
}

/// `records` of `shard` as the last invocation of a tumbling window delivers them.
pub fn final_window(shard: &str, records: &[serde_json::Value]) -> TimeWindowEvent {
    let now = chrono::Utc::now();
    serde_json::from_value(json!({
        "Records": records,
        "window": {"start": (now - chrono::Duration::minutes(1)).to_rfc3339(), "end": now.to_rfc3339()},
        "state": {},
        "shardId": shard,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/ally/stream/test",
        "isFinalInvokeForWindow": true,
        "isWindowTerminatedEarly": false,
    }))
    .unwrap()
}

/// The stream position of the last record of `shard` counted into the network's figures.
async fn counted_through(store: &DynamoStore, shard: &str) -> Option<String> {
    let pk = ally::store::keys::shard_figures(shard);
    let key = HashMap::from([
        ("pk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(pk.clone())),
        ("sk".to_string(), aws_sdk_dynamodb::types::AttributeValue::S(pk)),
    ]);
    let found = store.client().get_item().table_name(store.table()).set_key(Some(key)).send().await.unwrap();
    found.item.and_then(|i| i.get("last_position").and_then(|v| v.as_s().ok().cloned()))
}

/// Counts the records of the table's stream not counted yet into the network's figures,
/// one window per shard, as the `network-figures` function does. One catch-up at a time:
/// two at once could deliver windows that overlap, which a stream never does.
pub async fn catch_up(store: &DynamoStore) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    for (shard, records) in stream_records(store).await {
        let through = counted_through(store, &shard).await;
        let fresh: Vec<_> = records
            .into_iter()
            .filter(|r| {
                let position =
                    ally::store::stream_position(r["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default());
                through.as_ref().is_none_or(|t| position > *t)
            })
            .collect();
        if !fresh.is_empty() {
            ally::events::figures::count_window(store, final_window(&shard, &fresh)).await.expect("the window counted");
        }
    }
}

/// A store whose network figures a test can bring up to date before reading them: the
/// memory store counts each change as it makes it, DynamoDB from its stream.
pub trait CatchUp {
    /// Counts every change so far into the network's figures.
    fn catch_up(&self) -> impl std::future::Future<Output = ()> + Send;
}

impl CatchUp for ally::store::memory::MemoryStore {
    async fn catch_up(&self) {}
}

impl CatchUp for DynamoStore {
    async fn catch_up(&self) {
        catch_up(self).await
    }
}
