//! Mail to partners and admins: SES v2 in AWS, a local outbox on a laptop. Every mail is
//! sent once per key, never to an address SES reported bounced for good or complaining,
//! and no faster than the configured rate.

use std::future::Future;

use aws_sdk_sesv2::Client as SesClient;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use tokio::sync::Mutex;
use tokio::time::{Duration, Instant};

use crate::domain::AllyError;
use crate::metrics::{Metric, record};
use crate::store::Jobs;

/// One mail, with a text and an HTML body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Why a mail was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail service refuses for now (its sending rate, its daily quota, sending
    /// paused): back off, and try again later.
    #[error("the mail service is holding sends back: {0}")]
    Throttled(String),
    /// The service refused this mail for good (its address, its content): sending it again
    /// would be refused again.
    #[error("the mail service refused the mail: {0}")]
    Refused(String),
    /// Anything else (the network, the service failing): it may be tried again.
    #[error(transparent)]
    Failed(#[from] AllyError),
}

/// Sends mail.
pub trait Mailer: Send + Sync {
    /// Sends `mail`; an error says whether it may be tried again, and when.
    fn send(&self, mail: &Mail) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// SES v2 `SendEmail` from a verified identity, through a configuration set (whose
/// bounces and complaints come back as events), at most `per_second` sends a second
/// from this process.
pub struct SesMailer {
    client: SesClient,
    from: String,
    configuration_set: Option<String>,
    gap: Duration,
    next_send: Mutex<Option<Instant>>,
}

impl SesMailer {
    /// Sends as `from` (an address of the verified identity) through `client`, at most
    /// `per_second` a second (at least one).
    pub fn new(client: SesClient, from: impl Into<String>, per_second: u32) -> Self {
        Self {
            client,
            from: from.into(),
            configuration_set: None,
            gap: Duration::from_secs(1) / per_second.max(1),
            next_send: Mutex::new(None),
        }
    }

    /// Sends through the configuration set `name` (`ALLY_MAIL_CONFIGURATION_SET`).
    pub fn with_configuration_set(mut self, name: Option<String>) -> Self {
        self.configuration_set = name;
        self
    }

    /// Waits for this send's turn under the rate.
    async fn take_turn(&self) {
        let mut next = self.next_send.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        *next = Some(Instant::now() + self.gap);
    }
}

/// What SES's refusal of a send means for the next one.
fn mail_error(error: SendEmailError) -> MailError {
    let reason = aws_sdk_sesv2::error::DisplayErrorContext(&error).to_string();
    match error {
        SendEmailError::TooManyRequestsException(_)
        | SendEmailError::LimitExceededException(_)
        | SendEmailError::SendingPausedException(_)
        | SendEmailError::AccountSuspendedException(_) => MailError::Throttled(reason),
        SendEmailError::MessageRejected(_) | SendEmailError::BadRequestException(_) => MailError::Refused(reason),
        other => MailError::Failed(AllyError::internal(other)),
    }
}

fn content(text: &str) -> Result<Content, AllyError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(AllyError::internal)
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.text)?).html(content(&mail.html)?).build())
            .build();
        self.take_turn().await;
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(|e| match e {
                aws_sdk_sesv2::error::SdkError::ServiceError(refused) => mail_error(refused.into_err()),
                other => MailError::Failed(AllyError::internal(other)),
            })?;
        record(&[Metric::MailSent]);
        Ok(())
    }
}

/// What became of a mail [`send_once`] was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// This call sent it.
    Sent,
    /// It was sent before (a retry, a redelivery).
    AlreadySent,
    /// Its address bounced for good or complained: nothing sent, nothing recorded, so an
    /// address taken off the list gets the mails still due.
    Suppressed,
    /// The mail service refused it for good: recorded (`mail-refused:<key>`, with the
    /// reason), counted (`MailsRefused`) and never tried again.
    Refused,
}

/// Sends the mail `compose` makes once per `key`: nothing when `key` is recorded done or
/// the address is suppressed, otherwise send, then record. Recorded after sending, so a
/// crash in between sends again rather than never (at least once; never lost). A refusal
/// for good is recorded as done; a throttle is `AllyError::Throttled`, to be tried later.
pub async fn send_once<J: Jobs, M: Mailer>(
    jobs: &J,
    mailer: &M,
    key: &str,
    compose: impl Future<Output = Result<Mail, AllyError>>,
) -> Result<Delivery, AllyError> {
    if jobs.claimed(key).await? {
        return Ok(Delivery::AlreadySent);
    }
    let mail = compose.await?;
    if let Some(why) = jobs.checkpoint(&suppression_key(&mail.to)).await? {
        tracing::info!(%key, %why, "mail not sent: the address is suppressed");
        record(&[Metric::MailSuppressed]);
        return Ok(Delivery::Suppressed);
    }
    match mailer.send(&mail).await {
        Ok(()) => {}
        Err(MailError::Refused(reason)) => {
            tracing::error!(%key, %reason, "the mail service refused a mail for good");
            record(&[Metric::MailRefused]);
            jobs.save_checkpoint(&format!("mail-refused:{key}"), &reason).await?;
            jobs.claim(key).await?;
            return Ok(Delivery::Refused);
        }
        Err(MailError::Throttled(reason)) => {
            tracing::warn!(%key, %reason, "the mail service is holding sends back");
            return Err(AllyError::Throttled);
        }
        Err(MailError::Failed(e)) => return Err(e),
    }
    jobs.claim(key).await?;
    Ok(Delivery::Sent)
}

/// The record that keeps mail from `address` (case aside).
fn suppression_key(address: &str) -> String {
    format!("mail-suppressed:{}", address.trim().to_lowercase())
}

/// Keeps every later mail from `address`, for `why` (a permanent bounce, a complaint).
pub async fn suppress<J: Jobs>(jobs: &J, address: &str, why: &str) -> Result<(), AllyError> {
    jobs.save_checkpoint(&suppression_key(address), why).await?;
    tracing::warn!(%why, "an address is suppressed: no more mail goes to it");
    Ok(())
}

/// Text a partner chose (a company name) as mail may carry it: control and invisible
/// characters (line breaks, escapes, bidirectional overrides) removed, so it cannot start a
/// header, a new line or a forged paragraph, even if it was stored before names refused
/// them. Subjects never carry it at all.
pub fn plain(text: &str) -> String {
    let mut text: String = text.chars().filter(|c| !c.is_control()).collect();
    while let Some(hidden) = crate::domain::first_unseen(&text) {
        text = text.replacen(hidden, "", 1);
    }
    text
}

/// Escapes text for an HTML body.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The footer every Ally mail ends with, as text: who sends it, why, and where the
/// partner's settings (alerts, auto top-up) live.
pub fn footer_text(link: &str) -> String {
    format!(
        "\n--\nAlly partner network. You receive this mail about your Ally account.\n\
         Alerts, auto top-up and statements: {link}\n"
    )
}

/// The same footer as HTML.
pub fn footer_html(link: &str) -> String {
    format!(
        "<hr><p style=\"color:#666;font-size:12px\">Ally partner network. You receive this mail about your Ally \
         account.<br>Alerts, auto top-up and statements: <a href=\"{0}\">{0}</a></p>",
        html_escape(link)
    )
}

/// A notice to `company` at `to`: a greeting, `paragraphs` (plain text, escaped for the
/// HTML part), a call to action that links to `link`, and the footer; a text and an HTML
/// part that say the same.
pub fn notice(to: &str, subject: &str, company: &str, paragraphs: &[String], action: &str, link: &str) -> Mail {
    let company = plain(company);
    let text_body: String = paragraphs.iter().map(|p| format!("{p}\n")).collect();
    let html_body: String = paragraphs.iter().map(|p| format!("<p>{}</p>", html_escape(p))).collect();
    Mail {
        to: to.to_string(),
        subject: subject.to_string(),
        text: format!("Hello {company},\n\n{text_body}{action}: {link}\n{}", footer_text(link)),
        html: format!(
            "<p>Hello {},</p>{html_body}<p><a href=\"{}\">{}</a></p>{}",
            html_escape(&company),
            html_escape(link),
            html_escape(action),
            footer_html(link)
        ),
    }
}
