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

use super::{Ally, CreditRequest, ReversalReceipt, ReversalRequest};
use crate::domain::{AllyError, Credits, EntryKind, IdempotencyKey, Note, RefId, UserId, accepted_currency};
use crate::store::{PaymentReceipt, Store};

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

/// The group of money back waiting for payment `payment`.
fn waiting_for(payment: &str) -> String {
    format!("stripe:{payment}")
}

/// The receipt key of Stripe payment `payment`: the network-wide record of its credit.
fn payment_key(payment: &str) -> Result<IdempotencyKey, AllyError> {
    IdempotencyKey::payment(&format!("stripe:{payment}"))
}

/// The record that money back `back` (`refund:re_...`, `dispute:dp_...`) was given back
/// (a dispute won, a refund failed): it takes nothing after that.
fn given_back_record(back: &str) -> String {
    format!("stripe-given-back:{back}")
}

/// The group of paid sessions and intents that named no reseller Ally knows.
const UNATTRIBUTED: &str = "stripe:unattributed";

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
        // A payment Ally cannot credit (no reseller it knows, a currency it does not take, an
        // amount below one credit or above the most one credit may be) is kept for an admin
        // and acknowledged: Stripe's retries could not change it.
        let unattributed = |why: &str| {
            tracing::error!(payment, refid, why, "a paid Stripe payment Ally cannot credit: kept");
            crate::metrics::record(&[crate::metrics::Metric::StripeUnattributed]);
            serde_json::json!({"refid": refid, "amount_minor": amount_minor, "currency": currency, "why": why})
                .to_string()
        };
        let Some(user) = self.paying_reseller(refid).await? else {
            self.store.park(UNATTRIBUTED, payment, &unattributed("no reseller Ally knows")).await?;
            return Ok(StripeAck::done("unattributed"));
        };
        let max = self.config.max_credit_amount;
        let credits = accepted_currency(&self.config.currencies, currency)
            .and_then(|c| c.credits_for(amount_minor))
            .and_then(|credits| Credits::new(credits, max));
        let credits = match credits {
            Ok(credits) => credits,
            Err(AllyError::Validation(why)) => {
                self.store.park(UNATTRIBUTED, payment, &unattributed(&why)).await?;
                return Ok(StripeAck::done("unattributed"));
            }
            Err(e) => return Err(e),
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
        for (id, back) in self.store.waiting(&waiting_for(payment)).await? {
            let back: MoneyBack = serde_json::from_str(&back).map_err(AllyError::internal)?;
            self.apply_money_back(&paid, &back).await?;
            self.store.settle(&waiting_for(payment), &id).await?;
        }
        Ok(outcome)
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

    /// Whether money back `back` (`refund:re_...`, `dispute:dp_...`) was given back already.
    pub async fn stripe_given_back(&self, back: &str) -> Result<bool, AllyError> {
        Ok(self.store.claimed(&given_back_record(back)).await?)
    }

    /// Takes `back` from the credit of `payment`, or keeps it until the payment arrives.
    pub async fn stripe_money_back(&self, payment: &str, back: MoneyBack) -> Result<StripeAck, AllyError> {
        if let Some(paid) = self.paid(payment).await? {
            self.apply_money_back(&paid, &back).await?;
            return Ok(StripeAck::done("reversed"));
        }
        let id = back.id.clone();
        self.store
            .park(&waiting_for(payment), &id, &serde_json::to_string(&back).map_err(AllyError::internal)?)
            .await?;
        // The payment may have arrived, and looked for what waited, between the two: look again.
        if let Some(paid) = self.paid(payment).await? {
            self.apply_money_back(&paid, &back).await?;
            self.store.settle(&waiting_for(payment), &id).await?;
            return Ok(StripeAck::done("reversed"));
        }
        Ok(StripeAck::done("waiting"))
    }

    /// The credit payment `payment` made, whichever reseller it went to.
    async fn paid(&self, payment: &str) -> Result<Option<PaymentReceipt>, AllyError> {
        Ok(self.store.payment_receipt(&payment_key(payment)?).await?)
    }

    /// Reverses `back` of the credit `paid` made, once per refund or dispute; what the
    /// wallet cannot give becomes debt. Nothing once it was given back.
    async fn apply_money_back(&self, paid: &PaymentReceipt, back: &MoneyBack) -> Result<(), AllyError> {
        if self.store.claimed(&given_back_record(&back.id)).await? {
            return Ok(());
        }
        let credits = accepted_currency(&self.config.currencies, &back.currency)?.credits_for(back.amount_minor)?;
        let request = ReversalRequest {
            entry_id: paid.entry_id.clone(),
            amount: Some(credits),
            reason: Note::parse(format!("stripe {}", back.id))?,
        };
        let key = IdempotencyKey::payment(&format!("stripe:{}", back.id))?;
        match self.reverse(&paid.user_id, request.clone(), "webhook:stripe", &key).await {
            Ok(_) => {}
            // More than is left of the credit (earlier refunds, a conversion's rounding): all
            // that is left, under the same receipt's cousin.
            Err(AllyError::ReversalExceedsOriginal) => {
                tracing::warn!(back = %back.id, "money back beyond what is left of the payment's credit: taking the rest");
                let rest = ReversalRequest { amount: None, ..request };
                let key = IdempotencyKey::payment(&format!("stripe:{}:rest", back.id))?;
                match self.reverse(&paid.user_id, rest, "webhook:stripe", &key).await {
                    Ok(_) | Err(AllyError::ReversalExceedsOriginal) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
        // Given back while this reversal was being made: the give-back found nothing to
        // return yet; this returns it (under the give-back's own receipt).
        if self.store.claimed(&given_back_record(&back.id)).await? {
            self.credit_back(paid, &back.id).await?;
        }
        Ok(())
    }

    /// Money back `back` of `payment` is given back (a dispute won or its funds reinstated,
    /// a refund failed): what it took is credited back, once, and it takes nothing after;
    /// one still waiting for its payment is forgotten.
    pub async fn stripe_give_back(&self, payment: &str, back: &str) -> Result<StripeAck, AllyError> {
        self.store.claim(&given_back_record(back)).await?;
        self.store.settle(&waiting_for(payment), back).await?;
        let Some(paid) = self.paid(payment).await? else {
            return Ok(StripeAck::ignored("it took nothing"));
        };
        Ok(if self.credit_back(&paid, back).await? {
            StripeAck::done("credited")
        } else {
            StripeAck::ignored("it took nothing")
        })
    }

    /// Credits back what money back `back` reversed of `paid`'s credit (what its reversals'
    /// receipts say they took), once; false when it took nothing.
    async fn credit_back(&self, paid: &PaymentReceipt, back: &str) -> Result<bool, AllyError> {
        let mut taken = 0;
        for receipt in [format!("stripe:{back}"), format!("stripe:{back}:rest")] {
            let key = IdempotencyKey::payment(&receipt)?;
            if let Some(record) = self.store.wallet(&paid.user_id, &key).await?.1 {
                let reversal: ReversalReceipt = serde_json::from_str(&record.response).map_err(AllyError::internal)?;
                taken += reversal.reversed;
            }
        }
        if taken == 0 {
            return Ok(false);
        }
        let request = CreditRequest {
            amount: taken,
            reason: Some(Note::parse(format!("stripe {back} given back"))?),
            ..CreditRequest::default()
        };
        let key = IdempotencyKey::payment(&format!("stripe:given-back:{back}"))?;
        self.add_credits(&paid.user_id, request, EntryKind::Credit, "webhook:stripe", &key).await?;
        Ok(true)
    }
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
