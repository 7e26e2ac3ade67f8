//! Operations that move credits: each decides a [`Movement`] from the wallet read, which
//! [`Ally::commit`] turns into a ledger entry and its lots, written once per idempotency key
//! under the wallet's version (plus the business conditions) by the loop of `wallet_write`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;

use super::lots::{LotMove, move_lots};
use super::top_ups::top_up_step;
use super::wallet_write::{Attempt, Committed, request_hash};
use super::{Ally, CreditReceipt, ProvisionReceipt, ProvisionRequest};
use crate::domain::{
    Activity, AllyError, Client, Credits, EntryKind, Guard, HoldReason, IdempotencyKey, LedgerEntry, LotKind, Product,
    ProvisionedService, Reseller, UserId, checked_balance, license_key, new_id,
};
use crate::metrics::Metric;
use crate::service::CreditRequest;
use crate::store::{HoldWrite, IdempotencyState, ReversalOf, Store, WalletChange};

/// What an operation decided from the wallet it read; `detail` is what its answer needs
/// besides the ledger entry.
pub(super) struct Movement<D> {
    pub guard: Guard,
    pub kind: EntryKind,
    /// What the balance moves by, never negative (`kind` gives the direction; zero only for
    /// a reversal that became debt whole).
    pub amount: i64,
    pub reason: Option<String>,
    pub actor: String,
    pub activity: Activity,
    /// What was bought, written in the same transaction.
    pub clients: Vec<Client>,
    pub services: Vec<ProvisionedService>,
    pub state: IdempotencyState,
    /// A bulk's request, kept with its pending record until the fill is done.
    pub pending_fill: Option<String>,
    /// What the movement adds to (or takes from) the reserve of active holds.
    pub held_delta: i64,
    /// The hold it closes (a capture).
    pub hold: Option<HoldWrite>,
    /// Debt it adds (a reversal beyond what was available).
    pub debt_delta: i64,
    /// Debt a credit repays first, as an entry of its own in the same write.
    pub repay: i64,
    /// The entry a reversal counts against.
    pub reversal: Option<ReversalOf>,
    /// What it does to the lots.
    pub lots: LotMove,
    /// The auto top-up request a payment credit answers.
    pub pays_top_up: Option<String>,
    pub detail: D,
}

impl<D> Movement<D> {
    /// A movement of `amount` of `kind` by `actor` under `guard`, moving `lots`, and
    /// nothing else: no purchase, no hold, no debt, done at once.
    pub fn new(guard: Guard, kind: EntryKind, amount: i64, actor: &str, lots: LotMove, detail: D) -> Self {
        Self {
            guard,
            kind,
            amount,
            reason: None,
            actor: actor.to_string(),
            activity: Activity::default(),
            clients: Vec::new(),
            services: Vec::new(),
            state: IdempotencyState::Done,
            pending_fill: None,
            held_delta: 0,
            hold: None,
            debt_delta: 0,
            repay: 0,
            reversal: None,
            lots,
            pays_top_up: None,
            detail,
        }
    }
}

/// What a spend costs at the reseller's tier: the base price and the tier price.
pub(super) struct Price {
    pub base: Credits,
    pub cost: Credits,
    pub product: Option<Product>,
}

impl Price {
    /// The wallet rule of spending `total` at this price (the whole of a bulk) at `now`.
    pub(super) fn guard(&self, r: &Reseller, total: Credits, now: DateTime<Utc>) -> Guard {
        Guard::Spend {
            version: r.version,
            tier: r.tier,
            cost: total.get(),
            held: r.held,
            product: self.product.clone(),
            at: now,
        }
    }
}

impl<S: Store> Ally<S> {
    /// Adds credits to the wallet of `user_id` (admin top-up, payment, reward). Allowed on a
    /// suspended reseller. The same key with the same input credits once.
    #[instrument(skip(self, request), fields(amount = request.amount))]
    pub async fn add_credits(
        &self,
        user_id: &UserId,
        request: CreditRequest,
        kind: EntryKind,
        actor: &str,
        key: &IdempotencyKey,
    ) -> Result<CreditReceipt, AllyError> {
        if !matches!(kind, EntryKind::Credit | EntryKind::Reward | EntryKind::Refund | EntryKind::Commission) {
            return Err(AllyError::validation("adding credits takes a credit, reward, refund or commission"));
        }
        let amount = Credits::new(request.amount, self.config.max_credit_amount)?;
        super::top_ups::check_request_id(request.top_up_request.as_deref())?;
        // A reward is promotional and expires after the configured days unless told.
        let (lot_kind, expires_in) = match kind {
            EntryKind::Reward => (LotKind::Promotional, Some(chrono::Duration::days(self.config.referral_expiry_days))),
            _ if request.promotional => (LotKind::Promotional, None),
            _ => (LotKind::Paid, None),
        };
        let hash = request_hash("add_credits", &(&request, kind));
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                |r, now| {
                    // Judged after a replay: a retried grant answers what it did, even once
                    // its lot has expired.
                    if request.expires_at.is_some_and(|at| at <= now) {
                        return Err(AllyError::validation("expires_at must be in the future"));
                    }
                    Ok(Movement {
                        reason: request.reason.as_ref().map(ToString::to_string),
                        // Net of the debt it repays (an entry of its own): what the balance gained.
                        activity: Activity {
                            credits_added: amount.get() - amount.get().min(r.debt),
                            ..Activity::default()
                        },
                        repay: amount.get().min(r.debt),
                        pays_top_up: request.top_up_request.clone(),
                        ..Movement::new(
                            Guard::Credit { version: r.version },
                            kind,
                            amount.get(),
                            actor,
                            LotMove::Open {
                                kind: lot_kind,
                                expires_at: request.expires_at.or(expires_in.map(|days| now + days)),
                            },
                            amount.get().min(r.debt),
                        )
                    })
                },
                // The balance after the credit and the debt it repaid.
                |entry, repaid| CreditReceipt { balance: entry.balance_after - repaid, transaction: entry.clone() },
            )
            .await?;
        Ok(committed.response)
    }

    /// Provisions one service for the calling reseller at its tier price.
    #[instrument(skip(self, request))]
    pub async fn provision(
        &self,
        user_id: &UserId,
        request: ProvisionRequest,
        key: &IdempotencyKey,
    ) -> Result<ProvisionReceipt, AllyError> {
        let client_id = self.own_client(user_id, request.client_id.as_ref()).await?;
        let hash = request_hash("provision", &request);
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                |r, now| {
                    let price = self.price(r, request.product.as_deref(), request.cost)?;
                    let guard = price.guard(r, price.cost, now);
                    guard.check(Some(r))?;
                    let id = new_id();
                    let service = ProvisionedService {
                        license_key: license_key(user_id, &id),
                        id,
                        owner_id: user_id.clone(),
                        client_id: client_id.clone(),
                        product: price.product.as_ref().map(|p| p.id.clone()),
                        description: request.description.as_ref().map(ToString::to_string),
                        base_cost: price.base.get(),
                        cost: price.cost.get(),
                        tier: r.tier,
                        created_at: now,
                    };
                    Ok(Movement {
                        reason: Some(service_reason(&service)),
                        activity: Activity { credits_spent: price.cost.get(), provisions: 1, ..Activity::default() },
                        services: vec![service.clone()],
                        ..Movement::new(
                            guard,
                            EntryKind::Debit,
                            price.cost.get(),
                            user_id.as_str(),
                            LotMove::Draw,
                            service,
                        )
                    })
                },
                |entry, service| ProvisionReceipt {
                    cost: entry.amount,
                    balance: entry.balance_after,
                    service: service.clone(),
                    transaction: entry.clone(),
                },
            )
            .await?;
        Ok(committed.response)
    }

    /// The base and tier price of a catalog product or a custom base cost. Whether the
    /// reseller may spend it is the wallet rule's to say ([`Price::guard`]).
    pub(super) fn price(&self, r: &Reseller, product: Option<&str>, cost: Option<i64>) -> Result<Price, AllyError> {
        let (base, product) = match (product, cost) {
            (Some(id), None) => {
                let p = self.config.catalog.find(id).ok_or_else(|| {
                    AllyError::validation(format!("unknown product `{}`", id.chars().take(64).collect::<String>()))
                })?;
                (p.base_price, Some(p.clone()))
            }
            (None, Some(cost)) => (Credits::new(cost, self.config.max_credit_amount)?, None),
            _ => return Err(AllyError::validation("give either a product or a cost")),
        };
        Ok(Price { base, cost: self.config.discounts.price(base, r.tier), product })
    }

    /// A movement of the balance, decided from the wallet read: its ledger entry (and the
    /// repayment of debt it makes), its lots and its answer, written by [`Self::write_wallet`].
    #[instrument(skip_all, fields(refid = tracing::field::Empty))]
    pub(super) async fn commit<D, R: Serialize + DeserializeOwned>(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        hash: String,
        decide: impl Fn(&Reseller, DateTime<Utc>) -> Result<Movement<D>, AllyError>,
        respond: impl Fn(&LedgerEntry, &D) -> R,
    ) -> Result<Committed<R>, AllyError> {
        self.write_wallet(user_id, key, &hash, |reseller, now| {
            let movement = decide(reseller, now).inspect_err(|e| tracing::info!(refusal = %e, "refused"))?;
            let amount = movement.amount;
            let mut entry = LedgerEntry {
                id: new_id(),
                kind: movement.kind,
                amount,
                balance_after: checked_balance(reseller.balance, movement.kind.sign() * amount)?,
                reason: movement.reason.clone(),
                actor: movement.actor.clone(),
                idempotency_key: key.to_string(),
                created_at: now,
                reversed: 0,
                lots: Vec::new(),
                counterpart: None,
                commission_to: None,
            };
            if movement.kind == EntryKind::Debit {
                entry.commission_to = reseller.parent.as_ref().map(|p| p.refid.clone());
            }
            let (lots, lot_writes, repaid) = move_lots(reseller, &movement, &mut entry, now)?;
            // Debt is repaid out of the credit first, exactly once: an entry of its own in the
            // credit's write.
            let repayment = (movement.repay > 0)
                .then(|| -> Result<LedgerEntry, AllyError> {
                    Ok(LedgerEntry {
                        id: new_id(),
                        kind: EntryKind::DebtRepayment,
                        amount: movement.repay,
                        balance_after: checked_balance(entry.balance_after, -movement.repay)?,
                        reason: Some(format!("debt repaid out of {}", entry.id)),
                        actor: movement.actor.clone(),
                        idempotency_key: key.to_string(),
                        created_at: now,
                        reversed: 0,
                        lots: repaid.clone(),
                        counterpart: None,
                        commission_to: None,
                    })
                })
                .transpose()?;
            let new_balance = repayment.as_ref().map_or(entry.balance_after, |r| r.balance_after);
            // The answer is built before the write because it is written with it: the
            // idempotency record replays exactly what this first call returns.
            let response = respond(&entry, &movement.detail);
            let change = WalletChange {
                user_id: user_id.clone(),
                new_balance,
                new_held: reseller.held + movement.held_delta,
                new_debt: reseller.debt + movement.debt_delta - movement.repay,
                new_lots: lots,
                lot_writes,
                guard: movement.guard,
                activity: movement.activity,
                clients: movement.clients,
                services: movement.services,
                idempotency: self.record(key, &hash, movement.state, &response, now, movement.pending_fill)?,
                // A hold the low-credit rule set ends with the credit that brings the balance
                // back to the threshold, in the same write; an admin's hold stays.
                lift_hold: reseller.hold_provisioning
                    && reseller.hold_reason == Some(HoldReason::LowCredit)
                    && new_balance - reseller.held - movement.held_delta >= self.config.low_credit_threshold,
                entries: std::iter::once(entry).chain(repayment).collect(),
                hold: movement.hold,
                reversal: movement.reversal,
                top_up: top_up_step(
                    reseller,
                    new_balance - reseller.held - movement.held_delta,
                    movement.pays_top_up.as_deref(),
                    now,
                ),
                at: now,
            };
            let counted = counted(movement.kind, amount, &change.activity);
            Ok(Attempt { change, response, state: movement.state, counted })
        })
        .await
    }
}

/// What a committed movement adds to the business metrics (a replay adds nothing).
fn counted(kind: EntryKind, amount: i64, activity: &Activity) -> Vec<Metric> {
    match kind {
        EntryKind::Debit => vec![Metric::CreditsSpent(amount), Metric::Provisions(activity.provisions)],
        EntryKind::Reward => vec![Metric::CreditsAdded(amount), Metric::RewardPaid],
        EntryKind::Commission => vec![Metric::CreditsAdded(amount)],
        EntryKind::Credit | EntryKind::Refund => vec![Metric::CreditsAdded(amount)],
        EntryKind::Reversal
        | EntryKind::DebtRepayment
        | EntryKind::Expiry
        | EntryKind::TransferOut
        | EntryKind::TransferIn => Vec::new(),
    }
}

fn service_reason(service: &ProvisionedService) -> String {
    match &service.product {
        Some(product) => format!("provision {product}"),
        None => "provision custom service".to_string(),
    }
}
