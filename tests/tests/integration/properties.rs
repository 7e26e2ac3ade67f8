//! Property tests (proptest). Pricing and credit arithmetic over the whole `i64` range; then
//! random sequences of onboarding, top-ups, provisions, bulk onboardings, replays and tier,
//! status and hold changes, with amounts at and past the limits and idempotency keys drawn
//! from a small pool so that replays and key conflicts happen. After every step: a refused
//! operation changed nothing and a replay answered the same and changed nothing; at the end
//! every balance is >= 0 and equals its ledger sum, the stats add up, and every analytics
//! figure equals its brute-force recomputation. Many sequences on the memory store, a few on
//! the DynamoDB emulator.

use ally::Ally;
use ally::domain::{Credits, Discounts, EntryKind, Tier, checked_balance};
use ally::service::{BulkRequest, CreditRequest, NewClient, ProvisionRequest, ResellerPatch};
use ally::store::{PageRequest, Store};
use ally_tests::ally_on;
use ally_tests::figures::assert_figures_match;
use ally_tests::stream::CatchUp;
use ally_tests::{Holdings, all_entries, assert_ledger_matches_balance, cname, ikey, reseller_with, uid};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};
use serde_json::{Value, json};

const USERS: usize = 3;
const MAX_CREDIT: i64 = 100_000_000;

fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

proptest! {
    #[test]
    fn a_price_is_between_one_credit_and_the_base(base in 1..=i64::MAX, gold in 0u8..=99, platinum in 0u8..=99, t in tier()) {
        let discounts = Discounts { gold, platinum };
        let price = discounts.price(Credits::new(base, i64::MAX).unwrap(), t).get();
        prop_assert!((1..=base).contains(&price));
        // Rounded up to whole credits: never below the exact discounted price, less than one above.
        let exact = i128::from(base) * i128::from(100 - discounts.percent(t));
        prop_assert!(i128::from(price) * 100 >= exact && i128::from(price) * 100 < exact + 100);
    }

    #[test]
    fn credits_are_positive_and_bounded(amount in any::<i64>(), max in 1..=i64::MAX) {
        match Credits::new(amount, max) {
            Ok(credits) => prop_assert!(amount >= 1 && amount <= max && credits.get() == amount),
            Err(_) => prop_assert!(amount < 1 || amount > max),
        }
    }

    #[test]
    fn a_total_is_exact_or_refused(
        amount in prop_oneof![1..1_000_000i64, 1..=i64::MAX],
        count in prop_oneof![0usize..1_000, any::<usize>()],
    ) {
        let exact = i128::from(amount) * count as i128;
        match Credits::new(amount, i64::MAX).unwrap().times(count) {
            Ok(total) => prop_assert_eq!(i128::from(total.get()), exact),
            Err(_) => prop_assert!(exact > i128::from(i64::MAX) || exact == 0),
        }
    }

    #[test]
    fn a_balance_change_is_exact_or_refused(balance in any::<i64>(), delta in any::<i64>()) {
        let exact = i128::from(balance) + i128::from(delta);
        match checked_balance(balance, delta) {
            Ok(sum) => prop_assert_eq!(i128::from(sum), exact),
            Err(_) => prop_assert!(exact > i128::from(i64::MAX) || exact < i128::from(i64::MIN)),
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    Add {
        user: usize,
        amount: i64,
        key: u8,
    },
    Provision {
        user: usize,
        cost: i64,
        key: u8,
    },
    Bulk {
        user: usize,
        clients: usize,
        cost: i64,
        key: u8,
    },
    Client {
        user: usize,
    },
    /// Reserve `cost`, then capture `captured` of it (1 to all), or void it when none.
    Held {
        user: usize,
        cost: i64,
        captured: Option<i64>,
        key: u8,
    },
    /// A promotional grant, expiring `expires_ms` after the scenario began (or never).
    Grant {
        user: usize,
        amount: i64,
        expires_ms: Option<i64>,
        key: u8,
    },
    /// The expiry job, a few milliseconds later.
    Expire,
    /// A transfer from `user` to `to` (only partner-1, under partner-0, is anyone's child).
    Transfer {
        user: usize,
        to: usize,
        amount: i64,
        key: u8,
    },
    /// Reverse `amount` of the user's opening credit.
    Reverse {
        user: usize,
        amount: i64,
        key: u8,
    },
    /// Repeat the `back`-th most recent accepted money step, same key and input.
    Replay {
        back: usize,
    },
    SetTier {
        user: usize,
        tier: Tier,
    },
    Suspend {
        user: usize,
        suspended: bool,
    },
    Hold {
        user: usize,
        on: bool,
    },
}

/// Amounts: mostly ordinary, sometimes at or past a limit.
fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1..5_000i64,
        1 => prop::sample::select(vec![0, -1, i64::MIN, i64::MAX, MAX_CREDIT, MAX_CREDIT + 1, 1]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let user = 0..USERS;
    let key = 0u8..4;
    prop_oneof![
        3 => (user.clone(), amount(), key.clone()).prop_map(|(user, amount, key)| Step::Add { user, amount, key }),
        4 => (user.clone(), amount(), key.clone()).prop_map(|(user, cost, key)| Step::Provision { user, cost, key }),
        2 => (user.clone(), 0usize..4, amount(), key.clone())
            .prop_map(|(user, clients, cost, key)| Step::Bulk { user, clients, cost, key }),
        1 => user.clone().prop_map(|user| Step::Client { user }),
        2 => (user.clone(), amount(), prop::option::of(amount()), key.clone())
            .prop_map(|(user, cost, captured, key)| Step::Held { user, cost, captured, key }),
        1 => (user.clone(), amount(), key.clone()).prop_map(|(user, amount, key)| Step::Reverse { user, amount, key }),
        2 => (user.clone(), amount(), prop::option::of(1..60i64), key.clone())
            .prop_map(|(user, amount, expires_ms, key)| Step::Grant { user, amount, expires_ms, key }),
        1 => Just(Step::Expire),
        2 => (user.clone(), user.clone(), amount(), key.clone())
            .prop_map(|(user, to, amount, key)| Step::Transfer { user, to, amount, key }),
        2 => (0usize..5).prop_map(|back| Step::Replay { back }),
        1 => (user.clone(), tier()).prop_map(|(user, tier)| Step::SetTier { user, tier }),
        1 => (user.clone(), any::<bool>()).prop_map(|(user, suspended)| Step::Suspend { user, suspended }),
        1 => (user, any::<bool>()).prop_map(|(user, on)| Step::Hold { user, on }),
    ]
}

fn scenario(len: usize) -> impl Strategy<Value = (Vec<(Tier, i64)>, Vec<Step>)> {
    (prop::collection::vec((tier(), 0..5_000i64), USERS), prop::collection::vec(step(), 1..len))
}

fn user(i: usize) -> String {
    format!("partner-{i}")
}

/// What the users hold, to show that a refused or replayed step changed nothing.
async fn holdings<S: Store>(ally: &Ally<S>, users: &[String]) -> Vec<Holdings> {
    let mut out = Vec::new();
    for u in users {
        out.push(ally_tests::holdings(ally, u).await);
    }
    out
}

/// Runs one money step of a scenario that began at `began`; its answer as JSON, or the
/// refusal. (Long: one arm per kind of money step the scenarios draw.)
async fn money<S: Store>(ally: &Ally<S>, step: &Step, began: DateTime<Utc>) -> Option<Result<Value, String>> {
    let answer = match step {
        Step::Grant { user: u, amount, expires_ms, key } => {
            let grant = CreditRequest {
                amount: *amount,
                reason: None,
                promotional: true,
                expires_at: expires_ms.map(|ms| began + chrono::Duration::milliseconds(ms)),
                top_up_request: None,
            };
            ally.add_credits(&uid(&user(*u)), grant, EntryKind::Credit, "admin-1", &ikey(&format!("grant-{key}")))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
        Step::Add { user: u, amount, key } => {
            let credit = CreditRequest { amount: *amount, reason: None, ..CreditRequest::default() };
            ally.add_credits(&uid(&user(*u)), credit, EntryKind::Credit, "admin-1", &ikey(&format!("add-{key}")))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
        Step::Transfer { user: u, to, amount, key } => {
            let to_refid = ally.find_by_user(&uid(&user(*to))).await.unwrap().refid;
            let request = ally::service::TransferRequest { to_refid, amount: *amount, note: None };
            ally.transfer_to_child(&uid(&user(*u)), request, &ikey(&format!("transfer-{key}")))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
        Step::Provision { user: u, cost, key } => {
            let request = ProvisionRequest { cost: Some(*cost), ..ProvisionRequest::default() };
            ally.provision(&uid(&user(*u)), request, &ikey(&format!("buy-{key}")))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
        Step::Bulk { user: u, clients, cost, key } => {
            let clients = (0..*clients).map(|i| NewClient { name: cname(&format!("Bulk {i}")), email: None }).collect();
            let request = BulkRequest { clients, product: None, cost: Some(*cost) };
            ally.bulk_onboard(&uid(&user(*u)), request, &ikey(&format!("bulk-{key}")))
                .await
                .map(|r| serde_json::to_value(r).unwrap())
        }
        Step::Held { user: u, cost, captured, key } => {
            let request = ally::service::HoldRequest { cost: Some(*cost), ..Default::default() };
            let id = &uid(&user(*u));
            match ally.place_hold(id, request, &ikey(&format!("hold-{key}"))).await {
                Err(e) => Err(e),
                Ok(placed) => match captured {
                    Some(amount) => {
                        // Any amount the hold can take: only placing it may be refused, so a
                        // refused step is one that changed nothing.
                        let amount = (*amount).clamp(1, placed.hold.amount);
                        let capture = ally::service::CaptureRequest { amount: Some(amount) };
                        ally.capture_hold(id, &placed.hold.id, capture, &ikey(&format!("capture-{key}")))
                            .await
                            .map(|r| serde_json::to_value(r).unwrap())
                    }
                    None => ally
                        .void_hold(id, &placed.hold.id, &ikey(&format!("void-{key}")))
                        .await
                        .map(|r| serde_json::to_value(r).unwrap()),
                },
            }
        }
        Step::Reverse { user: u, amount, key } => {
            let id = &uid(&user(*u));
            let opening_key = format!("open-{}", user(*u));
            let entries = all_entries(ally, &user(*u)).await;
            // A user opened with nothing has no opening credit to reverse.
            let opening = entries.into_iter().find(|e| e.idempotency_key == opening_key)?;
            let request = ally::service::ReversalRequest {
                entry_id: opening.id,
                amount: Some(*amount),
                reason: ally_tests::note("chargeback"),
            };
            let key =
                ally::domain::IdempotencyKey::admin(&ally::domain::CallerKey::parse(format!("rev-{key}")).unwrap());
            ally.reverse(id, request, "admin-1", &key).await.map(|r| serde_json::to_value(r).unwrap())
        }
        _ => return None,
    };
    Some(answer.map_err(|e| e.to_string()))
}

/// Runs a drawn scenario and checks the laws after it (long: the laws are read together,
/// each against the same final state).
async fn run_scenario<S: Store + CatchUp>(store: S, openings: Vec<(Tier, i64)>, steps: Vec<Step>) {
    let ally = ally_on(store);
    let users: Vec<String> = (0..USERS).map(user).collect();
    for (u, (tier, balance)) in users.iter().zip(openings) {
        reseller_with(&ally, u, tier, balance).await;
    }
    let first_born = ally.find_by_user(&uid(&users[0])).await.unwrap().refid;
    let second = ally.find_by_user(&uid(&users[1])).await.unwrap().refid;
    let under = ResellerPatch { parent_refid: Some(Some(first_born)), ..Default::default() };
    ally.update_reseller(&second, under).await.unwrap();
    let mut accepted: Vec<(Step, Value)> = Vec::new();
    let began = Utc::now();
    for step in steps {
        let before = holdings(&ally, &users).await;
        match &step {
            Step::Replay { back } => {
                let Some((original, first)) = accepted.iter().rev().nth(*back).cloned() else { continue };
                let again = money(&ally, &original, began).await.unwrap();
                assert_eq!(again.as_ref(), Ok(&first), "a replay of {original:?} answered differently");
                assert_eq!(holdings(&ally, &users).await, before, "a replay of {original:?} changed something");
            }
            Step::Client { user: u } => {
                let client = NewClient { name: cname("Walk-in"), email: None };
                if ally.onboard_client(&uid(&user(*u)), client).await.is_err() {
                    assert_eq!(holdings(&ally, &users).await, before, "a refused client changed something");
                }
            }
            Step::SetTier { user: u, tier } => {
                patch(&ally, *u, ResellerPatch { tier: Some(*tier), ..Default::default() }).await
            }
            Step::Suspend { user: u, suspended } => {
                let status = if *suspended { "suspended" } else { "active" };
                let status = serde_json::from_value(json!(status)).unwrap();
                patch(&ally, *u, ResellerPatch { status: Some(status), ..Default::default() }).await
            }
            Step::Hold { user: u, on } => {
                patch(&ally, *u, ResellerPatch { hold_provisioning: Some(*on), ..Default::default() }).await
            }
            Step::Expire => {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                ally.expire_lots().await.unwrap();
            }
            money_step => match money(&ally, money_step, began).await.unwrap() {
                Ok(answer) => accepted.push((step.clone(), answer)),
                Err(_) => assert_eq!(holdings(&ally, &users).await, before, "refused {step:?} changed something"),
            },
        }
    }
    for u in &users {
        assert_ledger_matches_balance(&ally, u).await;
        let entries = all_entries(&ally, u).await;
        let stats = ally.stats(&uid(u)).await.unwrap();
        let sum =
            |kinds: &[EntryKind]| entries.iter().filter(|e| kinds.contains(&e.kind)).map(|e| e.amount).sum::<i64>();
        // Credits distributed, net of what reversals and debt repayments took back.
        let taken_back = sum(&[EntryKind::Reversal, EntryKind::DebtRepayment, EntryKind::TransferOut]);
        let came_in = sum(&[EntryKind::Credit, EntryKind::Reward, EntryKind::Refund, EntryKind::TransferIn]);
        assert_eq!(stats.credits_added, came_in - taken_back);
        assert_eq!(stats.credits_spent, sum(&[EntryKind::Debit]));
        let clients = ally.clients(&uid(u), &PageRequest::first(100)).await.unwrap().items.len() as i64;
        assert_eq!(stats.clients, clients);
    }
    assert_figures_match(&ally, &users).await;
}

async fn patch<S: Store>(ally: &Ally<S>, u: usize, patch: ResellerPatch) {
    let refid = ally.find_by_user(&uid(&user(u))).await.unwrap().refid;
    ally.update_reseller(&refid, patch).await.unwrap();
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Cases { cases, failure_persistence: None, ..Cases::default() })
}

#[test]
fn random_sequences_keep_the_invariants_on_the_memory_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runner(200)
        .run(&scenario(40), |(openings, steps)| {
            runtime.block_on(run_scenario(ally::store::memory::MemoryStore::new(), openings, steps));
            Ok(())
        })
        .unwrap();
}

#[test]
fn random_sequences_keep_the_invariants_on_the_dynamodb_store() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runner(6)
        .run(&scenario(25), |(openings, steps)| {
            runtime.block_on(async { run_scenario(ally_tests::dynamo_store().await, openings, steps).await });
            Ok(())
        })
        .unwrap();
}
