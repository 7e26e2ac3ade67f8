//! The network's figures (daily and monthly activity, outstanding credits, resellers per
//! tier), kept from the table's change records by their own consumer, so that no money
//! transaction touches an item another reseller's transaction also writes. Each record
//! counts exactly once, whatever the stream does: the store keeps a marker per record id
//! in the same write as the figures (see `Counters::apply_network`).

use super::ItemChange;
use crate::store::Counters;

/// Applies a batch of change records to the network's figures, each once. Each input is the
/// id to report on failure (a stream record's sequence number) and the change, or why it
/// could not be read. Returns the ids to report: an unreadable record, or every record
/// of a write that failed (their markers say which were already counted when retried).
pub async fn count<S: Counters>(store: &S, records: Vec<(String, Result<ItemChange, String>)>) -> Vec<String> {
    let mut failed = Vec::new();
    let mut deltas = Vec::new();
    let mut counted = Vec::new();
    for (report_id, change) in records {
        match change {
            Ok(change) => {
                if let Some(delta) = change.network_delta() {
                    deltas.push((change.id, delta));
                    counted.push(report_id);
                }
            }
            Err(reason) => {
                tracing::error!(record = %report_id, %reason, "unreadable stream record");
                failed.push(report_id);
            }
        }
    }
    if let Err(e) = store.apply_network(&deltas).await {
        tracing::error!(error = %e, records = deltas.len(), "the network figures could not be written; retried");
        failed.extend(counted);
    }
    failed
}
