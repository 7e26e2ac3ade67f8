//! Credit lots (Orb's credit blocks, Stripe's credit grants): every credit opens a lot,
//! paid or promotional, perhaps expiring. Spending draws lots in one fixed order, and credit
//! past its expiry is never spendable, whether or not the expiry job has run.
//!
//! The live state of the first open lots rides on the wallet item, which every money write
//! already conditions on: a spend of them touches no other item, and the lots cannot drift
//! from the balance. The wallet carries at most [`LOTS_ON_WALLET`] (the first in the
//! spending order); the others wait in items of their own beside it, read with it, and
//! written in the same transaction only when a change moves them (see
//! [`Lots::beside_changes`]): the wallet item, rewritten by every money write, stays under
//! 1 KB however many lots are open. Credit without an expiry joins the open lot of its kind
//! without one, and a wallet keeps at most [`MAX_OPEN_LOTS`] open, past which expiring
//! credit joins a lot of its kind expiring the same day (see [`Lots::open`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How many lots a wallet keeps open before expiring credits join lots of their class.
/// Credit without an expiry never adds a lot past one per kind, so only expiring credit
/// (referral rewards, grants) reaches this: twenty rewards a month expiring after 90 days
/// stay under it.
pub const MAX_OPEN_LOTS: usize = 64;

/// How many open lots ride on the wallet item: the first in the spending order, which
/// spends draw first. An expiring lot is about 150 bytes of an item every money write
/// rewrites (a write unit per KB), beside a profile of about 400, 500 with an auto top-up
/// rule: two keep it at about 800 bytes (four reach 990 without the rule).
pub const LOTS_ON_WALLET: usize = 2;

/// Where a lot's credit came from, which decides its place in the spending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LotKind {
    /// Bought: payments, admin top-ups.
    Paid,
    /// Given: referral rewards, admin grants marked promotional. Spent before paid credit.
    Promotional,
}

/// One lot: credit of one kind and expiry, and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lot {
    /// The id of the credit entry that opened it.
    pub id: String,
    pub kind: LotKind,
    /// Credited into it (more than its first credit when a later one joined it).
    pub amount: i64,
    /// Left of it: part of the balance.
    pub remaining: i64,
    /// Of `remaining`, what active holds reserve.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reserved: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// What its expiry took (once it expired).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expired: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Credits moved in or out of one lot by one entry or hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Draw {
    pub lot: String,
    pub kind: LotKind,
    pub amount: i64,
}

impl Lot {
    /// A lot opened by credit entry `id`.
    pub fn new(id: &str, kind: LotKind, amount: i64, expires_at: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Self {
        Self {
            id: id.to_string(),
            kind,
            amount,
            remaining: amount,
            reserved: 0,
            expires_at,
            created_at: at,
            expired: 0,
        }
    }

    /// Whether its credit has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }

    /// What a new spend or hold may take of it at `now`.
    pub fn spendable(&self, now: DateTime<Utc>) -> i64 {
        if self.is_expired(now) { 0 } else { self.remaining - self.reserved }
    }

    /// Its place in the spending order: earliest expiry first (none last), promotional
    /// before paid at the same expiry, then oldest.
    fn order(&self) -> (bool, Option<DateTime<Utc>>, bool, DateTime<Utc>, &str) {
        (self.expires_at.is_none(), self.expires_at, self.kind == LotKind::Paid, self.created_at, &self.id)
    }

    fn draw(&self, amount: i64) -> Draw {
        Draw { lot: self.id.clone(), kind: self.kind, amount }
    }
}

/// A wallet's open lots (remaining or reserved credit), in the spending order.
#[derive(Debug, Clone, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Lots {
    open: Vec<Lot>,
    /// The lots read from the items beside the wallet, as read: a write compares what it
    /// leaves there with them and writes only what moved.
    #[serde(skip)]
    beside: Vec<Lot>,
}

/// Equal when the same lots are open, wherever they were read from.
impl PartialEq for Lots {
    fn eq(&self, other: &Self) -> bool {
        self.open == other.open
    }
}

impl Eq for Lots {}

/// The items beside the wallet a write of its lots changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BesideChanges<'a> {
    /// Lots to write beside the wallet: newly there, or changed since read.
    pub put: Vec<&'a Lot>,
    /// Lots to take away from beside it: moved onto the wallet, or closed.
    pub delete: Vec<&'a str>,
}

impl Lots {
    /// The lots the wallet item carries: the first [`LOTS_ON_WALLET`] in the spending order.
    pub fn on_wallet(&self) -> &[Lot] {
        &self.open[..self.open.len().min(LOTS_ON_WALLET)]
    }

    /// How many lots wait beside the wallet.
    pub fn beside_count(&self) -> usize {
        self.open.len() - self.on_wallet().len()
    }

    /// Takes in the lots read from the items beside the wallet, each in its place in the
    /// spending order.
    pub fn read_beside(&mut self, lots: Vec<Lot>) {
        self.open.extend(lots.iter().cloned());
        self.beside = lots;
        self.sort();
    }

    /// What a write of these lots changes beside the wallet, against what was read there.
    pub fn beside_changes(&self) -> BesideChanges<'_> {
        let beside = &self.open[self.on_wallet().len()..];
        BesideChanges {
            put: beside.iter().filter(|l| !self.beside.contains(l)).collect(),
            delete: self
                .beside
                .iter()
                .filter(|was| !beside.iter().any(|l| l.id == was.id))
                .map(|l| l.id.as_str())
                .collect(),
        }
    }

    /// Whether no lot is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// The open lots, in the spending order.
    pub fn iter(&self) -> impl Iterator<Item = &Lot> {
        self.open.iter()
    }

    /// The open lot `id`.
    pub fn get(&self, id: &str) -> Option<&Lot> {
        self.open.iter().find(|l| l.id == id)
    }

    /// Credit left in all lots: the balance.
    pub fn total(&self) -> i64 {
        self.open.iter().map(|l| l.remaining).sum()
    }

    /// Credit of expired lots that no hold reserves: in the balance until the expiry job
    /// takes it, never spendable.
    pub fn expired_unreserved(&self, now: DateTime<Utc>) -> i64 {
        self.open.iter().filter(|l| l.is_expired(now)).map(|l| l.remaining - l.reserved).sum()
    }

    /// Credit that expires after `now` and by `until`.
    pub fn expiring(&self, now: DateTime<Utc>, until: DateTime<Utc>) -> i64 {
        self.open.iter().filter(|l| l.expires_at.is_some_and(|at| at > now && at <= until)).map(|l| l.remaining).sum()
    }

    /// What the open lots reserve for holds: `held`.
    pub fn reserved(&self) -> i64 {
        self.open.iter().map(|l| l.reserved).sum()
    }

    /// Puts `lot` in, and returns the lot as it now stands (the one to write). Credit without
    /// an expiry joins the newest open lot of its kind without one (such credit is spent
    /// oldest first whichever lot holds it, so nothing is lost but a lot per credit, and the
    /// wallet stays small: one per kind). Beyond [`MAX_OPEN_LOTS`] credit with an expiry joins
    /// an open lot of its kind expiring the same UTC day, never an expired one, which then
    /// expires at the later of the two (the same day: a join never shortens credit's life,
    /// and never lengthens it past that day). A credit with no such lot opens one anyway:
    /// only distinct expiry days add lots past the bound.
    pub fn open(&mut self, lot: Lot, now: DateTime<Utc>) -> Lot {
        let day = |at: Option<DateTime<Utc>>| at.map(|at| at.date_naive());
        let joined = (lot.expires_at.is_none() || self.open.len() >= MAX_OPEN_LOTS)
            .then(|| {
                self.open
                    .iter_mut()
                    .filter(|l| l.kind == lot.kind && !l.is_expired(now) && day(l.expires_at) == day(lot.expires_at))
                    .max_by_key(|l| l.created_at)
            })
            .flatten();
        let stands = match joined {
            Some(into) => {
                into.amount += lot.amount;
                into.remaining += lot.amount;
                into.expires_at = into.expires_at.max(lot.expires_at);
                into.clone()
            }
            None => {
                self.open.push(lot.clone());
                lot
            }
        };
        self.sort();
        stands
    }

    /// Takes `amount` of the spendable credit in the spending order; none when the lots
    /// cannot give it all.
    pub fn draw(&mut self, amount: i64, now: DateTime<Utc>) -> Option<Vec<Draw>> {
        let draws = self.plan(amount, |l| l.spendable(now))?;
        self.apply(&draws, |l, n| l.remaining -= n);
        Some(draws)
    }

    /// Reserves `amount` of the spendable credit in the spending order, for a hold.
    pub fn reserve(&mut self, amount: i64, now: DateTime<Utc>) -> Option<Vec<Draw>> {
        let draws = self.plan(amount, |l| l.spendable(now))?;
        self.apply(&draws, |l, n| l.reserved += n);
        Some(draws)
    }

    /// Releases what a hold reserved.
    pub fn release(&mut self, reserved: &[Draw]) {
        self.apply(reserved, |l, n| l.reserved -= n);
    }

    /// Captures `amount` of what a hold reserved (in the order it was reserved, which is
    /// the spending order when it was placed) and releases all of the reservation. A hold
    /// placed before a lot expired still takes from it: the reservation was the decision.
    pub fn capture(&mut self, reserved: &[Draw], amount: i64) -> Vec<Draw> {
        let mut left = amount;
        let mut draws = Vec::new();
        for r in reserved {
            let take = r.amount.min(left);
            if take > 0 {
                draws.push(Draw { amount: take, ..r.clone() });
                left -= take;
            }
        }
        self.release(reserved);
        self.apply(&draws, |l, n| l.remaining -= n);
        draws
    }

    /// What a reversal of credit of `kind` expiring at `expires_at` can take back: what is
    /// left of credit of that class and no hold reserves, expired or not (all paid credit
    /// without an expiry is one class, a grant's its own lot). What was spent of it, or is
    /// held, becomes debt: credit of another class is never taken in its place.
    pub fn reversible(&self, kind: LotKind, expires_at: Option<DateTime<Utc>>) -> i64 {
        self.open
            .iter()
            .filter(|l| l.kind == kind && l.expires_at == expires_at)
            .map(|l| l.remaining - l.reserved)
            .sum()
    }

    /// Takes `amount` (at most [`Self::reversible`]) of credit of `kind` expiring at
    /// `expires_at`, in the spending order.
    pub fn take_back(&mut self, kind: LotKind, expires_at: Option<DateTime<Utc>>, amount: i64) -> Option<Vec<Draw>> {
        let draws =
            self.plan(
                amount,
                |l| if l.kind == kind && l.expires_at == expires_at { l.remaining - l.reserved } else { 0 },
            )?;
        self.apply(&draws, |l, n| l.remaining -= n);
        Some(draws)
    }

    /// Takes `amount` out of lot `lot` (a credit's own lot repaying debt).
    pub fn take_from(&mut self, lot: &str, amount: i64) -> Vec<Draw> {
        let draws: Vec<Draw> = self.get(lot).filter(|_| amount > 0).map(|l| l.draw(amount)).into_iter().collect();
        self.apply(&draws, |l, n| l.remaining -= n);
        draws
    }

    /// Expires what is left of lot `lot` at `now`: all of it, once no hold reserves any of
    /// it (a reservation is released or captured first: holds end within 7 days). None
    /// while it has not expired or is still reserved.
    pub fn expire(&mut self, lot: &str, now: DateTime<Utc>) -> Option<Draw> {
        let found = self.get(lot).filter(|l| l.is_expired(now) && l.reserved == 0)?;
        let draw = found.draw(found.remaining);
        self.apply(std::slice::from_ref(&draw), |l, n| l.remaining -= n);
        Some(draw)
    }

    /// The draws giving `amount` from what `give` says each lot may give, in order.
    fn plan(&self, amount: i64, give: impl Fn(&Lot) -> i64) -> Option<Vec<Draw>> {
        let mut left = amount;
        let mut draws = Vec::new();
        for lot in &self.open {
            if left == 0 {
                break;
            }
            let take = give(lot).min(left);
            if take > 0 {
                draws.push(lot.draw(take));
                left -= take;
            }
        }
        (left == 0).then_some(draws)
    }

    /// Applies `change` to each drawn lot, then closes the lots left empty.
    fn apply(&mut self, draws: &[Draw], change: impl Fn(&mut Lot, i64)) {
        for draw in draws {
            if let Some(lot) = self.open.iter_mut().find(|l| l.id == draw.lot) {
                change(lot, draw.amount);
            }
        }
        self.open.retain(|l| l.remaining > 0 || l.reserved > 0);
    }

    fn sort(&mut self) {
        self.open.sort_by(|a, b| a.order().cmp(&b.order()));
    }
}

#[cfg(test)]
#[path = "lot_test.rs"]
mod tests;
