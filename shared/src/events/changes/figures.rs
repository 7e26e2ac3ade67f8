//! The network's figures (daily and monthly activity, outstanding credits, resellers per
//! tier), kept from the table's change records by their own consumer, so that no money
//! transaction touches an item another reseller's transaction also writes. The mapping
//! delivers each stream shard's records in tumbling windows: the invocations of a window
//! carry the sum in Lambda's window state, and the last one writes it once to the shard's
//! own item, under the shard's high-water mark (see `Counters::apply_figures`). So the
//! consumer writes one item per shard and window, whatever the rate, and no two of its
//! writes ever meet on one item.

use aws_lambda_events::event::dynamodb::{TimeWindowEvent, TimeWindowEventResponse};
use serde::{Deserialize, Serialize};

use crate::domain::{AllyError, NetworkSum};
use crate::events::stream;
use crate::metrics::{Metric, record};
use crate::store::{Counters, FiguresWindow};

/// The key of the window state the invocations of a window hand on.
const STATE_KEY: &str = "figures";

/// What the invocations of a window have summed so far.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Carried {
    first: Option<String>,
    last: Option<String>,
    sum: NetworkSum,
}

/// One invocation of a window: its records added to the sum carried; on the window's last
/// invocation (or one that ends it early), the sum written to the shard's item. An error
/// (the write failed) makes Lambda retry the invocation with the same state and records.
pub async fn count_window<S: Counters>(
    store: &S,
    event: TimeWindowEvent,
) -> Result<TimeWindowEventResponse, AllyError> {
    let window = event.time_window_properties;
    let mut carried: Carried = match window.state.get(STATE_KEY) {
        Some(state) => serde_json::from_str(state).map_err(AllyError::internal)?,
        None => Carried::default(),
    };
    for r in &event.dynamo_db_event.records {
        let (position, change) = stream::change_of(r);
        match change {
            Ok(change) => {
                if let Some(delta) = change.network_delta() {
                    carried.sum.add(&delta);
                }
            }
            // A retry cannot make a record readable: the figures go on without it, and a
            // person is told (the sequence number says which record to recount).
            Err(reason) => {
                tracing::error!(record = %position, %reason, "unreadable stream record left out of the network figures");
                record(&[Metric::UncountedRecord]);
            }
        }
        carried.first.get_or_insert_with(|| position.clone());
        carried.last = Some(position);
    }
    let mut response = TimeWindowEventResponse::default();
    if window.is_final_invoke_for_window || window.is_window_terminated_early {
        if let (Some(first), Some(last)) = (carried.first, carried.last)
            && !carried.sum.is_empty()
        {
            let shard = window.shard_id.ok_or_else(|| AllyError::validation("a window without its shard id"))?;
            let written = FiguresWindow { shard, first, last, sum: carried.sum, at: chrono::Utc::now() };
            match store.apply_figures(&written).await {
                Ok(added) => tracing::info!(shard = %written.shard, added, "window counted"),
                // Overlaps a window written before: a stream shard's windows never do, so
                // this needs a person; retrying would stop the shard.
                Err(crate::store::StoreError::Refused(_)) => {
                    tracing::error!(shard = %written.shard, first = %written.first, last = %written.last, "a window overlapping one counted before left out");
                    record(&[Metric::UncountedRecord]);
                }
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(response);
    }
    let state = serde_json::to_string(&carried).map_err(AllyError::internal)?;
    response.time_window_event_response_properties.state.insert(STATE_KEY.into(), state);
    Ok(response)
}
