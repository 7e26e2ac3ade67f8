//! The Lambda entry points of the pipeline, over the shapes Lambda delivers: a DynamoDB
//! stream batch (answering `batchItemFailures`: the mapping retries those records) and
//! EventBridge events (a returned error gets Lambda's two asynchronous retries, then the
//! event goes whole to the function's on-failure queue, for `ally-local redrive`).

use aws_lambda_events::event::dynamodb::Event as StreamBatch;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::Utc;
use serde_json::Value;

use crate::Ally;
use crate::domain::AllyError;
use crate::events::bus::Bus;
use crate::events::mail::{Mailer, suppress};
use crate::events::notices::notify_alert;
use crate::events::parking::Parking;
use crate::events::reactions::{Handled, notify_low_credit, pay_waiting_referrals, reward_referral};
use crate::events::report::{ReportRun, previous_month, run_monthly_report};
use crate::events::{AllyEvent, BusEvent, LowCredit, REFERRAL_SOURCE, ReferralCompleted, SOURCE, publisher, stream};
use crate::metrics::{Metric, record};
use crate::store::Store;

/// How much time a report run keeps in hand before its deadline to stop cleanly.
const REPORT_MARGIN_MS: i64 = 20_000;

/// `stream-publisher`: a stream batch to the bus; unpublishable records reported by
/// sequence number so only they are retried.
pub async fn publish_stream<S: Store, B: Bus, P: Parking>(
    ally: &Ally<S>,
    bus: &B,
    parking: &P,
    batch: StreamBatch,
) -> DynamoDbEventResponse {
    let records = batch.records.iter().map(stream::record_of).collect();
    batch_failures(publisher::publish(ally.store(), bus, parking, ally.config().low_credit_threshold, records).await)
}

/// The answer that makes Lambda retry only the `failed` records (by sequence number).
fn batch_failures(failed: Vec<String>) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id);
            failure
        })
        .collect();
    response
}

fn detail<T: serde::de::DeserializeOwned>(event: &EventBridgeEvent<Value>) -> Result<T, AllyError> {
    serde_json::from_value(event.detail.clone())
        .map_err(|e| AllyError::validation(format!("invalid {} detail: {e}", event.detail_type)))
}

/// `low-credit-notifier`: one `LowCredit` event, or one alert of a partner's own settings
/// (`CreditThresholdCrossed`, `LowRunway`, an `AutoTopUpFailed` that turned the rule off),
/// or SES's word on a mail sent ([`mail_feedback`]).
pub async fn low_credit<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    event: EventBridgeEvent<Value>,
) -> Result<Handled, AllyError> {
    if event.source == SES_SOURCE {
        return Box::pin(mail_feedback(ally, &event)).await;
    }
    if event.detail_type != "LowCredit" {
        let bus =
            BusEvent { source: event.source.clone(), detail_type: event.detail_type.clone(), detail: event.detail };
        let alert = AllyEvent::from_bus(&bus)
            .map_err(|e| AllyError::validation(format!("invalid {} detail: {e}", bus.detail_type)))?;
        return Box::pin(notify_alert(ally, mailer, &alert)).await;
    }
    let low: LowCredit = detail(&event)?;
    Box::pin(notify_low_credit(ally, mailer, &low, ally.config().hold_on_low_credit)).await
}

/// The source of SES's events (a configuration set's EventBridge destination): only AWS
/// puts events of an `aws.` source.
pub const SES_SOURCE: &str = "aws.ses";

/// SES's event about a mail, as its configuration set's EventBridge destination puts it
/// (`detail-type` `Email Bounced` or `Email Complaint Received`).
#[derive(Debug, serde::Deserialize)]
struct MailFeedback {
    #[serde(default)]
    bounce: Option<Bounce>,
    #[serde(default)]
    complaint: Option<Complaint>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounced_recipients: Vec<Recipient>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    complained_recipients: Vec<Recipient>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
}

/// SES's word on a mail: a permanent bounce or a complaint suppresses every address it
/// names, for every later mail; a transient bounce changes nothing (SES tried again). A
/// detail that is neither is dropped with a warning.
pub async fn mail_feedback<S: Store>(ally: &Ally<S>, event: &EventBridgeEvent<Value>) -> Result<Handled, AllyError> {
    let feedback: MailFeedback = detail(event)?;
    let (why, recipients) = match (feedback.bounce, feedback.complaint) {
        (Some(bounce), _) if bounce.bounce_type == "Permanent" => ("a permanent bounce", bounce.bounced_recipients),
        (Some(_), _) => return Ok(Handled::Dropped),
        (None, Some(complaint)) => ("a complaint", complaint.complained_recipients),
        (None, None) => {
            tracing::warn!(detail_type = %event.detail_type, "an SES event with no bounce or complaint: dropped");
            return Ok(Handled::Dropped);
        }
    };
    let at = event.time.unwrap_or_else(Utc::now);
    for recipient in &recipients {
        suppress(ally.store(), &recipient.email_address, &format!("{why} at {}", at.to_rfc3339())).await?;
    }
    Ok(Handled::Done)
}

/// `referral-reward`: a `ReferralCompleted` event (the reward, or the referral kept until
/// its referred user onboards), a `ResellerOnboarded` one (the referrals that waited for
/// that user). A malformed detail is dropped (a retry cannot fix it), logged with the event
/// and counted (`MalformedEvents`, alarmed); a transient failure is returned for Lambda's
/// retry.
pub async fn referral<S: Store>(ally: &Ally<S>, event: EventBridgeEvent<Value>) -> Result<Handled, AllyError> {
    let at = event.time.unwrap_or_else(Utc::now);
    if event.detail_type == "ResellerOnboarded" {
        return match AllyEvent::from_bus(&BusEvent {
            source: event.source.clone(),
            detail_type: event.detail_type.clone(),
            detail: event.detail.clone(),
        }) {
            Ok(joined) => Box::pin(pay_waiting_referrals(ally, &joined.envelope().reseller.user_id)).await,
            Err(e) => {
                tracing::error!(error = %e, "malformed onboarding event dropped");
                record(&[Metric::MalformedEvent]);
                Ok(Handled::Dropped)
            }
        };
    }
    match detail::<ReferralCompleted>(&event) {
        // Boxed: the money path's future is deep enough to trip the compiler's layout limit
        // once nested in the runtime's service.
        Ok(referral) => Box::pin(reward_referral(ally, &referral, at)).await,
        Err(e) => {
            tracing::error!(error = %e, "malformed referral event dropped");
            record(&[Metric::MalformedEvent]);
            Ok(Handled::Dropped)
        }
    }
}

/// `monthly-report`: the scheduled run for the month before the event's time, stopping
/// `REPORT_MARGIN_MS` before `deadline_ms` (Unix milliseconds) if unfinished.
pub async fn monthly_report<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    event: EventBridgeEvent<Value>,
    deadline_ms: i64,
) -> Result<ReportRun, AllyError> {
    let now = event.time.unwrap_or_else(Utc::now);
    let month = previous_month(now.date_naive());
    let time_left = || Utc::now().timestamp_millis() + REPORT_MARGIN_MS < deadline_ms;
    // Boxed, as the referral: the report's future is too deep to nest unboxed in a runtime service.
    Box::pin(run_monthly_report(ally, mailer, month, Utc::now().date_naive(), time_left)).await
}

/// How long a bulk fill is left to its caller before the sweeper finishes it.
pub const BULK_GRACE_SECONDS: i64 = 60;

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    pub holds_released: usize,
    pub lots_expired: usize,
    pub bulks_finished: usize,
    pub top_ups_failed: usize,
    pub commissions_settled: usize,
    pub figure_shards_folded: usize,
}

/// `sweeper`: releases the holds past their `expires_at`, then writes down the expiry of
/// the lots past theirs (after the holds, so a lot an expired hold reserved expires in the
/// same run), then finishes the bulk onboardings whose fill is still pending after the
/// grace, then fails the auto top-up requests nothing paid within a day, then settles the
/// commissions of the days closed since the last settlement, then folds the network
/// figures of closed stream shards. Each is exactly once however many sweeps overlap.
pub async fn sweep<S: Store>(ally: &Ally<S>) -> Result<Swept, AllyError> {
    // Boxed, as the referral: these futures are too deep to nest unboxed in a runtime service.
    // Both run whatever the other came to; a failure of either is reported after both.
    let holds = Box::pin(ally.expire_holds()).await;
    let lots = Box::pin(ally.expire_lots()).await;
    let bulks = Box::pin(ally.finish_pending_bulks(chrono::Duration::seconds(BULK_GRACE_SECONDS))).await;
    let top_ups = Box::pin(ally.fail_stale_top_ups(ally.now())).await;
    let commissions = Box::pin(ally.settle_commissions()).await;
    let figures = Box::pin(ally.fold_network_figures()).await;
    Ok(Swept {
        holds_released: holds?,
        lots_expired: lots?,
        bulks_finished: bulks?,
        top_ups_failed: top_ups?,
        commissions_settled: commissions?,
        figure_shards_folded: figures?,
    })
}

/// One EventBridge event handed to the handler the template's rules give it: `LowCredit`
/// from `ally` to the notifier, `ReferralCompleted` from `refer` and `ResellerOnboarded`
/// to the reward, a schedule to the function it was for (the ARN Lambda's destination
/// record names, or the rule the event names: the sweeper's, else the monthly report,
/// with no deadline: a redrive is not a Lambda invocation). What a redrive runs.
pub async fn dispatch<S: Store, M: Mailer>(
    ally: &Ally<S>,
    mailer: &M,
    function: Option<&str>,
    event: EventBridgeEvent<Value>,
) -> Result<String, AllyError> {
    match (event.source.as_str(), event.detail_type.as_str()) {
        ("aws.events", "Scheduled Event")
            if function.is_some_and(|f| f.ends_with("-sweeper") || f.contains("-sweeper:"))
                || event.resources.iter().flatten().any(|rule| rule.contains("SweeperFunction")) =>
        {
            Ok(format!("{:?}", sweep(ally).await?))
        }
        (SOURCE, "LowCredit" | "CreditThresholdCrossed" | "LowRunway" | "AutoTopUpFailed") | (SES_SOURCE, _) => {
            Ok(format!("{:?}", low_credit(ally, mailer, event).await?))
        }
        (REFERRAL_SOURCE, "ReferralCompleted") | (SOURCE, "ResellerOnboarded") => {
            Ok(format!("{:?}", referral(ally, event).await?))
        }
        ("aws.events", "Scheduled Event") => Ok(format!("{:?}", monthly_report(ally, mailer, event, i64::MAX).await?)),
        (source, detail_type) => Err(AllyError::validation(format!("no rule takes {detail_type} from {source}"))),
    }
}
