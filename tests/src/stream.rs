//! The table's change stream as Lambda delivers it, read from the emulator, and the
//! network's figures caught up from it.

use std::collections::HashMap;

use ally::store::dynamo::DynamoStore;
use aws_lambda_events::event::dynamodb::Event as StreamBatch;
use serde_json::json;

/// Every record of the table's stream so far, as Lambda would deliver them.
pub async fn stream_batch(store: &DynamoStore) -> StreamBatch {
    let sdk = crate::sdk_config();
    let table = store.client().describe_table().table_name(store.table()).send().await.unwrap();
    let arn = table.table.unwrap().latest_stream_arn.unwrap();
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let description = streams.describe_stream().stream_arn(&arn).send().await.unwrap().stream_description.unwrap();
    let mut records = Vec::new();
    for shard in description.shards.unwrap_or_default() {
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id.unwrap())
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
    }
    serde_json::from_value(json!({"Records": records})).unwrap()
}

/// Counts every record of the table's stream so far into the network's figures, as the
/// `network-figures` function does; records counted before are skipped by their markers.
pub async fn catch_up(store: &DynamoStore) {
    let answer = ally::events::handlers::count_stream(store, stream_batch(store).await).await;
    assert!(answer.batch_item_failures.is_empty(), "every record counted");
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

impl<S: CatchUp + Sync> CatchUp for crate::Hooked<S> {
    async fn catch_up(&self) {
        self.inner().catch_up().await
    }
}
