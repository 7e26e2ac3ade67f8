use super::*;

#[test]
fn each_currency_is_counted_in_its_own_minor_unit() {
    let usd = Currency::new("usd", 100).unwrap();
    let jpy = Currency::new("JPY", 1).unwrap();
    let kwd = Currency::new("KWD", 300).unwrap();
    assert_eq!((usd.minor_units, jpy.minor_units, kwd.minor_units), (2, 0, 3));
    assert_eq!(usd.credits_for(2_500).unwrap(), 2_500, "$25.00 at 100 credits a dollar");
    assert_eq!(jpy.credits_for(1_500).unwrap(), 1_500, "1,500 yen is 1,500 yen, not 15");
    assert_eq!(kwd.credits_for(1_500).unwrap(), 450, "1.500 KWD at 300 credits a dinar");
    assert!(usd.credits_for(0).is_err() && usd.credits_for(-100).is_err() && usd.credits_for(i64::MAX).is_err());
    assert!(usd.credits_for(0).is_err(), "nothing bought");
    assert_eq!(Currency::new("usd", 1).unwrap().credits_for(99).map_err(|_| ()), Err(()), "less than a credit");
}

#[test]
fn only_iso_codes_and_configured_currencies_pass() {
    assert!(Currency::new("XYZ", 100).is_err());
    assert!(Currency::new("USD", 0).is_err());
    let accepted_list = [Currency::new("USD", 100).unwrap(), Currency::new("JPY", 1).unwrap()];
    assert_eq!(accepted(&accepted_list, "jpy").unwrap().code, "JPY");
    let refused = accepted(&accepted_list, "EUR").unwrap_err();
    assert!(matches!(refused, AllyError::Validation(ref m) if m.contains("USD, JPY")), "{refused:?}");
}
