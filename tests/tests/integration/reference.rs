//! `docs/api.md`, the API reference, is made from the OpenAPI document and the examples
//! below, and every example is run against the real dev server (`ally-local serve`, tokens
//! from `ally-local token`, as the reference tells a reader to): the test fails when an
//! example stops answering what it says, or when `docs/api.md` is not what the document and
//! the examples make. `ALLY_WRITE_DOCS=1 cargo test -p ally-tests --test integration
//! reference` writes it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::dev_server::{DevServer, binary};

/// Who sends an example: the token it carries (`$ADMIN`, `$PARTNER`, `$NEWCOMER`), or none.
#[derive(Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Admin,
    Partner,
    Newcomer,
}

/// One request of the reference, run in this order (each may use what an earlier one kept).
struct Example {
    /// The `operationId` it shows.
    op: &'static str,
    who: Who,
    method: &'static str,
    /// With `$NAME`s of values kept from earlier answers.
    path: &'static str,
    key: Option<&'static str>,
    body: Option<&'static str>,
    status: u16,
    /// Values of the answer later examples use: `$NAME` and the JSON pointer to it.
    keep: &'static [(&'static str, &'static str)],
}

const fn ex(op: &'static str, who: Who, method: &'static str, path: &'static str, status: u16) -> Example {
    Example { op, who, method, path, key: None, body: None, status, keep: &[] }
}

impl Example {
    const fn body(mut self, body: &'static str) -> Self {
        self.body = Some(body);
        self
    }
    const fn key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }
    const fn keep(mut self, keep: &'static [(&'static str, &'static str)]) -> Self {
        self.keep = keep;
        self
    }
}

use Who::{Admin, Newcomer, Nobody, Partner};

/// The examples, in the order a new team would try them.
const EXAMPLES: &[Example] = &[
    ex("health", Nobody, "GET", "/health", 200),
    ex("openapi", Nobody, "GET", "/openapi.json", 200),
    ex("onboardReseller", Admin, "POST", "/resellers", 201)
        .body(r#"{"company": "Northwind", "user_id": "partner-1", "tier": "gold"}"#)
        .keep(&[("REFID", "/refid")]),
    ex("addCredits", Admin, "POST", "/resellers/$REFID/credits", 200)
        .key("opening-1")
        .body(r#"{"amount": 5000, "reason": "opening balance"}"#)
        .keep(&[("ENTRY", "/transaction/id")]),
    ex("me", Partner, "GET", "/resellers/me", 200),
    ex("myStats", Partner, "GET", "/resellers/me/stats", 200),
    ex("myInvite", Partner, "GET", "/resellers/me/invite", 200).keep(&[("INVITE", "/invited_by")]),
    ex("onboardReseller", Newcomer, "POST", "/resellers", 201)
        .body(r#"{"company": "Contoso", "invited_by": "$INVITE"}"#)
        .keep(&[("CHILD", "/refid")]),
    ex("products", Partner, "GET", "/products", 200),
    ex("createClient", Partner, "POST", "/clients", 201)
        .body(r#"{"name": "Tailspin Toys", "email": "it@tailspin.example"}"#)
        .keep(&[("CLIENT", "/id")]),
    ex("listClients", Partner, "GET", "/clients?limit=10", 200),
    ex("getClient", Partner, "GET", "/clients/$CLIENT", 200),
    ex("provision", Partner, "POST", "/provision", 200)
        .key("buy-1")
        .body(r#"{"product": "license-basic", "client_id": "$CLIENT"}"#),
    ex("bulkOnboard", Partner, "POST", "/clients/bulk", 200)
        .key("bulk-1")
        .body(r#"{"clients": [{"name": "Alpha Co"}, {"name": "Beta Inc", "email": "it@beta.example"}], "product": "license-basic"}"#),
    ex("bulkStatus", Partner, "GET", "/clients/bulk/bulk-1", 200),
    ex("placeHold", Partner, "POST", "/holds", 201)
        .key("hold-1")
        .body(r#"{"product": "license-basic", "expires_in_s": 3600}"#)
        .keep(&[("HOLD", "/hold/id")]),
    ex("captureHold", Partner, "POST", "/holds/$HOLD/capture", 200).key("capture-1").body(r#"{"amount": 500}"#),
    ex("placeHold", Partner, "POST", "/holds", 201)
        .key("hold-2")
        .body(r#"{"cost": 300}"#)
        .keep(&[("HOLD2", "/hold/id")]),
    ex("voidHold", Partner, "POST", "/holds/$HOLD2/void", 200).key("void-1"),
    ex("listHolds", Partner, "GET", "/holds?status=captured", 200),
    ex("myTransactions", Partner, "GET", "/resellers/me/transactions?limit=5", 200),
    ex("myLots", Partner, "GET", "/resellers/me/lots", 200),
    ex("transferToSubReseller", Partner, "POST", "/resellers/me/transfers", 200)
        .key("pass-1")
        .body(r#"{"to_refid": "$CHILD", "amount": 100, "note": "starter credit"}"#),
    ex("mySubResellers", Partner, "GET", "/resellers/me/sub-resellers", 200),
    ex("setMyAlerts", Partner, "PUT", "/resellers/me/alerts", 200).body(r#"{"thresholds": [2000, 500], "runway_days": 14}"#),
    ex("myAlerts", Partner, "GET", "/resellers/me/alerts", 200),
    ex("setMyAutoTopUp", Partner, "PUT", "/resellers/me/auto-top-up", 200)
        .body(r#"{"below": 1000, "target": 5000, "monthly_cap": 20000}"#),
    ex("myAutoTopUp", Partner, "GET", "/resellers/me/auto-top-up", 200),
    ex("removeMyAutoTopUp", Partner, "DELETE", "/resellers/me/auto-top-up", 204),
    ex("updateMyMetadata", Partner, "PATCH", "/resellers/me/metadata", 200)
        .body(r##"{"company_name": "Northwind Partners", "primary_color": "#0a7d4f"}"##),
    ex("findResellers", Admin, "GET", "/resellers?user_id=partner-1", 200),
    ex("findResellers", Admin, "GET", "/resellers?tier=gold&limit=10", 200),
    ex("findByRefid", Admin, "GET", "/resellers/$REFID", 200),
    ex("updateReseller", Admin, "PATCH", "/resellers/$REFID", 200).body(r#"{"tier": "platinum"}"#),
    ex("resellerTransactions", Admin, "GET", "/resellers/$REFID/transactions?limit=5", 200),
    ex("resellerSubResellers", Admin, "GET", "/resellers/$REFID/sub-resellers", 200),
    ex("reverseEntry", Admin, "POST", "/resellers/$REFID/reversals", 200)
        .key("reverse-1")
        .body(r#"{"entry_id": "$ENTRY", "amount": 100, "reason": "goodwill correction"}"#),
    ex("transferBetweenResellers", Admin, "POST", "/resellers/transfers", 200)
        .key("move-1")
        .body(r#"{"from_refid": "$REFID", "to_refid": "$CHILD", "amount": 50, "note": "rebalance"}"#),
    ex("topResellers", Admin, "GET", "/analytics/top-resellers?limit=5", 200),
    ex("tierSnapshot", Admin, "GET", "/analytics/tier-snapshot", 200),
    ex("creditTrends", Admin, "GET", "/analytics/credit-trends?interval=daily", 200),
    ex("creditTrends", Partner, "GET", "/analytics/credit-trends?interval=monthly&reseller=$REFID", 200),
    ex("totalCredits", Admin, "GET", "/analytics/total-credits", 200),
    ex("upgradeCandidates", Admin, "GET", "/analytics/upgrade-candidates", 200),
];

/// What a reader runs first, in a shell beside `make dev`; the test does the same.
const SETUP: &str = "export CARGO_TARGET_DIR=$HOME/.cache/ally-target   # where make builds: cargo run reuses it
export ALLY=http://127.0.0.1:3000
export ADMIN=$(make -s token USER_ID=ops ADMIN=1)
export PARTNER=$(make -s token USER_ID=partner-1)
export NEWCOMER=$(make -s token USER_ID=partner-2)";

/// The payment webhook, signed as a provider signs it (with the dev server's secret, which
/// `make dev` prints).
const PAYMENT: &str = r#"{"id": "evt_1", "type": "payment.succeeded", "reseller_refid": "$REFID", "amount_minor": 2500, "currency": "USD"}"#;

/// The Stripe webhook, as `ally-local stripe-event` sends it (signed with the dev
/// server's Stripe secret).
const STRIPE: &str =
    "cargo run -q -p ally-local -- stripe-event checkout.session.completed --refid $REFID --amount 1000";

/// Each problem status and the codes it comes with.
const CODES: &[(u16, &str)] = &[
    (400, "`idempotency_key_required`"),
    (401, "`unauthorized`, `invalid_signature` (webhooks)"),
    (402, "`insufficient_credits`"),
    (403, "`forbidden`, `provisioning_on_hold`, `reseller_inactive`, `tier_not_allowed`"),
    (404, "`not_found`"),
    (409, "`already_exists`, `idempotency_conflict`, `hold_closed`"),
    (413, "`payload_too_large`"),
    (422, "`validation_failed`, `reversal_exceeds_original`"),
    (503, "`busy`, `throttled` (come back later, with the same key)"),
];

/// The codes of a status that operation `id` may answer: the webhooks' signature, the
/// spends' refusals, the holds' and reversals' own.
fn codes_of(id: &str, codes: &str) -> String {
    let spends = ["provision", "bulkOnboard", "placeHold", "captureHold"];
    let keep = |code: &str| match code {
        "`invalid_signature` (webhooks)" => id.ends_with("Webhook"),
        "`unauthorized`" => !id.ends_with("Webhook"),
        "`provisioning_on_hold`" | "`reseller_inactive`" | "`tier_not_allowed`" => spends.contains(&id),
        "`hold_closed`" => id == "captureHold" || id == "voidHold",
        "`reversal_exceeds_original`" => id == "reverseEntry",
        _ => true,
    };
    codes.split(", ").filter(|c| keep(c)).collect::<Vec<_>>().join(", ")
}

/// `text` with each `$NAME` kept so far filled in (the longer names first: `$HOLD2` is not
/// `$HOLD` and a 2).
fn fill(text: &str, kept: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = kept.keys().collect();
    names.sort_by_key(|name| std::cmp::Reverse(name.len()));
    names.into_iter().fold(text.to_string(), |text, name| text.replace(&format!("${name}"), &kept[name]))
}

/// `body` single-quoted for a shell, each `$NAME` left for the shell to fill in.
fn quoted(body: &str) -> String {
    let mut out = String::from("'");
    let mut rest = body;
    while let Some(at) = rest.find('$') {
        let name_len = rest[at + 1..]
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(rest.len() - at - 1);
        out.push_str(&rest[..at]);
        out.push_str(&format!("'\"${}\"'", &rest[at + 1..at + 1 + name_len]));
        rest = &rest[at + 1 + name_len..];
    }
    out.push_str(rest);
    out.push('\'');
    out
}

/// The example as the shell command a reader copies.
fn curl(e: &Example) -> String {
    let mut lines = vec![format!("curl -s -X {} \"$ALLY{}\"", e.method, e.path)];
    match e.who {
        Nobody => {}
        Admin => lines.push("-H \"Authorization: Bearer $ADMIN\"".into()),
        Partner => lines.push("-H \"Authorization: Bearer $PARTNER\"".into()),
        Newcomer => lines.push("-H \"Authorization: Bearer $NEWCOMER\"".into()),
    }
    if let Some(key) = e.key {
        lines.push(format!("-H 'Idempotency-Key: {key}'"));
    }
    if let Some(body) = e.body {
        lines.push("-H 'Content-Type: application/json'".into());
        lines.push(format!("-d {}", quoted(body)));
    }
    lines.join(" \\\n  ")
}

/// A schema's type as a reader needs it: its name, its values, or its JSON type.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        return format!("`{}`", reference.rsplit('/').next().unwrap_or(reference));
    }
    if let Some(values) = schema["enum"].as_array() {
        return values.iter().filter_map(Value::as_str).map(|v| format!("`{v}`")).collect::<Vec<_>>().join(" \\| ");
    }
    for list in ["anyOf", "oneOf"] {
        if let Some(options) = schema[list].as_array() {
            let named: Vec<String> =
                options.iter().filter(|o| o["type"] != "null").map(type_of).filter(|t| !t.is_empty()).collect();
            return named.join(" or ");
        }
    }
    match &schema["type"] {
        Value::String(t) if t == "array" => format!("list of {}", type_of(&schema["items"])),
        Value::String(t) if t == "object" && schema["additionalProperties"].is_object() => {
            format!("map of {}", type_of(&schema["additionalProperties"]))
        }
        Value::String(t) => t.clone(),
        Value::Array(types) => {
            types.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect::<Vec<_>>().join(" or ")
        }
        _ => String::new(),
    }
}

/// The fields of the schema `schema` refers to, as a table.
fn fields(doc: &Value, schema: &Value) -> String {
    let name = schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()).unwrap_or_default();
    let object = &doc["components"]["schemas"][name];
    let Some(properties) = object["properties"].as_object() else { return String::new() };
    let required: Vec<&str> = object["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let mut out = format!("`{name}`:\n\n| field | type | | what |\n| --- | --- | --- | --- |\n");
    for (field, property) in properties {
        let what = property["description"].as_str().unwrap_or_default().replace('\n', " ");
        let needed = if required.contains(&field.as_str()) { "required" } else { "" };
        let _ = writeln!(out, "| `{field}` | {} | {needed} | {what} |", type_of(property));
    }
    out
}

/// An operation of the document: its path, its method and itself.
type Documented<'a> = (&'a str, &'a str, &'a Value);

/// `docs/api.md` as the document and the examples make it (long: the page, section by section).
fn reference(doc: &Value) -> String {
    let mut out = String::from(include_str!("reference_intro.md"));
    let _ = writeln!(out, "```sh\n{SETUP}\n```\n");
    out.push_str(
        "Examples build on each other, in the order below: where one says *keep*, set the variable from its \
         answer (`export REFID=...`) before the next.\n\n## Problems\n\nEvery error is \
         `application/problem+json` (`type`, `title`, `status`, `detail`, `code`) and changes nothing. \
         The codes:\n\n| status | codes |\n| --- | --- |\n",
    );
    for (status, codes) in CODES {
        let _ = writeln!(out, "| {status} | {codes} |");
    }
    // The functions in deployment order, then the routes every function serves.
    let mut tags: Vec<(&str, Vec<Documented>)> =
        ally::http::FUNCTIONS.iter().map(|(tag, _)| (*tag, Vec::new())).chain([("meta", Vec::new())]).collect();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for (method, op) in methods.as_object().unwrap() {
            let tag = op["tags"][0].as_str().unwrap();
            let (_, ops) = tags.iter_mut().find(|(t, _)| *t == tag).expect("a function's tag");
            ops.push((path, method, op));
        }
    }
    for (tag, ops) in tags {
        let _ = writeln!(out, "\n## The `{tag}` function\n");
        for (path, method, op) in ops {
            let id = op["operationId"].as_str().unwrap();
            let _ = writeln!(out, "\n### `{} {path}`\n", method.to_uppercase());
            let _ = writeln!(out, "{}.", op["summary"].as_str().unwrap_or_default());
            if let Some(description) = op["description"].as_str().filter(|d| !d.is_empty()) {
                let _ = writeln!(out, "\n{description}");
            }
            let who = match op["security"].as_array().map(Vec::len) {
                Some(0) => "no token",
                _ => "a bearer token",
            };
            let _ = writeln!(out, "\nNeeds {who}.");
            let params: Vec<&Value> = op["parameters"].as_array().into_iter().flatten().collect();
            if !params.is_empty() {
                out.push_str("\n| parameter | in | |\n| --- | --- | --- |\n");
                for p in params {
                    let what = p["description"].as_str().unwrap_or_default();
                    let _ =
                        writeln!(out, "| `{}` | {} | {what} |", p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
                }
            }
            if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
                let _ = write!(out, "\nBody: {}", fields(doc, &Value::Object(body.clone())));
            }
            for e in EXAMPLES.iter().filter(|e| e.op == id) {
                let _ = writeln!(out, "\n```sh\n{}\n```", curl(e));
                for (name, pointer) in e.keep {
                    let _ = writeln!(
                        out,
                        "\nKeep `{}` of the answer as `${name}`.",
                        pointer.trim_start_matches('/').replace('/', ".")
                    );
                }
            }
            if id == "paymentWebhook" {
                let _ = writeln!(out, "\n```sh\n{}\n```", payment_example());
            }
            if id == "stripeWebhook" {
                let _ = writeln!(out, "\n```sh\n{STRIPE}\n```");
            }
            let mut answers = Vec::new();
            let mut problems = Vec::new();
            for (status, answer) in op["responses"].as_object().unwrap() {
                let schema = &answer["content"]["application/json"]["schema"];
                match status.parse::<u16>().ok().and_then(|s| CODES.iter().find(|(c, _)| *c == s)) {
                    Some((code, codes)) => problems.push(format!("{code} {}", codes_of(id, codes))),
                    None if schema.is_null() => answers.push(format!("{status}, no body")),
                    None => answers.push(format!("{status} {}", type_of(schema))),
                }
            }
            let _ = writeln!(out, "\nAnswers {}.", answers.join("; "));
            if !problems.is_empty() {
                let _ = writeln!(out, "\nProblems: {}.", problems.join("; "));
            }
        }
    }
    out.push_str("\n## Types\n\nThe bodies and answers named above, field by field.\n");
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let table = fields(doc, &serde_json::json!({"$ref": format!("#/components/schemas/{name}")}));
        if let Some((_, rows)) = table.split_once("\n\n") {
            let _ = writeln!(out, "\n### {name}\n\n{}", rows.trim_end());
        }
    }
    out
}

/// The payment webhook's example: the body, its signature with the dev server's secret, the call.
fn payment_example() -> String {
    format!(
        "BODY='{}'\nT=$(date +%s)\nSIG=$(printf '%s.%s' \"$T\" \"$BODY\" | openssl dgst -sha256 -hmac \"$ALLY_WEBHOOK_SECRET\" | sed 's/^.* //')\n\
         curl -s -X POST \"$ALLY/webhooks/payments\" -H \"Ally-Signature: t=$T,v1=$SIG\" -H 'Content-Type: application/json' -d \"$BODY\"",
        PAYMENT.replace("$REFID", "'\"$REFID\"'")
    )
}

fn mint(data: &std::path::Path, args: &[&str]) -> String {
    let out =
        std::process::Command::new(binary()).arg("token").args(args).env("ALLY_LOCAL_DATA", data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Every example, in order, against one dev server, then the page (long: one run of them all).
#[test]
fn the_reference_is_what_the_api_answers() {
    let data = std::env::temp_dir().join(format!("ally-reference-{}", ulid::Ulid::new()));
    let server = DevServer::start(&data);
    let tokens: BTreeMap<&str, String> = [
        ("admin", mint(&data, &["ops", "--admin"])),
        ("partner", mint(&data, &["partner-1"])),
        ("newcomer", mint(&data, &["partner-2"])),
    ]
    .into();
    let mut kept: BTreeMap<String, String> = BTreeMap::new();
    let mut doc = Value::Null;
    for e in EXAMPLES {
        let token = match e.who {
            Nobody => "",
            Admin => &tokens["admin"],
            Partner => &tokens["partner"],
            Newcomer => &tokens["newcomer"],
        };
        let mut headers = vec![];
        if let Some(key) = e.key {
            headers.push(("Idempotency-Key", key));
        }
        let body = e.body.map(|b| serde_json::from_str::<Value>(&fill(b, &kept)).expect("an example's body is JSON"));
        let (status, answer) = server.request_with(e.method, &fill(e.path, &kept), token, &headers, body);
        assert_eq!(status, e.status, "{} {}: {answer}", e.method, e.path);
        for (name, pointer) in e.keep {
            let value = answer.pointer(pointer).and_then(Value::as_str).expect("a value to keep");
            kept.insert(name.to_string(), value.to_string());
        }
        if e.op == "openapi" {
            doc = answer;
        }
    }
    // The webhooks, as the reference shows them.
    let body: Value = serde_json::from_str(&fill(PAYMENT, &kept)).unwrap();
    // Signed as sent: the request carries the body as `Value::to_string` writes it.
    let signature = server.sign_payment(&body.to_string());
    let headers = [("Ally-Signature", signature.as_str())];
    let (status, answer) = server.request_with("POST", "/webhooks/payments", "", &headers, Some(body));
    assert_eq!(status, 200, "the payment webhook: {answer}");
    let stripe: Vec<String> = fill(STRIPE, &kept).split(" ").skip(6).map(String::from).collect();
    let sent = std::process::Command::new(binary())
        .args(&stripe)
        .args(["--url", &format!("http://127.0.0.1:{}", server.port)])
        .env("ALLY_LOCAL_DATA", &data)
        .output()
        .unwrap();
    assert!(sent.status.success(), "stripe-event: {}", String::from_utf8_lossy(&sent.stderr));
    let documented: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|m| m.as_object().unwrap().values().map(|op| op["operationId"].as_str().unwrap()))
        .collect();
    for id in &documented {
        let shown = EXAMPLES.iter().any(|e| e.op == *id) || ["paymentWebhook", "stripeWebhook"].contains(id);
        assert!(shown, "{id} has no example in the reference");
    }
    server.stop();

    let made = reference(&doc);
    let path = ally_tests::workspace().join("docs/api.md");
    if std::env::var("ALLY_WRITE_DOCS").is_ok() {
        std::fs::write(&path, &made).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == made,
        "docs/api.md is not what the API and its examples make: ALLY_WRITE_DOCS=1 cargo test -p ally-tests --test integration reference"
    );
    let _ = std::fs::remove_dir_all(data);
}
