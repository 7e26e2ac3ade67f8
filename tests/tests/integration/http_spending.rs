//! Spending and reading through the real router (tower `oneshot`, no socket): the catalog,
//! provisioning, clients and bulk, analytics, and the idempotency keys of every route.

use ally_tests::assert_problem;
use serde_json::{Value, json};

use super::http::{api, webhook_body};

#[tokio::test]
async fn the_catalog_prices_by_tier_and_a_purchase_replays_by_its_key() {
    let api = api();
    let (token, _) = api.partner("p", "gold", 2_000).await;
    let products = api.call("GET", "/products", Some(&token), None).await;
    let basic = products.body["items"].as_array().unwrap().iter().find(|p| p["id"] == "license-basic").unwrap().clone();
    assert_eq!(
        basic,
        json!({"id": "license-basic", "name": "Basic license", "base_price": 1_000, "price": 850, "allowed": true})
    );

    let bought = api.provision(&token, "buy-1", json!({"product": "license-basic"})).await;
    assert_eq!(bought.status, 200, "{bought:?}");
    assert_eq!((bought.body["cost"].as_i64(), bought.body["balance"].as_i64()), (Some(850), Some(1_150)));
    assert_eq!(api.provision(&token, "buy-1", json!({"product": "license-basic"})).await.body, bought.body);
    assert_problem(&api.provision(&token, "buy-1", json!({"cost": 5})).await, 409, "idempotency_conflict", "");
}

#[tokio::test]
async fn a_provisioning_refused_for_its_request_changes_nothing() {
    let api = api();
    let (token, _) = api.partner("p", "gold", 1_150).await;
    let before = api.holdings(&token).await;
    assert_problem(&api.provision(&token, "big", json!({"cost": 2_000})).await, 402, "insufficient_credits", "");
    assert_problem(&api.provision(&token, "x", json!({"cost": 1, "colour": 1})).await, 422, "validation_failed", "");
    assert_problem(
        &api.call("POST", "/provision", Some(&token), Some(json!({"cost": 1}))).await,
        400,
        "idempotency_key_required",
        "",
    );
    assert_problem(
        &api.provision(&token, "c", json!({"cost": 1, "client_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"})).await,
        404,
        "not_found",
        "",
    );
    assert_eq!(api.holdings(&token).await, before);
}

#[tokio::test]
async fn tier_hold_and_suspension_each_refuse_provisioning_and_move_nothing() {
    let api = api();
    let (token, refid) = api.partner("p", "gold", 1_150).await;
    let admin = api.token("admin", true);
    let before = api.holdings(&token).await;
    let dedicated = json!({"product": "server-dedicated"});
    for (change, refusal) in [
        (json!({"tier": "standard"}), "tier_not_allowed"),
        (json!({"hold_provisioning": true}), "provisioning_on_hold"),
        (json!({"status": "suspended"}), "reseller_inactive"),
    ] {
        api.call("PATCH", &format!("/resellers/{refid}"), Some(&admin), Some(change)).await;
        assert_problem(&api.provision(&token, "ded", dedicated.clone()).await, 403, refusal, "");
    }
    let after = api.holdings(&token).await;
    assert_eq!(
        (after["me"]["balance"].clone(), after["ledger"].clone()),
        (before["me"]["balance"].clone(), before["ledger"].clone())
    );
}

/// Partner `a` (gold, 9,000) with five clients, `A0` to `A4`, and partner `b` (standard,
/// 1,000) with none: their tokens and `a`'s client ids, oldest first.
async fn two_partners(api: &super::http::Api) -> (String, String, Vec<String>) {
    let (a, _) = api.partner("a", "gold", 9_000).await;
    let (b, _) = api.partner("b", "standard", 1_000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let client = json!({"name": format!("A{i}"), "email": format!("a{i}@x.example")});
        let c = api.call("POST", "/clients", Some(&a), Some(client)).await;
        assert_eq!(c.status, 201, "{c:?}");
        ids.push(c.body["id"].as_str().unwrap().to_string());
    }
    (a, b, ids)
}

#[tokio::test]
async fn a_client_is_validated_and_kept_from_other_partners() {
    let api = api();
    let (a, b, ids) = two_partners(&api).await;
    assert_problem(
        &api.call("POST", "/clients", Some(&a), Some(json!({"name": "A", "email": "nope"}))).await,
        422,
        "validation_failed",
        "",
    );
    assert_problem(
        &api.call("POST", "/clients", Some(&a), Some(json!({"name": "A", "owner_id": "b"}))).await,
        422,
        "validation_failed",
        "",
    );
    assert_eq!(api.call("GET", &format!("/clients/{}", ids[0]), Some(&a), None).await.body["name"], "A0");
    assert_problem(&api.call("GET", &format!("/clients/{}", ids[0]), Some(&b), None).await, 404, "not_found", "");
}

#[tokio::test]
async fn client_pages_and_their_cursors_belong_to_one_list_of_one_owner() {
    let api = api();
    let (a, b, _) = two_partners(&api).await;
    let page1 = api.call("GET", "/clients?limit=2", Some(&a), None).await;
    let names: Vec<_> = page1.body["items"].as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, vec![json!("A4"), json!("A3")]);
    let cursor = page1.body["next_cursor"].as_str().unwrap().to_string();
    let page2 = api.call("GET", &format!("/clients?limit=2&cursor={cursor}"), Some(&a), None).await;
    assert_eq!(page2.body["items"][0]["name"], "A2");
    let page3 = api
        .call(
            "GET",
            &format!("/clients?limit=2&cursor={}", page2.body["next_cursor"].as_str().unwrap()),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(page3.body["items"].as_array().unwrap().len(), 1);
    assert!(page3.body.get("next_cursor").is_none(), "no cursor at the end");
    assert_problem(
        &api.call("GET", &format!("/clients?cursor={cursor}"), Some(&b), None).await,
        422,
        "validation_failed",
        "",
    );
    assert_problem(
        &api.call("GET", &format!("/resellers/me/transactions?cursor={cursor}"), Some(&a), None).await,
        422,
        "validation_failed",
        "",
    );
    for limit in ["0", "101", "ten"] {
        assert_problem(
            &api.call("GET", &format!("/clients?limit={limit}"), Some(&a), None).await,
            422,
            "validation_failed",
            "",
        );
    }
    let b_clients = api.call("GET", "/clients", Some(&b), None).await;
    assert_eq!(b_clients.body["items"], json!([]));
}

#[tokio::test]
async fn a_bulk_onboarding_charges_once_or_not_at_all() {
    let api = api();
    let (a, _, _) = two_partners(&api).await;
    // Bulk: 20 at 588 (500 each at gold) is 10,000 > 9,000: nothing written.
    let before = api.holdings(&a).await;
    let twenty: Vec<_> = (0..20).map(|i| json!({"name": format!("Bulk {i}")})).collect();
    assert_problem(
        &api.bulk(&a, "bulk-20", json!({"clients": twenty, "cost": 588})).await,
        402,
        "insufficient_credits",
        "",
    );
    assert_problem(&api.bulk(&a, "bulk-0", json!({"clients": [], "cost": 5})).await, 422, "validation_failed", "");
    assert_eq!(api.holdings(&a).await, before);
    let three: Vec<_> = (0..3).map(|i| json!({"name": format!("Bulk {i}")})).collect();
    let bulk = api.bulk(&a, "bulk-3", json!({"clients": three, "cost": 500})).await;
    assert_eq!(bulk.status, 200, "{bulk:?}");
    assert_eq!((bulk.body["total"].as_i64(), bulk.body["balance"].as_i64()), (Some(1_275), Some(7_725)));
    assert_eq!(api.bulk(&a, "bulk-3", json!({"clients": three, "cost": 500})).await.body, bulk.body);
    let stats = api.call("GET", "/resellers/me/stats", Some(&a), None).await.body;
    assert_eq!(
        stats,
        json!({"balance": 7_725, "held": 0, "available": 7_725, "debt": 0, "expiring_30d": 0, "tier": "gold", "clients": 8, "credits_added": 9_000, "credits_spent": 1_275, "provisions": 3,
            "runway_days": 181}),
        "the runway: 7,725 available at 1,275 spent in 30 days lasts 181 days"
    );
    let ledger = api.call("GET", "/resellers/me/transactions?limit=1", Some(&a), None).await;
    assert_eq!(ledger.body["items"][0]["kind"], "debit");
    assert_eq!(ledger.body["items"][0]["balance_after"], 7_725);
    assert!(ledger.body["next_cursor"].is_string());
}

/// A small network: `a` (gold, 5,000, three clients), `b` (platinum, 1,000, one client and a
/// spend of 100), `c` (standard, nothing); `a`'s and `b`'s tokens, `a`'s refid, an admin's
/// token.
async fn small_network(api: &super::http::Api) -> (String, String, String, String) {
    let (a, a_refid) = api.partner("a", "gold", 5_000).await;
    let (b, _) = api.partner("b", "platinum", 1_000).await;
    api.partner("c", "standard", 0).await;
    for i in 0..3 {
        api.call("POST", "/clients", Some(&a), Some(json!({"name": format!("A{i}")}))).await;
    }
    api.call("POST", "/clients", Some(&b), Some(json!({"name": "B0"}))).await;
    api.provision(&b, "b-buy", json!({"cost": 100})).await;
    (a, a_refid, b, api.token("admin", true))
}

/// The days of everything credited since `started`: its day, or across midnight it and today.
fn days_since(started: chrono::DateTime<chrono::Utc>) -> std::collections::BTreeSet<chrono::NaiveDate> {
    std::collections::BTreeSet::from([started.date_naive(), chrono::Utc::now().date_naive()])
}

/// The sum of a trend's figures on `days`, labelled by `format`.
fn sum_on(body: &Value, days: &std::collections::BTreeSet<chrono::NaiveDate>, format: &str) -> i64 {
    let labels: std::collections::BTreeSet<String> = days.iter().map(|d| d.format(format).to_string()).collect();
    labels.iter().map(|label| body[label].as_i64().unwrap_or(0)).sum()
}

#[tokio::test]
async fn an_admin_reads_the_networks_figures_as_of_its_newest_change() {
    let started = chrono::Utc::now();
    let api = api();
    let (_, a_refid, _, admin) = small_network(&api).await;
    let top = api.call("GET", "/analytics/top-resellers?limit=5", Some(&admin), None).await;
    assert_eq!(top.status, 200, "{top:?}");
    let ranking: Vec<_> =
        top.body["items"].as_array().unwrap().iter().map(|r| (r["refid"].clone(), r["acquisitions"].clone())).collect();
    assert_eq!(ranking[0], (json!(a_refid), json!(3)));
    assert_eq!(ranking.len(), 2, "a reseller without activity is not ranked");
    assert_eq!(top.body["items"][1]["credits_spent"], 70);
    let by_spend = api.call("GET", "/analytics/top-resellers?limit=5&by=spent", Some(&admin), None).await;
    let first = &by_spend.body["items"][0];
    assert_eq!((first["credits_spent"].as_i64(), first["acquisitions"].as_i64()), (Some(70), Some(1)), "{by_spend:?}");
    let tiers = api.call("GET", "/analytics/tier-snapshot", Some(&admin), None).await.body;
    assert_eq!((&tiers["platinum"], &tiers["gold"], &tiers["standard"]), (&json!(1), &json!(1), &json!(1)));
    let total = api.call("GET", "/analytics/total-credits", Some(&admin), None).await.body;
    assert_eq!(total["total"], 5_930);
    // The figures say how recent they are: the newest change counted, made by this test.
    for figure in [&tiers, &total] {
        let as_of: chrono::DateTime<chrono::Utc> = figure["as_of"].as_str().expect("as_of").parse().unwrap();
        assert!(started <= as_of && as_of <= chrono::Utc::now(), "{figure}");
    }

    let network = api.call("GET", "/analytics/credit-trends?interval=monthly", Some(&admin), None).await;
    assert_eq!(network.status, 200, "{network:?}");
    assert_eq!(sum_on(&network.body, &days_since(started), "%Y-%m"), 6_000);
}

#[tokio::test]
async fn a_partner_reads_its_own_trends_and_no_figure_of_the_network() {
    let started = chrono::Utc::now();
    let api = api();
    let (a, a_refid, b, _) = small_network(&api).await;
    let own =
        api.call("GET", &format!("/analytics/credit-trends?interval=daily&reseller={a_refid}"), Some(&a), None).await;
    assert_eq!(sum_on(&own.body, &days_since(started), "%Y-%m-%d"), 5_000);
    assert_eq!(own.body.as_object().unwrap().len(), 30, "every day of the default 30 is present");

    assert_problem(
        &api.call("GET", &format!("/analytics/credit-trends?reseller={a_refid}"), Some(&b), None).await,
        404,
        "not_found",
        "",
    );
    assert_problem(&api.call("GET", "/analytics/credit-trends", Some(&b), None).await, 403, "forbidden", "");
    for path in ["/analytics/top-resellers", "/analytics/tier-snapshot", "/analytics/total-credits"] {
        assert_problem(&api.call("GET", path, Some(&a), None).await, 403, "forbidden", "");
        assert_problem(&api.call("GET", path, None, None).await, 401, "unauthorized", "");
    }
}

#[tokio::test]
async fn analytics_refuse_a_bad_period_limit_or_interval() {
    let api = api();
    let admin = api.token("admin", true);
    for bad in [
        "/analytics/top-resellers?start=2026-02-01&end=2026-01-01",
        "/analytics/top-resellers?start=2010-01-01&end=2026-01-01",
        "/analytics/top-resellers?start=yesterday",
        "/analytics/top-resellers?limit=0",
        "/analytics/top-resellers?by=revenue",
        "/analytics/credit-trends?interval=hourly",
        "/analytics/credit-trends?interval=daily&start=2024-01-01&end=2026-01-01",
    ] {
        assert_problem(&api.call("GET", bad, Some(&admin), None).await, 422, "validation_failed", "");
    }
}

/// Every caller key of 1 to 128 printable characters is taken on every route that takes
/// one, whatever it looks like, and a partner's key never lands on a key the system
/// derives: the payment webhook and the referral reward still credit once each.
#[tokio::test]
async fn caller_keys_of_any_printable_shape_and_the_system_keys_never_meet() {
    let api = api();
    let admin = api.token("admin", true);
    let (token, refid) = api.partner("p", "standard", 100_000).await;
    // A partner's keys are one space over its own wallet: its bulks use another wallet.
    let (bulk_token, _) = api.partner("b", "standard", 100_000).await;
    let longest = "k".repeat(128);
    let shapes = ["~", " padded key ", "admin:topup-1", "caller:x", "payment:evt_ns", "referral:ref-ns", &longest];
    for (i, key) in shapes.iter().enumerate() {
        let credit = api.add_credits(&admin, &refid, key, json!({"amount": 1})).await;
        assert_eq!(credit.status, 200, "admin key {key:?}: {credit:?}");
        let provision = api.provision(&token, key, json!({"cost": 10})).await;
        assert_eq!(provision.status, 200, "partner key {key:?}: {provision:?}");
        let clients = json!({"clients": [{"name": format!("Client {i}")}], "cost": 10});
        let bulk = api.bulk(&bulk_token, key, clients).await;
        assert_eq!(bulk.status, 200, "bulk key {key:?}: {bulk:?}");
        // The same key again replays; it does not collide with the other route's use of it.
        assert_eq!(api.provision(&token, key, json!({"cost": 10})).await.body, provision.body);
    }
    // The partner used `payment:evt_ns` and `referral:ref-ns` as its own keys; the webhook
    // and the reward for those ids still credit, once.
    let before = api.call("GET", "/resellers/me", Some(&token), None).await.body["balance"].as_i64().unwrap();
    let body = webhook_body("evt_ns", "payment.succeeded", &refid, 300);
    let signature = ally::http::webhook::sign(&api.webhook_secret, chrono::Utc::now().timestamp(), &body);
    for _ in 0..2 {
        let paid = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], body.clone()).await;
        assert_eq!((paid.status, paid.body["balance"].as_i64()), (200, Some(before + 300)), "{paid:?}");
    }
    api.partner("newcomer", "standard", 0).await;
    let referral = ally::events::ReferralCompleted {
        referral_id: "ref-ns".into(),
        referrer_user_id: "p".into(),
        referred_user_id: "newcomer".into(),
        tag: "become-partner".into(),
    };
    for _ in 0..2 {
        ally::events::reactions::reward_referral(&api.app.ally, &referral, chrono::Utc::now()).await.unwrap();
    }
    let after = api.call("GET", "/resellers/me", Some(&token), None).await.body["balance"].as_i64().unwrap();
    assert_eq!(after, before + 300 + api.app.ally.config().referral_reward);
    for bad in ["", &"k".repeat(129), "tab\there"] {
        let refused = api.provision(&token, bad, json!({"cost": 10})).await;
        assert!(matches!(refused.status, 400 | 422), "{bad:?}: {refused:?}");
    }
}

/// A bulk whose fill fails after the charge answers 202 with where to read its state, never
/// a 500 that invites a retry with a new key; the sweeper finishes it and the state says so.
#[tokio::test]
async fn a_bulk_charged_but_not_filled_is_accepted_and_finished_by_the_sweeper() {
    use ally_tests::CrashingFill;
    let store = ally::store::memory::MemoryStore::new().crashing_fill().await;
    let api = ally_tests::TestApi::new(store, ally::Config::default());
    let (token, _) = api.partner("p", "standard", 100_000).await;
    let clients: Vec<Value> = (0..60).map(|i| json!({"name": format!("Client {i}")})).collect();
    let accepted = api.bulk(&token, "big/bulk 1", json!({"clients": clients, "cost": 100})).await;
    assert_eq!((accepted.status, accepted.body["state"].as_str()), (202, Some("filling")), "{accepted:?}");
    assert_eq!(accepted.body["clients"].as_array().unwrap().len(), 60, "the ids it will have");
    let location = accepted.location.clone().expect("a Location");
    assert_eq!(location, "/clients/bulk/big%2Fbulk%201");
    let filling = api.call("GET", &location, Some(&token), None).await;
    assert_eq!(
        (filling.status, filling.body["state"].as_str(), filling.body["total"].as_i64()),
        (200, Some("filling"), Some(6_000))
    );
    let (other, _) = api.partner("q", "standard", 0).await;
    assert_problem(&api.call("GET", &location, Some(&other), None).await, 404, "not_found", "another partner's bulk");
    assert_problem(
        &api.call("GET", "/clients/bulk/nothing", Some(&token), None).await,
        404,
        "not_found",
        "no such bulk",
    );

    assert_eq!(api.app.ally.finish_pending_bulks(chrono::Duration::zero()).await.unwrap(), 1);
    let done = api.call("GET", &location, Some(&token), None).await;
    assert_eq!((done.status, done.body["state"].as_str()), (200, Some("done")));
    let me = api.call("GET", "/resellers/me/stats", Some(&token), None).await;
    assert_eq!((me.body["clients"].as_i64(), me.body["balance"].as_i64()), (Some(60), Some(94_000)));
    let listed = api.call("GET", "/clients?limit=100", Some(&token), None).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 60);
    let replay = api.bulk(&token, "big/bulk 1", json!({"clients": clients, "cost": 100})).await;
    assert_eq!(
        (replay.status, replay.body["state"].as_str(), replay.body["balance"].as_i64()),
        (200, Some("done"), Some(94_000))
    );
}
