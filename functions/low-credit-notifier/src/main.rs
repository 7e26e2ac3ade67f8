//! Ally Lambda function `low-credit-notifier`: a `LowCredit` event to one SES mail (and hold).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = ally::lambda::services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
        let services = services.clone();
        async move {
            let handled = ally::events::handlers::low_credit(&services.ally, &services.mailer, event.payload).await?;
            Ok::<_, Error>(format!("{handled:?}"))
        }
    }))
    .await
}
