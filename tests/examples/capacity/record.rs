//! What the store sends DynamoDB, recorded by an SDK interceptor: every write call with the
//! keys it writes, every read with the size of what came back, each labelled with the
//! operation and the reseller the workload was running at the time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ally_tests::items::item_size;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The operation and reseller a call was made for, and the simulated second it was made in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub operation: String,
    pub actor: String,
    pub second: i64,
}

/// One write of one item, as sent.
#[derive(Debug, Clone)]
pub struct Write {
    pub label: Label,
    /// `pk` and `sk` of the item.
    pub key: (String, String),
    /// Part of a TransactWriteItems: DynamoDB charges it twice.
    pub transactional: bool,
    /// Which call it was part of (numbered in order).
    pub call: usize,
}

/// One read call and the bytes it returned, by table or index.
#[derive(Debug, Clone)]
pub struct Read {
    pub label: Label,
    /// `table` or the index name.
    pub target: String,
    pub rcu: f64,
}

#[derive(Debug, Default)]
struct Log {
    label: Option<Label>,
    writes: Vec<Write>,
    reads: Vec<Read>,
    calls: usize,
    /// The index a Query in flight asked for, and whether it read consistently.
    query: Option<(String, bool)>,
}

/// The interceptor, and what it recorded.
#[derive(Debug, Clone, Default)]
pub struct Recorder(Arc<Mutex<Log>>);

fn s(value: Option<&AttributeValue>) -> String {
    value.and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn key_of(item: &HashMap<String, AttributeValue>) -> (String, String) {
    (s(item.get("pk")), s(item.get("sk")))
}

/// Read units of `bytes` read in one go: 4 KB a unit, half for an eventually consistent read.
fn rcu(bytes: usize, consistent: bool) -> f64 {
    let units = bytes.div_ceil(4096).max(1) as f64;
    if consistent { units } else { units / 2.0 }
}

impl Recorder {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Labels the calls from now on.
    pub fn label(&self, operation: &str, actor: &str, second: i64) {
        self.log().label = Some(Label { operation: operation.into(), actor: actor.into(), second });
    }

    /// Everything recorded, and starts afresh.
    pub fn take(&self) -> (Vec<Write>, Vec<Read>) {
        let mut log = self.log();
        (std::mem::take(&mut log.writes), std::mem::take(&mut log.reads))
    }

    fn written(&self, keys: Vec<(String, String)>, transactional: bool) {
        let mut log = self.log();
        let label = log.label.clone().unwrap_or(Label { operation: "setup".into(), actor: "-".into(), second: 0 });
        log.calls += 1;
        let call = log.calls;
        for key in keys {
            log.writes.push(Write { label: label.clone(), key, transactional, call });
        }
    }

    fn read(&self, target: String, bytes: usize, consistent: bool) {
        let mut log = self.log();
        let label = log.label.clone().unwrap_or(Label { operation: "setup".into(), actor: "-".into(), second: 0 });
        log.reads.push(Read { label, target, rcu: rcu(bytes, consistent) });
    }
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "CapacityRecorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input();
        if let Some(t) = input.downcast_ref::<TransactWriteItemsInput>() {
            let keys = t
                .transact_items()
                .iter()
                .filter_map(|item| {
                    if let Some(put) = item.put() {
                        Some(key_of(put.item()))
                    } else if let Some(update) = item.update() {
                        Some(key_of(update.key()))
                    } else {
                        item.delete().map(|delete| key_of(delete.key()))
                    }
                })
                .collect();
            self.written(keys, true);
        } else if let Some(put) = input.downcast_ref::<PutItemInput>() {
            self.written(vec![key_of(put.item().unwrap_or(&HashMap::new()))], false);
        } else if let Some(update) = input.downcast_ref::<UpdateItemInput>() {
            self.written(vec![key_of(update.key().unwrap_or(&HashMap::new()))], false);
        } else if let Some(delete) = input.downcast_ref::<DeleteItemInput>() {
            self.written(vec![key_of(delete.key().unwrap_or(&HashMap::new()))], false);
        } else if let Some(batch) = input.downcast_ref::<BatchWriteItemInput>() {
            for requests in batch.request_items().into_iter().flat_map(|m| m.values()) {
                let keys = requests.iter().filter_map(|r| r.put_request().map(|p| key_of(p.item()))).collect();
                self.written(keys, false);
            }
        } else if let Some(query) = input.downcast_ref::<QueryInput>() {
            let target = query.index_name().unwrap_or("table").to_string();
            self.log().query = Some((target, query.consistent_read().unwrap_or(false)));
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(Ok(output)) = context.output_or_error() else { return Ok(()) };
        // The store's GetItem and BatchGetItem read strongly consistently.
        if let Some(get) = output.downcast_ref::<GetItemOutput>() {
            self.read("table".into(), get.item().map_or(0, item_size), true);
        } else if let Some(batch) = output.downcast_ref::<BatchGetItemOutput>() {
            for item in batch.responses().into_iter().flat_map(|m| m.values()).flatten() {
                self.read("table".into(), item_size(item), true);
            }
        } else if let Some(query) = output.downcast_ref::<QueryOutput>() {
            let (target, consistent) = self.log().query.take().unwrap_or(("table".into(), false));
            let bytes = query.items().iter().map(item_size).sum();
            self.read(target, bytes, consistent);
        }
        Ok(())
    }
}
