//! Events of a partner's own alerts, judged per wallet change from its images before and
//! after: its thresholds crossed or recovered, its runway gone short. Each carries an id of
//! the change, so a redelivered record makes the same ids, which consumers dedupe.

use crate::domain::UserId;
use crate::events::{AllyEvent, Detail, Envelope, ItemChange, ResellerRef, RunwayLow, Stored, ThresholdCrossed};

/// The crossings of a partner's own thresholds a wallet change makes, one event each, with
/// an id of the change, the kind and the threshold: a redelivered change makes the same
/// ids, which consumers dedupe. A partner without thresholds of its own has `LowCredit`
/// at the network's threshold.
pub fn threshold_events(change: &ItemChange) -> Vec<AllyEvent> {
    let (Some(Stored::Reseller(old)), Some(Stored::Reseller(new))) = (&change.old, &change.new) else {
        return Vec::new();
    };
    let Some(alerts) = &new.alerts else {
        return Vec::new();
    };
    crate::domain::crossings(&alerts.thresholds, old.available(), new.available())
        .into_iter()
        .map(|crossing| {
            let (kind, threshold) = match crossing {
                crate::domain::Crossing::Below(t) => ("below", t),
                crate::domain::Crossing::Recovered(t) => ("recovered", t),
            };
            let detail = Detail {
                envelope: Envelope {
                    event_id: format!("{}:{kind}:{threshold}", change.id),
                    occurred_at: change.at,
                    reseller: ResellerRef { user_id: new.user_id.clone(), refid: Some(new.refid.clone()) },
                },
                fields: ThresholdCrossed {
                    threshold,
                    balance: new.balance,
                    available: new.available(),
                    company: new.company.clone(),
                    email: new.email.clone(),
                },
            };
            match crossing {
                crate::domain::Crossing::Below(_) => AllyEvent::CreditThresholdCrossed(detail),
                crate::domain::Crossing::Recovered(_) => AllyEvent::CreditRecovered(detail),
            }
        })
        .collect()
}

/// The partner's runway alert and the wallet's change, when `change` lowers what is
/// available of a partner that set one: what [`runway_event`] needs the spend for.
pub fn runway_watch(change: &ItemChange) -> Option<(&UserId, i64)> {
    let (Some(Stored::Reseller(old)), Some(Stored::Reseller(new))) = (&change.old, &change.new) else {
        return None;
    };
    let days = new.alerts.as_ref()?.runway_days?;
    (new.available() < old.available()).then_some((&new.user_id, days))
}

/// What a partner had spent when its changes were published: over the runway's window (its
/// daily counters) and in all (its wallet's running total), read together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendNow {
    pub in_window: i64,
    pub credits_spent: i64,
}

/// `LowRunway` when `change` takes the runway from at or above the partner's days to below:
/// once per crossing, with an id of the change that a redelivery makes again. The window's
/// spend as of the change is what it holds now less what was spent after the change (the
/// running totals tell), so changes published together are judged on one chain of spends:
/// the runway after one is the runway before the next. Before the change it is judged on
/// that less what the change spent, so a spend that both raises the average and empties the
/// wallet still crosses.
pub fn runway_event(change: &ItemChange, now: SpendNow) -> Option<AllyEvent> {
    let (Some(Stored::Reseller(old)), Some(Stored::Reseller(new))) = (&change.old, &change.new) else {
        return None;
    };
    let days = new.alerts.as_ref()?.runway_days?;
    let spent = now.in_window - (now.credits_spent - new.credits_spent).max(0);
    let spent_by_change = new.credits_spent - old.credits_spent;
    // No spend before it: no runway yet, so not short.
    let was_short = crate::domain::runway_days(old.available(), spent - spent_by_change).is_some_and(|b| b < days);
    let after = crate::domain::runway_days(new.available(), spent)?;
    (!was_short && after < days).then(|| {
        AllyEvent::LowRunway(Detail {
            envelope: Envelope {
                event_id: format!("{}:low-runway", change.id),
                occurred_at: change.at,
                reseller: ResellerRef { user_id: new.user_id.clone(), refid: Some(new.refid.clone()) },
            },
            fields: RunwayLow {
                runway_days: after,
                threshold_days: days,
                available: new.available(),
                company: new.company.clone(),
                email: new.email.clone(),
            },
        })
    })
}
