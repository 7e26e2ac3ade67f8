//! Payments from Stripe as Stripe sends them. A payment credits once per PaymentIntent in
//! the whole network (its Checkout Session and its PaymentIntent events, in either order,
//! every redelivery, and whichever refids they name, share one permanent receipt, taken in
//! the credit's own write); refunds and disputes take credits back from the reseller it
//! credited through the reversal path, with debt when the credit was spent; a dispute won
//! (or its funds reinstated) and a refund that failed give back what they took. An inquiry
//! moves no funds at Stripe, so it moves no credit. Money back that arrives before its
//! payment waits and is applied, once, when the payment arrives. A payment Ally cannot
//! credit is kept for an admin, and events Ally does not use are acknowledged and ignored,
//! so Stripe never retries them in vain nor disables the endpoint over them.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::{Ally, CreditRequest, ReversalReceipt, ReversalRequest};
use crate::domain::{AllyError, Credits, EntryKind, IdempotencyKey, Note, RefId, UserId, accepted_currency};
use crate::store::{PaymentReceipt, Store};

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
    /// `unattributed` (a paid payment Ally cannot credit, kept for an admin).
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

/// The receipt key of Stripe payment `payment`: the network-wide record of its credit.
fn payment_key(payment: &str) -> Result<IdempotencyKey, AllyError> {
    IdempotencyKey::payment(&format!("stripe:{payment}"))
}

/// The record that money back `back` (`refund:re_...`, `dispute:dp_...`) was given back
/// (a dispute won, a refund failed): it takes nothing after that.
fn given_back_record(back: &str) -> String {
    format!("stripe-given-back:{back}")
}

/// Whether a dispute of this status is an inquiry (a retrieval request or an early fraud
/// warning): Stripe withdraws no funds for it.
fn is_inquiry(status: &str) -> bool {
    status.starts_with("warning_")
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
            // 2022-11-15, or with `refunds` expanded) or from its own event. One that failed
            // or was canceled after it succeeded gives back what it took.
            "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated" => {
                let refund: StandaloneRefund = read(object)?;
                let Some(payment) = refund.payment_intent.or(refund.charge) else {
                    return Ok(StripeAck::ignored("the refund names no payment"));
                };
                let back = MoneyBack {
                    id: format!("refund:{}", refund.id),
                    amount_minor: refund.amount,
                    currency: refund.currency,
                };
                match refund.status.as_deref() {
                    Some("succeeded") => self.money_back(&payment, back).await,
                    Some("failed" | "canceled") => self.give_back(&payment, &back.id).await,
                    _ => Ok(StripeAck::ignored("the refund has not succeeded")),
                }
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
                // Each refund once, however often the charge's event lists it.
                for refund in list.data.into_iter().filter(|r| r.status.as_deref().is_none_or(|s| s == "succeeded")) {
                    let back = MoneyBack {
                        id: format!("refund:{}", refund.id),
                        amount_minor: refund.amount,
                        currency: charge.currency.clone(),
                    };
                    outcome = self.money_back(&payment, back).await?;
                }
                Ok(outcome)
            }
            // Funds leave at a dispute's creation (or when an inquiry escalates): both
            // events reverse under the dispute's one receipt.
            "charge.dispute.created" | "charge.dispute.funds_withdrawn" => {
                let dispute: Dispute = read(object)?;
                if is_inquiry(&dispute.status) {
                    return Ok(StripeAck::ignored("an inquiry moves no funds"));
                }
                let Some(payment) = dispute.payment_intent.or(dispute.charge) else {
                    return Ok(StripeAck::ignored("the dispute names no payment"));
                };
                if self.store.claimed(&given_back_record(&format!("dispute:{}", dispute.id))).await? {
                    return Ok(StripeAck::ignored("the dispute was won already"));
                }
                let back = MoneyBack {
                    id: format!("dispute:{}", dispute.id),
                    amount_minor: dispute.amount,
                    currency: dispute.currency.clone(),
                };
                self.money_back(&payment, back).await
            }
            "charge.dispute.closed" | "charge.dispute.funds_reinstated" => {
                let dispute: Dispute = read(object)?;
                let reinstated = event.kind == "charge.dispute.funds_reinstated";
                if !reinstated && dispute.status != "won" {
                    return Ok(StripeAck::ignored("the dispute was not won"));
                }
                let Some(payment) = dispute.payment_intent.or(dispute.charge) else {
                    return Ok(StripeAck::ignored("the dispute names no payment"));
                };
                self.give_back(&payment, &format!("dispute:{}", dispute.id)).await
            }
            _ => Ok(StripeAck::ignored("an event type Ally does not use")),
        }
    }

    /// Credits a Stripe payment once per payment id in the network, then applies the money
    /// back that came before it.
    async fn stripe_payment(
        &self,
        payment: &str,
        refid: Option<&str>,
        top_up_request: Option<String>,
        amount_minor: i64,
        currency: &str,
    ) -> Result<StripeAck, AllyError> {
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
    async fn give_back(&self, payment: &str, back: &str) -> Result<StripeAck, AllyError> {
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
