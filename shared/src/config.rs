//! Settings, read once per cold start from `ALLY_*` environment variables.
//! Defaults mirror the original package's `ally.php`.

use std::str::FromStr;

use crate::domain::{Catalog, Commissions, Credits, Currency, Discounts, Product, Tier};

/// Everything Ally's behaviour depends on that an operator may change.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`ALLY_TABLE_NAME`).
    pub table_name: String,
    /// Tier of a self-onboarded reseller (`ALLY_DEFAULT_TIER`).
    pub default_tier: Tier,
    /// Credits per major currency unit (`ALLY_CREDIT_CONVERSION_RATE`; 100 credits = $1),
    /// for every accepted currency that names no rate of its own.
    pub credit_conversion_rate: i64,
    /// Currencies the payment webhook accepts (`ALLY_CURRENCY`: ISO 4217 codes separated by
    /// commas, each optionally `CODE:credits per major unit`, e.g. `USD,EUR,JPY:1`).
    pub currencies: Vec<Currency>,
    /// Open a wallet at 0 on onboarding (`ALLY_AUTO_PROVISION_WALLET`).
    pub auto_provision_wallet: bool,
    /// Balance under which the partner is warned (`ALLY_LOW_CREDIT_THRESHOLD`).
    pub low_credit_threshold: i64,
    /// Path of the partner dashboard (`ALLY_DASHBOARD_URL`).
    pub dashboard_url: String,
    /// Tier discounts (`ALLY_DISCOUNT_GOLD`, `ALLY_DISCOUNT_PLATINUM`, percent 0..=99).
    pub discounts: Discounts,
    /// Credits given to a referrer (`ALLY_REFERRAL_REWARD`).
    pub referral_reward: i64,
    /// Rewards one referrer may earn in a calendar month (`ALLY_REFERRAL_MONTHLY_CAP`); the
    /// referrals past it are recorded and refused.
    pub referral_monthly_cap: u32,
    /// Days a referral waits for its referred user to become a reseller
    /// (`ALLY_REFERRAL_WINDOW_DAYS`); past it, no reward.
    pub referral_window_days: i64,
    /// What a parent earns of each direct child's spend, by its tier (`ALLY_COMMISSION_PERCENT`).
    pub commissions: Commissions,
    /// How deep the reseller tree may grow (`ALLY_MAX_DEPTH`): 3 is a distributor, its
    /// resellers and their sub-resellers.
    pub max_depth: usize,
    /// Days a referral reward's promotional credit stays spendable
    /// (`ALLY_REFERRAL_EXPIRY_DAYS`).
    pub referral_expiry_days: i64,
    /// Largest single amount of credits accepted anywhere (`ALLY_MAX_CREDIT_AMOUNT`).
    pub max_credit_amount: i64,
    /// How long an idempotency key is remembered (`ALLY_IDEMPOTENCY_TTL_DAYS`).
    pub idempotency_ttl_days: i64,
    /// Products on offer (`ALLY_PRODUCTS`, a JSON array of `{id, name, base_price, tiers?}`).
    pub catalog: Catalog,
    /// Verifies the payment webhook (`ALLY_WEBHOOK_SECRET`).
    pub webhook_secret: Option<Secret>,
    /// Verifies Stripe's webhook (`ALLY_STRIPE_WEBHOOK_SECRET`, the endpoint's `whsec_...`).
    pub stripe_webhook_secret: Option<Secret>,
    /// Which of Stripe's modes this deployment takes (`ALLY_STRIPE_LIVEMODE`): events of the
    /// other are acknowledged and ignored.
    pub stripe_livemode: bool,
    /// A Stripe Payment Link the dashboard's "Buy credits" opens (`ALLY_STRIPE_PAYMENT_LINK`).
    pub stripe_payment_link: Option<String>,
    /// Seals list cursors (`ALLY_CURSOR_SECRET`); every instance must share it.
    pub cursor_secret: Option<Secret>,
    /// Signs local dev tokens (`ALLY_LOCAL_JWT_SECRET`); never used in AWS.
    pub local_jwt_secret: Option<Secret>,
    /// Where the dev server listens (`ALLY_LOCAL_ADDR`).
    pub local_addr: String,
    /// Where the dev server keeps its data (`ALLY_LOCAL_DATA`).
    pub local_data: String,
    /// Where the dev server writes mail as `.eml` files (`ALLY_LOCAL_OUTBOX`).
    pub local_outbox: String,
    /// Base URL of the pages, for links in mail (`ALLY_PUBLIC_URL`).
    pub public_url: String,
    /// Put provisioning on hold when a partner's balance runs low (`ALLY_HOLD_ON_LOW_CREDIT`).
    pub hold_on_low_credit: bool,
    /// Clients onboarded in a month that make a partner below platinum an upgrade candidate
    /// (`ALLY_UPGRADE_ACQUISITIONS`).
    pub upgrade_acquisitions: i64,
    /// Apply each month's upgrade suggestions, once each, with their reason
    /// (`ALLY_AUTO_UPGRADE`).
    pub auto_upgrade: bool,
    /// Sender of every mail, an address of the SES identity (`ALLY_MAIL_FROM`).
    pub mail_from: String,
    /// Recipient of the monthly admin summary (`ALLY_ADMIN_EMAIL`); none, no summary.
    pub admin_email: Option<String>,
    /// The most mails one function instance sends a second (`ALLY_MAIL_PER_SECOND`): SES's
    /// sending rate (1 in the sandbox, 14 by default out of it).
    pub mail_per_second: u32,
    /// The SES configuration set mail goes through (`ALLY_MAIL_CONFIGURATION_SET`), whose
    /// bounces and complaints come back as events that suppress the address.
    pub mail_configuration_set: Option<String>,
    /// The EventBridge bus events go to (`ALLY_EVENT_BUS`).
    pub event_bus: String,
    /// The SQS queue the stream publisher parks records it gives up on
    /// (`ALLY_POISON_QUEUE_URL`); none, they are left to the stream's retries.
    pub poison_queue_url: Option<String>,
    /// The Cognito hosted UI the pages sign in through (`ALLY_COGNITO_DOMAIN`, e.g.
    /// `https://ally.auth.eu-west-1.amazoncognito.com`); none, the dev sign-in.
    pub cognito_domain: Option<String>,
    /// The Cognito app client of the pages (`ALLY_COGNITO_CLIENT_ID`).
    pub cognito_client_id: Option<String>,
    /// The https origins the pages may load a partner's logo from (`ALLY_LOGO_ORIGINS`,
    /// separated by spaces or commas); none, any https origin.
    pub logo_origins: Vec<String>,
}

impl Config {
    /// The partner dashboard's full URL, for links in mail.
    pub fn dashboard_link(&self) -> String {
        format!("{}/{}", self.public_url.trim_end_matches('/'), self.dashboard_url.trim_start_matches('/'))
    }

    /// The admin reports page, as mail links to it.
    pub fn reports_link(&self) -> String {
        format!("{}{}", self.public_url.trim_end_matches('/'), ally_pages::REPORTS)
    }
}

/// A secret setting: usable as bytes, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for a MAC key.
    pub fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The secret itself, for the dev server to show its user.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A setting that could not be used; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// The defaults, in one place: the seed's `ally.php` values and a sample catalog.
impl Default for Config {
    fn default() -> Self {
        Self {
            table_name: "ally".into(),
            default_tier: Tier::Standard,
            credit_conversion_rate: 100,
            currencies: vec![Currency { code: "USD".into(), minor_units: 2, credits_per_unit: 100 }],
            auto_provision_wallet: true,
            low_credit_threshold: 500,
            dashboard_url: "partner/dashboard".into(),
            discounts: Discounts::default(),
            referral_reward: 1_000,
            referral_monthly_cap: 20,
            referral_window_days: 30,
            referral_expiry_days: 90,
            max_depth: 3,
            commissions: Commissions::default(),
            max_credit_amount: 100_000_000,
            idempotency_ttl_days: 30,
            catalog: default_catalog(),
            webhook_secret: None,
            stripe_webhook_secret: None,
            stripe_livemode: false,
            stripe_payment_link: None,
            cursor_secret: None,
            local_jwt_secret: None,
            local_addr: "127.0.0.1:3000".into(),
            local_data: ".ally".into(),
            local_outbox: ".ally/outbox".into(),
            public_url: "http://127.0.0.1:3000".into(),
            hold_on_low_credit: false,
            upgrade_acquisitions: 100,
            auto_upgrade: false,
            mail_from: "ally@localhost".into(),
            admin_email: None,
            mail_per_second: 14,
            mail_configuration_set: None,
            event_bus: "ally".into(),
            poison_queue_url: None,
            cognito_domain: None,
            cognito_client_id: None,
            logo_origins: Vec::new(),
        }
    }
}

impl Config {
    /// Reads the process environment. Call once per cold start.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let d = Config::default();
        let text = |name: &'static str, default: String| get(name).unwrap_or(default);
        let max_credit_amount = parse(&get, "ALLY_MAX_CREDIT_AMOUNT", d.max_credit_amount, |v| *v > 0)?;
        let catalog = match get("ALLY_PRODUCTS") {
            None => d.catalog,
            Some(raw) => Catalog(serde_json::from_str::<Vec<Product>>(&raw).map_err(|e| ConfigError {
                variable: "ALLY_PRODUCTS",
                message: format!("expected a JSON array of {{id, name, base_price, tiers?}}: {e}"),
            })?),
        };
        if let Some(p) = catalog.0.iter().find(|p| p.base_price.get() > max_credit_amount) {
            return Err(ConfigError {
                variable: "ALLY_PRODUCTS",
                message: format!("product {} costs more than ALLY_MAX_CREDIT_AMOUNT", p.id),
            });
        }
        let credit_conversion_rate = parse(&get, "ALLY_CREDIT_CONVERSION_RATE", d.credit_conversion_rate, |v| *v > 0)?;
        let currencies = match get("ALLY_CURRENCY") {
            None => {
                d.currencies.into_iter().map(|c| Currency { credits_per_unit: credit_conversion_rate, ..c }).collect()
            }
            Some(raw) => currencies(&raw, credit_conversion_rate)?,
        };
        Ok(Self {
            table_name: text("ALLY_TABLE_NAME", d.table_name),
            default_tier: parse(&get, "ALLY_DEFAULT_TIER", d.default_tier, |_| true)?,
            credit_conversion_rate,
            currencies,
            auto_provision_wallet: parse(&get, "ALLY_AUTO_PROVISION_WALLET", d.auto_provision_wallet, |_| true)?,
            low_credit_threshold: parse(&get, "ALLY_LOW_CREDIT_THRESHOLD", d.low_credit_threshold, |v| *v >= 0)?,
            dashboard_url: text("ALLY_DASHBOARD_URL", d.dashboard_url),
            discounts: Discounts {
                gold: parse(&get, "ALLY_DISCOUNT_GOLD", d.discounts.gold, |v| *v <= 99)?,
                platinum: parse(&get, "ALLY_DISCOUNT_PLATINUM", d.discounts.platinum, |v| *v <= 99)?,
            },
            referral_reward: parse(&get, "ALLY_REFERRAL_REWARD", d.referral_reward, |v| {
                *v > 0 && *v <= max_credit_amount
            })?,
            referral_monthly_cap: parse(&get, "ALLY_REFERRAL_MONTHLY_CAP", d.referral_monthly_cap, |v| *v <= 10_000)?,
            referral_window_days: parse(&get, "ALLY_REFERRAL_WINDOW_DAYS", d.referral_window_days, |v| {
                (0..=3650).contains(v)
            })?,
            referral_expiry_days: parse(&get, "ALLY_REFERRAL_EXPIRY_DAYS", d.referral_expiry_days, |v| {
                (1..=3650).contains(v)
            })?,
            max_depth: parse(&get, "ALLY_MAX_DEPTH", d.max_depth, |v| (1..=10).contains(v))?,
            commissions: parse(&get, "ALLY_COMMISSION_PERCENT", d.commissions, |_| true)?,
            max_credit_amount,
            idempotency_ttl_days: parse(&get, "ALLY_IDEMPOTENCY_TTL_DAYS", d.idempotency_ttl_days, |v| {
                (1..=3650).contains(v)
            })?,
            catalog,
            webhook_secret: get("ALLY_WEBHOOK_SECRET").map(Secret),
            stripe_webhook_secret: get("ALLY_STRIPE_WEBHOOK_SECRET").map(Secret),
            stripe_livemode: parse(&get, "ALLY_STRIPE_LIVEMODE", d.stripe_livemode, |_| true)?,
            stripe_payment_link: get("ALLY_STRIPE_PAYMENT_LINK")
                .map(|link| https_url("ALLY_STRIPE_PAYMENT_LINK", link))
                .transpose()?,
            cursor_secret: get("ALLY_CURSOR_SECRET").map(Secret),
            local_jwt_secret: get("ALLY_LOCAL_JWT_SECRET").map(Secret),
            local_addr: text("ALLY_LOCAL_ADDR", d.local_addr),
            local_data: text("ALLY_LOCAL_DATA", d.local_data),
            local_outbox: text("ALLY_LOCAL_OUTBOX", d.local_outbox),
            public_url: text("ALLY_PUBLIC_URL", d.public_url),
            hold_on_low_credit: parse(&get, "ALLY_HOLD_ON_LOW_CREDIT", d.hold_on_low_credit, |_| true)?,
            upgrade_acquisitions: parse(&get, "ALLY_UPGRADE_ACQUISITIONS", d.upgrade_acquisitions, |v| *v > 0)?,
            auto_upgrade: parse(&get, "ALLY_AUTO_UPGRADE", d.auto_upgrade, |_| true)?,
            mail_from: text("ALLY_MAIL_FROM", d.mail_from),
            admin_email: get("ALLY_ADMIN_EMAIL"),
            mail_per_second: parse(&get, "ALLY_MAIL_PER_SECOND", d.mail_per_second, |v| (1..=10_000).contains(v))?,
            mail_configuration_set: get("ALLY_MAIL_CONFIGURATION_SET"),
            event_bus: text("ALLY_EVENT_BUS", d.event_bus),
            poison_queue_url: get("ALLY_POISON_QUEUE_URL"),
            cognito_domain: get("ALLY_COGNITO_DOMAIN")
                .map(|raw| https_origin("ALLY_COGNITO_DOMAIN", &raw))
                .transpose()?,
            cognito_client_id: get("ALLY_COGNITO_CLIENT_ID"),
            logo_origins: get("ALLY_LOGO_ORIGINS")
                .unwrap_or_default()
                .split([' ', ','])
                .filter(|origin| !origin.trim().is_empty())
                .map(|origin| https_origin("ALLY_LOGO_ORIGINS", origin))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// An `https://host[:port]` origin and nothing else: it goes into the pages' CSP as it is.
fn https_origin(variable: &'static str, raw: &str) -> Result<String, ConfigError> {
    let origin = raw.trim().trim_end_matches('/');
    let host = origin.strip_prefix("https://").unwrap_or("");
    if !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b)) {
        Ok(origin.to_string())
    } else {
        Err(ConfigError {
            variable,
            message: format!("`{raw}` is not an https origin such as https://ally.auth.eu-west-1.amazoncognito.com"),
        })
    }
}

/// An `https://` URL of printable ASCII without quotes or spaces: it goes into a page's link.
fn https_url(variable: &'static str, raw: String) -> Result<String, ConfigError> {
    let url = raw.trim();
    let safe = url.bytes().all(|b| b.is_ascii_graphic() && !b"\"'<>`\\".contains(&b));
    if url.len() > "https://".len() && url.starts_with("https://") && safe {
        Ok(url.to_string())
    } else {
        Err(ConfigError {
            variable,
            message: format!("`{raw}` is not an https URL such as https://buy.stripe.com/..."),
        })
    }
}

/// `USD,EUR:110,JPY:1`: each code at its own rate, or at `default_rate`.
fn currencies(raw: &str, default_rate: i64) -> Result<Vec<Currency>, ConfigError> {
    let invalid = |message: String| ConfigError { variable: "ALLY_CURRENCY", message };
    raw.split(',')
        .map(|entry| {
            let (code, rate) = match entry.split_once(':') {
                Some((code, rate)) => (
                    code,
                    rate.trim().parse::<i64>().map_err(|_| invalid(format!("`{entry}`: a rate is a whole number")))?,
                ),
                None => (entry, default_rate),
            };
            Currency::new(code, rate).map_err(invalid)
        })
        .collect()
}

fn parse<T: FromStr>(
    get: &impl Fn(&'static str) -> Option<String>,
    variable: &'static str,
    default: T,
    valid: impl Fn(&T) -> bool,
) -> Result<T, ConfigError> {
    let Some(raw) = get(variable) else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(value) if valid(&value) => Ok(value),
        _ => Err(ConfigError { variable, message: format!("`{raw}` is not an allowed value") }),
    }
}

/// A small catalog so a fresh install can provision something; replace it with `ALLY_PRODUCTS`.
fn default_catalog() -> Catalog {
    let product = |id: &str, name: &str, price: i64, tiers: &[Tier]| Product {
        id: id.into(),
        name: name.into(),
        base_price: Credits::from_trusted(price),
        tiers: tiers.to_vec(),
    };
    Catalog(vec![
        product("license-basic", "Basic license", 1_000, &[]),
        product("server-small", "Small server, one month", 2_500, &[]),
        product("server-dedicated", "Dedicated server, one month", 20_000, &[Tier::Gold, Tier::Platinum]),
    ])
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
