//! Ambiguous failures on the DynamoDB store. Every DynamoDB call that add credits,
//! provision, bulk onboarding, a hold and its capture or void, a reversal, a lot's expiry
//! and the referral reward make is, in turn, refused before it is
//! sent, and served with its response lost (the write committed, the caller never hears).
//! The caller then retries with the same key, as a client or an event source would: the
//! money moved exactly once, the ledger explains the balance, the counters agree, and a
//! further retry replays the same answer. DynamoDB's throttling past the SDK's retries
//! answers 503 with nothing moved, reads and writes alike.

use ally_tests::{ally_on, credit, spend};
use std::sync::Arc;

use ally::domain::AllyError;
use ally::domain::{EntryKind, Tier};
use ally::events::ReferralCompleted;
use ally::events::reactions::{Handled, reward_referral};
use ally::service::{BulkRequest, CreditRequest, NewClient};
use ally::store::PageRequest;
use ally::store::dynamo::DynamoStore;
use ally::{Ally, Config};
use ally_tests::sdk::{SdkCalls, SdkFault};
use ally_tests::{all_entries, assert_ledger_matches_balance, cname, ikey, reseller_with, rid, uid};

const OPENING: i64 = 10_000;

#[derive(Debug, Clone, Copy)]
enum Operation {
    AddCredits,
    Provision,
    Bulk,
    Referral,
    /// A hold placed, then captured whole: faults in either.
    Capture,
    /// 4,000 of the opening credit reversed (its entry read, then the reversal written).
    Reversal,
    /// A hold placed, then voided: faults in either.
    Void,
    /// A promotional grant of 4,000 that has expired, written down by the expiry job.
    Expiry,
}

/// What one successful operation leaves behind on a gold wallet of 10,000: its balance,
/// the one entry it wrote (kind and amount; none for a void), what it bought.
struct Effect {
    balance: i64,
    entry: Option<(EntryKind, i64)>,
    clients: i64,
    provisions: i64,
}

/// The promotional grant the expiry operation starts from.
const GRANT: i64 = 4_000;

impl Operation {
    fn effect(self) -> Effect {
        match self {
            Operation::AddCredits => {
                Effect { balance: OPENING + 500, entry: Some((EntryKind::Credit, 500)), clients: 0, provisions: 0 }
            }
            // Base 100 at gold (15 % off) is 85.
            Operation::Provision | Operation::Capture => {
                Effect { balance: OPENING - 85, entry: Some((EntryKind::Debit, 85)), clients: 0, provisions: 1 }
            }
            Operation::Bulk => {
                Effect { balance: OPENING - 255, entry: Some((EntryKind::Debit, 255)), clients: 3, provisions: 3 }
            }
            Operation::Referral => {
                Effect { balance: OPENING + 1_000, entry: Some((EntryKind::Reward, 1_000)), clients: 0, provisions: 0 }
            }
            Operation::Reversal => Effect {
                balance: OPENING - 4_000,
                entry: Some((EntryKind::Reversal, 4_000)),
                clients: 0,
                provisions: 0,
            },
            Operation::Void => Effect { balance: OPENING, entry: None, clients: 0, provisions: 0 },
            Operation::Expiry => {
                Effect { balance: OPENING, entry: Some((EntryKind::Expiry, GRANT)), clients: 0, provisions: 0 }
            }
        }
    }

    /// What the operation needs before it runs: an expired promotional lot for the expiry,
    /// a referred user of its own, already a reseller, for the referral (the reward is due,
    /// and the recruit joins the referrer's tree).
    async fn prepare(self, ally: &Ally<DynamoStore>, user: &str) {
        if let Operation::Referral = self {
            ally_tests::onboarded(ally, &format!("newcomer-{user}"), Tier::Standard, None).await;
        }
        if let Operation::Expiry = self {
            let grant = CreditRequest {
                amount: GRANT,
                reason: Some(ally_tests::note("promotion")),
                promotional: true,
                expires_at: Some(chrono::Utc::now() + chrono::Duration::milliseconds(1_500)),
                top_up_request: None,
            };
            let expires_at = grant.expires_at;
            ally.add_credits(&uid(user), grant, EntryKind::Credit, "admin-1", &ikey(&format!("grant-{user}")))
                .await
                .expect("the grant");
            ally_tests::sleep_past(expires_at).await;
        }
    }

    /// The entries written before it runs: the opening credit, and the grant of an expiry.
    fn entries_before(self) -> usize {
        if let Operation::Expiry = self { 2 } else { 1 }
    }

    /// Runs the operation for `user` with a fixed key; the balance it reports.
    async fn perform(self, ally: &Ally<DynamoStore>, user: &str) -> Result<i64, AllyError> {
        match self {
            Operation::AddCredits => {
                let credit =
                    CreditRequest { amount: 500, reason: Some(ally_tests::note("top-up")), ..CreditRequest::default() };
                Ok(ally
                    .add_credits(&uid(user), credit, EntryKind::Credit, "admin-1", &ikey("admin:top-up-1"))
                    .await?
                    .balance)
            }
            Operation::Capture => {
                let request = ally::service::HoldRequest { cost: Some(100), ..Default::default() };
                let placed = ally.place_hold(&uid(user), request, &ikey("hold-1")).await?;
                let capture = ally::service::CaptureRequest::default();
                Ok(ally.capture_hold(&uid(user), &placed.hold.id, capture, &ikey("capture-1")).await?.balance)
            }
            Operation::Void => {
                let request = ally::service::HoldRequest { cost: Some(100), ..Default::default() };
                let placed = ally.place_hold(&uid(user), request, &ikey("hold-1")).await?;
                Ok(ally.void_hold(&uid(user), &placed.hold.id, &ikey("void-1")).await?.available)
            }
            Operation::Expiry => {
                ally.expire_lots().await?;
                Ok(ally.find_by_user(&uid(user)).await?.balance)
            }
            Operation::Provision => {
                let request = spend(100);
                Ok(ally.provision(&uid(user), request, &ikey("provision-1")).await?.balance)
            }
            Operation::Bulk => {
                let clients = (1..=3).map(|i| NewClient { name: cname(&format!("Client {i}")), email: None }).collect();
                let request = BulkRequest { clients, product: None, cost: Some(100) };
                Ok(ally.bulk_onboard(&uid(user), request, &ikey("bulk-1")).await?.balance)
            }
            Operation::Reversal => {
                let ledger = ally.ledger(&uid(user), &PageRequest::first(10)).await?.items;
                let opening = ledger.into_iter().find(|e| e.kind == EntryKind::Credit && e.amount == OPENING);
                let request = ally::service::ReversalRequest {
                    entry_id: opening.expect("the opening credit").id,
                    amount: Some(4_000),
                    reason: ally_tests::note("chargeback"),
                };
                let key = ally::domain::IdempotencyKey::admin(&ally::domain::CallerKey::parse("reversal-1").unwrap());
                Ok(ally.reverse(&uid(user), request, "admin-1", &key).await?.balance)
            }
            Operation::Referral => {
                let event = ReferralCompleted {
                    referral_id: "referral-1".into(),
                    referrer_user_id: user.into(),
                    referred_user_id: format!("newcomer-{user}"),
                    tag: "become-partner".into(),
                };
                match reward_referral(ally, &event, chrono::Utc::now()).await? {
                    Handled::Done => Ok(ally.find_by_user(&uid(user)).await?.balance),
                    other => panic!("the referral was {other:?}, not rewarded"),
                }
            }
        }
    }
}

/// Everything the operation must have done exactly once for `user`.
async fn assert_done_once(ally: &Ally<DynamoStore>, user: &str, op: Operation, case: &str) {
    let effect = op.effect();
    let reseller = ally.find_by_user(&uid(user)).await.expect("reseller");
    assert_eq!(reseller.balance, effect.balance, "{case}: balance");
    assert_ledger_matches_balance(ally, user).await;
    assert_eq!(reseller.held, 0, "{case}: nothing stays reserved");
    if let Operation::Referral = op {
        let recruit = ally.find_by_user(&uid(&format!("newcomer-{user}"))).await.expect("the recruit");
        assert_eq!(recruit.parent.map(|p| p.refid), Some(reseller.refid.clone()), "{case}: the recruit's parent");
    }
    let entries = all_entries(ally, user).await;
    let written: Vec<_> =
        entries.iter().take(entries.len() - op.entries_before()).map(|e| (e.kind, e.amount)).collect();
    assert_eq!(written, Vec::from_iter(effect.entry), "{case}: the entries it wrote, of {entries:?}");
    let stats = ally.stats(&uid(user)).await.expect("stats");
    // Credits distributed, net: a spend or an expiry takes nothing back, a reversal does.
    let added = OPENING
        + match effect.entry {
            Some((EntryKind::Reversal, amount)) => -amount,
            Some((EntryKind::Credit | EntryKind::Reward, amount)) => amount,
            Some((EntryKind::Expiry, _)) => GRANT,
            _ => 0,
        };
    let spent = match effect.entry {
        Some((EntryKind::Debit, amount)) => amount,
        _ => 0,
    };
    assert_eq!(
        (stats.clients, stats.provisions, stats.credits_added, stats.credits_spent),
        (effect.clients, effect.provisions, added, spent),
        "{case}: stats"
    );
    let clients = ally.clients(&uid(user), &PageRequest::first(100)).await.expect("clients").items;
    assert_eq!(clients.len() as i64, effect.clients, "{case}: clients {clients:?}");
}

async fn sweep(op: Operation) {
    let calls = SdkCalls::default();
    let ally = ally_on(calls.store().await);

    // A clean run tells how many calls there are to break.
    reseller_with(&ally, "clean", Tier::Gold, OPENING).await;
    op.prepare(&ally, "clean").await;
    calls.take();
    op.perform(&ally, "clean").await.expect("clean run");
    let by_operation = calls.take();
    eprintln!("{op:?}: {by_operation:?}");
    let steps: u64 = by_operation.values().sum();
    assert!(steps >= 2, "{op:?} made {steps} DynamoDB calls");
    assert_done_once(&ally, "clean", op, &format!("{op:?} clean")).await;

    let mut users = vec!["clean".to_string()];
    for fault in [SdkFault::Refuse, SdkFault::LoseResponse] {
        for n in 1..=steps {
            let case = format!("{op:?}, call {n} of {steps}: {fault:?}");
            let user = format!("{op:?}-{fault:?}-{n}").to_lowercase();
            reseller_with(&ally, &user, Tier::Gold, OPENING).await;
            op.prepare(&ally, &user).await;
            calls.arm(n, fault);
            let first = op.perform(&ally, &user).await;
            assert!(calls.fired(), "{case}: the fault was never reached ({first:?})");
            calls.disarm();
            let retried = op.perform(&ally, &user).await.unwrap_or_else(|e| panic!("{case}: the retry failed: {e}"));
            assert_eq!(retried, op.effect().balance, "{case}: the retry's answer");
            if let Ok(balance) = first {
                assert_eq!(balance, retried, "{case}: the first answer");
            }
            assert_eq!(op.perform(&ally, &user).await.expect("replay"), retried, "{case}: a replay");
            assert_done_once(&ally, &user, op, &case).await;
            users.push(user);
        }
    }
    let mut total = 0;
    for user in &users {
        total += ally.find_by_user(&uid(user)).await.expect("reseller").balance;
    }
    ally_tests::stream::catch_up(ally.store()).await;
    assert_eq!(ally.total_credits().await.expect("total"), total, "{op:?}: outstanding credits counter");
}

#[tokio::test]
async fn add_credits_survives_a_fault_at_every_call() {
    sweep(Operation::AddCredits).await;
}

#[tokio::test]
async fn provision_survives_a_fault_at_every_call() {
    sweep(Operation::Provision).await;
}

#[tokio::test]
async fn bulk_onboarding_survives_a_fault_at_every_call() {
    sweep(Operation::Bulk).await;
}

#[tokio::test]
async fn a_hold_and_its_capture_survive_a_fault_at_every_call() {
    sweep(Operation::Capture).await;
}

#[tokio::test]
async fn a_reversal_survives_a_fault_at_every_call() {
    sweep(Operation::Reversal).await;
}

#[tokio::test]
async fn a_void_survives_a_fault_at_every_call() {
    sweep(Operation::Void).await;
}

#[tokio::test]
async fn a_lot_expiry_survives_a_fault_at_every_call() {
    sweep(Operation::Expiry).await;
}

#[tokio::test]
async fn the_referral_reward_survives_a_fault_at_every_call() {
    sweep(Operation::Referral).await;
}

/// A refid names one user for good, so a process resolves it once: the second top-up by
/// refid is one wallet read and one transaction. A refid that named nobody is not
/// remembered: once a reseller holds it, it resolves.
#[tokio::test]
async fn a_process_resolves_a_refid_once_and_never_remembers_a_miss() {
    let calls = SdkCalls::default();
    let store = calls.store().await;
    let ally = ally_on(store.clone()).with_refids(Arc::new(|| rid("QATECMER12")));
    let top_up = |n: u32| {
        let ally = &ally;
        async move {
            let user = ally.user_by_refid(&rid("QATECMER12")).await?;
            let credit = credit(100);
            ally.add_credits(&user, credit, EntryKind::Credit, "admin-1", &ikey(&format!("top-up-{n}"))).await
        }
    };
    assert!(matches!(top_up(0).await, Err(AllyError::NotFound("reseller"))), "no reseller holds the refid yet");

    // Onboarded by another process: this one has not met the refid.
    let elsewhere = ally_on(store).with_refids(Arc::new(|| rid("QATECMER12")));
    ally_tests::onboarded(&elsewhere, "late", Tier::Standard, None).await;
    calls.take();
    assert_eq!(top_up(1).await.expect("the refid resolves now").balance, 100);
    let first = calls.take();
    assert_eq!(top_up(2).await.expect("a second top-up").balance, 200);
    let second = calls.take();
    // What the calls are (the counts are the benchmark's to print): the refid read once.
    assert!(first.contains_key("GetItem"), "the first top-up reads the refid: {first:?}");
    assert!(!second.contains_key("GetItem"), "the refid is not read again: {second:?}");
}

/// DynamoDB throttling that outlasts the SDK's own retries: the caller is told to come back
/// later (503 `throttled`), never a 500, and a read once DynamoDB answers again is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_past_the_sdks_retries_answers_503() {
    let throttled = ally_tests::sdk::SdkCalls::default();
    let api = ally_tests::TestApi::new(throttled.store().await, Config::default());
    let (token, _) = api.partner("busy", "gold", 1_000).await;
    throttled.refuse("BatchGetItem", "ProvisionedThroughputExceededException", u32::MAX);
    let answer = api.call("GET", "/resellers/me", Some(&token), None).await;
    ally_tests::assert_problem(&answer, 503, "throttled", "a throttled read");
    assert!(throttled.refused() >= 2, "the SDK tried again before giving up: {}", throttled.refused());
    throttled.refuse("BatchGetItem", "ProvisionedThroughputExceededException", 0);
    let answer = api.call("GET", "/resellers/me", Some(&token), None).await;
    assert_eq!((answer.status, answer.body["balance"].as_i64()), (200, Some(1_000)), "{answer:?}");
}

/// A spend whose transaction DynamoDB keeps throttling: 503 `throttled`, nothing moved, and
/// the caller's retry with the same key, once DynamoDB answers again, spends exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_spend_moves_nothing_and_its_retry_spends_once() {
    let throttled = ally_tests::sdk::SdkCalls::default();
    let api = ally_tests::TestApi::new(throttled.store().await, Config::default());
    let (token, _) = api.partner("busy", "gold", 1_000).await;
    let before = api.holdings(&token).await;
    throttled.refuse("TransactWriteItems", "ThrottlingException", u32::MAX);
    let spend = serde_json::json!({"cost": 100});
    let answer = api.provision(&token, "buy-1", spend.clone()).await;
    ally_tests::assert_problem(&answer, 503, "throttled", "a throttled spend");
    assert!(throttled.refused() >= 2, "the SDK tried again before giving up: {}", throttled.refused());
    assert_eq!(api.holdings(&token).await, before, "nothing moved");
    throttled.refuse("TransactWriteItems", "ThrottlingException", 0);
    let first = api.provision(&token, "buy-1", spend.clone()).await;
    assert_eq!((first.status, first.body["balance"].as_i64()), (200, Some(915)), "{first:?}");
    let again = api.provision(&token, "buy-1", spend).await;
    assert_eq!(again.body, first.body, "the same key replays");
    assert_eq!(api.holdings(&token).await["me"]["balance"], 915);
}
