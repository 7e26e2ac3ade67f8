//! Credits in: admin top-ups, payments, rewards and commissions (`add_credits`), and the
//! credit back of a payment's money back given back, each one movement of the pipeline.

use tracing::instrument;

use super::money::Movement;
use super::wallet_write::{Also, request_hash};
use super::{Ally, CreditReceipt, CreditRequest};
use crate::domain::{Activity, AllyError, Credits, EntryKind, Grant, Guard, IdempotencyKey, LotKind, LotMove, UserId};
use crate::store::{ReceiptWrite, ReversalOf, Store};

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
}
