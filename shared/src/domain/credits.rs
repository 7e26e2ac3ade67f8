use serde::{Deserialize, Serialize};

use super::AllyError;

/// A positive amount of credits (1 credit = 1/`credit_conversion_rate` of a currency unit).
///
/// Built only through [`Credits::new`], which refuses zero, negatives and anything above the
/// configured maximum, so arithmetic on it cannot start from a bad value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Credits(i64);

impl Credits {
    /// Checks `amount` is in `1..=max`.
    pub fn new(amount: i64, max: i64) -> Result<Self, AllyError> {
        if amount <= 0 {
            return Err(AllyError::validation(format!("amount must be a positive number of credits, got {amount}")));
        }
        if amount > max {
            return Err(AllyError::validation(format!("amount {amount} is above the maximum of {max} credits")));
        }
        Ok(Self(amount))
    }

    /// For values the code itself derived from already-checked ones (a discounted price).
    pub(crate) fn from_trusted(amount: i64) -> Self {
        debug_assert!(amount > 0);
        Self(amount)
    }

    /// The amount as a plain integer.
    pub fn get(self) -> i64 {
        self.0
    }

    /// `self * count`, or a validation error when it would not fit.
    pub fn times(self, count: usize) -> Result<Credits, AllyError> {
        i64::try_from(count)
            .ok()
            .and_then(|n| self.0.checked_mul(n))
            .filter(|total| *total > 0)
            .map(Credits)
            .ok_or_else(|| AllyError::validation("the total cost is too large"))
    }
}

/// `balance + delta`, refusing an overflow instead of wrapping.
pub fn checked_balance(balance: i64, delta: i64) -> Result<i64, AllyError> {
    balance.checked_add(delta).ok_or_else(|| AllyError::validation("the balance would overflow"))
}

#[cfg(test)]
#[path = "credits_test.rs"]
mod tests;
