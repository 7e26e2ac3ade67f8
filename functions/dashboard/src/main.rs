//! Ally Lambda function `dashboard`: the partner dashboard and the admin report pages with
//! their assets, built into the binary. It reads no data (the pages call the API with the
//! user's token), so it builds no SDK client at all.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ally::lambda::init_logging();
    let config = ally::Config::from_env()?;
    let not_found =
        || async { ally::http::ApiError::new(lambda_http::http::StatusCode::NOT_FOUND, "not_found", "no such page") };
    lambda_http::run(ally::http::pages::router(&config).fallback(not_found)).await
}
