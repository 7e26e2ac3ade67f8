//! Reversals with debt: a credit taken back in part or whole, never more than it
//! gave, what the wallet cannot give owed as debt and repaid first by the next credits, each
//! repayment an entry of its own; on both stores.

use ally::domain::CallerKey;
use ally::domain::{AllyError, EntryKind, IdempotencyKey, LotKind, Tier};
use ally::service::{CreditRequest, HoldRequest, ReversalRequest};
use ally::store::Store;
use ally_tests::{Hands, all_entries, assert_ledger_matches_balance, ikey, note, on_both_stores, reseller_with, uid};
use ally_tests::{ally_on, credit, spend};

fn reverse(entry_id: &str, amount: Option<i64>) -> ReversalRequest {
    ReversalRequest { entry_id: entry_id.to_string(), amount, reason: note("chargeback") }
}

fn admin_key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::admin(&CallerKey::parse(raw).expect("a valid key"))
}

async fn a_reversal_takes_what_is_available_and_owes_the_rest<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let paid = ally
        .add_credits(&uid("p"), credit(1_000), EntryKind::Credit, "webhook:payments", &ikey("pay-1"))
        .await
        .unwrap();
    let spend = spend(700);
    ally.provision(&uid("p"), spend, &ikey("buy")).await.unwrap();

    // 1,000 paid, 700 spent: reversing 800 takes the 300 left and owes 500.
    let id = paid.transaction.id.clone();
    let first = ally.reverse(&uid("p"), reverse(&id, Some(800)), "admin-1", &admin_key("rev-1")).await.unwrap();
    assert_eq!((first.reversed, first.debt, first.balance), (800, 500, 0));
    assert_eq!((first.transaction.kind, first.transaction.amount), (EntryKind::Reversal, 300));
    let again = ally.reverse(&uid("p"), reverse(&id, Some(800)), "admin-1", &admin_key("rev-1")).await.unwrap();
    assert_eq!(again, first, "once per key");
    let beyond = ally.reverse(&uid("p"), reverse(&id, Some(201)), "admin-1", &admin_key("rev-2")).await;
    assert!(matches!(beyond, Err(AllyError::ReversalExceedsOriginal)), "{beyond:?}");
    let debit = all_entries(&ally, "p").await.into_iter().find(|e| e.kind == EntryKind::Debit).unwrap();
    let not_a_credit = ally.reverse(&uid("p"), reverse(&debit.id, None), "admin-1", &admin_key("rev-3")).await;
    assert!(matches!(not_a_credit, Err(AllyError::Validation(_))), "{not_a_credit:?}");

    // The next credit repays the debt first, in its own write, as an entry of its own.
    let top = ally.add_credits(&uid("p"), credit(300), EntryKind::Credit, "admin-1", &ikey("top-1")).await.unwrap();
    assert_eq!(top.balance, 0, "all 300 went to the debt");
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.debt), (0, 200));
    let top = ally.add_credits(&uid("p"), credit(500), EntryKind::Credit, "admin-1", &ikey("top-2")).await.unwrap();
    assert_eq!(top.balance, 300, "200 repaid, 300 kept");
    let replay = ally.add_credits(&uid("p"), credit(500), EntryKind::Credit, "admin-1", &ikey("top-2")).await.unwrap();
    assert_eq!(replay, top, "a retried credit repays nothing more");
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.debt), (300, 0));
    let repaid: Vec<i64> =
        all_entries(&ally, "p").await.iter().filter(|e| e.kind == EntryKind::DebtRepayment).map(|e| e.amount).collect();
    assert_eq!(repaid.iter().sum::<i64>(), 500, "each repayment an entry: {repaid:?}");

    // The rest of the original (200) can still be reversed, and no more.
    let rest = ally.reverse(&uid("p"), reverse(&id, None), "admin-1", &admin_key("rev-4")).await.unwrap();
    assert_eq!((rest.reversed, rest.debt, rest.balance), (200, 0, 100));
    let none_left = ally.reverse(&uid("p"), reverse(&id, Some(1)), "admin-1", &admin_key("rev-5")).await;
    assert!(matches!(none_left, Err(AllyError::ReversalExceedsOriginal)));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// Ten reversals of 200 at once against a credit of 1,000: exactly five land.
async fn concurrent_reversals_never_exceed_the_original<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let credit = credit(1_000);
    let paid = ally.add_credits(&uid("p"), credit, EntryKind::Credit, "admin-1", &ikey("pay")).await.unwrap();
    let id = paid.transaction.id.clone();
    let outcomes =
        futures::future::join_all(
            (0..10).map(|i| {
                let ally = &ally;
                let id = id.clone();
                async move {
                    ally.reverse(&uid("p"), reverse(&id, Some(200)), "admin-1", &admin_key(&format!("r-{i}"))).await
                }
            }),
        )
        .await;
    let landed = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(AllyError::ReversalExceedsOriginal))), "{outcomes:?}");
    assert_eq!(landed, 5);
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.debt), (0, 0));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A grant written off by its expiry is gone: reversing it takes only what was left of it,
/// never the expired part a second time from paid credit.
async fn a_reversal_after_an_expiry_takes_only_what_is_left_of_its_credit<S: Store>(store: S) {
    let hands = Hands::default();
    let ally = ally_on(store).with_clock(hands.clock());
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let grant = |amount| CreditRequest {
        amount,
        promotional: true,
        expires_at: Some(ally.now() + chrono::Duration::hours(1)),
        ..CreditRequest::default()
    };
    let granted = ally.add_credits(&uid("p"), grant(500), EntryKind::Credit, "admin-1", &ikey("g-1")).await.unwrap();
    // 200 of the grant spent (promotional first), the other 300 written off by its expiry.
    let spend = spend(200);
    ally.provision(&uid("p"), spend, &ikey("buy")).await.unwrap();
    let untouched = ally.add_credits(&uid("p"), grant(100), EntryKind::Credit, "admin-1", &ikey("g-2")).await.unwrap();
    hands.advance(chrono::Duration::hours(2));
    assert_eq!(ally.expire_lots().await.unwrap(), 2);
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 1_000, "the paid credit is all that is left");

    let id = granted.transaction.id.clone();
    let taken = ally.reverse(&uid("p"), reverse(&id, None), "admin-1", &admin_key("rev-1")).await.unwrap();
    assert_eq!(
        (taken.reversed, taken.balance, taken.debt),
        (200, 1_000, 200),
        "what was spent of it is owed; what expired is gone; the paid credit is not taken in its place"
    );
    let more = ally.reverse(&uid("p"), reverse(&id, Some(1)), "admin-1", &admin_key("rev-2")).await;
    assert!(matches!(more, Err(AllyError::ReversalExceedsOriginal)), "{more:?}");
    let gone = untouched.transaction.id.clone();
    let nothing = ally.reverse(&uid("p"), reverse(&gone, None), "admin-1", &admin_key("rev-3")).await;
    assert!(matches!(nothing, Err(AllyError::ReversalExceedsOriginal)), "all of it expired: {nothing:?}");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 1_000);
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A chargeback while the credit is held: the hold's release repays the debt before any of
/// it is available again.
async fn a_hold_does_not_shield_credit_from_a_chargeback<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let paid =
        ally.add_credits(&uid("p"), credit(1_000), EntryKind::Credit, "webhook:payments", &ikey("pay")).await.unwrap();
    let hold = HoldRequest { cost: Some(1_000), ..HoldRequest::default() };
    let held = ally.place_hold(&uid("p"), hold, &ikey("hold")).await.unwrap();
    let charged =
        ally.reverse(&uid("p"), reverse(&paid.transaction.id, None), "admin-1", &admin_key("cb")).await.unwrap();
    assert_eq!((charged.balance, charged.debt), (1_000, 1_000), "all of it held: all of it owed");
    let voided = ally.void_hold(&uid("p"), &held.hold.id, &ikey("void")).await.unwrap();
    assert_eq!((voided.released, voided.available), (1_000, 0));
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.held, r.debt, r.available()), (0, 0, 0, 0));
    let spend = spend(1);
    assert!(matches!(ally.provision(&uid("p"), spend, &ikey("buy")).await, Err(AllyError::InsufficientCredits { .. })));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A grant a hold reserves, expired, then reversed: the reversal owes what the hold holds
/// (never taking the paid credit in its place), the hold's release repays it out of the
/// grant's own lot, and nothing is left for the expiry to take a second time.
async fn a_reversal_of_a_held_grant_never_takes_paid_credit_twice<S: Store>(store: S) {
    let hands = Hands::default();
    let ally = ally_on(store).with_clock(hands.clock());
    reseller_with(&ally, "p", Tier::Standard, 200).await;
    let grant = CreditRequest {
        amount: 1_000,
        promotional: true,
        expires_at: Some(ally.now() + chrono::Duration::minutes(5)),
        ..CreditRequest::default()
    };
    let granted = ally.add_credits(&uid("p"), grant, EntryKind::Credit, "admin-1", &ikey("grant")).await.unwrap();
    let held = ally
        .place_hold(&uid("p"), HoldRequest { cost: Some(1_000), ..HoldRequest::default() }, &ikey("h"))
        .await
        .unwrap();
    hands.advance(chrono::Duration::minutes(10));
    let reversed =
        ally.reverse(&uid("p"), reverse(&granted.transaction.id, None), "admin-1", &admin_key("r")).await.unwrap();
    assert_eq!((reversed.reversed, reversed.balance, reversed.debt), (1_000, 1_200, 1_000), "all of it held: owed");
    ally.void_hold(&uid("p"), &held.hold.id, &ikey("v")).await.unwrap();
    ally.expire_lots().await.unwrap();
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.debt, r.available()), (200, 0, 200), "the paid 200 is the reseller's still");
    assert_eq!(r.lots.iter().map(|l| (l.kind, l.remaining)).collect::<Vec<_>>(), [(LotKind::Paid, 200)]);
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A hold's and a void's receipts report what may be spent as the profile does: expired
/// credit is not available, whether or not the sweeper took it.
async fn hold_receipts_leave_expired_credit_out_of_available<S: Store>(store: S) {
    let hands = Hands::default();
    let ally = ally_on(store).with_clock(hands.clock());
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let grant = CreditRequest {
        amount: 300,
        promotional: true,
        expires_at: Some(ally.now() + chrono::Duration::minutes(5)),
        ..CreditRequest::default()
    };
    ally.add_credits(&uid("p"), grant, EntryKind::Credit, "admin-1", &ikey("grant")).await.unwrap();
    hands.advance(chrono::Duration::minutes(10));
    let held = ally
        .place_hold(&uid("p"), HoldRequest { cost: Some(100), ..HoldRequest::default() }, &ikey("h"))
        .await
        .unwrap();
    assert_eq!((held.balance, held.held, held.available), (1_300, 100, 900), "the expired 300 is not available");
    let voided = ally.void_hold(&uid("p"), &held.hold.id, &ikey("v")).await.unwrap();
    assert_eq!((voided.released, voided.available), (100, 1_000));
}

/// An entry id longer than any id Ally makes is refused before it reaches the store (a sort
/// key over 1,024 bytes is a DynamoDB error).
async fn a_reversal_of_an_overlong_entry_id_is_refused<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let long = "A".repeat(2_000);
    let refused = ally.reverse(&uid("p"), reverse(&long, None), "admin-1", &admin_key("long")).await;
    assert!(matches!(refused, Err(AllyError::Validation(_))), "{refused:?}");
}

on_both_stores!(
    a_reversal_of_a_held_grant_never_takes_paid_credit_twice,
    hold_receipts_leave_expired_credit_out_of_available,
    a_reversal_of_an_overlong_entry_id_is_refused,
    a_reversal_takes_what_is_available_and_owes_the_rest,
    concurrent_reversals_never_exceed_the_original,
    a_reversal_after_an_expiry_takes_only_what_is_left_of_its_credit,
    a_hold_does_not_shield_credit_from_a_chargeback,
);
