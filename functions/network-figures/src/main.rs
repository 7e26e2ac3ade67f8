//! Ally Lambda function `network-figures`: DynamoDB stream batches counted into the
//! network's figures (trends, outstanding credits, tiers), each record once.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = std::sync::Arc::new(ally::lambda::store().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let store = store.clone();
        async move { Ok::<_, Error>(ally::events::handlers::count_stream(store.as_ref(), event.payload).await) }
    }))
    .await
}
