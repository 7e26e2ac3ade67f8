//! Sends parked work back: each message of a poison or on-failure queue is handed to the
//! code that failed on it (a parked stream record to the publisher, an event to the handler
//! its rule names) and deleted only once that code succeeded. Every handler is idempotent
//! per record or event id, so a redrive of something that half-happened finishes it once.

use serde::Serialize;

use crate::Ally;
use crate::domain::AllyError;
use crate::events::bus::Bus;
use crate::events::handlers::dispatch;
use crate::events::mail::Mailer;
use crate::events::parking::{Parked, ParkedRecord, Parking};
use crate::events::{ItemChange, publisher, stream};
use crate::store::Store;

/// How long a message taken by a redrive stays hidden from other readers: one that fails
/// again is left on the queue and reappears after this, never twice in one run.
const HIDDEN_SECONDS: i32 = 300;

/// What a redrive came to.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Redriven {
    /// Handled and deleted from the queue.
    pub done: usize,
    /// Failed again: left on the queue.
    pub failed: usize,
    /// Not a parcel a redrive can read: left on the queue for a person.
    pub unreadable: usize,
}

/// A redriven record that fails again stays where it is rather than being parked twice.
struct LeaveOnQueue;

impl Parking for LeaveOnQueue {
    async fn park(&self, _: &ParkedRecord) -> Result<(), AllyError> {
        Err(AllyError::Internal("left on the queue it came from".into()))
    }
}

/// Redrives every message of the queue at `queue_url`.
pub async fn redrive<S: Store, B: Bus, M: Mailer>(
    ally: &Ally<S>,
    bus: &B,
    mailer: &M,
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<Redriven, AllyError> {
    let mut outcome = Redriven::default();
    // A message seen twice means the run came round to what it left behind (a pass longer
    // than the time a message stays hidden): stop there rather than count it again.
    let mut seen = std::collections::HashSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(HIDDEN_SECONDS)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(AllyError::internal)?;
        let messages = received.messages.unwrap_or_default();
        let fresh: Vec<_> =
            messages.into_iter().filter(|m| seen.insert(m.message_id.clone().unwrap_or_default())).collect();
        if fresh.is_empty() {
            return Ok(outcome);
        }
        for message in fresh {
            let body = message.body.unwrap_or_default();
            let handled = match Parked::read(&body) {
                Ok(parcel) => handle(ally, bus, mailer, parcel).await,
                Err(reason) => {
                    tracing::error!(%reason, "a message no redrive can read, left on the queue");
                    outcome.unreadable += 1;
                    continue;
                }
            };
            match handled {
                Ok(what) => {
                    tracing::info!(%what, "redriven");
                    if let Some(handle) = message.receipt_handle {
                        sqs.delete_message()
                            .queue_url(queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await
                            .map_err(AllyError::internal)?;
                    }
                    outcome.done += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e, "failed again, left on the queue");
                    outcome.failed += 1;
                }
            }
        }
    }
}

async fn handle<S: Store, B: Bus, M: Mailer>(
    ally: &Ally<S>,
    bus: &B,
    mailer: &M,
    parcel: Parked,
) -> Result<String, AllyError> {
    match parcel {
        Parked::Event { function, event } => {
            tracing::info!(function = function.as_deref().unwrap_or("unknown"), detail_type = %event.detail_type, "redriving an event");
            dispatch(ally, mailer, function.as_deref(), event).await
        }
        Parked::Record(parcel) => {
            let record = parcel_record(parcel)?;
            let threshold = ally.config().low_credit_threshold;
            let failed = publisher::publish(ally.store(), bus, &LeaveOnQueue, threshold, vec![record]).await;
            match failed.is_empty() {
                true => Ok("a stream record published".into()),
                false => Err(AllyError::Internal("the record could not be published".into())),
            }
        }
    }
}

/// The publisher's input again from a parked record: a DynamoDB stream record as Lambda
/// delivered it, or a change of the dev server's feed.
fn parcel_record(parcel: ParkedRecord) -> Result<publisher::Record, AllyError> {
    let whole = parcel.record;
    if let Ok(record) = serde_json::from_value::<aws_lambda_events::event::dynamodb::EventRecord>(whole.clone())
        && record.change.sequence_number.is_some()
    {
        return Ok(stream::record_of(&record));
    }
    let change: ItemChange = serde_json::from_value(whole.clone())
        .map_err(|e| AllyError::validation(format!("a parked record that is no stream record or change: {e}")))?;
    Ok(publisher::Record { report_id: change.id.clone(), change: Ok(change), whole })
}
