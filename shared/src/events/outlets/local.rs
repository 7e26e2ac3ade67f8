//! The event pipeline on a laptop: the memory store's change feed goes through the same
//! publisher to an in-process bus, which routes events by the rules of `template.yaml` to
//! the same handlers; mail lands in a local outbox a person can read.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::Ally;
use crate::domain::AllyError;
use crate::events::bus::{Bus, Published};
use crate::events::mail::{Mail, MailError, Mailer};
use crate::events::notices::notify_alert;
use crate::events::parking::ParkedFiles;
use crate::events::reactions::{Handled, notify_low_credit, pay_waiting_referrals, reward_referral};
use crate::events::{AllyEvent, BusEvent, ItemChange, REFERRAL_SOURCE, ReferralCompleted, SOURCE, publisher};
use crate::store::Store;

/// A mail the outbox received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sent_at: DateTime<Utc>,
}

/// Mail kept in memory (for `GET /_local/outbox`) and written as `.eml` files.
pub struct Outbox {
    dir: PathBuf,
    from: String,
    sent: Mutex<Vec<SentMail>>,
}

impl Outbox {
    /// An outbox writing to `dir`, as sender `from`.
    pub fn new(dir: impl Into<PathBuf>, from: impl Into<String>) -> Self {
        Self { dir: dir.into(), from: from.into(), sent: Mutex::new(Vec::new()) }
    }

    /// Every mail sent so far, oldest first.
    pub fn sent(&self) -> Vec<SentMail> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Mailer for Outbox {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let now = Utc::now();
        let boundary = format!("ally-{}", crate::domain::new_id());
        let eml = format!(
            "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
             --{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--{boundary}--\r\n",
            from = self.from,
            to = mail.to,
            subject = mail.subject,
            date = now.to_rfc2822(),
            text = mail.text,
            html = mail.html,
        );
        let io = |e: std::io::Error| AllyError::internal(e);
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        std::fs::write(self.dir.join(format!("{}.eml", crate::domain::new_id())), eml).map_err(io)?;
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push(SentMail {
            to: mail.to.clone(),
            subject: mail.subject.clone(),
            text: mail.text.clone(),
            html: mail.html.clone(),
            sent_at: now,
        });
        Ok(())
    }
}

/// The in-process bus: the rules of `template.yaml` (`LowCredit` from `ally` to the
/// notifier, `ReferralCompleted` from `refer` to the reward), run in process.
pub struct LocalBus<S> {
    ally: Arc<Ally<S>>,
    outbox: Arc<Outbox>,
}

impl<S: Store> LocalBus<S> {
    /// A bus delivering to handlers over `ally`, mailing into `outbox`.
    pub fn new(ally: Arc<Ally<S>>, outbox: Arc<Outbox>) -> Self {
        Self { ally, outbox }
    }

    /// Delivers one event to the handler its rule names.
    pub async fn deliver(&self, event: &BusEvent) -> Result<Handled, AllyError> {
        let detail = |e: serde_json::Error| AllyError::validation(format!("invalid {} detail: {e}", event.detail_type));
        match (event.source.as_str(), event.detail_type.as_str()) {
            (SOURCE, _) => match AllyEvent::from_bus(event).map_err(detail)? {
                AllyEvent::LowCredit(low) => {
                    let hold = self.ally.config().hold_on_low_credit;
                    notify_low_credit(&self.ally, self.outbox.as_ref(), &low, hold).await
                }
                AllyEvent::ResellerOnboarded(joined) => {
                    pay_waiting_referrals(&self.ally, &joined.envelope.reseller.user_id).await
                }
                alert @ (AllyEvent::CreditThresholdCrossed(_)
                | AllyEvent::LowRunway(_)
                | AllyEvent::AutoTopUpFailed(_)) => notify_alert(&self.ally, self.outbox.as_ref(), &alert).await,
                _ => Ok(Handled::Dropped),
            },
            (REFERRAL_SOURCE, "ReferralCompleted") => {
                let referral: ReferralCompleted = serde_json::from_value(event.detail.clone()).map_err(detail)?;
                reward_referral(&self.ally, &referral, self.ally.now()).await
            }
            _ => Ok(Handled::Dropped),
        }
    }
}

impl<S: Store> Bus for LocalBus<S> {
    async fn publish(&self, events: &[BusEvent]) -> Vec<Published> {
        let mut accepted = Vec::with_capacity(events.len());
        for event in events {
            // The bus accepted it; what its consumer made of it is the consumer's business,
            // as with EventBridge.
            if let Err(e) = self.deliver(event).await {
                tracing::error!(error = %e, detail_type = %event.detail_type, "local consumer failed");
            }
            accepted.push(Published::Accepted);
        }
        accepted
    }
}

/// Runs the publisher over the memory store's change feed until the feed closes; what it
/// cannot publish is parked as files in `parked`.
pub async fn run_change_feed<S: Store>(
    ally: Arc<Ally<S>>,
    bus: Arc<LocalBus<S>>,
    parked: ParkedFiles,
    mut feed: UnboundedReceiver<ItemChange>,
) {
    while let Some(change) = feed.recv().await {
        let threshold = ally.config().low_credit_threshold;
        let whole = serde_json::to_value(&change).unwrap_or_default();
        let record = vec![publisher::Record { report_id: change.id.clone(), change: Ok(change), whole }];
        for failed in publisher::publish(ally.store(), bus.as_ref(), &parked, threshold, record).await {
            tracing::error!(change = %failed, "could not publish a local change");
        }
    }
}
