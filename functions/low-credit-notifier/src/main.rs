//! Ally Lambda function `low-credit-notifier`: a `LowCredit` event to one SES mail (and hold).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ally::lambda::run_eventbridge(|s, event, _| async move {
        ally::events::handlers::low_credit(&s.ally, &s.mailer, event).await
    })
    .await
}
