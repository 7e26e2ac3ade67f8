//! Holds: reserve the tier price of a service, then capture (all or part: the debit and the
//! service in one write), void, or let it expire. How a hold meets the wallet rule: placing
//! one is judged as a spend against `available`; capturing, voiding and expiring only need
//! the wallet unchanged since read, since what they release or debit was reserved.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;

use super::lots::{LotMove, drift};
use super::money::Movement;
use super::top_ups::top_up_step;
use super::wallet_write::{Attempt, Committed, request_hash};
use super::{Ally, CaptureReceipt, CaptureRequest, HoldReceipt, HoldRequest, VoidReceipt};
use crate::domain::{
    Activity, AllyError, Credits, EntryKind, Guard, Hold, HoldReason, HoldStatus, IdempotencyKey, Lots,
    ProvisionedService, Reseller, UserId, hold_expiry, license_key, new_id,
};
use crate::store::{HoldWrite, IdempotencyState, Page, PageRequest, Store, WalletChange};

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
        hold_expiry(Utc::now(), request.expires_in_s)?;
        let client_id = self.own_client(user_id, request.client_id.as_ref()).await?;
        let hash = request_hash("place_hold", &request);
        self.reserve(
            user_id,
            key,
            hash,
            |r, now| {
                let price = self.price(r, request.product.as_deref(), request.cost)?;
                let guard = price.guard(r, price.cost, now);
                guard.check(Some(r))?;
                let mut hold = Hold {
                    id: new_id(),
                    owner_id: user_id.clone(),
                    amount: price.cost.get(),
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
                    lots: Vec::new(),
                };
                // The hold reserves lot by lot, in the spending order: what it reserves
                // stays its own even when the lot expires before the capture.
                let mut lots = r.lots.clone();
                hold.lots = lots
                    .reserve(hold.amount, now)
                    .ok_or(AllyError::InsufficientCredits { needed: hold.amount, balance: r.spendable(now) })?;
                Ok(Reservation {
                    guard,
                    lots,
                    held_delta: hold.amount,
                    hold: HoldWrite { hold: hold.clone(), placed: true },
                    detail: hold,
                })
            },
            |r, held, hold| HoldReceipt { hold: hold.clone(), balance: r.balance, held, available: r.balance - held },
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
        let hold = self.store.hold(user_id, hold_id).await?.ok_or(AllyError::NotFound("hold"))?;
        let hash = request_hash("capture_hold", &(hold_id, &request));
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                |r, now| {
                    if !hold.is_open(now) {
                        return Err(AllyError::HoldClosed);
                    }
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
                        held_delta: -hold.amount,
                        hold: Some(HoldWrite { hold: closed, placed: false }),
                        ..Movement::new(
                            Guard::Release { version: r.version },
                            EntryKind::Debit,
                            amount.get(),
                            user_id.as_str(),
                            LotMove::Capture(hold.reserved()),
                            (service, hold.amount - amount.get()),
                        )
                    })
                },
                |entry, (service, released)| CaptureReceipt {
                    cost: entry.amount,
                    balance: entry.balance_after,
                    service: service.clone(),
                    transaction: entry.clone(),
                    released: *released,
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
        let hold = self.store.hold(user_id, hold_id).await?.ok_or(AllyError::NotFound("hold"))?;
        let hash = request_hash("void_hold", &hold_id);
        Ok(self.release(user_id, &hold, HoldStatus::Voided, key, hash).await?.response)
    }

    /// Releases every active hold past its `expires_at`, each exactly once (also when two
    /// sweepers run at once, or a capture races it): what the sweeper runs. Returns how many
    /// this run released.
    #[instrument(skip(self))]
    pub async fn expire_holds(&self) -> Result<usize, AllyError> {
        let mut released = 0;
        let mut failed = None;
        for hold in self.store.expired_holds(Utc::now()).await? {
            let key = IdempotencyKey::hold_expiry(&hold.id);
            let hash = request_hash("expire_hold", &hold.id);
            match self.release(&hold.owner_id, &hold, HoldStatus::Expired, &key, hash).await {
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
        let now = Utc::now();
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

    /// Closes an open `hold` as `status` (voided or expired), releasing what it reserved.
    async fn release(
        &self,
        user_id: &UserId,
        hold: &Hold,
        status: HoldStatus,
        key: &IdempotencyKey,
        hash: String,
    ) -> Result<Committed<VoidReceipt>, AllyError> {
        self.reserve(
            user_id,
            key,
            hash,
            |r, now| {
                // The sweeper releases what has expired; an owner only what is still open.
                let open =
                    if status == HoldStatus::Expired { hold.status == HoldStatus::Active } else { hold.is_open(now) };
                if !open {
                    return Err(AllyError::HoldClosed);
                }
                let closed = Hold { status, closed_at: Some(now), ..hold.clone() };
                let mut lots = r.lots.clone();
                lots.release(&hold.reserved());
                Ok(Reservation {
                    guard: Guard::Release { version: r.version },
                    lots,
                    held_delta: -hold.amount,
                    hold: HoldWrite { hold: closed, placed: false },
                    detail: hold.amount,
                })
            },
            |r, held, released| VoidReceipt { released: *released, available: r.balance - held },
        )
        .await
    }
}

impl<S: Store> Ally<S> {
    /// A change of the reserve alone (a hold placed, voided or expired: the
    /// balance does not move, no ledger entry), written by [`Self::write_wallet`].
    #[instrument(skip_all, fields(refid = tracing::field::Empty))]
    pub(super) async fn reserve<D, R: Serialize + DeserializeOwned>(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        hash: String,
        decide: impl Fn(&Reseller, DateTime<Utc>) -> Result<Reservation<D>, AllyError>,
        respond: impl Fn(&Reseller, i64, &D) -> R,
    ) -> Result<Committed<R>, AllyError> {
        self.write_wallet(user_id, key, &hash, |reseller, now| {
            let reservation = decide(reseller, now).inspect_err(|e| tracing::info!(refusal = %e, "refused"))?;
            let new_held = reseller.held + reservation.held_delta;
            if reservation.lots.total() != reseller.balance || reservation.lots.reserved() != new_held {
                return Err(drift("the lots would no longer sum to the balance and the reserve"));
            }
            let response = respond(reseller, new_held, &reservation.detail);
            let change = WalletChange {
                user_id: user_id.clone(),
                guard: reservation.guard,
                new_balance: reseller.balance,
                new_held,
                new_debt: reseller.debt,
                new_lots: reservation.lots,
                lot_writes: Vec::new(),
                activity: Activity::default(),
                entries: Vec::new(),
                hold: Some(reservation.hold),
                reversal: None,
                clients: Vec::new(),
                services: Vec::new(),
                idempotency: self.record(key, &hash, IdempotencyState::Done, &response, now, None)?,
                // A hold released can bring what is available back to the threshold, as a
                // credit can: the low-credit rule's hold on provisioning ends with it.
                lift_hold: reseller.hold_provisioning
                    && reseller.hold_reason == Some(HoldReason::LowCredit)
                    && reseller.balance - new_held >= self.config.low_credit_threshold,
                top_up: top_up_step(reseller, reseller.balance - new_held, None, now),
                at: now,
            };
            Ok(Attempt { change, response, state: IdempotencyState::Done, counted: Vec::new() })
        })
        .await
    }
}

/// A change of the reserve alone, decided from the wallet read.
pub(super) struct Reservation<D> {
    pub guard: Guard,
    pub held_delta: i64,
    /// The lots after it: what each reserves.
    pub lots: Lots,
    pub hold: HoldWrite,
    pub detail: D,
}
