//! The events end to end on the emulator: the table's stream -> the real publisher
//! -> EventBridge -> the notifier -> SES, each event the same however often its record is
//! delivered, each mail once; and every alert mail's two parts, link and footer.

use ally::domain::{Alerts, EntryKind, Tier, TopUpRule};
use ally::events::handlers;
use ally::events::local::Outbox;
use ally::events::reactions::Handled;
use ally::events::report::run_monthly_report;
use ally::service::NewClient;
use ally::{Ally, Config};
use ally_tests::stream::stream_batch;
use ally_tests::{cname, ikey, uid};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;

use super::pipeline::{Pipeline, SENDER, delivered, pipeline, sent_mail};

fn address() -> String {
    format!("{}@partners.example", ulid::Ulid::new().to_string().to_lowercase())
}

async fn spend(p: &Pipeline, user: &str, cost: i64, key: &str) {
    let request = ally_tests::spend(cost);
    p.ally.provision(&uid(user), request, &ikey(key)).await.unwrap();
}

async fn credit(p: &Pipeline, user: &str, amount: i64, key: &str) {
    let request = ally_tests::credit(amount);
    p.ally.add_credits(&uid(user), request, EntryKind::Credit, "admin-1", &ikey(key)).await.unwrap();
}

/// The stream so far published twice (a redelivery), and what the rule delivered.
async fn published_twice(p: &Pipeline) -> Vec<EventBridgeEvent<Value>> {
    let batch = stream_batch(p.ally.store()).await;
    for _ in 0..2 {
        let answer = handlers::publish_stream(&p.ally, &p.bus, &p.poison, batch.clone()).await;
        assert!(answer.batch_item_failures.is_empty(), "every record published");
    }
    delivered(p).await
}

fn of_kind(events: &[EventBridgeEvent<Value>], kind: &str) -> Vec<EventBridgeEvent<Value>> {
    events.iter().filter(|e| e.detail_type == kind).cloned().collect()
}

/// The event ids of `events`, each with how often it came.
fn ids(events: &[EventBridgeEvent<Value>]) -> Vec<(String, usize)> {
    let mut counted = std::collections::BTreeMap::new();
    for e in events {
        *counted.entry(e.detail["event_id"].as_str().unwrap().to_string()).or_insert(0) += 1;
    }
    counted.into_iter().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_top_up_requests_and_failures_reach_the_bus_and_the_rule_turning_off_mails_once() {
    let p = pipeline(Config::default()).await;
    let email = address();
    ally_tests::onboarded(&p.ally, "auto", Tier::Standard, Some(&email)).await;
    credit(&p, "auto", 1_000, "open").await;
    p.ally.set_auto_top_up(&uid("auto"), TopUpRule { below: 500, target: 800, monthly_cap: 100_000 }).await.unwrap();
    for round in 0..3 {
        if round > 0 {
            credit(&p, "auto", 200, &format!("back-{round}")).await;
        }
        spend(&p, "auto", if round == 0 { 600 } else { 200 }, &format!("fall-{round}")).await;
        assert_eq!(p.ally.fail_stale_top_ups(chrono::Utc::now() + chrono::Duration::hours(25)).await.unwrap(), 1);
    }
    let events = published_twice(&p).await;
    let requested = of_kind(&events, "AutoTopUpRequested");
    assert_eq!(ids(&requested).iter().map(|(_, n)| *n).collect::<Vec<_>>(), [2, 2, 2], "three requests, each twice");
    for e in &requested {
        assert_eq!(e.detail["amount"], 400, "target 800 less the 400 available: {e:?}");
        assert!(e.detail["request_id"].is_string() && e.detail["reseller"]["refid"].is_string());
    }
    let failed = of_kind(&events, "AutoTopUpFailed");
    let mut runs: Vec<(i64, bool)> = failed
        .iter()
        .map(|e| (e.detail["failures_in_a_row"].as_i64().unwrap(), e.detail["disabled"].as_bool().unwrap()))
        .collect();
    runs.sort_unstable();
    assert_eq!(runs, [(1, false), (1, false), (2, false), (2, false), (3, true), (3, true)]);
    let mut outcomes = Vec::new();
    for event in failed {
        outcomes.push(handlers::low_credit(&p.ally, &p.mailer, event).await.unwrap());
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(
        outcomes,
        [Handled::Done, Handled::Dropped, Handled::Dropped, Handled::Dropped, Handled::Dropped, Handled::Duplicate],
        "only the failure that turned the rule off mails, once"
    );
    assert_eq!(sent_mail(&email), ["Your Ally auto top-up is turned off"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runway_alert_fires_once_when_spending_makes_it_short() {
    let p = pipeline(Config::default()).await;
    let email = address();
    ally_tests::onboarded(&p.ally, "runway", Tier::Standard, Some(&email)).await;
    p.ally.set_alerts(&uid("runway"), Alerts { thresholds: vec![0], runway_days: Some(10) }).await.unwrap();
    credit(&p, "runway", 1_300, "open").await;
    // 1,000 spent in 30 days is 33 a day: 1,300 -> 1,000 leaves 30 days, 1,000 -> 300 nine.
    spend(&p, "runway", 300, "s1").await;
    spend(&p, "runway", 700, "s2").await;
    let low = of_kind(&published_twice(&p).await, "LowRunway");
    assert_eq!(ids(&low).len(), 1, "one crossing: {low:?}");
    assert_eq!(low.len(), 2, "delivered with each publish");
    assert_eq!((low[0].detail["runway_days"].as_i64(), low[0].detail["threshold_days"].as_i64()), (Some(9), Some(10)));
    let first = handlers::low_credit(&p.ally, &p.mailer, low[0].clone()).await.unwrap();
    let again = handlers::low_credit(&p.ally, &p.mailer, low[1].clone()).await.unwrap();
    assert_eq!((first, again), (Handled::Done, Handled::Duplicate));
    assert_eq!(sent_mail(&email), ["Your Ally credit runs out soon"]);
    let me = p.ally.profile(&uid("runway")).await.unwrap();
    assert_eq!(me.runway_days, Some(9), "the profile says the same");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_months_candidates_are_suggested_once_applied_once_and_listed_for_the_admin() {
    let admin = address();
    let config = Config { upgrade_acquisitions: 2, auto_upgrade: true, admin_email: Some(admin), ..Config::default() };
    let p = pipeline(config).await;
    let refid = ally_tests::onboarded(&p.ally, "rising", Tier::Standard, None).await.refid;
    for i in 0..2 {
        let client = NewClient { name: cname(&format!("Client {i}")), email: None };
        p.ally.onboard_client(&uid("rising"), client).await.unwrap();
    }
    let outbox = Outbox::new(std::env::temp_dir().join(format!("ally-outbox-{}", ulid::Ulid::new())), SENDER);
    let month = chrono::Utc::now().date_naive();
    for _ in 0..2 {
        let run = run_monthly_report(&p.ally, &outbox, month, month, || true).await.unwrap();
        assert!(run.done);
    }
    // The step again (a retried run): the month's suggestion stands, nothing applied twice.
    let again = p.ally.suggest_upgrades(month).await.unwrap();
    assert_eq!(again.iter().map(|s| (s.tier, s.suggested_tier)).collect::<Vec<_>>(), [(Tier::Standard, Tier::Gold)]);
    let rising = p.ally.find_by_user(&uid("rising")).await.unwrap();
    assert_eq!(rising.tier, Tier::Gold, "upgraded once: a second run does not go on to platinum");
    let suggested = of_kind(&published_twice(&p).await, "TierUpgradeSuggested");
    assert_eq!(ids(&suggested).len(), 1, "one suggestion for the month");
    let detail = &suggested[0].detail;
    assert_eq!((detail["tier"].as_str(), detail["suggested_tier"].as_str()), (Some("standard"), Some("gold")));
    assert_eq!((detail["acquisitions"].as_i64(), detail["auto"].as_bool()), (Some(2), Some(true)));
    let summary = outbox.sent().into_iter().find(|m| m.subject.starts_with("Ally summary")).expect("the summary");
    assert!(summary.text.contains(&format!("{refid}: standard to gold, 2 clients (applied)")), "{}", summary.text);
    assert_eq!(outbox.sent().len(), 1, "sent once, no statement without an address");
}

/// Every alert mail: a text and an HTML part saying the same, the dashboard link in both,
/// and the footer every Ally mail ends with.
#[tokio::test]
async fn every_alert_mail_has_both_parts_the_link_and_the_footer() {
    use ally::events::notices::notify_alert;
    use ally::events::{AllyEvent, Detail, Envelope, ResellerRef, RunwayLow, ThresholdCrossed};
    let ally = Ally::new(ally::store::memory::MemoryStore::new(), Config::default());
    let outbox = Outbox::new(std::env::temp_dir().join(format!("ally-outbox-{}", ulid::Ulid::new())), SENDER);
    let reseller = ally_tests::onboarded(&ally, "m", Tier::Standard, Some("m@partners.example")).await;
    // What the alerts say, true of the wallet: a notice mails only what the profile bears
    // out. (The auto top-up's mail is checked where a rule really turns off.)
    ally.set_alerts(&uid("m"), ally::domain::Alerts { thresholds: vec![500], runway_days: Some(7) }).await.unwrap();
    let credit = ally::service::CreditRequest { amount: 1_000, ..Default::default() };
    ally.add_credits(&uid("m"), credit, ally::domain::EntryKind::Credit, "admin-1", &ikey("m")).await.unwrap();
    let spend = ally::service::ProvisionRequest { cost: Some(910), ..Default::default() };
    ally.provision(&uid("m"), spend, &ikey("m-spend")).await.unwrap();
    let envelope = |id: &str| Envelope {
        event_id: id.into(),
        occurred_at: chrono::Utc::now(),
        reseller: ResellerRef { user_id: uid("m"), refid: Some(reseller.refid.clone()) },
    };
    let (company, email) = (reseller.company.clone(), reseller.email.clone());
    let alerts = [
        AllyEvent::CreditThresholdCrossed(Detail {
            envelope: envelope("t"),
            fields: ThresholdCrossed {
                threshold: 500,
                balance: 400,
                available: 400,
                company: company.clone(),
                email: email.clone(),
            },
        }),
        AllyEvent::LowRunway(Detail {
            envelope: envelope("r"),
            fields: RunwayLow { runway_days: 3, threshold_days: 7, available: 90, company, email },
        }),
    ];
    for alert in &alerts {
        assert_eq!(notify_alert(&ally, &outbox, alert).await.unwrap(), Handled::Done, "{alert:?}");
    }
    let link = ally.config().dashboard_link();
    let sent = outbox.sent();
    assert_eq!(sent.len(), 2);
    for mail in sent {
        assert_eq!(mail.to, "m@partners.example");
        assert!(mail.text.contains(&link) && mail.html.contains(&format!("href=\"{link}\"")), "{mail:?}");
        assert!(mail.text.contains("Hello m Ltd,") && mail.html.contains("<p>Hello m Ltd,</p>"), "{mail:?}");
        for part in [&mail.text, &mail.html] {
            assert!(part.contains("Ally partner network. You receive this mail about your Ally"), "{mail:?}");
        }
    }
}
