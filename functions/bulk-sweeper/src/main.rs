//! Ally Lambda function `bulk-sweeper`: every few minutes, the bulk onboardings charged
//! more than a minute ago whose fill is still pending are finished, without their callers.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ally::lambda::run_eventbridge(|s, _, _| async move { ally::events::handlers::sweep_bulks(&s.ally).await }).await
}
