//! Ally Lambda function `provision`: the catalog, single and bulk provisioning.

use ally::http;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = ally::lambda::http_app().await?;
    lambda_http::run(http::lambda_router(http::provision::api(), app)).await
}
