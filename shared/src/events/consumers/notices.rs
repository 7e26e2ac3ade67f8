//! The alert mails of a partner's own settings: a threshold crossed, the runway short, the
//! auto top-up turned off. Each is sent once per event id (a redelivery finds it sent), to
//! the address the partner's profile holds, saying what the wallet and the partner's
//! settings hold, and only while they bear the alert out: an event says which partner to
//! look at, never what to tell it or where (a forged or stale one sends nothing). With a
//! text and an HTML part, the dashboard link and the footer.

use crate::Ally;
use crate::domain::{AllyError, Email, UserId};
use crate::events::mail::{Delivery, Mailer, notice, send_once};
use crate::events::reactions::Handled;
use crate::events::{AllyEvent, Detail, RunwayLow, ThresholdCrossed, TopUpFailed};
use crate::service::Profile;
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
    let Some((profile, to)) = addressee(ally, &crossed.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let threshold = crossed.fields.threshold;
    let available = profile.available;
    let set = profile.reseller.alerts.as_ref().is_some_and(|a| a.thresholds.contains(&threshold));
    if !set || available >= threshold {
        tracing::info!(reseller = %profile.reseller.refid, threshold, available, "a threshold alert the wallet does not bear out: dropped");
        return Ok(Handled::Dropped);
    }
    let mail = notice(
        to.as_str(),
        "Your Ally credit crossed an alert threshold",
        profile.reseller.company.as_str(),
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
    let Some((profile, to)) = addressee(ally, &low.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let asked = profile.reseller.alerts.as_ref().and_then(|a| a.runway_days);
    let (Some(days), Some(runway)) = (asked, profile.runway_days.filter(|r| asked.is_some_and(|d| *r < d))) else {
        tracing::info!(reseller = %profile.reseller.refid, "a runway alert the wallet does not bear out: dropped");
        return Ok(Handled::Dropped);
    };
    let mail = notice(
        to.as_str(),
        "Your Ally credit runs out soon",
        profile.reseller.company.as_str(),
        &[format!(
            "At your spending of the last 30 days, your available credit of {} lasts about {runway} days, \
             less than the {days} days you asked to be told about.",
            profile.available
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
    let Some((profile, to)) = addressee(ally, &failed.envelope.reseller.user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let reseller = profile.reseller;
    let Some(off) = reseller.auto_top_up.as_ref().filter(|rule| !rule.enabled) else {
        tracing::info!(reseller = %reseller.refid, "an auto top-up turned off that the profile does not bear out: dropped");
        return Ok(Handled::Dropped);
    };
    let mail = notice(
        to.as_str(),
        "Your Ally auto top-up is turned off",
        reseller.company.as_str(),
        &[
            format!(
                "{} auto top-up requests in a row were not paid within a day, so Ally stopped asking.",
                off.failures_in_a_row
            ),
            "Check your payment method, then save your auto top-up rule again to turn it back on.".to_string(),
        ],
        "Review your auto top-up in your dashboard",
        &ally.config().dashboard_link(),
    );
    let key = format!("top-up-off:{}", failed.envelope.event_id);
    sent(send_once(ally.store(), mailer, &key, async { Ok(mail) }).await)
}

/// The stored profile an alert is about (what it may spend, its runway), and its address;
/// none (logged) when it has no address or is no reseller.
async fn addressee<S: Store>(ally: &Ally<S>, user_id: &UserId) -> Result<Option<(Profile, Email)>, AllyError> {
    let profile = match ally.profile(user_id).await {
        Ok(profile) => profile,
        Err(AllyError::NotFound(_)) => {
            tracing::warn!(reseller = %user_id, "an alert about no reseller: dropped");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let Some(to) = profile.reseller.email.clone() else {
        tracing::warn!(reseller = %profile.reseller.refid, "an alert, but the reseller has no email");
        return Ok(None);
    };
    Ok(Some((profile, to)))
}

/// What a mail's delivery makes of the event.
fn sent(result: Result<Delivery, AllyError>) -> Result<Handled, AllyError> {
    Ok(match result? {
        Delivery::Sent => Handled::Done,
        Delivery::AlreadySent => Handled::Duplicate,
        Delivery::Suppressed | Delivery::Refused => Handled::Dropped,
    })
}
