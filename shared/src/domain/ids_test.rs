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
fn the_schemas_patterns_refuse_what_is_never_seen_in_the_basic_plane() {
    let name = regex_lite::Regex::new(NAME_PATTERN).unwrap();
    let note = regex_lite::Regex::new(NOTE_PATTERN).unwrap();
    // Between two letters, where no contextual character is needed: the server refuses
    // exactly what the patterns refuse, but for the contextual ones the patterns leave in.
    for c in
        (0u32..0x10000).filter_map(char::from_u32).filter(|c| !matches!(*c as u32, 0x200c | 0x200d | 0xfe0e | 0xfe0f))
    {
        let text = format!("a{c}b");
        let refused = c.is_control() || crate::domain::first_unseen(&text).is_some();
        assert_eq!(name.is_match(&text), !refused, "name pattern and U+{:04X}", c as u32);
        assert_eq!(note.is_match(&text), !refused, "note pattern and U+{:04X}", c as u32);
    }
}
