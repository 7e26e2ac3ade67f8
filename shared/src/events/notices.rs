//! The alert mails of a partner's own settings: a threshold crossed, the runway short, the
//! auto top-up turned off. Each is sent once per event id (a redelivery finds it sent), to
//! the partner's address, with a text and an HTML part, the dashboard link and the footer.

use super::mail::{Mailer, notice, send_once};
use super::reactions::Handled;
use super::{AllyEvent, Detail, RunwayLow, ThresholdCrossed, TopUpFailed};
use crate::Ally;
use crate::domain::AllyError;
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
    let Some(to) = crossed.fields.email.as_ref() else {
        tracing::warn!(threshold = crossed.fields.threshold, "a threshold crossed, but the reseller has no email");
        return Ok(Handled::Dropped);
    };
    let (available, threshold) = (crossed.fields.available, crossed.fields.threshold);
    let mail = notice(
        to.as_str(),
        "Your Ally credit crossed an alert threshold",
        crossed.fields.company.as_str(),
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
    let Some(to) = low.fields.email.as_ref() else {
        tracing::warn!("the runway is short, but the reseller has no email");
        return Ok(Handled::Dropped);
    };
    let f = &low.fields;
    let mail = notice(
        to.as_str(),
        "Your Ally credit runs out soon",
        f.company.as_str(),
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
    let user_id = &failed.envelope.reseller.user_id;
    let Some(reseller) = ally.store().reseller(user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let Some(to) = reseller.email.as_ref() else {
        tracing::warn!(reseller = %reseller.refid, "auto top-up turned off, but the reseller has no email");
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

fn sent(result: Result<bool, AllyError>) -> Result<Handled, AllyError> {
    Ok(if result? { Handled::Done } else { Handled::Duplicate })
}
