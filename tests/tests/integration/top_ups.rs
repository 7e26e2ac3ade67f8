//! Auto top-up: one request per fall below the rule's level, never a second
//! while one is pending (however many crossings race), ended by the payment that names it
//! or failed after a day, three failures in a row turning the rule off, the month's cap;
//! through the service and the API, on both stores.

use ally_tests::ally_on;
use std::sync::Arc;

use ally::domain::{EntryKind, Tier, TopUpRequest, TopUpRule, UserId};
use ally::service::{AutoTopUpView, CreditRequest};
use ally::store::Store;
use ally::{Ally, Config};
use ally_tests::{assert_problem, ikey, on_both_stores, reseller_with, uid};
use chrono::{Duration, Utc};
use serde_json::json;

fn rule(below: i64, target: i64, monthly_cap: i64) -> TopUpRule {
    TopUpRule { below, target, monthly_cap }
}

async fn spend<S: Store>(ally: &Ally<S>, user: &str, cost: i64, key: &str) {
    let request = ally_tests::spend(cost);
    ally.provision(&uid(user), request, &ikey(key)).await.unwrap();
}

async fn credit<S: Store>(ally: &Ally<S>, user: &str, amount: i64, pays: Option<&str>, key: &str) {
    let request = CreditRequest { amount, top_up_request: pays.map(String::from), ..CreditRequest::default() };
    ally.add_credits(&uid(user), request, EntryKind::Credit, "webhook:payments", &ikey(key)).await.unwrap();
}

/// The requests of `user` still pending, however old.
async fn pending<S: Store>(ally: &Ally<S>, user: &str) -> Vec<TopUpRequest> {
    let all = ally.store().stale_top_ups(Utc::now() + Duration::days(1)).await.unwrap();
    all.into_iter().filter(|r| r.owner_id == uid(user)).collect()
}

async fn view<S: Store>(ally: &Ally<S>, user: &str) -> AutoTopUpView {
    ally.auto_top_up(&uid(user)).await.unwrap()
}

async fn a_fall_below_asks_once_and_the_payment_that_names_it_ends_the_wait<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "topped", Tier::Standard, 1_000).await;
    ally.set_auto_top_up(&uid("topped"), rule(500, 2_000, 5_000)).await.unwrap();
    spend(&ally, "topped", 300, "s1").await;
    assert_eq!(view(&ally, "topped").await.pending_request_id, None, "700 is not below 500");
    spend(&ally, "topped", 300, "s2").await;
    let asked = view(&ally, "topped").await;
    let request_id = asked.pending_request_id.clone().expect("400 is below 500: a request");
    assert_eq!(asked.requested_this_month, 1_600, "target 2,000 less the 400 available");
    // Back above and down again while the request waits: no second request.
    credit(&ally, "topped", 300, None, "other-payment").await;
    spend(&ally, "topped", 300, "s3").await;
    let waiting = pending(&ally, "topped").await;
    assert_eq!(waiting.iter().map(|r| (r.id.as_str(), r.amount)).collect::<Vec<_>>(), [(request_id.as_str(), 1_600)]);
    assert_eq!(view(&ally, "topped").await, asked, "the second crossing asked nothing");
    // The payment that names the request ends the wait.
    credit(&ally, "topped", 1_600, Some(&request_id), "paid").await;
    let paid = view(&ally, "topped").await;
    assert_eq!((paid.pending_request_id, paid.requested_this_month), (None, 1_600));
    assert!(pending(&ally, "topped").await.is_empty(), "nothing waits");
    // The next fall asks again, within what is left of the month's cap (5,000 - 1,600).
    spend(&ally, "topped", 1_700, "s4").await;
    let again = view(&ally, "topped").await;
    assert!(again.pending_request_id.as_ref().is_some_and(|id| *id != request_id));
    assert_eq!(again.requested_this_month, 1_600 + 1_700, "2,000 less the 300 available");
    credit(&ally, "topped", 3_000, again.pending_request_id.as_deref(), "paid-2").await;
    spend(&ally, "topped", 3_200, "s5").await;
    assert_eq!(view(&ally, "topped").await.requested_this_month, 5_000, "the last request takes only the 1,700 left");
    credit(&ally, "topped", 3_000, view(&ally, "topped").await.pending_request_id.as_deref(), "paid-3").await;
    spend(&ally, "topped", 3_000, "s6").await;
    assert_eq!(view(&ally, "topped").await.pending_request_id, None, "the month's cap is spent: nothing asked");
}

async fn racing_crossings_make_one_request<S: Store>(store: S) {
    let ally = Arc::new(ally_on(store));
    reseller_with(&ally, "racer", Tier::Standard, 1_000).await;
    ally.set_auto_top_up(&uid("racer"), rule(1_000, 5_000, 1_000_000)).await.unwrap();
    // Eight spends and four credits of 10 at once: what is available ends at 960, so it
    // falls below 1,000 at least once whatever order the writes commit in, and may climb
    // back to it and fall again.
    let mut tasks = Vec::new();
    for i in 0..12 {
        let ally = ally.clone();
        tasks.push(tokio::spawn(async move {
            if i % 3 != 2 {
                spend(&ally, "racer", 10, &format!("spend-{i}")).await;
            } else {
                credit(&ally, "racer", 10, None, &format!("credit-{i}")).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(ally.find_by_user(&uid("racer")).await.unwrap().available(), 960);
    let waiting = pending(&ally, "racer").await;
    assert_eq!(waiting.len(), 1, "one request, whatever the crossings: {waiting:?}");
    assert_eq!(view(&ally, "racer").await.pending_request_id.as_deref(), Some(waiting[0].id.as_str()));
}

async fn unpaid_requests_fail_after_a_day_and_three_turn_the_rule_off<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "unpaid", Tier::Standard, 1_000).await;
    ally.set_auto_top_up(&uid("unpaid"), rule(500, 600, 1_000_000)).await.unwrap();
    spend(&ally, "unpaid", 600, "fall-0").await;
    assert_eq!(ally.fail_stale_top_ups(Utc::now()).await.unwrap(), 0, "a request is given a day");
    let a_day_later = || Utc::now() + Duration::hours(25);
    for round in 1..=3u32 {
        if round > 1 {
            credit(&ally, "unpaid", 200, None, &format!("back-{round}")).await;
            spend(&ally, "unpaid", 200, &format!("fall-{round}")).await;
        }
        assert_eq!(pending(&ally, "unpaid").await.len(), 1, "round {round} asked");
        assert_eq!(ally.fail_stale_top_ups(a_day_later()).await.unwrap(), 1);
        assert_eq!(ally.fail_stale_top_ups(a_day_later()).await.unwrap(), 0, "failed once");
        let state = view(&ally, "unpaid").await;
        assert_eq!((state.failures_in_a_row, state.enabled, state.pending_request_id), (round, round < 3, None));
    }
    credit(&ally, "unpaid", 200, None, "back-4").await;
    spend(&ally, "unpaid", 200, "fall-4").await;
    assert!(pending(&ally, "unpaid").await.is_empty(), "off: nothing asked");
    let on = ally.set_auto_top_up(&uid("unpaid"), rule(500, 600, 1_000_000)).await.unwrap();
    assert_eq!((on.enabled, on.failures_in_a_row), (true, 0), "saving the rule turns it back on");
}

async fn the_rule_through_the_api_and_bad_input_changing_nothing<S: Store>(store: S) {
    let api = ally_tests::TestApi::new(store, Config::default());
    let (token, refid) = api.partner("auto", "standard", 1_000).await;
    let path = "/resellers/me/auto-top-up";
    assert_problem(&api.call("GET", path, Some(&token), None).await, 404, "not_found", "no rule yet");
    for bad in [
        json!({"below": 500, "target": 500, "monthly_cap": 1_000}),
        json!({"below": -1, "target": 500, "monthly_cap": 1_000}),
        json!({"below": 100, "target": 500, "monthly_cap": 0}),
        json!({"below": 100, "target": 500}),
        json!({"below": 100, "target": 500, "monthly_cap": 10, "colour": "red"}),
    ] {
        let refused = api.call("PUT", path, Some(&token), Some(bad.clone())).await;
        assert_problem(&refused, 422, "validation_failed", &bad.to_string());
    }
    assert_eq!(api.call("GET", path, Some(&token), None).await.status, 404, "nothing saved");
    let saved = api.call("PUT", path, Some(&token), Some(json!({"below": 500, "target": 2_000, "monthly_cap": 3_000})));
    let expected = json!({"below": 500, "target": 2_000, "monthly_cap": 3_000, "enabled": true,
        "requested_this_month": 0, "failures_in_a_row": 0});
    assert_eq!(saved.await.body, expected);
    let spent = api.provision(&token, "fall", json!({"cost": 700})).await;
    assert_eq!(spent.status, 200, "{spent:?}");
    let asked = api.call("GET", path, Some(&token), None).await.body;
    let request_id = asked["pending_request_id"].as_str().expect("a request").to_string();
    assert_eq!(asked["requested_this_month"], 1_700);
    // A payment naming a malformed request is refused whole.
    let admin = api.token("admin", true);
    let before = api.holdings(&token).await;
    let bad =
        api.add_credits(&admin, &refid, "bad-ref", json!({"amount": 1_700, "top_up_request": "no spaces!"})).await;
    assert_problem(&bad, 422, "validation_failed", "a malformed request id");
    assert_eq!(api.holdings(&token).await, before, "nothing credited");
    // Removing the rule cancels what waits.
    let removed = api.call("DELETE", path, Some(&token), None).await;
    assert_eq!((removed.status, removed.body.clone()), (204, serde_json::Value::Null));
    assert_eq!(api.call("GET", path, Some(&token), None).await.status, 404);
    let user = UserId::parse("auto").unwrap();
    let waiting = api.app.ally.store().stale_top_ups(Utc::now() + Duration::days(2)).await.unwrap();
    assert!(!waiting.iter().any(|r| r.owner_id == user || r.id == request_id), "cancelled: {waiting:?}");
    let other = api.token("someone-else", false);
    assert_eq!(api.call("DELETE", path, Some(&other), None).await.status, 404, "no reseller, nothing to remove");
}

/// DynamoDB refuses a plain update of the wallet with `TransactionConflictException` while a
/// money transaction on it is in flight: saving the rule then tries again, never a 500.
#[tokio::test]
async fn a_rule_saved_while_a_money_transaction_holds_the_wallet_is_retried() {
    let calls = ally_tests::sdk::SdkCalls::default();
    let ally = ally_on(calls.store().await);
    reseller_with(&ally, "busy", Tier::Standard, 1_000).await;
    calls.refuse("UpdateItem", "TransactionConflictException", 1);
    let saved = ally.set_auto_top_up(&uid("busy"), rule(500, 2_000, 5_000)).await;
    assert_eq!(calls.refused(), 1, "the update met a transaction in flight");
    assert_eq!(saved.map(|v| (v.below, v.enabled)).ok(), Some((500, true)));
    assert_eq!(view(&ally, "busy").await.target, 2_000, "saved by the retry");
}

on_both_stores!(
    a_fall_below_asks_once_and_the_payment_that_names_it_ends_the_wait,
    racing_crossings_make_one_request,
    unpaid_requests_fail_after_a_day_and_three_turn_the_rule_off,
    the_rule_through_the_api_and_bad_input_changing_nothing,
);
