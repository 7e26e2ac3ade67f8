//! Unit tests of `reseller.rs`.

use super::*;

#[test]
fn refids_have_the_checked_shape() {
    for _ in 0..100 {
        check_refid(&new_refid()).unwrap();
    }
    assert!(check_refid("short").is_err());
    assert!(check_refid("ABCDEFGHIU").is_err(), "U is not Crockford");
}

#[test]
fn metadata_refuses_reserved_and_bad_keys() {
    let ok = BTreeMap::from([("logo_url".to_string(), "https://x/y.png".to_string())]);
    check_metadata(&ok).unwrap();
    for key in ["hold_provisioning", "Logo", "", "a-b"] {
        let bad = BTreeMap::from([(key.to_string(), "v".to_string())]);
        assert!(check_metadata(&bad).is_err(), "{key}");
    }
    let control = BTreeMap::from([("k".to_string(), "a\u{0}b".to_string())]);
    assert!(check_metadata(&control).is_err());
}

#[test]
fn names_and_emails() {
    check_name("company", "Acme Ltd").unwrap();
    assert!(check_name("company", "   ").is_err());
    assert!(check_name("company", &"x".repeat(201)).is_err());
    check_email("ops@acme.example").unwrap();
    for bad in ["acme", "a@b", "a b@c.d", "@c.d", "a@b@c.d"] {
        assert!(check_email(bad).is_err(), "{bad}");
    }
}
