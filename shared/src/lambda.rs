//! Cold-start wiring shared by every function's `main`: configuration, SDK clients and
//! the app, built once and reused by every invocation.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::LambdaEvent;

use crate::events::bus::EventBridgeBus;
use crate::events::mail::SesMailer;
use crate::events::parking::SqsParking;
use crate::http::{HttpApp, Shared};
use crate::store::dynamo::DynamoStore;
use crate::{Ally, Config};

/// Start-up failures; the runtime reports them and the instance is not used.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// What the event functions share: the service, the bus, the mailer and the poison queue.
pub struct Services {
    pub ally: Ally<DynamoStore>,
    pub bus: EventBridgeBus,
    pub mailer: SesMailer,
    pub parking: SqsParking,
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

/// The store over the configured table, for a function that needs nothing else.
pub async fn store() -> Result<DynamoStore, StartError> {
    let (config, sdk) = start().await?;
    Ok(DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name))
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
    let mailer = SesMailer::new(aws_sdk_sesv2::Client::new(&sdk), config.mail_from.clone(), config.mail_per_second)
        .with_configuration_set(config.mail_configuration_set.clone());
    let parking = SqsParking::new(aws_sdk_sqs::Client::new(&sdk), config.poison_queue_url.clone());
    Ok(Arc::new(Services { ally: Ally::new(store, config), bus, mailer, parking }))
}

/// Runs an EventBridge-triggered function: builds the services once, then hands each event
/// (and its deadline, Unix milliseconds) to `handle`. An error is returned to Lambda, which
/// invoked the function asynchronously: Lambda itself tries the event twice more, then sends
/// it to the function's on-failure destination (`EventFailuresQueue` in the template;
/// EventBridge's own retries cover only the delivery to Lambda). A success answers what the
/// handler made of it.
pub async fn run_eventbridge<F, Fut, T>(handle: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Arc<Services>, EventBridgeEvent<serde_json::Value>, i64) -> Fut,
    Fut: std::future::Future<Output = Result<T, crate::domain::AllyError>> + Send,
    T: std::fmt::Debug,
{
    let services = services().await?;
    let handle = &handle;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| {
        let services = services.clone();
        async move {
            let deadline = i64::try_from(event.context.deadline).unwrap_or(i64::MAX);
            let outcome = handle(services, event.payload, deadline).await?;
            Ok::<_, lambda_runtime::Error>(format!("{outcome:?}"))
        }
    }))
    .await
}
