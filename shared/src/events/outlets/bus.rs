//! Where events go: EventBridge in AWS, the in-process bus locally.

use std::future::Future;

use aws_sdk_eventbridge::Client as EventBridgeClient;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use crate::events::BusEvent;

/// What became of one event put on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// The bus took it.
    Accepted,
    /// The bus could not take it now (throttled, failing): try again later.
    Retry(String),
    /// The bus will never take it as it is (refused, malformed): a person must look.
    Refused(String),
}

/// Puts events on a bus.
pub trait Bus: Send + Sync {
    /// Publishes `events`; what became of each, in order.
    fn publish(&self, events: &[BusEvent]) -> impl Future<Output = Vec<Published>> + Send;
}

/// EventBridge `PutEvents` on one bus: at most 10 entries a call, entries the bus could
/// not take now tried again a few times, then left for the caller to retry later.
pub struct EventBridgeBus {
    client: EventBridgeClient,
    bus_name: String,
}

/// How many times entries the bus could not take are put again before they are left to
/// the caller (the stream's retry, which backs off).
const PUT_ATTEMPTS: u32 = 3;

/// Whether an entry's (or a call's) error code says "not now" rather than "never".
fn passing(code: &str) -> bool {
    matches!(code, "ThrottlingException" | "InternalFailure" | "InternalException" | "ServiceUnavailable")
}

impl EventBridgeBus {
    /// A bus named `bus_name` through `client`.
    pub fn new(client: EventBridgeClient, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }

    async fn put_chunk(&self, events: &[BusEvent]) -> Vec<Published> {
        let mut outcome = vec![Published::Retry("not tried".into()); events.len()];
        let mut pending: Vec<usize> = (0..events.len()).collect();
        for attempt in 0..PUT_ATTEMPTS {
            let entries: Vec<PutEventsRequestEntry> = pending
                .iter()
                .map(|&i| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus_name)
                        .source(&events[i].source)
                        .detail_type(&events[i].detail_type)
                        .detail(events[i].detail.to_string())
                        .build()
                })
                .collect();
            match self.client.put_events().set_entries(Some(entries)).send().await {
                Ok(out) => {
                    let results = out.entries.unwrap_or_default();
                    let mut still = Vec::new();
                    for (position, &i) in pending.iter().enumerate() {
                        let result = results.get(position);
                        let code = result.and_then(|r| r.error_code.clone());
                        outcome[i] = match (code, result.and_then(|r| r.event_id.as_ref())) {
                            (None, Some(_)) => Published::Accepted,
                            (Some(code), _) if !passing(&code) => {
                                let message = result.and_then(|r| r.error_message.clone()).unwrap_or_default();
                                Published::Refused(format!("{code}: {message}"))
                            }
                            (code, _) => {
                                still.push(i);
                                Published::Retry(code.unwrap_or_else(|| "no answer for the entry".into()))
                            }
                        };
                    }
                    pending = still;
                }
                Err(e) => {
                    let code = e.code().unwrap_or_default().to_string();
                    let reason = aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string();
                    tracing::warn!(error = %reason, attempt, "PutEvents failed");
                    // A call refused for a reason of its own (access denied, a bad
                    // request) is refused for every entry; anything else may pass.
                    // A service error with no code, or a 5xx, may pass too.
                    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
                    let verdict = match e {
                        SdkError::ServiceError(_) if !code.is_empty() && !passing(&code) && status < 500 => {
                            Published::Refused(reason)
                        }
                        _ => Published::Retry(reason),
                    };
                    let refused = matches!(verdict, Published::Refused(_));
                    for &i in &pending {
                        outcome[i] = verdict.clone();
                    }
                    if refused {
                        pending.clear();
                    }
                }
            }
            if pending.is_empty() {
                break;
            }
            crate::store::backoff(attempt).await;
        }
        outcome
    }
}

impl Bus for EventBridgeBus {
    async fn publish(&self, events: &[BusEvent]) -> Vec<Published> {
        let mut outcome = Vec::with_capacity(events.len());
        for chunk in events.chunks(10) {
            outcome.extend(self.put_chunk(chunk).await);
        }
        outcome
    }
}
