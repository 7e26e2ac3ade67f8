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
