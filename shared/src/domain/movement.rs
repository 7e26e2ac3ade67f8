//! One movement of a wallet, settled once: what it does to the lots, the balance, the
//! reserve and the debt, and the rules that hold wherever two money features meet. Every
//! operation that moves credit (a spend, a hold placed, captured, voided or expired, a
//! reversal, a lot's expiry, both sides of a transfer, every kind of credit) states what it
//! moves as a [`Motion`]; [`settle`] is the one place that turns it into the wallet after
//! it, in the order TigerBeetle's `create_transfer` checks a transfer: each refusal once.
//!
//! The rules where features meet, each stated here once:
//! - **Money back repays debt first.** Credit that becomes spendable (a credit, a transfer
//!   received, a hold voided or expired, what a capture leaves of its hold) repays the debt
//!   out of the lots it frees, before any of it is available ([`Settlement::repaid`]).
//! - **A reversal takes only what is left of its credit** ([`reversible_left`]), and only
//!   credit of its class ([`Lots::reversible`]): what expiry wrote off is gone, what was
//!   spent or is held becomes debt; other credit is never taken in its place.
//! - **The lots are the balance and the reserve.** A movement whose lots would no longer sum
//!   to them is refused as a drift ([`Unsettled::Drift`]), never repaired.

use chrono::{DateTime, Utc};

use super::{Draw, EntryKind, Lot, LotKind, Lots, Reseller};

/// Credit a movement brings in: a lot of `kind` expiring at `expires_at` (none: never).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub kind: LotKind,
    pub expires_at: Option<DateTime<Utc>>,
    pub amount: i64,
}

/// What a movement does to the wallet's lots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LotMove {
    /// Credit in: one lot per grant (or joined to one, past [`super::MAX_OPEN_LOTS`]).
    Open(Vec<Grant>),
    /// A spend draws spendable credit in the spending order.
    Draw,
    /// A hold reserves spendable credit in the spending order.
    Reserve,
    /// A hold voided or expired gives back what it reserved.
    Release(Vec<Draw>),
    /// A capture draws from what its hold reserved and releases the rest.
    Capture(Vec<Draw>),
    /// A reversal takes from credit of the class (kind and expiry) of the entry it reverses
    /// (what it can: the rest is debt).
    TakeBack { kind: LotKind, expires_at: Option<DateTime<Utc>> },
    /// The expiry of one lot takes what is left of it.
    Expire(String),
}

/// The money of one movement: the entry it writes (none for a hold placed or released:
/// the balance does not move by itself), what it does to the lots, and the debt it adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Motion {
    pub kind: Option<EntryKind>,
    /// What the balance moves by, never negative (`kind` gives the direction).
    pub amount: i64,
    pub lots: LotMove,
    /// Debt it adds (a reversal beyond what was available).
    pub debt_added: i64,
}

/// A wallet after a movement.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub lots: Lots,
    /// The lots the movement moved, for its entry: the ones a credit opened (or joined), the
    /// ones a spend, reversal or expiry drew from, or what a hold reserved.
    pub moved: Vec<Draw>,
    /// The lots as they stand after a credit opened or joined them (their items are written).
    pub opened: Vec<Lot>,
    /// Debt repaid out of the credit the movement freed, and from which lots.
    pub repaid: i64,
    pub repaid_from: Vec<Draw>,
    /// The balance after the movement's entry, before the repayment.
    pub balance_after_entry: i64,
    pub balance: i64,
    pub held: i64,
    pub debt: i64,
}

impl Settlement {
    /// What may be spent after the movement at `now`.
    pub fn spendable(&self, now: DateTime<Utc>) -> i64 {
        self.balance - self.held - self.lots.expired_unreserved(now)
    }
}

/// Why a movement cannot be settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsettled {
    /// The lots cannot give what a spend or hold asks (spendable as read).
    Insufficient { needed: i64, spendable: i64 },
    /// A figure would leave i64.
    Overflow,
    /// The wallet's lots disagree with its balance or reserve, before or after.
    Drift { balance: i64, lots: i64, held: i64, reserved: i64 },
}

impl Unsettled {
    /// The drift of `lots` from `balance` and `held`.
    fn drift(balance: i64, lots: &Lots, held: i64) -> Self {
        Unsettled::Drift { balance, lots: lots.total(), held, reserved: lots.reserved() }
    }
}

/// Checks that a wallet's lots are its balance and its reserve.
pub fn check_lots(wallet: &Reseller) -> Result<(), Unsettled> {
    if wallet.lots.total() == wallet.balance && wallet.lots.reserved() == wallet.held && wallet.debt >= 0 {
        Ok(())
    } else {
        Err(Unsettled::drift(wallet.balance, &wallet.lots, wallet.held))
    }
}

/// `wallet` after `motion` at `now`; a credit's first lot takes the id of its entry, `entry_id`.
pub fn settle(wallet: &Reseller, motion: &Motion, entry_id: &str, now: DateTime<Utc>) -> Result<Settlement, Unsettled> {
    check_lots(wallet)?;
    let amount = motion.amount;
    let sign = motion.kind.map_or(0, EntryKind::sign);
    let balance_after_entry = wallet.balance.checked_add(sign * amount).ok_or(Unsettled::Overflow)?;
    let mut lots = wallet.lots.clone();
    let insufficient = || Unsettled::Insufficient { needed: amount, spendable: wallet.spendable(now) };
    let mut opened = Vec::new();
    // What the movement makes spendable again: the debt is repaid out of it first.
    let mut freed: Vec<Draw> = Vec::new();
    let mut held = wallet.held;
    let moved = match &motion.lots {
        LotMove::Open(grants) => {
            let mut fed: Vec<Draw> = Vec::new();
            for (i, grant) in grants.iter().enumerate() {
                let id = if i == 0 { entry_id.to_string() } else { super::new_id() };
                let stands = lots.open(Lot::new(&id, grant.kind, grant.amount, grant.expires_at, now), now);
                // Two grants that joined one lot are written once, as it ends.
                opened.retain(|l: &Lot| l.id != stands.id);
                fed.push(Draw { lot: stands.id.clone(), kind: grant.kind, amount: grant.amount });
                opened.push(stands);
            }
            freed.clone_from(&fed);
            fed
        }
        LotMove::Draw => lots.draw(amount, now).ok_or_else(insufficient)?,
        LotMove::Reserve => {
            held = held.checked_add(amount).ok_or(Unsettled::Overflow)?;
            lots.reserve(amount, now).ok_or_else(insufficient)?
        }
        LotMove::Release(reserved) => {
            let released: i64 = reserved.iter().map(|d| d.amount).sum();
            held -= released;
            lots.release(reserved);
            freed.clone_from(reserved);
            Vec::new()
        }
        LotMove::Capture(reserved) => {
            let released: i64 = reserved.iter().map(|d| d.amount).sum();
            held -= released;
            let drawn = lots.capture(reserved, amount);
            freed = left_of(reserved, &drawn);
            drawn
        }
        LotMove::TakeBack { kind, expires_at } => {
            lots.take_back(*kind, *expires_at, amount).ok_or_else(insufficient)?
        }
        LotMove::Expire(lot) => {
            vec![lots.expire(lot, now).ok_or_else(|| Unsettled::drift(wallet.balance, &wallet.lots, wallet.held))?]
        }
    };
    let debt = wallet.debt.checked_add(motion.debt_added).ok_or(Unsettled::Overflow)?;
    // Expired credit a hold gives back repays the debt too: it would otherwise only be
    // written off, while the debt stays.
    let freed_total: i64 = freed.iter().map(|d| d.amount).sum();
    let repaid = debt.min(freed_total).max(0);
    let mut repaid_from = Vec::new();
    let mut left = repaid;
    for draw in &freed {
        let take = left.min(draw.amount);
        repaid_from.extend(lots.take_from(&draw.lot, take));
        left -= take;
    }
    let settlement = Settlement {
        lots,
        moved,
        opened,
        repaid,
        repaid_from,
        balance_after_entry,
        balance: balance_after_entry - repaid,
        held,
        debt: debt - repaid,
    };
    // The lots must still be the balance and the reserve: a movement that would tear them
    // apart is refused here, loudly, rather than stored.
    if settlement.lots.total() != settlement.balance || settlement.lots.reserved() != settlement.held {
        return Err(Unsettled::drift(settlement.balance, &settlement.lots, settlement.held));
    }
    Ok(settlement)
}

/// What of `reserved` a capture that drew `drawn` leaves, lot by lot.
fn left_of(reserved: &[Draw], drawn: &[Draw]) -> Vec<Draw> {
    reserved
        .iter()
        .filter_map(|r| {
            let taken: i64 = drawn.iter().filter(|d| d.lot == r.lot).map(|d| d.amount).sum();
            (r.amount > taken).then(|| Draw { amount: r.amount - taken, ..r.clone() })
        })
        .collect()
}

/// The most a reversal of a credit may still take back: the credit (`amount`, of which it fed
/// `fed` into lot `lot`, which holds `lot_amount` in all), less its earlier reversals, less
/// its share of what the lot's expiry wrote off (`expired`, zero while the lot is open). A
/// lot several credits joined shares its expiry by what each fed it, rounded up: never less
/// than what expiry took is counted as gone.
pub fn reversible_left(amount: i64, reversed: i64, fed: i64, lot_amount: i64, expired: i64) -> i64 {
    let share = if lot_amount <= 0 || expired <= 0 {
        0
    } else {
        let share = (i128::from(expired) * i128::from(fed) + i128::from(lot_amount) - 1) / i128::from(lot_amount);
        i64::try_from(share).unwrap_or(i64::MAX).min(fed)
    };
    (amount - reversed - share).max(0)
}

#[cfg(test)]
#[path = "movement_test.rs"]
mod tests;
