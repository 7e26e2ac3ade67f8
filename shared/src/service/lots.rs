//! Credit lots: the partner's list of them, and the expiry job. A lot's credit stops being
//! spendable at `expires_at` by the wallet rule itself ([`crate::domain::Reseller::spendable`]);
//! the job only writes down what was lost: one `expiry` entry per lot, exactly once, in a
//! write conditioned on the wallet's version (a racing spend makes it read again) and on the
//! lot still being among the expiring ones (a second job finds it gone, or replays its key).

use chrono::Utc;
use tracing::instrument;

use super::money::Movement;
use super::wallet_write::{Also, request_hash};
use super::{Ally, LotExpiry};
use crate::domain::{Activity, AllyError, EXPIRY_ACTOR, EntryKind, Guard, IdempotencyKey, Lot, LotMove, UserId};
use crate::store::{Page, PageRequest, Store};

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
    /// expired).
    pub async fn lots(&self, user_id: &UserId, page: &PageRequest) -> Result<Page<Lot>, AllyError> {
        let reseller = self.find_by_user(user_id).await?;
        let mut found = self.store.lots(user_id, page).await?;
        for lot in &mut found.items {
            match reseller.lots.get(&lot.id) {
                Some(open) => *lot = Lot { expired: lot.expired, ..open.clone() },
                None => (lot.remaining, lot.reserved) = (0, 0),
            }
        }
        Ok(found)
    }

    /// Writes down the expiry of every lot past its `expires_at`: what the sweeper runs.
    /// Returns how many lots this run expired.
    #[instrument(skip(self))]
    pub async fn expire_lots(&self) -> Result<usize, AllyError> {
        let mut expired = 0;
        let mut failed = None;
        for (owner, lot) in self.store.expired_lots(self.now()).await? {
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
        match due(reseller.lots.get(lot_id), self.now()) {
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
                Also::Nothing,
                |r, _, now| {
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
                            EXPIRY_ACTOR,
                            LotMove::Expire(lot_id.to_string()),
                            (),
                        )
                    })
                },
                |o, ()| Ok(LotExpiry { lot: lot_id.to_string(), expired: o.entry()?.amount, balance: o.balance }),
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
