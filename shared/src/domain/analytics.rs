use std::collections::BTreeMap;
use std::ops::AddAssign;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{AllyError, Tier};

/// What happened in a wallet over some time: the counters analytics read instead of the
/// ledger. Kept per reseller and network-wide, per day and per month, in the same writes
/// that move the money, so they are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    /// Credits put into wallets (top-ups, payments, rewards): "credits distributed".
    pub credits_added: i64,
    pub credits_spent: i64,
    /// Services provisioned.
    pub provisions: i64,
    /// Clients onboarded (single and bulk).
    pub acquisitions: i64,
    /// Credits that expired unspent: neither spent nor distributed.
    #[serde(default)]
    pub credits_expired: i64,
}

impl Activity {
    /// Whether nothing happened.
    pub fn is_empty(&self) -> bool {
        *self == Activity::default()
    }
}

impl AddAssign for Activity {
    fn add_assign(&mut self, other: Activity) {
        self.credits_added += other.credits_added;
        self.credits_spent += other.credits_spent;
        self.provisions += other.provisions;
        self.acquisitions += other.acquisitions;
        self.credits_expired += other.credits_expired;
    }
}

/// How many resellers hold each tier, whatever their status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TierSnapshot {
    pub platinum: i64,
    pub gold: i64,
    pub standard: i64,
}

impl TierSnapshot {
    /// The count of one tier.
    pub fn count(&self, tier: Tier) -> i64 {
        match tier {
            Tier::Standard => self.standard,
            Tier::Gold => self.gold,
            Tier::Platinum => self.platinum,
        }
    }

    /// The count of one tier, to change it.
    pub fn count_mut(&mut self, tier: Tier) -> &mut i64 {
        match tier {
            Tier::Standard => &mut self.standard,
            Tier::Gold => &mut self.gold,
            Tier::Platinum => &mut self.platinum,
        }
    }
}

/// Network-wide figures, kept from the table's change records (never inside a money
/// write, which touches the acting reseller's own items only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkTotals {
    /// Credits held in all wallets together.
    pub outstanding: i64,
    /// Of `outstanding`, promotional credit (the rest is paid).
    #[serde(default)]
    pub promotional: i64,
    pub tiers: TierSnapshot,
    /// When the newest change counted in them happened: the figures lag the money by the
    /// time the change stream takes to deliver.
    #[serde(default)]
    pub as_of: Option<DateTime<Utc>>,
}

/// What one change of the table adds to the network's figures: the activity of its day
/// (and month), outstanding credits, resellers per tier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkDelta {
    /// The day the change counts for (the ledger entry's, the client's, the service's).
    pub day: NaiveDate,
    /// When the change happened, for `as_of`.
    pub at: DateTime<Utc>,
    pub activity: Activity,
    pub outstanding: i64,
    /// Of `outstanding`, what moved promotional credit.
    pub promotional: i64,
    pub tiers: TierSnapshot,
}

/// Changes of the table summed: what a run of one stream shard's records adds to the
/// network's figures, written at once (and carried between the invocations of a window).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSum {
    /// The activity of each day the changes count for (months are their days' sums).
    pub days: BTreeMap<NaiveDate, Activity>,
    pub outstanding: i64,
    pub promotional: i64,
    pub tiers: TierSnapshot,
    /// When the newest change summed happened.
    pub as_of: Option<DateTime<Utc>>,
}

impl NetworkSum {
    /// Adds one change's delta.
    pub fn add(&mut self, delta: &NetworkDelta) {
        if !delta.activity.is_empty() {
            *self.days.entry(delta.day).or_default() += delta.activity;
        }
        self.outstanding += delta.outstanding;
        self.promotional += delta.promotional;
        for tier in Tier::ALL {
            *self.tiers.count_mut(tier) += delta.tiers.count(tier);
        }
        self.as_of = self.as_of.max(Some(delta.at));
    }

    /// Whether it moves nothing.
    pub fn is_empty(&self) -> bool {
        self.days.is_empty() && self.outstanding == 0 && self.promotional == 0 && self.tiers == TierSnapshot::default()
    }
}

/// The first day of the month holding `day`: the key of monthly counters.
pub fn month_of(day: NaiveDate) -> NaiveDate {
    day.with_day(1).unwrap_or(day)
}

/// What a trend counts per period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Measure {
    /// Credits added (top-ups, payments, rewards), net of reversals.
    #[default]
    Added,
    /// Credits spent on services and clients.
    Spent,
}

impl Measure {
    /// Every measure by the name a query gives it.
    pub const NAMES: &[&str] = &["added", "spent"];
}

/// What the top-resellers ranking orders by (the other figure breaks ties).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ranking {
    /// Clients onboarded.
    #[default]
    Acquisitions,
    /// Credits spent on services and clients.
    Spent,
}

impl Ranking {
    /// Every ranking by the name a query gives it.
    pub const NAMES: &[&str] = &["acquisitions", "spent"];
}

impl FromStr for Ranking {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "acquisitions" => Ok(Ranking::Acquisitions),
            "spent" => Ok(Ranking::Spent),
            other => Err(AllyError::validation(format!(
                "unknown ranking `{}` (acquisitions, spent)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

impl FromStr for Measure {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "added" => Ok(Measure::Added),
            "spent" => Ok(Measure::Spent),
            other => Err(AllyError::validation(format!(
                "unknown measure `{}` (added, spent)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// The granularity of a trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Daily,
    Monthly,
    Yearly,
}

impl FromStr for Interval {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "daily" => Ok(Interval::Daily),
            "monthly" => Ok(Interval::Monthly),
            "yearly" => Ok(Interval::Yearly),
            other => Err(AllyError::validation(format!("unknown interval `{other}` (daily, monthly, yearly)"))),
        }
    }
}

impl Interval {
    /// Every interval by the name a query gives it.
    pub const NAMES: &[&str] = &["daily", "monthly", "yearly"];

    /// The label of the period holding `day`: `2026-01-05`, `2026-01` or `2026`.
    pub fn label(self, day: NaiveDate) -> String {
        match self {
            Interval::Daily => day.format("%Y-%m-%d").to_string(),
            Interval::Monthly => day.format("%Y-%m").to_string(),
            Interval::Yearly => day.year().to_string(),
        }
    }

    /// The longest range a trend of this interval may cover, in days.
    pub fn max_span_days(self) -> i64 {
        match self {
            Interval::Daily => 366,
            Interval::Monthly => 3_700,
            Interval::Yearly => 18_300,
        }
    }
}

/// A checked, inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl DateRange {
    /// Parses `YYYY-MM-DD` bounds and checks `start <= end` and that the span is at most
    /// `max_days` days.
    pub fn parse(start: &str, end: &str, max_days: i64) -> Result<Self, AllyError> {
        let range = Self { start: Self::day("start", start)?, end: Self::day("end", end)? };
        if range.start > range.end {
            return Err(AllyError::validation("start must not be after end"));
        }
        if range.days() > max_days {
            return Err(AllyError::validation(format!("the range may cover at most {max_days} days")));
        }
        Ok(range)
    }

    /// A day of a range, `name` as asked: a date YYYY-MM-DD from 1970 to 9999, so that any
    /// arithmetic on it (a default start a year or five back, a month's end) stays in range.
    pub fn day(name: &str, value: &str) -> Result<NaiveDate, AllyError> {
        NaiveDate::parse_from_str(value, "%Y-%m-%d").ok().filter(|d| (1970..=9999).contains(&d.year())).ok_or_else(
            || {
                AllyError::validation(format!(
                    "{name} must be a date YYYY-MM-DD from 1970 to 9999, got `{}`",
                    value.chars().take(32).collect::<String>()
                ))
            },
        )
    }

    /// Number of days covered.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// Every day of the range.
    pub fn each_day(&self) -> impl Iterator<Item = NaiveDate> + use<> {
        self.start.iter_days().take(self.days() as usize)
    }
}

/// Sums daily counters into a trend: credits distributed per period, every period of the
/// range present (zero when nothing happened).
pub fn trend(
    range: &DateRange,
    interval: Interval,
    days: &BTreeMap<NaiveDate, Activity>,
    measure: Measure,
) -> BTreeMap<String, i64> {
    let mut out: BTreeMap<String, i64> = range.each_day().map(|d| (interval.label(d), 0)).collect();
    for (day, activity) in days.range(range.start..=range.end) {
        *out.entry(interval.label(*day)).or_default() += match measure {
            Measure::Added => activity.credits_added,
            Measure::Spent => activity.credits_spent,
        };
    }
    out
}

#[cfg(test)]
#[path = "analytics_test.rs"]
mod tests;
