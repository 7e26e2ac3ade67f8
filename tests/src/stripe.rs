//! Stripe's webhook events for the tests: payloads shaped as Stripe's API reference documents
//! each object, inside Stripe's event envelope, signed by Stripe's own Node library
//! (`tests/stripe/sign.js`, `stripe.webhooks.generateTestHeaderString`), so the signing
//! checked is Stripe's and not a copy of Ally's.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// The endpoint secret the tests configure.
pub const SECRET: &str = "whsec_ally_tests_0123456789abcdef";

/// The `Stripe-Signature` header Stripe's library makes for `payload` at `timestamp`.
pub fn signature(payload: &str, secret: &str, timestamp: i64) -> String {
    let script = crate::workspace().join("tests/stripe/sign.js");
    let mut child = Command::new("node")
        .arg(script)
        .arg(secret)
        .arg(timestamp.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node (make test installs tests/stripe)");
    child.stdin.take().expect("stdin").write_all(payload.as_bytes()).expect("the payload to node");
    let out = child.wait_with_output().expect("node's answer");
    assert!(out.status.success(), "tests/stripe/sign.js failed: run `npm ci --prefix tests/stripe`");
    String::from_utf8(out.stdout).expect("a header")
}

/// An event of `kind` around `object`, as Stripe sends it.
pub fn event(id: &str, kind: &str, object: Value, livemode: bool) -> Value {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": object},
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
    })
}

/// A Checkout Session in payment mode, for `refid` as `client_reference_id`.
pub fn checkout_session(id: &str, intent: &str, refid: &str, amount: i64, currency: &str, paid: bool) -> Value {
    json!({
        "id": id,
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": refid,
        "currency": currency,
        "customer_details": {"email": "billing@partner.example"},
        "livemode": false,
        "metadata": {},
        "mode": "payment",
        "payment_intent": intent,
        "payment_status": if paid { "paid" } else { "unpaid" },
        "status": "complete",
        "url": null,
    })
}

/// A PaymentIntent that succeeded, naming its reseller in `metadata.ally_refid` (or none).
pub fn payment_intent(id: &str, refid: Option<&str>, amount: i64, currency: &str) -> Value {
    let metadata = refid.map_or(json!({}), |r| json!({"ally_refid": r}));
    json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": amount,
        "currency": currency,
        "latest_charge": format!("ch_{id}"),
        "livemode": false,
        "metadata": metadata,
        "status": "succeeded",
    })
}

/// A Charge of `intent` with its refunds so far (`(refund id, amount)`), as `charge.refunded`
/// carries it.
pub fn refunded_charge(intent: &str, amount: i64, currency: &str, refunds: &[(&str, i64)]) -> Value {
    let data: Vec<Value> = refunds
        .iter()
        .map(|(id, amount)| {
            json!({"id": id, "object": "refund", "amount": amount, "charge": format!("ch_{intent}"),
                   "currency": currency, "payment_intent": intent, "status": "succeeded"})
        })
        .collect();
    let refunded: i64 = refunds.iter().map(|(_, a)| a).sum();
    json!({
        "id": format!("ch_{intent}"),
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "currency": currency,
        "livemode": false,
        "metadata": {},
        "paid": true,
        "payment_intent": intent,
        "refunded": refunded == amount,
        "refunds": {"object": "list", "data": data, "has_more": false, "total_count": refunds.len(),
                    "url": format!("/v1/charges/ch_{intent}/refunds")},
        "status": "succeeded",
    })
}

/// A Dispute of `intent`'s charge in `status`.
pub fn dispute(id: &str, intent: &str, amount: i64, currency: &str, status: &str) -> Value {
    json!({
        "id": id,
        "object": "dispute",
        "amount": amount,
        "charge": format!("ch_{intent}"),
        "currency": currency,
        "livemode": false,
        "metadata": {},
        "payment_intent": intent,
        "reason": "fraudulent",
        "status": status,
    })
}

/// A Refund as its own event (`refund.created`, `refund.updated`) carries it.
pub fn refund(id: &str, intent: &str, amount: i64, currency: &str, status: &str) -> Value {
    json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "charge": format!("ch_{intent}"),
        "currency": currency,
        "metadata": {},
        "payment_intent": intent,
        "reason": "requested_by_customer",
        "status": status,
    })
}

/// A Charge as `charge.refunded` carries it since API version 2022-11-15: no `refunds` list.
pub fn refunded_charge_without_list(intent: &str, amount: i64, refunded: i64, currency: &str) -> Value {
    let mut charge = refunded_charge(intent, amount, currency, &[]);
    let object = charge.as_object_mut().expect("an object");
    object.remove("refunds");
    object.insert("amount_refunded".into(), json!(refunded));
    charge
}
