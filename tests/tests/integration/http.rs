//! Every route through the real router (tower `oneshot`, no socket): happy paths, each
//! error code, hostile bodies, pagination, idempotency and isolation. Each failing request
//! is shown to have changed nothing.

use ally::Config;
use ally::store::Waiting;
use ally::store::memory::MemoryStore;
use ally_tests::{Answer, TestApi, assert_problem};
use serde_json::json;

pub(super) type Api = TestApi<MemoryStore>;

pub(super) fn api() -> Api {
    TestApi::new(MemoryStore::new(), Config::default())
}

#[tokio::test]
async fn health_and_openapi_need_no_token() {
    let api = api();
    let health = api.call("GET", "/health", None, None).await;
    assert_eq!((health.status, health.body.clone()), (200, json!({"status": "ok"})));
    let doc = api.call("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert_problem(&api.call("GET", "/nowhere", None, None).await, 404, "not_found", "");
}

#[tokio::test]
async fn identity_comes_from_a_verified_token_only() {
    let api = api();
    assert_problem(&api.call("GET", "/resellers/me", None, None).await, 401, "unauthorized", "");
    assert_problem(&api.call("GET", "/resellers/me", Some("not.a.jwt"), None).await, 401, "unauthorized", "");
    let forged = ally::http::identity::mint_hs256(
        &ally::http::identity::Claims {
            sub: "x".into(),
            email: None,
            email_verified: false,
            groups: vec!["admin".into()],
            exp: i64::MAX,
        },
        b"another-secret",
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&forged), None).await, 401, "unauthorized", "");
    let expired = ally::http::identity::mint_hs256(
        &ally::http::identity::Claims { sub: "x".into(), email: None, email_verified: false, groups: vec![], exp: 1 },
        &api.jwt_secret,
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&expired), None).await, 401, "unauthorized", "");

    // A body field cannot make anyone else: user_id of someone else needs the admin role.
    let (token, refid) = api.partner("p1", "standard", 0).await;
    let other = api
        .call("POST", "/resellers", Some(&api.token("p2", false)), Some(json!({"company": "X", "user_id": "p1"})))
        .await;
    assert_problem(&other, 403, "forbidden", "");
    // Partners are refused every admin route.
    assert_problem(&api.call("GET", &format!("/resellers/{refid}"), Some(&token), None).await, 403, "forbidden", "");
    assert_problem(&api.call("GET", "/resellers?user_id=p1", Some(&token), None).await, 403, "forbidden", "");
    assert_problem(
        &api.call("PATCH", &format!("/resellers/{refid}"), Some(&token), Some(json!({"tier": "platinum"}))).await,
        403,
        "forbidden",
        "",
    );
    let credit = api.add_credits(&token, &refid, "k", json!({"amount": 100})).await;
    assert_problem(&credit, 403, "forbidden", "");
    assert_eq!(api.call("GET", "/resellers/me", Some(&token), None).await.body["balance"], 0);
}

#[tokio::test]
async fn a_user_without_an_account_is_404_and_a_bad_onboarding_creates_none() {
    let api = api();
    let token = api.token("self", false);
    assert_problem(&api.call("GET", "/resellers/me", Some(&token), None).await, 404, "not_found", "");
    assert_problem(&api.call("GET", "/resellers/me/transactions", Some(&token), None).await, 404, "not_found", "");
    assert_problem(&api.call("GET", "/resellers/me/stats", Some(&token), None).await, 404, "not_found", "");

    for bad in [
        api.send("POST", "/resellers", Some(&token), &[], b"{\"company\":".to_vec()).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "colour": "red"}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": ""}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": 5}))).await,
        api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "tier": "diamond"}))).await,
    ] {
        assert_problem(&bad, 422, "validation_failed", "");
    }
    let huge = json!({"company": "x".repeat(300 * 1024)});
    assert_problem(&api.call("POST", "/resellers", Some(&token), Some(huge)).await, 413, "payload_too_large", "");
    assert_problem(
        &api.call("POST", "/resellers", Some(&token), Some(json!({"company": "A", "tier": "gold"}))).await,
        403,
        "forbidden",
        "",
    );
    assert_problem(&api.call("GET", "/resellers/me", Some(&token), None).await, 404, "not_found", "");
}

/// A partner's token and the answer to its own onboarding.
async fn self_onboarded(api: &Api) -> (String, Answer) {
    let token = api.token("self", false);
    let body = json!({"company": "Self Co", "metadata": {"logo_url": "https://l/x.png"}});
    let created = api.call("POST", "/resellers", Some(&token), Some(body)).await;
    assert_eq!(created.status, 201, "{created:?}");
    (token, created)
}

#[tokio::test]
async fn a_partner_onboards_itself_once_and_reads_its_profile() {
    let api = api();
    let (token, created) = self_onboarded(&api).await;
    assert_eq!((created.body["tier"].as_str(), created.body["balance"].as_i64()), (Some("standard"), Some(0)));
    assert_eq!(created.body["email"], "self@partners.example");
    assert_problem(
        &api.call("POST", "/resellers", Some(&token), Some(json!({"company": "Again"}))).await,
        409,
        "already_exists",
        "",
    );

    let mut me = api.call("GET", "/resellers/me", Some(&token), None).await.body;
    assert_eq!(me["available"], 0, "the profile says what may be spent");
    assert_eq!(me["expiring_30d"], 0, "and what of it expires within 30 days");
    assert_eq!(me["runway_days"], serde_json::Value::Null, "nothing spent: no runway");
    for figure in ["available", "expiring_30d", "runway_days"] {
        me.as_object_mut().unwrap().remove(figure);
    }
    assert_eq!(me, created.body);
}

#[tokio::test]
async fn metadata_patches_merge_and_reserved_keys_change_nothing() {
    let api = api();
    let (token, _) = self_onboarded(&api).await;
    let patch = json!({"primary_color": "#112233", "logo_url": null});
    let patched = api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(patch)).await;
    assert_eq!(patched.status, 200, "{patched:?}");
    assert_eq!(patched.body["metadata"], json!({"primary_color": "#112233"}));
    let before = api.holdings(&token).await;
    let reserved =
        api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(json!({"hold_provisioning": "false"}))).await;
    assert_problem(&reserved, 422, "validation_failed", "");
    assert_problem(
        &api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(json!(["x"]))).await,
        422,
        "validation_failed",
        "",
    );
    assert_eq!(api.holdings(&token).await, before);
}

#[tokio::test]
async fn admins_look_resellers_up_and_change_their_tier() {
    let api = api();
    let (token, created) = self_onboarded(&api).await;
    let admin = api.token("admin", true);
    let refid = created.body["refid"].as_str().unwrap();
    let by_user = api.call("GET", "/resellers?user_id=self", Some(&admin), None).await;
    assert_eq!(by_user.body["refid"], refid);
    assert_problem(&api.call("GET", "/resellers", Some(&admin), None).await, 422, "validation_failed", "");
    assert_problem(&api.call("GET", "/resellers?user_id=ghost", Some(&admin), None).await, 404, "not_found", "");
    assert_eq!(api.call("GET", &format!("/resellers/{refid}"), Some(&admin), None).await.body["user_id"], "self");
    assert_problem(&api.call("GET", "/resellers/ZZZZZZZZZZ", Some(&admin), None).await, 404, "not_found", "");
    let change = json!({"tier": "platinum", "hold_provisioning": true});
    let changed = api.call("PATCH", &format!("/resellers/{refid}"), Some(&admin), Some(change)).await;
    assert_eq!(
        (changed.body["tier"].as_str(), changed.body["hold_provisioning"].as_bool()),
        (Some("platinum"), Some(true))
    );
    assert_problem(
        &api.call("PATCH", &format!("/resellers/{refid}"), Some(&admin), Some(json!({"status": "gone"}))).await,
        422,
        "validation_failed",
        "",
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
        "",
    );
    assert_problem(
        &api.call("POST", &path, Some(&admin), Some(json!({"amount": 10}))).await,
        400,
        "idempotency_key_required",
        "",
    );
    for amount in [json!(0), json!(-5), json!(1.5), json!("10"), json!(i64::MAX)] {
        assert_problem(
            &api.call_with_key("POST", &path, &admin, &format!("bad-{amount}"), json!({"amount": amount})).await,
            422,
            "validation_failed",
            "",
        );
    }
    let long_key = "k".repeat(129);
    assert_problem(
        &api.call_with_key("POST", &path, &admin, &long_key, json!({"amount": 1})).await,
        422,
        "validation_failed",
        "",
    );
    assert_problem(
        &api.call_with_key("POST", "/resellers/ZZZZZZZZZZ/credits", &admin, "k2", json!({"amount": 1})).await,
        404,
        "not_found",
        "",
    );
    assert_eq!(api.holdings(&token).await, before);
    assert_eq!(api.call("GET", "/resellers/me/stats", Some(&token), None).await.body["credits_added"], 5_000);
}

pub(super) fn webhook_body(id: &str, kind: &str, refid: &str, amount_minor: i64) -> Vec<u8> {
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
        (other.clone(), ally::http::webhook::sign(&api.webhook_secret, now + 310, &other), 401, "invalid_signature"),
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
        assert_problem(&answer, status, code, "");
    }
    let refund = webhook_body("evt_3", "payment.refunded", &refid, 100);
    let signed = ally::http::webhook::sign(&api.webhook_secret, now, &refund);
    assert_problem(
        &api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], refund).await,
        422,
        "validation_failed",
        "",
    );
    // A payment Ally cannot credit is kept for an admin and acknowledged, never refused into
    // the provider's retries: a currency it does not take, an unknown reseller, too much.
    let euros = serde_json::to_vec(&json!({"id": "evt_4", "type": "payment.succeeded", "reseller_refid": refid, "amount_minor": 100, "currency": "EUR"})).unwrap();
    let unknown = webhook_body("evt_5", "payment.succeeded", "ZZZZZZZZZZ", 100);
    let too_much = webhook_body("evt_6", "payment.succeeded", &refid, 100_000_000_000);
    for body in [euros, unknown, too_much] {
        let signed = ally::http::webhook::sign(&api.webhook_secret, now, &body);
        let kept = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], body).await;
        assert_eq!((kept.status, kept.body["outcome"].as_str()), (200, Some("unattributed")), "{kept:?}");
    }
    let waiting = api.app.ally.store().waiting("payments:unattributed").await.unwrap();
    assert_eq!(waiting.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["evt_4", "evt_5", "evt_6"]);
    assert_eq!(api.holdings(&token).await, before, "nothing moved");
}

/// Each currency in its ISO 4217 minor unit: 1,500 JPY is 1,500 yen (not 15), 1,500 KWD
/// fils are 1.5 dinars; a currency not configured moves nothing.
#[tokio::test]
async fn payments_are_counted_in_each_currency_minor_unit() {
    let config = Config {
        currencies: ["USD:100", "JPY:1", "KWD:300"]
            .iter()
            .map(|c| c.split_once(':').unwrap())
            .map(|(code, rate)| ally::domain::Currency::new(code, rate.parse().unwrap()).unwrap())
            .collect(),
        ..Config::default()
    };
    let api = TestApi::new(MemoryStore::new(), config);
    let (token, refid) = api.partner("p", "standard", 0).await;
    let now = chrono::Utc::now().timestamp();
    let pay = |id: &str, amount: i64, currency: &str| {
        serde_json::to_vec(&json!({"id": id, "type": "payment.succeeded", "reseller_refid": refid,
            "amount_minor": amount, "currency": currency}))
        .unwrap()
    };
    let mut expected = 0;
    for (id, amount, currency, credits) in
        [("evt_usd", 2_500, "USD", 2_500), ("evt_jpy", 1_500, "jpy", 1_500), ("evt_kwd", 1_500, "KWD", 450)]
    {
        let body = pay(id, amount, currency);
        let signature = ally::http::webhook::sign(&api.webhook_secret, now, &body);
        let paid = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], body).await;
        expected += credits;
        assert_eq!((paid.status, paid.body["balance"].as_i64()), (200, Some(expected)), "{currency}: {paid:?}");
    }
    let before = api.holdings(&token).await;
    let euros = pay("evt_eur", 1_000, "EUR");
    let signature = ally::http::webhook::sign(&api.webhook_secret, now, &euros);
    let kept = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], euros).await;
    assert_eq!(
        (kept.status, kept.body["outcome"].as_str()),
        (200, Some("unattributed")),
        "EUR is not configured: kept"
    );
    assert_eq!(api.holdings(&token).await, before, "nothing moved");
}

/// The seed's scopes as a route: resellers by tier and/or status, newest first, a sealed
/// cursor per list; `?user_id=` still answers one reseller.
#[tokio::test]
async fn admins_list_resellers_by_tier_and_status() {
    let api = api();
    let admin = api.token("admin", true);
    for user in ["g1", "g2", "g3"] {
        api.partner(user, "gold", 0).await;
    }
    let (partner, plat) = api.partner("p1", "platinum", 0).await;
    let suspend = json!({"status": "suspended"});
    assert_eq!(api.call("PATCH", &format!("/resellers/{plat}"), Some(&admin), Some(suspend)).await.status, 200);

    let users = |answer: &Answer| -> Vec<String> {
        answer.body["items"].as_array().unwrap().iter().map(|r| r["user_id"].as_str().unwrap().to_string()).collect()
    };
    let first = api.call("GET", "/resellers?tier=gold&limit=2", Some(&admin), None).await;
    assert_eq!((first.status, users(&first)), (200, vec!["g3".to_string(), "g2".to_string()]), "{first:?}");
    let cursor = first.body["next_cursor"].as_str().expect("a cursor").to_string();
    let rest = api.call("GET", &format!("/resellers?tier=gold&limit=2&cursor={cursor}"), Some(&admin), None).await;
    assert_eq!(users(&rest), ["g1"]);
    assert!(rest.body.get("next_cursor").is_none());
    // The cursor belongs to its list: another scope refuses it.
    let other = api.call("GET", &format!("/resellers?status=active&cursor={cursor}"), Some(&admin), None).await;
    assert_problem(&other, 422, "validation_failed", "a cursor of another list");

    let suspended = api.call("GET", "/resellers?status=suspended", Some(&admin), None).await;
    assert_eq!(users(&suspended), ["p1"]);
    let both = api.call("GET", "/resellers?tier=platinum&status=active", Some(&admin), None).await;
    assert_eq!(users(&both), Vec::<String>::new());
    let one = api.call("GET", "/resellers?user_id=g2", Some(&admin), None).await;
    assert_eq!((one.status, one.body["tier"].as_str()), (200, Some("gold")));

    for (query, why) in [
        ("", "nothing to find"),
        ("?tier=diamond", "an unknown tier"),
        ("?status=gone", "an unknown status"),
        ("?user_id=g2&tier=gold", "one reseller or a list, not both"),
        ("?tier=gold&limit=0", "a limit below 1"),
    ] {
        assert_problem(
            &api.call("GET", &format!("/resellers{query}"), Some(&admin), None).await,
            422,
            "validation_failed",
            why,
        );
    }
    assert_problem(&api.call("GET", "/resellers?tier=gold", Some(&partner), None).await, 403, "forbidden", "a partner");
}

/// Reversals over HTTP: admin only, 404 for an entry that is not the reseller's, 422
/// `reversal_exceeds_original` beyond the entry, the debt in the profile.
#[tokio::test]
async fn an_admin_reverses_a_payment_and_the_rest_is_debt() {
    let api = api();
    let admin = api.token("admin", true);
    let (token, refid) = api.partner("p", "standard", 1_000).await;
    // The admin reads the reseller's ledger to find what to reverse; a partner may not.
    let theirs = format!("/resellers/{refid}/transactions");
    assert_problem(&api.call("GET", &theirs, Some(&token), None).await, 403, "forbidden", "a partner");
    let ledger = api.call("GET", &theirs, Some(&admin), None).await;
    let entry_id = ledger.body["items"][0]["id"].as_str().unwrap().to_string();
    api.provision(&token, "buy-1", json!({"cost": 600})).await;
    let path = format!("/resellers/{refid}/reversals");
    let body = json!({"entry_id": entry_id, "amount": 1_000, "reason": "chargeback"});
    assert_problem(&api.call_with_key("POST", &path, &token, "r-0", body.clone()).await, 403, "forbidden", "a partner");
    let reversed = api.call_with_key("POST", &path, &admin, "r-1", body).await;
    assert_eq!(reversed.status, 200, "{reversed:?}");
    assert_eq!(
        (reversed.body["reversed"].as_i64(), reversed.body["debt"].as_i64(), reversed.body["balance"].as_i64()),
        (Some(1_000), Some(600), Some(0))
    );
    let me = api.call("GET", "/resellers/me/stats", Some(&token), None).await.body;
    assert_eq!((me["balance"].as_i64(), me["debt"].as_i64()), (Some(0), Some(600)));
    let more = json!({"entry_id": entry_id, "amount": 1, "reason": "again"});
    assert_problem(&api.call_with_key("POST", &path, &admin, "r-2", more).await, 422, "reversal_exceeds_original", "");
    let elsewhere = json!({"entry_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "reason": "x"});
    assert_problem(&api.call_with_key("POST", &path, &admin, "r-3", elsewhere).await, 404, "not_found", "");
    let after = api.call("GET", &theirs, Some(&admin), None).await.body;
    let kinds: Vec<&str> = after["items"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["reversal", "debit", "credit"], "newest first");
    assert_eq!(after["items"][2]["reversed"], 1_000, "the original says how much of it was reversed");
}
