//! The event pipeline end to end through the emulator: a wallet change on the table ->
//! its records read from the table's stream (DynamoDB Streams API) -> the real publisher
//! handler -> EventBridge (observed through a rule whose target is an SQS queue) -> the
//! notifier handler -> SES (checked through moto's own API). Redeliveries, a bad record,
//! referrals and the monthly report are shown idempotent.

use ally::domain::{EntryKind, Tier};
use ally::events::handlers;
use ally::events::parking::{Parked, SqsParking};
use ally::events::reactions::Handled;
use ally::{Ally, Config};
use ally_tests::stream::stream_batch;
use ally_tests::{company, email, ikey, rid, uid};
use ally_tests::{credit, spend};

use super::pipeline::{SENDER, delivered, drained, pipeline, sent_mail};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};

/// A partner's own thresholds: each crossing down is one event (the same id however often
/// the stream delivers its record) and one mail; climbing back is no mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partners_own_thresholds_announce_each_crossing_once() {
    let p = pipeline(Config::default()).await;
    let email = format!("{}@partners.example", ulid::Ulid::new().to_string().to_lowercase());
    partner(&p.ally, "alerted", &email).await;
    let alerts = ally::domain::Alerts { thresholds: vec![800, 300], runway_days: None };
    p.ally.set_alerts(&uid("alerted"), alerts).await.unwrap();
    p.ally.add_credits(&uid("alerted"), credit(1_000), EntryKind::Credit, "a", &ikey("top")).await.unwrap();
    p.ally.provision(&uid("alerted"), spend(300), &ikey("s1")).await.unwrap();
    p.ally.provision(&uid("alerted"), spend(100), &ikey("s2")).await.unwrap();
    p.ally.provision(&uid("alerted"), spend(400), &ikey("s3")).await.unwrap();
    let batch = stream_batch(p.ally.store()).await;
    for _ in 0..2 {
        handlers::publish_stream(&p.ally, &p.bus, &p.poison, batch.clone()).await;
    }
    let events = delivered(&p).await;
    let crossed: Vec<&EventBridgeEvent<Value>> =
        events.iter().filter(|e| e.detail_type == "CreditThresholdCrossed").collect();
    let mut thresholds: Vec<i64> = crossed.iter().map(|e| e.detail["threshold"].as_i64().unwrap()).collect();
    thresholds.sort_unstable();
    assert_eq!(thresholds, [300, 300, 800, 800], "each crossing once per delivery: 1,000 -> 700 -> 600 -> 200");
    let mut outcomes = Vec::new();
    for event in crossed {
        outcomes.push(handlers::low_credit(&p.ally, &p.mailer, event.clone()).await.unwrap());
    }
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Handled::Done, Handled::Done, Handled::Duplicate, Handled::Duplicate]);
    let mails = sent_mail(&email);
    assert_eq!(mails.iter().filter(|s| s.contains("alert threshold")).count(), 2, "{mails:?}");
    p.ally.add_credits(&uid("alerted"), credit(900), EntryKind::Credit, "a", &ikey("top-2")).await.unwrap();
    let reseller = p.ally.find_by_user(&uid("alerted")).await.unwrap();
    let recovered = ally::events::threshold_events(&ally::store::ItemChange {
        id: "r".into(),
        at: chrono::Utc::now(),
        old: Some(ally::store::Stored::Reseller(Box::new(ally::domain::Reseller { balance: 200, ..reseller.clone() }))),
        new: Some(ally::store::Stored::Reseller(Box::new(reseller))),
    });
    let kinds: Vec<&str> = recovered.iter().map(|e| e.detail_type()).collect();
    assert_eq!(kinds, ["CreditRecovered", "CreditRecovered"], "climbing back from 200 to 1,100 recovers both");
}

async fn partner<S: ally::store::Store>(ally: &Ally<S>, user: &str, email: &str) -> String {
    ally_tests::onboarded(ally, user, Tier::Standard, Some(email)).await.refid.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_low_balance_mails_the_partner_once_through_streams_eventbridge_and_ses() {
    let p = pipeline(Config::default()).await;
    let email = format!("{}@partners.example", ulid::Ulid::new().to_string().to_lowercase());
    partner(&p.ally, "low", &email).await;
    p.ally.add_credits(&uid("low"), credit(600), EntryKind::Credit, "a", &ikey("top")).await.unwrap();
    p.ally.provision(&uid("low"), spend(200), &ikey("spend")).await.unwrap();

    let batch = stream_batch(p.ally.store()).await;
    assert!(batch.records.len() >= 5, "the table's stream holds the changes: {}", batch.records.len());
    for _ in 0..2 {
        // The same batch delivered twice, as Streams may.
        let response = handlers::publish_stream(&p.ally, &p.bus, &p.poison, batch.clone()).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let events = delivered(&p).await;
    assert_eq!(events.len(), 2, "one LowCredit per delivery of the crossing record");
    assert_eq!(events[0].detail["event_id"], events[1].detail["event_id"], "event ids derive from the record");
    assert_eq!(events[0].detail["balance"], 400);
    assert_eq!(events[0].detail["reseller"]["user_id"], "low");

    let mut outcomes = Vec::new();
    for event in events {
        outcomes.push(handlers::low_credit(&p.ally, &p.mailer, event).await.unwrap());
    }
    assert_eq!(outcomes, vec![Handled::Done, Handled::Duplicate]);
    let mails = sent_mail(&email);
    assert_eq!(mails.len(), 1, "{mails:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_record_fails_alone() {
    let p = pipeline(Config::default()).await;
    partner(&p.ally, "b", "b@partners.example").await;
    p.ally.add_credits(&uid("b"), credit(900), EntryKind::Credit, "a", &ikey("top")).await.unwrap();
    p.ally.provision(&uid("b"), spend(500), &ikey("spend")).await.unwrap();
    let mut batch = stream_batch(p.ally.store()).await;
    let crossing = batch
        .records
        .iter()
        .position(|r| {
            let balance = |image: &serde_dynamo::Item| match image.get("balance") {
                Some(serde_dynamo::AttributeValue::N(n)) => n.parse::<i64>().ok(),
                _ => None,
            };
            balance(&r.change.old_image) == Some(900) && balance(&r.change.new_image) == Some(400)
        })
        .expect("the crossing record");
    let mut bad = batch.records[0].clone();
    bad.change.sequence_number = Some("bad-1".into());
    bad.change.new_image.insert("sk".into(), serde_dynamo::AttributeValue::S("PROFILE".into()));
    bad.change.new_image.insert("balance".into(), serde_dynamo::AttributeValue::S("not a number".into()));
    batch.records.insert(0, bad);
    // With no poison queue, the bad record alone is left to the stream's retries.
    let unparked = SqsParking::new(p.sqs.clone(), None);
    let response = handlers::publish_stream(&p.ally, &p.bus, &unparked, batch.clone()).await;
    let failures: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap()).collect();
    assert_eq!(failures, vec!["bad-1".to_string()]);
    assert!(crossing < batch.records.len());
    assert_eq!(delivered(&p).await.len(), 1, "the good records went through");

    // With one, it is parked whole (keys, images, sequence number) and the batch succeeds:
    // nothing waits on the stream's 24 hours.
    let response = handlers::publish_stream(&p.ally, &p.bus, &p.poison, batch.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let parked = drained(&p, &p.poison_url).await;
    assert_eq!(parked.len(), 1, "{parked:?}");
    let Ok(Parked::Record(parcel)) = Parked::read(&parked[0]) else { panic!("a parked record: {}", parked[0]) };
    assert!(parcel.reason.starts_with("unreadable"), "{}", parcel.reason);
    let record: aws_lambda_events::event::dynamodb::EventRecord = serde_json::from_value(parcel.record).unwrap();
    assert_eq!(record, batch.records[0], "the whole record");
    assert_eq!(record.change.sequence_number.as_deref(), Some("bad-1"));
}

fn referral(
    id: &str,
    tag: &str,
    referrer: &str,
    referred: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "ReferralCompleted", "source": "refer",
        "account": "123456789012", "time": at, "region": "us-east-1", "resources": [],
        "detail": {"referral_id": id, "referrer_user_id": referrer, "referred_user_id": referred, "tag": tag}
    }))
    .unwrap()
}

/// The `ResellerOnboarded` event the publisher makes of `user`'s new profile.
fn onboarding(user: &str, refid: &str) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "ResellerOnboarded", "source": "ally",
        "account": "123456789012", "time": chrono::Utc::now(), "region": "us-east-1", "resources": [],
        "detail": {"event_id": format!("joined-{user}"), "occurred_at": chrono::Utc::now(),
                   "reseller": {"user_id": user, "refid": refid}, "company": "Newbie Ltd", "tier": "standard"}
    }))
    .unwrap()
}

/// Referrals can't be forged into credits: a reward only once the referred user is a
/// reseller (waiting for them within the window), once per referral however often it is
/// delivered, never for a self-referral or an unknown referrer, at most the monthly cap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_referral_is_rewarded_once_when_the_referred_user_becomes_a_reseller() {
    let p = pipeline(Config { referral_monthly_cap: 3, ..Config::default() }).await;
    partner(&p.ally, "referrer", "r@partners.example").await;
    let now = chrono::Utc::now();
    let balance = || async { p.ally.find_by_user(&uid("referrer")).await.unwrap().balance };
    for _ in 0..2 {
        let waiting =
            handlers::referral(&p.ally, referral("ref-42", "become-partner", "referrer", "newbie", now)).await;
        assert_eq!(waiting.unwrap(), Handled::Waiting, "newbie is no reseller yet");
    }
    assert_eq!(balance().await, 0);
    let joined = partner(&p.ally, "newbie", "n@partners.example").await;
    assert_eq!(handlers::referral(&p.ally, onboarding("newbie", &joined)).await.unwrap(), Handled::Done);
    assert_eq!(handlers::referral(&p.ally, onboarding("newbie", &joined)).await.unwrap(), Handled::Dropped);
    let again = handlers::referral(&p.ally, referral("ref-42", "become-partner", "referrer", "newbie", now)).await;
    assert_eq!(again.unwrap(), Handled::Done, "a redelivery replays the one reward");
    assert_eq!(balance().await, 1_000, "credited once");
    let entries = ally_tests::all_entries(&p.ally, "referrer").await;
    assert_eq!(entries.iter().map(|e| e.kind).collect::<Vec<_>>(), vec![EntryKind::Reward]);

    let long_ago = now - chrono::Duration::days(31);
    for (dropped, why) in [
        (referral("r-1", "newsletter", "referrer", "x", now), "another tag"),
        (referral("r-2", "become-partner", "referrer", "referrer", now), "a self-referral"),
        (referral("r-3", "become-partner", "ghost", "newbie", now), "an unknown referrer"),
        (referral("r-4", "become-partner", "referrer", "late", long_ago), "past the 30-day window"),
    ] {
        assert_eq!(handlers::referral(&p.ally, dropped).await.unwrap(), Handled::Dropped, "{why}");
    }
    assert_eq!(balance().await, 1_000);

    // Eight referrals of resellers at once against a cap of 3 a month: exactly two more paid.
    for i in 0..8 {
        partner(&p.ally, &format!("friend-{i}"), "f@partners.example").await;
    }
    let outcomes = futures::future::join_all((0..8).map(|i| {
        let event = referral(&format!("ref-f{i}"), "become-partner", "referrer", &format!("friend-{i}"), now);
        handlers::referral(&p.ally, event)
    }))
    .await;
    let paid = outcomes.iter().filter(|o| matches!(o, Ok(Handled::Done))).count();
    let refused = outcomes.iter().filter(|o| matches!(o, Ok(Handled::OverCap))).count();
    assert_eq!((paid, refused), (2, 6), "{outcomes:?}");
    assert_eq!(balance().await, 3_000, "three rewards in the month");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monthly_report_run_twice_sends_one_statement_per_partner() {
    let admin_email = format!("admin-{}@ally.example", ulid::Ulid::new().to_string().to_lowercase());
    let p = pipeline(Config { admin_email: Some(admin_email.clone()), ..Config::default() }).await;
    let tag = ulid::Ulid::new().to_string().to_lowercase();
    let mut emails = Vec::new();
    for i in 0..30 {
        let email = format!("m{i}-{tag}@partners.example");
        partner(&p.ally, &format!("m{i}"), &email).await;
        emails.push(email);
    }
    let schedule: EventBridgeEvent<Value> = serde_json::from_value(json!({
        "version": "0", "id": "sched-1", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "123456789012", "time": chrono::Utc::now(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ally-monthly-report"], "detail": {}
    }))
    .unwrap();
    // A deadline already passed: the run sends one statement (every run moves on) and stops.
    let first = handlers::monthly_report(&p.ally, &p.mailer, schedule.clone(), 0).await.unwrap();
    assert_eq!((first.sent, first.done), (1, false));
    let second = handlers::monthly_report(&p.ally, &p.mailer, schedule.clone(), i64::MAX).await.unwrap();
    assert_eq!((second.sent, second.done), (29 + 1, true), "the rest of the partners, and the admin summary");
    let third = handlers::monthly_report(&p.ally, &p.mailer, schedule, i64::MAX).await.unwrap();
    assert_eq!((third.sent, third.done), (0, true), "a finished month sends nothing");
    for email in &emails {
        assert_eq!(sent_mail(email).len(), 1, "{email}");
    }
    assert_eq!(sent_mail(&admin_email).len(), 1);
}

fn low_credit(event_id: &str, user: &str, refid: &str, balance: i64, to: Option<&str>) -> ally::events::LowCredit {
    ally::events::LowCredit {
        envelope: ally::events::Envelope {
            event_id: event_id.into(),
            occurred_at: chrono::Utc::now(),
            reseller: ally::events::ResellerRef { user_id: uid(user), refid: Some(rid(refid)) },
        },
        fields: ally::events::BalanceLow {
            balance,
            available: balance,
            threshold: 500,
            company: company("H <Ltd>"),
            email: to.map(email),
        },
    }
}

/// A low-credit event forged on the bus (made-up figures, someone else's address) holds no
/// wallet that is not low and mails no one but the partner, at the address and with the
/// figures its profile holds.
#[tokio::test]
async fn a_forged_low_credit_event_mails_only_the_stored_address_with_stored_figures() {
    use ally::events::local::Outbox;
    use ally::events::reactions::notify_low_credit;
    let ally =
        Ally::new(ally::store::memory::MemoryStore::new(), Config { hold_on_low_credit: true, ..Config::default() });
    let outbox = Outbox::new(std::env::temp_dir().join(format!("ally-outbox-{}", ulid::Ulid::new())), SENDER);
    let rich = partner(&ally, "rich", "rich@partners.example").await;
    ally.add_credits(&uid("rich"), credit(5_000), EntryKind::Credit, "admin-1", &ikey("rich")).await.unwrap();
    let low = partner(&ally, "low", "low@partners.example").await;
    ally.add_credits(&uid("low"), credit(100), EntryKind::Credit, "admin-1", &ikey("low")).await.unwrap();

    let forged = low_credit("forged-1", "rich", &rich, 1, Some("thief@evil.example"));
    assert_eq!(notify_low_credit(&ally, &outbox, &forged, true).await.unwrap(), Handled::Dropped);
    assert!(!ally.find_by_user(&uid("rich")).await.unwrap().hold_provisioning, "a wallet of 5,000 is not held");
    let forged = low_credit("forged-2", "low", &low, 1, Some("thief@evil.example"));
    assert_eq!(notify_low_credit(&ally, &outbox, &forged, true).await.unwrap(), Handled::Done);
    let sent = outbox.sent();
    assert_eq!(sent.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(), ["low@partners.example"]);
    assert!(sent[0].text.contains("available credit is 100,"), "the stored figure: {}", sent[0].text);
}

/// Alert events forged on the bus (a threshold, a runway, an auto top-up turned off the
/// partner never set) send nothing: the notifier mails only what the profile bears out.
#[tokio::test]
async fn forged_alerts_the_profile_does_not_bear_out_send_nothing() {
    use ally::events::local::Outbox;
    let ally = Ally::new(ally::store::memory::MemoryStore::new(), Config::default());
    let outbox = Outbox::new(std::env::temp_dir().join(format!("ally-outbox-{}", ulid::Ulid::new())), SENDER);
    partner(&ally, "v", "v@partners.example").await;
    let credit = credit(9_000);
    ally.add_credits(&uid("v"), credit, EntryKind::Credit, "admin-1", &ikey("v")).await.unwrap();
    let common = json!({"occurred_at": chrono::Utc::now(), "reseller": {"user_id": "v"}, "company": "x",
                        "email": "thief@evil.example", "balance": 3, "available": 3});
    let forged = [
        ("CreditThresholdCrossed", json!({"event_id": "f-1", "threshold": 1_000_000})),
        ("LowRunway", json!({"event_id": "f-2", "runway_days": 0, "threshold_days": 365})),
        (
            "AutoTopUpFailed",
            json!({"event_id": "f-3", "request_id": "x", "amount": 99_999_999,
                                   "failures_in_a_row": 3, "disabled": true}),
        ),
    ];
    for (detail_type, fields) in forged {
        let mut detail = common.clone();
        detail.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        let event: EventBridgeEvent<Value> = serde_json::from_value(json!({
            "version": "0", "id": "e", "detail-type": detail_type, "source": "ally", "account": "123456789012",
            "time": chrono::Utc::now(), "region": "us-east-1", "resources": [], "detail": detail
        }))
        .unwrap();
        let handled = handlers::low_credit(&ally, &outbox, event).await;
        assert!(matches!(handled, Ok(Handled::Dropped)), "{detail_type}: {handled:?}");
    }
    assert!(outbox.sent().is_empty(), "{:?}", outbox.sent());
}

/// The low-credit hold done right: applied only while the balance is still low, lifted by
/// the credit that brings it back (an admin's hold stays), mail and hold each once and
/// independent, a partner without an email still held, a failed send not lost. (Long: one
/// balance's story, each step's hold depending on the steps before.)
#[tokio::test]
async fn the_low_credit_hold_follows_the_balance() {
    use ally::domain::HoldReason;
    use ally::events::local::Outbox;
    use ally::events::reactions::notify_low_credit;
    let config = Config { hold_on_low_credit: true, ..Config::default() };
    // Recording is refused twice: the first hold's record and the first mail's.
    let claims = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = claims.clone();
    let store = ally::store::memory::MemoryStore::new().with_faults(move |method| {
        use ally::store::memory::Fault;
        let refused =
            method == "claim" && [1, 2].contains(&(counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1));
        if refused { Fault::Fail } else { Fault::Proceed }
    });
    let ally = Ally::new(store, config);
    let outbox = Outbox::new(std::env::temp_dir().join(format!("ally-outbox-{}", ulid::Ulid::new())), SENDER);
    let refid = partner(&ally, "h", "h@partners.example").await;
    ally.add_credits(&uid("h"), credit(10), EntryKind::Credit, "admin-1", &ikey("open")).await.unwrap();

    // The mail is sent but recording it fails: the retry sends it again (never lost), and
    // the hold is set once.
    let event = low_credit("e-1", "h", &refid, 10, Some("h@partners.example"));
    assert!(notify_low_credit(&ally, &outbox, &event, true).await.is_err(), "recording both fails");
    assert_eq!(outbox.sent().len(), 1, "the mail does not wait on the hold");
    assert_eq!(notify_low_credit(&ally, &outbox, &event, true).await.unwrap(), Handled::Done);
    assert_eq!(notify_low_credit(&ally, &outbox, &event, true).await.unwrap(), Handled::Duplicate);
    let sent = outbox.sent();
    assert_eq!(sent.len(), 2, "at least once: sent, not recorded, sent again: {sent:?}");
    assert_eq!(sent[0].subject, "Your Ally balance is low", "a fixed subject");
    assert!(
        sent[0].text.contains("Hello h Ltd,") && sent[0].text.contains("http://127.0.0.1:3000/partner/dashboard"),
        "the company the profile holds, not the event's: {}",
        sent[0].text
    );
    let held = ally.find_by_user(&uid("h")).await.unwrap();
    assert_eq!((held.hold_provisioning, held.hold_reason), (true, Some(HoldReason::LowCredit)));

    // The credit that brings the balance back to the threshold lifts it, in the same write.
    ally.add_credits(&uid("h"), credit(100), EntryKind::Credit, "admin-1", &ikey("still-low")).await.unwrap();
    assert!(ally.find_by_user(&uid("h")).await.unwrap().hold_provisioning, "610 would be enough, 110 is not");
    ally.add_credits(&uid("h"), credit(390), EntryKind::Credit, "admin-1", &ikey("back")).await.unwrap();
    let lifted = ally.find_by_user(&uid("h")).await.unwrap();
    assert_eq!((lifted.balance, lifted.hold_provisioning, lifted.hold_reason), (500, false, None));
    let spend = spend(100);
    ally.provision(&uid("h"), spend, &ikey("after")).await.expect("provisioning again");

    // A notice handled after the partner topped up does nothing.
    let late = low_credit("e-2", "h", &refid, 10, Some("h@partners.example"));
    ally.add_credits(&uid("h"), credit(1_000), EntryKind::Credit, "admin-1", &ikey("top")).await.unwrap();
    assert_eq!(notify_low_credit(&ally, &outbox, &late, true).await.unwrap(), Handled::Dropped);
    assert!(!ally.find_by_user(&uid("h")).await.unwrap().hold_provisioning);
    assert_eq!(outbox.sent().len(), 2);

    // An admin's hold stays whatever the balance does.
    let manual = ally::service::ResellerPatch { hold_provisioning: Some(true), ..Default::default() };
    ally.update_reseller(&rid(&refid), manual).await.unwrap();
    ally.add_credits(&uid("h"), credit(5_000), EntryKind::Credit, "admin-1", &ikey("more")).await.unwrap();
    let kept = ally.find_by_user(&uid("h")).await.unwrap();
    assert_eq!((kept.hold_provisioning, kept.hold_reason), (true, Some(HoldReason::Manual)));

    // A partner without an email is still held.
    let quiet = ally_tests::onboarded(&ally, "q", Tier::Standard, None).await;
    ally.add_credits(&uid("q"), credit(10), EntryKind::Credit, "admin-1", &ikey("q")).await.unwrap();
    let event = low_credit("e-3", "q", quiet.refid.as_str(), 10, None);
    assert_eq!(notify_low_credit(&ally, &outbox, &event, true).await.unwrap(), Handled::Done);
    assert!(ally.find_by_user(&uid("q")).await.unwrap().hold_provisioning);
    assert_eq!(outbox.sent().len(), 2, "no mail without an address");
}
