//! Transfers down the tree (Vonage's subaccount transfers): one atomic write debits the
//! giver and credits the receiver, each under its own wallet rule, each with an entry that
//! names the other. The credit keeps what it was: the receiver gets one lot per kind and
//! expiry drawn, so a transfer neither turns promotional credit into paid nor stretches an
//! expiry (a distributor cannot launder a grant by passing it down). Debt the receiver owes
//! is repaid out of it first, as out of any credit.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::money::{Movement, shown};
use super::wallet_write::{Also, Attempt, request_hash};
use super::{AdminTransferRequest, Ally, TransferReceipt, TransferRequest, TransferSide};
use crate::domain::{
    ADMIN_ACTOR, Activity, AllyError, Counterpart, Credits, EntryKind, Grant, Guard, IdempotencyKey, LotMove, Note,
    RefId, Reseller, UserId,
};
use crate::store::{IdempotencyState, Store};

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
        let committed = self
            .write_wallet(t.from, key, &hash, Also::Wallet(&to_user, &receiver_key), |giver, read, now| {
                let taker = read.other.as_ref().ok_or(AllyError::NotFound("reseller"))?;
                if t.child_only && taker.parent.as_ref().map(|p| &p.refid) != Some(&giver.refid) {
                    return Err(AllyError::NotFound("reseller"));
                }
                let (out, into) = self.sides(&t, giver, taker, now)?;
                let mut from = self.draft(giver, key, &out, now)?;
                let mut to = self.draft(taker, &receiver_key, &into, now)?;
                let (out_entry, in_entry) = (from.outcome.entry()?.clone(), to.outcome.entry()?.clone());
                // Each side's entry names the other's.
                from.change.entries[0].counterpart =
                    Some(Counterpart { refid: taker.refid.clone(), entry_id: in_entry.id.clone() });
                to.change.entries[0].counterpart =
                    Some(Counterpart { refid: giver.refid.clone(), entry_id: out_entry.id.clone() });
                let response = TransferReceipt {
                    balance: from.outcome.balance,
                    transaction: from.change.entries[0].clone(),
                    to: TransferSide { refid: taker.refid.clone(), transaction: to.change.entries[0].clone() },
                };
                from.change.idempotency = self.record(key, &hash, IdempotencyState::Done, &response, now, None)?;
                to.change.idempotency =
                    self.record(&receiver_key, &hash, IdempotencyState::Done, &response, now, None)?;
                Ok(Attempt {
                    changes: vec![from.change, to.change],
                    response,
                    state: IdempotencyState::Done,
                    counted: Vec::new(),
                })
            })
            .await?;
        Ok(committed.response)
    }

    /// The two movements of a transfer decided from `giver` and `taker` as read: the giver's
    /// spend, and the receiver's credit of one lot per kind and expiry drawn.
    fn sides(
        &self,
        t: &Transfer<'_>,
        giver: &Reseller,
        taker: &Reseller,
        now: DateTime<Utc>,
    ) -> Result<(Movement<()>, Movement<()>), AllyError> {
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
        let mut drawn = giver.lots.clone();
        let draws = drawn
            .draw(amount, now)
            .ok_or(AllyError::InsufficientCredits { needed: amount, balance: giver.spendable(now) })?;
        // One lot per kind and expiry drawn: the credit stays what it was.
        let mut grants: Vec<Grant> = Vec::new();
        for draw in &draws {
            let expires_at = giver.lots.get(&draw.lot).and_then(|l| l.expires_at);
            match grants.iter_mut().find(|g| g.kind == draw.kind && g.expires_at == expires_at) {
                Some(grant) => grant.amount += draw.amount,
                None => grants.push(Grant { kind: draw.kind, expires_at, amount: draw.amount }),
            }
        }
        // Each grant is a lot the giver draws (perhaps an item beside its wallet) and one the
        // taker opens (its lot item, perhaps one beside its wallet): bounded, so a transfer
        // stays inside DynamoDB's 100 items (3 x 20, 2 more a side moved onto the wallets,
        // and the wallets, entries, keys and counters).
        if grants.len() > MAX_TRANSFER_CLASSES {
            return Err(AllyError::validation(format!(
                "this transfer would draw credit of {} kinds and expiries (at most {MAX_TRANSFER_CLASSES}): send less at once",
                grants.len()
            )));
        }
        let reason = |text: String| Some(t.note.map_or(text, ToString::to_string));
        let out = Movement {
            reason: reason(format!("transfer to {}", taker.refid)),
            activity: Activity { credits_added: -amount, ..Activity::default() },
            ..Movement::new(guard, EntryKind::TransferOut, amount, t.actor, LotMove::Draw, ())
        };
        // The receiver reads the giver by refid only, never its user id or its key; a move an
        // admin made names the admin as such.
        let by = if t.actor == ADMIN_ACTOR { ADMIN_ACTOR.to_string() } else { shown(&giver.refid) };
        let into = Movement {
            reason: reason(format!("transfer from {}", giver.refid)),
            activity: Activity { credits_added: amount, ..Activity::default() },
            ..Movement::new(
                Guard::Credit { version: taker.version },
                EntryKind::TransferIn,
                amount,
                &by,
                LotMove::Open(grants),
                (),
            )
        };
        Ok((out, into))
    }
}
