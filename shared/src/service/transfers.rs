//! Transfers down the tree (Vonage's subaccount transfers): one atomic write debits the
//! giver and credits the receiver, each under its own wallet rule, each with an entry that
//! names the other. The credit keeps what it was: the receiver gets one lot per kind and
//! expiry drawn, so a transfer neither turns promotional credit into paid nor stretches an
//! expiry (a distributor cannot launder a grant by passing it down). Debt the receiver owes
//! is repaid out of it first, as out of any credit.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::lots::drift;
use super::top_ups::top_up_step;
use super::wallet_write::{request_hash, retry_or_fail};
use super::{AdminTransferRequest, Ally, MAX_ATTEMPTS, TransferReceipt, TransferRequest, TransferSide};
use crate::domain::{
    Activity, AllyError, Counterpart, Credits, Draw, EntryKind, Guard, HoldReason, IdempotencyKey, LedgerEntry, Lot,
    LotKind, Note, RefId, Reseller, UserId, checked_balance, new_id,
};
use crate::store::{IdempotencyState, LotWrite, Store, WalletChange};

/// The most kinds and expiries of credit one transfer carries (each a lot item it writes).
const MAX_TRANSFER_CLASSES: usize = 20;

/// A transfer as asked: from whom, to whom, how much, why, and whether the receiver must
/// be the giver's direct child.
struct Transfer<'a> {
    from: &'a UserId,
    to: &'a RefId,
    amount: Credits,
    note: Option<&'a Note>,
    actor: &'a str,
    child_only: bool,
}

impl<S: Store> Ally<S> {
    /// Passes credits from the caller to one of its direct sub-resellers (404 for anyone
    /// else), once per key.
    #[instrument(skip(self, request))]
    pub async fn transfer_to_child(
        &self,
        from: &UserId,
        request: TransferRequest,
        key: &IdempotencyKey,
    ) -> Result<TransferReceipt, AllyError> {
        let amount = Credits::new(request.amount, self.config.max_credit_amount)?;
        let hash = request_hash("transfer", &request);
        let transfer = Transfer {
            from,
            to: &request.to_refid,
            amount,
            note: request.note.as_ref(),
            actor: from.as_str(),
            child_only: true,
        };
        self.transfer(transfer, key, hash).await
    }

    /// Moves credits between any two resellers (admin), once per key.
    #[instrument(skip(self, request))]
    pub async fn transfer_between(
        &self,
        request: AdminTransferRequest,
        actor: &str,
        key: &IdempotencyKey,
    ) -> Result<TransferReceipt, AllyError> {
        let amount = Credits::new(request.amount, self.config.max_credit_amount)?;
        let from = self.user_by_refid(&request.from_refid).await?;
        let hash = request_hash("transfer_between", &request);
        let transfer = Transfer {
            from: &from,
            to: &request.to_refid,
            amount,
            note: request.note.as_ref(),
            actor,
            child_only: false,
        };
        self.transfer(transfer, key, hash).await
    }

    async fn transfer(
        &self,
        t: Transfer<'_>,
        key: &IdempotencyKey,
        hash: String,
    ) -> Result<TransferReceipt, AllyError> {
        let to_user = self.user_by_refid(t.to).await?;
        if &to_user == t.from {
            return Err(AllyError::validation("a transfer needs two different resellers"));
        }
        let receiver_key = IdempotencyKey::transfer_in(t.from, key);
        for attempt in 0..MAX_ATTEMPTS {
            let giver = match self.snapshot::<TransferReceipt>(t.from, key, &hash).await? {
                Ok(giver) => giver,
                Err(replayed) => return Ok(replayed.response),
            };
            let mut taker =
                self.store.wallet(&to_user, &receiver_key).await?.0.ok_or(AllyError::NotFound("reseller"))?;
            if t.child_only && taker.parent.as_ref().map(|p| &p.refid) != Some(&giver.refid) {
                return Err(AllyError::NotFound("reseller"));
            }
            taker.lots.adopt(taker.balance, taker.held, taker.created_at);
            let (receipt, from, to) = self.sides(&t, &giver, &taker, key, &receiver_key, &hash)?;
            match self.store.commit_transfer(&from, &to).await {
                Ok(()) => return Ok(receipt),
                Err(e) => retry_or_fail(e, attempt).await?,
            }
        }
        Err(AllyError::Contention)
    }

    /// The two wallet changes of a transfer decided from `giver` and `taker` as read, and
    /// the answer they record.
    fn sides(
        &self,
        t: &Transfer<'_>,
        giver: &Reseller,
        taker: &Reseller,
        key: &IdempotencyKey,
        receiver_key: &IdempotencyKey,
        hash: &str,
    ) -> Result<(TransferReceipt, WalletChange, WalletChange), AllyError> {
        let now = Utc::now();
        let amount = t.amount.get();
        let guard = Guard::Spend {
            version: giver.version,
            tier: giver.tier,
            cost: amount,
            held: giver.held,
            product: None,
            at: now,
        };
        guard.check(Some(giver))?;
        let mut giver_lots = giver.lots.clone();
        let drawn = giver_lots
            .draw(amount, now)
            .ok_or(AllyError::InsufficientCredits { needed: amount, balance: giver.spendable(now) })?;
        let (out_id, in_id) = (new_id(), new_id());
        // One lot per kind and expiry drawn: the credit stays what it was.
        let mut classes: Vec<(LotKind, Option<DateTime<Utc>>, i64)> = Vec::new();
        for draw in &drawn {
            let expires_at = giver.lots.get(&draw.lot).and_then(|l| l.expires_at);
            match classes.iter_mut().find(|c| c.0 == draw.kind && c.1 == expires_at) {
                Some(class) => class.2 += draw.amount,
                None => classes.push((draw.kind, expires_at, draw.amount)),
            }
        }
        // Each class is a lot the giver draws (perhaps an item beside its wallet) and one the
        // taker opens (its lot item, perhaps one beside its wallet): bounded, so a transfer
        // stays inside DynamoDB's 100 items (3 x 20, 2 more a side moved onto the wallets,
        // and the wallets, entries, keys and counters).
        if classes.len() > MAX_TRANSFER_CLASSES {
            return Err(AllyError::validation(format!(
                "this transfer would draw credit of {} kinds and expiries (at most {MAX_TRANSFER_CLASSES}): send less at once",
                classes.len()
            )));
        }
        let mut taker_lots = taker.lots.clone();
        let mut fed = Vec::new();
        let mut lot_writes: Vec<LotWrite> = Vec::new();
        for (i, (kind, expires_at, sum)) in classes.into_iter().enumerate() {
            let id = if i == 0 { in_id.clone() } else { new_id() };
            let stands = taker_lots.open(Lot::new(&id, kind, sum, expires_at, now), now);
            fed.push(Draw { lot: stands.id.clone(), kind, amount: sum });
            // Two classes that joined one lot (past the bound) write it once, as it ends.
            lot_writes.retain(|w| !matches!(w, LotWrite::Put(l) if l.id == stands.id));
            lot_writes.push(LotWrite::Put(stands));
        }
        // Debt the receiver owes is repaid out of the transfer first.
        let repay = amount.min(taker.debt);
        let mut repaid = Vec::new();
        let mut left = repay;
        for f in &fed {
            let take = left.min(f.amount);
            repaid.extend(taker_lots.take_from(&f.lot, take));
            left -= take;
        }
        let reason = |text: String| t.note.map_or(text, ToString::to_string);
        // Each side's entry in its own terms: the receiver never sees the giver's key or user.
        let entry = |id: &str,
                     kind,
                     balance_after,
                     lots,
                     other: Counterpart,
                     why: String,
                     key: &IdempotencyKey,
                     actor: &str| LedgerEntry {
            id: id.to_string(),
            kind,
            amount,
            balance_after,
            reason: Some(why),
            actor: actor.to_string(),
            idempotency_key: key.to_string(),
            created_at: now,
            reversed: 0,
            lots,
            counterpart: Some(other),
            commission_to: None,
        };
        let out = entry(
            &out_id,
            EntryKind::TransferOut,
            checked_balance(giver.balance, -amount)?,
            drawn,
            Counterpart { refid: taker.refid.clone(), entry_id: in_id.clone() },
            reason(format!("transfer to {}", taker.refid)),
            key,
            t.actor,
        );
        let from_giver = format!("transfer:{}", giver.refid);
        let into = entry(
            &in_id,
            EntryKind::TransferIn,
            checked_balance(taker.balance, amount)?,
            fed,
            Counterpart { refid: giver.refid.clone(), entry_id: out_id.clone() },
            reason(format!("transfer from {}", giver.refid)),
            receiver_key,
            &from_giver,
        );
        let repayment = (repay > 0).then(|| LedgerEntry {
            id: new_id(),
            kind: EntryKind::DebtRepayment,
            amount: repay,
            balance_after: into.balance_after - repay,
            reason: Some(format!("debt repaid out of {}", into.id)),
            actor: from_giver.clone(),
            idempotency_key: receiver_key.to_string(),
            created_at: now,
            reversed: 0,
            lots: repaid,
            counterpart: None,
            commission_to: None,
        });
        let receipt = TransferReceipt {
            balance: out.balance_after,
            transaction: out.clone(),
            to: TransferSide { refid: taker.refid.clone(), transaction: into.clone() },
        };
        let taker_balance = into.balance_after - repay;
        if giver_lots.total() != out.balance_after || taker_lots.total() != taker_balance {
            return Err(drift("the lots would no longer sum to the balance"));
        }
        let giver_top_up = top_up_step(giver, out.balance_after - giver.held, None, now);
        let from = WalletChange {
            user_id: giver.user_id.clone(),
            guard,
            new_balance: out.balance_after,
            new_held: giver.held,
            new_debt: giver.debt,
            new_lots: giver_lots,
            lot_writes: Vec::new(),
            activity: Activity { credits_added: -amount, ..Activity::default() },
            entries: vec![out],
            hold: None,
            reversal: None,
            clients: Vec::new(),
            services: Vec::new(),
            idempotency: self.record(key, hash, IdempotencyState::Done, &receipt, now, None)?,
            lift_hold: false,
            top_up: giver_top_up,
            at: now,
        };
        let to = WalletChange {
            user_id: taker.user_id.clone(),
            guard: Guard::Credit { version: taker.version },
            new_balance: taker_balance,
            new_held: taker.held,
            new_debt: taker.debt - repay,
            new_lots: taker_lots,
            lot_writes,
            activity: Activity { credits_added: amount - repay, ..Activity::default() },
            entries: std::iter::once(into).chain(repayment).collect(),
            hold: None,
            reversal: None,
            clients: Vec::new(),
            services: Vec::new(),
            idempotency: self.record(receiver_key, hash, IdempotencyState::Done, &receipt, now, None)?,
            // As a credit, it ends the low-credit rule's hold once what is available is back.
            lift_hold: taker.hold_provisioning
                && taker.hold_reason == Some(HoldReason::LowCredit)
                && taker_balance - taker.held >= self.config.low_credit_threshold,
            top_up: top_up_step(taker, taker_balance - taker.held, None, now),
            at: now,
        };
        Ok((receipt, from, to))
    }
}
