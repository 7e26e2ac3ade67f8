//! Baseline for the dev server's throughput: a plain axum server answering `/health` on
//! `ALLY_LOCAL_ADDR` (default 127.0.0.1:3001).

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::var("ALLY_LOCAL_ADDR").unwrap_or_else(|_| "127.0.0.1:3001".into());
    let app = Router::new().route("/health", get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
