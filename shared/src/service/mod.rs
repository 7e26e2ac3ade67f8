//! What partners, admins and event handlers can do. HTTP handlers and event consumers call
//! these methods and nothing below them.

mod analytics;
mod bulk;
mod clients;
mod commissions;
mod credits;
mod hierarchy;
mod holds;
mod lots;
mod metadata;
mod money;
mod profile;
mod provisions;
mod receipts;
mod recount;
mod requests;
mod resellers;
mod reversals;
mod stripe;
mod top_ups;
mod transfers;
mod upgrades;
mod wallet_write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub use analytics::{TOP_RESELLERS_MAX_DAYS, TopReseller, UpgradeCandidate};
pub use bulk::MAX_BULK;
pub use hierarchy::SubReseller;
pub use profile::spent_in_window;
pub use receipts::{
    BulkCharge, BulkReceipt, BulkState, BulkStatus, CaptureReceipt, CreditReceipt, HoldReceipt, LotExpiry, Profile,
    ProvisionReceipt, ResellerStats, ReversalReceipt, TransferReceipt, TransferSide, VoidReceipt, WhitelabelMetadata,
};
pub use recount::Recount;
pub use requests::{
    AdminTransferRequest, BulkRequest, CaptureRequest, CreditRequest, HoldRequest, MetadataPatch, NewClient,
    NewReseller, ProvisionRequest, ResellerPatch, ReversalRequest, TransferRequest,
};
pub use stripe::{MoneyBack, Paid, StripeAck};
pub use top_ups::AutoTopUpView;

use crate::config::Config;
use crate::domain::{RefId, UserId};
use crate::store::Store;

/// Who is calling, as proven by verified token claims (never by a body field or header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The token's `sub`.
    pub user_id: UserId,
    /// The token's `email`, only when the token says it is verified (`email_verified`).
    pub email: Option<String>,
    /// Member of the `admin` group.
    pub admin: bool,
}

/// Makes refids; replaceable so tests can force a collision.
pub type RefidSource = Arc<dyn Fn() -> RefId + Send + Sync>;

/// Tells the time; replaceable so the simulator can move the clock (expiries, holds, the
/// sweeper at any hour) without waiting for it.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// How many times a write that lost a race is tried again before answering 503 `busy`.
/// Under 100 writers on one wallet a success takes about 24 tries (BENCHMARKS.md, hot
/// wallet); 50, with the backoff capped at 80 ms, lets nearly every caller land within a
/// few seconds instead of failing a request that would have gone through.
const MAX_ATTEMPTS: u32 = 50;

/// The Ally service over a store.
pub struct Ally<S> {
    store: S,
    config: Config,
    refids: RefidSource,
    clock: Clock,
    /// Refids already resolved by this process. A refid names one user for good (it is
    /// drawn once at onboarding and never changed or reused), so a warm function resolves a
    /// refid it has met without a call: an admin top-up or a payment is then one read of the
    /// wallet and one transaction.
    known_refids: Mutex<HashMap<RefId, UserId>>,
}

impl<S: Store> Ally<S> {
    /// The service over `store` with `config`.
    pub fn new(store: S, config: Config) -> Self {
        Self {
            store,
            config,
            refids: Arc::new(RefId::random),
            clock: Arc::new(Utc::now),
            known_refids: Mutex::default(),
        }
    }

    /// Tells the time by `clock` instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time as this service tells it: every decision about expiry is taken at it.
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    /// Uses `refids` to make refids (tests use it to force collisions).
    pub fn with_refids(mut self, refids: RefidSource) -> Self {
        self.refids = refids;
        self
    }

    /// The store underneath, for event code that needs one narrow part of it (claims,
    /// checkpoints, counters) and for tests that check what was written.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }
}
