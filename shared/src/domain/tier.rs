use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{AllyError, Credits, RefId};

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

/// What a sub-reseller's spends of one day owe its parent, accrued on the sub-reseller's
/// own day counters by each spend's own write (so a distributor's wallet is never written
/// by its children's spends) and settled into the parent's wallet once the day is over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accrual {
    /// The parent the spends named (the tree as it stood at each spend).
    pub parent: RefId,
    /// Credits spent.
    pub spent: i64,
    /// Of those, promotional credits: the commission on them is promotional.
    pub promotional: i64,
    /// How many spends.
    pub spends: i64,
}

impl Accrual {
    /// Adds `other`, a later spend for the same parent.
    pub fn add(&mut self, other: &Accrual) {
        self.spent = self.spent.saturating_add(other.spent);
        self.promotional = self.promotional.saturating_add(other.promotional);
        self.spends = self.spends.saturating_add(other.spends);
    }
}

impl Commissions {
    /// What a parent of `tier` earns on `accrued`: the commission on the credits spent, and
    /// of it the share earned on promotional credit (rounded down), which is promotional.
    pub fn earned(&self, accrued: &Accrual, tier: Tier) -> (i64, i64) {
        let amount = self.on(accrued.spent, tier);
        let promotional = i64::try_from(
            i128::from(amount) * i128::from(accrued.promotional.clamp(0, accrued.spent))
                / i128::from(accrued.spent.max(1)),
        )
        .unwrap_or(amount)
        .clamp(0, amount);
        (amount, promotional)
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
