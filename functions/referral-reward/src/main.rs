//! Ally Lambda function `referral-reward`: `ReferralCompleted` to the referrer's reward.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = ally::lambda::services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
        let services = services.clone();
        async move {
            let handled = ally::events::handlers::referral(&services.ally, event.payload).await?;
            Ok::<_, Error>(format!("{handled:?}"))
        }
    }))
    .await
}
