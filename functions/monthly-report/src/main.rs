//! Ally Lambda function `monthly-report`: statements for every active partner, and a summary.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ally::lambda::run_eventbridge(|s, event, deadline| async move {
        ally::events::handlers::monthly_report(&s.ally, &s.mailer, event, deadline).await
    })
    .await
}
