//! Business metrics in CloudWatch Embedded Metric Format: one JSON log line per event,
//! which CloudWatch Logs turns into metrics of the `Ally` namespace without an API call.
//! The only dimensions are the function's name (and a refusal's code): never a partner's
//! id, which would make a metric per partner and leak who is who into dashboards.

use std::sync::OnceLock;

use serde_json::{Map, Value, json};

/// The namespace of every Ally metric.
pub const NAMESPACE: &str = "Ally";

/// One business event worth counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Credits into wallets (top-ups, payments, rewards).
    CreditsAdded(i64),
    /// Credits spent on services.
    CreditsSpent(i64),
    /// Services provisioned.
    Provisions(i64),
    /// A request refused with this problem `code` (`insufficient_credits`, ...).
    Refused(&'static str),
    /// A write that lost its race every time it was tried (answered 503 `busy`).
    BusyExhausted,
    /// A mail handed to SES (or the local outbox).
    MailSent,
    /// A referral reward paid.
    RewardPaid,
    /// A paid Stripe payment Ally cannot credit (kept for an admin).
    StripeUnattributed,
    /// A wallet whose lots no longer sum to its balance or its reserve: refused, never
    /// repaired (it needs a person).
    WalletDrift,
    /// A handler that panicked, answered 500 instead of dropping the connection.
    Panic,
    /// A change record the network's figures could not read: they miss it until a person
    /// recounts (its sequence number is in the log).
    UncountedRecord,
    /// A parent's commission of a day not paid (a failure, or a part refused): the sweep
    /// retries a failure; a refusal needs a person.
    CommissionUnpaid,
    /// A mail the mail service refused for good (an address it rejects): recorded, not
    /// tried again.
    MailRefused,
    /// A mail not sent because its address bounced for good or complained.
    MailSuppressed,
    /// A partner's statement not sent by a run for a passing failure: the next run tries
    /// again.
    StatementDeferred,
    /// An event whose detail could not be read, dropped (a retry cannot fix it): the log
    /// line has it.
    MalformedEvent,
}

impl Metric {
    fn name_and_value(self) -> (&'static str, i64) {
        match self {
            Metric::CreditsAdded(n) => ("CreditsAdded", n),
            Metric::CreditsSpent(n) => ("CreditsSpent", n),
            Metric::Provisions(n) => ("Provisions", n),
            Metric::Refused(_) => ("Refusals", 1),
            Metric::BusyExhausted => ("BusyRetriesExhausted", 1),
            Metric::MailSent => ("MailsSent", 1),
            Metric::StripeUnattributed => ("StripeUnattributed", 1),
            Metric::RewardPaid => ("RewardsPaid", 1),
            Metric::WalletDrift => ("WalletDrift", 1),
            Metric::Panic => ("Panics", 1),
            Metric::UncountedRecord => ("UncountedRecords", 1),
            Metric::CommissionUnpaid => ("CommissionsUnpaid", 1),
            Metric::MailRefused => ("MailsRefused", 1),
            Metric::MailSuppressed => ("MailsSuppressed", 1),
            Metric::StatementDeferred => ("StatementsDeferred", 1),
            Metric::MalformedEvent => ("MalformedEvents", 1),
        }
    }
}

/// The function these metrics are of: Lambda's `AWS_LAMBDA_FUNCTION_NAME`; none outside
/// Lambda (the dev server, tests), where lines go to the debug log instead of stdout.
fn function_name() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok()).as_deref()
}

/// The EMF line of `metrics`, recorded by `function` at `timestamp_ms`.
pub fn emf_line(function: &str, metrics: &[Metric], timestamp_ms: i64) -> String {
    let mut root = Map::new();
    let mut definitions = Vec::new();
    let code = metrics.iter().find_map(|m| match m {
        Metric::Refused(code) => Some(*code),
        _ => None,
    });
    root.insert("function".into(), json!(function));
    if let Some(code) = code {
        root.insert("code".into(), json!(code));
    }
    for metric in metrics {
        let (name, value) = metric.name_and_value();
        definitions.push(json!({"Name": name, "Unit": "Count"}));
        root.insert(name.into(), json!(value));
    }
    // A failure that needs a person, wherever it happens, is also counted without the
    // function's name: one alarm watches every function.
    let anywhere = metrics.iter().any(|m| {
        matches!(
            m,
            Metric::WalletDrift
                | Metric::Panic
                | Metric::UncountedRecord
                | Metric::CommissionUnpaid
                | Metric::BusyExhausted
                | Metric::MailRefused
                | Metric::StatementDeferred
                | Metric::MalformedEvent
        )
    });
    let dimensions = match (code, anywhere) {
        (Some(_), true) => json!([["function"], ["function", "code"], []]),
        (Some(_), false) => json!([["function"], ["function", "code"]]),
        (None, true) => json!([["function"], []]),
        (None, false) => json!([["function"]]),
    };
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": dimensions, "Metrics": definitions}]
        }),
    );
    Value::Object(root).to_string()
}

/// Records `metrics`: one EMF line on stdout in Lambda, a debug log line elsewhere.
pub fn record(metrics: &[Metric]) {
    if metrics.is_empty() {
        return;
    }
    let now = chrono::Utc::now().timestamp_millis();
    match function_name() {
        Some(function) => println!("{}", emf_line(function, metrics, now)),
        None => tracing::debug!(target: "ally::metrics", line = %emf_line("local", metrics, now), "metrics"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_its_metrics_and_only_the_function_and_code_as_dimensions() {
        let line: Value =
            serde_json::from_str(&emf_line("ally-provision", &[Metric::Refused("insufficient_credits")], 7)).unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 7);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Ally");
        assert_eq!(directive["Dimensions"], json!([["function"], ["function", "code"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "Refusals", "Unit": "Count"}]));
        assert_eq!(
            (line["function"].as_str(), line["code"].as_str(), line["Refusals"].as_i64()),
            (Some("ally-provision"), Some("insufficient_credits"), Some(1))
        );
    }

    #[test]
    fn a_drift_or_a_panic_is_also_counted_for_every_function_at_once() {
        for metric in [Metric::WalletDrift, Metric::Panic, Metric::UncountedRecord] {
            let line: Value = serde_json::from_str(&emf_line("ally-provision", &[metric], 7)).unwrap();
            assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"], []]), "{metric:?}");
        }
        let line: Value = serde_json::from_str(&emf_line("ally-provision", &[Metric::MailSent], 7)).unwrap();
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
    }

    /// A 503 `busy` is a refusal with its code and a write that lost every race: its one
    /// alarm watches the count without a dimension, so the line carries that set too.
    #[test]
    fn busy_retries_exhausted_reach_the_alarm_beside_the_refusal() {
        let busy = [Metric::Refused("busy"), Metric::BusyExhausted];
        let line: Value = serde_json::from_str(&emf_line("ally-provision", &busy, 7)).unwrap();
        let dimensions = &line["_aws"]["CloudWatchMetrics"][0]["Dimensions"];
        assert_eq!(dimensions, &json!([["function"], ["function", "code"], []]));
        assert_eq!(line["BusyRetriesExhausted"], 1);
    }
}
