//! Unit tests of `identity.rs`.

use super::*;

fn claims(exp: i64) -> Claims {
    Claims { sub: "u1".into(), email: None, email_verified: false, groups: vec!["admin".into()], exp }
}

#[test]
fn minted_tokens_verify_and_tampered_ones_do_not() {
    let token = mint_hs256(&claims(2_000), b"secret");
    assert_eq!(verify_hs256(&token, b"secret", 1_000).unwrap(), claims(2_000));
    assert!(verify_hs256(&token, b"other", 1_000).is_err(), "wrong key");
    assert!(verify_hs256(&token, b"secret", 2_000).is_err(), "expired");
    let mut parts: Vec<&str> = token.split('.').collect();
    let changed = LocalToken {
        iss: LOCAL_ISSUER.into(),
        aud: LOCAL_AUDIENCE.into(),
        claims: Claims { sub: "u2".into(), ..claims(2_000) },
    };
    let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&changed).unwrap());
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
    assert!(c.actor().expect("a valid subject").admin);
    assert_eq!(c.groups, vec!["admin", "partners"]);
}

/// Whether a caller whose `cognito:groups` claim reads `claim` is an admin.
fn admin_by(claim: &str) -> bool {
    let raw = [("sub", "u1"), ("cognito:groups", claim)].into_iter().map(|(k, v)| (k.to_string(), v.to_string()));
    claims_from_authorizer(&raw.collect()).unwrap().actor().unwrap().admin
}

#[test]
fn the_admin_group_is_one_whole_group_named_admin_in_every_shape_of_the_claim() {
    for claim in ["[admin]", "[partners admin]", "admin", "[partners admin support,x]"] {
        assert!(admin_by(claim), "{claim} names the admin group");
    }
    for claim in [
        "[support,admin]",
        r#"["admin"]"#,
        r#"["partners","admin"]"#,
        r#"[\u0061dmin]"#,
        "support,admin",
        r#"["support,admin"]"#,
        "[[admin]]",
        r#"["[admin]"]"#,
        "[admins]",
        "[Admin]",
        r#"["Admin", "admins"]"#,
        "[]",
        "",
    ] {
        assert!(!admin_by(claim), "{claim} names no group called admin");
    }
    // A token's own claim (local tokens, Cognito's JSON) is matched whole as well.
    let support = Claims { groups: vec!["support,admin".into(), "[admin]".into(), "Admin".into()], ..claims(i64::MAX) };
    assert!(!support.actor().unwrap().admin);
}

#[test]
fn only_a_verified_email_reaches_the_actor() {
    let raw = |verified: Option<&str>| {
        let mut raw: std::collections::HashMap<String, String> =
            [("sub", "u1"), ("email", "a@b.c")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        if let Some(v) = verified {
            raw.insert("email_verified".into(), v.into());
        }
        raw
    };
    let email = |raw| claims_from_authorizer(&raw).unwrap().actor().unwrap().email;
    assert_eq!(email(raw(Some("true"))).as_deref(), Some("a@b.c"));
    assert_eq!(email(raw(Some("false"))), None);
    assert_eq!(email(raw(None)), None, "no claim, not verified");
    let from_token: Claims =
        serde_json::from_value(serde_json::json!({"sub": "u1", "email": "a@b.c", "email_verified": true, "exp": 1}))
            .unwrap();
    assert_eq!(from_token.actor().unwrap().email.as_deref(), Some("a@b.c"), "an ID token's boolean");
}

fn signed(payload: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload.to_string()));
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(hs256(b"secret", input.as_bytes()).finalize().into_bytes()))
}

#[test]
fn issuer_and_audience_are_checked() {
    let good = serde_json::json!({"iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "sub": "u1", "exp": 2_000});
    assert_eq!(verify_hs256(&signed(good.clone()), b"secret", 1_000).unwrap().sub, "u1");
    for (field, value) in [("iss", "https://cognito-idp.example"), ("aud", "another-app")] {
        let mut payload = good.clone();
        payload[field] = value.into();
        assert!(verify_hs256(&signed(payload), b"secret", 1_000).is_err(), "wrong {field}");
        let mut payload = good.clone();
        payload.as_object_mut().unwrap().remove(field);
        assert!(verify_hs256(&signed(payload), b"secret", 1_000).is_err(), "no {field}");
    }
}
