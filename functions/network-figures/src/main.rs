//! Ally Lambda function `network-figures`: the table's stream in tumbling windows, each
//! window's sum written once to its shard's figures (trends, outstanding credits, tiers).

use aws_lambda_events::event::dynamodb::TimeWindowEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let store = std::sync::Arc::new(ally::lambda::store().await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<TimeWindowEvent>| {
        let store = store.clone();
        async move { Ok::<_, Error>(ally::events::figures::count_window(store.as_ref(), event.payload).await?) }
    }))
    .await
}
