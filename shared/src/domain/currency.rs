//! Currencies as payments carry them: an ISO 4217 code and the amount in its minor unit,
//! whose size differs by currency (JPY and KRW have none, USD and EUR cents, BHD and KWD
//! thousandths). Credits are bought per major unit at a configured rate.

use super::AllyError;

/// ISO 4217 codes whose minor unit is not a hundredth. Every other configured code is
/// checked against [`TWO_DECIMALS`]; a code in neither list is refused at start-up.
const ZERO_DECIMALS: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF",
    "XPF",
];
const THREE_DECIMALS: &[&str] = &["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
const FOUR_DECIMALS: &[&str] = &["CLF", "UYW"];
/// ISO 4217 codes with cents (the active list, less the ones above and funds codes).
const TWO_DECIMALS: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BMD", "BND",
    "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CNY", "COP", "CRC", "CUP", "CVE", "CZK",
    "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD",
    "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "QAR", "RON",
    "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UZS", "VES", "WST", "XCD", "YER",
    "ZAR", "ZMW", "ZWL",
];

/// A currency payments may come in, with its credits per major unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency {
    /// The ISO 4217 code, upper case.
    pub code: String,
    /// Digits after the decimal point of its major unit (ISO 4217's "minor unit").
    pub minor_units: u32,
    /// Credits bought by one major unit.
    pub credits_per_unit: i64,
}

impl Currency {
    /// `code` at `credits_per_unit`; refused when ISO 4217 does not know the code.
    pub fn new(code: &str, credits_per_unit: i64) -> Result<Self, String> {
        let code = code.trim().to_ascii_uppercase();
        let minor_units = minor_units(&code).ok_or_else(|| format!("{code} is not an ISO 4217 currency code"))?;
        if credits_per_unit <= 0 {
            return Err(format!("{code}: credits per unit must be positive"));
        }
        Ok(Self { code, minor_units, credits_per_unit })
    }

    /// Whole credits bought by `amount_minor` of this currency's minor unit (a fraction of
    /// a credit is not created out of a payment).
    pub fn credits_for(&self, amount_minor: i64) -> Result<i64, AllyError> {
        let per_unit = 10_i64.pow(self.minor_units);
        amount_minor
            .checked_mul(self.credits_per_unit)
            .map(|v| v / per_unit)
            .filter(|v| *v > 0)
            .ok_or_else(|| AllyError::validation("amount_minor must be positive and buy at least one credit"))
    }
}

/// ISO 4217's minor unit of `code`, if it is a currency code.
pub fn minor_units(code: &str) -> Option<u32> {
    let known = |list: &[&str]| list.contains(&code);
    if known(ZERO_DECIMALS) {
        Some(0)
    } else if known(TWO_DECIMALS) {
        Some(2)
    } else if known(THREE_DECIMALS) {
        Some(3)
    } else if known(FOUR_DECIMALS) {
        Some(4)
    } else {
        None
    }
}

/// The currency of `code` among `accepted`; 422 when it is not configured.
pub fn accepted<'a>(accepted: &'a [Currency], code: &str) -> Result<&'a Currency, AllyError> {
    accepted.iter().find(|c| c.code.eq_ignore_ascii_case(code)).ok_or_else(|| {
        let list: Vec<&str> = accepted.iter().map(|c| c.code.as_str()).collect();
        AllyError::validation(format!("payments are accepted in {} only", list.join(", ")))
    })
}

#[cfg(test)]
#[path = "currency_test.rs"]
mod tests;
