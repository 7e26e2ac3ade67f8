//! Unit tests of `guard.rs`: who the dev server answers, as a request from the network
//! would reach it (with the peer's address, as `axum::serve` gives it).

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::routing::get;
use tower::ServiceExt;

use super::*;

/// The status of `GET /health` from `peer` naming `host`; a refusal is never cached.
async fn status(peer: &str, host: &str) -> u16 {
    let addr: SocketAddr = "0.0.0.0:3000".parse().unwrap();
    let router = own_address_only(Router::new().route("/health", get(|| async { "ok" })), addr);
    let mut request = Request::get("/health").header("host", host).body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    let answer = router.oneshot(request).await.unwrap();
    if !answer.status().is_success() {
        assert_eq!(answer.headers()["cache-control"], "no-store");
    }
    answer.status().as_u16()
}

#[tokio::test]
async fn a_server_bound_to_every_address_still_answers_this_machine_only() {
    assert_eq!(status("127.0.0.1:50000", "localhost:3000").await, 200);
    assert_eq!(status("[::1]:50000", "127.0.0.1:3000").await, 200);
    // Another machine naming the server's own host is refused all the same.
    assert_eq!(status("192.0.2.7:50000", "localhost:3000").await, 403);
    assert_eq!(status("[2001:db8::7]:50000", "localhost:3000").await, 403);
}
