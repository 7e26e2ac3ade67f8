//! `make dev`'s server as a person uses it: the real `ally-local` binary on a loopback port,
//! the admin token it prints, a token minted by its `token` command, and data that survives
//! a restart. `make test` builds the binary before the tests run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub(super) fn binary() -> PathBuf {
    let target =
        std::env::var("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|_| ally_tests::workspace().join("target"));
    let path = target.join("debug").join("ally-local");
    assert!(path.exists(), "{} is missing: `make test` builds it", path.display());
    path
}

pub(super) struct DevServer {
    child: Child,
    pub(super) port: u16,
    admin_token: String,
    /// What it printed up to its admin token: the banner.
    banner: String,
}

impl DevServer {
    /// Starts the server on a port the system picks, read from what it prints.
    pub(super) fn start(data: &Path) -> Self {
        let mut child = Command::new(binary())
            .arg("serve")
            .env("ALLY_LOCAL_ADDR", "127.0.0.1:0")
            .env("ALLY_LOCAL_DATA", data)
            .env("ALLY_LOCAL_OUTBOX", data.join("outbox"))
            .env_remove("ALLY_LOCAL_JWT_SECRET")
            .env_remove("ALLY_WEBHOOK_SECRET")
            .env_remove("ALLY_STRIPE_WEBHOOK_SECRET")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut port, mut admin_token, mut banner) = (None, None, String::new());
        for line in lines.by_ref() {
            let line = line.unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if let Some(served) = line.strip_prefix("Ally dev server on http://127.0.0.1:") {
                port = served.split_whitespace().next().and_then(|p| p.parse().ok());
            }
            if let Some(token) = line.trim().strip_prefix("admin token (24 h): ") {
                admin_token = Some(token.to_string());
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            port: port.expect("the server prints the port it serves"),
            admin_token: admin_token.expect("the server prints an admin token"),
            banner,
        }
    }

    fn request(&self, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        self.request_with(method, path, token, &[], body)
    }

    pub(super) fn request_with(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let bearer = format!("Bearer {token}");
        // No token, no Authorization header (the public routes and the webhooks).
        let mut all = vec![("Content-Type", "application/json")];
        if !token.is_empty() {
            all.push(("Authorization", bearer.as_str()));
        }
        all.extend_from_slice(headers);
        let (status, payload) = ally_tests::http_request(self.port, method, path, &all, &body);
        (status, serde_json::from_str(&payload).unwrap_or(Value::Null))
    }
}

impl DevServer {
    /// An `Ally-Signature` of `body` with the webhook secret the server printed.
    pub(super) fn sign_payment(&self, body: &str) -> String {
        let secret = self
            .banner
            .lines()
            .find_map(|l| l.trim().strip_prefix("ALLY_WEBHOOK_SECRET="))
            .expect("the banner prints the webhook secret");
        ally::http::webhook::sign(secret.as_bytes(), chrono::Utc::now().timestamp(), body.as_bytes())
    }

    /// Stops the server as a process manager would (SIGTERM), letting it write its data.
    pub(super) fn stop(mut self) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        assert!(exit.success(), "the dev server stops cleanly on SIGTERM: {exit}");
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mint(data: &Path, user: &str, email: &str) -> String {
    let out =
        Command::new(binary()).args(["token", user, "--email", email]).env("ALLY_LOCAL_DATA", data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Polls up to 30 s: the deadline of what a loaded 2-core machine may take, never a goal.
const POLLS: u32 = 1_200;

/// The real `ally-local` binary, started and restarted: every route answers and the data
/// outlives a restart (long: one walk per process start, which costs seconds on CI).
#[test]
fn the_dev_server_serves_every_route_and_keeps_its_data() {
    let data = std::env::temp_dir().join(format!("ally-dev-{}", ulid::Ulid::new()));
    let server = DevServer::start(&data);
    // The dev server is its own identity provider: a token's address counts as verified.
    let partner = mint(&data, "partner-9", "billing@nine.example");
    let (status, created) = server.request("POST", "/resellers", &partner, Some(json!({"company": "Nine Ltd"})));
    assert_eq!(status, 201, "{created}");
    let refid = created["refid"].as_str().unwrap().to_string();
    let (status, paid) = server.request(
        "POST",
        &format!("/resellers/{refid}/credits"),
        &server.admin_token,
        Some(json!({"amount": 700})),
    );
    assert_eq!(status, 400, "no Idempotency-Key: {paid}");
    let (status, _) = server.request("GET", &format!("/resellers/{refid}"), &partner, None);
    assert_eq!(status, 403, "a partner token is not an admin token");
    let (status, _) = server.request("GET", &format!("/resellers/{refid}"), &server.admin_token, None);
    assert_eq!(status, 200);
    server.stop();

    let server = DevServer::start(&data);
    let (status, me) = server.request("GET", "/resellers/me", &partner, None);
    assert_eq!((status, me["refid"].as_str()), (200, Some(refid.as_str())), "the same token and data after a restart");

    // The event pipeline in process: a balance crossing the threshold mails the partner.
    let (status, _) = server.request_with(
        "POST",
        &format!("/resellers/{refid}/credits"),
        &server.admin_token,
        &[("Idempotency-Key", "top-1")],
        Some(json!({"amount": 600})),
    );
    assert_eq!(status, 200);
    let (status, bought) = server.request_with(
        "POST",
        "/provision",
        &partner,
        &[("Idempotency-Key", "buy-1")],
        Some(json!({"cost": 200})),
    );
    assert_eq!((status, bought["balance"].as_i64()), (200, Some(400)), "{bought}");
    let mut outbox = Value::Null;
    for _ in 0..POLLS {
        outbox = server.request("GET", "/_local/outbox", "", None).1;
        if outbox.as_array().is_some_and(|m| !m.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let mails = outbox.as_array().expect("the outbox lists mail");
    assert_eq!(mails.len(), 1, "{outbox}");
    assert_eq!(mails[0]["to"], "billing@nine.example");
    assert!(mails[0]["text"].as_str().unwrap().contains("400"));
    let html = mails[0]["html"].as_str().expect("the outbox shows the HTML part too");
    assert!(html.contains("Your available credit is 400"), "{html}");
    assert!(
        html.contains("Ally partner network") && html.contains("/partner/dashboard"),
        "the footer and link: {html}"
    );
    let eml = std::fs::read_dir(data.join("outbox")).unwrap().count();
    assert_eq!(eml, 1, "the mail is also an .eml file");

    // A ReferralCompleted from the referral system, delivered twice: one reward.
    let referral = json!({"source": "refer", "detail-type": "ReferralCompleted",
        "detail": {"referral_id": "ref-1", "referrer_user_id": "partner-9", "referred_user_id": "partner-10", "tag": "become-partner"}});
    for _ in 0..2 {
        let (status, _) = server.request("POST", "/_local/events", "", Some(referral.clone()));
        assert_eq!(status, 200);
    }
    let (status, problem) = server.request("POST", "/_local/events", "", Some(json!({"detail": {}})));
    assert_eq!((status, problem["code"].as_str()), (422, Some("validation_failed")));
    let (_, me) = server.request("GET", "/resellers/me", &partner, None);
    assert_eq!(me["balance"], 400, "no reward while partner-10 is no reseller");
    // partner-10 onboards: the referral that waited for it is paid, once.
    let newcomer = mint(&data, "partner-10", "it@ten.example");
    let (status, _) = server.request("POST", "/resellers", &newcomer, Some(json!({"company": "Ten Ltd"})));
    assert_eq!(status, 201);
    let mut balance = 0;
    for _ in 0..POLLS {
        balance = server.request("GET", "/resellers/me", &partner, None).1["balance"].as_i64().unwrap();
        if balance != 400 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert_eq!(balance, 1_400, "the reward is credited once");

    // A Stripe payment tried without Stripe: signed with the dev server's secret.
    let sent = Command::new(binary())
        .args(["stripe-event", "payment_intent.succeeded", "--refid", &refid, "--amount", "250"])
        .args(["--url", &format!("http://127.0.0.1:{}", server.port)])
        .env("ALLY_LOCAL_DATA", &data)
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&sent.stdout);
    assert!(sent.status.success() && answer.contains("credited"), "{answer}");
    let (_, me) = server.request("GET", "/resellers/me", &partner, None);
    assert_eq!(me["balance"], 1_650, "the Stripe payment credited");
    drop(server);
    std::fs::remove_dir_all(&data).unwrap();
}

/// A web page the developer visits cannot use the dev server: a request naming another host
/// (DNS rebinding) is refused with 421, and a body not sent as JSON (a form's or a "simple"
/// cross-site POST's `text/plain`) with 415, so neither mints an admin token; the banner
/// says so. Its own names, `127.0.0.1` and `localhost` on its port, are answered.
#[test]
fn the_dev_server_answers_only_its_own_host_and_json_bodies() {
    let data = std::env::temp_dir().join(format!("ally-guard-{}", ulid::Ulid::new()));
    let server = DevServer::start(&data);
    let port = server.port;
    let promise = format!("answers only http://127.0.0.1:{port} and http://localhost:{port}");
    assert!(server.banner.contains(&promise), "the banner says what it answers: {}", server.banner);
    let own = format!("localhost:{port}");
    for host in ["evil.example", "evil.example:80", "127.0.0.1", "localhost", "127.0.0.1.evil.example"] {
        let (status, body) = ally_tests::http_request(port, "GET", "/health", &[("Host", host)], "");
        assert_eq!(status, 421, "Host {host}: {body}");
        assert!(body.contains("wrong_host"), "{body}");
    }
    for host in [own.as_str(), &format!("127.0.0.1:{port}"), &format!("LOCALHOST:{port}")] {
        assert_eq!(ally_tests::http_request(port, "GET", "/health", &[("Host", host)], "").0, 200, "Host {host}");
    }

    let sign_in = r#"{"user_id": "intruder", "admin": true}"#;
    for declared in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let (status, body) =
            ally_tests::http_request(port, "POST", "/_local/sign-in", &[("Content-Type", declared)], sign_in);
        assert_eq!(status, 415, "{declared}: {body}");
        assert!(!body.contains("token"), "no token for {declared}: {body}");
    }
    let (status, body) = ally_tests::http_request(
        port,
        "POST",
        "/_local/sign-in",
        &[("Host", "evil.example"), ("Content-Type", "application/json")],
        sign_in,
    );
    assert_eq!(status, 421, "{body}");
    let json = [("Content-Type", "application/json; charset=utf-8")];
    let (status, body) = ally_tests::http_request(port, "POST", "/_local/sign-in", &json, sign_in);
    assert_eq!(status, 200, "its own page signs in: {body}");
    server.stop();
    let _ = std::fs::remove_dir_all(data);
}

/// The dev tools agree with the server they serve, and say what they used when they do not:
/// `--help` answers; a token of another data folder names that folder (the server refuses
/// it); a Stripe event signed with another folder's secret fails (not a hint to refund it),
/// and one sent where no server listens names the URL it tried.
#[test]
fn the_dev_tools_say_which_server_and_data_they_used() {
    let run =
        |args: &[&str], data: &Path| Command::new(binary()).args(args).env("ALLY_LOCAL_DATA", data).output().unwrap();
    let data = std::env::temp_dir().join(format!("ally-tools-{}", ulid::Ulid::new()));
    let other = std::env::temp_dir().join(format!("ally-tools-other-{}", ulid::Ulid::new()));
    let help = run(&["--help"], &data);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.status.success()
            && ["serve", "token", "stripe-event", "redrive", "recount"].iter().all(|c| text.contains(c)),
        "{text}"
    );
    assert!(run(&["token", "--help"], &data).status.success());

    let server = DevServer::start(&data);
    let url = format!("http://127.0.0.1:{}", server.port);
    let foreign = run(&["token", "someone"], &other);
    assert!(String::from_utf8_lossy(&foreign.stderr).contains(&other.display().to_string()), "it names the folder");
    let token = String::from_utf8(foreign.stdout).unwrap().trim().to_string();
    assert_eq!(server.request("GET", "/resellers/me", &token, None).0, 401, "another folder's token is refused");
    let own = String::from_utf8(run(&["token", "someone"], &data).stdout).unwrap().trim().to_string();
    assert_eq!(server.request("GET", "/resellers/me", &own, None).0, 404, "its own folder's token is taken");

    let event =
        ["stripe-event", "checkout.session.completed", "--refid", "0000000000", "--amount", "100", "--url", &url];
    let refused = run(&event, &other);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains(&other.display().to_string()), "{said}");
    assert!(!String::from_utf8_lossy(&refused.stdout).contains("refund"), "no hint after a refusal");
    server.stop();
    let nowhere = run(&event, &data);
    assert!(!nowhere.status.success() && String::from_utf8_lossy(&nowhere.stderr).contains(&url), "it names the URL");
    let _ = (std::fs::remove_dir_all(data), std::fs::remove_dir_all(other));
}
