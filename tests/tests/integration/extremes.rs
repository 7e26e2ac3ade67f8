//! Nothing a caller sends can crash a handler: every parameter of every documented route
//! (path, query, header and each body property), as an admin and as a partner, gets the
//! extremes (the `i64` bounds, the years -262143 and +262143, empty and 10 KB strings, a
//! wrong type) and must be answered with a documented status below 500, as problem+json
//! when refused. A handler that panicked would answer 500 (the routers' last resort).

use ally::Config;
use ally::store::memory::MemoryStore;
use ally_tests::{Answer, TestApi};
use serde_json::{Map, Value, json};

/// Values of every shape a careless or hostile caller sends.
fn extremes() -> Vec<Value> {
    vec![
        json!(i64::MIN),
        json!(i64::MAX),
        json!(-1),
        json!(0),
        json!(1e308),
        json!(""),
        json!("x".repeat(10 * 1024)),
        json!("-262143-01-01"),
        json!("+262143-12-31"),
        json!("-262143-01-01T00:00:00Z"),
        json!("+262143-12-31T23:59:59Z"),
        json!("9999-12-31"),
        json!("\u{202e}\u{200b}"),
        json!(true),
        json!(null),
        json!([]),
        json!({}),
    ]
}

/// The same extremes as they travel in a URL or a header.
fn extreme_strings() -> Vec<String> {
    extremes()
        .into_iter()
        .filter_map(|v| match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .chain(["-9223372036854775809".to_string(), "1e400".to_string()])
        .collect()
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A value of the schema's type that passes a first look, for the properties not under test.
fn typical(schema: &Value, doc: &Value) -> Value {
    let schema = resolve(schema, doc);
    match schema["type"].as_str() {
        Some("integer") | Some("number") => json!(100),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ if schema["format"] == "date-time" => json!((chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()),
        _ => json!("typical"),
    }
}

fn resolve<'a>(schema: &'a Value, doc: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/schemas/")) {
        Some(name) => &doc["components"]["schemas"][name],
        None => schema,
    }
}

/// Every body a request of `operation` gets: one per property and extreme, the others typical.
fn bodies(operation: &Value, doc: &Value) -> Vec<Vec<u8>> {
    let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema") else {
        return Vec::new();
    };
    let schema = resolve(schema, doc);
    let Some(properties) = schema["properties"].as_object() else {
        return extremes().iter().map(|v| v.to_string().into_bytes()).collect();
    };
    let base: Map<String, Value> = properties.iter().map(|(k, s)| (k.clone(), typical(s, doc))).collect();
    let mut out = Vec::new();
    for name in properties.keys() {
        for value in extremes() {
            let mut body = base.clone();
            body.insert(name.clone(), value);
            out.push(Value::Object(body).to_string().into_bytes());
        }
    }
    out
}

fn check(answer: &Answer, what: &str) {
    assert!(answer.status < 500, "{what}: {answer:?}");
    if answer.status >= 400 {
        assert_eq!(answer.content_type, "application/problem+json", "{what}: {answer:?}");
    }
}

#[tokio::test]
async fn no_extreme_value_of_any_parameter_crashes_a_route() {
    let api = TestApi::new(MemoryStore::new(), Config::default());
    let (partner, _) = api.partner("extreme", "gold", 1_000_000).await;
    let admin = api.token("admin", true);
    let doc = ally::http::openapi_json().clone();
    let mut sent = 0;
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let method = method.to_uppercase();
            let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
            let fill = |p: &str, with: &str| {
                parameters
                    .iter()
                    .filter(|x| x["in"] == "path")
                    .fold(p.to_string(), |p, x| p.replace(&format!("{{{}}}", x["name"].as_str().unwrap()), with))
            };
            for caller in [&partner, &admin] {
                let key = [("idempotency-key", "extreme-1")];
                // Each path parameter, each query parameter, each header.
                for value in extreme_strings() {
                    let encoded = encode(&value);
                    let target = fill(path, &encoded);
                    let answer = api.send(&method, &target, Some(caller), &key, Vec::new()).await;
                    check(&answer, &format!("{method} {target}"));
                    for query in parameters.iter().filter(|x| x["in"] == "query") {
                        let target = format!("{}?{}={encoded}", fill(path, "x"), query["name"].as_str().unwrap());
                        check(&api.send(&method, &target, Some(caller), &key, Vec::new()).await, &target);
                        sent += 1;
                    }
                    if value.is_ascii() {
                        for header in ["idempotency-key", "ally-signature", "stripe-signature"] {
                            let answer = api
                                .send(&method, &fill(path, "x"), Some(caller), &[(header, &value)], b"{}".to_vec())
                                .await;
                            check(&answer, &format!("{method} {path} {header}: {value:.40}"));
                        }
                    }
                    sent += 1;
                }
                for body in bodies(operation, &doc) {
                    let answer = api.send(&method, &fill(path, "x"), Some(caller), &key, body.clone()).await;
                    check(
                        &answer,
                        &format!(
                            "{method} {path} {}",
                            String::from_utf8_lossy(&body).chars().take(120).collect::<String>()
                        ),
                    );
                    sent += 1;
                }
            }
        }
    }
    assert!(sent > 1_000, "the sweep reached every route: {sent} requests");
}

/// The two inputs that crashed a handler before: a date at the edge of what chrono holds
/// (any signed-in user, even without a reseller) and a signature timestamp at `i64::MIN`.
#[tokio::test]
async fn the_inputs_that_crashed_a_handler_are_refused() {
    let api = TestApi::new(MemoryStore::new(), Config::default());
    let stranger = api.token("no-reseller", false);
    for query in [
        "interval=daily&end=-262143-01-01",
        "interval=monthly&end=-262143-01-01",
        "interval=yearly&end=0001-01-01",
        "interval=daily&start=+262143-12-31&end=+262143-12-31",
    ] {
        let answer = api.call("GET", &format!("/analytics/credit-trends?{query}"), Some(&stranger), None).await;
        ally_tests::assert_problem(&answer, 422, "validation_failed", query);
    }
    let admin = api.token("admin", true);
    let answer = api.call("GET", "/analytics/top-resellers?end=-262143-01-01", Some(&admin), None).await;
    ally_tests::assert_problem(&answer, 422, "validation_failed", "top resellers");
    let answer = api.call("GET", "/analytics/upgrade-candidates?month=-262143-01", Some(&admin), None).await;
    ally_tests::assert_problem(&answer, 422, "validation_failed", "upgrade candidates");
    let config = Config { stripe_webhook_secret: Some(ally::config::Secret::new("whsec_x")), ..Config::default() };
    let api = TestApi::new(MemoryStore::new(), config);
    for header in ["t=-9223372036854775808,v1=00", "t=9223372036854775807,v1=00"] {
        let answer = api.send("POST", "/webhooks/stripe", None, &[("stripe-signature", header)], b"{}".to_vec()).await;
        ally_tests::assert_problem(&answer, 400, "invalid_signature", header);
    }
}

/// The last resort: a handler that panics answers a 500 problem, and the router goes on
/// serving (no dropped connection, no aborted process).
#[tokio::test]
async fn a_handler_that_panics_answers_a_500_problem() {
    use tower::ServiceExt;
    async fn boom() -> &'static str {
        panic!("a bug that slipped through")
    }
    let router = axum::Router::new()
        .route("/boom", axum::routing::get(boom))
        .route("/fine", axum::routing::get(|| async { "fine" }))
        .layer(axum::middleware::from_fn(ally::http::catch_panic));
    let get = |path: &str| axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
    let answer = router.clone().oneshot(get("/boom")).await.unwrap();
    assert_eq!(answer.status(), 500);
    assert_eq!(answer.headers()["content-type"], "application/problem+json");
    assert_eq!(router.oneshot(get("/fine")).await.unwrap().status(), 200);
}
