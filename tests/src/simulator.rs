//! The conservation simulator, in the spirit of TigerBeetle's VOPR: a seeded random driver
//! over a store that interleaves every money operation, a few at a time and concurrently,
//! over a partner tree of 55 resellers: credits and expiring grants, provisions and bulk
//! charges, holds placed, captured, voided and expired, transfers down the tree, admin
//! reversals, payment webhooks (an event id sometimes naming a second reseller), Stripe
//! payments, refunds, failed refunds, inquiries and disputes delivered in any order and
//! duplicated (a session and its intent naming different refids), referral rewards,
//! commissions and low-credit notices through the real publisher and consumers, auto top-ups
//! paid through Stripe, and the sweeper at random clock times (the clock is the
//! simulation's). The store underneath loses answers after a commit, throttles and reports
//! transaction conflicts at random; every operation is retried with its key, as a client
//! would.
//!
//! After every step it checks the laws (see [`Simulation::check`]); at the end, with every
//! Stripe event delivered, that each payment's credit is what Stripe kept of it. The seed
//! names the run: on the memory store a failing seed replays exactly (one thread, the
//! simulation's clock); on DynamoDB the same operations are sent, interleaved as the
//! emulator answers them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use ally::domain::{
    AllyError, CallerKey, ClientName, CompanyName, Currency, Email, EntryKind, IdempotencyKey, LedgerEntry, LotKind,
    Note, RefId, Reseller, Tier, TopUpRule, UserId,
};
use ally::events::bus::{Bus, Published};
use ally::events::local::{LocalBus, Outbox};
use ally::events::parking::ParkedFiles;
use ally::events::{BusEvent, ItemChange, REFERRAL_SOURCE, Stored, publisher};
use ally::service::{
    Actor, BulkRequest, CaptureRequest, CreditRequest, HoldRequest, NewClient, NewReseller, ProvisionRequest,
    ResellerPatch, ReversalRequest, TransferRequest,
};
use ally::store::dynamo::DynamoStore;
use ally::store::memory::{Fault, MemoryStore};
use ally::store::{PageRequest, Store};
use ally::{Ally, Config};
use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::sdk::{SdkCalls, SdkFault};
use crate::stripe::{checkout_session, dispute, payment_intent, refund};

/// Resellers in the tree: five distributors with ten children each, and five alone.
const DISTRIBUTORS: usize = 5;
const CHILDREN: usize = 10;
const ALONE: usize = 5;

/// The most one credit may be in a run; a few Stripe payments are above it.
const MAX_CREDIT: i64 = 3_800;

/// What one run did, printed with its seed.
#[derive(Debug, Default)]
pub struct Report {
    pub seed: u64,
    pub steps: usize,
    pub operations: usize,
    /// How often each kind of operation ended how (`provision ok`, `hold insufficient_credits`...).
    pub outcomes: BTreeMap<String, usize>,
    pub faults: usize,
}

/// One Stripe payment as Stripe sees it: what it withdrew and gave back decides what the
/// credit should come to.
struct Payment {
    id: String,
    amount: i64,
    /// What Stripe kept in the end (refunds and lost disputes taken off).
    kept: i64,
    /// The ids of its refunds and disputes (`refund:re_...`, `dispute:dp_...`).
    backs: Vec<String>,
}

/// One operation, chosen from the seed.
#[derive(Debug, Clone)]
enum Op {
    Credit { u: usize, amount: i64, promotional: bool, expires_in_min: Option<i64>, key: String },
    Provision { u: usize, cost: i64, key: String },
    Bulk { u: usize, clients: usize, cost: i64, key: String },
    Hold { u: usize, cost: i64, key: String },
    Capture { u: usize, hold: String, amount: Option<i64>, key: String },
    Void { u: usize, hold: String, key: String },
    Transfer { from: usize, to: usize, amount: i64, key: String },
    Reverse { u: usize, entry: String, amount: Option<i64>, key: String },
    Webhook { u: usize, event: String, amount: i64 },
    Stripe(Value),
    Bus(BusEvent),
    Referral { referrer: usize, referred: usize, id: String },
    Sweep { minutes: i64 },
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Credit { .. } => "credit",
            Op::Provision { .. } => "provision",
            Op::Bulk { .. } => "bulk",
            Op::Hold { .. } => "hold",
            Op::Capture { .. } => "capture",
            Op::Void { .. } => "void",
            Op::Transfer { .. } => "transfer",
            Op::Reverse { .. } => "reverse",
            Op::Webhook { .. } => "webhook",
            Op::Stripe(_) => "stripe",
            Op::Bus(_) => "event",
            Op::Referral { .. } => "referral",
            Op::Sweep { .. } => "sweep",
        }
    }
}

/// A captured bus: what the publisher puts on it waits to be delivered in any order.
#[derive(Default)]
struct Captured(Mutex<Vec<BusEvent>>);

impl Bus for Captured {
    async fn publish(&self, events: &[BusEvent]) -> Vec<Published> {
        self.0.lock().unwrap().extend(events.iter().cloned());
        vec![Published::Accepted; events.len()]
    }
}

/// One simulation over a store.
pub struct Simulation<S: Store> {
    ally: Arc<Ally<S>>,
    bus: LocalBus<S>,
    outbox: Arc<Outbox>,
    parked: ParkedFiles,
    clock: Arc<AtomicI64>,
    faults: Arc<AtomicU64>,
    faulting: Arc<AtomicBool>,
    rng: StdRng,
    next: u64,
    users: Vec<UserId>,
    refids: Vec<RefId>,
    parents: Vec<Option<usize>>,
    /// Every raw key and event id each reseller's operations used: none may appear in another's view.
    keys: Vec<BTreeSet<String>>,
    holds: Vec<(usize, String)>,
    credits: Vec<(usize, String)>,
    payments: Vec<Payment>,
    stripe: Vec<Value>,
    events: Vec<BusEvent>,
    seen: BTreeSet<String>,
    images: BTreeMap<usize, Reseller>,
    captured: Captured,
    published: Vec<BusEvent>,
    /// How many published events and mails the privacy law has read.
    checked: (AtomicUsize, AtomicUsize),
    /// The holds seen closed.
    closed: Mutex<BTreeSet<String>>,
    report: Report,
}

/// The user id of the admin who onboards the network.
const ADMIN_USER: &str = "admin-1";

/// The simulation's start: a fixed day, so a seed replays the same dates.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
}

/// The store's faults while operations run (never while the laws are checked): answers lost
/// after a commit, throttling, transaction conflicts; chosen by a seeded roll per call.
pub struct FaultPlan {
    rng: Mutex<StdRng>,
    count: Arc<AtomicU64>,
    on: Arc<AtomicBool>,
}

impl FaultPlan {
    /// A roll of 0..1000 for one call, or none while the faults are off.
    fn roll(&self) -> Option<u32> {
        self.on.load(Ordering::SeqCst).then(|| self.rng.lock().unwrap().random_range(0..1000))
    }

    /// Counts a fault injected.
    fn counted<F>(&self, fault: Option<F>) -> Option<F> {
        if fault.is_some() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        fault
    }
}

/// A store the simulation can make fail, each in its own way: the memory store by its own
/// hook (and interleaving every call, as a network would), DynamoDB at the SDK.
pub trait Faulty: Store + Sized + 'static {
    fn faulty(self, plan: FaultPlan) -> Self;
}

impl Faulty for MemoryStore {
    fn faulty(self, plan: FaultPlan) -> Self {
        self.with_faults(move |method| {
            let Some(roll) = plan.roll() else { return Fault::Proceed };
            let fault = match method {
                "commit_wallet_change" | "commit_transfer" => match roll {
                    0..20 => Some(Fault::LoseAnswer),
                    20..35 => Some(Fault::Throttle),
                    35..60 => Some(Fault::Conflict),
                    _ => None,
                },
                "wallet" | "reseller" if roll < 5 => Some(Fault::Throttle),
                _ => None,
            };
            plan.counted(fault).unwrap_or(Fault::Proceed)
        })
        .interleaved()
    }
}

impl Faulty for DynamoStore {
    fn faulty(self, plan: FaultPlan) -> Self {
        let calls = SdkCalls::default().with_faults(move |operation| {
            let roll = plan.roll()?;
            let fault = match operation {
                "TransactWriteItems" => match roll {
                    0..20 => Some(SdkFault::LoseResponse),
                    20..60 => Some(SdkFault::Refuse),
                    _ => None,
                },
                "GetItem" | "BatchGetItem" if roll < 5 => Some(SdkFault::Refuse),
                _ => None,
            };
            plan.counted(fault)
        });
        calls.store_on(self.table())
    }
}

/// The configuration of a run: commissions on, every currency at a credit a cent.
fn config() -> Config {
    Config {
        currencies: vec![Currency { code: "USD".into(), minor_units: 2, credits_per_unit: 100 }],
        commissions: ally::domain::Commissions { standard: 10, gold: 15, platinum: 20 },
        referral_reward: 300,
        // Now and then a payment is more than one credit may be: kept, never refused.
        max_credit_amount: MAX_CREDIT,
        ..Config::default()
    }
}

/// Whether an error is one a client retries with the same key (a lost answer, throttling,
/// a wallet too busy), rather than the operation's answer.
fn transient(e: &AllyError) -> bool {
    matches!(e, AllyError::Store(_) | AllyError::Contention | AllyError::Throttled)
}

/// A problem's code as the API would answer it, for the report.
fn code(e: &AllyError) -> String {
    match e {
        AllyError::Validation(_) => "validation_failed",
        AllyError::NotFound(_) => "not_found",
        AllyError::InsufficientCredits { .. } => "insufficient_credits",
        AllyError::HoldClosed => "hold_closed",
        AllyError::ReversalExceedsOriginal => "reversal_exceeds_original",
        AllyError::IdempotencyConflict => "idempotency_conflict",
        AllyError::Suspended => "suspended",
        AllyError::OnHold => "on_hold",
        AllyError::Contention => "busy",
        AllyError::Throttled => "throttled",
        AllyError::Store(_) => "store",
        _ => "other",
    }
    .to_string()
}

impl<S: Faulty> Simulation<S> {
    /// A simulation of `seed` over `store`, its tree onboarded.
    pub async fn new(store: S, seed: u64) -> Result<Self, String> {
        let clock = Arc::new(AtomicI64::new(epoch().timestamp_millis()));
        let read = clock.clone();
        let faults = Arc::new(AtomicU64::new(0));
        let faulting = Arc::new(AtomicBool::new(false));
        let refid_counter = AtomicU64::new(seed.wrapping_mul(1_000));
        let plan = FaultPlan {
            rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0x5eed_fa17)),
            count: faults.clone(),
            on: faulting.clone(),
        };
        let ally = Ally::new(store.faulty(plan), config())
            .with_clock(Arc::new(move || {
                Utc.timestamp_millis_opt(read.load(Ordering::SeqCst)).single().unwrap_or_else(epoch)
            }))
            .with_refids(Arc::new(move || {
                // Deterministic refids, distinct per seed: Crockford digits of a counter.
                let n = refid_counter.fetch_add(1, Ordering::SeqCst);
                let alphabet = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
                let text: String =
                    (0..10).rev().map(|i| char::from(alphabet[((n >> (5 * i)) & 31) as usize])).collect();
                RefId::parse(text).expect("a refid")
            }));
        let ally = Arc::new(ally);
        let dir = std::env::temp_dir().join(format!("ally-sim-{seed}-{}", std::process::id()));
        let outbox = Arc::new(Outbox::new(dir.join("outbox"), "ally@sim.example"));
        let mut sim = Self {
            bus: LocalBus::new(ally.clone(), outbox.clone()),
            ally,
            outbox,
            parked: ParkedFiles::new(dir.join("parked")),
            clock,
            faults,
            faulting,
            rng: StdRng::seed_from_u64(seed),
            next: 0,
            users: Vec::new(),
            refids: Vec::new(),
            parents: Vec::new(),
            keys: Vec::new(),
            holds: Vec::new(),
            credits: Vec::new(),
            payments: Vec::new(),
            stripe: Vec::new(),
            events: Vec::new(),
            seen: BTreeSet::new(),
            images: BTreeMap::new(),
            captured: Captured::default(),
            published: Vec::new(),
            checked: (AtomicUsize::new(0), AtomicUsize::new(0)),
            closed: Mutex::new(BTreeSet::new()),
            report: Report { seed, ..Report::default() },
        };
        sim.onboard_tree().await?;
        Ok(sim)
    }

    async fn onboard_tree(&mut self) -> Result<(), String> {
        let admin = Actor { user_id: UserId::parse(ADMIN_USER).unwrap(), email: None, admin: true };
        let total = DISTRIBUTORS * (1 + CHILDREN) + ALONE;
        for i in 0..total {
            let user = UserId::parse(format!("u{i:03}-s{}", self.report.seed)).unwrap();
            let parent =
                (DISTRIBUTORS..DISTRIBUTORS * (1 + CHILDREN)).contains(&i).then(|| (i - DISTRIBUTORS) / CHILDREN);
            let tier = [Tier::Standard, Tier::Gold, Tier::Platinum][i % 3];
            let request = NewReseller {
                tier: Some(tier),
                user_id: Some(user.clone()),
                email: Some(Email::parse(format!("r{i}@sim.example")).unwrap()),
                ..NewReseller::new(CompanyName::parse(format!("Reseller {i}")).unwrap())
            };
            let reseller = retry(|| self.ally.onboard(&admin, request.clone())).await.map_err(|e| e.to_string())?;
            if let Some(p) = parent {
                let patch =
                    ResellerPatch { parent_refid: Some(Some(self.refids[p].clone())), ..ResellerPatch::default() };
                retry(|| self.ally.update_reseller(&reseller.refid, patch.clone())).await.map_err(|e| e.to_string())?;
            }
            // A few resellers pay an auto top-up when they fall low.
            if i % 7 == 0 {
                let rule = TopUpRule { below: 400, target: 2_000, monthly_cap: 3_000 };
                retry(|| self.ally.set_auto_top_up(&user, rule)).await.map_err(|e| e.to_string())?;
            }
            self.users.push(user);
            self.refids.push(reseller.refid);
            self.parents.push(parent);
            self.keys.push(BTreeSet::new());
        }
        // Everyone starts with some paid credit and a client.
        for u in 0..self.users.len() {
            let key = self.key(u);
            let amount = self.rng.random_range(500..3_500);
            let op = Op::Credit { u, amount, promotional: false, expires_in_min: None, key };
            let outcome = self.perform(op.clone()).await?;
            self.learn(op, outcome);
            let client = NewClient { name: ClientName::parse("First client").unwrap(), email: None };
            retry(|| self.ally.onboard_client(&self.users[u], client.clone())).await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// A fresh key of reseller `u`'s (recorded: no other reseller may ever see it).
    fn key(&mut self, u: usize) -> String {
        self.next += 1;
        let key = format!("k{:06}-s{}", self.next, self.report.seed);
        self.keys[u].insert(key.clone());
        key
    }

    fn now(&self) -> DateTime<Utc> {
        self.ally.now()
    }

    /// Runs `steps` steps, checking the laws after each; then delivers what waits and checks
    /// that every payment's credit is what Stripe kept of it.
    pub async fn run(mut self, steps: usize) -> Result<Report, String> {
        for step in 0..steps {
            let count = self.rng.random_range(1..=6);
            let mut ops: Vec<Op> = (0..count).map(|_| self.choose()).collect();
            // A capture often races a void of the same hold (and the void a capture).
            let racing: Vec<Op> = ops
                .iter()
                .filter_map(|op| match op {
                    Op::Capture { u, hold, .. } => Some(Op::Void { u: *u, hold: hold.clone(), key: String::new() }),
                    Op::Void { u, hold, .. } => {
                        Some(Op::Capture { u: *u, hold: hold.clone(), amount: None, key: String::new() })
                    }
                    _ => None,
                })
                .collect();
            for op in racing {
                if self.rng.random_bool(0.5) {
                    let key = self.key(match op {
                        Op::Capture { u, .. } | Op::Void { u, .. } => u,
                        _ => 0,
                    });
                    ops.push(match op {
                        Op::Capture { u, hold, amount, .. } => Op::Capture { u, hold, amount, key },
                        Op::Void { u, hold, .. } => Op::Void { u, hold, key },
                        other => other,
                    });
                }
            }
            self.report.operations += ops.len();
            let (before, seen_before) = (self.images.clone(), self.seen.clone());
            self.faulting.store(true, Ordering::SeqCst);
            let outcomes = futures::future::join_all(ops.iter().cloned().map(|op| self.perform(op))).await;
            self.faulting.store(false, Ordering::SeqCst);
            for (op, outcome) in ops.into_iter().zip(outcomes) {
                self.learn(op, outcome?);
            }
            self.observe().await?;
            self.check(&before, &seen_before).await.map_err(|e| format!("step {step}: {e}"))?;
            self.report.steps += 1;
        }
        // Everything that waits is delivered (Stripe retries until acknowledged).
        for _ in 0..50 {
            if self.stripe.is_empty() && self.events.is_empty() {
                break;
            }
            let ops: Vec<Op> =
                self.stripe.drain(..).map(Op::Stripe).chain(self.events.drain(..).map(Op::Bus)).collect();
            for op in ops {
                let outcome = self.perform(op.clone()).await?;
                self.learn(op, outcome);
            }
            self.observe().await?;
        }
        // Two days on, every day of the run is closed and its commissions settled.
        let settled = self.perform(Op::Sweep { minutes: 2 * 24 * 60 }).await?;
        self.learn(Op::Sweep { minutes: 0 }, settled);
        self.observe().await?;
        let (before, seen) = (self.images.clone(), self.seen.clone());
        self.check(&before, &seen).await?;
        self.check_payments().await?;
        let checked = self.check_commissions().await?;
        self.report.outcomes.insert("commission days checked".into(), checked);
        self.report.faults = usize::try_from(self.faults.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        Ok(self.report)
    }

    /// The next operation, chosen from the seed and what the simulation knows.
    fn choose(&mut self) -> Op {
        let n = self.users.len();
        let u = self.rng.random_range(0..n);
        match self.rng.random_range(0..100) {
            0..10 => {
                let promotional = self.rng.random_bool(0.4);
                let expires_in_min =
                    (promotional || self.rng.random_bool(0.1)).then(|| self.rng.random_range(5..3 * 1440));
                let amount = self.rng.random_range(1..3_000);
                Op::Credit { u, amount, promotional, expires_in_min, key: self.key(u) }
            }
            10..30 => Op::Provision { u, cost: self.rng.random_range(1..800), key: self.key(u) },
            30..33 => Op::Bulk {
                u,
                clients: self.rng.random_range(1..4),
                cost: self.rng.random_range(1..300),
                key: self.key(u),
            },
            33..41 => Op::Hold { u, cost: self.rng.random_range(1..900), key: self.key(u) },
            41..47 if !self.holds.is_empty() => {
                let (u, hold) = self.recent_hold();
                let amount = self.rng.random_bool(0.5).then(|| self.rng.random_range(1..900));
                Op::Capture { u, hold, amount, key: self.key(u) }
            }
            47..51 if !self.holds.is_empty() => {
                let (u, hold) = self.recent_hold();
                Op::Void { u, hold, key: self.key(u) }
            }
            51..58 => {
                let to = DISTRIBUTORS + self.rng.random_range(0..DISTRIBUTORS * CHILDREN);
                let from = self.parents[to].unwrap_or(0);
                Op::Transfer { from, to, amount: self.rng.random_range(1..1_500), key: self.key(from) }
            }
            58..63 if !self.credits.is_empty() => {
                let (u, entry) = self.credits[self.rng.random_range(0..self.credits.len())].clone();
                let amount = self.rng.random_bool(0.5).then(|| self.rng.random_range(1..1_500));
                Op::Reverse { u, entry, amount, key: self.key(u) }
            }
            63..68 => {
                // Now and then a payment provider names a second reseller with an id it
                // already sent.
                self.next += 1;
                let event = if self.next.is_multiple_of(5) && self.next > 5 {
                    format!("evt-{}-s{}", self.next - 5, self.report.seed)
                } else {
                    format!("evt-{}-s{}", self.next, self.report.seed)
                };
                self.keys[u].insert(event.clone());
                Op::Webhook { u, event, amount: self.rng.random_range(100..5_000) }
            }
            68..74 => {
                self.new_payment(u, None);
                self.next_stripe()
            }
            74..84 if !self.stripe.is_empty() => self.next_stripe(),
            84..93 if !self.events.is_empty() => {
                let i = self.rng.random_range(0..self.events.len());
                // Delivered at least once, sometimes twice.
                let event = if self.rng.random_bool(0.2) { self.events[i].clone() } else { self.events.swap_remove(i) };
                Op::Bus(event)
            }
            93..95 => {
                let referred = self.rng.random_range(0..n);
                self.next += 1;
                Op::Referral { referrer: u, referred, id: format!("ref-{}-s{}", self.next, self.report.seed) }
            }
            _ => Op::Sweep { minutes: *[1, 30, 90, 600, 1500, 4000].choose(&mut self.rng).unwrap() },
        }
    }

    /// One of the last holds placed (the older ones have mostly expired).
    fn recent_hold(&mut self) -> (usize, String) {
        let from = self.holds.len().saturating_sub(4);
        self.holds[self.rng.random_range(from..self.holds.len())].clone()
    }

    /// One Stripe event waiting, delivered now, sometimes kept for a second delivery.
    fn next_stripe(&mut self) -> Op {
        let i = self.rng.random_range(0..self.stripe.len());
        let event = if self.rng.random_bool(0.25) { self.stripe[i].clone() } else { self.stripe.swap_remove(i) };
        Op::Stripe(event)
    }

    /// A Stripe payment by the buyer of reseller `u`, and everything Stripe will say of it,
    /// queued to arrive in any order: the session (perhaps naming another reseller, as an
    /// edited Payment Link would), the intent, and perhaps refunds, a failed refund, an
    /// inquiry or a dispute, won or lost.
    fn new_payment(&mut self, u: usize, top_up: Option<String>) {
        self.next += 1;
        let seed = self.report.seed;
        let id = format!("pi_{}_{seed}", self.next);
        let amount: i64 = self.rng.random_range(100..4_000);
        let n = self.users.len();
        let named = if self.rng.random_bool(0.15) { self.rng.random_range(0..n) } else { u };
        let mut session =
            checkout_session(&format!("cs_{}_{seed}", self.next), &id, self.refids[u].as_str(), amount, "usd", true);
        if let Some(request) = &top_up {
            session["metadata"] = json!({"ally_top_up_request": request});
        }
        let mut events = vec![("checkout.session.completed", session)];
        if self.rng.random_bool(0.6) {
            events.push((
                "payment_intent.succeeded",
                payment_intent(&id, Some(self.refids[named].as_str()), amount, "usd"),
            ));
        }
        // What Stripe withdraws in the end: the refunds that did not fail and a dispute lost.
        let mut withdrawn = 0;
        let mut backs = Vec::new();
        for r in 0..self.rng.random_range(0..3) {
            let part = self.rng.random_range(1..=amount);
            let re = format!("re_{}_{r}_{seed}", self.next);
            events.push(("refund.updated", refund(&re, &id, part, "usd", "succeeded")));
            if self.rng.random_bool(0.3) {
                events.push(("refund.failed", refund(&re, &id, part, "usd", "failed")));
            } else {
                withdrawn += part;
            }
            backs.push(format!("refund:{re}"));
        }
        if self.rng.random_bool(0.4) {
            let dp = format!("dp_{}_{seed}", self.next);
            if self.rng.random_bool(0.4) {
                events.push(("charge.dispute.created", dispute(&dp, &id, amount, "usd", "warning_needs_response")));
                events.push(("charge.dispute.closed", dispute(&dp, &id, amount, "usd", "warning_closed")));
            } else {
                events.push(("charge.dispute.created", dispute(&dp, &id, amount, "usd", "needs_response")));
                if self.rng.random_bool(0.5) {
                    events.push(("charge.dispute.closed", dispute(&dp, &id, amount, "usd", "won")));
                } else {
                    events.push(("charge.dispute.closed", dispute(&dp, &id, amount, "usd", "lost")));
                    withdrawn += amount;
                }
            }
            backs.push(format!("dispute:{dp}"));
        }
        let kept = (amount - withdrawn).max(0);
        for (kind, object) in events {
            self.next += 1;
            self.stripe.push(crate::stripe::event(&format!("evt_{}_{seed}", self.next), kind, object, false));
        }
        self.payments.push(Payment { id, amount, kept, backs });
    }

    /// Performs `op`, retrying with its key what a client would retry; the answer, or the
    /// refusal's code. An internal failure (a drift, a bug) ends the run.
    async fn perform(&self, op: Op) -> Result<Result<Value, String>, String> {
        let a = &self.ally;
        let user = |u: usize| &self.users[u];
        let caller = |k: &str| ally_key(k);
        let to_value = |r: Result<Value, AllyError>| r;
        let result: Result<Value, AllyError> = match &op {
            Op::Credit { u, amount, promotional, expires_in_min, key } => {
                let request = CreditRequest {
                    amount: *amount,
                    promotional: *promotional,
                    expires_at: expires_in_min.map(|m| self.now() + Duration::minutes(m)),
                    reason: Some(Note::parse("simulated").unwrap()),
                    ..CreditRequest::default()
                };
                let key = IdempotencyKey::admin(&CallerKey::parse(key.as_str()).unwrap());
                to_value(
                    retry(|| a.add_credits(user(*u), request.clone(), EntryKind::Credit, "admin", &key))
                        .await
                        .map(json_of),
                )
            }
            Op::Provision { u, cost, key } => {
                let request = ProvisionRequest { cost: Some(*cost), ..ProvisionRequest::default() };
                {
                    let key = caller(key);
                    retry(|| a.provision(user(*u), request.clone(), &key)).await
                }
                .map(json_of)
            }
            Op::Bulk { u, clients, cost, key } => {
                let clients = (0..*clients)
                    .map(|i| NewClient { name: ClientName::parse(format!("Bulk {i}")).unwrap(), email: None })
                    .collect();
                let request = BulkRequest { clients, cost: Some(*cost), product: None };
                {
                    let key = caller(key);
                    retry(|| a.bulk_onboard(user(*u), request.clone(), &key)).await
                }
                .map(json_of)
            }
            Op::Hold { u, cost, key } => {
                let expires_in_s = Some([60, 600, 3_600, 86_400][usize::try_from(*cost).unwrap_or(0) % 4]);
                let request = HoldRequest { cost: Some(*cost), expires_in_s, ..HoldRequest::default() };
                {
                    let key = caller(key);
                    retry(|| a.place_hold(user(*u), request.clone(), &key)).await
                }
                .map(json_of)
            }
            Op::Capture { u, hold, amount, key } => {
                let request = CaptureRequest { amount: *amount };
                {
                    let key = caller(key);
                    retry(|| a.capture_hold(user(*u), hold, request.clone(), &key)).await
                }
                .map(json_of)
            }
            Op::Void { u, hold, key } => {
                let key = caller(key);
                retry(|| a.void_hold(user(*u), hold, &key)).await.map(json_of)
            }
            Op::Transfer { from, to, amount, key } => {
                let request = TransferRequest { to_refid: self.refids[*to].clone(), amount: *amount, note: None };
                {
                    let key = caller(key);
                    retry(|| a.transfer_to_child(user(*from), request.clone(), &key)).await
                }
                .map(json_of)
            }
            Op::Reverse { u, entry, amount, key } => {
                let request = ReversalRequest {
                    entry_id: entry.clone(),
                    amount: *amount,
                    reason: Note::parse("simulated chargeback").unwrap(),
                };
                let key = IdempotencyKey::admin(&CallerKey::parse(key.as_str()).unwrap());
                retry(|| a.reverse(user(*u), request.clone(), "admin", &key)).await.map(json_of)
            }
            Op::Webhook { u, event, amount } => {
                let request = CreditRequest {
                    amount: *amount,
                    reason: Some(Note::parse(format!("payment {event}")).unwrap()),
                    ..CreditRequest::default()
                };
                let key = IdempotencyKey::payment(event).unwrap();
                retry(|| a.add_credits(user(*u), request.clone(), EntryKind::Credit, "webhook:payments", &key))
                    .await
                    .map(json_of)
            }
            Op::Stripe(event) => {
                let event = ally::http::stripe::StripeEvent {
                    id: event["id"].as_str().unwrap_or_default().to_string(),
                    kind: event["type"].as_str().unwrap_or_default().to_string(),
                    livemode: false,
                    data: ally::http::stripe::StripeData { object: event["data"]["object"].clone() },
                };
                retry(|| ally::http::stripe::handle(a, event.clone())).await.map(json_of)
            }
            Op::Bus(event) => retry(|| self.bus.deliver(event)).await.map(|h| json!(format!("{h:?}"))),
            Op::Referral { referrer, referred, id } => {
                let detail = json!({
                    "referral_id": id,
                    "referrer_user_id": user(*referrer).as_str(),
                    "referred_user_id": user(*referred).as_str(),
                    "tag": "become-partner",
                });
                let event =
                    BusEvent { source: REFERRAL_SOURCE.into(), detail_type: "ReferralCompleted".into(), detail };
                retry(|| self.bus.deliver(&event)).await.map(|h| json!(format!("{h:?}")))
            }
            Op::Sweep { minutes } => {
                self.clock.fetch_add(minutes * 60_000, Ordering::SeqCst);
                retry(|| ally::events::handlers::sweep(a)).await.map(|s| json!(format!("{s:?}")))
            }
        };
        match result {
            Ok(value) => Ok(Ok(value)),
            Err(e @ AllyError::Internal(_)) => Err(format!("{} failed inside: {e:?}", op.name())),
            // Stripe retries what is refused for days, then gives up: a payment lost.
            Err(e) if matches!(op, Op::Stripe(_)) && !transient(&e) => {
                Err(format!("a Stripe event was refused ({e}), so Stripe would give it up: {op:?}"))
            }
            Err(e) if transient(&e) => Ok(Err(code(&e))),
            Err(e) => Ok(Err(code(&e))),
        }
    }

    /// What the simulation learns from an outcome: holds placed, credits to reverse.
    fn learn(&mut self, op: Op, outcome: Result<Value, String>) {
        let name = op.name();
        let how = match &outcome {
            Ok(_) => "ok".to_string(),
            Err(code) => code.clone(),
        };
        *self.report.outcomes.entry(format!("{name} {how}")).or_default() += 1;
        let value = match outcome {
            Ok(value) => value,
            Err(code) => {
                // Stripe redelivers what was not acknowledged for a passing reason.
                if let Op::Stripe(event) = op
                    && matches!(code.as_str(), "store" | "busy" | "throttled")
                {
                    self.stripe.push(event);
                }
                return;
            }
        };
        match op {
            Op::Hold { u, .. } => {
                if let Some(id) = value["hold"]["id"].as_str() {
                    self.holds.push((u, id.to_string()));
                }
            }
            Op::Capture { hold, .. } | Op::Void { hold, .. } => self.holds.retain(|(_, h)| *h != hold),
            Op::Credit { u, .. } => {
                if let Some(id) = value["transaction"]["id"].as_str() {
                    self.credits.push((u, id.to_string()));
                }
            }
            _ => {}
        }
    }

    /// Reads every wallet and ledger; publishes the changes since the last look through the
    /// real publisher (its events wait to be delivered), and pays the auto top-ups asked.
    async fn observe(&mut self) -> Result<(), String> {
        let mut records = Vec::new();
        for u in 0..self.users.len() {
            let r = self.ally.store().reseller(&self.users[u]).await.map_err(|e| e.to_string())?.ok_or("gone")?;
            for entry in self.ledger(u).await? {
                if self.seen.insert(entry.id.clone()) {
                    let change = ItemChange {
                        id: format!("entry-{}", entry.id),
                        at: entry.created_at,
                        old: None,
                        new: Some(Stored::Entry { owner_id: self.users[u].clone(), entry }),
                    };
                    records.push(change);
                }
            }
            let before = self.images.insert(u, r.clone());
            if before.as_ref().is_some_and(|b| b.version != r.version) {
                records.push(ItemChange {
                    id: format!("reseller-{}-{}", r.user_id, r.version),
                    at: r.updated_at,
                    old: before.map(|b| Stored::Reseller(Box::new(b))),
                    new: Some(Stored::Reseller(Box::new(r.clone()))),
                });
            }
            // A pending auto top-up request is paid by the partner's Stripe flow.
            if let Some(pending) = r.auto_top_up.as_ref().and_then(|t| t.pending.as_ref()) {
                let asked = format!("topup-{}", pending.request_id);
                if self.seen.insert(asked) {
                    self.new_payment(u, Some(pending.request_id.clone()));
                }
            }
        }
        let threshold = self.ally.config().low_credit_threshold;
        let records = records
            .into_iter()
            .map(|change| {
                let whole = serde_json::to_value(&change).unwrap_or_default();
                publisher::Record { report_id: change.id.clone(), change: Ok(change), whole }
            })
            .collect();
        let failed = publisher::publish(self.ally.store(), &self.captured, &self.parked, threshold, records).await;
        if !failed.is_empty() {
            return Err(format!("the publisher failed: {failed:?}"));
        }
        let published: Vec<BusEvent> = std::mem::take(&mut *self.captured.0.lock().unwrap());
        self.events.extend(published.iter().cloned());
        self.published.extend(published);
        Ok(())
    }

    async fn ledger(&self, u: usize) -> Result<Vec<LedgerEntry>, String> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(100);
        loop {
            let found = self.ally.ledger(&self.users[u], &page).await.map_err(|e| e.to_string())?;
            out.extend(found.items);
            match found.next_cursor {
                Some(cursor) => page = PageRequest { cursor: Some(cursor), ..page },
                None => return Ok(out),
            }
        }
    }

    /// The laws, after every step:
    /// - each wallet's balance is the sum of its ledger; its lots are its balance and reserve;
    /// - `available >= 0`, `debt >= 0`; `held` is what its active holds reserve;
    /// - debt is repaid first: what a step's closed holds freed repays what the wallet owed;
    /// - no credit is taken back beyond itself: its reversals and its expiry within its amount;
    /// - the debt is what reversals could not take, less what was repaid;
    /// - credit keeps its kind: per lot kind, the lots hold exactly what the entries moved,
    ///   and a transfer delivers the kinds it drew;
    /// - an external payment credits at most once in the whole network;
    /// - no reseller's ledger, events or mails name another reseller's user id or key.
    async fn check(&self, before: &BTreeMap<usize, Reseller>, seen_before: &BTreeSet<String>) -> Result<(), String> {
        let mut debt_law = (0i64, 0i64);
        let mut kinds: HashMap<(LotKind, &'static str), i64> = HashMap::new();
        let mut transfers: HashMap<(LotKind, bool), i64> = HashMap::new();
        let mut payments: BTreeMap<String, usize> = BTreeMap::new();
        let mut ledgers = Vec::new();
        for u in 0..self.users.len() {
            let who = &self.users[u];
            let r = self.ally.store().reseller(who).await.map_err(|e| e.to_string())?.ok_or("gone")?;
            let entries = self.ledger(u).await?;
            let sum: i64 = entries.iter().map(LedgerEntry::delta).sum();
            let fail = |law: &str| Err(format!("{who}: {law}: {r:?}"));
            if sum != r.balance {
                return fail(&format!("the ledger sums to {sum}, not the balance"));
            }
            if r.lots.total() != r.balance || r.lots.reserved() != r.held {
                return fail("the lots are not the balance and the reserve");
            }
            if r.available() < 0 || r.held < 0 || r.debt < 0 {
                return fail("a negative available, reserve or debt");
            }
            let holds = self.ally.holds(who, None, &PageRequest::first(1_000)).await.map_err(|e| e.to_string())?;
            // Debt first: what holds closed in this step freed repays what the wallet owed.
            let debt_before = before.get(&u).map_or(0, |b| b.debt);
            let freed: i64 = holds
                .items
                .iter()
                .filter(|h| h.closed_at.is_some() && !self.closed.lock().unwrap().contains(&h.id))
                .map(|h| h.amount - h.captured.unwrap_or(0))
                .sum();
            let repaid: i64 = entries
                .iter()
                .filter(|e| e.kind == EntryKind::DebtRepayment && !seen_before.contains(&e.id))
                .map(|e| e.amount)
                .sum();
            if debt_before > 0 && repaid < freed.min(debt_before) {
                return fail(&format!("holds freed {freed} while it owed {debt_before}; repaid {repaid}"));
            }
            self.closed
                .lock()
                .unwrap()
                .extend(holds.items.iter().filter(|h| h.closed_at.is_some()).map(|h| h.id.clone()));
            let reserved: i64 = holds.items.iter().filter(|h| h.closed_at.is_none()).map(|h| h.amount).sum();
            if reserved != r.held {
                return fail(&format!("held is not its active holds ({reserved})"));
            }
            for lot in r.lots.iter() {
                *kinds.entry((lot.kind, "lots")).or_default() += lot.remaining;
            }
            let mut debt_added = 0;
            for e in &entries {
                for d in &e.lots {
                    *kinds.entry((d.kind, "entries")).or_default() += e.kind.sign() * d.amount;
                    match e.kind {
                        EntryKind::TransferIn => *transfers.entry((d.kind, true)).or_default() += d.amount,
                        EntryKind::TransferOut => *transfers.entry((d.kind, false)).or_default() += d.amount,
                        _ => {}
                    }
                }
                match e.kind {
                    EntryKind::Credit | EntryKind::Reward | EntryKind::Commission => {
                        debt_added += e.reversed;
                        // Money back given back is credited and lowers what was reversed.
                        if e.idempotency_key.contains(":move:") {
                            debt_added += e.amount;
                        }
                        if let Some(fed) = e.lots.first() {
                            let lot = self.ally.store().lot(who, &fed.lot).await.map_err(|e| e.to_string())?;
                            let expired = lot.map_or(0, |l| l.expired * fed.amount / l.amount.max(1));
                            if e.reversed + expired > e.amount {
                                return fail(&format!(
                                    "credit {} reversed {} after {expired} expired",
                                    e.id, e.reversed
                                ));
                            }
                        }
                        if e.idempotency_key.starts_with("payment:") && e.kind == EntryKind::Credit {
                            *payments.entry(e.idempotency_key.clone()).or_default() += 1;
                        }
                    }
                    EntryKind::Reversal => debt_added -= e.amount,
                    EntryKind::DebtRepayment => debt_added -= e.amount,
                    _ => {}
                }
            }
            debt_law.0 += debt_added;
            debt_law.1 += r.debt;
            ledgers.push((u, serde_json::to_string(&entries).unwrap()));
        }
        if debt_law.0 != debt_law.1 {
            return Err(format!("the debts sum to {}, the ledgers say {}", debt_law.1, debt_law.0));
        }
        for kind in [LotKind::Paid, LotKind::Promotional] {
            let (lots, moved) = (kinds.get(&(kind, "lots")), kinds.get(&(kind, "entries")));
            if lots.copied().unwrap_or(0) != moved.copied().unwrap_or(0) {
                return Err(format!("{kind:?} credit: the lots hold {lots:?}, the entries moved {moved:?}"));
            }
            if transfers.get(&(kind, true)) != transfers.get(&(kind, false)) {
                return Err(format!("{kind:?} credit changed kind on the way down the tree: {transfers:?}"));
            }
        }
        if let Some((key, n)) = payments.iter().find(|(_, n)| **n > 1) {
            return Err(format!("payment {key} credited {n} times in the network"));
        }
        // What each reseller reads names no one else: every user id and key of the run is
        // a token of its own, looked up in what each reads; the admin's user id is no
        // reader's (an admin is `admin` to them).
        let owners: HashMap<&str, usize> = (0..self.users.len())
            .flat_map(|u| {
                std::iter::once(self.users[u].as_str())
                    .chain(self.keys[u].iter().map(String::as_str))
                    .map(move |t| (t, u))
            })
            .chain(std::iter::once((ADMIN_USER, usize::MAX - 1)))
            .collect();
        let foreign = |text: &str, reader: usize| {
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .find(|token| owners.get(token).is_some_and(|owner| *owner != reader))
                .map(ToString::to_string)
        };
        for (u, seen) in &ledgers {
            if let Some(token) = foreign(seen, *u) {
                return Err(format!("{}'s ledger names {token}, another reseller's", self.users[*u]));
            }
        }
        let reader = |user: &str| self.users.iter().position(|x| x.as_str() == user).unwrap_or(usize::MAX);
        for event in self.published.iter().skip(self.checked.0.load(Ordering::Relaxed)) {
            let owner = reader(event.detail["reseller"]["user_id"].as_str().unwrap_or_default());
            if let Some(token) = foreign(&event.detail.to_string(), owner) {
                return Err(format!("an event names {token}, another reseller's: {}", event.detail));
            }
        }
        self.checked.0.store(self.published.len(), Ordering::Relaxed);
        let mails = self.outbox.sent();
        for mail in mails.iter().skip(self.checked.1.load(Ordering::Relaxed)) {
            let to = mail.to.strip_prefix('r').and_then(|m| m.split('@').next()).and_then(|n| n.parse().ok());
            if let Some(token) = foreign(&mail.text, to.unwrap_or(usize::MAX)) {
                return Err(format!("a mail to {} names {token}, another reseller's", mail.to));
            }
        }
        self.checked.1.store(mails.len(), Ordering::Relaxed);
        Ok(())
    }

    /// With every Stripe event delivered: each payment's credit came to what Stripe kept.
    /// Each parent was paid, for each day, exactly the commission its children's spends of
    /// that day earned at its tier (the paid part and the promotional part apart), once.
    async fn check_commissions(&self) -> Result<usize, String> {
        let commissions = config().commissions;
        let mut owed: BTreeMap<(RefId, chrono::NaiveDate), ally::domain::Accrual> = BTreeMap::new();
        let mut paid: BTreeMap<(RefId, chrono::NaiveDate), (i64, i64)> = BTreeMap::new();
        for u in 0..self.users.len() {
            for e in self.ledger(u).await? {
                if let (EntryKind::Debit, Some(parent)) = (e.kind, &e.commission_to) {
                    let promotional = e.lots.iter().filter(|d| d.kind == LotKind::Promotional).map(|d| d.amount).sum();
                    let spend =
                        ally::domain::Accrual { parent: parent.clone(), spent: e.amount, promotional, spends: 1 };
                    owed.entry((parent.clone(), e.created_at.date_naive()))
                        .and_modify(|a| a.add(&spend))
                        .or_insert(spend);
                }
                if e.kind == EntryKind::Commission {
                    // `commission:<day>`, `:promotional`, and `:<n>` for a day paid in parts.
                    let key = e.idempotency_key.trim_start_matches("commission:");
                    let day: chrono::NaiveDate =
                        key.get(..10).and_then(|d| d.parse().ok()).ok_or(format!("a commission key {key}"))?;
                    let slot = paid.entry((self.refids[u].clone(), day)).or_default();
                    if key.contains(":promotional") {
                        slot.1 += e.amount;
                    } else {
                        slot.0 += e.amount;
                    }
                }
            }
        }
        let checked = owed.len();
        for ((parent, day), accrued) in &owed {
            let u = self.refids.iter().position(|r| r == parent).ok_or("a parent outside the tree")?;
            let tier = self.images.get(&u).map_or(Tier::Standard, |r| r.tier);
            let (amount, promotional) = commissions.earned(accrued, tier);
            let got = paid.remove(&(parent.clone(), *day)).unwrap_or_default();
            if got != (amount - promotional, promotional) {
                return Err(format!(
                    "{parent} on {day}: paid {got:?} for {} spent ({} promotional), owed {:?}",
                    accrued.spent,
                    accrued.promotional,
                    (amount - promotional, promotional)
                ));
            }
        }
        match paid.into_iter().find(|(_, got)| *got != (0, 0)) {
            Some(((parent, day), got)) => Err(format!("{parent} paid {got:?} for {day}, on no spend")),
            None => Ok(checked),
        }
    }

    async fn check_payments(&self) -> Result<(), String> {
        let mut all = Vec::new();
        for u in 0..self.users.len() {
            all.extend(self.ledger(u).await?);
        }
        for p in &self.payments {
            let key = format!("payment:stripe:{}", p.id);
            let credits: Vec<&LedgerEntry> =
                all.iter().filter(|e| e.idempotency_key == key && e.kind == EntryKind::Credit).collect();
            if p.amount > MAX_CREDIT {
                if !credits.is_empty() {
                    return Err(format!("payment {} above the maximum was credited", p.id));
                }
                continue;
            }
            let [credit] = credits.as_slice() else {
                return Err(format!("payment {} credited {} times", p.id, credits.len()));
            };
            // Money back given back lowers what was reversed of the credit.
            let net = credit.amount - credit.reversed;
            if credit.amount != p.amount || net != p.kept {
                return Err(format!(
                    "payment {} of {}: credited {}, reversed {} (money back {:?}); Stripe kept {}",
                    p.id, p.amount, credit.amount, credit.reversed, p.backs, p.kept
                ));
            }
        }
        Ok(())
    }
}

/// A partner's own key.
fn ally_key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::caller(&CallerKey::parse(raw).unwrap())
}

fn json_of<T: serde::Serialize>(value: T) -> Value {
    serde_json::to_value(value).unwrap_or_default()
}

/// `call` until it answers with something other than a failure a client retries (at most
/// five tries, as a client would give up).
async fn retry<T, F: std::future::Future<Output = Result<T, AllyError>>>(call: impl Fn() -> F) -> Result<T, AllyError> {
    let mut last = None;
    for _ in 0..5 {
        match call().await {
            Err(e) if transient(&e) => last = Some(e),
            answer => return answer,
        }
    }
    Err(last.unwrap_or(AllyError::Contention))
}

/// Runs seed `seed` over `store` for `steps` steps and prints its report.
pub async fn simulate<S: Faulty>(store: S, seed: u64, steps: usize) -> Result<Report, String> {
    let run = async {
        let sim = Simulation::new(store, seed).await?;
        sim.run(steps).await
    };
    match run.await {
        Ok(report) => {
            println!(
                "seed {seed}: {} steps, {} operations, {} faults injected, laws held; outcomes {:?}",
                report.steps, report.operations, report.faults, report.outcomes
            );
            Ok(report)
        }
        Err(e) => Err(format!("seed {seed} broke a law (replay: make simulate SEED={seed}): {e}")),
    }
}
