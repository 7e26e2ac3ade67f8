//! Least privilege, checked: each function's IAM actions in `template.yaml` against the
//! calls its code makes. Every route of every HTTP function and the work of every event
//! function runs here through SDK clients that record the actions they need (and the table
//! or index each acts on); the template's policy of the function must grant exactly those,
//! plus what Lambda itself does for it (putting a failure on its on-failure queue).

use std::collections::{BTreeMap, BTreeSet};

use ally::Config;
use ally::config::Secret;
use ally::events::bus::EventBridgeBus;
use ally::events::handlers;
use ally::events::mail::SesMailer;
use ally::events::parking::SqsParking;
use ally::store::dynamo::DynamoStore;
use ally_tests::sdk::Actions;
use ally_tests::{Answer, TestApi};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::Datelike;
use serde_json::{Value, json};
use serde_norway::Value as Yaml;

use crate::template::{functions, template};

/// What a tagged intrinsic names: `!GetAtt AllyTable.Arn` is `table`, `!Sub
/// "${AllyTable.Arn}/index/by-day"` is `index/by-day`; anything else, itself.
fn resource(value: &Yaml) -> String {
    let text = match value {
        Yaml::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    };
    match text.split_once("${AllyTable.Arn}/") {
        Some((_, index)) => index.to_string(),
        None if text == "AllyTable.Arn" => "table".into(),
        None => text,
    }
}

fn strings(value: &Yaml) -> Vec<&Yaml> {
    match value {
        Yaml::Sequence(items) => items.iter().collect(),
        one => vec![one],
    }
}

/// The actions a function's policies grant, as the recorder names them: its `Policies`, or
/// those of the role it names.
fn granted(template: &Yaml, properties: &Yaml) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let role = match &properties["Role"] {
        Yaml::Tagged(tagged) => tagged.value.as_str().and_then(|r| r.strip_suffix(".Arn")),
        _ => None,
    };
    let policies: Vec<Yaml> = match role {
        Some(role) => template["Resources"][role]["Properties"]["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|p| p["PolicyDocument"].clone())
            .collect(),
        // A managed policy of the template (`!Ref MailSender`) stands for its document.
        None => properties["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .map(|p| match p {
                Yaml::Tagged(tagged) if tagged.tag == "Ref" => {
                    let name = tagged.value.as_str().expect("a resource name");
                    template["Resources"][name]["Properties"]["PolicyDocument"].clone()
                }
                other => other.clone(),
            })
            .collect(),
    };
    for policy in &policies {
        if policy.get("SQSSendMessagePolicy").is_some() {
            out.insert("sqs:SendMessage".to_string());
        }
        if policy.get("EventBridgePutEventsPolicy").is_some() {
            out.insert("events:PutEvents".to_string());
        }
        for statement in policy.get("Statement").map(strings).unwrap_or_default() {
            let resources: Vec<String> = strings(&statement["Resource"]).into_iter().map(resource).collect();
            for action in strings(&statement["Action"]).into_iter().filter_map(Yaml::as_str) {
                if action.starts_with("dynamodb:") {
                    out.extend(resources.iter().map(|r| format!("{action}@{r}")));
                } else {
                    out.insert(action.to_string());
                }
            }
        }
    }
    out
}

/// What Lambda does with the function's role: put a failed event or batch on its
/// on-failure queue; for a stream consumer, read the table's stream; for a function with a
/// role of its own (SAM adds these to the roles it makes), write its logs.
fn platform(properties: &Yaml) -> BTreeSet<String> {
    let destination = |config: &Yaml| config["DestinationConfig"]["OnFailure"]["Type"] == "SQS";
    let streams: Vec<&Yaml> = properties["Events"]
        .as_mapping()
        .into_iter()
        .flat_map(|e| e.values())
        .filter(|e| e["Type"] == "DynamoDB")
        .collect();
    let mut out = BTreeSet::new();
    if destination(&properties["EventInvokeConfig"]) || streams.iter().any(|e| destination(&e["Properties"])) {
        out.insert("sqs:SendMessage".to_string());
    }
    if !streams.is_empty() {
        for action in ["DescribeStream", "GetRecords", "GetShardIterator"] {
            out.insert(format!("dynamodb:{action}@AllyTable.StreamArn"));
        }
        out.insert("dynamodb:ListStreams@*".to_string());
    }
    if properties.get("Role").is_some() {
        out.extend(["logs:CreateLogStream".to_string(), "logs:PutLogEvents".to_string()]);
    }
    out
}

/// Runs requests through the merged router and files each one's actions under the
/// function that serves its route.
struct Requests {
    api: TestApi<DynamoStore>,
    actions: Actions,
    used: BTreeMap<String, BTreeSet<String>>,
    admin: String,
}

impl Requests {
    async fn send(
        &mut self,
        function: &str,
        method: &str,
        path: &str,
        token: &str,
        key: Option<&str>,
        body: Value,
    ) -> Answer {
        let mut headers = vec![("authorization", format!("Bearer {token}"))];
        if let Some(key) = key {
            headers.push(("idempotency-key", key.to_string()));
        }
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let body = if body.is_null() { Vec::new() } else { serde_json::to_vec(&body).unwrap() };
        let answer = self.api.send(method, path, None, &headers, body).await;
        assert!(answer.status < 300, "{method} {path}: {answer:?}");
        self.used.entry(function.into()).or_default().extend(self.actions.take());
        answer
    }
}

/// Every route of every HTTP function, each succeeding (long: a list of every route, in the
/// order the data they need is made).
async fn http_functions(actions: &Actions, store: DynamoStore) -> BTreeMap<String, BTreeSet<String>> {
    let config = Config { stripe_webhook_secret: Some(Secret::new(ally_tests::stripe::SECRET)), ..Config::default() };
    let api = TestApi::new(store, config);
    let admin = api.token("admin-1", true);
    let mut r = Requests { api, actions: actions.clone(), used: BTreeMap::new(), admin };
    let admin = r.admin.clone();
    let p = r.api.token("p", false);
    let me = r.send("onboarding", "POST", "/resellers", &p, None, json!({"company": "P Ltd"})).await;
    let refid = me.body["refid"].as_str().unwrap().to_string();
    let up = r.send("onboarding", "POST", "/resellers", &admin, None, json!({"company": "Up", "user_id": "up"})).await;
    let up = up.body["refid"].as_str().unwrap().to_string();
    let c = r.send("onboarding", "POST", "/resellers", &admin, None, json!({"company": "C", "user_id": "c"})).await;
    let child = c.body["refid"].as_str().unwrap().to_string();
    let o = "onboarding";
    r.send(o, "PATCH", &format!("/resellers/{refid}"), &admin, None, json!({"parent_refid": up, "tier": "gold"})).await;
    r.send(o, "PATCH", &format!("/resellers/{child}"), &admin, None, json!({"parent_refid": up})).await;
    r.send(o, "PATCH", &format!("/resellers/{child}"), &admin, None, json!({"parent_refid": refid})).await;
    for path in ["/resellers/me", "/resellers/me/stats", "/resellers/me/transactions", "/resellers/me/lots"] {
        r.send(o, "GET", path, &p, None, Value::Null).await;
    }
    r.send(o, "GET", "/resellers/me/sub-resellers", &p, None, Value::Null).await;
    let invite = r.send(o, "GET", "/resellers/me/invite", &p, None, Value::Null).await;
    let newcomer = r.api.token("newcomer", false);
    let joined = json!({"company": "Invited", "invited_by": invite.body["invited_by"]});
    r.send(o, "POST", "/resellers", &newcomer, None, joined).await;
    r.send(o, "GET", &format!("/resellers/{refid}/sub-resellers"), &admin, None, Value::Null).await;
    r.send(o, "PUT", "/resellers/me/alerts", &p, None, json!({"thresholds": [100], "runway_days": 10})).await;
    r.send(o, "GET", "/resellers/me/alerts", &p, None, Value::Null).await;
    let rule = json!({"below": 100, "target": 500, "monthly_cap": 10_000});
    r.send(o, "PUT", "/resellers/me/auto-top-up", &p, None, rule).await;
    r.send(o, "GET", "/resellers/me/auto-top-up", &p, None, Value::Null).await;
    r.send(o, "DELETE", "/resellers/me/auto-top-up", &p, None, Value::Null).await;
    r.send(o, "GET", &format!("/resellers/{refid}/transactions"), &admin, None, Value::Null).await;
    r.send(o, "PATCH", "/resellers/me/metadata", &p, None, json!({"company_name": "P Two"})).await;
    r.send(o, "GET", "/resellers?user_id=p", &admin, None, Value::Null).await;
    r.send(o, "GET", "/resellers?tier=gold", &admin, None, Value::Null).await;
    r.send(o, "GET", "/resellers?status=active", &admin, None, Value::Null).await;
    r.send(o, "GET", &format!("/resellers/{refid}"), &admin, None, Value::Null).await;

    let a = "add-credits";
    let credited =
        r.send(a, "POST", &format!("/resellers/{refid}/credits"), &admin, Some("c-1"), json!({"amount": 5_000})).await;
    let entry = credited.body["transaction"]["id"].as_str().unwrap().to_string();
    // Promotional credit that expires tomorrow: the sweeper writes its expiry down.
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let promotion = json!({"amount": 200, "promotional": true, "expires_at": tomorrow, "reason": "a promotion"});
    r.send(a, "POST", &format!("/resellers/{refid}/credits"), &admin, Some("c-2"), promotion).await;
    let reversal = json!({"entry_id": entry, "amount": 100, "reason": "a mistake"});
    r.send(a, "POST", &format!("/resellers/{refid}/reversals"), &admin, Some("rev-1"), reversal).await;
    r.send(a, "POST", "/resellers/me/transfers", &p, Some("t-1"), json!({"to_refid": child, "amount": 100})).await;
    let moved = json!({"from_refid": refid, "to_refid": child, "amount": 50});
    r.send(a, "POST", "/resellers/transfers", &admin, Some("t-2"), moved).await;
    let payment = serde_json::to_vec(&json!({"id": "evt_1", "type": "payment.succeeded", "reseller_refid": refid,
        "amount_minor": 500, "currency": "USD"}))
    .unwrap();
    let signed = ally::http::webhook::sign(&r.api.webhook_secret, chrono::Utc::now().timestamp(), &payment);
    let answer = r.api.send("POST", "/webhooks/payments", None, &[("ally-signature", &signed)], payment).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let session = ally_tests::stripe::checkout_session("cs_1", "pi_1", &refid, 1_000, "usd", true);
    let event = ally_tests::stripe::event("evt_s1", "checkout.session.completed", session, false).to_string();
    let header = ally_tests::stripe::signature(&event, ally_tests::stripe::SECRET, chrono::Utc::now().timestamp());
    let answer =
        r.api.send("POST", "/webhooks/stripe", None, &[("stripe-signature", &header)], event.into_bytes()).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    r.used.entry(a.into()).or_default().extend(r.actions.take());

    let v = "provision";
    r.send(v, "GET", "/products", &p, None, Value::Null).await;
    r.send(v, "POST", "/provision", &p, Some("b-1"), json!({"cost": 100})).await;
    let bulk = json!({"clients": [{"name": "Bulk One"}], "cost": 10});
    r.send(v, "POST", "/clients/bulk", &p, Some("bulk-1"), bulk).await;
    r.send(v, "GET", "/clients/bulk/bulk-1", &p, None, Value::Null).await;
    let held = r.send(v, "POST", "/holds", &p, Some("h-1"), json!({"cost": 100})).await;
    let hold = held.body["hold"]["id"].as_str().unwrap().to_string();
    r.send(v, "GET", "/holds", &p, None, Value::Null).await;
    r.send(v, "POST", &format!("/holds/{hold}/capture"), &p, Some("cap-1"), json!({"amount": 50})).await;
    let held = r.send(v, "POST", "/holds", &p, Some("h-2"), json!({"cost": 100})).await;
    let hold = held.body["hold"]["id"].as_str().unwrap().to_string();
    r.send(v, "POST", &format!("/holds/{hold}/void"), &p, Some("void-1"), Value::Null).await;
    // Left open for the sweeper to release; and a spend of the child, its parent's commission.
    r.send(v, "POST", "/holds", &p, Some("h-3"), json!({"cost": 100, "expires_in_s": 60})).await;
    let c = r.api.token("c", false);
    r.send(v, "POST", "/provision", &c, Some("c-buy"), json!({"cost": 50})).await;

    let c = "clients";
    let client = r.send(c, "POST", "/clients", &p, None, json!({"name": "Client One"})).await;
    let id = client.body["id"].as_str().unwrap().to_string();
    r.send(c, "GET", "/clients", &p, None, Value::Null).await;
    r.send(c, "GET", &format!("/clients/{id}"), &p, None, Value::Null).await;

    for path in [
        "/analytics/top-resellers",
        "/analytics/upgrade-candidates",
        "/analytics/tier-snapshot",
        "/analytics/credit-trends",
        "/analytics/total-credits",
    ] {
        r.send("analytics", "GET", path, &admin, None, Value::Null).await;
    }
    r.used
}

fn event(source: &str, detail_type: &str, detail: Value) -> EventBridgeEvent<Value> {
    serde_json::from_value(json!({"version": "0", "id": ulid::Ulid::new().to_string(), "detail-type": detail_type,
        "source": source, "account": "123456789012", "time": chrono::Utc::now(), "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/ally-MonthlyReportFunction"], "detail": detail}))
    .unwrap()
}

/// The work of every event function, on the table the HTTP functions filled (long: a list
/// of every function's work).
async fn event_functions(actions: &Actions, store: DynamoStore) -> BTreeMap<String, BTreeSet<String>> {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let config = Config {
        hold_on_low_credit: true,
        auto_upgrade: true,
        upgrade_acquisitions: 1,
        admin_email: Some("admin@ally.example".into()),
        commissions: "10".parse().unwrap(),
        ..Config::default()
    };
    let hands = ally_tests::Hands::default();
    let ally = ally::Ally::new(store.clone(), config).with_clock(hands.clock());
    let sdk = ally_tests::sdk_config();
    let bus_name = format!("ally-{}", ulid::Ulid::new().to_string().to_lowercase());
    aws_sdk_eventbridge::Client::new(&sdk).create_event_bus().name(&bus_name).send().await.unwrap();
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let poison = sqs.create_queue().queue_name(&bus_name).send().await.unwrap().queue_url.unwrap();
    let sender = "ally@ally.example";
    aws_sdk_sesv2::Client::new(&sdk).create_email_identity().email_identity(sender).send().await.unwrap();
    let mailer = SesMailer::new(actions.ses_client(), sender, 1_000);
    actions.take();

    // The publisher: a bus that takes the events, then one that is gone (parked).
    // The test's own reads of the stream are no function's.
    let batch = ally_tests::stream::stream_batch(&store).await;
    let windows = ally_tests::stream::stream_records(&store).await;
    actions.take();
    let bus = EventBridgeBus::new(actions.eventbridge_client(), bus_name);
    let parking = SqsParking::new(actions.sqs_client(), Some(poison));
    handlers::publish_stream(&ally, &bus, &parking, batch.clone()).await;
    let gone = EventBridgeBus::new(actions.eventbridge_client(), "no-such-bus");
    handlers::publish_stream(&ally, &gone, &parking, batch).await;
    used.insert("stream-publisher".into(), actions.take());

    for (shard, records) in windows {
        ally::events::figures::count_window(&store, ally_tests::stream::final_window(&shard, &records)).await.unwrap();
    }
    used.insert("network-figures".into(), actions.take());

    // The notifier: a partner really low (held, mailed), and SES's word on an address.
    ally_tests::onboarded(&ally, "low", ally::domain::Tier::Standard, Some("low@partners.example")).await;
    actions.take();
    let low = json!({"event_id": "low-1", "occurred_at": chrono::Utc::now(), "reseller": {"user_id": "low"},
        "balance": 0, "available": 0, "threshold": 500, "company": "x"});
    handlers::low_credit(&ally, &mailer, event("ally", "LowCredit", low)).await.unwrap();
    let bounce = json!({"bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "x@y.example"}]}});
    handlers::low_credit(&ally, &mailer, event("aws.ses", "Email Bounced", bounce)).await.unwrap();
    used.insert("low-credit-notifier".into(), actions.take());

    // The reward: one referral of a user who is not a reseller yet (kept), then paid when
    // they onboard; one of a reseller (recruited and paid).
    let referral = |id: &str, referred: &str| json!({"referral_id": id, "referrer_user_id": "p", "referred_user_id": referred, "tag": "become-partner"});
    let kept = handlers::referral(&ally, event("refer", "ReferralCompleted", referral("r-1", "later"))).await.unwrap();
    assert_eq!(kept, ally::events::reactions::Handled::Waiting);
    let mut reward = actions.take();
    let later = ally_tests::onboarded(&ally, "later", ally::domain::Tier::Standard, None).await;
    actions.take();
    let joined = json!({"event_id": "j-1", "occurred_at": chrono::Utc::now(),
        "reseller": {"user_id": "later", "refid": later.refid}, "tier": "standard", "company": "later Ltd"});
    let paid = handlers::referral(&ally, event("ally", "ResellerOnboarded", joined)).await.unwrap();
    assert_eq!(paid, ally::events::reactions::Handled::Done, "the waiting referral paid at the onboarding");
    reward.extend(actions.take());
    ally_tests::onboarded(&ally, "now", ally::domain::Tier::Standard, None).await;
    actions.take();
    handlers::referral(&ally, event("refer", "ReferralCompleted", referral("r-2", "now"))).await.unwrap();
    reward.extend(actions.take());
    used.insert("referral-reward".into(), reward);

    // This month's report (its partners' clients make one a candidate, upgraded).
    let today = chrono::Utc::now().date_naive();
    let month = today.with_day(1).unwrap();
    ally::events::report::run_monthly_report(&ally, &mailer, month, today, || true).await.unwrap();
    used.insert("monthly-report".into(), actions.take());

    // Two days on: the hold and the promotional lot expired, the day's commission due.
    hands.advance(chrono::Duration::days(2));
    let swept = handlers::sweep(&ally).await.unwrap();
    assert!(swept.holds_released + swept.lots_expired + swept.commissions_settled >= 3, "{swept:?}");
    used.insert("sweeper".into(), actions.take());
    used
}

/// Grants the scenario above does not reach, each with the path that needs it. Each must
/// still be granted, so the list cannot outlive the policy.
const NOT_REACHED: &[(&str, &str, &str)] = &[
    ("add-credits", "dynamodb:DeleteItem@table", "a credit that empties a lot kept beside a wallet with many lots"),
    ("provision", "dynamodb:DeleteItem@table", "a spend that empties a lot kept beside a wallet with many lots"),
    ("low-credit-notifier", "dynamodb:DeleteItem@table", "a hold written on a wallet with lots kept beside it"),
    ("sweeper", "dynamodb:DeleteItem@table", "an expiry of a lot kept beside a wallet with many lots"),
    ("low-credit-notifier", "dynamodb:Query@table", "the lots kept beside a wallet, read with its profile"),
    ("provision", "dynamodb:BatchWriteItem@table", "the clients of a bulk larger than one transaction"),
    (
        "sweeper",
        "dynamodb:BatchWriteItem@table",
        "the clients of a bulk its caller abandoned, larger than one transaction",
    ),
    ("clients", "dynamodb:BatchGetItem@table", "the profiles of clients' services read at once"),
    ("analytics", "dynamodb:GetItem@table", "a single counter or checkpoint read by key"),
    ("monthly-report", "dynamodb:Query@index/by-day", "a summary over a range that is not whole months"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_functions_policy_grants_exactly_what_its_code_calls() {
    let actions = Actions::default();
    let store = actions.store().await;
    let mut used = http_functions(&actions, store.clone()).await;
    used.extend(event_functions(&actions, store).await);
    let mut wrong = Vec::new();
    let template = template();
    for (binary, properties) in functions(&template) {
        let mut needed = used.remove(&binary).unwrap_or_default();
        needed.extend(platform(&properties));
        let granted = granted(&template, &properties);
        let unreached: BTreeSet<String> =
            NOT_REACHED.iter().filter(|(b, ..)| *b == binary).map(|(_, action, _)| action.to_string()).collect();
        let stale: Vec<_> = unreached.difference(&granted).collect();
        assert!(stale.is_empty(), "{binary}: NOT_REACHED names grants the template no longer has: {stale:?}");
        needed.extend(unreached);
        let lacks: Vec<_> = needed.difference(&granted).collect();
        let unused: Vec<_> = granted.difference(&needed).collect();
        if !lacks.is_empty() || !unused.is_empty() {
            wrong.push(format!("{binary}: lacks {lacks:?}; grants unused {unused:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
