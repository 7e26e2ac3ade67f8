//! Unit tests of `idempotency.rs`.

use super::*;

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
