//! The partner business: tiers, credits, resellers, clients, services, the ledger.
//! Nothing here knows about AWS or HTTP.

mod analytics;
mod credits;
mod error;
mod ledger;
mod portfolio;
mod product;
mod reseller;
mod tier;

pub use analytics::{Activity, DateRange, Interval, NetworkTotals, TierSnapshot, month_of, trend};
pub use credits::{Credits, checked_balance};
pub use error::AllyError;
pub use ledger::{EntryKind, LedgerEntry, new_id};
pub use portfolio::{Client, ProvisionedService, license_key};
pub use product::{Catalog, Product};
pub use reseller::{
    METADATA_MAX_KEYS, RESERVED_METADATA_KEYS, Reseller, Status, check_email, check_metadata, check_name, check_refid,
    check_user_id, new_refid,
};
pub use tier::{Discounts, Tier};
