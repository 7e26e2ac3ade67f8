//! Unit tests of `webhook.rs`.

use super::*;

#[test]
fn accepts_its_own_signature_only() {
    let header = sign(b"s", 1_000, b"{}");
    verify(Some(&header), b"{}", b"s", 1_100).unwrap();
    assert!(verify(Some(&header), b"{ }", b"s", 1_100).is_err(), "body changed");
    assert!(verify(Some(&header), b"{}", b"t", 1_100).is_err(), "other secret");
    assert!(verify(Some(&header), b"{}", b"s", 1_301).is_err(), "stale");
    assert!(verify(Some(&header), b"{}", b"s", 699).is_err(), "from the future");
    assert!(verify(None, b"{}", b"s", 1_000).is_err());
    let reordered = header.split(',').rev().collect::<Vec<_>>().join(",");
    assert!(verify(Some(&reordered), b"{}", b"s", 1_000).is_err(), "v1 before t");
    let rotated = format!("{header},v1={}", "ab".repeat(32));
    verify(Some(&rotated), b"{}", b"s", 1_000).unwrap();
}

#[test]
fn a_stripe_signature_matches_on_any_v1_in_any_order_and_ignores_other_schemes() {
    let (body, now) = (br#"{"id":"evt_1"}"#.as_slice(), 1_795_701_600);
    let v1 = |secret: &[u8]| sign(secret, now, body).split_once(",v1=").unwrap().1.to_string();
    let (old, new) = (v1(b"whsec_old"), v1(b"whsec_new"));
    // A secret being rolled: Stripe signs with both; either matches.
    let rolling = format!("t={now},v1={old},v1={new},v0=deadbeef");
    assert!(verify_stripe(Some(&rolling), body, b"whsec_new", now).is_ok());
    assert!(verify_stripe(Some(&format!("v1={new},t={now}")), body, b"whsec_new", now).is_ok(), "any order");
    let status = |e: ApiError| axum::response::IntoResponse::into_response(e).status().as_u16();
    let refused = |header: &str, at: i64| status(verify_stripe(Some(header), body, b"whsec_new", at).unwrap_err());
    assert_eq!(refused(&format!("t={now},v0={new}"), now), 400, "a v0 is not a signature");
    assert_eq!(refused(&format!("t={now},v1={old}"), now), 400, "another secret's");
    assert_eq!(refused(&format!("t={now},v1={new}"), now + 301), 400, "stale");
    assert_eq!(refused(&format!("v1={new}"), now), 400, "no timestamp");
    assert_eq!(status(verify_stripe(None, body, b"whsec_new", now).unwrap_err()), 400);
}
