//! Ally Lambda function `referral-reward`: `ReferralCompleted` to the referrer's reward.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ally::lambda::run_eventbridge(|s, event, _| async move { ally::events::handlers::referral(&s.ally, event).await })
        .await
}
