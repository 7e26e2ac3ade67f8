//! Unit tests of `analytics.rs`.

use super::*;

#[test]
fn next_month_wraps_the_year() {
    let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert_eq!(next_month(d("2026-12-15")), d("2027-01-01"));
    assert_eq!(next_month(d("2026-01-31")), d("2026-02-01"));
}
