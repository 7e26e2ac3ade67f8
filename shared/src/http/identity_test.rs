//! Unit tests of `identity.rs`.

use super::*;

fn claims(exp: i64) -> Claims {
    Claims { sub: "u1".into(), email: None, groups: vec!["admin".into()], exp }
}

#[test]
fn minted_tokens_verify_and_tampered_ones_do_not() {
    let token = mint_hs256(&claims(2_000), b"secret");
    assert_eq!(verify_hs256(&token, b"secret", 1_000).unwrap(), claims(2_000));
    assert!(verify_hs256(&token, b"other", 1_000).is_err(), "wrong key");
    assert!(verify_hs256(&token, b"secret", 2_000).is_err(), "expired");
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Claims { sub: "u2".into(), ..claims(2_000) }).unwrap());
    parts[1] = &forged;
    assert!(verify_hs256(&parts.join("."), b"secret", 1_000).is_err(), "changed claims");
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), token.split('.').nth(1).unwrap());
    assert!(verify_hs256(&none, b"secret", 1_000).is_err(), "alg none");
}

#[test]
fn authorizer_groups_are_parsed() {
    let raw = [("sub", "u1"), ("cognito:groups", "[admin partners]"), ("email", "a@b.c")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let c = claims_from_authorizer(&raw).unwrap();
    assert!(c.actor().admin);
    assert_eq!(c.groups, vec!["admin", "partners"]);
}
