//! Unit tests of `ids.rs`.

use super::*;

#[test]
fn refids_have_the_checked_shape() {
    for _ in 0..100 {
        RefId::parse(RefId::random().as_str()).unwrap();
    }
    assert!(RefId::parse("short").is_err());
    assert!(RefId::parse("ABCDEFGHIU").is_err(), "U is not Crockford");
}

#[test]
fn metadata_keys_refuse_reserved_and_bad_keys() {
    MetadataKey::parse("logo_url").unwrap();
    for key in ["hold_provisioning", "Logo", "", "a-b", &"k".repeat(65)] {
        assert!(MetadataKey::parse(key).is_err(), "{key}");
    }
}

#[test]
fn names_and_emails() {
    assert_eq!(CompanyName::parse("  Acme Ltd ").unwrap().as_str(), "Acme Ltd");
    assert!(CompanyName::parse("   ").is_err());
    assert!(CompanyName::parse("x".repeat(201)).is_err());
    assert!(ClientName::parse("a\u{0}b").is_err());
    Email::parse("ops@acme.example").unwrap();
    for bad in ["acme", "a@b", "a b@c.d", "@c.d", "a@b@c.d"] {
        assert!(Email::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn client_ids_are_canonical_ulids() {
    let id = ClientId::new();
    assert_eq!(ClientId::parse(id.as_str()).unwrap(), id);
    assert!(ClientId::parse(id.to_lowercase()).is_err());
    assert!(ClientId::parse("not-a-ulid").is_err());
}

#[test]
fn caller_keys_never_meet_system_keys() {
    let caller = |k: &str| IdempotencyKey::caller(&CallerKey::parse(k).unwrap());
    // Keys recorded before namespaces existed keep their stored form.
    assert_eq!(caller("buy-1").as_str(), "buy-1");
    for system in [
        IdempotencyKey::payment("evt_1").unwrap(),
        IdempotencyKey::referral("r-1").unwrap(),
        IdempotencyKey::admin(&CallerKey::parse("k").unwrap()),
    ] {
        assert_ne!(caller(system.as_str()), system, "{system}");
    }
    // Escaping is one-to-one: no two caller keys share a stored form.
    assert_ne!(caller("caller:x"), caller("x"));
    assert_ne!(caller("caller:caller:x"), caller("caller:x"));
}

#[test]
fn caller_keys_of_any_printable_text_up_to_128() {
    for key in ["a", "~", &"k".repeat(128), "admin: spaces inside ", "payment:evt_1"] {
        CallerKey::parse(key).unwrap();
    }
    for bad in ["", "   ", &"k".repeat(129), "tab\there", "é"] {
        assert!(CallerKey::parse(bad).is_err(), "{bad:?}");
    }
}
