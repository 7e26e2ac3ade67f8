//! Cold-start wiring shared by every function's `main`: configuration, SDK clients and
//! the app, built once and reused by every invocation.

use std::sync::Arc;

use aws_config::SdkConfig;

use crate::events::bus::EventBridgeBus;
use crate::events::mail::SesMailer;
use crate::http::{HttpApp, Shared};
use crate::store::dynamo::DynamoStore;
use crate::{Ally, Config};

/// Start-up failures; the runtime reports them and the instance is not used.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// What the event functions share: the service, the bus and the mailer.
pub struct Services {
    pub ally: Ally<DynamoStore>,
    pub bus: EventBridgeBus,
    pub mailer: SesMailer,
}

/// Logging as Lambda's logging controls ask (`AWS_LAMBDA_LOG_FORMAT=JSON` in the template,
/// level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`).
pub fn init_logging() {
    lambda_http::tracing::init_default_subscriber();
}

async fn start() -> Result<(Config, SdkConfig), StartError> {
    init_logging();
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok((config, sdk))
}

/// The HTTP app over the configured table.
pub async fn http_app() -> Result<Shared<DynamoStore>, StartError> {
    let (config, sdk) = start().await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    Ok(HttpApp::new(Ally::new(store, config)))
}

/// The service, the `ALLY_EVENT_BUS` bus and SES, for the event functions.
pub async fn services() -> Result<Arc<Services>, StartError> {
    let (config, sdk) = start().await?;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&sdk), config.event_bus.clone());
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), config.mail_from.clone());
    Ok(Arc::new(Services { ally: Ally::new(store, config), bus, mailer }))
}
