//! Unit tests of `credits.rs`.

use super::*;

#[test]
fn refuses_zero_negative_and_above_max() {
    assert!(Credits::new(0, 100).is_err());
    assert!(Credits::new(-5, 100).is_err());
    assert!(Credits::new(101, 100).is_err());
    assert_eq!(Credits::new(100, 100).unwrap().get(), 100);
}

#[test]
fn times_and_balance_refuse_overflow() {
    assert_eq!(Credits::new(425, 1_000).unwrap().times(3).unwrap().get(), 1_275);
    assert!(Credits::new(i64::MAX, i64::MAX).unwrap().times(2).is_err());
    assert!(checked_balance(i64::MAX, 1).is_err());
    assert_eq!(checked_balance(1_000, -100).unwrap(), 900);
}
