//! The money pipeline. Every operation that moves credit states what it moves as a
//! [`Movement`] decided from the wallet read; [`Ally::draft`] is the one function that turns
//! it (through the domain's [`settle`]) into the ledger entries, the lots, the debt repaid
//! and the conditions of one wallet change; the loop of `wallet_write` writes it once per
//! idempotency key under the wallet's version, over one wallet or the two of a transfer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;

use super::top_ups::top_up_step;
use super::wallet_write::{Also, Attempt, Committed, Read, drift, request_hash};
use super::{Ally, CreditReceipt, ProvisionReceipt, ProvisionRequest};
use crate::domain::{
    Activity, AllyError, Client, Counterpart, Credits, EntryKind, Grant, Guard, HoldReason, IdempotencyKey,
    LedgerEntry, LotKind, LotMove, Motion, Product, ProvisionedService, RefId, Reseller, Unsettled, UserId,
    license_key, new_id, settle,
};
use crate::metrics::Metric;
use crate::service::CreditRequest;
use crate::store::{
    HoldWrite, IdempotencyState, LotWrite, PaymentReceipt, ReceiptWrite, ReversalOf, Store, WalletChange,
};

/// What an operation decided from the wallet it read; `detail` is what its answer needs
/// besides the wallet after it.
pub(super) struct Movement<D> {
    pub guard: Guard,
    /// The money: its entry's kind and amount, what it does to the lots, the debt it adds.
    pub motion: Motion,
    pub reason: Option<String>,
    /// Who caused it, as the wallet's owner may read it: never another person's user id.
    pub actor: String,
    pub activity: Activity,
    /// What was bought, written in the same transaction.
    pub clients: Vec<Client>,
    pub services: Vec<ProvisionedService>,
    pub state: IdempotencyState,
    /// A bulk's request, kept with its pending record until the fill is done.
    pub pending_fill: Option<String>,
    /// The hold it places or closes.
    pub hold: Option<HoldWrite>,
    /// The entry a reversal counts against.
    pub reversal: Option<ReversalOf>,
    /// The auto top-up request a payment credit answers.
    pub pays_top_up: Option<String>,
    /// The other side of a transfer.
    pub counterpart: Option<Counterpart>,
    /// What it does to an external payment's receipt besides taking it (a credit under a
    /// payment's key takes it): the payment's money back moved.
    pub receipt: Option<ReceiptWrite>,
    pub detail: D,
}

impl<D> Movement<D> {
    /// A movement of `amount` of `kind` by `actor` under `guard`, moving `lots`, and
    /// nothing else: no purchase, no hold, no debt, done at once.
    pub fn new(guard: Guard, kind: EntryKind, amount: i64, actor: &str, lots: LotMove, detail: D) -> Self {
        Self::of(guard, Motion { kind: Some(kind), amount, lots, debt_added: 0 }, actor, detail)
    }

    /// A movement of `motion` by `actor` under `guard`, and nothing else.
    pub fn of(guard: Guard, motion: Motion, actor: &str, detail: D) -> Self {
        Self {
            guard,
            motion,
            reason: None,
            actor: actor.to_string(),
            activity: Activity::default(),
            clients: Vec::new(),
            services: Vec::new(),
            state: IdempotencyState::Done,
            pending_fill: None,
            hold: None,
            reversal: None,
            pays_top_up: None,
            counterpart: None,
            receipt: None,
            detail,
        }
    }
}

/// The wallet after a movement, as its answer reports it.
pub(super) struct Outcome {
    /// The movement's own entry (none for a hold placed or released).
    pub entry: Option<LedgerEntry>,
    /// The balance after it (and after the debt it repaid).
    pub balance: i64,
    pub held: i64,
    /// What may be spent after it.
    pub available: i64,
    pub debt: i64,
}

impl Outcome {
    /// The movement's own entry.
    pub fn entry(&self) -> Result<&LedgerEntry, AllyError> {
        self.entry.as_ref().ok_or_else(|| AllyError::internal(std::io::Error::other("a movement without its entry")))
    }
}

/// A movement drafted against the wallet read: the change to write (its idempotency record
/// still to be given its answer), the wallet after it, and the metrics it adds once written.
pub(super) struct Draft {
    pub change: WalletChange,
    pub outcome: Outcome,
    pub counted: Vec<Metric>,
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
    /// Adds credits to the wallet of `user_id` (admin top-up, payment, reward, commission).
    /// Allowed on a suspended reseller. The same key with the same input credits once; a
    /// payment's key credits once in the whole network.
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
                Also::Nothing,
                |r, _, now| {
                    // Judged after a replay: a retried grant answers what it did, even once
                    // its lot has expired.
                    if request.expires_at.is_some_and(|at| at <= now) {
                        return Err(AllyError::validation("expires_at must be in the future"));
                    }
                    let expires_at = request.expires_at.or(expires_in.and_then(|days| now.checked_add_signed(days)));
                    let grant = Grant { kind: lot_kind, expires_at, amount: amount.get() };
                    Ok(Movement {
                        reason: request.reason.as_ref().map(ToString::to_string),
                        activity: Activity { credits_added: amount.get(), ..Activity::default() },
                        pays_top_up: request.top_up_request.clone(),
                        ..Movement::new(
                            Guard::Credit { version: r.version },
                            kind,
                            amount.get(),
                            actor,
                            LotMove::Open(vec![grant]),
                            (),
                        )
                    })
                },
                |o, ()| Ok(CreditReceipt { balance: o.balance, transaction: o.entry()?.clone() }),
            )
            .await?;
        Ok(committed.response)
    }

    /// Credits back `amount` of credit `entry_id`, which was reversed for an external
    /// payment's money back now given back: paid credit (repaying debt first) that lowers
    /// what was reversed of the credit, and moves the payment's receipt, in one write.
    pub(super) async fn credit_back(
        &self,
        user_id: &UserId,
        entry_id: &str,
        amount: i64,
        key: &IdempotencyKey,
        receipt: ReceiptWrite,
    ) -> Result<(), AllyError> {
        let hash = request_hash("credit_back", &(entry_id, amount));
        let grant = Grant { kind: LotKind::Paid, expires_at: None, amount };
        self.commit(
            user_id,
            key,
            hash,
            Also::Nothing,
            |r, _, _| {
                Ok(Movement {
                    reason: Some(format!("money back given back for {entry_id}")),
                    activity: Activity { credits_added: amount, ..Activity::default() },
                    reversal: Some(ReversalOf { entry_id: entry_id.to_string(), amount: -amount, limit: i64::MAX }),
                    receipt: Some(receipt.clone()),
                    ..Movement::new(
                        Guard::Credit { version: r.version },
                        EntryKind::Credit,
                        amount,
                        "webhook:stripe",
                        LotMove::Open(vec![grant.clone()]),
                        (),
                    )
                })
            },
            |o, ()| Ok(o.balance),
        )
        .await
        .map(drop)
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
                Also::Nothing,
                |r, _, now| {
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
                |o, service| {
                    let entry = o.entry()?;
                    Ok(ProvisionReceipt {
                        cost: entry.amount,
                        balance: o.balance,
                        service: service.clone(),
                        transaction: entry.clone(),
                    })
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

    /// A movement of one wallet, decided from the wallet read (and what `also` names, read
    /// after it), answered by `respond`, written by [`Self::write_wallet`].
    #[instrument(skip_all, fields(refid = tracing::field::Empty))]
    pub(super) async fn commit<D, R: Serialize + DeserializeOwned>(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
        hash: String,
        also: Also<'_>,
        decide: impl Fn(&Reseller, &Read, DateTime<Utc>) -> Result<Movement<D>, AllyError>,
        respond: impl Fn(&Outcome, &D) -> Result<R, AllyError>,
    ) -> Result<Committed<R>, AllyError> {
        self.write_wallet(user_id, key, &hash, also, |reseller, read, now| {
            let movement = decide(reseller, read, now).inspect_err(|e| tracing::info!(refusal = %e, "refused"))?;
            let mut draft = self.draft(reseller, key, &movement, now)?;
            // The answer is built before the write because it is written with it: the
            // idempotency record replays exactly what this first call returns.
            let response = respond(&draft.outcome, &movement.detail)?;
            draft.change.idempotency =
                self.record(key, &hash, movement.state, &response, now, movement.pending_fill.clone())?;
            Ok(Attempt { changes: vec![draft.change], response, state: movement.state, counted: draft.counted })
        })
        .await
    }

    /// The one place a movement becomes a wallet change: its entry (and the repayment of
    /// debt out of what it freed, an entry of its own), its lots, the hold lifted and the
    /// auto top-up step it makes, under its guard.
    pub(super) fn draft<D>(
        &self,
        r: &Reseller,
        key: &IdempotencyKey,
        m: &Movement<D>,
        now: DateTime<Utc>,
    ) -> Result<Draft, AllyError> {
        let entry_id = new_id();
        let settled = settle(r, &m.motion, &entry_id, now).map_err(|e| unsettled(r, e))?;
        let entry =
            |id: String, kind: EntryKind, amount: i64, balance_after: i64, reason: Option<String>, lots| LedgerEntry {
                id,
                kind,
                amount,
                balance_after,
                reason,
                actor: m.actor.clone(),
                idempotency_key: key.to_string(),
                created_at: now,
                reversed: 0,
                lots,
                counterpart: None,
                commission_to: None,
            };
        let own = m.motion.kind.map(|kind| LedgerEntry {
            counterpart: m.counterpart.clone(),
            // A spend earns its parent a commission, as the tree stands at the spend.
            commission_to: (kind == EntryKind::Debit).then(|| r.parent.as_ref().map(|p| p.refid.clone())).flatten(),
            ..entry(
                entry_id.clone(),
                kind,
                m.motion.amount,
                settled.balance_after_entry,
                m.reason.clone(),
                settled.moved.clone(),
            )
        });
        // Debt is repaid out of what the movement freed first, exactly once: an entry of its
        // own in the same write.
        let repayment = (settled.repaid > 0).then(|| {
            let why = match &own {
                Some(e) => format!("debt repaid out of {}", e.id),
                None => "debt repaid out of released credit".to_string(),
            };
            entry(
                new_id(),
                EntryKind::DebtRepayment,
                settled.repaid,
                settled.balance,
                Some(why),
                settled.repaid_from.clone(),
            )
        });
        let available = settled.spendable(now);
        let mut activity = m.activity;
        // Credits distributed, net: what the repayment took back of them.
        activity.credits_added -= settled.repaid;
        let mut lot_writes: Vec<LotWrite> = settled.opened.iter().cloned().map(LotWrite::Put).collect();
        if let LotMove::Expire(lot) = &m.motion.lots {
            lot_writes.push(LotWrite::Expired { lot: lot.clone(), amount: m.motion.amount });
        }
        let payment = m.receipt.clone().or_else(|| {
            (key.is_payment() && matches!(m.motion.lots, LotMove::Open(_))).then(|| {
                ReceiptWrite::Take(PaymentReceipt {
                    key: key.clone(),
                    user_id: r.user_id.clone(),
                    entry_id: entry_id.clone(),
                    taken_back: 0,
                    moves: 0,
                })
            })
        });
        let counted = counted(&m.motion, &activity);
        let outcome =
            Outcome { entry: own.clone(), balance: settled.balance, held: settled.held, available, debt: settled.debt };
        let change = WalletChange {
            user_id: r.user_id.clone(),
            guard: m.guard.clone(),
            new_balance: settled.balance,
            new_held: settled.held,
            new_debt: settled.debt,
            new_lots: settled.lots,
            lot_writes,
            activity,
            clients: m.clients.clone(),
            services: m.services.clone(),
            idempotency: self.record(key, "", m.state, &(), now, None)?,
            payment,
            // A hold the low-credit rule set ends with the change that brings what is
            // available back to the threshold, in the same write; an admin's hold stays.
            lift_hold: r.hold_provisioning
                && r.hold_reason == Some(HoldReason::LowCredit)
                && available >= self.config.low_credit_threshold,
            entries: own.into_iter().chain(repayment).collect(),
            hold: m.hold.clone(),
            reversal: m.reversal.clone(),
            top_up: top_up_step(r, settled.balance - settled.held, m.pays_top_up.as_deref(), now),
            at: now,
        };
        Ok(Draft { change, outcome, counted })
    }
}

/// The error of a movement that cannot be settled. A drift between the lots and the wallet
/// is logged with both figures and counted: it needs a person, never a silent repair.
fn unsettled(r: &Reseller, e: Unsettled) -> AllyError {
    match e {
        Unsettled::Insufficient { needed, spendable } => AllyError::InsufficientCredits { needed, balance: spendable },
        Unsettled::Overflow => AllyError::validation("the balance would overflow"),
        Unsettled::Drift { balance, lots, held, reserved } => drift(r, balance, lots, held, reserved),
    }
}

/// The refid a tenant reads for `refid`'s side of a movement.
pub(super) fn shown(refid: &RefId) -> String {
    format!("reseller:{refid}")
}

/// What a committed movement adds to the business metrics (a replay adds nothing).
fn counted(motion: &Motion, activity: &Activity) -> Vec<Metric> {
    match motion.kind {
        Some(EntryKind::Debit) => vec![Metric::CreditsSpent(motion.amount), Metric::Provisions(activity.provisions)],
        Some(EntryKind::Reward) => vec![Metric::CreditsAdded(motion.amount), Metric::RewardPaid],
        Some(EntryKind::Credit | EntryKind::Refund | EntryKind::Commission) => {
            vec![Metric::CreditsAdded(motion.amount)]
        }
        _ => Vec::new(),
    }
}

fn service_reason(service: &ProvisionedService) -> String {
    match &service.product {
        Some(product) => format!("provision {product}"),
        None => "provision custom service".to_string(),
    }
}
