//! DynamoDB calls per request for every route, counted by an SDK interceptor on the
//! client the store uses (against the emulator), next to the fewest calls the operation
//! could make with the same guarantees.

use ally::Config;
use ally_tests::TestApi;
use ally_tests::sdk::SdkCalls;
use serde_json::{Value, json};

use super::Section;

/// One request of the survey: who sends it, and the fewest calls it needs.
struct Probe {
    method: &'static str,
    path: String,
    admin: bool,
    /// Sent as this user instead of the partner (a user without a profile yet).
    user: Option<&'static str>,
    body: Option<Value>,
    key: Option<&'static str>,
    minimum: u64,
    why: &'static str,
}

fn probe(method: &'static str, path: impl Into<String>, minimum: u64, why: &'static str) -> Probe {
    Probe { method, path: path.into(), admin: false, user: None, body: None, key: None, minimum, why }
}

impl Probe {
    fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
    fn sent_by(mut self, user: &'static str) -> Self {
        self.user = Some(user);
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    fn key(mut self, key: &'static str) -> Self {
        self.key = Some(key);
        self
    }
}

pub async fn run() -> Section {
    let calls = SdkCalls::default();
    let store = calls.store().await;
    let api = TestApi::new(store.clone(), Config::default());
    // A second process over the same table that has met no refid yet (a cold function).
    let cold = TestApi::new(store, Config::default());
    let admin = api.token("admin", true);
    let partner = api.token("partner-1", false);
    let created = api
        .call(
            "POST",
            "/resellers",
            Some(&admin),
            Some(json!({"company": "P1", "user_id": "partner-1", "tier": "gold"})),
        )
        .await;
    let refid = created.body["refid"].as_str().expect("refid").to_string();
    api.call_with_key("POST", &format!("/resellers/{refid}/credits"), &admin, "open", json!({"amount": 100_000})).await;
    let client = api.call("POST", "/clients", Some(&partner), Some(json!({"name": "First"}))).await;
    let client_id = client.body["id"].as_str().expect("client id").to_string();
    let today = chrono::Utc::now().date_naive();
    let month_ago = (today - chrono::Duration::days(29)).format("%Y-%m-%d");
    let year_ago = (today - chrono::Duration::days(364)).format("%Y-%m-%d");
    let today = today.format("%Y-%m-%d");
    let now = chrono::Utc::now().timestamp();
    let payment = serde_json::to_vec(&json!({"id": "evt-1", "type": "payment.succeeded", "reseller_refid": refid,
        "amount_minor": 500, "currency": "USD"}))
    .expect("JSON");
    let signature = ally::http::webhook::sign(&api.webhook_secret, now, &payment);

    let probes = vec![
        probe(
            "POST",
            "/resellers",
            1,
            "one transaction: profile, refid and user uniqueness (tier counts from the stream)",
        )
        .sent_by("newcomer")
        .body(json!({"company": "Self Ltd"})),
        probe(
            "GET",
            "/resellers/me",
            2,
            "one GetItem, and one Query of the last 30 days' counters (the runway), at once",
        ),
        probe("GET", "/resellers/me/stats", 2, "the same (the totals live on the profile)"),
        probe("GET", "/resellers/me/alerts", 1, "one GetItem"),
        probe("PUT", "/resellers/me/auto-top-up", 2, "the wallet read for its version, one write of the rule")
            .body(json!({"below": 100, "target": 1_000, "monthly_cap": 10_000})),
        probe("GET", "/resellers/me/auto-top-up", 1, "one GetItem"),
        probe("GET", "/resellers/me/transactions?limit=20", 1, "one Query"),
        probe(
            "PATCH",
            "/resellers/me/metadata",
            1,
            "one UpdateItem (2 near the 8 KiB limit, where it is merged exactly)",
        )
        .body(json!({"company_name": "Partner One"})),
        probe("GET", "/resellers?user_id=partner-1", 1, "one GetItem").admin(),
        probe("GET", format!("/resellers/{refid}"), 1, "the profile and metadata (the refid known to the process)")
            .admin(),
        probe(
            "PATCH",
            format!("/resellers/{refid}"),
            2,
            "the profile read for its version and the answer's metadata, one UpdateItem (the refid known)",
        )
        .admin()
        .body(json!({"tier": "platinum"})),
        probe("POST", format!("/resellers/{refid}/credits"), 2, "the wallet read, one transaction (the refid known)")
            .admin()
            .key("topup-1")
            .body(json!({"amount": 500})),
        probe("GET", "/products", 1, "the caller's tier"),
        probe("POST", "/provision", 2, "read the tier and balance, one transaction")
            .key("buy-1")
            .body(json!({"cost": 100})),
        probe("POST", "/provision", 2, "the same, the client checked inside the transaction")
            .key("buy-2")
            .body(json!({"cost": 100, "client_id": client_id})),
        probe("POST", "/clients", 1, "one transaction (client + profile count)").body(json!({"name": "Second"})),
        probe("POST", "/holds", 2, "read the tier and what is available, one transaction (wallet + hold)")
            .key("hold-1")
            .body(json!({"cost": 100})),
        probe("POST", "/clients/bulk", 2, "read the tier and balance, one transaction of 3 clients")
            .key("bulk-1")
            .body(json!({"clients": [{"name": "A"}, {"name": "B"}, {"name": "C"}], "cost": 100})),
        probe("GET", "/clients?limit=20", 1, "one Query"),
        probe("GET", format!("/clients/{client_id}"), 1, "one GetItem"),
        probe(
            "GET",
            format!("/analytics/top-resellers?start={month_ago}&end={today}"),
            122,
            "30 edge days x 4 shards of the keys-only by-day index, counters and profiles by key",
        )
        .admin(),
        probe("GET", "/analytics/tier-snapshot", 1, "one BatchGetItem of the 16 shards").admin(),
        probe(
            "GET",
            format!("/analytics/credit-trends?interval=monthly&start={year_ago}&end={today}"),
            48,
            "16 network shards x (days of the first month, whole months, days of the last month)",
        )
        .admin(),
        probe("GET", "/analytics/total-credits", 1, "one BatchGetItem of the 16 shards").admin(),
        probe("GET", "/health", 0, "no data"),
        probe("GET", "/openapi.json", 0, "no data"),
    ];
    let mut rows = Vec::new();
    for p in &probes {
        let own;
        let token = match (p.admin, p.user) {
            (true, _) => &admin,
            (false, Some(user)) => {
                own = api.token(user, false);
                &own
            }
            (false, None) => &partner,
        };
        calls.take();
        let answer = match (p.key, &p.body) {
            (Some(key), Some(body)) => api.call_with_key(p.method, &p.path, token, key, body.clone()).await,
            _ => api.call(p.method, &p.path, Some(token), p.body.clone()).await,
        };
        let by_operation = calls.take();
        let made: u64 = by_operation.values().sum();
        let detail: Vec<String> = by_operation.iter().map(|(op, n)| format!("{op} {n}")).collect();
        let route = p.path.split('?').next().unwrap_or("").replace(&refid, "{refid}").replace(&client_id, "{id}");
        rows.push(format!(
            "| {} {route} | {} | {made} | {} | {} | {} |",
            p.method,
            answer.status,
            p.minimum,
            detail.join(", "),
            p.why
        ));
    }
    calls.take();
    let webhook = api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signature)], payment).await;
    rows.push(counted(
        "POST /webhooks/payments",
        webhook.status,
        &calls,
        2,
        "the wallet read, one transaction (the refid known)",
    ));
    for (action, body) in [("capture", Some(json!({}))), ("void", None)] {
        let placed =
            api.call_with_key("POST", "/holds", &partner, &format!("hold-{action}"), json!({"cost": 100})).await;
        let id = placed.body["hold"]["id"].as_str().expect("a hold id").to_string();
        calls.take();
        let path = format!("/holds/{id}/{action}");
        let answer = match body {
            Some(body) => api.call_with_key("POST", &path, &partner, &format!("{action}-1"), body).await,
            None => api.send("POST", &path, Some(&partner), &[("idempotency-key", action)], Vec::new()).await,
        };
        let why =
            "read the hold, then the wallet, one transaction (wallet, hold, and the entry and service of a capture)";
        rows.push(counted(&format!("POST /holds/{{id}}/{action}"), answer.status, &calls, 3, why));
    }
    calls.take();
    let swept = ally::events::handlers::sweep(&api.app.ally).await.expect("a sweep");
    let why = "one query of each sparse partition (expired holds, expiring lots, pending fills, stale top-ups)";
    rows.push(counted("the sweeper, nothing due", format!("{swept:?}"), &calls, 4, why));
    // A promotional grant that expires in a second, then a sweep that writes its expiry down.
    let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let grant = json!({"amount": 300, "promotional": true, "expires_at": expires_at});
    let granted = api.call_with_key("POST", &format!("/resellers/{refid}/credits"), &admin, "grant-1", grant).await;
    assert_eq!(granted.status, 200, "{granted:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    calls.take();
    let swept = ally::events::handlers::sweep(&api.app.ally).await.expect("a sweep");
    let why = "the four queries, the lot items the index names, the wallet read to tell expire from settle \
               and again in the money loop, one transaction (wallet, expiry entry, lot, idempotency record)";
    rows.push(counted("the sweeper, one lot expiring", format!("{swept:?}"), &calls, 8, why));
    // The same top-up from a process that meets the refid for the first time.
    let admin_elsewhere = cold.token("admin", true);
    calls.take();
    let first = cold
        .call_with_key(
            "POST",
            &format!("/resellers/{refid}/credits"),
            &admin_elsewhere,
            "topup-2",
            json!({"amount": 500}),
        )
        .await;
    let why = "resolve the refid once (it names one user for good), then as above";
    rows.push(counted("POST /resellers/{refid}/credits, a cold process", first.status, &calls, 3, why));
    Section {
        title: "DynamoDB calls per request",
        body: format!(
            "Every route through the real router on the DynamoDB store, counted by an SDK interceptor \
             (attempts, so SDK retries would show). Minimum: the fewest calls the operation could make with \
             the same guarantees. A refid names one user for good, so a process remembers the refids it has \
             resolved: the rows marked \"the refid known\" are what a warm function makes.\n\n\
             | route | status | calls | minimum | calls made | the minimum is |\n| --- | ---: | ---: | ---: | --- | --- |\n{}\n",
            rows.join("\n")
        ),
    }
}

/// A row of the table for the calls made since the last count.
fn counted(route: &str, status: impl std::fmt::Display, calls: &SdkCalls, minimum: u64, why: &str) -> String {
    let by_operation = calls.take();
    let detail: Vec<String> = by_operation.iter().map(|(op, n)| format!("{op} {n}")).collect();
    format!(
        "| {route} | {status} | {} | {minimum} | {} | {why} |",
        by_operation.values().sum::<u64>(),
        detail.join(", ")
    )
}
