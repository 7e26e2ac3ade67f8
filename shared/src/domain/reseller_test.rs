//! Unit tests of `reseller.rs`.

use super::*;

#[test]
fn metadata_is_any_json_scalar_up_to_8_kib_without_control_characters() {
    let text = |t: &str| MetadataValue::Text(t.into());
    let ok = Metadata::from([
        ("logo_url".into(), text("https://x/y.png")),
        ("seats".into(), MetadataValue::Number(12.into())),
        ("beta".into(), MetadataValue::Flag(true)),
    ]);
    check_metadata(&ok).unwrap();
    assert_eq!(
        serde_json::to_value(&ok).unwrap(),
        serde_json::json!({"beta": true, "logo_url": "https://x/y.png", "seats": 12})
    );
    assert!(matches!(check_metadata(&Metadata::from([("k".into(), text("a\u{0}b"))])), Err(AllyError::Validation(_))));
    let big = Metadata::from([("k".into(), text(&"x".repeat(METADATA_MAX_BYTES)))]);
    assert!(matches!(check_metadata(&big), Err(AllyError::TooLarge(_))));
}
