//! The memory store's wallets: each change judged by the wallet rule and applied under the
//! lock, as DynamoDB applies one transaction, and its changes emitted in order.

use chrono::{DateTime, Utc};

use super::{MemoryStore, Tables};
use crate::domain::{HoldStatus, IdempotencyKey, Lot, Refusal, Reseller, UserId};
use crate::store::{
    IdempotencyRecord, IdempotencyState, LotWrite, PaymentReceipt, ReceiptWrite, StoreError, StoreResult, Stored,
    WalletChange, Wallets,
};

impl MemoryStore {
    /// Whether `change` may be applied to `t`, as DynamoDB judges its transaction.
    fn check(t: &Tables, change: &WalletChange) -> StoreResult<()> {
        let owner = change.user_id.to_string();
        if t.idempotency.get(&owner).is_some_and(|m| m.contains_key(change.idempotency.key.as_str())) {
            return Err(StoreError::Refused(Refusal::Duplicate));
        }
        change.guard.check(t.resellers.get(&owner)).map_err(StoreError::Refused)?;
        if let Some(reversal) = &change.reversal {
            let reversed = t.ledger.get(&owner).and_then(|l| l.get(&reversal.entry_id)).map(|e| e.reversed);
            if reversed.is_none_or(|before| before > reversal.limit) {
                return Err(StoreError::Refused(Refusal::ReversalExceedsOriginal));
            }
        }
        if let Some(write) = &change.hold {
            let stored = t.holds.get(&owner).and_then(|h| h.get(&write.hold.id));
            let allowed = match stored {
                None => write.placed,
                Some(h) => !write.placed && h.status == HoldStatus::Active,
            };
            if !allowed {
                return Err(StoreError::Refused(Refusal::HoldClosed));
            }
        }
        if let Some(step) = &change.top_up {
            Self::check_top_up(t, &step.request)?;
        }
        match &change.payment {
            Some(ReceiptWrite::Take(p)) if t.payment_receipts.contains_key(p.key.as_str()) => {
                return Err(StoreError::Refused(Refusal::PaidElsewhere));
            }
            Some(ReceiptWrite::Move { key, moves, .. })
                if t.payment_receipts.get(key.as_str()).is_none_or(|r| r.moves != *moves) =>
            {
                return Err(StoreError::Refused(Refusal::ReceiptMoved));
            }
            _ => {}
        }
        for write in &change.lot_writes {
            if let LotWrite::Expired { lot, .. } = write
                && !t.expiring_lots.get(&owner).is_some_and(|ids| ids.contains(lot))
            {
                return Err(StoreError::Refused(Refusal::VersionChanged));
            }
        }
        Ok(())
    }

    /// Applies a checked `change` to `t` and emits its changes in order.
    fn apply(&self, t: &mut Tables, change: &WalletChange) {
        let owner = change.user_id.to_string();
        for write in &change.lot_writes {
            match write {
                LotWrite::Put(lot) => {
                    t.lots.entry(owner.clone()).or_default().insert(lot.id.clone(), lot.clone());
                    // As DynamoDB's put: in the expiring lots exactly while it has an expiry.
                    let expiring = t.expiring_lots.entry(owner.clone()).or_default();
                    if lot.expires_at.is_some() {
                        expiring.insert(lot.id.clone());
                    } else {
                        expiring.remove(&lot.id);
                    }
                }
                LotWrite::Expired { lot, amount } => {
                    t.expiring_lots.entry(owner.clone()).or_default().remove(lot);
                    if let Some(stored) = t.lots.get_mut(&owner).and_then(|l| l.get_mut(lot)) {
                        stored.expired = *amount;
                    }
                }
            }
        }
        // The check found it.
        let Some(r) = t.resellers.get_mut(&owner) else { return };
        let before = r.clone();
        r.balance = change.new_balance;
        r.held = change.new_held;
        r.debt = change.new_debt;
        r.lots = change.new_lots.clone();
        r.version += 1;
        r.wallet_open = true;
        r.credits_added += change.activity.credits_added;
        r.credits_spent += change.activity.credits_spent;
        r.provisions += change.activity.provisions;
        r.clients += change.activity.acquisitions;
        r.updated_at = change.at;
        if change.lift_hold {
            r.hold_provisioning = false;
            r.hold_reason = None;
        }
        if let Some(step) = &change.top_up {
            r.auto_top_up = Some(step.state.clone());
        }
        t.counters.count(&change.user_id, change.at, change.activity, change.accrual.as_ref());
        let ledger = t.ledger.entry(owner.clone()).or_default();
        for entry in &change.entries {
            ledger.insert(entry.id.clone(), entry.clone());
        }
        let reversed = change.reversal.as_ref().and_then(|reversal| {
            let original = ledger.get_mut(&reversal.entry_id)?;
            let before = original.clone();
            original.reversed += reversal.amount;
            Some((before, original.clone()))
        });
        let hold = change.hold.as_ref().map(|write| {
            let old = t.holds.entry(owner.clone()).or_default().insert(write.hold.id.clone(), write.hold.clone());
            (old.map(Stored::Hold), Stored::Hold(write.hold.clone()))
        });
        let mut bought = Vec::new();
        for client in &change.clients {
            let old = t.clients.entry(owner.clone()).or_default().insert(client.id.to_string(), client.clone());
            bought.push((old.map(Stored::Client), Stored::Client(client.clone())));
        }
        for service in &change.services {
            let old = t.services.entry(owner.clone()).or_default().insert(service.id.clone(), service.clone());
            bought.push((old.map(Stored::Service), Stored::Service(service.clone())));
        }
        match &change.payment {
            Some(ReceiptWrite::Take(receipt)) => {
                t.payment_receipts.insert(receipt.key.to_string(), receipt.clone());
            }
            Some(ReceiptWrite::Move { key, taken_back, .. }) => {
                if let Some(receipt) = t.payment_receipts.get_mut(key.as_str()) {
                    receipt.taken_back = *taken_back;
                    receipt.moves += 1;
                }
            }
            None => {}
        }
        t.idempotency
            .entry(owner.clone())
            .or_default()
            .insert(change.idempotency.key.to_string(), change.idempotency.clone());
        self.changed();
        let after = t.resellers.get(&owner).cloned().map(|r| Stored::Reseller(Box::new(r)));
        self.emit(t, Some(Stored::Reseller(Box::new(before))), after);
        for entry in &change.entries {
            self.emit(t, None, Some(Stored::Entry { owner_id: change.user_id.clone(), entry: entry.clone() }));
        }
        if let Some((before, after)) = reversed {
            let owner_id = change.user_id.clone();
            let before = Stored::Entry { owner_id: owner_id.clone(), entry: before };
            self.emit(t, Some(before), Some(Stored::Entry { owner_id, entry: after }));
        }
        if let Some((old, new)) = hold {
            self.emit(t, old, Some(new));
        }
        for (old, new) in bought {
            self.emit(t, old, Some(new));
        }
        if let Some(step) = &change.top_up {
            self.put_top_up(t, &step.request);
        }
    }
}

impl Wallets for MemoryStore {
    async fn wallet(
        &self,
        user_id: &UserId,
        key: &IdempotencyKey,
    ) -> StoreResult<(Option<Reseller>, Option<IdempotencyRecord>)> {
        self.enter("wallet").await?;
        let t = self.lock();
        let record = t.idempotency.get(user_id.as_str()).and_then(|m| m.get(key.as_str())).cloned();
        Ok((t.resellers.get(user_id.as_str()).cloned(), record))
    }

    async fn payment_receipt(&self, key: &IdempotencyKey) -> StoreResult<Option<PaymentReceipt>> {
        self.enter("payment_receipt").await?;
        Ok(self.lock().payment_receipts.get(key.as_str()).cloned())
    }

    async fn lot(&self, owner_id: &UserId, id: &str) -> StoreResult<Option<Lot>> {
        self.enter("lot").await?;
        Ok(self.lock().lots.get(owner_id.as_str()).and_then(|l| l.get(id)).cloned())
    }

    async fn commit_wallet_change(&self, change: &WalletChange) -> StoreResult<()> {
        let fault = self.enter("commit_wallet_change").await?;
        let mut t = self.lock();
        Self::check(&t, change)?;
        self.apply(&mut t, change);
        Self::answer(fault, Ok(()))
    }

    async fn commit_transfer(&self, from: &WalletChange, to: &WalletChange) -> StoreResult<()> {
        let fault = self.enter("commit_transfer").await?;
        let mut t = self.lock();
        Self::check(&t, from)?;
        Self::check(&t, to)?;
        self.apply(&mut t, from);
        self.apply(&mut t, to);
        Self::answer(fault, Ok(()))
    }

    async fn finish_idempotency(&self, user_id: &UserId, key: &IdempotencyKey, response: &str) -> StoreResult<()> {
        self.enter("finish_idempotency").await?;
        let mut t = self.lock();
        let record = t
            .idempotency
            .get_mut(user_id.as_str())
            .and_then(|m| m.get_mut(key.as_str()))
            .ok_or(StoreError::Refused(Refusal::Missing))?;
        record.state = IdempotencyState::Done;
        record.response = response.to_string();
        record.pending_fill = None;
        self.changed();
        Ok(())
    }

    async fn pending_fills(&self, before: DateTime<Utc>) -> StoreResult<Vec<(UserId, IdempotencyRecord)>> {
        self.enter("pending_fills").await?;
        let t = self.lock();
        let mut pending = Vec::new();
        for (owner, records) in &t.idempotency {
            for record in records.values() {
                if record.state == IdempotencyState::Pending
                    && record.pending_fill.is_some()
                    && record.created_at < before
                {
                    pending.push((UserId::parse(owner.as_str()).map_err(StoreError::backend)?, record.clone()));
                }
            }
        }
        Ok(pending)
    }
}
