//! Holds: credits reserved for a service before it is bought (TigerBeetle's pending
//! transfers, Formance's holds). A hold lowers `available = balance - held`, never
//! `balance`; it is then captured (all or part of it debited, the service provisioned, the
//! rest released), voided, or it expires. Each ends once.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{AllyError, ClientId, Draw, Tier, UserId};

/// The shortest and longest a hold may last, and how long it lasts when not told.
pub const HOLD_MIN_SECONDS: i64 = 60;
pub const HOLD_MAX_SECONDS: i64 = 7 * 86_400;
pub const HOLD_DEFAULT_SECONDS: i64 = 86_400;

/// Where a hold stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HoldStatus {
    /// Reserving its amount until `expires_at`.
    Active,
    /// Debited (all or part) and the service provisioned.
    Captured,
    /// Released by its owner.
    Voided,
    /// Released because it reached `expires_at` uncaptured.
    Expired,
}

impl HoldStatus {
    /// The status as stored and asked for.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldStatus::Active => "active",
            HoldStatus::Captured => "captured",
            HoldStatus::Voided => "voided",
            HoldStatus::Expired => "expired",
        }
    }
}

impl std::str::FromStr for HoldStatus {
    type Err = AllyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(HoldStatus::Active),
            "captured" => Ok(HoldStatus::Captured),
            "voided" => Ok(HoldStatus::Voided),
            "expired" => Ok(HoldStatus::Expired),
            other => Err(AllyError::validation(format!(
                "unknown hold status `{}` (active, captured, voided, expired)",
                other.chars().take(32).collect::<String>()
            ))),
        }
    }
}

/// Credits reserved for one service of a reseller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Hold {
    pub id: String,
    pub owner_id: UserId,
    /// Credits reserved: the tier price of the product or cost.
    pub amount: i64,
    /// The price before the tier's discount.
    pub base_cost: i64,
    pub tier: Tier,
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub product: Option<String>,
    pub client_id: Option<ClientId>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Credits debited by its capture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captured: Option<i64>,
    /// When it was captured, voided or expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// What it reserves of each lot, in the spending order when it was placed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lots: Vec<Draw>,
}

impl Hold {
    /// Its status as of `now`: an active hold past `expires_at` is expired, whether or not
    /// the sweeper has released it yet (it can no longer be captured).
    pub fn status_at(&self, now: DateTime<Utc>) -> HoldStatus {
        match self.status {
            HoldStatus::Active if now >= self.expires_at => HoldStatus::Expired,
            status => status,
        }
    }

    /// Whether it may still be captured or voided at `now`.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == HoldStatus::Active
    }
}

/// When a hold asked to last `seconds` (or the default) from `now` expires; out of the
/// 60 s to 7 days range is a validation error.
pub fn hold_expiry(now: DateTime<Utc>, seconds: Option<i64>) -> Result<DateTime<Utc>, AllyError> {
    let seconds = seconds.unwrap_or(HOLD_DEFAULT_SECONDS);
    if !(HOLD_MIN_SECONDS..=HOLD_MAX_SECONDS).contains(&seconds) {
        return Err(AllyError::validation(format!(
            "expires_in_s must be {HOLD_MIN_SECONDS} to {HOLD_MAX_SECONDS} seconds"
        )));
    }
    Ok(now + Duration::seconds(seconds))
}
