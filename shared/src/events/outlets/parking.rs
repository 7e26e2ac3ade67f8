//! Where work that failed for good waits for an operator, whole, for as long as the queue
//! keeps it (14 days in the template), never a pointer into the 24-hour stream:
//!
//! - the stream publisher parks a record it gives up on itself, keys, images and sequence
//!   number, as a [`ParkedRecord`] on the poison queue, then reports the batch a success;
//! - Lambda parks an EventBridge event a function failed on three times on the function's
//!   on-failure destination, in its own destination record shape (`requestContext`,
//!   `requestPayload`, `responsePayload`);
//! - EventBridge parks an event it could not deliver to a function at all on the rule's
//!   dead-letter queue, as the bare event.
//!
//! [`Parked::read`] tells the two apart, and `redrive` hands them back to the same handlers.

use std::future::Future;
use std::path::PathBuf;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::AllyError;

/// What the publisher parks: the whole record as it was delivered, and why it gave up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParkedRecord {
    /// Always `stream-record`: tells this parcel from Lambda's destination records.
    pub parked: String,
    /// Why the publisher gave up on it.
    pub reason: String,
    /// The DynamoDB stream record as Lambda delivered it (an `aws_lambda_events`
    /// `EventRecord`), or the dev server's change.
    pub record: Value,
}

/// The tag of a [`ParkedRecord`].
pub const STREAM_RECORD: &str = "stream-record";

impl ParkedRecord {
    /// `record`, given up on for `reason`.
    pub fn new(record: Value, reason: impl Into<String>) -> Self {
        Self { parked: STREAM_RECORD.into(), reason: reason.into(), record }
    }
}

/// A message of a queue of parked work.
#[derive(Debug, Clone, PartialEq)]
pub enum Parked {
    /// A stream record the publisher gave up on.
    Record(ParkedRecord),
    /// An EventBridge event a function failed on (Lambda's on-failure destination record,
    /// which names the function) or that could not be delivered (the bare event).
    Event { function: Option<String>, event: EventBridgeEvent<Value> },
}

/// Lambda's destination record of an asynchronous invocation, as far as a redrive reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DestinationRecord {
    request_context: Option<RequestContext>,
    request_payload: EventBridgeEvent<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext {
    function_arn: Option<String>,
}

impl Parked {
    /// The parcel a queue message holds.
    pub fn read(body: &str) -> Result<Self, String> {
        let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON: {e}"))?;
        if value.get("parked").and_then(Value::as_str) == Some(STREAM_RECORD) {
            return serde_json::from_value(value).map(Parked::Record).map_err(|e| format!("a parked record: {e}"));
        }
        if value.get("requestPayload").is_some() {
            let record: DestinationRecord =
                serde_json::from_value(value).map_err(|e| format!("a destination record: {e}"))?;
            return Ok(Parked::Event {
                function: record.request_context.and_then(|c| c.function_arn),
                event: record.request_payload,
            });
        }
        serde_json::from_value(value)
            .map(|event| Parked::Event { function: None, event })
            .map_err(|e| format!("neither a parked record, a destination record nor an event: {e}"))
    }
}

/// Keeps records the publisher gives up on.
pub trait Parking: Send + Sync {
    /// Parks `record` durably; an error means it was not kept (the caller must not let go).
    fn park(&self, record: &ParkedRecord) -> impl Future<Output = Result<(), AllyError>> + Send;
}

/// The poison queue (`ALLY_POISON_QUEUE_URL`) in SQS.
pub struct SqsParking {
    client: aws_sdk_sqs::Client,
    queue_url: Option<String>,
}

impl SqsParking {
    /// Parks on `queue_url` through `client`; with no queue, nothing can be parked and the
    /// publisher leaves failed records to the stream's retries.
    pub fn new(client: aws_sdk_sqs::Client, queue_url: Option<String>) -> Self {
        Self { client, queue_url }
    }
}

impl Parking for SqsParking {
    async fn park(&self, record: &ParkedRecord) -> Result<(), AllyError> {
        let queue_url =
            self.queue_url.as_deref().ok_or_else(|| AllyError::Internal("ALLY_POISON_QUEUE_URL is not set".into()))?;
        let body = serde_json::to_string(record).map_err(AllyError::internal)?;
        self.client.send_message().queue_url(queue_url).message_body(body).send().await.map_err(AllyError::internal)?;
        Ok(())
    }
}

/// The dev server's poison queue: one JSON file a parked change, in `dir`.
pub struct ParkedFiles {
    dir: PathBuf,
}

impl ParkedFiles {
    /// Parks into `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }
}

impl Parking for ParkedFiles {
    async fn park(&self, record: &ParkedRecord) -> Result<(), AllyError> {
        let body = serde_json::to_vec_pretty(record).map_err(AllyError::internal)?;
        std::fs::create_dir_all(&self.dir).map_err(AllyError::internal)?;
        std::fs::write(self.dir.join(format!("{}.json", crate::domain::new_id())), body).map_err(AllyError::internal)
    }
}
