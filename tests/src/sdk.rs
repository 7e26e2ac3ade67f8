//! The tests' fault injector for the AWS services, as SDK interceptors: on the DynamoDB
//! client, [`SdkCalls`] counts every call by operation, fails the n-th one before it is sent
//! or loses its response after DynamoDB served it (the timeout-after-commit case, where the
//! caller cannot know whether its write landed), and answers calls of one operation with
//! DynamoDB's errors (a transaction holding the item, throttling); [`ShortPages`] cuts every
//! Query short, as DynamoDB does at 1 MB. [`ServiceFaults`] does the same to SES and
//! EventBridge. (The memory store injects the same faults itself: `MemoryStore::with_faults`.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex};

use ally::store::dynamo::{ChangeStream, DynamoStore};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::query::QueryInput;
use aws_smithy_types::config_bag::{Storable, StoreReplace};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An SES client on the emulator whose calls go through `interceptor`.
fn ses_through(interceptor: impl Intercept + 'static) -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::config::Builder::from(&crate::sdk_config()).interceptor(interceptor).build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// An EventBridge client on the emulator whose calls go through `interceptor`.
fn eventbridge_through(interceptor: impl Intercept + 'static) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(&crate::sdk_config()).interceptor(interceptor).build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A DynamoDB store on a fresh emulator table whose client goes through `interceptor`.
async fn intercepted(interceptor: impl Intercept + 'static, stream: ChangeStream) -> DynamoStore {
    let config = aws_sdk_dynamodb::config::Builder::from(&crate::sdk_config()).interceptor(interceptor).build();
    crate::emulator::fresh_table(aws_sdk_dynamodb::Client::from_conf(config), stream).await
}

/// What to do to the armed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkFault {
    /// The call fails before it leaves: nothing was written.
    Refuse,
    /// The call is served (a write is committed), then its response is lost.
    LoseResponse,
}

/// Chooses the fault of each call from its operation's name (`TransactWriteItems`).
type FaultHook = Arc<dyn Fn(&str) -> Option<SdkFault> + Send + Sync>;

#[derive(Default)]
struct Tally {
    hook: Option<FaultHook>,
    calls: u64,
    by_operation: BTreeMap<String, u64>,
    armed: Option<(u64, SdkFault)>,
    /// Whether the armed fault was applied: the call failed or its response was dropped.
    applied: bool,
    /// Calls of an operation to answer with one of DynamoDB's errors, and how many more.
    refusing: Option<Refusal>,
    /// Calls answered with the refusal's error so far.
    refused: u32,
}

impl std::fmt::Debug for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tally").field("calls", &self.calls).field("armed", &self.armed).finish()
    }
}

/// DynamoDB's error for the next calls of one operation.
#[derive(Debug, Clone, Copy)]
struct Refusal {
    operation: &'static str,
    error: &'static str,
    left: u32,
}

/// Counts DynamoDB calls (attempts, so SDK retries count too) and injects one fault.
#[derive(Debug, Clone, Default)]
pub struct SdkCalls(Arc<Mutex<Tally>>);

impl SdkCalls {
    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The calls since the last `take`, by operation name, and starts counting afresh.
    pub fn take(&self) -> BTreeMap<String, u64> {
        let mut tally = self.tally();
        tally.calls = 0;
        std::mem::take(&mut tally.by_operation)
    }

    /// Applies to every call the fault `hook` chooses by the call's operation, if any.
    pub fn with_faults(self, hook: impl Fn(&str) -> Option<SdkFault> + Send + Sync + 'static) -> Self {
        self.tally().hook = Some(Arc::new(hook));
        self
    }

    /// Applies `fault` to the `n`-th call from now (1-based), once.
    pub fn arm(&self, n: u64, fault: SdkFault) {
        let mut tally = self.tally();
        tally.calls = 0;
        tally.by_operation.clear();
        tally.armed = Some((n, fault));
        tally.applied = false;
    }

    /// Whether the armed fault was applied: its call failed, or its response was dropped.
    pub fn fired(&self) -> bool {
        self.tally().applied
    }

    /// No fault from now on.
    pub fn disarm(&self) {
        self.tally().armed = None;
    }

    /// Answers the next `times` calls of `operation` (`UpdateItem`, `BatchGetItem`, ...)
    /// with DynamoDB's `error` (`TransactionConflictException` while a transaction holds the
    /// item, `ProvisionedThroughputExceededException` when throttled): each is sent to the
    /// emulator as a `ListTables`, so nothing is written, and its answer replaced by the
    /// error (status 400, the error's type in the body). The SDK's retries count as calls.
    pub fn refuse(&self, operation: &'static str, error: &'static str, times: u32) {
        self.tally().refusing = Some(Refusal { operation, error, left: times });
    }

    /// How many calls were answered with the refusal's error.
    pub fn refused(&self) -> u32 {
        self.tally().refused
    }

    /// A DynamoDB store on a fresh emulator table whose client goes through this interceptor.
    pub async fn store(&self) -> DynamoStore {
        let store = intercepted(self.clone(), ChangeStream::On).await;
        self.take();
        store
    }

    /// A DynamoDB store on the existing `table` whose client goes through this interceptor.
    pub fn store_on(&self, table: &str) -> DynamoStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&crate::sdk_config()).interceptor(self.clone()).build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table)
    }
}

/// Marks, in the call's config bag, what happens to the attempt's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Kept,
    /// Lost after the call was served.
    Lost,
    /// Replaced by DynamoDB's error.
    Refused(&'static str),
}

impl Storable for Answer {
    type Storer = StoreReplace<Self>;
}

impl Intercept for SdkCalls {
    fn name(&self) -> &'static str {
        "SdkCalls"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let headers = context.request_mut().headers_mut();
        // DynamoDB's JSON protocol names the operation in this header: `DynamoDB_20120810.GetItem`.
        let operation = headers.get("x-amz-target").and_then(|t| t.rsplit('.').next()).unwrap_or("unknown").to_string();
        let mut tally = self.tally();
        tally.calls += 1;
        *tally.by_operation.entry(operation.clone()).or_default() += 1;
        let armed = tally.armed.filter(|(n, _)| *n == tally.calls).map(|(_, fault)| fault);
        let fault = armed.or_else(|| tally.hook.as_ref().and_then(|hook| hook(&operation)));
        if fault == Some(SdkFault::Refuse) {
            tally.applied |= armed.is_some();
            return Err("injected fault: the call failed before it was sent".into());
        }
        // Calls may be in flight together (a read of every shard), so the attempt itself
        // carries what becomes of its answer.
        let mut answer = match fault {
            Some(SdkFault::LoseResponse) => Answer::Lost,
            _ => Answer::Kept,
        };
        if let Some(refusal) = tally.refusing.as_mut()
            && refusal.operation == operation
            && refusal.left > 0
        {
            refusal.left -= 1;
            answer = Answer::Refused(refusal.error);
            headers.insert("x-amz-target", "DynamoDB_20120810.ListTables");
        }
        cfg.interceptor_state().store_put(answer);
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match cfg.load::<Answer>().copied() {
            Some(Answer::Lost) => {
                self.tally().applied = true;
                Err("injected fault: the response was lost after the call was served".into())
            }
            Some(Answer::Refused(error)) => {
                self.tally().refused += 1;
                *context.response_mut() = refusal(400, &format!("com.amazonaws.dynamodb.v20120810#{error}"))?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Lowers the `Limit` of every Query to `cap` items, so DynamoDB answers short pages with a
/// `LastEvaluatedKey`, as it does when a page reaches 1 MB or a filter drops items.
#[derive(Debug, Clone, Copy)]
pub struct ShortPages(pub i32);

impl ShortPages {
    /// A DynamoDB store on a fresh emulator table whose Queries are cut short.
    pub async fn store(self) -> DynamoStore {
        intercepted(self, ChangeStream::Off).await
    }
}

impl Intercept for ShortPages {
    fn name(&self) -> &'static str {
        "ShortPages"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(query) = context.input_mut().downcast_mut::<QueryInput>() {
            query.limit = Some(query.limit.map_or(self.0, |limit| limit.min(self.0)));
        }
        Ok(())
    }
}

/// An AWS service's error answer: `error` as its JSON protocols (`__type`) and its REST ones
/// (`x-amzn-errortype`) name it.
fn refusal(status: u16, error: &str) -> Result<aws_smithy_runtime_api::http::Response, BoxError> {
    let body = format!(r#"{{"__type":"{error}","message":"refused by the test"}}"#);
    let mut refused = aws_smithy_runtime_api::http::Response::new(
        aws_smithy_runtime_api::http::StatusCode::try_from(status)?,
        aws_smithy_types::body::SdkBody::from(body),
    );
    refused.headers_mut().insert("content-type", "application/x-amz-json-1.0");
    refused.headers_mut().insert("x-amzn-errortype", error.rsplit('#').next().unwrap_or(error).to_string());
    Ok(refused)
}

/// Answers calls of an AWS service (SES, EventBridge) as the service does when it refuses:
/// a rejection (`MessageRejected`) of every call naming one address, a throttle of the next
/// calls once armed (attempts: the SDK's own retries count). A refused call never reaches
/// the emulator. Everything else goes through.
#[derive(Debug, Clone)]
pub struct ServiceFaults {
    rejected: Arc<Mutex<Option<String>>>,
    throttles_left: Arc<AtomicU32>,
    throttle: (u16, &'static str),
}

/// What the fault interceptor does to one attempt, kept in its config bag.
#[derive(Debug)]
struct FaultAnswer(Option<(u16, &'static str)>);

impl Storable for FaultAnswer {
    type Storer = StoreReplace<Self>;
}

impl ServiceFaults {
    /// SES v2's faults: it throttles with `TooManyRequestsException` (429).
    pub fn ses() -> Self {
        Self { rejected: Arc::default(), throttles_left: Arc::default(), throttle: (429, "TooManyRequestsException") }
    }

    /// EventBridge's: it throttles with `ThrottlingException` (400).
    pub fn eventbridge() -> Self {
        Self { rejected: Arc::default(), throttles_left: Arc::default(), throttle: (400, "ThrottlingException") }
    }

    /// An SES client on the emulator whose calls go through these faults.
    pub fn ses_client(&self) -> aws_sdk_sesv2::Client {
        ses_through(self.clone())
    }

    /// An EventBridge client on the emulator whose calls go through these faults.
    pub fn eventbridge_client(&self) -> aws_sdk_eventbridge::Client {
        eventbridge_through(self.clone())
    }

    /// Every call naming `address` is rejected from now on.
    pub fn reject(&self, address: &str) {
        *self.rejected.lock().unwrap_or_else(|p| p.into_inner()) = Some(address.to_string());
    }

    /// The next `attempts` calls are throttled.
    pub fn throttle(&self, attempts: u32) {
        self.throttles_left.store(attempts, SeqCst);
    }
}

impl Intercept for ServiceFaults {
    fn name(&self) -> &'static str {
        "ServiceFaults"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = String::from_utf8_lossy(context.request().body().bytes().unwrap_or_default()).to_string();
        let rejected = self.rejected.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let answer = if rejected.is_some_and(|address| body.contains(&format!("\"{address}\""))) {
            Some((400, "MessageRejected"))
        } else if self.throttles_left.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok() {
            Some(self.throttle)
        } else {
            None
        };
        // A refused call never reaches the emulator: it would record the call as served.
        if answer.is_some() {
            *context.request_mut().body_mut() = aws_smithy_types::body::SdkBody::from("{}");
            context.request_mut().headers_mut().insert("content-length", "2");
        }
        cfg.interceptor_state().store_put(FaultAnswer(answer));
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(FaultAnswer(Some((status, error)))) = cfg.load::<FaultAnswer>() {
            *context.response_mut() = refusal(*status, error)?;
        }
        Ok(())
    }
}

/// Records the IAM actions the calls through it need, each with what it acts on: a
/// DynamoDB call's `table` or `index/<name>` (each item of a transaction on its own, as IAM
/// authorises them), SES's, EventBridge's and SQS's operations. What the least-privilege
/// test holds each function's policy against.
#[derive(Debug, Clone, Default)]
pub struct Actions(Arc<Mutex<BTreeSet<String>>>);

impl Actions {
    /// The actions recorded since the last `take`.
    pub fn take(&self) -> BTreeSet<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// A DynamoDB store on a fresh emulator table (with its stream) recording its calls.
    pub async fn store(&self) -> DynamoStore {
        let store = intercepted(self.clone(), ChangeStream::On).await;
        self.take();
        store
    }

    /// An SES client on the emulator recording its calls.
    pub fn ses_client(&self) -> aws_sdk_sesv2::Client {
        ses_through(self.clone())
    }

    /// An EventBridge client on the emulator recording its calls.
    pub fn eventbridge_client(&self) -> aws_sdk_eventbridge::Client {
        eventbridge_through(self.clone())
    }

    /// An SQS client on the emulator recording its calls.
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        let config = aws_sdk_sqs::config::Builder::from(&crate::sdk_config()).interceptor(self.clone()).build();
        aws_sdk_sqs::Client::from_conf(config)
    }
}

/// The IAM actions (with what they act on) one call needs.
fn actions_of(target: Option<&str>, method: &str, path: &str, body: &serde_json::Value) -> Vec<String> {
    let Some((service, operation)) = target.and_then(|t| t.split_once('.')) else {
        // SES v2 is a REST API: its operation is its path.
        return match (method, path.split('?').next().unwrap_or("")) {
            ("POST", "/v2/email/outbound-emails") => vec!["ses:SendEmail".into()],
            (method, path) => vec![format!("unknown:{method} {path}")],
        };
    };
    match service {
        "DynamoDB_20120810" => {
            let on = |body: &serde_json::Value| match body["IndexName"].as_str() {
                Some(index) => format!("index/{index}"),
                None => "table".into(),
            };
            match operation {
                "TransactWriteItems" => body["TransactItems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| {
                        let kind = ["Put", "Update", "Delete", "ConditionCheck"]
                            .into_iter()
                            .find(|k| item.get(k).is_some())?;
                        Some(format!("dynamodb:{kind}Item@table"))
                    })
                    .collect(),
                "TransactGetItems" => vec!["dynamodb:GetItem@table".into()],
                operation => vec![format!("dynamodb:{operation}@{}", on(body))],
            }
        }
        "AWSEvents" => vec![format!("events:{operation}")],
        "AmazonSQS" => vec![format!("sqs:{operation}")],
        other => vec![format!("unknown:{other}.{operation}")],
    }
}

impl Intercept for Actions {
    fn name(&self) -> &'static str {
        "Actions"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let target = request.headers().get("x-amz-target");
        let body: serde_json::Value =
            request.body().bytes().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
        let uri = request.uri().to_string();
        let path = uri.split_once("://").map_or(uri.as_str(), |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
        let found = actions_of(target, request.method(), path, &body);
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend(found);
        Ok(())
    }
}
