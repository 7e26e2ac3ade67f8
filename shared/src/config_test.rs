//! Unit tests of `config.rs`.

use std::collections::HashMap;

use super::*;

fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_mirror_the_seed() {
    let c = with(&[]).unwrap();
    assert_eq!(c.default_tier, Tier::Standard);
    assert_eq!(c.credit_conversion_rate, 100);
    assert!(c.auto_provision_wallet);
    assert_eq!(c.low_credit_threshold, 500);
    assert_eq!(c.dashboard_url, "partner/dashboard");
    assert_eq!(c.discounts, Discounts { gold: 15, platinum: 30 });
    assert_eq!(c.referral_reward, 1_000);
}

#[test]
fn a_bad_value_names_its_variable() {
    for (var, value) in [
        ("ALLY_DEFAULT_TIER", "diamond"),
        ("ALLY_CREDIT_CONVERSION_RATE", "0"),
        ("ALLY_AUTO_PROVISION_WALLET", "maybe"),
        ("ALLY_DISCOUNT_GOLD", "100"),
        ("ALLY_LOW_CREDIT_THRESHOLD", "-1"),
        ("ALLY_PRODUCTS", "{}"),
        ("ALLY_CURRENCY", "USD,XYZ"),
        ("ALLY_CURRENCY", "JPY:one"),
        ("ALLY_COGNITO_DOMAIN", "http://ally.auth.example"),
        ("ALLY_COGNITO_DOMAIN", "https://ally.auth.example; script-src *"),
        ("ALLY_LOGO_ORIGINS", "https://cdn.example.com http://plain.example"),
        ("ALLY_LOGO_ORIGINS", "https://cdn.example.com; script-src *"),
    ] {
        let err = with(&[(var, value)]).unwrap_err();
        assert_eq!(err.variable, var);
        assert!(err.to_string().contains(var));
    }
}

#[test]
fn overrides_are_read() {
    let c = with(&[
        ("ALLY_DEFAULT_TIER", "gold"),
        ("ALLY_PRODUCTS", r#"[{"id":"p","name":"P","base_price":10,"tiers":["platinum"]}]"#),
    ])
    .unwrap();
    assert_eq!(c.default_tier, Tier::Gold);
    assert!(!c.catalog.find("p").unwrap().allows(Tier::Gold));
}

#[test]
fn the_cognito_domain_is_an_https_origin() {
    let c = with(&[("ALLY_COGNITO_DOMAIN", "https://ally.auth.eu-west-1.amazoncognito.com/")]).unwrap();
    assert_eq!(c.cognito_domain.as_deref(), Some("https://ally.auth.eu-west-1.amazoncognito.com"));
}

#[test]
fn the_logos_origins_are_https_origins() {
    let c = with(&[("ALLY_LOGO_ORIGINS", "https://cdn.example.com, https://logos.example.org:8443/")]).unwrap();
    assert_eq!(c.logo_origins, vec!["https://cdn.example.com", "https://logos.example.org:8443"]);
    assert!(with(&[]).unwrap().logo_origins.is_empty(), "none: any https origin");
}

#[test]
fn currencies_take_their_own_rate_or_the_conversion_rate() {
    let c = with(&[("ALLY_CURRENCY", "usd, JPY:1,KWD:300"), ("ALLY_CREDIT_CONVERSION_RATE", "120")]).unwrap();
    let listed: Vec<(&str, u32, i64)> =
        c.currencies.iter().map(|c| (c.code.as_str(), c.minor_units, c.credits_per_unit)).collect();
    assert_eq!(listed, [("USD", 2, 120), ("JPY", 0, 1), ("KWD", 3, 300)]);
    let default = with(&[("ALLY_CREDIT_CONVERSION_RATE", "50")]).unwrap();
    assert_eq!(default.currencies[0].credits_per_unit, 50, "USD at the conversion rate");
}
