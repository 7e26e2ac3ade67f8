//! Consumers of bus events: the low-credit mail (and optional hold) and the referral
//! reward. Each is idempotent per event: a redelivery does nothing more.

use super::mail::{Mail, Mailer, html_escape, plain, send_once};
use super::{LowCredit, ReferralCompleted};
use crate::Ally;
use crate::domain::{AllyError, Email, EntryKind, IdempotencyKey, Note, UserId};
use crate::service::CreditRequest;
use crate::store::Store;

/// What handling an event came to (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Done,
    /// Already handled: a redelivery.
    Duplicate,
    /// Not for us, or not actionable (logged).
    Dropped,
}

/// The low-credit notice of `event`: the mail (to a partner with an address) and, with
/// `hold`, the hold on provisioning, each done once per event and independently of the
/// other. Nothing happens when the balance is back at the threshold by the time the event
/// is handled (a top-up came first). An error is returned for Lambda's retry, which finds
/// what was done recorded and does only the rest.
pub async fn notify_low_credit<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    event: &LowCredit,
    hold: bool,
) -> Result<Handled, AllyError> {
    let user_id = &event.envelope.reseller.user_id;
    let event_id = &event.envelope.event_id;
    let now = ally.find_by_user(user_id).await?;
    let hold_key = format!("low-credit-hold:{event_id}");
    let mail_key = format!("low-credit:{event_id}");
    if now.balance >= ally.config().low_credit_threshold {
        tracing::info!(reseller = %now.refid, balance = now.balance, "credit recovered before the low-credit notice");
        return Ok(Handled::Dropped);
    }
    // The hold, recorded after it is set: a retry after a crash finds it set (no change) and
    // records it; an admin who lifts it afterwards is not overruled by a redelivery.
    let held = async {
        if !hold || ally.store().claimed(&hold_key).await? {
            return Ok(false);
        }
        let set = ally.hold_for_low_credit(user_id).await?;
        ally.store().claim(&hold_key).await?;
        Ok::<_, AllyError>(set)
    }
    .await;
    // The mail does not wait on the hold, nor the hold on the mail.
    let mailed = match event.fields.email.as_ref() {
        Some(to) => send_once(ally.store(), mailer, &mail_key, low_credit_mail(ally, event, to)).await,
        None => {
            tracing::warn!(reseller = %now.refid, "low credit, but the reseller has no email");
            Ok(false)
        }
    };
    Ok(if held? | mailed? { Handled::Done } else { Handled::Duplicate })
}

async fn low_credit_mail<S: Store>(ally: &Ally<S>, event: &LowCredit, to: &Email) -> Result<Mail, AllyError> {
    let link = ally.config().dashboard_link();
    let company = plain(event.fields.company.as_str());
    let text = format!(
        "Hello {company},\n\nYour credit balance is {balance}, below the threshold of {threshold}.\n\
         Top up to keep provisioning for your clients: {link}\n",
        balance = event.fields.balance,
        threshold = event.fields.threshold,
    );
    let html = format!(
        "<p>Hello {company},</p><p>Your credit balance is <strong>{balance}</strong>, below the threshold of \
         {threshold}.</p><p><a href=\"{link}\">Top up in your dashboard</a> to keep provisioning for your clients.</p>",
        company = html_escape(&company),
        balance = event.fields.balance,
        threshold = event.fields.threshold,
        link = html_escape(&link),
    );
    Ok(Mail { to: to.to_string(), subject: "Your Ally balance is low".into(), text, html })
}

/// The referral reward: the configured credits to the referrer, once per referral id,
/// through the same idempotent money path. Other tags, unknown referrers and
/// self-referrals are logged and dropped; a transient failure is returned for a retry.
pub async fn reward_referral<S: Store>(ally: &Ally<S>, event: &ReferralCompleted) -> Result<Handled, AllyError> {
    if event.tag != "become-partner" {
        return Ok(Handled::Dropped);
    }
    let referrer = match UserId::parse(event.referrer_user_id.as_str()) {
        Ok(referrer) if event.referrer_user_id != event.referred_user_id => referrer,
        _ => {
            tracing::warn!(referral = %event.referral_id, "self-referral or malformed referrer: no reward");
            return Ok(Handled::Dropped);
        }
    };
    let key = match IdempotencyKey::referral(&event.referral_id) {
        Ok(key) => key,
        Err(reason) => {
            tracing::warn!(referral = %event.referral_id, %reason, "unusable referral id: no reward");
            return Ok(Handled::Dropped);
        }
    };
    let request = CreditRequest {
        amount: ally.config().referral_reward,
        reason: Some(Note::parse(format!("referral {}", event.referral_id))?),
    };
    match ally.add_credits(&referrer, request, EntryKind::Reward, "referral", &key).await {
        Ok(_) => Ok(Handled::Done),
        Err(AllyError::NotFound(_)) => {
            tracing::warn!(referral = %event.referral_id, "unknown referrer: no reward");
            Ok(Handled::Dropped)
        }
        Err(AllyError::IdempotencyConflict) => Ok(Handled::Duplicate),
        Err(AllyError::Validation(reason)) => {
            tracing::warn!(referral = %event.referral_id, %reason, "unusable referral: no reward");
            Ok(Handled::Dropped)
        }
        Err(e) => Err(e),
    }
}
