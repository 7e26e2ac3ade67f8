//! Item changes -> Ally's events on the bus: one batch step ([`publish`]) that the Lambda
//! stream handler and the dev server both run; the mapping is [`AllyEvent`]'s `TryFrom`.
//! A record that can never be published (unreadable, its event refused by the bus for
//! good) is parked whole, so nothing waits on the stream's 24 hours; one that cannot be
//! published now (the bus throttling or failing, a read of the table failing) goes back to
//! the stream, whose retries back off: a throttled minute is a delay, not a pile of parked
//! records.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDate;
use serde_json::Value;

use crate::domain::{AllyError, RefId, UserId};
use crate::events::bus::{Bus, Published};
use crate::events::parking::{ParkedRecord, Parking};
use crate::events::{AllyEvent, ItemChange, Observed, SpendNow, runway_event, runway_watch, threshold_events};
use crate::service::spent_in_window;
use crate::store::{Counters, Profiles, stream_position};

/// One record of a batch: the id to report it by (a stream record's sequence number), its
/// change or why it could not be read, and the whole record to park if it must be.
pub struct Record {
    pub report_id: String,
    pub change: Result<ItemChange, String>,
    pub whole: Value,
}

/// Publishes the events of a batch of changes, parking what can never be published.
/// Returns the ids of records to try again (for the stream's retry): those the bus could
/// not take now, and those that could neither be published nor parked.
pub async fn publish<S: Profiles + Counters, B: Bus, P: Parking>(
    store: &S,
    bus: &B,
    parking: &P,
    threshold: i64,
    records: Vec<Record>,
) -> Vec<String> {
    let mut wholes: HashMap<String, Value> = HashMap::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    let mut retry: Vec<String> = Vec::new();
    let mut events: Vec<(String, AllyEvent)> = Vec::new();
    let spends = spends_now(store, &records).await;
    for Record { report_id, change, whole } in records {
        wholes.insert(report_id.clone(), whole);
        match change {
            Ok(change) => {
                let observed = Observed { change: &change, low_credit_threshold: threshold };
                // A failed read of the spend sends the record back to the stream (parks it
                // when the read can never pass), with none of its events.
                let runway = match runway_watch(&change).map(|(user, _)| spends.get(user)) {
                    Some(Some(Ok(now))) => runway_event(&change, *now),
                    Some(Some(Err(e))) if e.is_transient() => {
                        tracing::warn!(record = %report_id, error = %e, "the spend lookup failed: back to the stream");
                        retry.push(report_id);
                        continue;
                    }
                    Some(Some(Err(e))) => {
                        failed.push((report_id, format!("the spend lookup failed: {e}")));
                        continue;
                    }
                    Some(None) | None => None,
                };
                for crossed in threshold_events(&change).into_iter().chain(runway) {
                    events.push((report_id.clone(), crossed));
                }
                if let Ok(event) = AllyEvent::try_from(observed) {
                    events.push((report_id, event));
                }
            }
            Err(reason) => failed.push((report_id, format!("unreadable: {reason}"))),
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
                let (unresolved, resolved): (Vec<_>, Vec<_>) =
                    events.into_iter().partition(|(_, e)| e.envelope().reseller.refid.is_none());
                let e = AllyError::from(e);
                if e.is_transient() {
                    tracing::warn!(error = %e, "the refid lookup failed: back to the stream");
                    retry.extend(unresolved.into_iter().map(|(id, _)| id));
                } else {
                    failed.extend(unresolved.into_iter().map(|(id, _)| (id, format!("the refid lookup failed: {e}"))));
                }
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
            Err(e) => failed.push((report_id, format!("the event could not be serialised: {e}"))),
        }
    }
    for (id, outcome) in ids.into_iter().zip(bus.publish(&bus_events).await) {
        match outcome {
            Published::Accepted => {}
            Published::Refused(reason) => failed.push((id, format!("the bus refused it: {reason}"))),
            Published::Retry(reason) => {
                tracing::warn!(record = %id, %reason, "the bus could not take an event now: back to the stream");
                retry.push(id);
            }
        }
    }
    // A record with one event to retry is retried whole: its other events go again too
    // (consumers take each event id once). The stream replays everything from the lowest
    // record retried: what failed after it is parked on the replay, not now and again then.
    failed.retain(|(id, _)| !retry.contains(id));
    if let Some(lowest) = retry.iter().map(|id| stream_position(id)).min() {
        let (later, now): (Vec<_>, Vec<_>) = failed.into_iter().partition(|(id, _)| stream_position(id) > lowest);
        retry.extend(later.into_iter().map(|(id, _)| id));
        failed = now;
    }
    for (report_id, reason) in failed {
        let whole = wholes.remove(&report_id).unwrap_or(Value::Null);
        match parking.park(&ParkedRecord::new(whole, reason.clone())).await {
            Ok(()) => tracing::error!(record = %report_id, %reason, "record parked on the poison queue"),
            Err(e) => {
                tracing::error!(record = %report_id, %reason, error = %e, "record neither published nor parked");
                retry.push(report_id);
            }
        }
    }
    retry.sort();
    retry.dedup();
    retry
}

/// The spend of each partner whose runway the batch's changes may shorten (a runway alert,
/// available gone down), read once per partner and batch: the window up to the latest day
/// of its changes, and its wallet's running total.
async fn spends_now<S: Profiles + Counters>(
    store: &S,
    records: &[Record],
) -> HashMap<UserId, Result<SpendNow, AllyError>> {
    let mut latest: HashMap<UserId, NaiveDate> = HashMap::new();
    for change in records.iter().filter_map(|r| r.change.as_ref().ok()) {
        if let Some((user, _)) = runway_watch(change) {
            let day = latest.entry(user.clone()).or_insert(change.at.date_naive());
            *day = (*day).max(change.at.date_naive());
        }
    }
    let reads = latest.into_iter().map(|(user, day)| async move {
        let users = [user.clone()];
        let (in_window, wallet) = tokio::join!(spent_in_window(store, &user, day), store.resellers_by_user(&users));
        let read = in_window.and_then(|in_window| {
            let credits_spent = wallet?.first().map_or(0, |r| r.credits_spent);
            Ok(SpendNow { in_window, credits_spent })
        });
        (user, read.map_err(AllyError::from))
    });
    futures::future::join_all(reads).await.into_iter().collect()
}
