//! The monthly statements reach every partner: one partner's refused address never stops
//! the others, SES's throttling is waited out or left to the next run, and an address SES
//! reported bounced for good or complaining gets no more mail.

use ally::Config;
use ally::events::handlers;
use ally::events::mail::SesMailer;
use ally::events::report::{ReportRun, run_monthly_report};
use ally::store::Jobs;
use ally_tests::sdk::ServiceFaults;
use ally_tests::uid;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{NaiveDate, Utc};
use serde_json::{Value, json};

use crate::pipeline::{Pipeline, SENDER, pipeline, sent_mail};

/// A pipeline whose SES answers through `faults`, with `partners` partners (their
/// addresses, in onboarding order) and an admin to get the summary.
async fn mailing(faults: &ServiceFaults, partners: usize) -> (Pipeline, Vec<String>, String) {
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let admin = format!("admin-{tag}@ally.example");
    let mut p = pipeline(Config { admin_email: Some(admin.clone()), ..Config::default() }).await;
    p.mailer = SesMailer::new(faults.ses_client(), SENDER, 1_000);
    let mut emails = Vec::new();
    for i in 0..partners {
        let email = format!("s{i}-{tag}@partners.example");
        ally_tests::onboarded(&p.ally, &format!("s{i}"), ally::domain::Tier::Standard, Some(&email)).await;
        emails.push(email);
    }
    (p, emails, admin)
}

fn last_month() -> NaiveDate {
    ally::events::report::previous_month(Utc::now().date_naive())
}

async fn run(p: &Pipeline, time_left: bool) -> ReportRun {
    let today = Utc::now().date_naive();
    run_monthly_report(&p.ally, &p.mailer, last_month(), today, || time_left).await.expect("the run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_address_is_recorded_and_every_other_partner_gets_a_statement() {
    let faults = ServiceFaults::ses();
    let (p, emails, admin) = mailing(&faults, 6).await;
    faults.reject(&emails[2]);
    let first = run(&p, true).await;
    assert_eq!(
        (first.sent, first.refused, first.deferred, first.done),
        (5 + 1, 1, 0, true),
        "five statements and the summary sent, one refused, the month done"
    );
    for (i, email) in emails.iter().enumerate() {
        assert_eq!(sent_mail(email).len(), usize::from(i != 2), "{email}");
    }
    assert_eq!(sent_mail(&admin).len(), 1);
    let refused = p.ally.find_by_user(&uid("s2")).await.unwrap().user_id;
    let tag = last_month().format("%Y-%m");
    let record = p.ally.store().checkpoint(&format!("mail-refused:statement:{tag}:{refused}")).await.unwrap();
    assert!(record.is_some_and(|reason| reason.contains("MessageRejected")), "the refusal is recorded with its reason");
    let again = run(&p, true).await;
    assert_eq!((again.sent, again.refused, again.done), (0, 0, true), "a finished month sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_is_waited_out_and_one_that_lasts_leaves_the_rest_to_the_next_run() {
    let faults = ServiceFaults::ses();
    let (p, emails, admin) = mailing(&faults, 4).await;
    // The SDK tries each call three times: six attempts are two sends held back, which
    // the run waits out.
    faults.throttle(6);
    let first = run(&p, true).await;
    assert_eq!((first.sent, first.done), (4 + 1, true), "waited out: {first:?}");
    let (p, emails_later, _) = mailing(&faults, 3).await;
    // With no time to wait, the run stops at the first held-back send.
    faults.throttle(3);
    let stopped = run(&p, false).await;
    assert_eq!((stopped.sent, stopped.done), (0, false), "{stopped:?}");
    let resumed = run(&p, true).await;
    assert_eq!((resumed.sent, resumed.done), (3 + 1, true), "{resumed:?}");
    for email in emails.iter().chain(&emails_later) {
        assert_eq!(sent_mail(email).len(), 1, "{email}: exactly one statement");
    }
    assert_eq!(sent_mail(&admin).len(), 1);
}

fn ses_event(detail_type: &str, detail: Value) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": detail_type, "source": "aws.ses",
        "account": "123456789012", "time": Utc::now(), "region": "us-east-1", "resources": [],
        "detail": detail
    }))
    .unwrap()
}

fn bounce(address: &str, kind: &str) -> EventBridgeEvent<Value> {
    ses_event(
        "Email Bounced",
        json!({"eventType": "Bounce", "mail": {"destination": [address]},
               "bounce": {"bounceType": kind, "bounceSubType": "General",
                          "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1"}]}}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_bounce_or_a_complaint_stops_later_mail_and_a_transient_bounce_does_not() {
    let faults = ServiceFaults::ses();
    let (p, emails, _) = mailing(&faults, 4).await;
    let complaint = ses_event(
        "Email Complaint Received",
        json!({"eventType": "Complaint", "mail": {"destination": [emails[1]]},
               "complaint": {"complainedRecipients": [{"emailAddress": emails[1].to_uppercase()}]}}),
    );
    for event in [bounce(&emails[0], "Permanent"), complaint, bounce(&emails[2], "Transient")] {
        handlers::low_credit(&p.ally, &p.mailer, event).await.expect("the notifier takes SES's events");
    }
    let run = run(&p, true).await;
    assert!(run.done);
    let got: Vec<usize> = emails.iter().map(|e| sent_mail(e).len()).collect();
    assert_eq!(got, [0, 0, 1, 1], "no mail to a bounced or complaining address, whatever its case");
}
