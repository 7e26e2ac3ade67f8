//! Baseline: the smallest `lambda_http` + axum function, answering `/health`.

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let app = Router::new().route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }));
    lambda_http::run(app).await
}
