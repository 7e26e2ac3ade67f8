//! `ally-local stripe-event <type> --refid <refid> --amount <minor units> [--currency usd]
//! [--payment pi_...] [--url http://127.0.0.1:3000]`: a Stripe event of the shape Stripe
//! sends, signed with the dev server's `ALLY_STRIPE_WEBHOOK_SECRET` as Stripe signs, posted
//! to `/webhooks/stripe`, so the flow can be tried without a Stripe account.

use std::io::{Read, Write};
use std::net::TcpStream;

use ally::config::Config;
use serde_json::{Value, json};

use crate::Failure;

const USAGE: &str = "usage: ally-local stripe-event <checkout.session.completed|payment_intent.succeeded|\
charge.refunded|charge.dispute.created|charge.dispute.closed> --refid <refid> --amount <minor units> \
[--currency usd] [--payment pi_...] [--url http://127.0.0.1:3000]";

/// Builds, signs and sends one event; prints the endpoint's answer.
pub fn send(config: &Config, args: &[String]) -> Result<(), Failure> {
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "{USAGE}\n\nSigned with the Stripe secret in {}/secrets.json (or ALLY_STRIPE_WEBHOOK_SECRET), sent to the dev server at ALLY_LOCAL_ADDR ({}) unless --url names another.",
            config.local_data, config.local_addr
        );
        return Ok(());
    }
    let kind = args.first().filter(|a| !a.starts_with("--")).ok_or(USAGE)?.clone();
    let (mut refid, mut amount, mut currency) = (None, None, "usd".to_string());
    let mut payment = format!("pi_local_{}", hex::encode(rand::random::<[u8; 6]>()));
    let mut url = format!("http://{}", config.local_addr);
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next().ok_or(USAGE)?.clone();
        match flag.as_str() {
            "--refid" => refid = Some(value),
            "--amount" => amount = Some(value.parse::<i64>().map_err(|_| USAGE)?),
            "--currency" => currency = value.to_lowercase(),
            "--payment" => payment = value,
            "--url" => url = value,
            _ => return Err(USAGE.into()),
        }
    }
    let amount = amount.ok_or(USAGE)?;
    let object = object(&kind, &payment, refid.as_deref().unwrap_or_default(), amount, &currency)?;
    let event = json!({
        "id": format!("evt_local_{}", hex::encode(rand::random::<[u8; 8]>())),
        "object": "event",
        "api_version": "2024-06-20",
        "created": chrono::Utc::now().timestamp(),
        "data": {"object": object},
        "livemode": config.stripe_livemode,
        "type": kind,
    });
    let secret = config.stripe_webhook_secret.as_ref().ok_or("no ALLY_STRIPE_WEBHOOK_SECRET")?;
    let body = event.to_string();
    // Stripe's scheme is Ally's: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    let signature = ally::http::webhook::sign(secret.bytes(), chrono::Utc::now().timestamp(), body.as_bytes());
    let (status, answer) = post(&url, "/webhooks/stripe", &signature, &body)?;
    println!("{answer}");
    if !(200..300).contains(&status) {
        return Err(format!(
            "the dev server at {url} answered {status}: was it started with the data in {} (its Stripe secret)?",
            config.local_data
        )
        .into());
    }
    println!("payment {payment}: use --payment {payment} to refund or dispute it");
    Ok(())
}

/// The `data.object` of an event of `kind`.
fn object(kind: &str, payment: &str, refid: &str, amount: i64, currency: &str) -> Result<Value, Failure> {
    let charge = format!("ch_{payment}");
    Ok(match kind {
        "checkout.session.completed" => json!({
            "id": format!("cs_{payment}"), "object": "checkout.session", "amount_total": amount, "currency": currency,
            "client_reference_id": refid, "metadata": {}, "mode": "payment", "payment_intent": payment,
            "payment_status": "paid", "status": "complete",
        }),
        "payment_intent.succeeded" => json!({
            "id": payment, "object": "payment_intent", "amount": amount, "amount_received": amount,
            "currency": currency, "metadata": {"ally_refid": refid}, "status": "succeeded",
        }),
        "charge.refunded" => json!({
            "id": charge, "object": "charge", "amount": amount, "amount_refunded": amount, "currency": currency,
            "payment_intent": payment, "refunded": true,
            "refunds": {"object": "list", "has_more": false, "data": [{
                "id": format!("re_local_{}", hex::encode(rand::random::<[u8; 6]>())), "object": "refund",
                "amount": amount, "charge": charge, "currency": currency, "payment_intent": payment,
                "status": "succeeded",
            }]},
        }),
        "charge.dispute.created" | "charge.dispute.closed" => json!({
            "id": format!("dp_{payment}"), "object": "dispute", "amount": amount, "charge": charge,
            "currency": currency, "payment_intent": payment, "reason": "fraudulent",
            "status": if kind.ends_with("closed") { "won" } else { "needs_response" },
        }),
        _ => return Err(USAGE.into()),
    })
}

/// A plain HTTP/1.1 POST to the dev server; its status and body.
fn post(url: &str, path: &str, signature: &str, body: &str) -> Result<(u16, String), Failure> {
    let host = url.strip_prefix("http://").ok_or("the dev server's --url is http://host:port")?.trim_end_matches('/');
    let mut stream = TcpStream::connect(host)
        .map_err(|e| format!("could not reach the dev server at {url} ({e}): is `make dev` running there?"))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nStripe-Signature: {signature}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let payload = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    Ok((status, payload.to_string()))
}
