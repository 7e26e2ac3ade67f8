//! An SDK interceptor on the DynamoDB client: counts every call by operation, and can fail
//! the n-th one before it is sent, or lose its response after DynamoDB served it (the
//! timeout-after-commit case, where the caller cannot know whether its write landed); and
//! one that cuts every Query short, as DynamoDB does at 1 MB.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ally::store::dynamo::{ChangeStream, DynamoStore, create_table};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::query::QueryInput;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What to do to the armed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SdkFault {
    /// The call fails before it leaves: nothing was written.
    Refuse,
    /// The call is served (a write is committed), then its response is lost.
    LoseResponse,
}

#[derive(Debug, Default)]
struct Tally {
    calls: u64,
    by_operation: BTreeMap<String, u64>,
    armed: Option<(u64, SdkFault)>,
    /// Whether the armed fault was applied: the call failed or its response was dropped.
    applied: bool,
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

    /// A DynamoDB store on a fresh emulator table whose client goes through this interceptor.
    pub async fn store(&self) -> DynamoStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&crate::sdk_config()).interceptor(self.clone()).build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let table = format!("ally-test-{}", ulid::Ulid::new().to_string().to_lowercase());
        create_table(&client, &table, ChangeStream::On).await.expect("create the test table");
        self.take();
        DynamoStore::new(client, table)
    }
}

impl Intercept for SdkCalls {
    fn name(&self) -> &'static str {
        "SdkCalls"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // DynamoDB's JSON protocol names the operation in this header: `DynamoDB_20120810.GetItem`.
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|target| target.rsplit('.').next())
            .unwrap_or("unknown")
            .to_string();
        let mut tally = self.tally();
        tally.calls += 1;
        *tally.by_operation.entry(operation).or_default() += 1;
        if tally.armed == Some((tally.calls, SdkFault::Refuse)) {
            tally.applied = true;
            return Err("injected fault: the call failed before it was sent".into());
        }
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut tally = self.tally();
        // The calls of one operation are sequential here (the store awaits each), so the
        // count still names the call this response answers.
        if tally.armed == Some((tally.calls, SdkFault::LoseResponse)) {
            tally.applied = true;
            return Err("injected fault: the response was lost after the call was served".into());
        }
        Ok(())
    }
}

/// Lowers the `Limit` of every Query to `cap` items, so DynamoDB answers short pages with a
/// `LastEvaluatedKey`, as it does when a page reaches 1 MB or a filter drops items.
#[derive(Debug, Clone, Copy)]
pub struct ShortPages(pub i32);

impl ShortPages {
    /// A DynamoDB store on a fresh emulator table whose Queries are cut short.
    pub async fn store(self) -> DynamoStore {
        let config = aws_sdk_dynamodb::config::Builder::from(&crate::sdk_config()).interceptor(self).build();
        let client = aws_sdk_dynamodb::Client::from_conf(config);
        let table = format!("ally-test-{}", ulid::Ulid::new().to_string().to_lowercase());
        create_table(&client, &table, ChangeStream::Off).await.expect("create the test table");
        DynamoStore::new(client, table)
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
