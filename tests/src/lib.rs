//! Test support, one module per idea: the emulator, fixtures and invariant checks, the HTTP
//! API without a socket, the analytics figures recomputed by brute force, the fault
//! injector (SDK interceptors; the memory store injects its own), the Lambda Runtime API
//! harness and the simulator.

pub mod api;
pub mod emulator;
pub mod figures;
pub mod fixtures;
pub mod items;
pub mod lambda_async;
pub mod runtime_api;
pub mod sdk;
pub mod simulator;
pub mod stream;
pub mod stripe;

pub use api::{Answer, TestApi, assert_problem, http_request, local_token};
pub use emulator::{
    dynamo_ally, dynamo_store, dynamo_store_with, emulator_endpoint, memory_ally, sdk_config, workspace,
};
pub use fixtures::*;

/// Runs each listed `async fn name<S: Store>(store: S)` once on the memory store and once
/// on the DynamoDB store (fresh table): the one contract both must keep.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(ally::store::memory::MemoryStore::new()).await;
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::dynamo_store().await).await;
                }
            )*
        }
    };
}
