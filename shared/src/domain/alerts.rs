//! A partner's own credit alerts (Orb's depleted / dropped / recovered alerts): up to five
//! thresholds of what is available, each announced once when crossed downwards and once
//! when climbed back. Crossings are judged per change of the wallet, from its state before
//! and after: changes are ordered per wallet, so a threshold is announced once per crossing
//! whatever order concurrent operations commit in.

use serde::{Deserialize, Serialize};

use super::AllyError;

/// The most thresholds one partner keeps.
pub const MAX_THRESHOLDS: usize = 5;

/// A partner's alerts (`PUT /resellers/me/alerts`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// Levels of `available` to be told about (none given: the network's low-credit
    /// threshold).
    #[schemars(length(max = 5))]
    pub thresholds: Vec<i64>,
    /// Days of spending left to be told about (read with the runway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runway_days: Option<i64>,
}

/// A threshold crossed by one change of the wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    /// What is available fell below it.
    Below(i64),
    /// What is available climbed back to it or above.
    Recovered(i64),
}

impl Alerts {
    /// Checks the thresholds: at most [`MAX_THRESHOLDS`], each 0 to `max`; the runway a
    /// whole number of days.
    pub fn check(&self, max: i64) -> Result<(), AllyError> {
        if self.thresholds.len() > MAX_THRESHOLDS {
            return Err(AllyError::validation(format!("at most {MAX_THRESHOLDS} thresholds")));
        }
        if self.thresholds.iter().any(|t| !(0..=max).contains(t)) {
            return Err(AllyError::validation(format!("a threshold is 0 to {max} credits")));
        }
        if self.runway_days.is_some_and(|d| !(1..=365).contains(&d)) {
            return Err(AllyError::validation("runway_days is 1 to 365"));
        }
        Ok(())
    }
}

/// Days of spending the runway is judged over.
pub const RUNWAY_WINDOW_DAYS: i64 = 30;

/// Whole days `available` lasts when `spent` was spent over the last
/// [`RUNWAY_WINDOW_DAYS`]; none when nothing was spent.
pub fn runway_days(available: i64, spent: i64) -> Option<i64> {
    (spent > 0).then(|| available.max(0).saturating_mul(RUNWAY_WINDOW_DAYS) / spent)
}

/// The thresholds among `thresholds` that going from `before` to `after` available crosses.
pub fn crossings(thresholds: &[i64], before: i64, after: i64) -> Vec<Crossing> {
    let mut levels = thresholds.to_vec();
    levels.sort_unstable();
    levels.dedup();
    levels
        .into_iter()
        .filter_map(|t| match (before >= t, after >= t) {
            (true, false) => Some(Crossing::Below(t)),
            (false, true) => Some(Crossing::Recovered(t)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_threshold_is_crossed_once_per_change_in_its_direction() {
        let levels = [1_000, 500, 100, 500];
        assert_eq!(crossings(&levels, 1_200, 400), [Crossing::Below(500), Crossing::Below(1_000)]);
        assert_eq!(crossings(&levels, 400, 300), [], "still below: nothing again");
        assert_eq!(crossings(&levels, 99, 600), [Crossing::Recovered(100), Crossing::Recovered(500)]);
        assert_eq!(crossings(&levels, 500, 500), [], "no change, no crossing");
        let too_many = Alerts { thresholds: vec![1; 6], runway_days: None };
        assert!(too_many.check(10).is_err());
        assert!(Alerts { thresholds: vec![11], runway_days: None }.check(10).is_err());
        assert!(Alerts { thresholds: vec![0, 10], runway_days: Some(30) }.check(10).is_ok());
    }

    #[test]
    fn the_runway_is_what_is_available_over_the_average_daily_spend() {
        assert_eq!(runway_days(1_000, 0), None, "nothing spent: no runway");
        assert_eq!(runway_days(1_000, 3_000), Some(10), "100 a day");
        assert_eq!(runway_days(150, 3_000), Some(1), "whole days, rounded down");
        assert_eq!(runway_days(-5, 3_000), Some(0));
    }
}
