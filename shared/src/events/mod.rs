//! The event pipeline: table changes become domain events on the `ally` bus; consumers
//! react to them (low-credit mail, referral rewards) and a schedule sends monthly reports.
//! Delivery is at least once everywhere, so every consumer dedupes by event id.
//!
//! The same code runs in Lambda (DynamoDB Streams, EventBridge, SES) and in the dev
//! server (the memory store's change feed, an in-process bus, a local outbox).

pub mod bus;
mod crossings;
mod event;
pub mod figures;
pub mod handlers;
pub mod local;
pub mod mail;
pub mod notices;
pub mod parking;
pub mod publisher;
pub mod reactions;
pub mod redrive;
pub mod report;
pub mod stream;

use serde::{Deserialize, Serialize};

pub use crossings::{SpendNow, runway_event, runway_watch, threshold_events};
pub use event::{
    AllyEvent, BalanceLow, ClientAdded, Detail, Envelope, HoldFreed, HoldSettled, Joined, LowCredit, NoEvent, Observed,
    Posted, ResellerRef, RunwayLow, ServiceAdded, ThresholdCrossed, TopUpAsked, TopUpFailed, UpgradeSuggested,
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
