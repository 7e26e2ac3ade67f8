//! Item changes -> domain events on the bus. Pure mapping ([`event_of`]) plus one batch
//! step ([`publish`]) that the Lambda stream handler and the dev server both run.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

use super::bus::Bus;
use super::{BusEvent, ItemChange, ResellerRef, SOURCE, Stored};
use crate::domain::{EntryKind, RefId, UserId};
use crate::store::Profiles;

/// An event before its reseller's refid is known.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub detail_type: &'static str,
    pub reseller: ResellerRef,
    pub fields: Value,
}

/// The event a change makes, if any. `LowCredit` only when the balance crosses from at or
/// above `threshold` to below it, so a wallet already low does not warn again on each spend.
pub fn event_of(change: &ItemChange, threshold: i64) -> Option<Draft> {
    let owner =
        |user_id: &UserId, refid: Option<&RefId>| ResellerRef { user_id: user_id.clone(), refid: refid.cloned() };
    match (&change.old, &change.new) {
        (None, Some(Stored::Reseller(r))) => Some(Draft {
            detail_type: "ResellerOnboarded",
            reseller: owner(&r.user_id, Some(&r.refid)),
            fields: json!({"company": r.company, "tier": r.tier, "email": r.email}),
        }),
        (Some(Stored::Reseller(old)), Some(Stored::Reseller(new)))
            if old.balance >= threshold && new.balance < threshold =>
        {
            Some(Draft {
                detail_type: "LowCredit",
                reseller: owner(&new.user_id, Some(&new.refid)),
                fields: json!({"balance": new.balance, "threshold": threshold, "company": new.company, "email": new.email}),
            })
        }
        (None, Some(Stored::Entry { owner_id, entry })) => Some(Draft {
            detail_type: if entry.kind == EntryKind::Debit { "CreditsSpent" } else { "CreditsAdded" },
            reseller: owner(owner_id, None),
            fields: json!({"transaction": entry}),
        }),
        (None, Some(Stored::Client(client))) => Some(Draft {
            detail_type: "ClientOnboarded",
            reseller: owner(&client.owner_id, None),
            fields: json!({"client": client}),
        }),
        (None, Some(Stored::Service(service))) => Some(Draft {
            detail_type: "ServiceProvisioned",
            reseller: owner(&service.owner_id, None),
            fields: json!({"service": service}),
        }),
        _ => None,
    }
}

/// The bus event of a draft: `event_id` (from the change, so a redelivered change yields
/// the same id), `occurred_at`, `reseller` and the fields of its kind.
fn bus_event(change: &ItemChange, draft: Draft) -> BusEvent {
    let mut detail = json!({
        "event_id": change.id,
        "occurred_at": change.at,
        "reseller": draft.reseller,
    });
    if let (Some(detail), Value::Object(fields)) = (detail.as_object_mut(), draft.fields) {
        detail.extend(fields);
    }
    BusEvent { source: SOURCE.into(), detail_type: draft.detail_type.into(), detail }
}

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
    let mut drafts = Vec::new();
    for (report_id, change) in records {
        match change {
            Ok(change) => {
                if let Some(draft) = event_of(&change, threshold) {
                    drafts.push((report_id, change, draft));
                }
            }
            Err(reason) => {
                tracing::error!(record = %report_id, %reason, "unreadable stream record");
                failed.push(report_id);
            }
        }
    }
    let missing: BTreeSet<UserId> = drafts
        .iter()
        .filter(|(_, _, d)| d.reseller.refid.is_none())
        .map(|(_, _, d)| d.reseller.user_id.clone())
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
                    drafts.into_iter().partition(|(_, _, d)| d.reseller.refid.is_none());
                failed.extend(unresolved.into_iter().map(|(id, _, _)| id));
                drafts = resolved;
                HashMap::new()
            }
        }
    };
    let mut ids = Vec::with_capacity(drafts.len());
    let mut events = Vec::with_capacity(drafts.len());
    for (report_id, change, mut draft) in drafts {
        if draft.reseller.refid.is_none() {
            draft.reseller.refid = refids.get(&draft.reseller.user_id).cloned();
        }
        ids.push(report_id);
        events.push(bus_event(&change, draft));
    }
    let accepted = bus.publish(&events).await;
    failed.extend(ids.into_iter().zip(accepted).filter(|(_, ok)| !ok).map(|(id, _)| id));
    failed
}

#[cfg(test)]
#[path = "publisher_test.rs"]
mod tests;
