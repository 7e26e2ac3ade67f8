//! What the dev server answers: requests to its own address only, and bodies sent as JSON.
//! A web page its user visits can otherwise reach it: through DNS rebinding (a name of the
//! page's that resolves to 127.0.0.1, sent as the `Host`) or with a "simple" cross-site POST
//! (a JSON body sent as `text/plain`, which needs no preflight), and mint an admin token at
//! `/_local/sign-in` or put events on the local bus.

use std::net::SocketAddr;
use std::sync::Arc;

use ally::http::ApiError;
use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The `Host` values of the server bound at `addr`: its address, and `localhost` and the
/// loopback addresses on its port (with no port only on port 80).
fn own_hosts(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut names = vec![addr.ip().to_string(), "127.0.0.1".into(), "localhost".into(), "[::1]".into()];
    if let SocketAddr::V6(v6) = addr {
        names.push(format!("[{}]", v6.ip()));
    }
    let mut hosts: Vec<String> = names.iter().map(|name| format!("{name}:{port}")).collect();
    if port == 80 {
        hosts.extend(names);
    }
    hosts
}

/// Whether a request's body, if it has one, is declared JSON (`application/json`, or a
/// `+json` type such as `application/problem+json`).
fn json_or_empty(headers: &HeaderMap) -> bool {
    let sized = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).is_some_and(|n| n.trim() != "0");
    let has_body = sized || headers.contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return true;
    }
    let declared = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.starts_with("application/") && essence.ends_with("+json")
}

async fn guard(State(hosts): State<Arc<Vec<String>>>, request: Request, next: Next) -> Response {
    let refused =
        |status, code, detail: String| ally::http::private_answer(ApiError::new(status, code, detail).into_response());
    // Another machine could name any host: only this one is served, whatever the address
    // bound (a server bound to 0.0.0.0 would otherwise mint admin tokens for the network).
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| peer.ip());
    if peer.is_some_and(|ip| !ip.is_loopback()) {
        let detail = "the dev server answers requests from this machine only".to_string();
        return refused(StatusCode::FORBIDDEN, "not_this_machine", detail).await;
    }
    let host = request.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !hosts.iter().any(|own| own.eq_ignore_ascii_case(host)) {
        let detail = "this dev server answers only requests to its own address (127.0.0.1 or localhost, on its port)";
        return refused(StatusCode::MISDIRECTED_REQUEST, "wrong_host", detail.to_string()).await;
    }
    if !json_or_empty(request.headers()) {
        let detail = "a request body must be sent as application/json".to_string();
        return refused(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", detail).await;
    }
    next.run(request).await
}

/// `router`, answering only requests to `addr` whose bodies are JSON (others: 421 or 415,
/// problem+json).
pub fn own_address_only(router: Router, addr: SocketAddr) -> Router {
    router.layer(axum::middleware::from_fn_with_state(Arc::new(own_hosts(addr)), guard))
}

/// What the banner says of it.
pub fn banner(addr: SocketAddr) -> String {
    format!(
        "  answers only http://127.0.0.1:{port} and http://localhost:{port} from this machine (any other Host: 421), \
         bodies only as application/json (else 415)",
        port = addr.port()
    )
}

#[cfg(test)]
#[path = "guard_test.rs"]
mod tests;
