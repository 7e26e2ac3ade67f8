//! The HTTP API as the dev server serves it, driven without a socket, with typed helpers
//! for the calls tests make most.

use ally::store::Store;
use ally::{Ally, Config};

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
    /// The `Location` header, if any.
    pub location: Option<String>,
    pub body: serde_json::Value,
    /// Every header of the answer.
    pub headers: axum::http::HeaderMap,
}

impl Answer {
    /// The problem+json `code`, if this is an error.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// Checks `answer` is the problem+json error `status` / `code`, with every field of the
/// format; `what` names the case in a failure.
pub fn assert_problem(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!((answer.status, answer.code()), (status, code), "{what}: {answer:?}");
    assert_eq!(answer.content_type, "application/problem+json", "{what}: {answer:?}");
    for field in ["type", "title", "detail"] {
        assert!(answer.body[field].is_string(), "{what}: problem lacks {field}: {answer:?}");
    }
    assert_eq!(answer.body["status"], status, "{what}");
}

/// A dev-server token signed with `secret` for `user` (an hour, verified email), admin or not.
pub fn local_token(secret: &[u8], user: &str, admin: bool) -> String {
    let claims = ally::http::identity::Claims {
        sub: user.into(),
        email: Some(format!("{user}@partners.example")),
        email_verified: true,
        groups: if admin { vec!["admin".into()] } else { vec![] },
        exp: chrono::Utc::now().timestamp() + 3_600,
    };
    ally::http::identity::mint_hs256(&claims, secret)
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
        local_token(&self.jwt_secret, user, admin)
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
        let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_string());
        let (content_type, location) = (header("content-type").unwrap_or_default(), header("location"));
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&bytes).unwrap() };
        Answer { status, content_type, location, body, headers }
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

    /// `POST /provision` as the partner of `token`, with `key`.
    pub async fn provision(&self, token: &str, key: &str, body: serde_json::Value) -> Answer {
        self.call_with_key("POST", "/provision", token, key, body).await
    }

    /// `POST /clients/bulk` as the partner of `token`, with `key`.
    pub async fn bulk(&self, token: &str, key: &str, body: serde_json::Value) -> Answer {
        self.call_with_key("POST", "/clients/bulk", token, key, body).await
    }

    /// `POST /resellers/{refid}/credits` as the admin of `token`, with `key`.
    pub async fn add_credits(&self, token: &str, refid: &str, key: &str, body: serde_json::Value) -> Answer {
        self.call_with_key("POST", &format!("/resellers/{refid}/credits"), token, key, body).await
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
/// The `Host` is the server's own address unless `headers` name another.
pub fn http_request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
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
