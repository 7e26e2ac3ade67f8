//! The partner business: tiers, credits, resellers, clients, services, the ledger.
//! Nothing here knows about AWS or HTTP.

mod alerts;
mod analytics;
mod credits;
mod currency;
mod error;
mod hold;
mod idempotency;
mod ids;
mod ledger;
mod lot;
mod movement;
mod portfolio;
mod product;
mod reseller;
#[cfg(test)]
pub(crate) use reseller::sample_reseller;
mod tier;
mod top_up;
mod unseen;
mod upgrade;
mod wallet;

pub use alerts::{Alerts, Crossing, MAX_THRESHOLDS, RUNWAY_WINDOW_DAYS, crossings, runway_days};
pub use analytics::{
    Activity, DateRange, Interval, Measure, NetworkDelta, NetworkSum, NetworkTotals, Ranking, TierSnapshot, month_of,
    trend,
};
pub use credits::{Credits, checked_balance};
pub use currency::{Currency, accepted as accepted_currency};
pub use error::AllyError;
pub use hold::{HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS, HOLD_MIN_SECONDS, Hold, HoldStatus, hold_expiry};
pub use idempotency::{CallerKey, IdempotencyKey};
pub use ids::{ClientId, ClientName, CompanyName, Email, MetadataKey, Note, RESERVED_METADATA_KEYS, RefId, UserId};
pub use ledger::{
    ADMIN_ACTOR, COMMISSION_ACTOR, Counterpart, EXPIRY_ACTOR, EntryKind, LedgerEntry, REFERRAL_ACTOR, new_id,
};
pub use lot::{BesideChanges, Draw, LOTS_ON_WALLET, Lot, LotKind, Lots, MAX_OPEN_LOTS};
pub use movement::{Grant, LotMove, Motion, Settlement, Unsettled, check_lots, reversible_left, settle};
pub use portfolio::{Client, ProvisionedService, license_key};
pub use product::{Catalog, Product};
pub use reseller::{
    HoldReason, METADATA_MAX_BYTES, Metadata, MetadataPatch, MetadataValue, ParentRef, Reseller, Status,
    check_metadata, check_metadata_value, merge_metadata, metadata_bytes, metadata_growth_bound,
};
pub use tier::{Accrual, COMMISSION_MAX_PERCENT, Commissions, Discounts, Tier};
pub use top_up::{
    AutoTopUp, PendingTopUp, TOP_UP_MAX_FAILURES, TOP_UP_PENDING_HOURS, TopUpRequest, TopUpRule, TopUpStatus, TopUpStep,
};
pub use unseen::first_unseen;
pub use upgrade::UpgradeSuggestion;
pub use wallet::{Condition, Guard, Refusal};
