//! Ally Lambda function `stream-publisher`: DynamoDB stream batches to the `ally` bus.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = ally::lambda::services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let services = services.clone();
        async move {
            Ok::<_, Error>(ally::events::handlers::publish_stream(&services.ally, &services.bus, event.payload).await)
        }
    }))
    .await
}
