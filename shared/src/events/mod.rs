//! The event pipeline: table changes become domain events on the `ally` bus; consumers
//! react to them (low-credit mail, referral rewards) and a schedule sends monthly reports.
//! Delivery is at least once everywhere, so every consumer dedupes by event id.
//!
//! Grouped by role: `changes` (table changes to events and figures), `consumers` (what
//! reacts to them), `outlets` (mail, the bus, parked work); their modules keep their paths
//! here (`events::mail`, `events::handlers`, ...).
//!
//! The same code runs in Lambda (DynamoDB Streams, EventBridge, SES) and in the dev
//! server (the memory store's change feed, an in-process bus, a local outbox).

mod changes;
mod consumers;
mod outlets;

pub use changes::{figures, publisher, stream};
pub use consumers::{handlers, notices, reactions, report};
pub use outlets::{bus, local, mail, parking, redrive};

use serde::{Deserialize, Serialize};

pub use changes::{
    AllyEvent, BalanceLow, ClientAdded, Detail, Envelope, HoldFreed, HoldSettled, Joined, LowCredit, NoEvent, Observed,
    Posted, ResellerRef, RunwayLow, ServiceAdded, SpendNow, ThresholdCrossed, TopUpAsked, TopUpFailed,
    UpgradeSuggested, runway_event, runway_watch, threshold_events,
};

pub use crate::store::{ItemChange, Stored};

/// Source of the events Ally publishes.
pub const SOURCE: &str = "ally";
/// Source of the referral system's events.
pub const REFERRAL_SOURCE: &str = "refer";

/// An event on the bus: EventBridge's `source`, `detail-type` and `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: serde_json::Value,
}

/// `detail` of the referral system's `ReferralCompleted` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralCompleted {
    pub referral_id: String,
    pub referrer_user_id: String,
    pub referred_user_id: String,
    pub tag: String,
}
