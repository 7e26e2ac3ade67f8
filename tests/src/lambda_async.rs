//! What Lambda does with an asynchronous invocation (how EventBridge invokes a function),
//! played by the tests because the emulator runs no functions: the handler is tried once
//! and then `MaximumRetryAttempts` (2) more times; when every try failed, Lambda sends an
//! invocation record, in the shape its documentation of on-failure destinations gives, to
//! the function's destination queue.

use std::future::Future;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::{Value, json};

/// Tries of one asynchronous invocation: the first and the template's two retries.
pub const TRIES: u32 = 3;

/// Invokes `handler` with `event` as Lambda invokes a function asynchronously, sending the
/// destination record to `queue_url` when every try failed. Returns what the last try did.
pub async fn invoke<F, Fut, T, E>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    function: &str,
    event: &EventBridgeEvent<Value>,
    handler: F,
) -> Result<T, E>
where
    F: Fn(EventBridgeEvent<Value>) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut last = handler(event.clone()).await;
    for _ in 1..TRIES {
        if last.is_ok() {
            return last;
        }
        last = handler(event.clone()).await;
    }
    if let Err(e) = &last {
        let record = json!({
            "version": "1.0",
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "requestContext": {
                "requestId": ulid::Ulid::new().to_string().to_lowercase(),
                "functionArn": format!("arn:aws:lambda:us-east-1:123456789012:function:{function}:$LATEST"),
                "condition": "RetriesExhausted",
                "approximateInvokeCount": TRIES
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": e.to_string(), "errorType": "AllyError"}
        });
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(record.to_string())
            .send()
            .await
            .expect("send to the destination");
    }
    last
}
