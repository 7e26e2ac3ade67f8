//! The dev server (`ally-local serve`, release build, embedded store) under load: requests
//! per second and p50/p99 latency for provision, add credits and client listing at 1, 8 and
//! 64 concurrent clients, next to an axum hello-world on the same machine. The load comes
//! from a small keep-alive HTTP/1.1 client here, one connection per concurrent client.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ally::http::identity::{Claims, mint_hs256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::{Section, bootstrap, ms, quantile};

const RUN: Duration = Duration::from_secs(2);
const LEVELS: [usize; 3] = [1, 8, 64];
const SECRET: &str = "bench-jwt-secret";

/// Idempotency keys never repeat across rows, so every request is a new operation, not a replay.
static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn fresh_key(prefix: &str) -> String {
    format!("{prefix}-{}", NEXT_KEY.fetch_add(1, Ordering::Relaxed))
}

/// One keep-alive connection.
struct Connection {
    stream: BufReader<TcpStream>,
}

impl Connection {
    async fn open(addr: &str) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream: BufReader::new(stream) }
    }

    /// Sends one request and reads the whole response; its status and body.
    async fn send(&mut self, method: &str, path: &str, headers: &[(&str, String)], body: &str) -> (u16, Vec<u8>) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: bench\r\ncontent-length: {}\r\n", body.len());
        if !body.is_empty() {
            request.push_str("content-type: application/json\r\n");
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.stream.get_mut().write_all(request.as_bytes()).await.expect("write");
        let mut line = String::new();
        self.stream.read_line(&mut line).await.expect("status line");
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let (mut length, mut chunked) = (0usize, false);
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.expect("header");
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(value) = header.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            chunked |= header == "transfer-encoding: chunked";
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await.expect("chunk size");
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await.expect("chunk");
                body.extend_from_slice(&chunk[..size]);
                if size == 0 {
                    break;
                }
            }
        } else {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await.expect("body");
        }
        (status, body)
    }
}

fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").to_string()
}

/// A server process, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(name: &str, addr: &str, data: &std::path::Path) -> Option<Server> {
    let binary = bootstrap("x86-64", name)?;
    let child = Command::new(binary)
        .env("ALLY_LOCAL_ADDR", addr)
        .env("ALLY_LOCAL_DATA", data.join("store"))
        .env("ALLY_LOCAL_OUTBOX", data.join("outbox"))
        .env("ALLY_LOCAL_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Some(Server(child));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    None
}

fn token(user: &str, admin: bool) -> String {
    let claims = Claims {
        sub: user.into(),
        email: None,
        email_verified: false,
        groups: if admin { vec!["admin".into()] } else { vec![] },
        exp: chrono::Utc::now().timestamp() + 3_600,
    };
    format!("Bearer {}", mint_hs256(&claims, SECRET.as_bytes()))
}

/// What concurrent client number `client` sends next: method, path, headers and body.
type Request = Box<dyn Fn(usize) -> (&'static str, String, Vec<(&'static str, String)>, String) + Send + Sync>;

/// `clients` connections sending for `RUN`; requests per second, p50, p99 and non-2xx.
async fn load(addr: &str, clients: usize, request: std::sync::Arc<Request>) -> (f64, Duration, Duration, usize) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let addr = addr.to_string();
            let request = request.clone();
            tokio::spawn(async move {
                let mut connection = Connection::open(&addr).await;
                let mut latencies = Vec::new();
                let mut failures = 0;
                while started.elapsed() < RUN {
                    let (method, path, headers, body) = request(client);
                    let sent = Instant::now();
                    let (status, _) = connection.send(method, &path, &headers, &body).await;
                    latencies.push(sent.elapsed());
                    failures += usize::from(!(200..300).contains(&status));
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (latencies, failed) = task.await.expect("load task");
        all.extend(latencies);
        failures += failed;
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64();
    (rate, quantile(&mut all, 0.5), quantile(&mut all, 0.99), failures)
}

pub async fn run() -> Section {
    let data = std::env::temp_dir().join(format!("ally-bench-{}", std::process::id()));
    let mut rows = Vec::new();
    let hello_addr = free_addr();
    let ally_addr = free_addr();
    let (Some(hello), Some(ally)) =
        (start("hello-axum", &hello_addr, &data).await, start("ally-local", &ally_addr, &data).await)
    else {
        return Section { title: "Dev-server throughput", body: "not built: run `make bench`\n".into() };
    };

    // One partner per concurrent client (a wallet is not shared), each with credits and,
    // for the listing, 50 clients.
    let admin = token("admin", true);
    let mut setup = Connection::open(&ally_addr).await;
    let mut refids = Vec::new();
    for i in 0..64 {
        let body = format!(r#"{{"company":"Load {i}","user_id":"load-{i}"}}"#);
        let (_, created) = setup.send("POST", "/resellers", &[("authorization", admin.clone())], &body).await;
        let created: serde_json::Value = serde_json::from_slice(&created).expect("a reseller");
        let path = format!("/resellers/{}", created["refid"].as_str().expect("refid"));
        let headers = [("authorization", admin.clone()), ("idempotency-key", format!("open-{i}"))];
        setup.send("POST", &format!("{path}/credits"), &headers, r#"{"amount":100000000}"#).await;
        refids.push(path);
    }
    let partner0 = token("load-0", false);
    for i in 0..50 {
        setup
            .send("POST", "/clients", &[("authorization", partner0.clone())], &format!(r#"{{"name":"Client {i}"}}"#))
            .await;
    }
    let tokens: Vec<String> = (0..64).map(|i| token(&format!("load-{i}"), false)).collect();

    let health: std::sync::Arc<Request> =
        std::sync::Arc::new(Box::new(|_| ("GET", "/health".into(), vec![], String::new())));
    let tokens_p = tokens.clone();
    let provision: std::sync::Arc<Request> = std::sync::Arc::new(Box::new(move |client| {
        let headers = vec![("authorization", tokens_p[client].clone()), ("idempotency-key", fresh_key("p"))];
        ("POST", "/provision".into(), headers, r#"{"cost":1}"#.into())
    }));
    let admin_c = admin.clone();
    let paths = refids.clone();
    let credits: std::sync::Arc<Request> = std::sync::Arc::new(Box::new(move |client| {
        let headers = vec![("authorization", admin_c.clone()), ("idempotency-key", fresh_key("c"))];
        ("POST", format!("{}/credits", paths[client]), headers, r#"{"amount":1}"#.into())
    }));
    let list: std::sync::Arc<Request> = std::sync::Arc::new(Box::new(move |_| {
        ("GET", "/clients?limit=20".into(), vec![("authorization", partner0.clone())], String::new())
    }));

    for clients in LEVELS {
        let (base_rate, base_p50, base_p99, _) = load(&hello_addr, clients, health.clone()).await;
        rows.push(format!(
            "| hello-world `GET /health` | {clients} | {base_rate:.0} | {} | {} | | |",
            ms(base_p50),
            ms(base_p99)
        ));
        for (name, request) in [
            ("`POST /provision`", provision.clone()),
            ("`POST /resellers/{refid}/credits`", credits.clone()),
            ("`GET /clients?limit=20`", list.clone()),
        ] {
            let (rate, p50, p99, failures) = load(&ally_addr, clients, request).await;
            rows.push(format!(
                "| {name} | {clients} | {rate:.0} | {} | {} | {:.1}% | {failures} |",
                ms(p50),
                ms(p99),
                100.0 * rate / base_rate
            ));
        }
    }
    drop((hello, ally));
    let _ = std::fs::remove_dir_all(&data);
    Section {
        title: "Dev-server throughput",
        body: format!(
            "`ally-local serve` (release build, embedded store persisted to a file in a temporary directory, \
             change feed on) and a \
             hello-world axum server, each loaded for {} s per row by keep-alive HTTP/1.1 clients on loopback. \
             Each concurrent client provisions from, or is credited to, a wallet of its own.\n\n\
             | request | clients | req/s | p50 ms | p99 ms | of hello-world | non-2xx |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n{}\n",
            RUN.as_secs(),
            rows.join("\n")
        ),
    }
}
