//! Unit tests of `analytics.rs`.

use super::*;

#[test]
fn next_month_wraps_the_year() {
    let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert_eq!(next_month(d("2026-12-15")), d("2027-01-01"));
    assert_eq!(next_month(d("2026-01-31")), d("2026-02-01"));
}

#[test]
fn a_range_reads_its_edge_days_and_whole_months() {
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let range = |a: &str, b: &str| DateRange { start: d(a), end: d(b) };
    // Two years and a bit: 25 whole months and the days at the edges, not 760 days.
    let read = periods(&pieces(&range("2024-01-20", "2026-02-10")));
    let months = read.iter().filter(|(_, g)| *g == Granularity::Month).count();
    let days = read.iter().filter(|(_, g)| *g == Granularity::Day).count();
    assert_eq!((months, days), (24, 12 + 10));
    assert!(read.contains(&(d("2024-02-01"), Granularity::Month)));
    assert!(read.contains(&(d("2026-01-01"), Granularity::Month)));
    assert!(read.contains(&(d("2024-01-31"), Granularity::Day)));
    assert!(!read.contains(&(d("2026-02-11"), Granularity::Day)));
    // Inside one month: its days. Whole months: no day at all.
    assert_eq!(periods(&pieces(&range("2026-03-05", "2026-03-09"))).len(), 5);
    let whole = pieces(&range("2026-01-01", "2026-03-31"));
    assert_eq!(whole, vec![(range("2026-01-01", "2026-03-31"), Granularity::Month)]);
}
