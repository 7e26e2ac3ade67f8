//! Stripe's events as Stripe sends them, read at the edge: the wire types Ally reads of each
//! object, and which money operation of the service each event type asks for (a payment
//! credited, money back taken or given back). Events Ally does not use are acknowledged and
//! ignored, so Stripe never disables the endpoint over them.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tracing::instrument;

use crate::Ally;
use crate::domain::AllyError;
use crate::service::{MoneyBack, StripeAck};
use crate::store::Store;

/// The metadata key of the auto top-up request a payment answers.
const TOP_UP_REQUEST: &str = "ally_top_up_request";

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

/// Whether a dispute of this status is an inquiry (a retrieval request or an early fraud
/// warning): Stripe withdraws no funds for it.
fn is_inquiry(status: &str) -> bool {
    status.starts_with("warning_")
}

/// Handles one verified Stripe event.
#[instrument(skip(ally, event), fields(event = %event.id, kind = %event.kind))]
pub async fn handle<S: Store>(ally: &Ally<S>, event: StripeEvent) -> Result<StripeAck, AllyError> {
    if event.livemode != ally.config().stripe_livemode {
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
            let answers = session.metadata.get(TOP_UP_REQUEST).map(String::as_str);
            ally.stripe_payment(&payment, refid.as_deref(), answers, amount, &currency).await
        }
        "payment_intent.succeeded" => {
            let intent: PaymentIntent = read(object)?;
            // Checkout's intents carry no reseller: their session's event credits them.
            let Some(refid) = intent.metadata.get("ally_refid") else {
                return Ok(StripeAck::ignored("the intent names no reseller (its Checkout Session does)"));
            };
            let answers = intent.metadata.get(TOP_UP_REQUEST).map(String::as_str);
            ally.stripe_payment(&intent.id, Some(refid), answers, intent.amount_received, &intent.currency).await
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
                Some("succeeded") => ally.stripe_money_back(&payment, back).await,
                Some("failed" | "canceled") => ally.stripe_give_back(&payment, back).await,
                _ => Ok(StripeAck::ignored("the refund has not succeeded")),
            }
        }
        "charge.refunded" => {
            let charge: Charge = read(object)?;
            let payment = charge.payment_intent.unwrap_or(charge.id);
            let Some(list) = charge.refunds else {
                tracing::warn!(payment, "charge.refunded lists no refunds: enable refund.created and refund.updated");
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
                outcome = ally.stripe_money_back(&payment, back).await?;
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
            if ally.stripe_given_back(&payment, &format!("dispute:{}", dispute.id)).await? {
                return Ok(StripeAck::ignored("the dispute was won already"));
            }
            let back = MoneyBack {
                id: format!("dispute:{}", dispute.id),
                amount_minor: dispute.amount,
                currency: dispute.currency.clone(),
            };
            ally.stripe_money_back(&payment, back).await
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
            let back = MoneyBack {
                id: format!("dispute:{}", dispute.id),
                amount_minor: dispute.amount,
                currency: dispute.currency,
            };
            ally.stripe_give_back(&payment, back).await
        }
        _ => Ok(StripeAck::ignored("an event type Ally does not use")),
    }
}

/// A Stripe object of the shape its event type promises; another shape is a 422 (the event
/// is not Stripe's, or Stripe's API changed under the endpoint's version).
fn read<T: DeserializeOwned>(object: serde_json::Value) -> Result<T, AllyError> {
    serde_json::from_value(object).map_err(|e| AllyError::validation(format!("unexpected Stripe object: {e}")))
}
