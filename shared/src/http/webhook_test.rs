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
