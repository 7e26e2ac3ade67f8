//! The product description's monthly step: partners whose acquisitions in a month make
//! them candidates for the next tier. Each candidate is suggested once per month, an item of
//! its own whose insert is the `TierUpgradeSuggested` event, and with auto-upgrade on, the
//! tier it names is applied once, recorded on the same item with its reason.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{RefId, Tier, UserId};

/// One partner's suggested upgrade for one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeSuggestion {
    pub owner_id: UserId,
    pub refid: RefId,
    /// The month's first day.
    pub month: NaiveDate,
    pub acquisitions: i64,
    /// The tier it had when suggested: the upgrade applies only from it.
    pub tier: Tier,
    pub suggested_tier: Tier,
    /// Why, in words (the figure and the bar it passed).
    pub reason: String,
    /// Whether `ALLY_AUTO_UPGRADE` was on: the upgrade is to be applied.
    pub auto: bool,
    /// When the upgrade was applied; none while it is not (or will not be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}
