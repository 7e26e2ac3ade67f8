//! Ally Lambda function `analytics`: network analytics for admins.

use ally::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ally::lambda::http_app().await?;
    lambda_http::run(http::lambda_router(http::analytics::api(), app)).await
}
