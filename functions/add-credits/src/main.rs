//! Ally Lambda function `add-credits`: credits in: the admin top-up and the signed payment webhook.

use ally::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ally::lambda::http_app().await?;
    lambda_http::run(http::lambda_router(http::add_credits::api(), app)).await
}
