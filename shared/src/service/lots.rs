//! Credit lots: the partner's list of them, and the expiry job. A lot's credit stops being
//! spendable at `expires_at` by the wallet rule itself ([`crate::domain::Reseller::spendable`]);
//! the job only writes down what was lost: one `expiry` entry per lot, exactly once, in a
//! write conditioned on the wallet's version (a racing spend makes it read again) and on the
//! lot still being among the expiring ones (a second job finds it gone, or replays its key).

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::money::Movement;
use super::wallet_write::request_hash;
use super::{Ally, LotExpiry};
use crate::domain::{
    Activity, AllyError, Draw, EntryKind, Guard, IdempotencyKey, LedgerEntry, Lot, LotKind, Lots, Reseller, UserId,
    checked_balance,
};
use crate::store::{LotWrite, Page, PageRequest, Store};

/// What the job can do with a lot past its expiry, as the wallet stands.
enum Due {
    /// Expire what is left of it.
    Expire,
    /// Nothing is left of it (spent or reversed first): it just leaves the expiring lots.
    Settle,
    /// A hold placed before the expiry still reserves part of it: after the hold ends.
    Wait,
}

fn due(lot: Option<&Lot>, now: chrono::DateTime<Utc>) -> Due {
    match lot {
        None => Due::Settle,
        Some(l) if l.reserved > 0 || !l.is_expired(now) => Due::Wait,
        Some(_) => Due::Expire,
    }
}

impl<S: Store> Ally<S> {
    /// The caller's lots, newest first, with what is left of each (0 once spent, reversed or
    /// expired); on the last page, the balance adopted from before lots were kept.
    pub async fn lots(&self, user_id: &UserId, page: &PageRequest) -> Result<Page<Lot>, AllyError> {
        let mut reseller = self.find_by_user(user_id).await?;
        reseller.lots.adopt(reseller.balance, reseller.held, reseller.created_at);
        let mut found = self.store.lots(user_id, page).await?;
        for lot in &mut found.items {
            match reseller.lots.get(&lot.id) {
                Some(open) => *lot = Lot { expired: lot.expired, ..open.clone() },
                None => (lot.remaining, lot.reserved) = (0, 0),
            }
        }
        if found.next_cursor.is_none() {
            let listed: Vec<String> = found.items.iter().map(|l| l.id.clone()).collect();
            let unlisted =
                reseller.lots.iter().filter(|l| !listed.contains(&l.id) && l.id == crate::domain::OPENING_LOT);
            found.items.extend(unlisted.cloned());
        }
        Ok(found)
    }

    /// Writes down the expiry of every lot past its `expires_at`: what the sweeper runs.
    /// Returns how many lots this run expired.
    #[instrument(skip(self))]
    pub async fn expire_lots(&self) -> Result<usize, AllyError> {
        let mut expired = 0;
        let mut failed = None;
        for (owner, lot) in self.store.expired_lots(Utc::now()).await? {
            match self.expire_lot(&owner, &lot.id).await {
                Ok(true) => expired += 1,
                Ok(false) => {}
                // One that fails is left for the next run; the others go on.
                Err(e) => {
                    tracing::error!(lot = %lot.id, error = %e, "an expired lot could not be written down");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(expired),
        }
    }

    /// Expires lot `lot_id` of `owner` if it is due; whether this call wrote its expiry.
    async fn expire_lot(&self, owner: &UserId, lot_id: &str) -> Result<bool, AllyError> {
        let reseller = self.find_by_user(owner).await?;
        match due(reseller.lots.get(lot_id), Utc::now()) {
            Due::Wait => return Ok(false),
            Due::Settle => {
                self.store.settle_lot(owner, lot_id).await?;
                return Ok(false);
            }
            Due::Expire => {}
        }
        let key = IdempotencyKey::lot_expiry(lot_id);
        let committed = self
            .commit(
                owner,
                &key,
                request_hash("expire_lot", &lot_id),
                |r, now| {
                    // Spent, reserved or expired since it was read: the next run sees it again.
                    let lot = r.lots.get(lot_id).filter(|l| matches!(due(Some(l), now), Due::Expire));
                    let lot = lot.ok_or(AllyError::Contention)?;
                    Ok(Movement {
                        reason: Some(format!("expiry of lot {lot_id}")),
                        activity: Activity { credits_expired: lot.remaining, ..Activity::default() },
                        ..Movement::new(
                            Guard::Release { version: r.version },
                            EntryKind::Expiry,
                            lot.remaining,
                            "expiry",
                            LotMove::Expire(lot_id.to_string()),
                            (),
                        )
                    })
                },
                |entry, ()| LotExpiry { lot: lot_id.to_string(), expired: entry.amount, balance: entry.balance_after },
            )
            .await;
        match committed {
            Ok(committed) => Ok(committed.fresh),
            Err(AllyError::Contention) => {
                tracing::warn!(lot = %lot_id, "the lot moved while it was expiring: left for the next run");
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

/// What a movement does to the wallet's lots.
pub(super) enum LotMove {
    /// A credit opens a lot (or joins one, past [`crate::domain::MAX_OPEN_LOTS`]); the debt
    /// it repays comes out of that lot.
    Open { kind: LotKind, expires_at: Option<DateTime<Utc>> },
    /// A spend draws spendable credit in the spending order.
    Draw,
    /// A capture draws from what its hold reserved and releases the rest.
    Capture(Vec<Draw>),
    /// A reversal takes from the lot of the entry it reverses first.
    TakeBack(String),
    /// The expiry of one lot takes what is left of it.
    Expire(String),
}

/// The lots after `movement` (as read from `reseller`), the lot items it writes and what
/// the debt repayment drew; records on `entry` the lots it moved.
pub(super) fn move_lots<D>(
    reseller: &Reseller,
    movement: &Movement<D>,
    entry: &mut LedgerEntry,
    now: DateTime<Utc>,
) -> Result<(Lots, Vec<LotWrite>, Vec<Draw>), AllyError> {
    let mut lots = reseller.lots.clone();
    let mut writes = Vec::new();
    let mut repaid = Vec::new();
    let amount = entry.amount;
    entry.lots = match &movement.lots {
        LotMove::Open { kind, expires_at } => {
            let stands = lots.open(Lot::new(&entry.id, *kind, amount, *expires_at, now), now);
            repaid = lots.take_from(&stands.id, movement.repay);
            let fed = Draw { lot: stands.id.clone(), kind: *kind, amount };
            writes.push(LotWrite::Put(stands));
            vec![fed]
        }
        LotMove::Draw => lots
            .draw(amount, now)
            .ok_or(AllyError::InsufficientCredits { needed: amount, balance: reseller.spendable(now) })?,
        LotMove::Capture(reserved) => lots.capture(reserved, amount),
        LotMove::TakeBack(lot) => lots.take_back(lot, amount, now),
        LotMove::Expire(lot) => {
            writes.push(LotWrite::Expired { lot: lot.clone(), amount });
            let expired = lots.expire(lot, now).ok_or_else(|| drift("a lot expired that was not due"))?;
            vec![expired]
        }
    };
    // The lots must still be the balance and the reserve: a write that would tear them
    // apart is refused here, loudly, rather than stored.
    let balance = checked_balance(reseller.balance, entry.delta())? - movement.repay;
    if lots.total() != balance || lots.reserved() != reseller.held + movement.held_delta {
        return Err(drift("the lots would no longer sum to the balance and the reserve"));
    }
    Ok((lots, writes, repaid))
}

/// An internal failure: the lots and the wallet would disagree.
pub(super) fn drift(what: &'static str) -> AllyError {
    AllyError::internal(std::io::Error::other(what))
}
