use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{AllyError, Credits};

/// A reseller's tier: it sets the discount on every price the reseller pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Standard,
    Gold,
    Platinum,
}

impl Tier {
    /// Every tier, cheapest discount first.
    pub const ALL: [Tier; 3] = [Tier::Standard, Tier::Gold, Tier::Platinum];

    /// The tier's name as stored and as shown in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Gold => "gold",
            Tier::Platinum => "platinum",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| AllyError::validation(format!("unknown tier `{s}` (standard, gold, platinum)")))
    }
}

/// Discount per tier, in whole percent (0..=99, so a price never reaches zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discounts {
    pub gold: u8,
    pub platinum: u8,
}

impl Default for Discounts {
    fn default() -> Self {
        Self { gold: 15, platinum: 30 }
    }
}

impl Discounts {
    /// The discount of `tier` in percent.
    pub fn percent(&self, tier: Tier) -> u8 {
        match tier {
            Tier::Standard => 0,
            Tier::Gold => self.gold,
            Tier::Platinum => self.platinum,
        }
    }

    /// What a reseller of `tier` pays for something whose base price is `base`, rounded up
    /// to whole credits so a discount never hands out a fraction of a credit.
    pub fn price(&self, base: Credits, tier: Tier) -> Credits {
        let pay = i128::from(100 - self.percent(tier).min(99));
        let cents = i128::from(base.get()) * pay;
        let price = (cents + 99) / 100;
        // 1 <= price <= base, so it fits and stays positive.
        Credits::from_trusted(price as i64)
    }
}

#[cfg(test)]
#[path = "tier_test.rs"]
mod tests;
