//! Consumers of bus events: the low-credit mail (and optional hold) and the referral
//! reward. Each is idempotent per event: a redelivery does nothing more.

use chrono::{DateTime, Duration, Utc};

use crate::Ally;
use crate::domain::{AllyError, Email, EntryKind, IdempotencyKey, Note, REFERRAL_ACTOR, Reseller, UserId, month_of};
use crate::events::mail::{Delivery, Mail, Mailer, notice, send_once};
use crate::events::{LowCredit, ReferralCompleted};
use crate::service::CreditRequest;
use crate::store::{PendingReferral, RewardSlot, Store};

/// What handling an event came to (for logs and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    Done,
    /// Already handled: a redelivery.
    Duplicate,
    /// Not for us, or not actionable (logged).
    Dropped,
    /// A referral kept until its referred user becomes a reseller.
    Waiting,
    /// A referral past the referrer's monthly cap: recorded and refused.
    OverCap,
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
    let Some(now) = ally.store().reseller(user_id).await? else {
        tracing::warn!(reseller = %user_id, "a low-credit notice for no reseller: dropped");
        return Ok(Handled::Dropped);
    };
    let hold_key = format!("low-credit-hold:{event_id}");
    let mail_key = format!("low-credit:{event_id}");
    if now.available() >= ally.config().low_credit_threshold {
        tracing::info!(reseller = %now.refid, available = now.available(), "credit recovered before the low-credit notice");
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
    // The mail does not wait on the hold, nor the hold on the mail. It goes to the address
    // the profile holds and says what the wallet holds, whatever the event says.
    let mailed = match now.email.as_ref() {
        Some(to) => send_once(ally.store(), mailer, &mail_key, low_credit_mail(ally, &now, to)).await.map(Some),
        None => {
            tracing::warn!(reseller = %now.refid, "low credit, but the reseller has no email");
            Ok(None)
        }
    };
    Ok(match (held?, mailed?) {
        (true, _) | (_, Some(Delivery::Sent)) => Handled::Done,
        (false, Some(Delivery::AlreadySent)) => Handled::Duplicate,
        (false, None | Some(Delivery::Suppressed | Delivery::Refused)) => Handled::Dropped,
    })
}

async fn low_credit_mail<S: Store>(ally: &Ally<S>, now: &Reseller, to: &Email) -> Result<Mail, AllyError> {
    let (available, threshold) = (now.available(), ally.config().low_credit_threshold);
    Ok(notice(
        to.as_str(),
        "Your Ally balance is low",
        now.company.as_str(),
        &[format!("Your available credit is {available}, below the threshold of {threshold}.")],
        "Top up in your dashboard to keep provisioning for your clients",
        &ally.config().dashboard_link(),
    ))
}

/// The referral reward: the configured credits to the referrer, once per referred user
/// (however many referral ids name them), through the same idempotent money path, and
/// only for a referral that earns one, judged on what the table holds:
/// - the tag is `become-partner`, the referrer a reseller, the referred user someone else;
/// - the referred user became a reseller within the referral window of the event (before
///   or after it), or becomes one: until then the referral waits
///   ([`pay_waiting_referrals`] pays it when they onboard);
/// - the referred reseller is (or, recruited now, becomes) the referrer's sub-reseller: one
///   already under someone else, or whom the tree refuses there, earns nothing;
/// - the referrer holds fewer than `referral_monthly_cap` rewards of the month (the rest
///   are recorded and refused).
///
/// `at` is the event's time: the window and the month count from it, the same on every
/// retry. A referral that earns nothing is logged and dropped; a transient failure is
/// returned for a retry.
pub async fn reward_referral<S: Store>(
    ally: &Ally<S>,
    event: &ReferralCompleted,
    at: DateTime<Utc>,
) -> Result<Handled, AllyError> {
    if event.tag != "become-partner" {
        return Ok(Handled::Dropped);
    }
    let (referrer, referred) =
        match (UserId::parse(event.referrer_user_id.as_str()), UserId::parse(event.referred_user_id.as_str())) {
            (Ok(referrer), Ok(referred)) if referrer != referred => (referrer, referred),
            _ => {
                tracing::warn!(referral = %event.referral_id, "self-referral or malformed user ids: no reward");
                return Ok(Handled::Dropped);
            }
        };
    if ally.store().reseller(&referrer).await?.is_none() {
        tracing::warn!(referral = %event.referral_id, "unknown referrer: no reward");
        return Ok(Handled::Dropped);
    }
    // An event time past what a window can be added to is no referral Ally can judge.
    let Some(window_end) = at.checked_add_signed(Duration::days(ally.config().referral_window_days)) else {
        tracing::warn!(referral = %event.referral_id, "an event time out of range: no reward");
        return Ok(Handled::Dropped);
    };
    let pending = PendingReferral {
        referral_id: event.referral_id.clone(),
        referrer_user_id: referrer,
        referred_user_id: referred.clone(),
        referred_at: at,
        expires_at: window_end.timestamp(),
    };
    if let Some(joined) = ally.store().reseller(&referred).await? {
        return pay_within_window(ally, &pending, &joined).await;
    }
    if pending.expires_at <= ally.now().timestamp() {
        tracing::info!(referral = %event.referral_id, "the referred user did not onboard within the window: no reward");
        return Ok(Handled::Dropped);
    }
    ally.store().park_referral(&pending).await?;
    // The referred user may have onboarded between the two reads, and the onboarding's
    // consumer may have looked for waiting referrals before this one was kept: look again.
    if let Some(joined) = ally.store().reseller(&referred).await? {
        let paid = pay_within_window(ally, &pending, &joined).await?;
        ally.store().settle_referral(&pending).await?;
        return Ok(paid);
    }
    Ok(Handled::Waiting)
}

/// Pays the referrals that were waiting for `user_id`, who has just become a reseller; a
/// referral whose window ended before the onboarding is forgotten unpaid.
pub async fn pay_waiting_referrals<S: Store>(ally: &Ally<S>, user_id: &UserId) -> Result<Handled, AllyError> {
    let Some(joined) = ally.store().reseller(user_id).await? else {
        return Ok(Handled::Dropped);
    };
    let mut outcome = Handled::Dropped;
    for pending in ally.store().pending_referrals(user_id).await? {
        outcome = pay_within_window(ally, &pending, &joined).await?;
        ally.store().settle_referral(&pending).await?;
    }
    Ok(outcome)
}

/// The reward of `referral` if its referred user, `joined`, became a reseller within the
/// window around the referral (however late the event saying so is handled, or handled
/// again) and is the referrer's recruit.
async fn pay_within_window<S: Store>(
    ally: &Ally<S>,
    referral: &PendingReferral,
    joined: &Reseller,
) -> Result<Handled, AllyError> {
    let window = Duration::days(ally.config().referral_window_days);
    let opened = referral.referred_at.checked_sub_signed(window).map_or(i64::MIN, |t| t.timestamp());
    if joined.created_at.timestamp() >= referral.expires_at || joined.created_at.timestamp() < opened {
        tracing::info!(referral = %referral.referral_id, "a reseller since outside the referral window: no reward");
        return Ok(Handled::Dropped);
    }
    if !recruit(ally, referral, joined).await? {
        return Ok(Handled::Dropped);
    }
    pay(ally, referral, joined).await
}

/// Puts the referred reseller under its referrer unless it has a parent already; whether it
/// is the referrer's sub-reseller now. One under someone else (an admin's choice, another
/// referrer's recruit), or whom the tree refuses (a cycle, too deep), is not (logged). Done
/// again on a retry, it finds the parent set.
async fn recruit<S: Store>(ally: &Ally<S>, referral: &PendingReferral, joined: &Reseller) -> Result<bool, AllyError> {
    let referrer = ally.find_by_user(&referral.referrer_user_id).await?;
    if let Some(parent) = &joined.parent {
        let theirs = parent.refid == referrer.refid;
        if !theirs {
            tracing::warn!(referral = %referral.referral_id, "the referred reseller is another's sub-reseller: no reward");
        }
        return Ok(theirs);
    }
    match ally.set_parent_if_none(&joined.user_id, &referrer.refid).await {
        Ok(()) => {
            // Set now, or by a referral of someone else a moment before: the tree says whose.
            let now = ally.find_by_user(&joined.user_id).await?;
            Ok(now.parent.is_some_and(|p| p.refid == referrer.refid))
        }
        Err(AllyError::Validation(reason)) => {
            tracing::warn!(referral = %referral.referral_id, %reason, "the recruit stays outside the referrer's tree: no reward");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The reward of `referral` once its referred user is the referrer's recruit `joined`: a
/// slot of the month of the referral, then the credits, each once per recruit (a second
/// referral id naming them finds both taken), keyed by the recruit's refid (a ledger names
/// other resellers by refid only).
async fn pay<S: Store>(ally: &Ally<S>, referral: &PendingReferral, joined: &Reseller) -> Result<Handled, AllyError> {
    let id = &referral.referral_id;
    let recruit = joined.refid.as_str();
    let key = match IdempotencyKey::referral(recruit) {
        Ok(key) => key,
        Err(reason) => {
            tracing::warn!(referral = %id, %reason, "unusable referral id: no reward");
            return Ok(Handled::Dropped);
        }
    };
    let cap = ally.config().referral_monthly_cap;
    let month = month_of(referral.referred_at.date_naive());
    let slot = match cap {
        0 => RewardSlot::CapReached,
        cap => ally.store().take_reward_slot(&referral.referrer_user_id, month, recruit, cap).await?,
    };
    if slot == RewardSlot::CapReached {
        ally.store().claim(&format!("referral-over-cap:{id}")).await?;
        tracing::warn!(referral = %id, cap, "the referrer's rewards of the month are used up: refused");
        return Ok(Handled::OverCap);
    }
    let request = CreditRequest {
        amount: ally.config().referral_reward,
        reason: Some(Note::parse(format!("referral {id}"))?),
        ..CreditRequest::default()
    };
    match ally.add_credits(&referral.referrer_user_id, request, EntryKind::Reward, REFERRAL_ACTOR, &key).await {
        Ok(_) => Ok(Handled::Done),
        Err(AllyError::IdempotencyConflict) => Ok(Handled::Duplicate),
        Err(AllyError::Validation(reason)) => {
            tracing::warn!(referral = %id, %reason, "unusable referral: no reward");
            Ok(Handled::Dropped)
        }
        Err(e) => Err(e),
    }
}
