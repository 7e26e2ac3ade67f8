//! The DynamoDB emulator of a test process: moto in server mode, started once per process
//! on a free loopback port (one request at a time, see `infra/moto_server.py`) unless
//! `AWS_ENDPOINT_URL` already points at one, and stopped when the process exits. Every
//! test gets a table of its own.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use ally::store::dynamo::{ChangeStream, DynamoStore, create_table};
use ally::store::memory::MemoryStore;
use ally::{Ally, Config};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};

/// The workspace root. Read at run time (cargo sets the variable for tests and benches):
/// a build cache shared between checkouts may hold a binary compiled in another one.
pub fn workspace() -> PathBuf {
    let tests = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), PathBuf::from);
    tests.join("..")
}

/// The emulator of this test process: its endpoint, and the pipe whose closing stops it.
struct Emulator {
    endpoint: String,
    _child: Child,
    _stdin: ChildStdin,
}

static EMULATOR: OnceLock<Mutex<Option<Emulator>>> = OnceLock::new();

/// The emulator's endpoint, starting it on first use.
pub fn emulator_endpoint() -> String {
    if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
        return endpoint;
    }
    let cell = EMULATOR.get_or_init(|| Mutex::new(None));
    let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(emulator) = guard.as_ref() {
        return emulator.endpoint.clone();
    }
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make test` (it installs moto into .venv) or set AWS_ENDPOINT_URL",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(workspace().join("infra/moto_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read moto's port");
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("moto printed `{line}` instead of its port"));
    let endpoint = format!("http://127.0.0.1:{port}");
    let stdin = child.stdin.take().expect("stdin");
    *guard = Some(Emulator { endpoint: endpoint.clone(), _child: child, _stdin: stdin });
    endpoint
}

/// An SDK configuration for the emulator, with test credentials.
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emulator_endpoint())
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(Credentials::for_tests()))
        .build()
}

/// A DynamoDB store on a fresh table of its own, with its change stream (the network's
/// figures are counted from it: see [`crate::stream::catch_up`]).
pub async fn dynamo_store() -> DynamoStore {
    dynamo_store_with(ChangeStream::On).await
}

/// A DynamoDB store on a fresh table of its own.
pub async fn dynamo_store_with(stream: ChangeStream) -> DynamoStore {
    fresh_table(aws_sdk_dynamodb::Client::new(&sdk_config()), stream).await
}

/// A DynamoDB store through `client` on a fresh table of its own.
pub async fn fresh_table(client: aws_sdk_dynamodb::Client, stream: ChangeStream) -> DynamoStore {
    let table = format!("ally-test-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&client, &table, stream).await.expect("create the test table");
    DynamoStore::new(client, table)
}

/// Ally on the memory store.
pub fn memory_ally(config: Config) -> Arc<Ally<MemoryStore>> {
    Arc::new(Ally::new(MemoryStore::new(), config))
}

/// Ally on the DynamoDB store, fresh table.
pub async fn dynamo_ally(config: Config) -> Arc<Ally<DynamoStore>> {
    Arc::new(Ally::new(dynamo_store().await, config))
}
