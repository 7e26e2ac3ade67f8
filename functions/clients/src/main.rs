//! Ally Lambda function `clients`: a partner's clients.

use ally::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ally::lambda::http_app().await?;
    lambda_http::run(http::lambda_router(http::clients::api(), app)).await
}
