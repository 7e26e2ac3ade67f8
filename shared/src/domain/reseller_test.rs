//! Unit tests of `reseller.rs`.

use super::*;

#[test]
fn metadata_values_refuse_control_characters_and_length() {
    check_metadata_value("k", "https://x/y.png").unwrap();
    assert!(check_metadata_value("k", "a\u{0}b").is_err());
    assert!(check_metadata_value("k", &"x".repeat(2049)).is_err());
}
