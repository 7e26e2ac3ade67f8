//! Reversals: an admin (or a refund or dispute) takes back all or part of a credit, payment
//! or reward. Entries are never edited (TigerBeetle's rule): a reversal is an entry of its
//! own, counted on the original so the reversals of an entry never exceed it in all, even
//! when several run at once. It takes what is left of credit of its class; what was spent
//! of it or is held becomes debt, which the next credits (and releases) repay first.

use tracing::instrument;

use super::money::Movement;
use super::wallet_write::{Also, request_hash};
use super::{Ally, ReversalReceipt, ReversalRequest};
use crate::domain::{Activity, AllyError, EntryKind, Guard, IdempotencyKey, LotMove, Motion, UserId, reversible_left};
use crate::store::{ReceiptWrite, ReversalOf, Store};

/// The longest entry id a reversal may name (a ULID is 26 characters).
const ENTRY_ID_MAX: usize = 64;

impl<S: Store> Ally<S> {
    /// Reverses `request.amount` (all that is left of it by default) of entry
    /// `request.entry_id` of `user_id`'s, once per key. What is left of a credit is its
    /// amount less its earlier reversals and what expiry wrote off of its lot.
    #[instrument(skip(self, request))]
    pub async fn reverse(
        &self,
        user_id: &UserId,
        request: ReversalRequest,
        actor: &str,
        key: &IdempotencyKey,
    ) -> Result<ReversalReceipt, AllyError> {
        self.reverse_with(user_id, request, actor, key, None).await
    }

    /// A reversal that also moves an external payment's receipt (its money back), in the
    /// same write.
    pub(super) async fn reverse_with(
        &self,
        user_id: &UserId,
        request: ReversalRequest,
        actor: &str,
        key: &IdempotencyKey,
        receipt: Option<ReceiptWrite>,
    ) -> Result<ReversalReceipt, AllyError> {
        if request.entry_id.is_empty()
            || request.entry_id.len() > ENTRY_ID_MAX
            || !request.entry_id.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(AllyError::validation(format!("entry_id is 1 to {ENTRY_ID_MAX} letters and digits")));
        }
        if request.amount.is_some_and(|a| a <= 0) {
            return Err(AllyError::validation("amount must be positive"));
        }
        let original = self.store.entry(user_id, &request.entry_id).await?.ok_or(AllyError::NotFound("entry"))?;
        if !matches!(original.kind, EntryKind::Credit | EntryKind::Reward) {
            return Err(AllyError::validation("only a credit, payment or reward can be reversed"));
        }
        let fed = original.lots.first().cloned().ok_or(AllyError::NotFound("entry"))?;
        let hash = request_hash("reverse", &request);
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                Also::Lot(&fed.lot),
                |r, read, _| {
                    // What expiry wrote off of the lot is counted only once the lot left the
                    // wallet: while it is open, its expiry has not been written (its item,
                    // read after the wallet, is at least as new as the wallet read).
                    let written_off = match (r.lots.get(&fed.lot), &read.lot) {
                        (None, Some(item)) => item.expired,
                        _ => 0,
                    };
                    let lot_amount = read.lot.as_ref().map_or(fed.amount, |l| l.amount);
                    // What is left to reverse as read; decided after a replay (a retried
                    // reversal answers what it did), and counted again in the write.
                    let left = reversible_left(original.amount, original.reversed, fed.amount, lot_amount, written_off);
                    let amount = request.amount.unwrap_or(left);
                    if amount == 0 || amount > left {
                        return Err(AllyError::ReversalExceedsOriginal);
                    }
                    // Credit of the class of the lot the entry opened (or joined) gives what it
                    // has left, expired or not; what was spent of it or is held becomes debt.
                    let expires_at = match (r.lots.get(&fed.lot), &read.lot) {
                        (Some(open), _) => open.expires_at,
                        (None, Some(item)) => item.expires_at,
                        (None, None) => None,
                    };
                    let take = amount.min(r.lots.reversible(fed.kind, expires_at).max(0));
                    let motion = Motion {
                        kind: Some(EntryKind::Reversal),
                        amount: take,
                        lots: LotMove::TakeBack { kind: fed.kind, expires_at },
                        debt_added: amount - take,
                    };
                    Ok(Movement {
                        reason: Some(format!("reversal of {}: {}", original.id, request.reason)),
                        // Credits distributed, net: what the balance gave back.
                        activity: Activity { credits_added: -take, ..Activity::default() },
                        reversal: Some(ReversalOf {
                            entry_id: original.id.clone(),
                            amount,
                            // Its reversals and its expiry never exceed it, however many run.
                            limit: original.reversed + left - amount,
                        }),
                        receipt: receipt.clone(),
                        ..Movement::of(Guard::Credit { version: r.version }, motion, actor, amount)
                    })
                },
                |o, amount| {
                    Ok(ReversalReceipt {
                        reversed: *amount,
                        debt: o.debt,
                        balance: o.balance,
                        transaction: o.entry()?.clone(),
                    })
                },
            )
            .await?;
        Ok(committed.response)
    }
}
