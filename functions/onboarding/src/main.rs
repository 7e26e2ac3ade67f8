//! Ally Lambda function `onboarding`: reseller profiles: onboarding, me, stats, ledger, metadata, admin lookups and changes.

use ally::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ally::lambda::http_app().await?;
    lambda_http::run(http::lambda_router(http::onboarding::api(), app)).await
}
