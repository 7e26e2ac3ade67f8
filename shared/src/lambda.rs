//! Cold-start wiring shared by every function's `main`: configuration, SDK clients and
//! the app, built once and reused by every invocation.

use crate::http::{HttpApp, Shared};
use crate::store::dynamo::DynamoStore;
use crate::{Ally, Config};

/// Start-up failures; the runtime reports them and the instance is not used.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// Logging as Lambda's logging controls ask (`AWS_LAMBDA_LOG_FORMAT=JSON` in the template,
/// level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`).
pub fn init_logging() {
    lambda_http::tracing::init_default_subscriber();
}

/// The service over the configured DynamoDB table.
pub async fn ally() -> Result<Ally<DynamoStore>, StartError> {
    init_logging();
    let config = Config::from_env()?;
    let store = DynamoStore::from_env(config.table_name.clone()).await;
    Ok(Ally::new(store, config))
}

/// The HTTP app over the configured table.
pub async fn http_app() -> Result<Shared<DynamoStore>, StartError> {
    Ok(HttpApp::new(ally().await?))
}
