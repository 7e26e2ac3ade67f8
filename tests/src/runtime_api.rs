//! A Lambda Runtime API served in-process (`/2018-06-01/runtime/invocation/next` and
//! friends), and a function binary run against it as Lambda runs it: a process with the
//! Lambda environment, fed one event at a time. Used by the function tests and the cold
//! start benchmark.

use std::collections::VecDeque;
use std::path::Path as FilePath;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;

/// What a function posted back for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(Value),
    Error(String),
}

/// An outcome, the request id it answers and when it arrived.
type Posted = (String, Outcome, Instant);

struct RuntimeApi {
    events: Mutex<VecDeque<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<Posted>,
}

async fn next(State(api): State<Arc<RuntimeApi>>) -> (HeaderMap, Bytes) {
    loop {
        let event = api.events.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        if let Some((id, event)) = event {
            let mut headers = HeaderMap::new();
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            let header = |value: &str| HeaderValue::from_str(value).expect("a header value");
            headers.insert("lambda-runtime-aws-request-id", header(&id));
            headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                header("arn:aws:lambda:eu-west-1:123456789012:function:ally-test"),
            );
            headers.insert("lambda-runtime-trace-id", header("Root=1-5759e988-bd862e3fe1be46a994272793"));
            return (headers, Bytes::from(serde_json::to_vec(&event).unwrap_or_default()));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn response(State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let _ = api.outcomes.send((id, Outcome::Response(value), Instant::now()));
    "{}"
}

async fn error(State(api): State<Arc<RuntimeApi>>, Path(id): Path<String>, body: Bytes) -> &'static str {
    let _ = api.outcomes.send((id, Outcome::Error(String::from_utf8_lossy(&body).into()), Instant::now()));
    "{}"
}

async fn init_error(State(api): State<Arc<RuntimeApi>>, body: Bytes) -> &'static str {
    let _ = api.outcomes.send(("init".into(), Outcome::Error(String::from_utf8_lossy(&body).into()), Instant::now()));
    "{}"
}

/// A function process and the Runtime API it polls.
pub struct Function {
    child: Child,
    api: Arc<RuntimeApi>,
    outcomes: mpsc::UnboundedReceiver<Posted>,
    served: u32,
    /// The function's name, for what a failure says.
    name: String,
    /// Where the process's stdout (its log and metric lines) goes.
    stdout: std::path::PathBuf,
    /// When the process was started.
    pub started: Instant,
}

impl Function {
    /// Starts `binary` with the Lambda environment for `name` plus `env`.
    pub async fn start(binary: &FilePath, name: &str, env: &[(&str, String)]) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let api = Arc::new(RuntimeApi { events: Mutex::new(VecDeque::new()), outcomes: tx });
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        let stdout = std::env::temp_dir().join(format!("ally-{name}-{}.log", ulid::Ulid::new()));
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .stdout(Stdio::from(std::fs::File::create(&stdout).expect("a file for the function's stdout")))
            .stderr(Stdio::inherit());
        for (key, value) in env {
            command.env(key, value);
        }
        let started = Instant::now();
        let child = command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        Self { child, api, outcomes: rx, served: 0, name: name.to_string(), stdout, started }
    }

    /// The lines the process wrote to stdout so far: what CloudWatch Logs would hold.
    pub fn stdout_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.stdout).unwrap_or_default().lines().map(str::to_string).collect()
    }

    /// Queues `event` and waits for the function's outcome and the moment it was posted.
    pub async fn answer(&mut self, event: Value) -> (Outcome, Instant) {
        self.served += 1;
        let id = format!("req-{}", self.served);
        self.api.events.lock().unwrap_or_else(|p| p.into_inner()).push_back((id.clone(), event));
        let (got, outcome, at) = tokio::time::timeout(Duration::from_secs(60), self.outcomes.recv())
            .await
            .expect("the function answered within a minute")
            .expect("runtime channel open");
        match outcome {
            Outcome::Error(message) if got == "init" => panic!("the function failed to start: {message}"),
            outcome if got == id => (outcome, at),
            outcome => panic!("answer for {got} while waiting for {id}: {outcome:?}"),
        }
    }

    /// Invokes the function with `event`; what it posted back (for an HTTP function, the
    /// whole API Gateway response) and its status (200 for an event function).
    pub async fn respond(&mut self, event: Value) -> (u16, Value) {
        let route = event["routeKey"].as_str().or(event["detail-type"].as_str()).unwrap_or("an event").to_string();
        let response = match self.answer(event).await.0 {
            Outcome::Response(response) => response,
            Outcome::Error(message) => panic!("{} failed req-{} ({route}): {message}", self.name, self.served),
        };
        let status = response.get("statusCode").map_or(200, |s| s.as_u64().expect("statusCode") as u16);
        (status, response)
    }

    /// Invokes the function with `event`: for an HTTP function the API Gateway response's
    /// status and JSON body, for an event function 200 and what it made of the event.
    pub async fn invoke(&mut self, event: Value) -> (u16, Value) {
        let (status, response) = self.respond(event).await;
        if response.get("statusCode").is_none() {
            return (status, response);
        }
        let body = response["body"].as_str().map(|b| serde_json::from_str(b).unwrap_or(Value::Null));
        (status, body.unwrap_or(Value::Null))
    }

    /// The process's peak resident memory so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stdout);
    }
}
