//! Where events go: EventBridge in AWS, the in-process bus locally.

use std::future::Future;

use aws_sdk_eventbridge::Client as EventBridgeClient;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::BusEvent;

/// Puts events on a bus.
pub trait Bus: Send + Sync {
    /// Publishes `events`; for each, whether the bus accepted it.
    fn publish(&self, events: &[BusEvent]) -> impl Future<Output = Vec<bool>> + Send;
}

/// EventBridge `PutEvents` on one bus: at most 10 entries a call, entries the bus refused
/// tried again a few times.
pub struct EventBridgeBus {
    client: EventBridgeClient,
    bus_name: String,
}

/// How many times refused entries are put again before their records are reported failed.
const PUT_ATTEMPTS: u32 = 3;

impl EventBridgeBus {
    /// A bus named `bus_name` through `client`.
    pub fn new(client: EventBridgeClient, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }

    async fn put_chunk(&self, events: &[BusEvent]) -> Vec<bool> {
        let mut accepted = vec![false; events.len()];
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
                        let ok = results.get(position).is_some_and(|r| r.error_code.is_none() && r.event_id.is_some());
                        if ok { accepted[i] = true } else { still.push(i) }
                    }
                    pending = still;
                }
                Err(e) => tracing::warn!(error = %e, attempt, "PutEvents failed"),
            }
            if pending.is_empty() {
                break;
            }
            crate::store::backoff(attempt).await;
        }
        accepted
    }
}

impl Bus for EventBridgeBus {
    async fn publish(&self, events: &[BusEvent]) -> Vec<bool> {
        let mut accepted = Vec::with_capacity(events.len());
        for chunk in events.chunks(10) {
            accepted.extend(self.put_chunk(chunk).await);
        }
        accepted
    }
}
