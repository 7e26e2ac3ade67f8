//! Test support: a fresh Ally on either store, the emulator, and invariant checks.
//!
//! The DynamoDB store runs against moto in server mode, started once per test process on a
//! free loopback port (one request at a time, see `infra/moto_server.py`) unless
//! `AWS_ENDPOINT_URL` already points at one. Every test gets its own table.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use ally::domain::{
    CallerKey, ClientName, CompanyName, Email, IdempotencyKey, MetadataKey, RefId, Reseller, Tier, UserId,
};
use ally::service::{Actor, CreditRequest, NewReseller};
use ally::store::dynamo::{ChangeStream, DynamoStore, create_table};
use ally::store::memory::MemoryStore;
use ally::store::{PageRequest, Store};
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

/// A DynamoDB store on a fresh table of its own, without a change stream.
pub async fn dynamo_store() -> DynamoStore {
    dynamo_store_with(ChangeStream::Off).await
}

/// A DynamoDB store on a fresh table of its own.
pub async fn dynamo_store_with(stream: ChangeStream) -> DynamoStore {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config());
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

/// A user id (tests name users with plain strings).
pub fn uid(user_id: &str) -> UserId {
    UserId::parse(user_id).expect("a valid user id")
}

/// A refid as a test got it from an answer.
pub fn rid(refid: &str) -> RefId {
    RefId::parse(refid).expect("a valid refid")
}

/// A partner's own idempotency key, as the HTTP layer makes it of the header.
pub fn ikey(raw: &str) -> IdempotencyKey {
    IdempotencyKey::caller(&CallerKey::parse(raw).expect("a valid key"))
}

/// A client's name.
pub fn cname(name: &str) -> ClientName {
    ClientName::parse(name).expect("a valid client name")
}

/// An email address.
pub fn email(address: &str) -> Email {
    Email::parse(address).expect("a valid email address")
}

/// A metadata key.
pub fn mkey(name: &str) -> MetadataKey {
    MetadataKey::parse(name).expect("a valid metadata key")
}

/// A company name.
pub fn company(name: &str) -> CompanyName {
    CompanyName::parse(name).expect("a valid company name")
}

/// A signed-in partner.
pub fn partner(user_id: &str) -> Actor {
    Actor { user_id: uid(user_id), email: Some(format!("{user_id}@partners.example")), admin: false }
}

/// An admin.
pub fn admin() -> Actor {
    Actor { user_id: uid("admin-1"), email: Some("admin@ally.example".into()), admin: true }
}

/// Onboards `user_id` at `tier` (by an admin) and tops the wallet up to `balance`.
pub async fn reseller_with<S: Store>(ally: &Ally<S>, user_id: &str, tier: Tier, balance: i64) -> Reseller {
    let request = NewReseller {
        tier: Some(tier),
        user_id: Some(uid(user_id)),
        ..NewReseller::new(company(&format!("{user_id} Ltd")))
    };
    ally.onboard(&admin(), request).await.expect("onboard");
    if balance > 0 {
        let credit = CreditRequest { amount: balance, reason: Some("opening balance".into()) };
        ally.add_credits(
            &uid(user_id),
            credit,
            ally::domain::EntryKind::Credit,
            "admin-1",
            &ikey(&format!("open-{user_id}")),
        )
        .await
        .expect("opening credit");
    }
    ally.find_by_user(&uid(user_id)).await.expect("reseller")
}

/// Every ledger entry of `user_id`, walking all pages.
pub async fn all_entries<S: Store>(ally: &Ally<S>, user_id: &str) -> Vec<ally::domain::LedgerEntry> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(100);
    loop {
        let p = ally.ledger(&uid(user_id), &page).await.expect("ledger");
        out.extend(p.items);
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return out,
        }
    }
}

/// Checks the ledger invariant: the entries sum to the balance, which is never negative.
pub async fn assert_ledger_matches_balance<S: Store>(ally: &Ally<S>, user_id: &str) {
    let r = ally.find_by_user(&uid(user_id)).await.expect("reseller");
    let sum: i64 = all_entries(ally, user_id).await.iter().map(|e| e.delta()).sum();
    assert!(r.balance >= 0, "balance went negative: {}", r.balance);
    assert_eq!(sum, r.balance, "ledger sum != balance for {user_id}");
}

/// What a [`Hooked`] store does with one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Proceed,
    /// Fail without touching the store.
    Fail,
    /// Write the first half of a batch, then fail (a function dying mid-fill).
    HalfThenFail,
}

/// A store that counts every call and may inject a fault into any of them, chosen by a hook
/// that sees the method's name.
pub struct Hooked<S> {
    inner: S,
    hook: Box<dyn Fn(&'static str) -> Fault + Send + Sync>,
    calls: std::sync::atomic::AtomicU64,
}

impl<S> Hooked<S> {
    /// Wraps `inner`, asking `hook` before each call.
    pub fn new(inner: S, hook: impl Fn(&'static str) -> Fault + Send + Sync + 'static) -> Self {
        Self { inner, hook: Box::new(hook), calls: std::sync::atomic::AtomicU64::new(0) }
    }

    /// Only counts calls.
    pub fn counting(inner: S) -> Self {
        Self::new(inner, |_| Fault::Proceed)
    }

    /// The first `crashes` bulk fills write half their items and fail.
    pub fn crashing_fill(inner: S, crashes: u32) -> Self {
        let left = std::sync::atomic::AtomicU32::new(crashes);
        Self::new(inner, move |method| {
            let crash = method == "put_portfolio"
                && left
                    .fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| {
                        n.checked_sub(1)
                    })
                    .is_ok();
            if crash { Fault::HalfThenFail } else { Fault::Proceed }
        })
    }

    /// Calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn before(&self, method: &'static str) -> Result<Fault, ally::store::StoreError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match (self.hook)(method) {
            Fault::Fail => Err(ally::store::StoreError::Backend(format!("injected failure of {method}").into())),
            other => Ok(other),
        }
    }
}

pub mod figures;
pub mod runtime_api;
pub mod sdk;

mod hooked {
    use std::collections::BTreeMap;

    use ally::domain::{
        Activity, Client, ClientId, DateRange, IdempotencyKey, LedgerEntry, NetworkTotals, ProvisionedService, RefId,
        Reseller, UserId,
    };
    use ally::store::{
        Counters, Granularity, IdempotencyRecord, Jobs, Page, PageRequest, Portfolio, ProfileUpdate, Profiles,
        ResellerFilter, StoreError, StoreResult, WalletChange, Wallets,
    };
    use chrono::NaiveDate;

    use super::{Fault, Hooked};

    impl<S: Profiles> Profiles for Hooked<S> {
        async fn insert_reseller(&self, r: &Reseller) -> StoreResult<()> {
            self.before("insert_reseller")?;
            self.inner.insert_reseller(r).await
        }
        async fn reseller(&self, user_id: &UserId) -> StoreResult<Option<Reseller>> {
            self.before("reseller")?;
            self.inner.reseller(user_id).await
        }
        async fn reseller_by_refid(&self, refid: &RefId) -> StoreResult<Option<Reseller>> {
            self.before("reseller_by_refid")?;
            self.inner.reseller_by_refid(refid).await
        }
        async fn resellers_by_user(&self, user_ids: &[UserId]) -> StoreResult<Vec<Reseller>> {
            self.before("resellers_by_user")?;
            self.inner.resellers_by_user(user_ids).await
        }
        async fn resellers(&self, filter: ResellerFilter, page: &PageRequest) -> StoreResult<Page<Reseller>> {
            self.before("resellers")?;
            self.inner.resellers(filter, page).await
        }
        async fn update_profile(&self, user_id: &UserId, update: &ProfileUpdate) -> StoreResult<Reseller> {
            self.before("update_profile")?;
            self.inner.update_profile(user_id, update).await
        }
    }

    impl<S: Wallets> Wallets for Hooked<S> {
        async fn wallet(
            &self,
            user_id: &UserId,
            key: &IdempotencyKey,
        ) -> StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)> {
            self.before("wallet")?;
            self.inner.wallet(user_id, key).await
        }
        async fn commit_wallet_change(&self, change: &WalletChange) -> StoreResult<()> {
            self.before("commit_wallet_change")?;
            self.inner.commit_wallet_change(change).await
        }
        async fn finish_idempotency(&self, user_id: &UserId, key: &IdempotencyKey, response: &str) -> StoreResult<()> {
            self.before("finish_idempotency")?;
            self.inner.finish_idempotency(user_id, key, response).await
        }
    }

    impl<S: Portfolio> Portfolio for Hooked<S> {
        async fn insert_client(&self, client: &Client) -> StoreResult<()> {
            self.before("insert_client")?;
            self.inner.insert_client(client).await
        }
        async fn put_portfolio(&self, clients: &[Client], services: &[ProvisionedService]) -> StoreResult<()> {
            if self.before("put_portfolio")? == Fault::HalfThenFail {
                let half = clients.len() / 2;
                self.inner.put_portfolio(&clients[..half], &services[..half]).await?;
                return Err(StoreError::Backend("injected crash during the bulk fill".into()));
            }
            self.inner.put_portfolio(clients, services).await
        }
        async fn client(&self, owner_id: &UserId, client_id: &ClientId) -> StoreResult<Option<Client>> {
            self.before("client")?;
            self.inner.client(owner_id, client_id).await
        }
        async fn clients(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<Client>> {
            self.before("clients")?;
            self.inner.clients(owner_id, page).await
        }
        async fn services(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<ProvisionedService>> {
            self.before("services")?;
            self.inner.services(owner_id, page).await
        }
        async fn ledger(&self, owner_id: &UserId, page: &PageRequest) -> StoreResult<Page<LedgerEntry>> {
            self.before("ledger")?;
            self.inner.ledger(owner_id, page).await
        }
    }

    impl<S: Counters> Counters for Hooked<S> {
        async fn activity(
            &self,
            owner_id: Option<&UserId>,
            range: &DateRange,
            granularity: Granularity,
        ) -> StoreResult<BTreeMap<NaiveDate, Activity>> {
            self.before("activity")?;
            self.inner.activity(owner_id, range, granularity).await
        }
        async fn active_on(&self, day: NaiveDate) -> StoreResult<Vec<(UserId, Activity)>> {
            self.before("active_on")?;
            self.inner.active_on(day).await
        }
        async fn network_totals(&self) -> StoreResult<NetworkTotals> {
            self.before("network_totals")?;
            self.inner.network_totals().await
        }
    }

    impl<S: Jobs> Jobs for Hooked<S> {
        async fn claim(&self, key: &str) -> StoreResult<bool> {
            self.before("claim")?;
            self.inner.claim(key).await
        }
        async fn release(&self, key: &str) -> StoreResult<()> {
            self.before("release")?;
            self.inner.release(key).await
        }
        async fn checkpoint(&self, key: &str) -> StoreResult<Option<String>> {
            self.before("checkpoint")?;
            self.inner.checkpoint(key).await
        }
        async fn save_checkpoint(&self, key: &str, value: &str) -> StoreResult<()> {
            self.before("save_checkpoint")?;
            self.inner.save_checkpoint(key, value).await
        }
    }
}

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

/// The whole HTTP API as the dev server serves it, driven without a socket.
pub struct TestApi<S: Store> {
    pub router: axum::Router,
    pub app: ally::http::Shared<S>,
    pub jwt_secret: Vec<u8>,
    pub webhook_secret: Vec<u8>,
}

/// A response: status, content type and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: serde_json::Value,
}

impl Answer {
    /// The problem+json `code`, if this is an error.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl<S: Store> TestApi<S> {
    /// The API over `store` with fixed test secrets.
    pub fn new(store: S, config: Config) -> Self {
        let config = Config {
            webhook_secret: Some(ally::config::Secret::new("whsec-test")),
            cursor_secret: Some(ally::config::Secret::new("cursor-test")),
            ..config
        };
        let app = ally::http::HttpApp::new(Ally::new(store, config));
        let jwt_secret = b"jwt-test".to_vec();
        let router = ally::http::local_router(app.clone(), &jwt_secret);
        Self { router, app, jwt_secret, webhook_secret: b"whsec-test".to_vec() }
    }

    /// A token for `user`, admin or not.
    pub fn token(&self, user: &str, admin: bool) -> String {
        let claims = ally::http::identity::Claims {
            sub: user.into(),
            email: Some(format!("{user}@partners.example")),
            groups: if admin { vec!["admin".into()] } else { vec![] },
            exp: chrono::Utc::now().timestamp() + 3_600,
        };
        ally::http::identity::mint_hs256(&claims, &self.jwt_secret)
    }

    /// Sends a request; `token` is the bearer, `headers` any others, `body` raw bytes.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let mut request = axum::http::Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self.router.clone().oneshot(request.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Answer { status, content_type, body }
    }

    /// A JSON request as `user` (admin or not).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Answer {
        let body = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
        self.send(method, path, token, &[], body).await
    }

    /// Onboards `user` (company `<user> Ltd`) by an admin at `tier` and credits `balance`;
    /// the partner's token and refid.
    pub async fn partner(&self, user: &str, tier: &str, balance: i64) -> (String, String) {
        let admin = self.token("admin", true);
        let body = serde_json::json!({"company": format!("{user} Ltd"), "user_id": user, "tier": tier});
        let created = self.call("POST", "/resellers", Some(&admin), Some(body)).await;
        assert_eq!(created.status, 201, "{created:?}");
        let refid = created.body["refid"].as_str().expect("a refid").to_string();
        if balance > 0 {
            let path = format!("/resellers/{refid}/credits");
            let credit = serde_json::json!({"amount": balance});
            let paid = self.call_with_key("POST", &path, &admin, &format!("open-{user}"), credit).await;
            assert_eq!(paid.status, 200, "{paid:?}");
        }
        (self.token(user, false), refid)
    }

    /// Everything a partner can see of itself (profile, stats, ledger, clients), to show
    /// that a refused request changed nothing.
    pub async fn holdings(&self, token: &str) -> serde_json::Value {
        let mut view = serde_json::Map::new();
        for (name, path) in [
            ("me", "/resellers/me"),
            ("stats", "/resellers/me/stats"),
            ("ledger", "/resellers/me/transactions?limit=100"),
            ("clients", "/clients?limit=100"),
        ] {
            let answer = self.call("GET", path, Some(token), None).await;
            assert_eq!(answer.status, 200, "{path}: {answer:?}");
            view.insert(name.into(), answer.body);
        }
        serde_json::Value::Object(view)
    }

    /// A JSON request with an `Idempotency-Key`.
    pub async fn call_with_key(
        &self,
        method: &str,
        path: &str,
        token: &str,
        key: &str,
        body: serde_json::Value,
    ) -> Answer {
        self.send(method, path, Some(token), &[("idempotency-key", key)], serde_json::to_vec(&body).unwrap()).await
    }
}

/// A plain HTTP/1.1 request on loopback: status and body (for moto's own API and the dev server).
pub fn http_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response.get(9..12).and_then(|s| s.parse().ok()).expect("status line");
    let (head, payload) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        dechunk(payload)
    } else {
        payload.to_string()
    };
    (status, payload)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
