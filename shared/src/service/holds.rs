//! Holds: reserve the tier price of a service, then capture (all or part: the debit and the
//! service in one write), void, or let it expire. How a hold meets the wallet rule: placing
//! one is judged as a spend against `available`; capturing, voiding and expiring only need
//! the wallet unchanged since read, since what they release or debit was reserved.

use tracing::instrument;

use super::money::Movement;
use super::wallet_write::{Also, Committed, Read, request_hash};
use super::{Ally, CaptureReceipt, CaptureRequest, HoldReceipt, HoldRequest, VoidReceipt};
use crate::domain::{
    Activity, AllyError, Credits, EntryKind, Guard, Hold, HoldStatus, IdempotencyKey, LotMove, Motion,
    ProvisionedService, UserId, hold_expiry, license_key, new_id,
};
use crate::store::{HoldWrite, Page, PageRequest, Store};

impl<S: Store> Ally<S> {
    /// Reserves the tier price of a product or cost for the caller until `expires_in_s`
    /// (60 s to 7 days, 24 h by default); refused as a provision would be, judged against
    /// `available`.
    #[instrument(skip(self, request))]
    pub async fn place_hold(
        &self,
        user_id: &UserId,
        request: HoldRequest,
        key: &IdempotencyKey,
    ) -> Result<HoldReceipt, AllyError> {
        // The input first (as a provision): its expiry range, then its client.
        hold_expiry(self.now(), request.expires_in_s)?;
        let client_id = self.own_client(user_id, request.client_id.as_ref()).await?;
        let hash = request_hash("place_hold", &request);
        self.commit(
            user_id,
            key,
            hash,
            Also::Nothing,
            |r, _, now| {
                let price = self.price(r, request.product.as_deref(), request.cost)?;
                let guard = price.guard(r, price.cost, now);
                guard.check(Some(r))?;
                // The hold reserves lot by lot, in the spending order: what it reserves
                // stays its own even when the lot expires before the capture.
                let amount = price.cost.get();
                let lots = r
                    .lots
                    .clone()
                    .reserve(amount, now)
                    .ok_or(AllyError::InsufficientCredits { needed: amount, balance: r.spendable(now) })?;
                let hold = Hold {
                    id: new_id(),
                    owner_id: user_id.clone(),
                    amount,
                    base_cost: price.base.get(),
                    tier: r.tier,
                    status: HoldStatus::Active,
                    expires_at: hold_expiry(now, request.expires_in_s)?,
                    product: price.product.as_ref().map(|p| p.id.clone()),
                    client_id: client_id.clone(),
                    description: request.description.as_ref().map(ToString::to_string),
                    created_at: now,
                    captured: None,
                    closed_at: None,
                    lots,
                };
                let motion = Motion { kind: None, amount, lots: LotMove::Reserve, debt_added: 0 };
                Ok(Movement {
                    hold: Some(HoldWrite { hold: hold.clone(), placed: true }),
                    ..Movement::of(guard, motion, user_id.as_str(), hold)
                })
            },
            |o, hold| Ok(HoldReceipt { hold: hold.clone(), balance: o.balance, held: o.held, available: o.available }),
        )
        .await
        .map(|c| c.response)
    }

    /// Debits `amount` of an active hold (all of it by default), provisions its service and
    /// releases the rest, in one write; 409 `hold_closed` once it is captured, voided or past
    /// its `expires_at` (whether or not the sweeper has released it yet).
    #[instrument(skip(self, request))]
    pub async fn capture_hold(
        &self,
        user_id: &UserId,
        hold_id: &str,
        request: CaptureRequest,
        key: &IdempotencyKey,
    ) -> Result<CaptureReceipt, AllyError> {
        self.store.hold(user_id, hold_id).await?.ok_or(AllyError::NotFound("hold"))?;
        let hash = request_hash("capture_hold", &(hold_id, &request));
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                Also::Hold(hold_id),
                |r, read, now| {
                    // Read after the wallet: a hold closed by a write the wallet read holds.
                    let hold = open_hold(read, |h| h.is_open(now))?;
                    let amount = match request.amount {
                        Some(amount) if amount > hold.amount => {
                            return Err(AllyError::validation(format!(
                                "a capture takes at most the {} credits held",
                                hold.amount
                            )));
                        }
                        Some(amount) => Credits::new(amount, hold.amount)?,
                        None => Credits::new(hold.amount, hold.amount)?,
                    };
                    let id = new_id();
                    let service = ProvisionedService {
                        license_key: license_key(user_id, &id),
                        id,
                        owner_id: user_id.clone(),
                        client_id: hold.client_id.clone(),
                        product: hold.product.clone(),
                        description: hold.description.clone(),
                        base_cost: hold.base_cost,
                        cost: amount.get(),
                        tier: hold.tier,
                        created_at: now,
                    };
                    let closed = Hold {
                        status: HoldStatus::Captured,
                        captured: Some(amount.get()),
                        closed_at: Some(now),
                        ..hold.clone()
                    };
                    Ok(Movement {
                        reason: Some(format!("capture of hold {}", hold.id)),
                        activity: Activity { credits_spent: amount.get(), provisions: 1, ..Activity::default() },
                        services: vec![service.clone()],
                        hold: Some(HoldWrite { hold: closed, placed: false }),
                        ..Movement::new(
                            Guard::Release { version: r.version },
                            EntryKind::Debit,
                            amount.get(),
                            user_id.as_str(),
                            LotMove::Capture(hold.lots.clone()),
                            (service, hold.amount - amount.get()),
                        )
                    })
                },
                |o, (service, released)| {
                    let entry = o.entry()?;
                    Ok(CaptureReceipt {
                        cost: entry.amount,
                        balance: o.balance,
                        service: service.clone(),
                        transaction: entry.clone(),
                        released: *released,
                    })
                },
            )
            .await?;
        Ok(committed.response)
    }

    /// Releases all of an active hold; 409 `hold_closed` once it is captured, voided or past
    /// its `expires_at`.
    #[instrument(skip(self))]
    pub async fn void_hold(
        &self,
        user_id: &UserId,
        hold_id: &str,
        key: &IdempotencyKey,
    ) -> Result<VoidReceipt, AllyError> {
        self.store.hold(user_id, hold_id).await?.ok_or(AllyError::NotFound("hold"))?;
        let hash = request_hash("void_hold", &hold_id);
        Ok(self.release(user_id, hold_id, HoldStatus::Voided, key, hash).await?.response)
    }

    /// Releases every active hold past its `expires_at`, each exactly once (also when two
    /// sweepers run at once, or a capture races it): what the sweeper runs. Returns how many
    /// this run released.
    #[instrument(skip(self))]
    pub async fn expire_holds(&self) -> Result<usize, AllyError> {
        let mut released = 0;
        let mut failed = None;
        for hold in self.store.expired_holds(self.now()).await? {
            let key = IdempotencyKey::hold_expiry(&hold.id);
            let hash = request_hash("expire_hold", &hold.id);
            match self.release(&hold.owner_id, &hold.id, HoldStatus::Expired, &key, hash).await {
                Ok(c) if c.fresh => released += 1,
                // Another sweeper released it first with the same key: its answer replays.
                Ok(_) => {}
                // Captured, voided or expired by someone else first: nothing left to do.
                Err(AllyError::HoldClosed) => {}
                // One that fails is left for the next run; the others go on.
                Err(e) => {
                    tracing::error!(hold = %hold.id, error = %e, "an expired hold could not be released");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(released),
        }
    }

    /// The caller's holds, newest first, with their status as of now; `status` keeps those
    /// in it (pages are filled from further store pages when it drops some).
    pub async fn holds(
        &self,
        user_id: &UserId,
        status: Option<HoldStatus>,
        page: &PageRequest,
    ) -> Result<Page<Hold>, AllyError> {
        let now = self.now();
        let mut items = Vec::new();
        let mut cursor = page.cursor.clone();
        loop {
            // Never more from the store than the page can take: every hold read is either
            // kept or filtered out, so the store's cursor is exactly where this page stops.
            let left = page.limit.saturating_sub(u16::try_from(items.len()).unwrap_or(u16::MAX));
            let request = PageRequest { limit: left, cursor: cursor.clone() };
            let found = self.store.holds(user_id, &request).await?;
            for mut hold in found.items {
                hold.status = hold.status_at(now);
                if status.is_none_or(|s| s == hold.status) {
                    items.push(hold);
                }
            }
            cursor = found.next_cursor;
            if items.len() >= page.limit as usize || cursor.is_none() {
                break;
            }
        }
        if items.is_empty() {
            self.find_by_user(user_id).await?;
        }
        Ok(Page { items, next_cursor: cursor })
    }

    /// Closes open hold `hold_id` as `status` (voided or expired), releasing what it
    /// reserved; the debt is repaid out of it first.
    async fn release(
        &self,
        user_id: &UserId,
        hold_id: &str,
        status: HoldStatus,
        key: &IdempotencyKey,
        hash: String,
    ) -> Result<Committed<VoidReceipt>, AllyError> {
        self.commit(
            user_id,
            key,
            hash,
            Also::Hold(hold_id),
            |r, read, now| {
                // The sweeper releases what has expired; an owner only what is still open.
                let hold = open_hold(read, |h| {
                    if status == HoldStatus::Expired { h.status == HoldStatus::Active } else { h.is_open(now) }
                })?;
                let closed = Hold { status, closed_at: Some(now), ..hold.clone() };
                let motion = Motion { kind: None, amount: 0, lots: LotMove::Release(hold.lots.clone()), debt_added: 0 };
                Ok(Movement {
                    hold: Some(HoldWrite { hold: closed, placed: false }),
                    ..Movement::of(Guard::Release { version: r.version }, motion, user_id.as_str(), hold.amount)
                })
            },
            |o, released| Ok(VoidReceipt { released: *released, available: o.available }),
        )
        .await
    }
}

/// The hold read after the wallet, when `open` says it may still be closed; 409 otherwise.
fn open_hold(read: &Read, open: impl Fn(&Hold) -> bool) -> Result<&Hold, AllyError> {
    read.hold.as_ref().filter(|h| open(h)).ok_or(AllyError::HoldClosed)
}
