//! The wallet rule, stated once: whether a change of a reseller's wallet is allowed, and
//! why not. The service asks it before writing, the memory store asks it under its lock,
//! and the DynamoDB store builds its condition expression from the same list and maps a
//! cancelled transaction back through it (TigerBeetle's `create_transfer` reads the same
//! way: one line per refusal, in the order the contract gives them).

use chrono::{DateTime, Utc};

use super::{Product, Reseller, Status, Tier};

/// What a change of the wallet is; it decides which conditions apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// A spend (or a hold) of `cost` credits out of what is spendable `at` its time, priced
    /// for `tier` (and for `product`, when it is one); `held` is what holds reserved when read.
    Spend { version: u64, tier: Tier, cost: i64, held: i64, product: Option<Product>, at: DateTime<Utc> },
    /// Credits in (top-up, payment, reward): allowed on a suspended or held wallet.
    Credit { version: u64 },
    /// A change of tier, status, hold or metadata: only the version read must still hold.
    Profile { version: u64 },
    /// A hold captured, voided or expired, or a lot's expiry written down: what it releases
    /// or takes was decided before (a hold when placed, a lot's end when opened), so only the
    /// version read must still hold (a suspension since does not undo it).
    Release { version: u64 },
    /// A client onboarded: the reseller must exist and be active (no version: onboarding a
    /// client does not depend on the balance).
    AddClient,
}

/// One thing the stored wallet must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// The reseller exists.
    Exists,
    /// Its status is active.
    Active,
    /// Provisioning is not on hold.
    NoHold,
    /// Its tier may sell the product (`tiers` is the product's list, never empty here).
    TierIn { tiers: Vec<Tier>, product: String },
    /// Its tier is still the one the price was computed for.
    TierIs(Tier),
    /// What is spendable at `at` (balance less held, less expired credit) covers `cost`.
    /// `held` is the reserve as read: DynamoDB compares `balance >= cost + held` (no
    /// arithmetic on stored attributes, no clock), exact beside [`Condition::VersionIs`],
    /// which pins `held` and the lots the service judged expiry from.
    AvailableAtLeast { cost: i64, held: i64, at: DateTime<Utc> },
    /// Nothing changed since it was read.
    VersionIs(u64),
}

/// Why a wallet change is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such reseller.
    Missing,
    Suspended,
    OnHold,
    /// The reseller's tier may not sell this product.
    TierNotAllowed {
        tier: Tier,
        product: String,
    },
    /// The tier changed since the price was computed: read again and retry.
    TierChanged,
    Insufficient {
        needed: i64,
        balance: i64,
    },
    /// The wallet changed since it was read: read again and retry.
    VersionChanged,
    /// The idempotency key is already recorded: replay it.
    Duplicate,
    /// The hold was captured, voided or expired already.
    HoldClosed,
    /// The entry's reversals would exceed it.
    ReversalExceedsOriginal,
    /// The external payment was credited already, to another reseller.
    PaidElsewhere,
    /// The payment's receipt moved since it was read: read it again.
    ReceiptMoved,
}

impl Refusal {
    /// Whether reading the wallet again and retrying may succeed (a lost race or a replay).
    pub fn is_race(&self) -> bool {
        matches!(self, Refusal::TierChanged | Refusal::VersionChanged | Refusal::Duplicate)
    }
}

impl Guard {
    /// The conditions of this change, in the order refusals are reported: missing,
    /// suspended, on hold, tier not allowed, tier changed, not affordable, changed since read.
    pub fn conditions(&self) -> Vec<Condition> {
        use Condition as C;
        match self {
            Guard::Spend { version, tier, cost, held, product, at } => {
                let mut list = vec![C::Exists, C::Active, C::NoHold];
                if let Some(p) = product.as_ref().filter(|p| !p.tiers.is_empty()) {
                    list.push(C::TierIn { tiers: p.tiers.clone(), product: p.id.clone() });
                }
                list.extend([
                    C::TierIs(*tier),
                    C::AvailableAtLeast { cost: *cost, held: *held, at: *at },
                    C::VersionIs(*version),
                ]);
                list
            }
            Guard::Credit { version } | Guard::Profile { version } | Guard::Release { version } => {
                vec![C::Exists, C::VersionIs(*version)]
            }
            Guard::AddClient => vec![C::Exists, C::Active],
        }
    }

    /// The first condition `wallet` fails, as a refusal; `Ok` when the change may go ahead.
    pub fn check(&self, wallet: Option<&Reseller>) -> Result<(), Refusal> {
        self.conditions().iter().try_for_each(|c| c.check(wallet))
    }
}

impl Condition {
    /// Whether `wallet` satisfies this condition, and the refusal when it does not.
    pub fn check(&self, wallet: Option<&Reseller>) -> Result<(), Refusal> {
        let Some(w) = wallet else {
            return Err(Refusal::Missing);
        };
        let holds = match self {
            Condition::Exists => true,
            Condition::Active => w.status == Status::Active,
            Condition::NoHold => !w.hold_provisioning,
            Condition::TierIn { tiers, .. } => tiers.contains(&w.tier),
            Condition::TierIs(tier) => w.tier == *tier,
            Condition::AvailableAtLeast { cost, at, .. } => w.spendable(*at) >= *cost,
            Condition::VersionIs(version) => w.version == *version,
        };
        if holds { Ok(()) } else { Err(self.refusal(w)) }
    }

    fn refusal(&self, w: &Reseller) -> Refusal {
        match self {
            Condition::Exists => Refusal::Missing,
            Condition::Active => Refusal::Suspended,
            Condition::NoHold => Refusal::OnHold,
            Condition::TierIn { product, .. } => Refusal::TierNotAllowed { tier: w.tier, product: product.clone() },
            Condition::TierIs(_) => Refusal::TierChanged,
            Condition::AvailableAtLeast { cost, at, .. } => {
                Refusal::Insufficient { needed: *cost, balance: w.spendable(*at) }
            }
            Condition::VersionIs(_) => Refusal::VersionChanged,
        }
    }
}

#[cfg(test)]
#[path = "wallet_test.rs"]
mod tests;
