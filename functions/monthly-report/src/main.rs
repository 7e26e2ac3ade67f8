//! Ally Lambda function `monthly-report`: statements for every active partner, and a summary.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = ally::lambda::services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
        let services = services.clone();
        async move {
            let deadline = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
            let run = ally::events::handlers::monthly_report(&services.ally, &services.mailer, event.payload, deadline)
                .await?;
            Ok::<_, Error>(format!("{run:?}"))
        }
    }))
    .await
}
