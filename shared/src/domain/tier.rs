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

    /// The tier above this one; none above platinum.
    pub fn next(self) -> Option<Tier> {
        match self {
            Tier::Standard => Some(Tier::Gold),
            Tier::Gold => Some(Tier::Platinum),
            Tier::Platinum => None,
        }
    }

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

/// What a parent earns of each direct child's spend, in percent, by the parent's tier
/// (`ALLY_COMMISSION_PERCENT`: `5` for every tier, or `gold=5,platinum=10`); all zero, the
/// default, is off.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Commissions {
    pub standard: u8,
    pub gold: u8,
    pub platinum: u8,
}

/// The largest commission a tier may pay, in percent.
pub const COMMISSION_MAX_PERCENT: u8 = 50;

impl Commissions {
    /// The commission of a parent of `tier` in percent.
    pub fn percent(&self, tier: Tier) -> u8 {
        match tier {
            Tier::Standard => self.standard,
            Tier::Gold => self.gold,
            Tier::Platinum => self.platinum,
        }
    }

    /// What a parent of `tier` earns of a spend of `spent`, rounded down: never a fraction
    /// of a credit, never more than was spent.
    pub fn on(&self, spent: i64, tier: Tier) -> i64 {
        (i128::from(spent) * i128::from(self.percent(tier)) / 100) as i64
    }

    /// Whether no tier earns a commission.
    pub fn is_off(&self) -> bool {
        Tier::ALL.iter().all(|t| self.percent(*t) == 0)
    }
}

impl std::str::FromStr for Commissions {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let percent =
            |v: &str| {
                v.trim().parse::<u8>().ok().filter(|p| *p <= COMMISSION_MAX_PERCENT).ok_or_else(|| {
                    AllyError::validation(format!("a commission is 0 to {COMMISSION_MAX_PERCENT} percent"))
                })
            };
        if !s.contains('=') {
            let all = percent(s)?;
            return Ok(Self { standard: all, gold: all, platinum: all });
        }
        let mut out = Self::default();
        for part in s.split(',') {
            let (tier, value) = part.split_once('=').ok_or_else(|| AllyError::validation("write tier=percent"))?;
            let slot = match tier.trim().parse::<Tier>()? {
                Tier::Standard => &mut out.standard,
                Tier::Gold => &mut out.gold,
                Tier::Platinum => &mut out.platinum,
            };
            *slot = percent(value)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "tier_test.rs"]
mod tests;
