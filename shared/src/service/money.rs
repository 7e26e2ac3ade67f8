//! The money pipeline. Every operation that moves credit states what it moves as a
//! [`Movement`] decided from the wallet read; [`Ally::draft`] is the one function that turns
//! it (through the domain's [`settle`]) into the ledger entries, the lots, the debt repaid
//! and the conditions of one wallet change; the loop of `wallet_write` writes it once per
//! idempotency key under the wallet's version, over one wallet or the two of a transfer.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;

use super::Ally;
use super::top_ups::top_up_step;
use super::wallet_write::{Also, Attempt, Committed, Read, drift};
use crate::domain::{
    Accrual, Activity, AllyError, Client, Counterpart, EntryKind, Guard, HoldReason, IdempotencyKey, LedgerEntry,
    LotKind, LotMove, Motion, ProvisionedService, RefId, Reseller, Unsettled, UserId, new_id, settle,
};
use crate::metrics::Metric;
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

impl<S: Store> Ally<S> {
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
                idempotency_key: IdempotencyKey::shown(key.as_str()),
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
        // A spend accrues its parent's commission on the spender's own counters; the
        // parent's wallet is credited once the day is over (`settle_commissions`).
        let accrual = match (&own, &r.parent) {
            (Some(e), Some(parent)) if e.kind == EntryKind::Debit && !self.config.commissions.is_off() => {
                Some(Accrual {
                    parent: parent.refid.clone(),
                    spent: e.amount,
                    promotional: e.lots.iter().filter(|d| d.kind == LotKind::Promotional).map(|d| d.amount).sum(),
                    spends: 1,
                })
            }
            _ => None,
        };
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
            accrual,
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
