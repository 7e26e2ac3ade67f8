//! The product's workload, at a stated mix, through the service over the DynamoDB store:
//! a partner tree with distributors of 1,000, 100 and 10 children and resellers alone, and
//! every money feature (holds placed, captured, voided and expiring; promotional lots that
//! expire; reversals; Stripe payments, refunds and disputes; transfers down the tree and
//! the commissions they earn; referral rewards), on an injected clock that runs across a
//! midnight and then across a month's end, with the sweeper every simulated minute and
//! after each day's grace (commissions settled).

use ally_tests::{credit, spend};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use ally::domain::{AllyError, CallerKey, CompanyName, Currency, EntryKind, IdempotencyKey, Note, RefId, Tier};
use ally::events::ReferralCompleted;
use ally::service::{
    Actor, BulkRequest, CaptureRequest, CreditRequest, HoldRequest, NewClient, NewReseller, ReversalRequest,
    TransferRequest,
};
use ally::store::PageRequest;
use ally::store::dynamo::DynamoStore;
use ally::{Ally, Config};
use ally_tests::{cname, ikey, uid};
use chrono::{DateTime, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::record::Recorder;

/// Distributors by their number of children, and resellers alone.
pub const DISTRIBUTORS: [usize; 3] = [1_000, 100, 10];
pub const ALONE: usize = 87;

/// The Zipf exponent of activity over the resellers (in a shuffled order, so the busiest
/// are anywhere in the tree).
const ZIPF: f64 = 1.0;

/// Operation types and their share.
pub const MIX: [(&str, f64); 19] = [
    ("provision", 0.30),
    ("hold placed", 0.08),
    ("hold captured", 0.04),
    ("hold voided", 0.02),
    ("admin top-up", 0.05),
    ("promotional grant (expiring)", 0.03),
    ("stripe payment", 0.05),
    ("stripe refund", 0.01),
    ("stripe dispute (lost)", 0.005),
    ("reversal", 0.01),
    ("transfer to a child", 0.04),
    ("referral reward", 0.01),
    ("client onboarding", 0.06),
    ("bulk onboarding (5 clients)", 0.025),
    ("read profile", 0.08),
    ("read ledger", 0.07),
    ("read clients", 0.04),
    ("read lots", 0.03),
    ("read holds", 0.02),
];

/// Operations that move credits (or reserve them), and the sweeper's money work.
pub const MONEY: [&str; 14] = [
    "provision",
    "hold placed",
    "hold captured",
    "hold voided",
    "admin top-up",
    "promotional grant (expiring)",
    "stripe payment",
    "stripe refund",
    "stripe dispute (lost)",
    "reversal",
    "transfer to a child",
    "referral reward",
    "bulk onboarding (5 clients)",
    "sweeper",
];

/// The two stretches of simulated time: four minutes around a midnight, then four around
/// the midnight that ends the month (and the year).
pub fn phases() -> [DateTime<Utc>; 2] {
    [Utc.with_ymd_and_hms(2026, 12, 30, 23, 58, 0).unwrap(), Utc.with_ymd_and_hms(2026, 12, 31, 23, 58, 0).unwrap()]
}

/// Simulated seconds of one phase.
pub const PHASE_SECONDS: i64 = 240;

/// The configuration of the run: commissions on, Stripe in dollars, referral rewards.
pub fn config() -> Config {
    Config {
        currencies: vec![Currency { code: "USD".into(), minor_units: 2, credits_per_unit: 100 }],
        commissions: ally::domain::Commissions { standard: 10, gold: 15, platinum: 20 },
        referral_reward: 300,
        ..Config::default()
    }
}

/// The simulated clock.
#[derive(Clone)]
pub struct Clock(Arc<AtomicI64>);

impl Clock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(AtomicI64::new(at.timestamp_millis())))
    }

    pub fn service_clock(&self) -> ally::service::Clock {
        let millis = self.0.clone();
        Arc::new(move || Utc.timestamp_millis_opt(millis.load(Ordering::SeqCst)).single().unwrap_or_default())
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0.store(at.timestamp_millis(), Ordering::SeqCst);
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.0.load(Ordering::SeqCst)).single().unwrap_or_default()
    }
}

/// The tree: user ids, refids, each distributor's children.
pub struct Population {
    pub users: Vec<String>,
    pub refids: Vec<RefId>,
    pub children: Vec<Vec<usize>>,
    /// The distributors, with their number of children.
    pub distributors: Vec<(usize, usize)>,
    /// Activity order: the reseller of each Zipf rank.
    order: Vec<usize>,
    zipf: Vec<f64>,
}

impl Population {
    pub fn len(&self) -> usize {
        self.users.len()
    }
}

/// What the run has made that later operations act on.
#[derive(Default)]
pub struct State {
    holds: Vec<(usize, String)>,
    credits: Vec<(usize, String)>,
    payments: Vec<(usize, String, i64)>,
    next: u64,
}

/// Onboards the tree (each reseller by an admin, under its parent, with an opening top-up).
pub async fn onboard(ally: &Ally<DynamoStore>, recorder: &Recorder, clock: &Clock, rng: &mut StdRng) -> Population {
    let mut users = Vec::new();
    let mut parent = Vec::new();
    let mut distributors = Vec::new();
    for (d, children) in DISTRIBUTORS.iter().enumerate() {
        let top = users.len();
        users.push(format!("d{d}"));
        parent.push(None);
        distributors.push((top, *children));
        for c in 0..*children {
            users.push(format!("d{d}c{c:04}"));
            parent.push(Some(top));
        }
    }
    for a in 0..ALONE {
        users.push(format!("a{a:03}"));
        parent.push(None);
    }
    let mut children = vec![Vec::new(); users.len()];
    let mut refids: Vec<RefId> = Vec::with_capacity(users.len());
    let admin = Actor { user_id: uid("admin"), email: None, admin: true };
    for (i, user) in users.iter().enumerate() {
        recorder.label("reseller onboarding (and opening top-up)", user, clock.now().timestamp());
        let request = NewReseller {
            user_id: Some(uid(user)),
            tier: Some(Tier::ALL[i % 3]),
            parent_refid: parent[i].map(|p: usize| refids[p].clone()),
            ..NewReseller::new(CompanyName::parse(format!("{user} Ltd")).unwrap())
        };
        let r = ally.onboard(&admin, request).await.expect("onboard");
        refids.push(r.refid);
        let credit = credit(1_000_000);
        ally.add_credits(&uid(user), credit, EntryKind::Credit, "admin", &ikey(&format!("open-{user}")))
            .await
            .expect("opening credit");
        if let Some(p) = parent[i] {
            children[p].push(i);
        }
    }
    let mut order: Vec<usize> = (0..users.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut zipf = Vec::with_capacity(users.len());
    let mut total = 0.0;
    for rank in 1..=users.len() {
        total += 1.0 / (rank as f64).powf(ZIPF);
        zipf.push(total);
    }
    let zipf = zipf.iter().map(|c| c / total).collect();
    Population { users, refids, children, distributors, order, zipf }
}

fn pick(rng: &mut StdRng, population: &Population) -> usize {
    let x: f64 = rng.random();
    let rank = population.zipf.partition_point(|c| *c < x).min(population.len() - 1);
    population.order[rank]
}

/// The operation of the mix `x` in [0, 1) falls on.
pub fn operation_at(x: f64) -> &'static str {
    let total: f64 = MIX.iter().map(|(_, s)| s).sum();
    let mut acc = 0.0;
    for (name, share) in MIX {
        acc += share / total;
        if x < acc {
            return name;
        }
    }
    MIX[0].0
}

/// Sends one Stripe event of `kind` around `object`, as the webhook hands it on.
async fn stripe(ally: &Ally<DynamoStore>, state: &mut State, kind: &str, object: Value) -> Result<(), AllyError> {
    state.next += 1;
    let event = ally::http::stripe::StripeEvent {
        id: format!("evt_cap_{}", state.next),
        kind: kind.into(),
        livemode: false,
        data: ally::http::stripe::StripeData { object },
    };
    ally::http::stripe::handle(ally, event).await.map(drop)
}

/// Performs one operation of the mix for a reseller drawn by activity; answers the
/// operation's name and who acted (refusals such as insufficient credits are answers too).
pub async fn perform(
    ally: &Ally<DynamoStore>,
    recorder: &Recorder,
    population: &Population,
    state: &mut State,
    rng: &mut StdRng,
    step: usize,
) -> &'static str {
    let mut operation = operation_at(rng.random());
    let mut u = pick(rng, population);
    // An operation with nothing to act on yet is a provision instead.
    match operation {
        "hold captured" | "hold voided" if state.holds.is_empty() => operation = "provision",
        "reversal" if state.credits.is_empty() => operation = "provision",
        "stripe refund" | "stripe dispute (lost)" if state.payments.is_empty() => operation = "provision",
        "transfer to a child" => u = population.distributors[step % population.distributors.len()].0,
        _ => {}
    }
    let user = population.users[u].clone();
    recorder.label(operation, &user, ally.now().timestamp());
    let id = uid(&user);
    let key = ikey(&format!("op-{step}"));
    let outcome: Result<(), AllyError> = match operation {
        "provision" => {
            let request = spend(rng.random_range(10..200));
            ally.provision(&id, request, &key).await.map(drop)
        }
        "hold placed" => {
            // Some expire within the phase, found and released by the sweeper.
            let expires_in_s = Some(if rng.random_bool(0.3) { 60 } else { 3_600 });
            let request = HoldRequest { cost: Some(rng.random_range(10..200)), expires_in_s, ..HoldRequest::default() };
            match ally.place_hold(&id, request, &key).await {
                Ok(placed) => {
                    state.holds.push((u, placed.hold.id.clone()));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        "hold captured" | "hold voided" => {
            let (owner, hold) = state.holds.swap_remove(rng.random_range(0..state.holds.len()));
            recorder.label(operation, &population.users[owner], ally.now().timestamp());
            let owner = uid(&population.users[owner]);
            if operation == "hold captured" {
                ally.capture_hold(&owner, &hold, CaptureRequest { amount: None }, &key).await.map(drop)
            } else {
                ally.void_hold(&owner, &hold, &key).await.map(drop)
            }
        }
        "admin top-up" | "promotional grant (expiring)" => {
            let promotional = operation != "admin top-up";
            let request = CreditRequest {
                amount: rng.random_range(100..5_000),
                promotional,
                // Expiring within the phase: the sweeper writes the expiry down.
                expires_at: promotional.then(|| ally.now() + chrono::Duration::seconds(rng.random_range(60..180))),
                ..CreditRequest::default()
            };
            match ally.add_credits(&id, request, EntryKind::Credit, "admin", &key).await {
                Ok(receipt) => {
                    state.credits.push((u, receipt.transaction.id));
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        "stripe payment" => {
            state.next += 1;
            let intent = format!("pi_cap_{}", state.next);
            let amount = rng.random_range(1_000..20_000);
            let session = ally_tests::stripe::checkout_session(
                &format!("cs_cap_{}", state.next),
                &intent,
                population.refids[u].as_str(),
                amount,
                "usd",
                true,
            );
            state.payments.push((u, intent, amount));
            stripe(ally, state, "checkout.session.completed", session).await
        }
        "stripe refund" => {
            let (owner, intent, amount) = state.payments[rng.random_range(0..state.payments.len())].clone();
            recorder.label(operation, &population.users[owner], ally.now().timestamp());
            state.next += 1;
            let refund = ally_tests::stripe::refund(
                &format!("re_cap_{}", state.next),
                &intent,
                rng.random_range(1..=amount / 4),
                "usd",
                "succeeded",
            );
            stripe(ally, state, "refund.updated", refund).await
        }
        "stripe dispute (lost)" => {
            let (owner, intent, amount) = state.payments.swap_remove(rng.random_range(0..state.payments.len()));
            recorder.label(operation, &population.users[owner], ally.now().timestamp());
            state.next += 1;
            let dispute = format!("dp_cap_{}", state.next);
            let created = ally_tests::stripe::dispute(&dispute, &intent, amount, "usd", "needs_response");
            let lost = ally_tests::stripe::dispute(&dispute, &intent, amount, "usd", "lost");
            match stripe(ally, state, "charge.dispute.created", created).await {
                Ok(()) => stripe(ally, state, "charge.dispute.closed", lost).await,
                Err(e) => Err(e),
            }
        }
        "reversal" => {
            let (owner, entry) = state.credits.swap_remove(rng.random_range(0..state.credits.len()));
            recorder.label(operation, &population.users[owner], ally.now().timestamp());
            let request =
                ReversalRequest { entry_id: entry, amount: None, reason: Note::parse("capacity reversal").unwrap() };
            let key = IdempotencyKey::admin(&CallerKey::parse(format!("rev-{step}")).unwrap());
            ally.reverse(&uid(&population.users[owner]), request, "admin", &key).await.map(drop)
        }
        "transfer to a child" => {
            let children = &population.children[u];
            let to = children[rng.random_range(0..children.len())];
            let request = TransferRequest {
                to_refid: population.refids[to].clone(),
                amount: rng.random_range(10..500),
                note: None,
            };
            ally.transfer_to_child(&id, request, &key).await.map(drop)
        }
        "referral reward" => {
            let referred = pick(rng, population);
            let event = ReferralCompleted {
                referral_id: format!("ref-{step}"),
                referrer_user_id: user.clone(),
                referred_user_id: population.users[referred].clone(),
                tag: "become-partner".into(),
            };
            ally::events::reactions::reward_referral(ally, &event, ally.now()).await.map(drop)
        }
        "client onboarding" => {
            ally.onboard_client(&id, NewClient { name: cname(&format!("Client {step}")), email: None }).await.map(drop)
        }
        "bulk onboarding (5 clients)" => {
            let clients = (0..5).map(|i| NewClient { name: cname(&format!("Bulk {step}-{i}")), email: None }).collect();
            ally.bulk_onboard(&id, BulkRequest { clients, product: None, cost: Some(20) }, &key).await.map(drop)
        }
        "read profile" => ally.find_by_user(&id).await.map(drop),
        "read ledger" => ally.ledger(&id, &PageRequest::first(25)).await.map(drop),
        "read clients" => ally.clients(&id, &PageRequest::first(25)).await.map(drop),
        "read lots" => ally.lots(&id, &PageRequest::first(25)).await.map(drop),
        _ => ally.holds(&id, None, &PageRequest::first(25)).await.map(drop),
    };
    match outcome {
        Ok(()) => {}
        // A refusal is an answer the product gives: it costs its reads, and is counted.
        Err(
            AllyError::InsufficientCredits { .. }
            | AllyError::HoldClosed
            | AllyError::ReversalExceedsOriginal
            | AllyError::Validation(_)
            | AllyError::OnHold,
        ) => {}
        Err(e) => panic!("{operation} for {user}: {e:?}"),
    }
    operation
}

/// A fresh generator of the run's seed.
pub fn rng() -> StdRng {
    StdRng::seed_from_u64(27)
}
