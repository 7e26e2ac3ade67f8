//! The real function binaries, run as Lambda runs them: each process talks to a Runtime API
//! served by this test (`/2018-06-01/runtime/invocation/next` and friends), receives the
//! API Gateway HTTP API v2 samples of `events/`, and uses the DynamoDB store on the emulator.
//! `make test` builds the binaries before the tests run.

use std::path::PathBuf;
use std::sync::Arc;

use ally::Ally;
use ally::service::NewReseller;
use ally_tests::{company, rid, uid};
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "whsec-lambda-test";
const MAIL_FROM: &str = "ally@lambda-test.example";

fn binary(name: &str) -> PathBuf {
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| ally_tests::workspace().join("target"));
    let path = target.join("debug").join(name);
    assert!(path.exists(), "{} is missing: build the functions first (`make test` does)", path.display());
    path
}

fn sample(name: &str) -> Value {
    let path = ally_tests::workspace().join("events").join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Starts the debug build of function `name` on the emulator's `table`.
struct Function;

impl Function {
    async fn start(name: &str, table: &str) -> ally_tests::runtime_api::Function {
        let env = [
            ("AWS_ENDPOINT_URL", ally_tests::emulator_endpoint()),
            ("ALLY_TABLE_NAME", table.to_string()),
            ("ALLY_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ("ALLY_STRIPE_WEBHOOK_SECRET", ally_tests::stripe::SECRET.to_string()),
            ("ALLY_CURSOR_SECRET", "cursor-lambda-test".to_string()),
            ("ALLY_EVENT_BUS", "ally-lambda-test".to_string()),
            ("ALLY_MAIL_FROM", MAIL_FROM.to_string()),
            ("ALLY_COGNITO_DOMAIN", "https://ally-test.auth.eu-west-1.amazoncognito.com".to_string()),
            ("ALLY_COGNITO_CLIENT_ID", "lambda-test-client".to_string()),
        ];
        ally_tests::runtime_api::Function::start(&binary(name), name, &env).await
    }
}

/// Every function binary, started as Lambda starts it, serving its sample events against
/// DynamoDB (long: the binaries share one table and run in the order the data needs; a test
/// per binary would start and fill it twelve times).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_binary_serves_its_samples_against_dynamodb() {
    let store = ally_tests::dynamo_store().await;
    let table = store.table().to_string();
    let seeded = Ally::new(store, ally::Config::default()).with_refids(Arc::new(|| rid("PARTNER001")));
    // With the address the notifier's sample names: a notice goes to the stored one only.
    let request = NewReseller {
        user_id: Some(uid("partner-1")),
        email: Some(ally_tests::email("partner-1@partners.example")),
        ..NewReseller::new(company("Partner One"))
    };
    seeded.onboard(&ally_tests::admin(), request).await.unwrap();

    let mut onboarding = Function::start("onboarding", &table).await;
    let (status, created) = onboarding.invoke(sample("onboarding-create-reseller")).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!((created["user_id"].as_str(), created["tier"].as_str()), (Some("partner-2"), Some("standard")));
    assert_eq!(created["email"], "partner-2@partners.example", "the email claim of the authorizer");
    let (status, me) = onboarding.invoke(sample("onboarding-get-me")).await;
    assert_eq!((status, me["refid"].as_str()), (200, Some("PARTNER001")));
    let (status, found) = onboarding.invoke(sample("onboarding-admin-find-by-refid")).await;
    assert_eq!((status, found["user_id"].as_str()), (200, Some("partner-1")));
    let mut not_admin = sample("onboarding-admin-find-by-refid");
    not_admin["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = json!("[partners]");
    let (status, problem) = onboarding.invoke(not_admin).await;
    assert_eq!((status, problem["code"].as_str()), (403, Some("forbidden")));
    let mut anonymous = sample("onboarding-get-me");
    anonymous["requestContext"].as_object_mut().unwrap().remove("authorizer");
    let (status, problem) = onboarding.invoke(anonymous).await;
    assert_eq!((status, problem["code"].as_str()), (401, Some("unauthorized")), "a header is not an identity");
    drop(onboarding);

    let mut credits = Function::start("add-credits", &table).await;
    let (status, first) = credits.invoke(sample("add-credits-admin")).await;
    assert_eq!((status, first["balance"].as_i64()), (200, Some(5_000)), "{first}");
    let (_, replay) = credits.invoke(sample("add-credits-admin")).await;
    assert_eq!(replay, first, "the same Idempotency-Key credits once");
    let (status, problem) = credits.invoke(sample("add-credits-webhook")).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("invalid_signature")),
        "the sample's signature is a placeholder"
    );
    let mut webhook = sample("add-credits-webhook");
    let body = webhook["body"].as_str().unwrap().as_bytes().to_vec();
    let signature = ally::http::webhook::sign(WEBHOOK_SECRET.as_bytes(), chrono::Utc::now().timestamp(), &body);
    webhook["headers"]["ally-signature"] = json!(signature);
    let (status, paid) = credits.invoke(webhook.clone()).await;
    assert_eq!((status, paid["balance"].as_i64()), (200, Some(7_500)), "{paid}");
    let (_, again) = credits.invoke(webhook).await;
    assert_eq!(again, paid, "a repeated event id credits nothing");
    // Stripe's event through API Gateway: the sample's placeholder is refused; signed by
    // Stripe's library it is taken (a reseller Ally does not know: recorded, acknowledged).
    let (status, problem) = credits.invoke(sample("add-credits-stripe")).await;
    assert_eq!((status, problem["code"].as_str()), (400, Some("invalid_signature")), "{problem}");
    let mut stripe = sample("add-credits-stripe");
    let body = stripe["body"].as_str().unwrap().replace("PARTNER001", "ZZZZZZZZZZ");
    let header = ally_tests::stripe::signature(&body, ally_tests::stripe::SECRET, chrono::Utc::now().timestamp());
    stripe["body"] = json!(body);
    stripe["headers"]["stripe-signature"] = json!(header);
    let (status, ack) = credits.invoke(stripe).await;
    assert_eq!((status, ack["outcome"].as_str()), (200, Some("unattributed")), "{ack}");
    drop(credits);

    let mut provision = Function::start("provision", &table).await;
    let (status, products) = provision.invoke(sample("provision-products")).await;
    assert_eq!(status, 200);
    assert!(products["items"].as_array().unwrap().iter().any(|p| p["id"] == "license-basic" && p["price"] == 1_000));
    let (status, bought) = provision.invoke(sample("provision-single")).await;
    assert_eq!(
        (status, bought["cost"].as_i64(), bought["balance"].as_i64()),
        (200, Some(1_000), Some(6_500)),
        "{bought}"
    );
    let (status, bulk) = provision.invoke(sample("provision-bulk")).await;
    assert_eq!((status, bulk["total"].as_i64(), bulk["balance"].as_i64()), (200, Some(1_000), Some(5_500)), "{bulk}");
    let mut too_dear = sample("provision-single");
    too_dear["headers"]["idempotency-key"] = json!("too-dear-1");
    too_dear["body"] = json!(json!({"cost": 1_000_000}).to_string());
    let (status, problem) = provision.invoke(too_dear).await;
    assert_eq!((status, problem["code"].as_str()), (402, Some("insufficient_credits")), "{problem}");
    // The business metrics of the provision and of the refusal, as CloudWatch would read
    // them from the log: the function's name (and the code) as dimensions, nothing of the
    // partner.
    let metrics: Vec<Value> = provision
        .stdout_lines()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line.get("_aws").is_some())
        .collect();
    let spent = metrics.iter().find(|m| m.get("CreditsSpent").is_some()).expect("the provision's metrics");
    assert_eq!((spent["CreditsSpent"].as_i64(), spent["Provisions"].as_i64()), (Some(1_000), Some(1)), "{spent}");
    assert_eq!(spent["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
    let refused = metrics.iter().find(|m| m["code"] == "insufficient_credits").expect("the refusal's metric");
    assert_eq!(refused["Refusals"], 1);
    assert_eq!(refused["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"], ["function", "code"]]));
    // The log line of the refusal carries the invocation's request id and the refid.
    let logged = provision.stdout_lines().into_iter().find(|l| l.contains("\"refused\"")).expect("a refusal logged");
    assert!(logged.contains("\"requestId\":\"req-") && logged.contains("\"refid\":\"PARTNER001\""), "{logged}");
    for line in &metrics {
        assert_eq!(line["function"], "provision", "{line}");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ally");
        let text = line.to_string();
        assert!(!text.contains("partner-1") && !text.contains("PARTNER001"), "no partner in a metric: {text}");
    }
    drop(provision);

    let mut clients = Function::start("clients", &table).await;
    let (status, client) = clients.invoke(sample("clients-create")).await;
    assert_eq!((status, client["name"].as_str()), (201, Some("Tailspin Toys")));
    let (status, list) = clients.invoke(sample("clients-list")).await;
    assert_eq!(status, 200);
    let names: Vec<_> =
        list["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names, vec!["Tailspin Toys", "Fabrikam", "Contoso"], "newest first");
    drop(clients);

    // The network's figures come from the stream in tumbling windows, counted by their own
    // function: a window's first invocation hands its sum on in the window's state, the last
    // writes it; the last again counts nothing twice.
    let (shard, records) = ally_tests::stream::stream_records(seeded.store()).await.remove(0);
    let mut last = serde_json::to_value(ally_tests::stream::final_window(&shard, &records[1..])).unwrap();
    let mut opening = serde_json::to_value(ally_tests::stream::final_window(&shard, &records[..1])).unwrap();
    opening["isFinalInvokeForWindow"] = json!(false);
    let mut figures = Function::start("network-figures", &table).await;
    let (_, handed_on) = figures.invoke(opening).await;
    assert!(handed_on["state"]["figures"].is_string(), "{handed_on}");
    last["state"] = handed_on["state"].clone();
    assert_eq!(figures.invoke(last.clone()).await.1, json!({"state": {}, "batchItemFailures": []}));
    assert_eq!(figures.invoke(last).await.1, json!({"state": {}, "batchItemFailures": []}));
    drop(figures);

    let mut analytics = Function::start("analytics", &table).await;
    assert_eq!(analytics.invoke(sample("analytics-health")).await, (200, json!({"status": "ok"})));
    let (status, tiers) = analytics.invoke(sample("analytics-tier-snapshot")).await;
    assert_eq!(status, 200);
    assert_eq!((&tiers["platinum"], &tiers["gold"], &tiers["standard"]), (&json!(0), &json!(0), &json!(2)), "{tiers}");
    let (status, trends) = analytics.invoke(sample("analytics-own-credit-trends")).await;
    let month = chrono::Utc::now().format("%Y-%m").to_string();
    assert_eq!((status, trends[&month].as_i64()), (200, Some(7_500)), "{trends}");
    drop(analytics);

    // The pages: HTML without a token, its assets immutable, anything else 404.
    let mut dashboard = Function::start("dashboard", &table).await;
    let (status, page) = dashboard.respond(sample("dashboard-page")).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["headers"]["content-type"], "text/html; charset=utf-8");
    let html = page["body"].as_str().unwrap();
    assert!(html.contains("Partner dashboard") && html.contains("&quot;mode&quot;:&quot;cognito&quot;"), "{html}");
    // The stylesheet (the page's first link is its icon, a `data:` URL).
    let asset = html.split("href=\"/assets/").nth(1).unwrap().split('"').next().unwrap();
    let asset = format!("/assets/{asset}");
    let mut get_asset = sample("dashboard-page");
    get_asset["rawPath"] = json!(asset);
    get_asset["requestContext"]["http"]["path"] = json!(asset);
    let (status, css) = dashboard.respond(get_asset.clone()).await;
    assert_eq!((status, css["headers"]["cache-control"].as_str()), (200, Some("public, max-age=31536000, immutable")));
    get_asset["rawPath"] = json!("/resellers/nowhere");
    get_asset["requestContext"]["http"]["path"] = json!("/resellers/nowhere");
    let (status, missing) = dashboard.respond(get_asset).await;
    assert_eq!(status, 404, "{missing}");
    drop(dashboard);

    // The event functions, with their samples.
    let sdk = ally_tests::sdk_config();
    aws_sdk_eventbridge::Client::new(&sdk).create_event_bus().name("ally-lambda-test").send().await.ok();
    aws_sdk_sesv2::Client::new(&sdk).create_email_identity().email_identity(MAIL_FROM).send().await.unwrap();
    let mut publisher = Function::start("stream-publisher", &table).await;
    let (_, published) = publisher.invoke(sample("stream-publisher-batch")).await;
    assert_eq!(published, json!({"batchItemFailures": []}));
    drop(publisher);
    // The sample's partner below the threshold, as the event says: the notice acts only then.
    let balance = seeded.find_by_user(&uid("partner-1")).await.unwrap().balance;
    let spend = ally::service::ProvisionRequest { cost: Some(balance - 400), ..Default::default() };
    seeded.provision(&uid("partner-1"), spend, &ally_tests::ikey("down-to-400")).await.unwrap();
    let mut notifier = Function::start("low-credit-notifier", &table).await;
    assert_eq!(notifier.invoke(sample("low-credit-notifier-event")).await.1, json!("Done"));
    assert_eq!(notifier.invoke(sample("low-credit-notifier-event")).await.1, json!("Duplicate"));
    drop(notifier);
    let mut referral = Function::start("referral-reward", &table).await;
    // The sample as EventBridge would deliver it today: the reward's 30-day window starts at
    // the event's time, and partner-2 was onboarded just now.
    let mut reward = sample("referral-reward-event");
    reward["time"] = json!(chrono::Utc::now());
    assert_eq!(referral.invoke(reward).await.1, json!("Done"));
    drop(referral);
    assert_eq!(seeded.find_by_user(&uid("partner-1")).await.unwrap().balance, 400 + 1_000, "the referral reward");
    let mut report = Function::start("monthly-report", &table).await;
    let (_, run) = report.invoke(sample("monthly-report-schedule")).await;
    assert_eq!(
        run,
        json!("ReportRun { sent: 2, refused: 0, deferred: 0, done: true }"),
        "a statement for each partner: both have an address"
    );
    let (_, again) = report.invoke(sample("monthly-report-schedule")).await;
    assert_eq!(again, json!("ReportRun { sent: 0, refused: 0, deferred: 0, done: true }"));
    drop(report);
    let mut sweeper = Function::start("sweeper", &table).await;
    let (_, swept) = sweeper.invoke(sample("sweeper-schedule")).await;
    assert_eq!(
        swept,
        json!(
            "Swept { holds_released: 0, lots_expired: 0, bulks_finished: 0, top_ups_failed: 0, commissions_settled: 0, figure_shards_folded: 0 }"
        ),
        "nothing expired or pending"
    );
}
