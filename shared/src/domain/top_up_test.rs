use chrono::{TimeZone, Utc};

use super::*;

fn owner() -> UserId {
    UserId::parse("partner-1").unwrap()
}

fn rule() -> AutoTopUp {
    AutoTopUp::new(TopUpRule { below: 500, target: 2_000, monthly_cap: 3_000 })
}

#[test]
fn a_fall_below_asks_once_for_what_brings_it_back_to_target() {
    let now = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
    let step = rule().step(&owner(), 800, 300, None, now, || "r1".into()).expect("crossed below");
    assert_eq!(step.request.amount, 1_700);
    assert_eq!(step.request.status, TopUpStatus::Pending);
    assert_eq!(step.state.pending.as_ref().map(|p| p.request_id.as_str()), Some("r1"));
    assert_eq!(step.state.requested_in(now), 1_700);
    // Pending: a second crossing asks nothing.
    assert_eq!(step.state.step(&owner(), 600, 100, None, now, || "r2".into()), None);
    // Staying below, or a fall that starts below, is no crossing.
    assert_eq!(rule().step(&owner(), 400, 100, None, now, || "r3".into()), None);
}

#[test]
fn a_payment_that_names_the_request_fulfils_it_and_the_cap_bounds_the_month() {
    let now = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
    let asked = rule().step(&owner(), 800, 300, None, now, || "r1".into()).unwrap().state;
    assert_eq!(asked.step(&owner(), 300, 400, Some("other"), now, || "x".into()), None, "another payment");
    let paid = asked.step(&owner(), 300, 2_000, Some("r1"), now, || "x".into()).expect("fulfilled");
    assert_eq!(paid.request.status, TopUpStatus::Fulfilled);
    assert_eq!(paid.state.pending, None);
    // 1,700 of 3,000 asked: the next request gets only the 1,300 left.
    let second = paid.state.step(&owner(), 900, 0, None, now, || "r2".into()).unwrap();
    assert_eq!(second.request.amount, 1_300);
    let capped = AutoTopUp { pending: None, ..second.state.clone() };
    assert_eq!(capped.step(&owner(), 900, 0, None, now, || "r3".into()), None, "the cap is spent");
    // A new month starts from nothing.
    let december = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
    assert_eq!(capped.step(&owner(), 900, 0, None, december, || "r4".into()).unwrap().request.amount, 2_000);
}

#[test]
fn three_failures_in_a_row_turn_the_rule_off() {
    let now = Utc.with_ymd_and_hms(2026, 11, 3, 10, 0, 0).unwrap();
    let mut state = AutoTopUp::new(TopUpRule { below: 500, target: 600, monthly_cap: 100_000 });
    for round in 1..=3u32 {
        let asked = state.step(&owner(), 500, 0, None, now, || format!("r{round}")).expect("asked");
        assert_eq!(asked.state.fail("not-it", &owner(), now), None, "only the pending request fails");
        let failed = asked.state.fail(&format!("r{round}"), &owner(), now).expect("failed");
        assert_eq!(failed.request.failures_in_a_row, round);
        assert_eq!(failed.request.disabled_rule, round == 3);
        state = failed.state;
    }
    assert!(!state.enabled);
    assert_eq!(state.step(&owner(), 500, 0, None, now, || "r4".into()), None, "off: nothing asked");
    let back_on = state.with_rule(state.rule);
    assert!(back_on.enabled && back_on.failures_in_a_row == 0);
    assert!(TopUpRule { below: 10, target: 10, monthly_cap: 1 }.check(100).is_err());
    assert!(TopUpRule { below: 10, target: 20, monthly_cap: 0 }.check(100).is_err());
    assert!(TopUpRule { below: 10, target: 20, monthly_cap: 5 }.check(100).is_ok());
}
