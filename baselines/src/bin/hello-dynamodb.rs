//! Baseline: `hello-lambda` after `aws_config::load_defaults` and a DynamoDB client, the
//! floor for any function that talks to DynamoDB.

use axum::Router;
use axum::extract::State;
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let app = Router::new()
        .route(
            "/health",
            get(|State(client): State<aws_sdk_dynamodb::Client>| async move {
                // The client is held by the app, as a function's store holds it.
                let region = client.config().region().map(ToString::to_string);
                axum::Json(serde_json::json!({"status": "ok", "region": region}))
            }),
        )
        .with_state(client);
    lambda_http::run(app).await
}
