//! From table changes to events: a stream record read ([`stream`]), what a change means
//! (`event`, `crossings`), put on the bus ([`publisher`]), and counted in the network's
//! figures ([`figures`]).

mod crossings;
mod event;
pub mod figures;
pub mod publisher;
pub mod stream;

pub use crossings::{SpendNow, runway_event, runway_watch, threshold_events};
pub use event::{
    AllyEvent, BalanceLow, ClientAdded, Detail, Envelope, HoldFreed, HoldSettled, Joined, LowCredit, NoEvent, Observed,
    Posted, ResellerRef, RunwayLow, ServiceAdded, ThresholdCrossed, TopUpAsked, TopUpFailed, UpgradeSuggested,
};
