//! The stream mappings' `FilterCriteria` in `template.yaml` against real change records:
//! each consumer gets every record it acts on, and the figures consumer never its own
//! writes, counters or TTL deletes.

use ally::domain::{EntryKind, Tier};
use ally::events::{AllyEvent, Observed};
use ally::service::{CreditRequest, NewClient, ResellerPatch};
use ally::store::Counters;
use ally::{Ally, Config};
use ally_tests::spend;
use ally_tests::stream::{catch_up, stream_records};
use ally_tests::{cname, ikey, reseller_with, uid};
use serde_json::Value;

/// The filter patterns of the stream mapping of `function` in `template.yaml`.
fn patterns(function: &str) -> Vec<Value> {
    let template = std::fs::read_to_string(ally_tests::workspace().join("template.yaml")).unwrap();
    let body = template.split(&format!("\n  {function}:\n")).nth(1).expect("the function");
    let body = body.split("\n  # ").next().unwrap_or(body);
    let patterns: Vec<Value> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- Pattern: '"))
        .map(|p| serde_json::from_str(p.trim_end_matches('\'')).expect("a JSON pattern"))
        .collect();
    assert!(!patterns.is_empty(), "{function} has a filter");
    patterns
}

/// Whether `value` matches one of `allowed` (an exact string, or `{"prefix": ...}`).
fn allowed(allowed: &Value, value: &str) -> bool {
    allowed.as_array().expect("a list of values").iter().any(|a| match a {
        Value::String(exact) => exact == value,
        Value::Object(rule) => rule.get("prefix").and_then(Value::as_str).is_some_and(|p| value.starts_with(p)),
        other => panic!("a rule this test does not read: {other}"),
    })
}

/// Whether `record` passes `pattern` (the shapes the template uses: `eventName` and the
/// sort key's string in `dynamodb.Keys`).
fn passes(pattern: &Value, record: &Value) -> bool {
    let name = record["eventName"].as_str().unwrap_or_default();
    let sk = record["dynamodb"]["Keys"]["sk"]["S"].as_str().unwrap_or_default();
    pattern.get("eventName").is_none_or(|names| allowed(names, name))
        && pattern["dynamodb"]["Keys"]["sk"].get("S").is_none_or(|rules| allowed(rules, sk))
}

fn through(patterns: &[Value], record: &Value) -> bool {
    patterns.iter().any(|p| passes(p, record))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stream_consumer_gets_what_it_acts_on_and_the_figures_never_their_own_writes() {
    let ally = Ally::new(ally_tests::dynamo_store().await, Config::default());
    for (i, user) in ["f0", "f1"].iter().enumerate() {
        reseller_with(&ally, user, if i == 0 { Tier::Gold } else { Tier::Standard }, 500).await;
        let grant = CreditRequest { amount: 300, promotional: true, ..CreditRequest::default() };
        ally.add_credits(&uid(user), grant, EntryKind::Credit, "admin", &ikey("grant")).await.unwrap();
        let spend = spend(700);
        ally.provision(&uid(user), spend, &ikey("spend")).await.unwrap();
        ally.onboard_client(&uid(user), NewClient { name: cname("Client"), email: None }).await.unwrap();
    }
    let r = ally.find_by_user(&uid("f1")).await.unwrap();
    ally.update_reseller(&r.refid, ResellerPatch { tier: Some(Tier::Platinum), ..ResellerPatch::default() })
        .await
        .unwrap();
    // The consumer's own writes, then their fold, are in the stream too.
    catch_up(ally.store()).await;
    ally.store().fold_figures(chrono::Utc::now() + chrono::Duration::hours(1)).await.unwrap();
    let (figures, publisher) = (patterns("NetworkFiguresFunction"), patterns("StreamPublisherFunction"));
    let (mut counted, mut published, mut own) = (0, 0, 0);
    for (_, records) in stream_records(ally.store()).await {
        for record in records {
            let event: aws_lambda_events::event::dynamodb::EventRecord =
                serde_json::from_value(record.clone()).unwrap();
            let (_, change) = ally::events::stream::change_of(&event);
            let change = change.unwrap();
            if change.network_delta().is_some() {
                counted += 1;
                assert!(through(&figures, &record), "the figures need {record}");
            }
            let observed = Observed { change: &change, low_credit_threshold: 100 };
            if AllyEvent::try_from(observed).is_ok() {
                published += 1;
                assert!(through(&publisher, &record), "the publisher needs {record}");
            }
            let pk = record["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap_or_default();
            if pk.starts_with("FIGURES#") || pk.starts_with("NET#") || pk.starts_with("STATS#") {
                own += 1;
                assert!(!through(&figures, &record), "the figures consumer reads its own write {record}");
            }
            if record["eventName"] == "REMOVE" {
                assert!(!through(&figures, &record) && !through(&publisher, &record), "{record}");
            }
        }
    }
    assert!(
        counted > 10 && published > 10 && own > 3,
        "the run wrote what the filters sort: {counted} {published} {own}"
    );
}
