//! Mail to partners and admins: SES v2 in AWS, a local outbox on a laptop.

use std::future::Future;

use aws_sdk_sesv2::Client as SesClient;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::domain::AllyError;
use crate::store::Jobs;

/// One mail, with a text and an HTML body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Sends mail.
pub trait Mailer: Send + Sync {
    /// Sends `mail`; an error means it was not sent and may be tried again.
    fn send(&self, mail: &Mail) -> impl Future<Output = Result<(), AllyError>> + Send;
}

/// SES v2 `SendEmail` from a verified identity.
pub struct SesMailer {
    client: SesClient,
    from: String,
}

impl SesMailer {
    /// Sends as `from` (an address of the verified identity) through `client`.
    pub fn new(client: SesClient, from: impl Into<String>) -> Self {
        Self { client, from: from.into() }
    }
}

fn content(text: &str) -> Result<Content, AllyError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(AllyError::internal)
}

impl Mailer for SesMailer {
    async fn send(&self, mail: &Mail) -> Result<(), AllyError> {
        let message = Message::builder()
            .subject(content(&mail.subject)?)
            .body(Body::builder().text(content(&mail.text)?).html(content(&mail.html)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.from)
            .destination(Destination::builder().to_addresses(&mail.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(AllyError::internal)?;
        crate::metrics::record(&[crate::metrics::Metric::MailSent]);
        Ok(())
    }
}

/// Sends the mail `compose` makes once per `key`: nothing when `key` is recorded done,
/// otherwise send, then record. Recorded after sending, so a crash in between sends again
/// rather than never (at least once; never lost). True when this call sent it.
pub async fn send_once<J: Jobs, M: Mailer>(
    jobs: &J,
    mailer: &M,
    key: &str,
    compose: impl Future<Output = Result<Mail, AllyError>>,
) -> Result<bool, AllyError> {
    if jobs.claimed(key).await? {
        return Ok(false);
    }
    mailer.send(&compose.await?).await?;
    Ok(jobs.claim(key).await?)
}

/// Text a partner chose (a company name) as mail may carry it: control characters (line
/// breaks, escapes, bidirectional overrides' kin) removed, so it cannot start a header, a
/// new line or a forged paragraph. Subjects never carry it at all.
pub fn plain(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
        .collect()
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
