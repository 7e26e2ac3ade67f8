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

/// Who sends a probe.
#[derive(Clone, Copy)]
enum Caller {
    Partner,
    Admin,
}

/// One request of the sweep.
struct Probe {
    method: String,
    path: String,
    caller: Caller,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Probe {
    fn what(&self) -> String {
        let body = String::from_utf8_lossy(&self.body).chars().take(120).collect::<String>();
        format!("{} {} {:?} {body}", self.method, self.path.chars().take(200).collect::<String>(), self.headers)
    }
}

/// Every probe: each path, query and header parameter and each body property of every
/// documented route, with every extreme, as a partner and as an admin.
fn probes() -> Vec<Probe> {
    let doc = ally::http::openapi_json().clone();
    let mut out = Vec::new();
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
            for caller in [Caller::Partner, Caller::Admin] {
                let probe = |path: String, headers: Vec<(&str, &str)>, body: Vec<u8>| Probe {
                    method: method.clone(),
                    path,
                    caller,
                    headers: headers.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                    body,
                };
                let key = vec![("idempotency-key", "extreme-1")];
                for value in extreme_strings() {
                    let encoded = encode(&value);
                    out.push(probe(fill(path, &encoded), key.clone(), Vec::new()));
                    for query in parameters.iter().filter(|x| x["in"] == "query") {
                        let target = format!("{}?{}={encoded}", fill(path, "x"), query["name"].as_str().unwrap());
                        out.push(probe(target, key.clone(), Vec::new()));
                    }
                    if value.is_ascii() && value.len() < 8 * 1024 {
                        for header in ["idempotency-key", "ally-signature", "stripe-signature"] {
                            out.push(probe(fill(path, "x"), vec![(header, value.as_str())], b"{}".to_vec()));
                        }
                    }
                }
                for body in bodies(operation, &doc) {
                    out.push(probe(fill(path, "x"), key.clone(), body));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn no_extreme_value_of_any_parameter_crashes_a_route() {
    let api = TestApi::new(MemoryStore::new(), Config::default());
    let (partner, _) = api.partner("extreme", "gold", 1_000_000).await;
    let admin = api.token("admin", true);
    let probes = probes();
    for probe in &probes {
        let token = match probe.caller {
            Caller::Partner => &partner,
            Caller::Admin => &admin,
        };
        let headers: Vec<(&str, &str)> = probe.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let answer = api.send(&probe.method, &probe.path, Some(token), &headers, probe.body.clone()).await;
        check(&answer, &probe.what());
    }
    assert!(probes.len() > 1_000, "the sweep reached every route: {} requests", probes.len());
}

/// The same sweep against a release build of the dev server (`make test` builds it into
/// `release/` with the `bench` profile: optimised, and unwinding as the Lambda functions
/// do), over its socket: never a 5xx, never a dropped connection.
#[test]
fn no_extreme_value_crashes_a_release_build() {
    use std::io::{BufRead, BufReader};
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| ally_tests::workspace().join("target"));
    let binary = target.join("release").join("ally-local");
    assert!(binary.exists(), "{} is missing: `make test` builds it", binary.display());
    let data = std::env::temp_dir().join(format!("ally-extremes-{}", std::process::id()));
    let secret = "extremes-jwt-secret";
    let mut child = std::process::Command::new(binary)
        .arg("serve")
        .env("ALLY_LOCAL_ADDR", "127.0.0.1:0")
        .env("ALLY_LOCAL_DATA", &data)
        .env("ALLY_LOCAL_OUTBOX", data.join("outbox"))
        .env("ALLY_LOCAL_JWT_SECRET", secret)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let served = |line: String| {
        let port = line.strip_prefix("Ally dev server on http://127.0.0.1:")?.split_whitespace().next()?;
        port.parse::<u16>().ok()
    };
    let port = lines.by_ref().map_while(Result::ok).find_map(served).expect("the server prints its port");
    std::thread::spawn(move || lines.for_each(drop));
    let token = |user: &str, admin: bool| ally_tests::local_token(secret.as_bytes(), user, admin);
    let (partner, admin) = (token("extreme", false), token("admin", true));
    let send = |probe: &Probe| {
        let token = match probe.caller {
            Caller::Partner => &partner,
            Caller::Admin => &admin,
        };
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("Authorization", bearer.as_str()), ("Content-Type", "application/json")];
        headers.extend(probe.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        ally_tests::http_request(port, &probe.method, &probe.path, &headers, &String::from_utf8_lossy(&probe.body))
    };
    let onboard = Probe {
        method: "POST".into(),
        path: "/resellers".into(),
        caller: Caller::Admin,
        headers: Vec::new(),
        body: json!({"company": "Extreme Ltd", "user_id": "extreme", "tier": "gold"}).to_string().into_bytes(),
    };
    assert_eq!(send(&onboard).0, 201);
    for probe in &probes() {
        let (status, payload) = send(probe);
        assert!(status < 500, "{}: {status} {payload}", probe.what());
        if status >= 400 {
            let problem: Value = serde_json::from_str(&payload).unwrap_or(Value::Null);
            assert!(problem["type"].is_string() && problem["status"] == status, "{}: {payload}", probe.what());
        }
    }
    child.kill().ok();
    child.wait().ok();
    std::fs::remove_dir_all(&data).ok();
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
