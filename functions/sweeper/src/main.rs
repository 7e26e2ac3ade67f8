//! Ally Lambda function `sweeper`: every minute, the holds past their `expires_at` are
//! released and the bulk onboardings charged more than a minute ago whose fill is still
//! pending are finished, without their callers.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ally::lambda::run_eventbridge(|s, _, _| async move { ally::events::handlers::sweep(&s.ally).await }).await
}
