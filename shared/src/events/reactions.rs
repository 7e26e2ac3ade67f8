//! Consumers of bus events: the low-credit mail (and optional hold) and the referral
//! reward. Each is idempotent per event: a redelivery does nothing more.

use super::mail::{Mail, Mailer, html_escape, plain};
use super::{LowCredit, ReferralCompleted};
use crate::Ally;
use crate::domain::{AllyError, EntryKind, IdempotencyKey, Note, UserId};
use crate::service::{CreditRequest, ResellerPatch};
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

/// The low-credit mail of `event`, once per event id. With `hold`, the partner's
/// provisioning is also put on hold (the seed's custom-listener example). A failed send
/// forgets the claim and returns the error, so Lambda's asynchronous retry sends it again.
pub async fn notify_low_credit<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    event: &LowCredit,
    hold: bool,
) -> Result<Handled, AllyError> {
    let claim = format!("low-credit:{}", event.envelope.event_id);
    if !ally.store().claim(&claim).await? {
        return Ok(Handled::Duplicate);
    }
    let Some(to) = event.fields.email.as_ref().map(ToString::to_string) else {
        tracing::warn!(reseller = %event.envelope.reseller.user_id, "low credit, but the reseller has no email");
        return Ok(Handled::Dropped);
    };
    let link = ally.config().dashboard_link();
    let subject = "Your Ally balance is low".to_string();
    let company = plain(event.fields.company.as_str());
    let text = format!(
        "Hello {company},\n\nYour credit balance is {balance}, below the threshold of {threshold}.\n\
         Top up to keep provisioning for your clients: {link}\n",
        company = company,
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
    if let Err(e) = mailer.send(&Mail { to, subject, text, html }).await {
        ally.store().release(&claim).await?;
        return Err(e);
    }
    if let (true, Some(refid)) = (hold, &event.envelope.reseller.refid) {
        let patch = ResellerPatch { hold_provisioning: Some(true), ..ResellerPatch::default() };
        ally.update_reseller(refid, patch).await?;
    }
    Ok(Handled::Done)
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
