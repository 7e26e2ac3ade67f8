//! Ally Lambda function `stream-publisher`: DynamoDB stream batches to the `ally` bus.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let services = ally::lambda::services().await?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let services = services.clone();
        async move {
            let (ally, bus, parking) = (&services.ally, &services.bus, &services.parking);
            Ok::<_, Error>(ally::events::handlers::publish_stream(ally, bus, parking, event.payload).await)
        }
    }))
    .await
}
