//! Hostile input through the real router: oversized bodies, amounts at and past the `i64`
//! limits, very long strings, control characters and unicode, forged or stale tokens, and
//! webhook signatures that must not pass. Each refusal is a problem+json error and changes
//! nothing; what is accepted is stored exactly.

use ally::Config;
use ally::http::MAX_BODY;
use ally::http::identity::{LOCAL_AUDIENCE, LOCAL_ISSUER};
use ally::store::memory::MemoryStore;
use ally_tests::{TestApi, assert_problem};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

type Api = TestApi<MemoryStore>;

fn api_with(config: Config) -> Api {
    TestApi::new(MemoryStore::new(), config)
}

/// A gold partner with one client and `balance`; its token, refid and client id.
async fn partner_with_client(api: &Api, user: &str, balance: i64) -> (String, String, String) {
    let (token, refid) = api.partner(user, "gold", balance).await;
    let client = api.call("POST", "/clients", Some(&token), Some(json!({"name": "First"}))).await;
    (token, refid, client.body["id"].as_str().unwrap().to_string())
}

/// A JSON body of exactly `size` bytes: `{"name":"xxxx…"}`.
fn body_of(size: usize) -> Vec<u8> {
    let padding = size - r#"{"name":""}"#.len();
    format!(r#"{{"name":"{}"}}"#, "x".repeat(padding)).into_bytes()
}

#[tokio::test]
async fn bodies_over_256_kib_are_refused_on_every_route_that_takes_one() {
    let api = api_with(Config::default());
    let (token, refid, _) = partner_with_client(&api, "p", 1_000).await;
    let admin = api.token("admin", true);
    let before = api.holdings(&token).await;
    let routes = [
        ("POST", "/resellers".to_string(), &token),
        ("PATCH", "/resellers/me/metadata".to_string(), &token),
        ("PATCH", format!("/resellers/{refid}"), &admin),
        ("POST", format!("/resellers/{refid}/credits"), &admin),
        ("POST", "/provision".to_string(), &token),
        ("POST", "/clients".to_string(), &token),
        ("POST", "/clients/bulk".to_string(), &token),
        ("POST", "/webhooks/payments".to_string(), &token),
    ];
    for (method, path, caller) in &routes {
        let key = [("idempotency-key", "big")];
        let over = api.send(method, path, Some(caller), &key, body_of(MAX_BODY + 1)).await;
        assert_problem(&over, 413, "payload_too_large", &format!("{method} {path}, 256 KiB + 1"));
        // At the limit the body is read, and refused for what it says.
        let at = api.send(method, path, Some(caller), &key, body_of(MAX_BODY)).await;
        // (A metadata patch of 256 KiB is well formed, and too large for metadata: 413.)
        assert!(matches!(at.status, 401 | 413 | 422), "{method} {path} at 256 KiB: {at:?}");
    }
    assert_eq!(api.holdings(&token).await, before);
}

#[tokio::test]
async fn amounts_at_and_past_the_i64_limits_are_refused() {
    let api = api_with(Config::default());
    let (token, refid, _) = partner_with_client(&api, "p", 1_000).await;
    let admin = api.token("admin", true);
    let credits = format!("/resellers/{refid}/credits");
    let before = api.holdings(&token).await;
    let past_i64 = ["9223372036854775808", "-9223372036854775809", "1e19", "1e400", "100000001", "-0.5"];
    let limits = [i64::MAX.to_string(), i64::MIN.to_string(), "0".into(), "-1".into()];
    for (i, amount) in past_i64.iter().map(|a| a.to_string()).chain(limits).enumerate() {
        let body = format!(r#"{{"amount":{amount}}}"#).into_bytes();
        let key = format!("credit-{i}");
        let answer = api.send("POST", &credits, Some(&admin), &[("idempotency-key", &key)], body).await;
        assert_problem(&answer, 422, "validation_failed", &format!("credit {amount}"));
        for route in ["/provision", "/clients/bulk"] {
            let body = if route == "/provision" {
                format!(r#"{{"cost":{amount}}}"#)
            } else {
                format!(r#"{{"cost":{amount},"clients":[{{"name":"A"}}]}}"#)
            };
            let answer = api.send("POST", route, Some(&token), &[("idempotency-key", &key)], body.into_bytes()).await;
            assert_problem(&answer, 422, "validation_failed", &format!("{route} at {amount}"));
        }
    }
    // The largest single top-up is accepted; one credit more is not.
    let max = Config::default().max_credit_amount;
    let top_up = api.call_with_key("POST", &credits, &admin, "max", json!({"amount": max})).await;
    assert_eq!(top_up.body["balance"], 1_000 + max, "{top_up:?}");
    let after_max = api.holdings(&token).await;
    // 500 clients at the largest cost: far beyond the wallet, refused whole.
    let clients: Vec<Value> = (0..500).map(|i| json!({"name": format!("C{i}")})).collect();
    let huge = api.bulk(&token, "bulk-huge", json!({"clients": clients, "cost": max})).await;
    assert_problem(&huge, 402, "insufficient_credits", "bulk of 500 at the maximum cost");
    assert_eq!(api.holdings(&token).await, after_max);
    assert_eq!(
        before["ledger"]["items"].as_array().unwrap().len() + 1,
        after_max["ledger"]["items"].as_array().unwrap().len()
    );
}

#[tokio::test]
async fn a_balance_that_would_overflow_is_refused() {
    let api = api_with(Config { max_credit_amount: i64::MAX, ..Config::default() });
    let (token, refid, _) = partner_with_client(&api, "p", i64::MAX - 10).await;
    let admin = api.token("admin", true);
    let before = api.holdings(&token).await;
    let path = format!("/resellers/{refid}/credits");
    let answer = api.call_with_key("POST", &path, &admin, "overflow", json!({"amount": 11})).await;
    assert_problem(&answer, 422, "validation_failed", "a credit past i64::MAX");
    assert_eq!(api.holdings(&token).await, before);
    let fits = api.call_with_key("POST", &path, &admin, "fits", json!({"amount": 10})).await;
    assert_eq!(fits.body["balance"], i64::MAX, "{fits:?}");
    // A bulk total that does not fit in i64 is refused, not wrapped into a small charge.
    let full = api.holdings(&token).await;
    let two = json!({"clients": [{"name": "A"}, {"name": "B"}], "cost": i64::MAX});
    let answer = api.bulk(&token, "bulk-overflow", two).await;
    assert_problem(&answer, 422, "validation_failed", "a bulk total past i64::MAX");
    assert_eq!(api.holdings(&token).await, full);
}

#[tokio::test]
async fn long_strings_and_control_characters_are_refused_unicode_is_stored_exactly() {
    let api = api_with(Config::default());
    let (token, refid, client) = partner_with_client(&api, "p", 1_000).await;
    let admin = api.token("admin", true);
    let before = api.holdings(&token).await;
    let long = "a".repeat(10_000);
    let mut refused: Vec<(&str, String, Value)> = Vec::new();
    for text in [long.as_str(), "nul\u{0}byte", "escape \u{1b}[31m", "line\nbreak", "del\u{7f}", "next line\u{85}"] {
        refused.push(("POST", "/resellers".into(), json!({"company": text})));
        refused.push(("POST", "/clients".into(), json!({"name": text})));
        refused.push(("POST", "/clients".into(), json!({"name": "ok", "email": format!("{text}@x.example")})));
        refused.push(("POST", "/provision".into(), json!({"cost": 1, "description": text, "client_id": client})));
        refused.push(("POST", "/clients/bulk".into(), json!({"cost": 1, "clients": [{"name": text}]})));
        refused.push(("PATCH", "/resellers/me/metadata".into(), json!({"company_name": text})));
        refused.push(("POST", format!("/resellers/{refid}/credits"), json!({"amount": 1, "reason": text})));
    }
    refused.push(("PATCH", "/resellers/me/metadata".into(), json!({long.clone(): "value"})));
    refused.push(("PATCH", "/resellers/me/metadata".into(), json!({"Ünïcødé": "value"})));
    refused.push(("POST", "/clients".into(), json!({"name": "🚀".repeat(201)})));
    for (i, (method, path, body)) in refused.iter().enumerate() {
        let caller = if path.contains("/credits") { &admin } else { &token };
        let key = format!("hostile-{i}");
        let answer =
            api.send(method, path, Some(caller), &[("idempotency-key", &key)], body.to_string().into_bytes()).await;
        let shown: String = body.to_string().chars().take(80).collect();
        // Metadata is bounded by its size in all: a 10,000-character value is too large.
        let too_large =
            body.get("company_name").is_some_and(|v| v.to_string().len() > ally::domain::METADATA_MAX_BYTES);
        let (status, code) = if too_large { (413, "payload_too_large") } else { (422, "validation_failed") };
        assert_problem(&answer, status, code, &format!("{method} {path} {shown}"));
    }
    for key in [long.as_str(), "tab\tkey", "clé"] {
        let answer =
            api.send("POST", "/provision", Some(&token), &[("idempotency-key", key)], br#"{"cost":1}"#.to_vec()).await;
        assert!(
            matches!(answer.status, 400 | 422),
            "Idempotency-Key {:?}: {answer:?}",
            key.chars().take(20).collect::<String>()
        );
    }
    assert_eq!(api.holdings(&token).await, before, "a refused request changed something");

    // Unicode is data: stored and answered byte for byte, counted in characters.
    let names = ["Ünïcødé GmbH", "株式会社パートナー", "שותפים בע\"מ", "e\u{301}toile 🚀", &"🚀".repeat(200)];
    for name in names {
        let created = api.call("POST", "/clients", Some(&token), Some(json!({"name": name}))).await;
        assert_eq!(created.status, 201, "{name}: {created:?}");
        let id = created.body["id"].as_str().unwrap();
        assert_eq!(api.call("GET", &format!("/clients/{id}"), Some(&token), None).await.body["name"], name);
    }
    let metadata = json!({"company_name": "Ünïcødé 株式会社 🚀", "primary_color": "#ff0066"});
    let patched = api.call("PATCH", "/resellers/me/metadata", Some(&token), Some(metadata)).await;
    assert_eq!(patched.status, 200, "{patched:?}");
    let me = api.call("GET", "/resellers/me", Some(&token), None).await.body;
    assert_eq!(me["metadata"]["company_name"], "Ünïcødé 株式会社 🚀");
}

/// A token with any header and payload, signed with `secret`.
fn token(header: Value, payload: Value, secret: &[u8]) -> String {
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload.to_string()));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_foreign_and_stale_tokens_get_401() {
    let api = api_with(Config::default());
    let (partner_token, refid, _) = partner_with_client(&api, "p", 1_000).await;
    let before = api.holdings(&partner_token).await;
    let secret = api.jwt_secret.clone();
    let now = chrono::Utc::now().timestamp();
    let hs256 = json!({"alg": "HS256", "typ": "JWT"});
    let admin = json!({"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "admin", "cognito:groups": ["admin"], "exp": now + 600});
    let with = |field: &str, value: Value| {
        let mut claims = admin.clone();
        claims[field] = value;
        claims
    };
    let without = |field: &str| {
        let mut claims = admin.clone();
        claims.as_object_mut().unwrap().remove(field);
        claims
    };
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string()),
        URL_SAFE_NO_PAD.encode(admin.to_string())
    );
    let cases = [
        ("alg none", unsigned),
        ("alg HS512", token(json!({"alg": "HS512"}), admin.clone(), &secret)),
        ("wrong key", token(hs256.clone(), admin.clone(), b"not-the-secret")),
        ("wrong issuer", token(hs256.clone(), with("iss", json!("https://cognito-idp.example/pool")), &secret)),
        ("wrong audience", token(hs256.clone(), with("aud", json!("another-client")), &secret)),
        ("no issuer", token(hs256.clone(), without("iss"), &secret)),
        ("no audience", token(hs256.clone(), without("aud"), &secret)),
        ("expired", token(hs256.clone(), with("exp", json!(now - 1)), &secret)),
        ("no expiry", token(hs256.clone(), without("exp"), &secret)),
        ("empty subject", token(hs256.clone(), with("sub", json!("")), &secret)),
        ("two parts", "a.b".to_string()),
        ("not base64", "###.###.###".to_string()),
    ];
    let path = format!("/resellers/{refid}/credits");
    for (what, bad) in &cases {
        let credit = api.call_with_key("POST", &path, bad, &format!("k-{what}"), json!({"amount": 5})).await;
        assert_problem(&credit, 401, "unauthorized", what);
        assert_problem(&api.call("GET", "/resellers/me", Some(bad), None).await, 401, "unauthorized", what);
    }
    // The same claims, properly signed, do pass: the refusals above are for what was wrong.
    let good = token(hs256, admin, &secret);
    assert_eq!(api.call_with_key("POST", &path, &good, "k-good", json!({"amount": 5})).await.status, 200);
    let after = api.holdings(&partner_token).await;
    assert_eq!(after["me"]["balance"], before["me"]["balance"].as_i64().unwrap() + 5);
}

#[tokio::test]
async fn webhook_signatures_that_must_not_pass() {
    let api = api_with(Config::default());
    let (token, refid, _) = partner_with_client(&api, "p", 0).await;
    let now = chrono::Utc::now().timestamp();
    let body = serde_json::to_vec(&json!({"id": "evt_1", "type": "payment.succeeded", "reseller_refid": refid,
        "amount_minor": 500, "currency": "USD"}))
    .unwrap();
    let secret = api.webhook_secret.clone();
    let sign = |t: i64, body: &[u8]| ally::http::webhook::sign(&secret, t, body);
    let good = sign(now, &body);
    let v1 = good.split_once(',').unwrap().1.to_string();
    let mut changed = body.clone();
    changed[body.len() - 2] = b'1';
    let mut trailing = body.clone();
    trailing.push(b'\n');
    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("clock 301 s behind", sign(now - 301, &body), body.clone()),
        // The server reads its clock after `now`: a margin on the side its clock moves to.
        ("clock 310 s ahead", sign(now + 310, &body), body.clone()),
        ("a day old", sign(now - 86_400, &body), body.clone()),
        ("reordered header", format!("{v1},t={now}"), body.clone()),
        ("spaces in the header", good.replace(',', ", "), body.clone()),
        ("upper-case names", good.replace("t=", "T=").replace("v1=", "V1="), body.clone()),
        ("another scheme", good.replace("v1=", "v0="), body.clone()),
        ("two timestamps", format!("t={now},{good}"), body.clone()),
        ("negative time", format!("t=-{now},{v1}"), body.clone()),
        ("no signature", format!("t={now}"), body.clone()),
        ("body changed after signing", good.clone(), changed),
        ("newline added after signing", good.clone(), trailing),
        ("signed with another secret", ally::http::webhook::sign(b"not-the-secret", now, &body), body.clone()),
    ];
    for (what, header, body) in cases {
        let answer = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &header)], body).await;
        assert_problem(&answer, 401, "invalid_signature", what);
    }
    assert_eq!(api.call("GET", "/resellers/me", Some(&token), None).await.body["balance"], 0, "nothing credited");
    // Within the window, both ways, the signature passes, and the event credits once.
    for t in [now - 290, now + 299] {
        let answer =
            api.send("POST", "/webhooks/payments", None, &[("ally-signature", &sign(t, &body))], body.clone()).await;
        assert_eq!((answer.status, answer.body["balance"].as_i64()), (200, Some(500)), "{answer:?}");
    }
}
