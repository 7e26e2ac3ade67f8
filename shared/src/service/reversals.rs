//! Reversals: an admin (or a refund or dispute) takes back all or part of a credit, payment
//! or reward. Entries are never edited (TigerBeetle's rule): a reversal is an entry of its
//! own, counted on the original so the reversals of an entry never exceed it in all, even
//! when several run at once. It takes what `available` can give; the rest becomes debt,
//! which the next credits repay first.

use tracing::instrument;

use super::lots::LotMove;
use super::money::Movement;
use super::wallet_write::request_hash;
use super::{Ally, ReversalReceipt, ReversalRequest};
use crate::domain::{Activity, AllyError, EntryKind, Guard, IdempotencyKey, OPENING_LOT, UserId};
use crate::store::{ReversalOf, Store};

impl<S: Store> Ally<S> {
    /// Reverses `request.amount` (all that is left of it by default) of entry
    /// `request.entry_id` of `user_id`'s, once per key.
    #[instrument(skip(self, request))]
    pub async fn reverse(
        &self,
        user_id: &UserId,
        request: ReversalRequest,
        actor: &str,
        key: &IdempotencyKey,
    ) -> Result<ReversalReceipt, AllyError> {
        let original = self.store.entry(user_id, &request.entry_id).await?.ok_or(AllyError::NotFound("entry"))?;
        if !matches!(original.kind, EntryKind::Credit | EntryKind::Reward) {
            return Err(AllyError::validation("only a credit, payment or reward can be reversed"));
        }
        if request.amount.is_some_and(|a| a <= 0) {
            return Err(AllyError::validation("amount must be positive"));
        }
        // What is left to reverse as read; decided after a replay (a retried reversal answers
        // what it did, however much is left now), and counted again in the write.
        let left = original.amount - original.reversed;
        let amount = request.amount.unwrap_or(left);
        let hash = request_hash("reverse", &request);
        let committed = self
            .commit(
                user_id,
                key,
                hash,
                |r, now| {
                    if amount == 0 || amount > left {
                        return Err(AllyError::ReversalExceedsOriginal);
                    }
                    // The lot the entry opened (or joined) gives first, expired or not; then
                    // what else is spendable.
                    let lot = original.lots.first().map_or(OPENING_LOT, |d| d.lot.as_str());
                    let take = amount.min(r.lots.reversible(lot, now).min(r.available()).max(0));
                    Ok(Movement {
                        reason: Some(format!("reversal of {}: {}", original.id, request.reason)),
                        // Credits distributed, net: what the balance gave back.
                        activity: Activity { credits_added: -take, ..Activity::default() },
                        debt_delta: amount - take,
                        reversal: Some(ReversalOf {
                            entry_id: original.id.clone(),
                            amount,
                            limit: original.amount - amount,
                        }),
                        ..Movement::new(
                            Guard::Credit { version: r.version },
                            EntryKind::Reversal,
                            take,
                            actor,
                            LotMove::TakeBack(lot.to_string()),
                            r.debt + amount - take,
                        )
                    })
                },
                |entry, debt| ReversalReceipt {
                    reversed: amount,
                    debt: *debt,
                    balance: entry.balance_after,
                    transaction: entry.clone(),
                },
            )
            .await?;
        Ok(committed.response)
    }
}
