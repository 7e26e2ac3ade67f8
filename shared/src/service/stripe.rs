//! Payments from Stripe as Stripe sends them. A payment credits once per PaymentIntent
//! (its Checkout Session and its PaymentIntent events, in either order, and every
//! redelivery, share one permanent receipt); refunds and disputes take credits back
//! through the reversal path, with debt when the credit was spent; a dispute won gives
//! them back. Money back that arrives before its payment waits and is applied, once,
//! when the payment arrives. Events Ally does not use are acknowledged and ignored, so
//! Stripe never disables the endpoint over them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{Ally, CreditRequest, ReversalReceipt, ReversalRequest};
use crate::domain::{AllyError, EntryKind, IdempotencyKey, Note, RefId, UserId, accepted_currency};
use crate::store::Store;

/// A Stripe event: the envelope fields Ally reads (the rest is ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct StripeEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub livemode: bool,
    pub data: StripeData,
}

/// `data` of a Stripe event.
#[derive(Debug, Clone, Deserialize)]
pub struct StripeData {
    pub object: serde_json::Value,
}

/// What Ally did with a Stripe event: always received; `ignored` says why nothing moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StripeAck {
    pub received: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// What moved: `credited`, `reversed`, `waiting` (money back before its payment),
    /// `recorded` (a paid session without a reseller, kept for an admin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
}

impl StripeAck {
    fn ignored(why: &str) -> Self {
        Self { received: true, ignored: Some(why.to_string()), outcome: None }
    }

    fn done(outcome: &str) -> Self {
        Self { received: true, ignored: None, outcome: Some(outcome.to_string()) }
    }
}

#[derive(Deserialize)]
struct CheckoutSession {
    id: String,
    payment_status: Option<String>,
    payment_intent: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct PaymentIntent {
    id: String,
    amount_received: i64,
    currency: String,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Charge {
    id: String,
    payment_intent: Option<String>,
    currency: String,
    refunds: Option<StripeList<Refund>>,
}

#[derive(Deserialize)]
struct StripeList<T> {
    data: Vec<T>,
}

#[derive(Deserialize)]
struct Refund {
    id: String,
    amount: i64,
    status: Option<String>,
}

/// A Refund as its own event carries it.
#[derive(Deserialize)]
struct StandaloneRefund {
    id: String,
    amount: i64,
    currency: String,
    status: Option<String>,
    payment_intent: Option<String>,
    charge: Option<String>,
}

#[derive(Deserialize)]
struct Dispute {
    id: String,
    amount: i64,
    currency: String,
    payment_intent: Option<String>,
    charge: Option<String>,
    status: String,
}

/// Which credit a payment made: what its refunds and disputes reverse.
#[derive(Serialize, Deserialize)]
struct Paid {
    user_id: UserId,
    entry_id: String,
}

/// Money taken back for a payment: a refund or a dispute, in the payment's currency.
#[derive(Serialize, Deserialize)]
struct MoneyBack {
    /// `refund:re_...` or `dispute:dp_...`: its receipt.
    id: String,
    amount_minor: i64,
    currency: String,
}

/// The group of money back waiting for payment `payment`.
fn waiting_for(payment: &str) -> String {
    format!("stripe:{payment}")
}

/// The record of which credit payment `payment` made.
fn paid_record(payment: &str) -> String {
    format!("stripe-payment:{payment}")
}

/// The record that dispute `dispute` was won.
fn won_record(dispute: &str) -> String {
    format!("stripe-dispute-won:{dispute}")
}

/// The group of paid sessions and intents that named no reseller Ally knows.
const UNATTRIBUTED: &str = "stripe:unattributed";

impl<S: Store> Ally<S> {
    /// Handles one verified Stripe event.
    #[instrument(skip(self, event), fields(event = %event.id, kind = %event.kind))]
    pub async fn stripe_event(&self, event: StripeEvent) -> Result<StripeAck, AllyError> {
        if event.livemode != self.config.stripe_livemode {
            tracing::warn!(livemode = event.livemode, "a Stripe event of the other mode: ignored");
            return Ok(StripeAck::ignored("livemode does not match ALLY_STRIPE_LIVEMODE"));
        }
        let object = event.data.object;
        match event.kind.as_str() {
            "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
                let session: CheckoutSession = read(object)?;
                if session.payment_status.as_deref() != Some("paid") {
                    return Ok(StripeAck::ignored("the session is not paid yet"));
                }
                let refid = session.client_reference_id.or_else(|| session.metadata.get("ally_refid").cloned());
                let payment = session.payment_intent.unwrap_or(session.id);
                let (amount, currency) = (session.amount_total.unwrap_or(0), session.currency.unwrap_or_default());
                let answers = top_up_named(&session.metadata);
                self.stripe_payment(&payment, refid.as_deref(), answers, amount, &currency).await
            }
            "payment_intent.succeeded" => {
                let intent: PaymentIntent = read(object)?;
                // Checkout's intents carry no reseller: their session's event credits them.
                let Some(refid) = intent.metadata.get("ally_refid") else {
                    return Ok(StripeAck::ignored("the intent names no reseller (its Checkout Session does)"));
                };
                let answers = top_up_named(&intent.metadata);
                self.stripe_payment(&intent.id, Some(refid), answers, intent.amount_received, &intent.currency).await
            }
            // Each refund once by its id: from the charge's list (API versions before
            // 2022-11-15, or with `refunds` expanded) or from its own event.
            "refund.created" | "refund.updated" | "charge.refund.updated" => {
                let refund: StandaloneRefund = read(object)?;
                if refund.status.as_deref() != Some("succeeded") {
                    return Ok(StripeAck::ignored("the refund has not succeeded"));
                }
                let payment = refund.payment_intent.or(refund.charge).unwrap_or_default();
                let back = MoneyBack {
                    id: format!("refund:{}", refund.id),
                    amount_minor: refund.amount,
                    currency: refund.currency,
                };
                self.money_back(&payment, back).await
            }
            "charge.refunded" => {
                let charge: Charge = read(object)?;
                let payment = charge.payment_intent.unwrap_or(charge.id);
                let Some(list) = charge.refunds else {
                    tracing::warn!(
                        payment,
                        "charge.refunded lists no refunds: enable refund.created and refund.updated"
                    );
                    return Ok(StripeAck::ignored("the charge lists no refunds (refund.updated carries them)"));
                };
                let mut outcome = StripeAck::ignored("no refund succeeded");
                let refunds = list.data;
                // Each refund once, however often the charge's event lists it.
                for refund in refunds.into_iter().filter(|r| r.status.as_deref().is_none_or(|s| s == "succeeded")) {
                    let back = MoneyBack {
                        id: format!("refund:{}", refund.id),
                        amount_minor: refund.amount,
                        currency: charge.currency.clone(),
                    };
                    outcome = self.money_back(&payment, back).await?;
                }
                Ok(outcome)
            }
            "charge.dispute.created" => {
                let dispute: Dispute = read(object)?;
                let payment = dispute.payment_intent.or(dispute.charge).unwrap_or_default();
                if self.store.claimed(&won_record(&dispute.id)).await? {
                    return Ok(StripeAck::ignored("the dispute was won already"));
                }
                let back = MoneyBack {
                    id: format!("dispute:{}", dispute.id),
                    amount_minor: dispute.amount,
                    currency: dispute.currency.clone(),
                };
                self.money_back(&payment, back).await
            }
            "charge.dispute.closed" => {
                let dispute: Dispute = read(object)?;
                if dispute.status != "won" {
                    return Ok(StripeAck::ignored("the dispute was not won"));
                }
                let payment = dispute.payment_intent.clone().or(dispute.charge.clone()).unwrap_or_default();
                self.store.claim(&won_record(&dispute.id)).await?;
                self.dispute_won(&payment, &dispute.id).await
            }
            _ => Ok(StripeAck::ignored("an event type Ally does not use")),
        }
    }

    /// Credits a Stripe payment once per payment id, then applies the money back that came
    /// before it.
    async fn stripe_payment(
        &self,
        payment: &str,
        refid: Option<&str>,
        top_up_request: Option<String>,
        amount_minor: i64,
        currency: &str,
    ) -> Result<StripeAck, AllyError> {
        // A payment Ally cannot credit (no reseller it knows, a currency it does not take, an
        // amount below one credit) is kept for an admin and acknowledged: Stripe's retries
        // could not change it.
        let unattributed = |why: &str| {
            tracing::error!(payment, refid, why, "a paid Stripe payment Ally cannot credit: recorded");
            crate::metrics::record(&[crate::metrics::Metric::StripeUnattributed]);
            serde_json::json!({"refid": refid, "amount_minor": amount_minor, "currency": currency, "why": why})
                .to_string()
        };
        let Some(user) = self.paying_reseller(refid).await? else {
            self.store.park(UNATTRIBUTED, payment, &unattributed("no reseller Ally knows")).await?;
            return Ok(StripeAck::done("recorded"));
        };
        let credits =
            match accepted_currency(&self.config.currencies, currency).and_then(|c| c.credits_for(amount_minor)) {
                Ok(credits) => credits,
                Err(AllyError::Validation(why)) => {
                    self.store.park(UNATTRIBUTED, payment, &unattributed(&why)).await?;
                    return Ok(StripeAck::done("recorded"));
                }
                Err(e) => return Err(e),
            };
        let request = CreditRequest {
            amount: credits,
            reason: Some(Note::parse(format!("stripe payment {payment}"))?),
            top_up_request,
            ..CreditRequest::default()
        };
        let key = IdempotencyKey::payment(&format!("stripe:{payment}"))?;
        let receipt = match self.add_credits(&user, request, EntryKind::Credit, "webhook:stripe", &key).await {
            Ok(receipt) => receipt,
            // The session and the intent of one payment disagree on its amount: the first
            // to arrive credited it.
            Err(AllyError::IdempotencyConflict) => {
                tracing::warn!(payment, "this payment was credited from another event with another amount");
                return Ok(StripeAck::ignored("the payment was credited already"));
            }
            Err(e) => return Err(e),
        };
        let paid = Paid { user_id: user, entry_id: receipt.transaction.id };
        let record = serde_json::to_string(&paid).map_err(AllyError::internal)?;
        self.store.save_checkpoint(&paid_record(payment), &record).await?;
        for (id, back) in self.store.waiting(&waiting_for(payment)).await? {
            let back: MoneyBack = serde_json::from_str(&back).map_err(AllyError::internal)?;
            self.apply_money_back(&paid, &back).await?;
            self.store.settle(&waiting_for(payment), &id).await?;
        }
        Ok(StripeAck::done("credited"))
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

    /// Takes `back` from the credit of `payment`, or keeps it until the payment arrives.
    async fn money_back(&self, payment: &str, back: MoneyBack) -> Result<StripeAck, AllyError> {
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

    async fn paid(&self, payment: &str) -> Result<Option<Paid>, AllyError> {
        let Some(record) = self.store.checkpoint(&paid_record(payment)).await? else {
            return Ok(None);
        };
        serde_json::from_str(&record).map(Some).map_err(AllyError::internal)
    }

    /// Reverses `back` of the credit `paid` made, once per refund or dispute; what the
    /// wallet cannot give becomes debt.
    async fn apply_money_back(&self, paid: &Paid, back: &MoneyBack) -> Result<(), AllyError> {
        if let Some(dispute) = back.id.strip_prefix("dispute:")
            && self.store.claimed(&won_record(dispute)).await?
        {
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
        // A dispute won while this reversal was being made: the win found nothing to give
        // back yet; this gives it back (under the win's own receipt).
        if let Some(dispute) = back.id.strip_prefix("dispute:")
            && self.store.claimed(&won_record(dispute)).await?
        {
            self.credit_back(paid, dispute).await?;
        }
        Ok(())
    }

    /// Gives back what dispute `dispute` took, once, if it took anything; a dispute still
    /// waiting for its payment is forgotten.
    async fn dispute_won(&self, payment: &str, dispute: &str) -> Result<StripeAck, AllyError> {
        self.store.settle(&waiting_for(payment), &format!("dispute:{dispute}")).await?;
        let Some(paid) = self.paid(payment).await? else {
            return Ok(StripeAck::ignored("the dispute took nothing"));
        };
        Ok(if self.credit_back(&paid, dispute).await? {
            StripeAck::done("credited")
        } else {
            StripeAck::ignored("the dispute took nothing")
        })
    }

    /// Credits back what dispute `dispute` reversed of `paid`'s credit (what its reversals'
    /// receipts say they took), once; false when it took nothing.
    async fn credit_back(&self, paid: &Paid, dispute: &str) -> Result<bool, AllyError> {
        let mut taken = 0;
        for receipt in [format!("stripe:dispute:{dispute}"), format!("stripe:dispute:{dispute}:rest")] {
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
            reason: Some(Note::parse(format!("stripe dispute {dispute} won"))?),
            ..CreditRequest::default()
        };
        let key = IdempotencyKey::payment(&format!("stripe:dispute-won:{dispute}"))?;
        self.add_credits(&paid.user_id, request, EntryKind::Credit, "webhook:stripe", &key).await?;
        Ok(true)
    }
}

/// A Stripe object of the shape its event type promises; another shape is a 422 (the event
/// is not Stripe's, or Stripe's API changed under the endpoint's version).
fn read<T: DeserializeOwned>(object: serde_json::Value) -> Result<T, AllyError> {
    serde_json::from_value(object).map_err(|e| AllyError::validation(format!("unexpected Stripe object: {e}")))
}

/// The auto top-up request a payment's metadata names (`ally_top_up_request`); one that
/// is not a request id is left out (and logged): the payment is credited all the same.
fn top_up_named(metadata: &BTreeMap<String, String>) -> Option<String> {
    let named = metadata.get("ally_top_up_request")?;
    match super::top_ups::check_request_id(Some(named)) {
        Ok(()) => Some(named.clone()),
        Err(e) => {
            tracing::warn!(error = %e, "a Stripe payment names no valid auto top-up request: credited without one");
            None
        }
    }
}
