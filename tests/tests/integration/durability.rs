//! No lost work: receipts of external events outlive the idempotency window,
//! parked events come back exactly once, a bulk fill always finishes.

use ally::domain::{EntryKind, IdempotencyKey, Tier};
use ally::events::ReferralCompleted;
use ally::events::bus::Published;
use ally::events::parking::{Parked, ParkedRecord};
use ally::events::reactions::{Handled, reward_referral};
use ally::events::redrive::{Redriven, redrive};
use ally::{Ally, Config};
use ally_tests::{ally_on, credit};
use ally_tests::{ikey, lambda_async, onboarded, uid};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

/// What DynamoDB's TTL does once `at` (Unix seconds) has passed: every item whose
/// `expires_at` is a number and earlier is deleted (TTL ignores other types: a hold's or a
/// lot's `expires_at` is a time of the business, not a TTL). Returns how many went.
async fn time_to_live_passes(store: &ally::store::dynamo::DynamoStore, at: i64) -> usize {
    let client = store.client();
    let mut gone = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(store.table())
            .filter_expression("attribute_type(expires_at, :number) AND expires_at < :at")
            .expression_attribute_values(":number", AttributeValue::S("N".into()))
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for item in page.items() {
            let key = ["pk", "sk"].map(|k| (k.to_string(), item[k].clone()));
            client.delete_item().table_name(store.table()).set_key(Some(key.into())).send().await.expect("delete");
            gone += 1;
        }
        match page.last_evaluated_key() {
            Some(last) => start = Some(last.clone()),
            None => return gone,
        }
    }
}

/// A payment event id and a referral id that moved money are never forgotten; a caller's
/// key is, after its 30 days (and then credits again, as documented).
#[tokio::test]
async fn receipts_of_external_events_outlive_the_idempotency_window() {
    let store = ally_tests::dynamo_store().await;
    let ally = ally_on(store.clone());
    onboarded(&ally, "referrer", Tier::Standard, None).await;
    onboarded(&ally, "referred", Tier::Standard, None).await;
    let user = uid("referrer");
    let by_admin = ikey("top-up-1");
    let payment = IdempotencyKey::payment("evt_1").unwrap();
    ally.add_credits(&user, credit(100), EntryKind::Credit, "admin-1", &by_admin).await.unwrap();
    let paid = ally.add_credits(&user, credit(2_500), EntryKind::Credit, "webhook:payments", &payment).await.unwrap();
    let referral = ReferralCompleted {
        referral_id: "ref-1".into(),
        referrer_user_id: "referrer".into(),
        referred_user_id: "referred".into(),
        tag: "become-partner".into(),
    };
    assert_eq!(reward_referral(&ally, &referral, chrono::Utc::now()).await.unwrap(), Handled::Done);
    let balance = ally.find_by_user(&user).await.unwrap().balance;
    assert_eq!(balance, 100 + 2_500 + 1_000);

    let a_month_on = chrono::Utc::now().timestamp() + 31 * 86_400;
    assert!(time_to_live_passes(&store, a_month_on).await >= 1, "the caller's record expired");

    let replayed = ally.add_credits(&user, credit(2_500), EntryKind::Credit, "webhook:payments", &payment).await;
    assert_eq!(replayed.unwrap(), paid, "the provider's redelivery replays the first answer");
    reward_referral(&ally, &referral, chrono::Utc::now()).await.unwrap();
    assert_eq!(ally.find_by_user(&user).await.unwrap().balance, balance, "an archive replay pays nothing");
    let again = ally.add_credits(&user, credit(100), EntryKind::Credit, "admin-1", &by_admin).await.unwrap();
    assert_eq!(again.balance, balance + 100, "a caller's key is remembered for its window only");
}

fn referral_event(referral_id: &str, referrer: &str, referred: &str) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({
        "version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": "ReferralCompleted", "source": "refer",
        "account": "123456789012", "time": chrono::Utc::now(), "region": "us-east-1", "resources": [],
        "detail": {"referral_id": referral_id, "referrer_user_id": referrer, "referred_user_id": referred,
                   "tag": "become-partner"}
    }))
    .unwrap()
}

/// A referral reward whose every try fails (the store refuses the write) lands on the
/// function's on-failure queue, whole; a redrive pays it exactly once, also when the queue
/// delivers the parcel twice, and leaves the queue empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_reward_is_parked_and_a_redrive_pays_it_once() {
    let p = super::pipeline::pipeline(Config::default()).await;
    onboarded(&p.ally, "referrer", Tier::Standard, None).await;
    onboarded(&p.ally, "referred", Tier::Standard, None).await;
    // Every money transaction is refused (a validation error: the SDK does not retry it).
    let refusing = ally_tests::sdk::SdkCalls::default();
    refusing.refuse("TransactWriteItems", "ValidationException", u32::MAX);
    let broken = Ally::new(refusing.store_on(p.ally.store().table()), Config::default());
    let on_failure = p.sqs.create_queue().queue_name(format!("on-failure-{}", ulid::Ulid::new())).send().await;
    let on_failure = on_failure.unwrap().queue_url.unwrap();
    let event = referral_event("ref-7", "referrer", "referred");
    let tried = lambda_async::invoke(&p.sqs, &on_failure, "ally-referral-reward", &event, |e| {
        ally::events::handlers::referral(&broken, e)
    })
    .await;
    assert!(tried.is_err(), "every try failed");
    assert_eq!(p.ally.find_by_user(&uid("referrer")).await.unwrap().balance, 0, "nothing paid yet");

    let parked = super::pipeline::drained(&p, &on_failure).await;
    assert_eq!(parked.len(), 1, "one destination record: {parked:?}");
    let Ok(Parked::Event { function, event: payload }) = Parked::read(&parked[0]) else { panic!("{}", parked[0]) };
    assert!(function.unwrap().contains("ally-referral-reward"));
    assert_eq!(payload.detail, event.detail, "the whole event");
    // Put back twice: the queue may deliver a message more than once.
    for body in [&parked[0], &parked[0]] {
        p.sqs.send_message().queue_url(&on_failure).message_body(body.as_str()).send().await.unwrap();
    }

    let first = redrive(&p.ally, &p.bus, &p.mailer, &p.sqs, &on_failure).await.unwrap();
    assert_eq!(first, Redriven { done: 2, failed: 0, unreadable: 0 });
    let referrer = p.ally.find_by_user(&uid("referrer")).await.unwrap();
    assert_eq!(referrer.balance, 1_000, "paid once");
    let rewards = ally_tests::all_entries(&p.ally, "referrer").await;
    assert_eq!(rewards.iter().filter(|e| e.kind == EntryKind::Reward).count(), 1);
    let again = redrive(&p.ally, &p.bus, &p.mailer, &p.sqs, &on_failure).await.unwrap();
    assert_eq!(again, Redriven::default(), "the queue is empty");
}

/// A partner whose balance falls below the threshold (600, then 200 spent): the stream's
/// records of it, one of which makes a `LowCredit`.
async fn fell_low(p: &super::pipeline::Pipeline) -> aws_lambda_events::event::dynamodb::Event {
    ally_tests::onboarded(&p.ally, "low", Tier::Standard, Some("low@partners.example")).await;
    let credit = credit(600);
    p.ally.add_credits(&uid("low"), credit, EntryKind::Credit, "admin-1", &ikey("top")).await.unwrap();
    let spend = ally::service::ProvisionRequest { cost: Some(200), ..Default::default() };
    p.ally.provision(&uid("low"), spend, &ikey("spend")).await.unwrap();
    ally_tests::stream::stream_batch(p.ally.store()).await
}

/// A bus that refuses everything for good (its policy denies the publisher, say).
struct RefusingBus;

impl ally::events::bus::Bus for RefusingBus {
    async fn publish(&self, events: &[ally::events::BusEvent]) -> Vec<Published> {
        vec![Published::Refused("AccessDeniedException: refused by the test".into()); events.len()]
    }
}

/// A stream record the bus refused is parked whole by the publisher, and a redrive
/// publishes its event once; an unreadable one fails again and stays on the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_bus_refused_is_parked_and_published_by_a_redrive() {
    let p = super::pipeline::pipeline(Config::default()).await;
    let batch = fell_low(&p).await;

    let response = ally::events::handlers::publish_stream(&p.ally, &RefusingBus, &p.poison, batch).await;
    assert!(response.batch_item_failures.is_empty(), "parked, so the batch is done: {response:?}");
    assert!(super::pipeline::delivered(&p).await.is_empty(), "nothing reached the bus");
    let mut unreadable = ParkedRecord::new(json!({"eventID": "x"}), "a record no one can read");
    unreadable.record["dynamodb"] = json!({"SequenceNumber": "9", "NewImage": {"sk": {"S": "PROFILE"}}});
    let body = serde_json::to_string(&unreadable).unwrap();
    p.sqs.send_message().queue_url(&p.poison_url).message_body(body).send().await.unwrap();

    let outcome = redrive(&p.ally, &p.bus, &p.mailer, &p.sqs, &p.poison_url).await.unwrap();
    assert_eq!(outcome.failed, 1, "the unreadable record: {outcome:?}");
    assert!(outcome.done >= 1, "{outcome:?}");
    let events = super::pipeline::delivered(&p).await;
    assert_eq!(events.len(), 1, "the one LowCredit of the crossing, published once: {events:?}");
    assert_eq!(events[0].detail["balance"], 400);
}

/// EventBridge throttling for longer than the publisher's own tries: the records go back to
/// the stream (`batchItemFailures`, so the mapping backs off) and nothing is parked; once
/// the bus recovers, the stream's retry (from the lowest record handed back) publishes
/// each event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_bus_hands_records_back_to_the_stream_and_parks_nothing() {
    let p = super::pipeline::pipeline(Config::default()).await;
    let faults = ally_tests::sdk::ServiceFaults::eventbridge();
    let bus = ally::events::bus::EventBridgeBus::new(faults.eventbridge_client(), p.bus_name.clone());
    let batch = fell_low(&p).await;

    faults.throttle(1_000);
    let response = ally::events::handlers::publish_stream(&p.ally, &bus, &p.poison, batch.clone()).await;
    let handed_back: Vec<u128> = response
        .batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.as_deref().and_then(|id| id.parse().ok()))
        .collect();
    assert!(!handed_back.is_empty(), "the throttled records go back to the stream");
    assert!(super::pipeline::drained(&p, &p.poison_url).await.is_empty(), "nothing parked");
    assert!(super::pipeline::delivered(&p).await.is_empty(), "nothing reached the bus");

    faults.throttle(0);
    let lowest = handed_back.iter().min().copied().unwrap_or_default();
    let mut again = batch.clone();
    again.records.retain(|r| r.change.sequence_number.as_deref().and_then(|s| s.parse::<u128>().ok()) >= Some(lowest));
    let response = ally::events::handlers::publish_stream(&p.ally, &bus, &p.poison, again).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert!(super::pipeline::drained(&p, &p.poison_url).await.is_empty(), "nothing parked");
    let events = super::pipeline::delivered(&p).await;
    let lows: Vec<_> = events.iter().filter(|e| e.detail_type == "LowCredit").collect();
    assert_eq!(lows.len(), 1, "the crossing's LowCredit, published once: {events:?}");
}

/// On DynamoDB as in memory: the low-credit hold is set only under the threshold, kept
/// with its reason, and lifted by the credit that brings the balance back in that write;
/// an admin's hold is kept.
#[tokio::test]
async fn the_low_credit_hold_is_lifted_in_the_credit_write_on_dynamodb() {
    use ally::domain::HoldReason;
    let ally = Ally::new(ally_tests::dynamo_store().await, Config::default());
    let r = onboarded(&ally, "d", Tier::Standard, None).await;
    ally.add_credits(&uid("d"), credit(600), EntryKind::Credit, "admin-1", &ikey("open")).await.unwrap();
    assert!(!ally.hold_for_low_credit(&uid("d")).await.unwrap(), "600 is not below 500");
    let spend = ally::service::ProvisionRequest { cost: Some(200), ..Default::default() };
    ally.provision(&uid("d"), spend, &ikey("spend")).await.unwrap();
    assert!(ally.hold_for_low_credit(&uid("d")).await.unwrap());
    assert!(!ally.hold_for_low_credit(&uid("d")).await.unwrap(), "already held");
    let held = ally.find_by_user(&uid("d")).await.unwrap();
    assert_eq!((held.hold_provisioning, held.hold_reason), (true, Some(HoldReason::LowCredit)));
    ally.add_credits(&uid("d"), credit(100), EntryKind::Credit, "admin-1", &ikey("back")).await.unwrap();
    let lifted = ally.find_by_user(&uid("d")).await.unwrap();
    assert_eq!((lifted.balance, lifted.hold_provisioning, lifted.hold_reason), (500, false, None));

    let manual = ally::service::ResellerPatch { hold_provisioning: Some(true), ..Default::default() };
    ally.update_reseller(&r.refid, manual).await.unwrap();
    ally.add_credits(&uid("d"), credit(100), EntryKind::Credit, "admin-1", &ikey("more")).await.unwrap();
    let kept = ally.find_by_user(&uid("d")).await.unwrap();
    assert_eq!((kept.hold_provisioning, kept.hold_reason), (true, Some(HoldReason::Manual)));
    let lift = ally::service::ResellerPatch { hold_provisioning: Some(false), ..Default::default() };
    let open = ally.update_reseller(&r.refid, lift).await.unwrap();
    assert_eq!((open.hold_provisioning, open.hold_reason), (false, None));
}

fn referral(id: &str, referrer: &str, referred: &str) -> ReferralCompleted {
    ReferralCompleted {
        referral_id: id.into(),
        referrer_user_id: referrer.into(),
        referred_user_id: referred.into(),
        tag: "become-partner".into(),
    }
}

/// Referrals judged on the table, not on how many events say so: one reward per referred
/// user however many referral ids name them, none for a reseller who is another's
/// sub-reseller, none for one that joined long before the referral (and it is not moved).
#[tokio::test]
async fn a_referral_rewards_once_per_recruit_and_only_the_recruits_parent() {
    let hands = ally_tests::Hands::default();
    let ally = Ally::new(ally::store::memory::MemoryStore::new(), Config::default()).with_clock(hands.clock());
    let old = ally_tests::onboarded(&ally, "old", Tier::Standard, None).await;
    hands.advance(chrono::Duration::days(40));
    for user in ["first", "second", "recruit"] {
        ally_tests::onboarded(&ally, user, Tier::Standard, None).await;
    }
    let now = (hands.clock())();
    for id in ["r-1", "r-2", "r-3"] {
        reward_referral(&ally, &referral(id, "first", "recruit"), now).await.unwrap();
    }
    let outcome = reward_referral(&ally, &referral("r-4", "second", "recruit"), now).await.unwrap();
    assert_eq!(outcome, Handled::Dropped, "the recruit is first's");
    let outcome = reward_referral(&ally, &referral("r-5", "second", "old"), now).await.unwrap();
    assert_eq!(outcome, Handled::Dropped, "a reseller of 40 days is no one's referral of today");
    let balance = |user: &'static str| {
        let ally = &ally;
        async move { ally.find_by_user(&uid(user)).await.unwrap().balance }
    };
    assert_eq!((balance("first").await, balance("second").await), (1_000, 0), "one reward for one recruit");
    let first = ally.find_by_user(&uid("first")).await.unwrap().refid;
    let recruit = ally.find_by_user(&uid("recruit")).await.unwrap();
    assert_eq!(recruit.parent.map(|p| p.refid), Some(first));
    assert!(ally.find_by_user(&old.user_id).await.unwrap().parent.is_none(), "the old reseller is not moved");
}

/// A bus that takes nothing now from the first reseller's records and refuses the second's
/// for good.
struct PartlyThrottled(String);

impl ally::events::bus::Bus for PartlyThrottled {
    async fn publish(&self, events: &[ally::events::BusEvent]) -> Vec<Published> {
        let about_first = |e: &ally::events::BusEvent| e.detail["reseller"]["user_id"] == self.0.as_str();
        events
            .iter()
            .map(|e| match about_first(e) {
                true => Published::Retry("ThrottlingException".into()),
                false => Published::Refused("ValidationException: refused by the test".into()),
            })
            .collect()
    }
}

/// The stream replays a batch from the lowest record handed back: a record after it that
/// can never be published is parked on that replay, not now and again then.
#[tokio::test]
async fn nothing_after_a_record_handed_back_is_parked_before_the_replay() {
    let ally = Ally::new(ally::store::memory::MemoryStore::new(), Config::default());
    let first = ally_tests::onboarded(&ally, "first", Tier::Standard, None).await;
    let second = ally_tests::onboarded(&ally, "second", Tier::Standard, None).await;
    let record = |sequence: &str, reseller: ally::domain::Reseller| {
        let change = ally::store::ItemChange {
            id: sequence.into(),
            at: chrono::Utc::now(),
            old: None,
            new: Some(ally::store::Stored::Reseller(Box::new(reseller))),
        };
        ally::events::publisher::Record { report_id: sequence.into(), change: Ok(change), whole: json!({}) }
    };
    let parked_dir = std::env::temp_dir().join(format!("ally-parked-{}", ulid::Ulid::new()));
    let parking = ally::events::parking::ParkedFiles::new(&parked_dir);
    let bus = PartlyThrottled("first".into());
    let records = vec![record("100", first), record("200", second.clone())];
    let retried = ally::events::publisher::publish(ally.store(), &bus, &parking, 500, records).await;
    assert_eq!(retried, ["100", "200"], "both back to the stream: the replay starts at 100");
    assert!(!parked_dir.exists(), "nothing parked before the replay");
    // The replay, the bus taking the first now: the second is parked, once.
    let bus = PartlyThrottled("nobody".into());
    let retried =
        ally::events::publisher::publish(ally.store(), &bus, &parking, 500, vec![record("200", second)]).await;
    assert!(retried.is_empty(), "{retried:?}");
    assert_eq!(std::fs::read_dir(&parked_dir).unwrap().count(), 1, "parked once");
}
