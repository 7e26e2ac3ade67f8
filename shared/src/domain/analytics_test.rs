//! Unit tests of `analytics.rs`.

use super::*;

#[test]
fn ranges_are_checked() {
    assert!(DateRange::parse("2026-02-01", "2026-01-01", 400).is_err());
    assert!(DateRange::parse("2026-01-01", "2027-06-01", 400).is_err());
    assert!(DateRange::parse("2026-13-01", "2026-12-01", 400).is_err());
    assert_eq!(DateRange::parse("2026-01-01", "2026-01-31", 400).unwrap().days(), 31);
}

#[test]
fn trends_fill_every_period() {
    let range = DateRange::parse("2025-12-30", "2026-02-02", 400).unwrap();
    let day = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let days = BTreeMap::from([
        (day("2025-12-31"), Activity { credits_added: 5, ..Activity::default() }),
        (day("2026-01-15"), Activity { credits_added: 7, credits_spent: 3, ..Activity::default() }),
        (day("2026-03-01"), Activity { credits_added: 100, ..Activity::default() }),
    ]);
    let monthly = trend(&range, Interval::Monthly, &days, Measure::Added);
    assert_eq!(monthly, BTreeMap::from([("2025-12".into(), 5), ("2026-01".into(), 7), ("2026-02".into(), 0)]));
    assert_eq!(trend(&range, Interval::Daily, &days, Measure::Added).len(), 35);
    assert_eq!(trend(&range, Interval::Yearly, &days, Measure::Added)["2026"], 7);
    assert_eq!(trend(&range, Interval::Yearly, &days, Measure::Spent)["2026"], 3, "spent, side by side");
}
