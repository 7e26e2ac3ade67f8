//! Every route through the real router (tower `oneshot`, no socket): happy paths, each
//! error code, hostile bodies, pagination, idempotency and isolation. Each failing request
//! is shown to have changed nothing.

use ally::Config;
use ally::store::memory::MemoryStore;
use ally_tests::{Answer, TestApi};
use serde_json::{Value, json};

type Api = TestApi<MemoryStore>;

fn api() -> Api {
    TestApi::new(MemoryStore::new(), Config::default())
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.content_type, "application/problem+json", "{answer:?}");
    assert_eq!(answer.code(), code, "{answer:?}");
    for field in ["type", "title", "detail"] {
        assert!(answer.body[field].is_string(), "problem lacks {field}: {answer:?}");
    }
    assert_eq!(answer.body["status"], status);
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let api = api();
    let health = api.call("GET", "/health", None, None).await;
    assert_eq!((health.status, health.body.clone()), (200, json!({"status": "ok"})));
    let doc = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert_problem(&api.call("GET", "/nowhere", None, None).await, 404, "not_found");
}

#[tokio::test]
async fn identity_comes_from_a_verified_token_only() {
    let api = api();
    assert_problem(&api.call("GET", "/resellers/me", None, None).await, 401, "unauthorized");
    assert_problem(&api.call("GET", "/resellers/me", Some("not.a.jwt"), None).await, 401, "unauthorized");
    let forged = ally::http::identity::mint_hs256(
        &ally::http::identity::Claims { sub: "x".into(), email: None, groups: vec!["admin".into()], exp: i64::MAX },
        b"another-secret",
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&forged), None).await, 401, "unauthorized");
    let expired = ally::http::identity::mint_hs256(
        &ally::http::identity::Claims { sub: "x".into(), email: None, groups: vec![], exp: 1 },
        &api.jwt_secret,
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&expired), None).await, 401, "unauthorized");

    // A body field cannot make anyone else: user_id of someone else needs the admin role.
    let (token, refid) = api.partner("p1", "standard", 0).await;
    let other = api
        .call("POST", "/resellers", Some(&api.token("p2", false)), Some(json!({"company": "X", "user_id": "p1"})))
        .await;
    assert_problem(&other, 403, "forbidden");
    // Partners are refused every admin route.
    assert_problem(&api.call("GET", &format!("/resellers/{refid}"), Some(&token), None).await, 403, "forbidden");
    assert_problem(&api.call("GET", "/resellers?user_id=p1", Some(&token), None).await, 403, "forbidden");
    assert_problem(
        &api.call("PATCH", &format!("/resellers/{refid}"), Some(&token), Some(json!({"tier": "platinum"}))).await,
        403,
        "forbidden",
    );
    let credit =
        api.call_with_key("POST", &format!("/resellers/{refid}/credits"), &token, "k", json!({"amount": 100})).await;
    assert_problem(&credit, 403, "forbidden");
    assert_eq!(api.call("GET", "/resellers/me", Some(&token), None).await.body["balance"], 0);
}

#[tokio::test]
async fn onboarding_and_profile_routes() {
    let api = api();
    let token = api.token("self", false);
    assert_problem(&api.call("GET", "/resellers/me", Some(&token), None).await, 404, "not_found");
    assert_problem(&api.call("GET", "/resellers/me/transactions", Some(&token), None).await, 404, "not_found");
    assert_problem(&api.call("GET", "/resellers/me/stats", Some(&token), None).await, 404, "not_found");

    for bad in [
        api.send("POST", "/resellers", Some(&token), &[], b"{\"company\":".to_vec()).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "colour": "red"}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": ""}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": 5}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "tier": "diamond"}))).await,
    ] {
        assert_problem(&bad, 422, "validation_failed");
    }
    let huge = json!({"company": "x".repeat(300 * 1024)});
    assert_problem(&api.call("POST", "/resellers", Some(&token), Some(huge)).await, 413, "payload_too_large");
    assert_problem(
        &api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "tier": "gold"}))).await,
        403,
        "forbidden",
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&token), None).await, 404, "not_found");

    let created = api
        .call(
            "POST",
            "/resellers",
            Some(&token),
            Some(json!({"company": "Self Co", "metadata": {"logo_url": "https://l/x.png"}})),
        )
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!((created.body["tier"].as_str(), created.body["balance"].as_i64()), (Some("standard"), Some(0)));
    assert_eq!(created.body["email"], "self@partners.example");
    assert_problem(
        &api.call("POST", "/resellers", Some(&token), Some(json!({"company": "Again"}))).await,
        409,
        "already_exists",
    );

    let me = api.call("GET", "/resellers/me", Some(&token), None).await;
    assert_eq!(me.body, created.body);
    let patched = api
        .call(
            "PATCH",
            "/resellers/me/metadata",
            Some(&token),
            Some(json!({"primary_color": "#112233", "logo_url": null})),
        )
        .await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["metadata"], json!({"primary_color": "#112233"}));
    let before = api.holdings(&token).await;
    let reserved =
        api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(json!({"hold_provisioning": "false"}))).await;
    assert_problem(&reserved, 422, "validation_failed");
    assert_problem(
        &api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(json!(["x"]))).await,
        422,
        "validation_failed",
    );
    assert_eq!(api.holdings(&token).await, before);

    let admin = api.token("admin", true);
    let refid = created.body["refid"].as_str().unwrap();
    let by_user = api.call("GET", "/resellers?user_id=self", Some(&admin), None).await;
    assert_eq!(by_user.body["refid"], refid);
    assert_problem(&api.call("GET", "/resellers", Some(&admin), None).await, 422, "validation_failed");
    assert_problem(&api.call("GET", "/resellers?user_id=ghost", Some(&admin), None).await, 404, "not_found");
    assert_eq!(api.call("GET", &format!("/resellers/{refid}"), Some(&admin), None).await.body["user_id"], "self");
    assert_problem(&api.call("GET", "/resellers/ZZZZZZZZZZ", Some(&admin), None).await, 404, "not_found");
    let changed = api
        .call(
            "PATCH",
            &format!("/resellers/{refid}"),
            Some(&admin),
            Some(json!({"tier": "platinum", "hold_provisioning": true})),
        )
        .await;
    assert_eq!(
        (changed.body["tier"].as_str(), changed.body["hold_provisioning"].as_bool()),
        (Some("platinum"), Some(true))
    );
    assert_problem(
        &api.call("PATCH", &format!("/resellers/{refid}"), Some(&admin), Some(json!({"status": "gone"}))).await,
        422,
        "validation_failed",
    );
    assert_eq!(api.call("GET", "/resellers/me/stats", Some(&token), None).await.body["tier"], "platinum");
}

#[tokio::test]
async fn admin_credits_are_idempotent() {
    let api = api();
    let (token, refid) = api.partner("p", "gold", 0).await;
    let admin = api.token("admin", true);
    let path = format!("/resellers/{refid}/credits");
    let first =
        api.call_with_key("POST", &path, &admin, "topup-1", json!({"amount": 5_000, "reason": "invoice 7"})).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["balance"], 5_000);
    assert_eq!(first.body["transaction"]["kind"], "credit");
    let again =
        api.call_with_key("POST", &path, &admin, "topup-1", json!({"amount": 5_000, "reason": "invoice 7"})).await;
    assert_eq!(again.body, first.body, "a retry replays the first answer");
    let before = api.holdings(&token).await;
    assert_problem(
        &api.call_with_key("POST", &path, &admin, "topup-1", json!({"amount": 6_000, "reason": "invoice 7"})).await,
        409,
        "idempotency_conflict",
    );
    assert_problem(
        &api.call("POST", &path, Some(&admin), Some(json!({"amount": 10}))).await,
        400,
        "idempotency_key_required",
    );
    for amount in [json!(0), json!(-5), json!(1.5), json!("10"), json!(i64::MAX)] {
        assert_problem(
            &api.call_with_key("POST", &path, &admin, &format!("bad-{amount}"), json!({"amount": amount})).await,
            422,
            "validation_failed",
        );
    }
    let long_key = "k".repeat(129);
    assert_problem(
        &api.call_with_key("POST", &path, &admin, &long_key, json!({"amount": 1})).await,
        422,
        "validation_failed",
    );
    assert_problem(
        &api.call_with_key("POST", "/resellers/ZZZZZZZZZZ/credits", &admin, "k2", json!({"amount": 1})).await,
        404,
        "not_found",
    );
    assert_eq!(api.holdings(&token).await, before);
    assert_eq!(api.call("GET", "/resellers/me/stats", Some(&token), None).await.body["credits_added"], 5_000);
}

fn webhook_body(id: &str, kind: &str, refid: &str, amount_minor: i64) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"id": id, "type": kind, "reseller_refid": refid, "amount_minor": amount_minor, "currency": "USD"}),
    )
    .unwrap()
}

#[tokio::test]
async fn the_payment_webhook_is_signed_and_credits_once() {
    let api = api();
    let (token, refid) = api.partner("p", "standard", 0).await;
    let now = chrono::Utc::now().timestamp();
    let body = webhook_body("evt_1", "payment.succeeded", &refid, 2_500);
    let signature = ally::http::webhook::sign(&api.webhook_secret, now, &body);
    let first = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], body.clone()).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["balance"], 2_500, "100 credits per dollar: 2,500 cents buy 2,500 credits");
    let replay = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], body.clone()).await;
    assert_eq!(replay.body, first.body);

    let before = api.holdings(&token).await;
    let other = webhook_body("evt_2", "payment.succeeded", &refid, 100);
    let cases: Vec<(Vec<u8>, String, u16, &str)> = vec![
        (other.clone(), ally::http::webhook::sign(b"wrong", now, &other), 401, "invalid_signature"),
        (other.clone(), ally::http::webhook::sign(&api.webhook_secret, now - 301, &other), 401, "invalid_signature"),
        (other.clone(), ally::http::webhook::sign(&api.webhook_secret, now + 301, &other), 401, "invalid_signature"),
        (
            webhook_body("evt_2", "payment.succeeded", &refid, 100_000),
            ally::http::webhook::sign(&api.webhook_secret, now, &other),
            401,
            "invalid_signature",
        ),
        (other.clone(), String::new(), 401, "invalid_signature"),
    ];
    for (body, signature, status, code) in cases {
        let answer = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], body).await;
        assert_problem(&answer, status, code);
    }
    let refund = webhook_body("evt_3", "payment.refunded", &refid, 100);
    let signed = ally::http::webhook::sign(&api.webhook_secret, now, &refund);
    assert_problem(
        &api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], refund).await,
        422,
        "validation_failed",
    );
    let euros = serde_json::to_vec(&json!({"id": "evt_4", "type": "payment.succeeded", "reseller_refid": refid, "amount_minor": 100, "currency": "EUR"})).unwrap();
    let signed = ally::http::webhook::sign(&api.webhook_secret, now, &euros);
    assert_problem(
        &api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], euros).await,
        422,
        "validation_failed",
    );
    let unknown = webhook_body("evt_5", "payment.succeeded", "ZZZZZZZZZZ", 100);
    let signed = ally::http::webhook::sign(&api.webhook_secret, now, &unknown);
    assert_problem(
        &api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], unknown).await,
        404,
        "not_found",
    );
    assert_eq!(api.holdings(&token).await, before, "nothing moved");
}

#[tokio::test]
async fn products_and_provisioning() {
    let api = api();
    let (token, refid) = api.partner("p", "gold", 2_000).await;
    let admin = api.token("admin", true);
    let products = api.call("GET", "/products", Some(&token), None).await;
    let basic = products.body["items"].as_array().unwrap().iter().find(|p| p["id"] == "license-basic").unwrap().clone();
    assert_eq!(
        basic,
        json!({"id": "license-basic", "name": "Basic license", "base_price": 1_000, "price": 850, "allowed": true})
    );

    let bought = api.call_with_key("POST", "/provision", &token, "buy-1", json!({"product": "license-basic"})).await;
    assert_eq!(bought.status, 200, "{bought:?}");
    assert_eq!((bought.body["cost"].as_i64(), bought.body["balance"].as_i64()), (Some(850), Some(1_150)));
    assert_eq!(
        api.call_with_key("POST", "/provision", &token, "buy-1", json!({"product": "license-basic"})).await.body,
        bought.body
    );
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "buy-1", json!({"cost": 5})).await,
        409,
        "idempotency_conflict",
    );

    let before = api.holdings(&token).await;
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "big", json!({"cost": 2_000})).await,
        402,
        "insufficient_credits",
    );
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "x", json!({"cost": 1, "colour": 1})).await,
        422,
        "validation_failed",
    );
    assert_problem(
        &api.call("POST", "/provision", Some(&token), Some(json!({"cost": 1}))).await,
        400,
        "idempotency_key_required",
    );
    assert_problem(
        &api.call_with_key(
            "POST",
            "/provision",
            &token,
            "c",
            json!({"cost": 1, "client_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_eq!(api.holdings(&token).await, before);

    let patch = |body: Value| {
        let admin = admin.clone();
        let path = format!("/resellers/{refid}");
        let api = &api;
        async move { api.call("PATCH", &path, Some(&admin), Some(body)).await }
    };
    patch(json!({"tier": "standard"})).await;
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "ded", json!({"product": "server-dedicated"})).await,
        403,
        "tier_not_allowed",
    );
    patch(json!({"hold_provisioning": true})).await;
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "ded", json!({"product": "server-dedicated"})).await,
        403,
        "provisioning_on_hold",
    );
    patch(json!({"status": "suspended"})).await;
    assert_problem(
        &api.call_with_key("POST", "/provision", &token, "ded", json!({"product": "server-dedicated"})).await,
        403,
        "reseller_inactive",
    );
    let after = api.holdings(&token).await;
    assert_eq!(
        (after["me"]["balance"].clone(), after["ledger"].clone()),
        (before["me"]["balance"].clone(), before["ledger"].clone())
    );
}

#[tokio::test]
async fn clients_bulk_and_pagination_stay_with_their_owner() {
    let api = api();
    let (a, _) = api.partner("a", "gold", 9_000).await;
    let (b, _) = api.partner("b", "standard", 1_000).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let c = api
            .call(
                "POST",
                "/clients",
                Some(&a),
                Some(json!({"name": format!("A{i}"), "email": format!("a{i}@x.example")})),
            )
            .await;
        assert_eq!(c.status, 201, "{c:?}");
        ids.push(c.body["id"].as_str().unwrap().to_string());
    }
    assert_problem(
        &api.call("POST", "/clients", Some(&a), Some(json!({"name": "A", "email": "nope"}))).await,
        422,
        "validation_failed",
    );
    assert_problem(
        &api.call("POST", "/clients", Some(&a), Some(json!({"name": "A", "owner_id": "b"}))).await,
        422,
        "validation_failed",
    );
    assert_eq!(api.call("GET", &format!("/clients/{}", ids[0]), Some(&a), None).await.body["name"], "A0");
    assert_problem(&api.call("GET", &format!("/clients/{}", ids[0]), Some(&b), None).await, 404, "not_found");

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
    );
    assert_problem(
        &api.call("GET", &format!("/resellers/me/transactions?cursor={cursor}"), Some(&a), None).await,
        422,
        "validation_failed",
    );
    for limit in ["0", "101", "ten"] {
        assert_problem(
            &api.call("GET", &format!("/clients?limit={limit}"), Some(&a), None).await,
            422,
            "validation_failed",
        );
    }
    let b_clients = api.call("GET", "/clients", Some(&b), None).await;
    assert_eq!(b_clients.body["items"], json!([]));

    // Bulk: 20 at 588 (500 each at gold) is 10,000 > 9,000: nothing written.
    let before = api.holdings(&a).await;
    let twenty: Vec<_> = (0..20).map(|i| json!({"name": format!("Bulk {i}")})).collect();
    assert_problem(
        &api.call_with_key("POST", "/clients/bulk", &a, "bulk-20", json!({"clients": twenty, "cost": 588})).await,
        402,
        "insufficient_credits",
    );
    assert_problem(
        &api.call_with_key("POST", "/clients/bulk", &a, "bulk-0", json!({"clients": [], "cost": 5})).await,
        422,
        "validation_failed",
    );
    assert_eq!(api.holdings(&a).await, before);
    let three: Vec<_> = (0..3).map(|i| json!({"name": format!("Bulk {i}")})).collect();
    let bulk = api.call_with_key("POST", "/clients/bulk", &a, "bulk-3", json!({"clients": three, "cost": 500})).await;
    assert_eq!(bulk.status, 200, "{bulk:?}");
    assert_eq!((bulk.body["total"].as_i64(), bulk.body["balance"].as_i64()), (Some(1_275), Some(7_725)));
    assert_eq!(
        api.call_with_key("POST", "/clients/bulk", &a, "bulk-3", json!({"clients": three, "cost": 500})).await.body,
        bulk.body
    );
    let stats = api.call("GET", "/resellers/me/stats", Some(&a), None).await.body;
    assert_eq!(
        stats,
        json!({"balance": 7_725, "tier": "gold", "clients": 8, "credits_added": 9_000, "credits_spent": 1_275, "provisions": 3})
    );
    let ledger = api.call("GET", "/resellers/me/transactions?limit=1", Some(&a), None).await;
    assert_eq!(ledger.body["items"][0]["kind"], "debit");
    assert_eq!(ledger.body["items"][0]["balance_after"], 7_725);
    assert!(ledger.body["next_cursor"].is_string());
}

#[tokio::test]
async fn analytics_routes_are_for_admins_and_own_trends() {
    let api = api();
    let (a, a_refid) = api.partner("a", "gold", 5_000).await;
    let (b, _) = api.partner("b", "platinum", 1_000).await;
    api.partner("c", "standard", 0).await;
    let admin = api.token("admin", true);
    for i in 0..3 {
        api.call("POST", "/clients", Some(&a), Some(json!({"name": format!("A{i}")}))).await;
    }
    api.call("POST", "/clients", Some(&b), Some(json!({"name": "B0"}))).await;
    api.call_with_key("POST", "/provision", &b, "b-buy", json!({"cost": 100})).await;

    let top = api.call("GET", "/analytics/top-resellers?limit=5", Some(&admin), None).await;
    assert_eq!(top.status, 200, "{top:?}");
    let ranking: Vec<_> =
        top.body["items"].as_array().unwrap().iter().map(|r| (r["refid"].clone(), r["acquisitions"].clone())).collect();
    assert_eq!(ranking[0], (json!(a_refid), json!(3)));
    assert_eq!(ranking.len(), 2, "a reseller without activity is not ranked");
    assert_eq!(top.body["items"][1]["credits_spent"], 70);
    assert_eq!(
        api.call("GET", "/analytics/tier-snapshot", Some(&admin), None).await.body,
        json!({"platinum": 1, "gold": 1, "standard": 1})
    );
    assert_eq!(api.call("GET", "/analytics/total-credits", Some(&admin), None).await.body, json!({"total": 5_930}));

    let today = chrono::Utc::now().date_naive();
    let month = today.format("%Y-%m").to_string();
    let network = api.call("GET", "/analytics/credit-trends?interval=monthly", Some(&admin), None).await;
    assert_eq!(network.status, 200, "{network:?}");
    assert_eq!(network.body[&month], 6_000);
    let own =
        api.call("GET", &format!("/analytics/credit-trends?interval=daily&reseller={a_refid}"), Some(&a), None).await;
    assert_eq!(own.body[today.format("%Y-%m-%d").to_string()], 5_000);
    assert_eq!(own.body.as_object().unwrap().len(), 30, "every day of the default 30 is present");

    assert_problem(
        &api.call("GET", &format!("/analytics/credit-trends?reseller={a_refid}"), Some(&b), None).await,
        404,
        "not_found",
    );
    assert_problem(&api.call("GET", "/analytics/credit-trends", Some(&b), None).await, 403, "forbidden");
    for path in ["/analytics/top-resellers", "/analytics/tier-snapshot", "/analytics/total-credits"] {
        assert_problem(&api.call("GET", path, Some(&a), None).await, 403, "forbidden");
        assert_problem(&api.call("GET", path, None, None).await, 401, "unauthorized");
    }
    for bad in [
        "/analytics/top-resellers?start=2026-02-01&end=2026-01-01",
        "/analytics/top-resellers?start=2020-01-01&end=2026-01-01",
        "/analytics/top-resellers?start=yesterday",
        "/analytics/top-resellers?limit=0",
        "/analytics/credit-trends?interval=hourly",
        "/analytics/credit-trends?interval=daily&start=2024-01-01&end=2026-01-01",
    ] {
        assert_problem(&api.call("GET", bad, Some(&admin), None).await, 422, "validation_failed");
    }
}
