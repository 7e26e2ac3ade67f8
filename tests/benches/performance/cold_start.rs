//! Cold start: each release bootstrap started against a Runtime API served here, timed from
//! exec to its first answer posted back, median of `STARTS` starts, with peak RSS; next to
//! the hello-world baselines built with the same profile.

use ally_tests::runtime_api::{Function, Outcome};
use serde_json::{Value, json};

use super::{FUNCTIONS, Section, bootstrap, ms, quantile};

const STARTS: usize = 25;

fn sample(name: &str) -> Value {
    let path = ally_tests::workspace().join("events").join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).expect("a sample event")).expect("JSON")
}

/// The first event each function gets, and what it costs besides starting.
fn first_event(name: &str, start: usize) -> (Value, &'static str) {
    match name {
        "stream-publisher" | "network-figures" => (json!({"Records": []}), "an empty stream batch"),
        "referral-reward" => {
            let mut event = sample("referral-reward-event");
            event["detail"]["tag"] = json!("not-for-ally");
            (event, "a referral of another tag, dropped")
        }
        "low-credit-notifier" => {
            let mut event = sample("low-credit-notifier-event");
            event["detail"]["event_id"] = json!(format!("cold-{start}"));
            event["detail"]["email"] = Value::Null;
            (event, "reads its partner (none: dropped) on the emulator")
        }
        "monthly-report" => (sample("monthly-report-schedule"), "reads an empty table on the emulator"),
        "sweeper" => {
            (sample("sweeper-schedule"), "three queries (expired holds, expiring lots, pending fills) on the emulator")
        }
        "dashboard" => (sample("dashboard-page"), "`GET /partner/dashboard`"),
        _ => (sample("analytics-health"), "`GET /health`"),
    }
}

pub async fn run() -> Section {
    let store = ally_tests::dynamo_store().await;
    let env = [
        ("AWS_ENDPOINT_URL", ally_tests::emulator_endpoint()),
        ("ALLY_TABLE_NAME", store.table().to_string()),
        ("ALLY_WEBHOOK_SECRET", "bench".to_string()),
        ("ALLY_CURSOR_SECRET", "bench".to_string()),
        ("ALLY_EVENT_BUS", "ally-bench".to_string()),
        ("ALLY_MAIL_FROM", "bench@ally.example".to_string()),
    ];
    let mut rows = Vec::new();
    let (mut bare, mut floor) = (None, None);
    for name in ["hello-lambda", "hello-dynamodb"].into_iter().chain(FUNCTIONS) {
        let Some(binary) = bootstrap("x86-64", name) else {
            rows.push(format!("| {name} | not built: run `make bench` | | | | |"));
            continue;
        };
        let mut times = Vec::new();
        let mut peaks = Vec::new();
        let mut what = "";
        for start in 0..STARTS {
            let (event, cost) = first_event(name, start);
            what = cost;
            let mut function = Function::start(&binary, name, &env).await;
            let (outcome, at) = function.answer(event).await;
            if let Outcome::Error(message) = outcome {
                panic!("{name} answered an error: {message}");
            }
            times.push(at - function.started);
            peaks.push(function.peak_rss_kib().unwrap_or(0));
        }
        let median = quantile(&mut times, 0.5);
        let p90 = quantile(&mut times, 0.9);
        peaks.sort();
        let rss = peaks[peaks.len() / 2] as f64 / 1024.0;
        match name {
            "hello-lambda" => bare = Some(median),
            "hello-dynamodb" => floor = Some(median),
            _ => {}
        }
        // The pages function builds no SDK client: its floor is the bare function.
        let (baseline, against) = if name == "dashboard" { (bare, "hello-lambda") } else { (floor, "hello-dynamodb") };
        let ratio = match (name.starts_with("hello"), baseline) {
            (false, Some(baseline)) => format!("{:.2}x {against}", median.as_secs_f64() / baseline.as_secs_f64()),
            _ => "".into(),
        };
        let what = if name.starts_with("hello") { "`GET /health`" } else { what };
        rows.push(format!("| {name} | {} | {} | {ratio} | {rss:.1} | {what} |", ms(median), ms(p90)));
    }
    Section {
        title: "Cold start",
        body: format!(
            "Release bootstraps (x86_64, the profile of `Cargo.toml`), each started {STARTS} times against a \
             Runtime API served by the benchmark; time from exec to the first answer posted back. \
             `hello-lambda` is a bare `lambda_http` + axum function, `hello-dynamodb` the same after \
             `aws_config::load_defaults` and a DynamoDB client: the floor of any function that talks to \
             DynamoDB. The ratio is against that floor (against `hello-lambda` for `dashboard`, which talks to no AWS service).\n\n\
             | function | median ms | p90 ms | vs its floor | peak RSS MiB | first event |\n\
             | --- | ---: | ---: | ---: | ---: | --- |\n{}\n",
            rows.join("\n")
        ),
    }
}
