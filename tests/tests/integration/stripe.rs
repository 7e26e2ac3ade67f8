//! Payments from Stripe through the HTTP API, on both stores: each payload shaped
//! as Stripe documents it and signed by Stripe's own library.

use ally::Config;
use ally::config::Secret;
use ally::domain::Currency;
use ally::store::Store;
use ally_tests::stripe::{
    SECRET, checkout_session, dispute, event, payment_intent, refund, refunded_charge, refunded_charge_without_list,
    signature,
};
use ally_tests::{Answer, TestApi, assert_problem, on_both_stores};
use serde_json::{Value, json};

fn config() -> Config {
    let currencies = vec![
        Currency { code: "USD".into(), minor_units: 2, credits_per_unit: 100 },
        Currency { code: "JPY".into(), minor_units: 0, credits_per_unit: 1 },
    ];
    Config { stripe_webhook_secret: Some(Secret::new(SECRET)), currencies, ..Config::default() }
}

/// Sends `event` signed now by Stripe's library.
async fn deliver<S: Store>(api: &TestApi<S>, event: &Value) -> Answer {
    deliver_signed(api, event, SECRET, chrono::Utc::now().timestamp()).await
}

async fn deliver_signed<S: Store>(api: &TestApi<S>, event: &Value, secret: &str, at: i64) -> Answer {
    let payload = event.to_string();
    let header = signature(&payload, secret, at);
    api.send("POST", "/webhooks/stripe", None, &[("stripe-signature", &header)], payload.into_bytes()).await
}

async fn balance<S: Store>(api: &TestApi<S>, token: &str) -> (i64, i64) {
    let me = api.call("GET", "/resellers/me", Some(token), None).await.body;
    (me["balance"].as_i64().unwrap(), me["debt"].as_i64().unwrap())
}

async fn a_payment_credits_once_whichever_event_comes_first<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    // Session first, then its intent; then the intent first, then its session.
    let session = event(
        "evt_1",
        "checkout.session.completed",
        checkout_session("cs_1", "pi_1", &refid, 2_000, "usd", true),
        false,
    );
    let answer = deliver(&api, &session).await;
    assert_eq!((answer.status, answer.body["outcome"].as_str()), (200, Some("credited")), "{answer:?}");
    let intent = event("evt_2", "payment_intent.succeeded", payment_intent("pi_1", Some(&refid), 2_000, "usd"), false);
    assert_eq!(deliver(&api, &intent).await.status, 200);
    assert_eq!(deliver(&api, &session).await.status, 200, "a redelivery");
    assert_eq!(balance(&api, &token).await, (2_000, 0), "one payment, one credit");
    let intent = event("evt_3", "payment_intent.succeeded", payment_intent("pi_2", Some(&refid), 500, "usd"), false);
    deliver(&api, &intent).await;
    let session =
        event("evt_4", "checkout.session.completed", checkout_session("cs_2", "pi_2", &refid, 500, "usd", true), false);
    deliver(&api, &session).await;
    assert_eq!(balance(&api, &token).await, (2_500, 0));
    // A session not paid yet (a delayed method) credits on its async success.
    let pending = checkout_session("cs_3", "pi_3", &refid, 700, "usd", false);
    let unpaid = deliver(&api, &event("evt_5", "checkout.session.completed", pending, false)).await;
    assert_eq!(unpaid.body["ignored"], "the session is not paid yet");
    let paid = checkout_session("cs_3", "pi_3", &refid, 700, "usd", true);
    deliver(&api, &event("evt_6", "checkout.session.async_payment_succeeded", paid, false)).await;
    assert_eq!(balance(&api, &token).await, (3_200, 0));
    // A zero-decimal currency: 1,500 yen at 1 credit a yen.
    let yen = event("evt_7", "payment_intent.succeeded", payment_intent("pi_4", Some(&refid), 1_500, "jpy"), false);
    deliver(&api, &yen).await;
    assert_eq!(balance(&api, &token).await, (4_700, 0));
    let ledger = api.call("GET", "/resellers/me/transactions?limit=100", Some(&token), None).await.body;
    assert_eq!(ledger["items"].as_array().unwrap().len(), 4, "four payments, four entries");
}

async fn refunds_and_disputes_take_back_once<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    deliver(
        &api,
        &event("evt_1", "payment_intent.succeeded", payment_intent("pi_1", Some(&refid), 2_000, "usd"), false),
    )
    .await;
    // Two partial refunds: the second event lists both; each is taken once.
    let first = refunded_charge("pi_1", 2_000, "usd", &[("re_1", 500)]);
    assert_eq!(deliver(&api, &event("evt_2", "charge.refunded", first, false)).await.body["outcome"], "reversed");
    let both = refunded_charge("pi_1", 2_000, "usd", &[("re_1", 500), ("re_2", 300)]);
    deliver(&api, &event("evt_3", "charge.refunded", both.clone(), false)).await;
    deliver(&api, &event("evt_3", "charge.refunded", both, false)).await;
    assert_eq!(balance(&api, &token).await, (1_200, 0));
    // Spent, then disputed: what the wallet cannot give becomes debt; won, it comes back.
    api.provision(&token, "spend", json!({"cost": 1_000})).await;
    let opened =
        event("evt_4", "charge.dispute.created", dispute("dp_1", "pi_1", 1_200, "usd", "needs_response"), false);
    assert_eq!(deliver(&api, &opened).await.status, 200);
    deliver(&api, &opened).await;
    assert_eq!(balance(&api, &token).await, (0, 1_000), "200 taken, 1,000 owed");
    let won = event("evt_5", "charge.dispute.closed", dispute("dp_1", "pi_1", 1_200, "usd", "won"), false);
    assert_eq!(deliver(&api, &won).await.body["outcome"], "credited");
    deliver(&api, &won).await;
    assert_eq!(balance(&api, &token).await, (200, 0), "the debt repaid first, once");
    let lost = event("evt_6", "charge.dispute.closed", dispute("dp_2", "pi_1", 100, "usd", "lost"), false);
    assert_eq!(deliver(&api, &lost).await.body["ignored"], "the dispute was not won");

    // Since API version 2022-11-15 a charge lists no refunds: each refund's own event does.
    deliver(
        &api,
        &event("evt_7", "payment_intent.succeeded", payment_intent("pi_2", Some(&refid), 2_000, "usd"), false),
    )
    .await;
    let bare = refunded_charge_without_list("pi_2", 2_000, 700, "usd");
    let ignored = deliver(&api, &event("evt_8", "charge.refunded", bare, false)).await;
    assert_eq!(ignored.body["ignored"], "the charge lists no refunds (refund.updated carries them)");
    let pending =
        deliver(&api, &event("evt_9", "refund.created", refund("re_3", "pi_2", 700, "usd", "pending"), false)).await;
    assert_eq!(pending.body["ignored"], "the refund has not succeeded");
    let done = event("evt_10", "refund.updated", refund("re_3", "pi_2", 700, "usd", "succeeded"), false);
    assert_eq!(deliver(&api, &done).await.body["outcome"], "reversed");
    deliver(&api, &done).await;
    assert_eq!(balance(&api, &token).await, (1_500, 0), "700 of the 2,000 taken back once");
    // A dispute of the whole payment after the refund takes what is left, and its win gives
    // back exactly that.
    let whole =
        event("evt_11", "charge.dispute.created", dispute("dp_3", "pi_2", 2_000, "usd", "needs_response"), false);
    deliver(&api, &whole).await;
    assert_eq!(balance(&api, &token).await, (200, 0), "the 1,300 left of the credit");
    let won = event("evt_12", "charge.dispute.closed", dispute("dp_3", "pi_2", 2_000, "usd", "won"), false);
    deliver(&api, &won).await;
    deliver(&api, &won).await;
    assert_eq!(balance(&api, &token).await, (1_500, 0), "what the dispute took, given back once");
}

async fn money_back_before_its_payment_waits_for_it<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    let early = event("evt_1", "charge.dispute.created", dispute("dp_1", "pi_9", 600, "usd", "needs_response"), false);
    assert_eq!(deliver(&api, &early).await.body["outcome"], "waiting");
    let refund = refunded_charge("pi_9", 2_000, "usd", &[("re_9", 400)]);
    assert_eq!(deliver(&api, &event("evt_2", "charge.refunded", refund, false)).await.body["outcome"], "waiting");
    assert_eq!(balance(&api, &token).await, (0, 0), "nothing moves before the payment");
    let session = checkout_session("cs_9", "pi_9", &refid, 2_000, "usd", true);
    deliver(&api, &event("evt_3", "checkout.session.completed", session.clone(), false)).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0), "the payment, then what waited for it");
    deliver(&api, &event("evt_3", "checkout.session.completed", session, false)).await;
    deliver(&api, &early).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0), "each once");
    // A dispute won before its payment arrived takes nothing and gives nothing.
    let won_first = event("evt_4", "charge.dispute.closed", dispute("dp_5", "pi_8", 300, "usd", "won"), false);
    deliver(&api, &won_first).await;
    let created =
        event("evt_5", "charge.dispute.created", dispute("dp_5", "pi_8", 300, "usd", "needs_response"), false);
    assert_eq!(deliver(&api, &created).await.body["ignored"], "the dispute was won already");
    deliver(&api, &event("evt_6", "payment_intent.succeeded", payment_intent("pi_8", Some(&refid), 300, "usd"), false))
        .await;
    assert_eq!(balance(&api, &token).await, (1_300, 0));
}

async fn only_stripe_signed_events_of_our_mode_move_money<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    let payment = event("evt_1", "payment_intent.succeeded", payment_intent("pi_1", Some(&refid), 900, "usd"), false);
    let now = chrono::Utc::now().timestamp();
    assert_problem(&deliver_signed(&api, &payment, "whsec_someone_else", now).await, 400, "invalid_signature", "");
    assert_problem(&deliver_signed(&api, &payment, SECRET, now - 301).await, 400, "invalid_signature", "");
    let unsigned = api.send("POST", "/webhooks/stripe", None, &[], payment.to_string().into_bytes()).await;
    assert_problem(&unsigned, 400, "invalid_signature", "");
    // A signature of another body.
    let header = signature(&payment.to_string(), SECRET, now);
    let tampered = payment.to_string().replace("900", "90000");
    let forged =
        api.send("POST", "/webhooks/stripe", None, &[("stripe-signature", &header)], tampered.into_bytes()).await;
    assert_problem(&forged, 400, "invalid_signature", "");
    assert_eq!(balance(&api, &token).await, (0, 0), "nothing moved");

    let other = event("evt_2", "customer.created", json!({"id": "cus_1", "object": "customer"}), false);
    let ignored = deliver(&api, &other).await;
    assert_eq!(
        (ignored.status, ignored.body.clone()),
        (200, json!({"received": true, "ignored": "an event type Ally does not use"}))
    );
    let live = event("evt_3", "payment_intent.succeeded", payment_intent("pi_2", Some(&refid), 900, "usd"), true);
    assert_eq!(deliver(&api, &live).await.body["ignored"], "livemode does not match ALLY_STRIPE_LIVEMODE");
    let checkout_intent = event("evt_4", "payment_intent.succeeded", payment_intent("pi_3", None, 900, "usd"), false);
    let answer = deliver(&api, &checkout_intent).await;
    assert_eq!(answer.body["ignored"], "the intent names no reseller (its Checkout Session does)", "{answer:?}");
    let unknown =
        event("evt_7", "payment_intent.succeeded", payment_intent("pi_7", Some("ZZZZZZZZZZ"), 900, "usd"), false);
    assert_eq!(deliver(&api, &unknown).await.body["outcome"], "unattributed", "kept for an admin, acknowledged");
    let stranger = checkout_session("cs_5", "pi_5", "ZZZZZZZZZZ", 900, "usd", true);
    assert_eq!(
        deliver(&api, &event("evt_5", "checkout.session.completed", stranger, false)).await.body["outcome"],
        "unattributed"
    );
    assert_eq!(balance(&api, &token).await, (0, 0));
    let unpriced = event("evt_6", "payment_intent.succeeded", payment_intent("pi_6", Some(&refid), 900, "eur"), false);
    assert_eq!(deliver(&api, &unpriced).await.body["outcome"], "unattributed", "a currency Ally does not take: kept");
    assert_eq!(balance(&api, &token).await, (0, 0));
}

/// The Stripe flow fulfils an auto top-up request: the payment names it in its metadata.
async fn a_stripe_payment_naming_an_auto_top_up_request_ends_its_wait<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("auto-stripe", "standard", 1_000).await;
    let rule = json!({"below": 500, "target": 2_000, "monthly_cap": 5_000});
    assert_eq!(api.call("PUT", "/resellers/me/auto-top-up", Some(&token), Some(rule)).await.status, 200);
    assert_eq!(api.provision(&token, "fall", json!({"cost": 700})).await.status, 200);
    let asked = api.call("GET", "/resellers/me/auto-top-up", Some(&token), None).await.body;
    let request_id = asked["pending_request_id"].as_str().expect("300 is below 500: a request").to_string();
    let paying = |id: &str, names: &str| {
        let mut intent = payment_intent(id, Some(&refid), 1_700, "usd");
        intent["metadata"]["ally_top_up_request"] = json!(names);
        event(&format!("evt_{id}"), "payment_intent.succeeded", intent, false)
    };
    // A payment naming no valid request is credited all the same; the request still waits.
    assert_eq!(deliver(&api, &paying("pi_other", "not a request!")).await.body["outcome"], "credited");
    let still = api.call("GET", "/resellers/me/auto-top-up", Some(&token), None).await.body;
    assert_eq!(still["pending_request_id"], json!(request_id));
    assert_eq!(deliver(&api, &paying("pi_topup", &request_id)).await.body["outcome"], "credited");
    let paid = api.call("GET", "/resellers/me/auto-top-up", Some(&token), None).await.body;
    assert_eq!((paid["pending_request_id"].clone(), paid["requested_this_month"].clone()), (Value::Null, json!(1_700)));
    assert_eq!(balance(&api, &token).await, (300 + 1_700 + 1_700, 0));
}

/// An inquiry (retrieval request, early fraud warning) moves no funds at Stripe: it moves no
/// credit when opened, and gives nothing when closed; funds withdrawn when it escalates
/// reverse once, and funds reinstated give them back once.
async fn an_inquiry_moves_nothing_until_funds_leave<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    let paid = payment_intent("pi_1", Some(&refid), 1_000, "usd");
    deliver(&api, &event("evt_1", "payment_intent.succeeded", paid, false)).await;
    let inquiry = dispute("dp_1", "pi_1", 1_000, "usd", "warning_needs_response");
    let opened = deliver(&api, &event("evt_2", "charge.dispute.created", inquiry, false)).await;
    assert_eq!(opened.body["ignored"], "an inquiry moves no funds", "{opened:?}");
    let closed = dispute("dp_1", "pi_1", 1_000, "usd", "warning_closed");
    deliver(&api, &event("evt_3", "charge.dispute.closed", closed, false)).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0), "an inquiry takes nothing and gives nothing");
    // Another inquiry escalates: its funds leave, once however often Stripe says so.
    let escalated = dispute("dp_2", "pi_1", 400, "usd", "needs_response");
    let withdrawn = event("evt_4", "charge.dispute.funds_withdrawn", escalated.clone(), false);
    assert_eq!(deliver(&api, &withdrawn).await.body["outcome"], "reversed");
    deliver(&api, &event("evt_5", "charge.dispute.created", escalated.clone(), false)).await;
    assert_eq!(balance(&api, &token).await, (600, 0));
    let reinstated = event("evt_6", "charge.dispute.funds_reinstated", escalated, false);
    assert_eq!(deliver(&api, &reinstated).await.body["outcome"], "credited");
    let won = event("evt_7", "charge.dispute.closed", dispute("dp_2", "pi_1", 400, "usd", "won"), false);
    deliver(&api, &won).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0), "given back once");
}

/// A buyer can edit `client_reference_id`: a session naming one reseller and its intent
/// naming another credit the payment once, to the first, whose refund then takes it back.
async fn one_payment_credits_one_reseller_whichever_refids_name_it<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (a_token, a) = api.partner("first", "standard", 0).await;
    let (b_token, b) = api.partner("second", "standard", 0).await;
    let session = checkout_session("cs_1", "pi_1", &a, 2_000, "usd", true);
    assert_eq!(
        deliver(&api, &event("evt_1", "checkout.session.completed", session, false)).await.body["outcome"],
        "credited"
    );
    let intent = payment_intent("pi_1", Some(&b), 2_000, "usd");
    let second = deliver(&api, &event("evt_2", "payment_intent.succeeded", intent, false)).await;
    assert_eq!((second.status, second.body["ignored"].as_str()), (200, Some("the payment was credited already")));
    assert_eq!(balance(&api, &a_token).await, (2_000, 0));
    assert_eq!(balance(&api, &b_token).await, (0, 0), "one payment, one credit in the network");
    let refund = refund("re_1", "pi_1", 2_000, "usd", "succeeded");
    assert_eq!(deliver(&api, &event("evt_3", "refund.updated", refund, false)).await.body["outcome"], "reversed");
    assert_eq!(balance(&api, &a_token).await, (0, 0), "the refund takes back from the reseller it credited");
    assert_eq!(balance(&api, &b_token).await, (0, 0));
}

/// A payment above `ALLY_MAX_CREDIT_AMOUNT` is kept and acknowledged: never refused into
/// Stripe's retries.
async fn a_payment_above_the_maximum_is_kept_not_refused<S: Store>(store: S) {
    let api = TestApi::new(store, Config { max_credit_amount: 1_000, ..config() });
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    let big = payment_intent("pi_big", Some(&refid), 1_001, "usd");
    let answer = deliver(&api, &event("evt_1", "payment_intent.succeeded", big, false)).await;
    assert_eq!((answer.status, answer.body["outcome"].as_str()), (200, Some("unattributed")), "{answer:?}");
    assert_eq!(balance(&api, &token).await, (0, 0));
}

/// A refund that fails after it succeeded gives back what it took, once; one that failed
/// before its success arrived takes nothing.
async fn a_refund_that_fails_gives_back_once<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    deliver(
        &api,
        &event("evt_1", "payment_intent.succeeded", payment_intent("pi_1", Some(&refid), 1_000, "usd"), false),
    )
    .await;
    let took = event("evt_2", "refund.updated", refund("re_1", "pi_1", 300, "usd", "succeeded"), false);
    deliver(&api, &took).await;
    assert_eq!(balance(&api, &token).await, (700, 0));
    let failed = event("evt_3", "refund.failed", refund("re_1", "pi_1", 300, "usd", "failed"), false);
    assert_eq!(deliver(&api, &failed).await.body["outcome"], "credited");
    deliver(&api, &failed).await;
    deliver(&api, &took).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0), "given back once, never taken again");
    // Failed first, then its (older) success: nothing moves.
    deliver(&api, &event("evt_4", "refund.failed", refund("re_2", "pi_1", 200, "usd", "failed"), false)).await;
    deliver(&api, &event("evt_5", "refund.updated", refund("re_2", "pi_1", 200, "usd", "succeeded"), false)).await;
    assert_eq!(balance(&api, &token).await, (1_000, 0));
}

/// The intent (naming no auto top-up request) credits first; its session, which names the
/// request, arrives after: the request still ends its wait.
async fn the_later_event_naming_an_auto_top_up_request_fulfils_it<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("auto-late", "standard", 1_000).await;
    let rule = json!({"below": 500, "target": 2_000, "monthly_cap": 5_000});
    api.call("PUT", "/resellers/me/auto-top-up", Some(&token), Some(rule)).await;
    api.provision(&token, "fall", json!({"cost": 700})).await;
    let asked = api.call("GET", "/resellers/me/auto-top-up", Some(&token), None).await.body;
    let request_id = asked["pending_request_id"].as_str().expect("a request").to_string();
    deliver(
        &api,
        &event("evt_1", "payment_intent.succeeded", payment_intent("pi_1", Some(&refid), 1_700, "usd"), false),
    )
    .await;
    let mut session = checkout_session("cs_1", "pi_1", &refid, 1_700, "usd", true);
    session["metadata"] = json!({"ally_top_up_request": request_id});
    deliver(&api, &event("evt_2", "checkout.session.completed", session, false)).await;
    let after = api.call("GET", "/resellers/me/auto-top-up", Some(&token), None).await.body;
    assert_eq!(after["pending_request_id"], Value::Null, "{after}");
    assert_eq!(balance(&api, &token).await, (2_000, 0), "credited once");
}

/// Money back given back never blocks the money back after it, in whatever order Stripe's
/// events arrive: the credit always ends at what Stripe kept.
async fn money_back_given_back_leaves_room_for_the_next<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (token, refid) = api.partner("buyer", "standard", 0).await;
    let pay = |id: &str| {
        event(&format!("evt_{id}"), "payment_intent.succeeded", payment_intent(id, Some(&refid), 5_000, "usd"), false)
    };
    // A dispute won, then a refund of the whole payment: Stripe kept nothing.
    deliver(&api, &pay("pi_1")).await;
    deliver(
        &api,
        &event("evt_a1", "charge.dispute.created", dispute("dp_1", "pi_1", 5_000, "usd", "needs_response"), false),
    )
    .await;
    deliver(&api, &event("evt_a2", "charge.dispute.closed", dispute("dp_1", "pi_1", 5_000, "usd", "won"), false)).await;
    deliver(&api, &event("evt_a3", "refund.updated", refund("re_1", "pi_1", 5_000, "usd", "succeeded"), false)).await;
    assert_eq!(balance(&api, &token).await, (0, 0), "won, then refunded: nothing kept");
    // A refund that failed, then a dispute lost: Stripe kept nothing.
    deliver(&api, &pay("pi_2")).await;
    deliver(&api, &event("evt_b1", "refund.updated", refund("re_2", "pi_2", 2_000, "usd", "succeeded"), false)).await;
    deliver(&api, &event("evt_b2", "refund.failed", refund("re_2", "pi_2", 2_000, "usd", "failed"), false)).await;
    deliver(
        &api,
        &event("evt_b3", "charge.dispute.created", dispute("dp_2", "pi_2", 5_000, "usd", "needs_response"), false),
    )
    .await;
    assert_eq!(balance(&api, &token).await, (0, 0), "the failed refund leaves room for the dispute");
    // The dispute's events arrive around a refund it blocked: won last, the refund still takes.
    deliver(&api, &pay("pi_3")).await;
    deliver(
        &api,
        &event("evt_c1", "charge.dispute.created", dispute("dp_3", "pi_3", 5_000, "usd", "needs_response"), false),
    )
    .await;
    deliver(&api, &event("evt_c2", "refund.updated", refund("re_3", "pi_3", 1_500, "usd", "succeeded"), false)).await;
    deliver(&api, &event("evt_c3", "charge.dispute.closed", dispute("dp_3", "pi_3", 5_000, "usd", "won"), false)).await;
    assert_eq!(balance(&api, &token).await, (3_500, 0), "Stripe kept 3,500 of the third payment");
}

/// A generic payment webhook's event id cannot take a Stripe payment's receipt: the two
/// namespaces never meet.
async fn a_webhook_id_never_takes_a_stripe_receipt<S: Store>(store: S) {
    let api = TestApi::new(store, config());
    let (a_token, a) = api.partner("stripe-buyer", "standard", 0).await;
    let (b_token, b) = api.partner("webhook-buyer", "standard", 0).await;
    let body = json!({"id": "stripe:pi_9", "type": "payment.succeeded", "reseller_refid": b, "amount_minor": 1_000, "currency": "USD"});
    let body = body.to_string().into_bytes();
    let header = ally::http::webhook::sign(b"whsec-test", chrono::Utc::now().timestamp(), &body);
    let answer = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &header)], body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    deliver(&api, &event("evt_1", "payment_intent.succeeded", payment_intent("pi_9", Some(&a), 2_000, "usd"), false))
        .await;
    assert_eq!(balance(&api, &a_token).await, (2_000, 0), "the Stripe payment credits its reseller");
    assert_eq!(balance(&api, &b_token).await, (1_000, 0));
    deliver(&api, &event("evt_2", "refund.updated", refund("re_9", "pi_9", 2_000, "usd", "succeeded"), false)).await;
    assert_eq!((balance(&api, &a_token).await, balance(&api, &b_token).await), ((0, 0), (1_000, 0)));
}

on_both_stores!(
    a_webhook_id_never_takes_a_stripe_receipt,
    money_back_given_back_leaves_room_for_the_next,
    an_inquiry_moves_nothing_until_funds_leave,
    one_payment_credits_one_reseller_whichever_refids_name_it,
    a_payment_above_the_maximum_is_kept_not_refused,
    a_refund_that_fails_gives_back_once,
    the_later_event_naming_an_auto_top_up_request_fulfils_it,
    a_stripe_payment_naming_an_auto_top_up_request_ends_its_wait,
    a_payment_credits_once_whichever_event_comes_first,
    refunds_and_disputes_take_back_once,
    money_back_before_its_payment_waits_for_it,
    only_stripe_signed_events_of_our_mode_move_money,
);
