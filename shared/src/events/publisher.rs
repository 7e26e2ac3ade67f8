//! Item changes -> Ally's events on the bus: one batch step ([`publish`]) that the Lambda
//! stream handler and the dev server both run; the mapping is [`AllyEvent`]'s `TryFrom`.

use std::collections::{BTreeSet, HashMap};

use super::bus::Bus;
use super::{AllyEvent, ItemChange, Observed};
use crate::domain::{RefId, UserId};
use crate::store::Profiles;

/// Publishes the events of a batch of changes. Each input is the id to report on failure
/// (a stream record's sequence number) and the change, or why it could not be read. Returns
/// the ids that failed; the others went through (or had nothing to publish).
pub async fn publish<S: Profiles, B: Bus>(
    store: &S,
    bus: &B,
    threshold: i64,
    records: Vec<(String, Result<ItemChange, String>)>,
) -> Vec<String> {
    let mut failed = Vec::new();
    let mut events: Vec<(String, AllyEvent)> = Vec::new();
    for (report_id, change) in records {
        match change {
            Ok(change) => {
                let observed = Observed { change: &change, low_credit_threshold: threshold };
                if let Ok(event) = AllyEvent::try_from(observed) {
                    events.push((report_id, event));
                }
            }
            Err(reason) => {
                tracing::error!(record = %report_id, %reason, "unreadable stream record");
                failed.push(report_id);
            }
        }
    }
    let missing: BTreeSet<UserId> = events
        .iter()
        .map(|(_, e)| &e.envelope().reseller)
        .filter(|r| r.refid.is_none())
        .map(|r| r.user_id.clone())
        .collect();
    let refids: HashMap<UserId, RefId> = if missing.is_empty() {
        HashMap::new()
    } else {
        let users: Vec<UserId> = missing.into_iter().collect();
        match store.resellers_by_user(&users).await {
            Ok(found) => found.into_iter().map(|r| (r.user_id, r.refid)).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not look up refids; the records will be retried");
                let (unresolved, resolved): (Vec<_>, Vec<_>) =
                    events.into_iter().partition(|(_, e)| e.envelope().reseller.refid.is_none());
                failed.extend(unresolved.into_iter().map(|(id, _)| id));
                events = resolved;
                HashMap::new()
            }
        }
    };
    let mut ids = Vec::with_capacity(events.len());
    let mut bus_events = Vec::with_capacity(events.len());
    for (report_id, mut event) in events {
        let reseller = &mut event.envelope_mut().reseller;
        if reseller.refid.is_none() {
            reseller.refid = refids.get(&reseller.user_id).cloned();
        }
        match event.to_bus() {
            Ok(bus_event) => {
                ids.push(report_id);
                bus_events.push(bus_event);
            }
            Err(e) => {
                tracing::error!(record = %report_id, error = %e, "an event could not be serialised");
                failed.push(report_id);
            }
        }
    }
    let accepted = bus.publish(&bus_events).await;
    failed.extend(ids.into_iter().zip(accepted).filter(|(_, ok)| !ok).map(|(id, _)| id));
    failed
}
