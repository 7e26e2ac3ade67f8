//! The event pipeline: table changes become domain events on the `ally` bus; consumers
//! react to them (low-credit mail, referral rewards) and a schedule sends monthly reports.
//! Delivery is at least once everywhere, so every consumer dedupes by event id.
//!
//! The same code runs in Lambda (DynamoDB Streams, EventBridge, SES) and in the dev
//! server (the memory store's change feed, an in-process bus, a local outbox).

pub mod bus;
pub mod handlers;
pub mod local;
pub mod mail;
pub mod publisher;
pub mod reactions;
pub mod report;
pub mod stream;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{CompanyName, Email, RefId, UserId};
pub use crate::store::{ItemChange, Stored};

/// Source of the events Ally publishes.
pub const SOURCE: &str = "ally";
/// Source of the referral system's events.
pub const REFERRAL_SOURCE: &str = "refer";

/// The reseller an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResellerRef {
    pub user_id: UserId,
    #[serde(default)]
    pub refid: Option<RefId>,
}

/// An event on the bus: EventBridge's `source`, `detail-type` and `detail`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusEvent {
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: serde_json::Value,
}

/// `detail` of a `LowCredit` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LowCredit {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub reseller: ResellerRef,
    pub balance: i64,
    pub threshold: i64,
    pub company: CompanyName,
    #[serde(default)]
    pub email: Option<Email>,
}

/// `detail` of the referral system's `ReferralCompleted` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralCompleted {
    pub referral_id: String,
    pub referrer_user_id: String,
    pub referred_user_id: String,
    pub tag: String,
}
