//! Unit tests of `tier.rs`.

use super::*;

#[test]
fn prices_round_up_per_tier() {
    let d = Discounts::default();
    let base = Credits::from_trusted(1_000);
    assert_eq!(d.price(base, Tier::Platinum).get(), 700);
    assert_eq!(d.price(base, Tier::Gold).get(), 850);
    assert_eq!(d.price(base, Tier::Standard).get(), 1_000);
    assert_eq!(d.price(Credits::from_trusted(1), Tier::Platinum).get(), 1);
    assert_eq!(d.price(Credits::from_trusted(101), Tier::Gold).get(), 86);
    assert_eq!(d.price(Credits::from_trusted(i64::MAX), Tier::Standard).get(), i64::MAX);
}

#[test]
fn tier_names_round_trip() {
    for t in Tier::ALL {
        assert_eq!(t.as_str().parse::<Tier>().unwrap(), t);
    }
    assert!("diamond".parse::<Tier>().is_err());
}

#[test]
fn commissions_are_one_percent_for_all_or_one_per_tier_and_round_down() {
    let all: Commissions = "5".parse().unwrap();
    assert_eq!((all.standard, all.gold, all.platinum), (5, 5, 5));
    let some: Commissions = "gold=5, platinum=10".parse().unwrap();
    assert_eq!((some.standard, some.gold, some.platinum), (0, 5, 10));
    assert_eq!(some.on(1_999, Tier::Platinum), 199);
    assert_eq!(some.on(19, Tier::Gold), 0, "never a fraction of a credit");
    assert!(Commissions::default().is_off() && !some.is_off());
    for bad in ["51", "gold", "gold=x", "diamond=5", "-1"] {
        assert!(bad.parse::<Commissions>().is_err(), "{bad}");
    }
}
