//! The alert mails of a partner's own settings: a threshold crossed, the runway short, the
//! auto top-up turned off. Each is sent once per event id (a redelivery finds it sent), to
//! the address the partner's profile holds (never one an event names: an event cannot
//! send Ally's mail elsewhere), with a text and an HTML part, the dashboard link and the
//! footer.

use super::mail::{Delivery, Mailer, notice, send_once};
use super::reactions::Handled;
use super::{AllyEvent, Detail, RunwayLow, ThresholdCrossed, TopUpFailed};
use crate::Ally;
use crate::domain::{AllyError, Email, Reseller, UserId};
use crate::store::Store;

/// The mail of an alert event; other events are dropped.
pub async fn notify_alert<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    event: &AllyEvent,
) -> Result<Handled, AllyError> {
    match event {
        AllyEvent::CreditThresholdCrossed(crossed) => notify_threshold(ally, mailer, crossed).await,
        AllyEvent::LowRunway(low) => notify_runway(ally, mailer, low).await,
        AllyEvent::AutoTopUpFailed(failed) if failed.fields.disabled => notify_top_up_off(ally, mailer, failed).await,
        _ => Ok(Handled::Dropped),
    }
}

async fn notify_threshold<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    crossed: &Detail<ThresholdCrossed>,
) -> Result<Handled, AllyError> {
    let Some((reseller, to)) = addressee(ally, &crossed.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let (available, threshold) = (crossed.fields.available, crossed.fields.threshold);
    let mail = notice(
        to.as_str(),
        "Your Ally credit crossed an alert threshold",
        reseller.company.as_str(),
        &[format!("Your available credit is {available}, below your alert threshold of {threshold}.")],
        "Top up in your dashboard to keep provisioning for your clients",
        &ally.config().dashboard_link(),
    );
    sent(send_once(ally.store(), mailer, &format!("threshold:{}", crossed.envelope.event_id), async { Ok(mail) }).await)
}

async fn notify_runway<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    low: &Detail<RunwayLow>,
) -> Result<Handled, AllyError> {
    let Some((reseller, to)) = addressee(ally, &low.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let f = &low.fields;
    let mail = notice(
        to.as_str(),
        "Your Ally credit runs out soon",
        reseller.company.as_str(),
        &[format!(
            "At your spending of the last 30 days, your available credit of {} lasts about {} days, \
             less than the {} days you asked to be told about.",
            f.available, f.runway_days, f.threshold_days
        )],
        "Top up in your dashboard before it runs out",
        &ally.config().dashboard_link(),
    );
    sent(send_once(ally.store(), mailer, &format!("runway:{}", low.envelope.event_id), async { Ok(mail) }).await)
}

async fn notify_top_up_off<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    failed: &Detail<TopUpFailed>,
) -> Result<Handled, AllyError> {
    let Some((reseller, to)) = addressee(ally, &failed.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let mail = notice(
        to.as_str(),
        "Your Ally auto top-up is turned off",
        reseller.company.as_str(),
        &[
            format!(
                "{} auto top-up requests in a row were not paid within a day (the last asked for {} credits), \
                 so Ally stopped asking.",
                failed.fields.failures_in_a_row, failed.fields.amount
            ),
            "Check your payment method, then save your auto top-up rule again to turn it back on.".to_string(),
        ],
        "Review your auto top-up in your dashboard",
        &ally.config().dashboard_link(),
    );
    let key = format!("top-up-off:{}", failed.envelope.event_id);
    sent(send_once(ally.store(), mailer, &key, async { Ok(mail) }).await)
}

/// The stored reseller an alert is about, and its address; none (logged) when it has no
/// address or is no reseller.
pub(super) async fn addressee<S: Store>(
    ally: &Ally<S>,
    user_id: &UserId,
) -> Result<Option<(Reseller, Email)>, AllyError> {
    let Some(reseller) = ally.store().reseller(user_id).await? else {
        tracing::warn!(reseller = %user_id, "an alert about no reseller: dropped");
        return Ok(None);
    };
    let Some(to) = reseller.email.clone() else {
        tracing::warn!(reseller = %reseller.refid, "an alert, but the reseller has no email");
        return Ok(None);
    };
    Ok(Some((reseller, to)))
}

/// What a mail's delivery makes of the event.
pub(super) fn sent(result: Result<Delivery, AllyError>) -> Result<Handled, AllyError> {
    Ok(match result? {
        Delivery::Sent => Handled::Done,
        Delivery::AlreadySent => Handled::Duplicate,
        Delivery::Suppressed | Delivery::Refused => Handled::Dropped,
    })
}
