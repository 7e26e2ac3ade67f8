//! No lost work (issue 15): receipts of external events outlive the idempotency window,
//! parked events come back exactly once, a bulk fill always finishes.

use ally::domain::{EntryKind, IdempotencyKey};
use ally::events::ReferralCompleted;
use ally::events::reactions::{Handled, reward_referral};
use ally::service::CreditRequest;
use ally::{Ally, Config};
use ally_tests::{ikey, onboarded, uid};
use aws_sdk_dynamodb::types::AttributeValue;

/// What DynamoDB's TTL does once `at` (Unix seconds) has passed: every item whose
/// `expires_at` is earlier is deleted. Returns how many went.
async fn time_to_live_passes(store: &ally::store::dynamo::DynamoStore, at: i64) -> usize {
    let client = store.client();
    let mut gone = 0;
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(store.table())
            .filter_expression("expires_at < :at")
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
    let ally = Ally::new(store.clone(), Config::default());
    onboarded(&ally, "referrer", ally::domain::Tier::Standard, None).await;
    onboarded(&ally, "referred", ally::domain::Tier::Standard, None).await;
    let user = uid("referrer");
    let credit = |amount| CreditRequest { amount, reason: None };
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
    assert_eq!(reward_referral(&ally, &referral).await.unwrap(), Handled::Done);
    let balance = ally.find_by_user(&user).await.unwrap().balance;
    assert_eq!(balance, 100 + 2_500 + 1_000);

    let a_month_on = chrono::Utc::now().timestamp() + 31 * 86_400;
    assert!(time_to_live_passes(&store, a_month_on).await >= 1, "the caller's record expired");

    let replayed = ally.add_credits(&user, credit(2_500), EntryKind::Credit, "webhook:payments", &payment).await;
    assert_eq!(replayed.unwrap(), paid, "the provider's redelivery replays the first answer");
    reward_referral(&ally, &referral).await.unwrap();
    assert_eq!(ally.find_by_user(&user).await.unwrap().balance, balance, "an archive replay pays nothing");
    let again = ally.add_credits(&user, credit(100), EntryKind::Credit, "admin-1", &by_admin).await.unwrap();
    assert_eq!(again.balance, balance + 100, "a caller's key is remembered for its window only");
}
