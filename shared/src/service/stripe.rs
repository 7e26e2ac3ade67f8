//! Payments from Stripe, as the edge (`http/stripe.rs`) reads them from Stripe's events. A
//! payment credits once per PaymentIntent in
//! the whole network (its Checkout Session and its PaymentIntent events, in either order,
//! every redelivery, and whichever refids they name, share one permanent receipt, taken in
//! the credit's own write); refunds and disputes take credits back from the reseller it
//! credited through the reversal path, with debt when the credit was spent; a dispute won
//! (or its funds reinstated) and a refund that failed give back what they took. An inquiry
//! moves no funds at Stripe, so it moves no credit. Money back that arrives before its
//! payment waits and is applied, once, when the payment arrives. A payment Ally cannot
//! credit is kept for an admin: Stripe's retries could not change it.

use serde::{Deserialize, Serialize};

use super::{Ally, CreditRequest, ReversalRequest};
use crate::domain::{AllyError, Credits, EntryKind, IdempotencyKey, Note, RefId, UserId, accepted_currency};
use crate::store::{PaymentReceipt, ReceiptWrite, Store};

/// What Ally did with a Stripe event: always received; `ignored` says why nothing moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StripeAck {
    pub received: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// What moved: `credited`, `reversed`, `waiting` (money back before its payment),
    /// `unattributed` (a paid payment Ally cannot credit, kept for an admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl StripeAck {
    /// Received, and nothing moved, for this reason.
    pub fn ignored(why: &str) -> Self {
        Self { received: true, ignored: Some(why.to_string()), outcome: None }
    }

    /// Received, and this moved.
    pub fn done(outcome: &str) -> Self {
        Self { received: true, ignored: None, outcome: Some(outcome.to_string()) }
    }
}

/// Money taken back for a payment: a refund or a dispute, in the payment's currency.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoneyBack {
    /// `refund:re_...` or `dispute:dp_...`: its receipt.
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
}

/// The receipt key of Stripe payment `payment`: the network-wide record of its credit.
fn payment_key(payment: &str) -> Result<IdempotencyKey, AllyError> {
    IdempotencyKey::payment(&format!("stripe:{payment}"))
}

/// The record, among a payment's money back, that money back `back` (`refund:re_...`,
/// `dispute:dp_...`) was given back (a dispute won, a refund failed): for good, so it takes
/// nothing after that, however late an event of it comes.
fn given_back_record(back: &str) -> String {
    format!("given-back:{back}")
}

/// A paid payment as its provider describes it.
pub struct Paid<'a> {
    /// `stripe`, or `payments` (the generic webhook): its unattributed payments are kept
    /// under `WAIT#<source>:unattributed`.
    pub source: &'static str,
    pub payment: &'a str,
    pub refid: Option<&'a str>,
    pub amount_minor: i64,
    pub currency: &'a str,
}

impl<S: Store> Ally<S> {
    /// Credits a Stripe payment once per payment id in the network, then applies the money
    /// back that came before it.
    pub async fn stripe_payment(
        &self,
        payment: &str,
        refid: Option<&str>,
        top_up_request: Option<&str>,
        amount_minor: i64,
        currency: &str,
    ) -> Result<StripeAck, AllyError> {
        let top_up_request = top_up_named(top_up_request);
        let paid = Paid { source: "stripe", payment, refid, amount_minor, currency };
        let (user, credits) = match self.creditable(&paid).await? {
            Ok(creditable) => creditable,
            Err(kept) => return Ok(kept),
        };
        let request = CreditRequest {
            amount: credits.get(),
            reason: Some(Note::parse(format!("stripe payment {payment}"))?),
            top_up_request: top_up_request.clone(),
            ..CreditRequest::default()
        };
        let key = payment_key(payment)?;
        let outcome = match self.add_credits(&user, request, EntryKind::Credit, "webhook:stripe", &key).await {
            Ok(_) => StripeAck::done("credited"),
            // The session and the intent of one payment disagree (on its amount, its auto
            // top-up request or its reseller): the first to arrive credited it.
            Err(AllyError::IdempotencyConflict) => {
                tracing::warn!(payment, "this payment was credited from another event");
                StripeAck::ignored("the payment was credited already")
            }
            Err(e) => return Err(e),
        };
        let paid = self.paid(payment).await?.ok_or(AllyError::NotFound("payment receipt"))?;
        // The event that names the auto top-up request may come after the one that credited.
        if let Some(request_id) = top_up_request {
            self.fulfil_top_up(&paid.user_id, &request_id).await?;
        }
        // Money back that came before the payment is applied now.
        self.reconcile(payment).await?;
        Ok(outcome)
    }

    /// The reseller and the credits of a paid payment, or, when Ally cannot credit it (no
    /// reseller it knows, a currency it does not take, an amount below one credit or above
    /// the most one credit may be), its answer once kept for an admin (logged, counted and
    /// alarmed): the payer's retries could not change it, so it is never refused.
    pub async fn creditable(&self, paid: &Paid<'_>) -> Result<Result<(UserId, Credits), StripeAck>, AllyError> {
        let user = self.paying_reseller(paid.refid).await?;
        let credits = accepted_currency(&self.config.currencies, paid.currency)
            .and_then(|c| c.credits_for(paid.amount_minor))
            .and_then(|credits| Credits::new(credits, self.config.max_credit_amount));
        let why = match (user, credits) {
            (Some(user), Ok(credits)) => return Ok(Ok((user, credits))),
            (None, _) => "no reseller Ally knows".to_string(),
            (_, Err(AllyError::Validation(why))) => why,
            (_, Err(e)) => return Err(e),
        };
        let (payment, refid) = (paid.payment, paid.refid);
        tracing::error!(payment, refid, why, source = paid.source, "a paid payment Ally cannot credit: kept");
        crate::metrics::record(&[crate::metrics::Metric::StripeUnattributed]);
        let record = serde_json::json!({
            "refid": refid, "amount_minor": paid.amount_minor, "currency": paid.currency, "why": why,
        });
        self.store.park(&format!("{}:unattributed", paid.source), payment, &record.to_string()).await?;
        Ok(Err(StripeAck::done("unattributed")))
    }

    /// The reseller a payment names, if Ally knows it.
    async fn paying_reseller(&self, refid: Option<&str>) -> Result<Option<UserId>, AllyError> {
        let Some(refid) = refid.and_then(|r| RefId::parse(r).ok()) else {
            return Ok(None);
        };
        match self.user_by_refid(&refid).await {
            Ok(user) => Ok(Some(user)),
            Err(AllyError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether money back `back` (`refund:re_...`, `dispute:dp_...`) of `payment` was given
    /// back already.
    pub async fn stripe_given_back(&self, payment: &str, back: &str) -> Result<bool, AllyError> {
        let recorded = self.store.waiting(&money_back_of(payment)).await?;
        Ok(recorded.iter().any(|(id, _)| *id == given_back_record(back)))
    }

    /// Money back `back` of `payment` (a refund succeeded, a dispute's funds withdrawn):
    /// recorded, then the payment's credit reconciled with all its money back.
    pub async fn stripe_money_back(&self, payment: &str, back: MoneyBack) -> Result<StripeAck, AllyError> {
        self.record_money_back(payment, &back).await?;
        Ok(if self.reconcile(payment).await? { StripeAck::done("reversed") } else { StripeAck::done("waiting") })
    }

    /// Money back `back` of `payment` given back (a dispute won or its funds reinstated, a
    /// refund failed or canceled): for good, whatever arrives of it later; then the payment's
    /// credit reconciled.
    pub async fn stripe_give_back(&self, payment: &str, back: MoneyBack) -> Result<StripeAck, AllyError> {
        self.record_money_back(payment, &back).await?;
        self.store.park(&money_back_of(payment), &given_back_record(&back.id), "{}").await?;
        let before = self.paid(payment).await?.map_or(0, |p| p.taken_back);
        self.reconcile(payment).await?;
        let after = self.paid(payment).await?.map_or(0, |p| p.taken_back);
        Ok(if after < before { StripeAck::done("credited") } else { StripeAck::ignored("it took nothing") })
    }

    async fn record_money_back(&self, payment: &str, back: &MoneyBack) -> Result<(), AllyError> {
        let record = serde_json::to_string(back).map_err(AllyError::internal)?;
        Ok(self.store.park(&money_back_of(payment), &back.id, &record).await?)
    }

    /// The credit payment `payment` made, whichever reseller it went to.
    async fn paid(&self, payment: &str) -> Result<Option<PaymentReceipt>, AllyError> {
        Ok(self.store.payment_receipt(&payment_key(payment)?).await?)
    }

    /// Brings what the credit of `payment` has given back to Stripe to what its money back
    /// holds now: every refund and dispute recorded, less those given back, at most the
    /// credit. One movement per step, a reversal (debt when the credit was spent) or a
    /// credit back (repaying debt first), each under the receipt's count of moves, so events
    /// in any order, twice or at once end where Stripe's money does. Whether the payment
    /// was credited yet (what waits is applied when it is).
    async fn reconcile(&self, payment: &str) -> Result<bool, AllyError> {
        let key = payment_key(payment)?;
        for _ in 0..RECONCILE_STEPS {
            let Some(paid) = self.paid(payment).await? else { return Ok(false) };
            let recorded = self.store.waiting(&money_back_of(payment)).await?;
            let given_back: Vec<&str> = recorded.iter().map(|(id, _)| id.as_str()).collect();
            let mut holds = 0i64;
            for (id, back) in recorded.iter().filter(|(id, _)| !id.starts_with("given-back:")) {
                if given_back.contains(&given_back_record(id).as_str()) {
                    continue;
                }
                let back: MoneyBack = serde_json::from_str(back).map_err(AllyError::internal)?;
                match accepted_currency(&self.config.currencies, &back.currency)
                    .and_then(|c| c.credits_for(back.amount_minor))
                {
                    Ok(credits) => holds = holds.saturating_add(credits),
                    Err(e) => {
                        tracing::warn!(back = %id, error = %e, "money back in a currency Ally cannot read: left out")
                    }
                }
            }
            let credit = self.store.entry(&paid.user_id, &paid.entry_id).await?.ok_or(AllyError::NotFound("entry"))?;
            // What money back can still take: an admin's reversal of the credit counts too.
            let room = credit.amount - credit.reversed;
            let target = holds.min(paid.taken_back + room).max(0);
            let step = target - paid.taken_back;
            if step == 0 {
                return Ok(true);
            }
            let moved = ReceiptWrite::Move { key: key.clone(), moves: paid.moves, taken_back: target };
            let step_key = IdempotencyKey::payment(&format!("stripe:{payment}:move:{}", paid.moves))?;
            let reason = Note::parse(format!("stripe money back of {payment}"))?;
            let result = if step > 0 {
                let request = ReversalRequest { entry_id: credit.id.clone(), amount: Some(step), reason };
                self.reverse_with(&paid.user_id, request, "webhook:stripe", &step_key, Some(moved)).await.map(drop)
            } else {
                self.credit_back(&paid.user_id, &credit.id, -step, &step_key, moved).await
            };
            match result {
                // Another event moved the receipt first (or replayed this very step): look again.
                Ok(())
                | Err(AllyError::Contention | AllyError::IdempotencyConflict | AllyError::ReversalExceedsOriginal) => {}
                Err(e) => return Err(e),
            }
        }
        Err(AllyError::Contention)
    }
}

/// How many movements one reconciliation makes at most before answering busy (Stripe
/// redelivers, and the next one goes on).
const RECONCILE_STEPS: usize = 8;

/// The group of money back recorded for payment `payment`, kept for good.
fn money_back_of(payment: &str) -> String {
    format!("stripe-back:{payment}")
}

/// The auto top-up request a payment names; one that is not a request id is left out (and
/// logged): the payment is credited all the same.
fn top_up_named(named: Option<&str>) -> Option<String> {
    let named = named?;
    match super::top_ups::check_request_id(Some(named)) {
        Ok(()) => Some(named.to_string()),
        Err(e) => {
            tracing::warn!(error = %e, "a Stripe payment names no valid auto top-up request: credited without one");
            None
        }
    }
}
