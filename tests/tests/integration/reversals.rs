//! Reversals with debt (issue 16): a credit taken back in part or whole, never more than it
//! gave, what the wallet cannot give owed as debt and repaid first by the next credits, each
//! repayment an entry of its own; on both stores.

use ally::domain::CallerKey;
use ally::domain::{AllyError, EntryKind, IdempotencyKey, Tier};
use ally::service::{CreditRequest, ProvisionRequest, ReversalRequest};
use ally::store::Store;
use ally::{Ally, Config};
use ally_tests::{all_entries, assert_ledger_matches_balance, ikey, note, on_both_stores, reseller_with, uid};

fn reverse(entry_id: &str, amount: Option<i64>) -> ReversalRequest {
    ReversalRequest { entry_id: entry_id.to_string(), amount, reason: note("chargeback") }
}

fn admin_key(raw: &str) -> IdempotencyKey {
    IdempotencyKey::admin(&CallerKey::parse(raw).expect("a valid key"))
}

async fn a_reversal_takes_what_is_available_and_owes_the_rest<S: Store>(store: S) {
    let ally = Ally::new(store, Config::default());
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let credit = |amount| CreditRequest { amount, reason: None, ..CreditRequest::default() };
    let paid = ally
        .add_credits(&uid("p"), credit(1_000), EntryKind::Credit, "webhook:payments", &ikey("pay-1"))
        .await
        .unwrap();
    let spend = ProvisionRequest { cost: Some(700), ..ProvisionRequest::default() };
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
    let ally = Ally::new(store, Config::default());
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let credit = CreditRequest { amount: 1_000, reason: None, ..CreditRequest::default() };
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

on_both_stores!(a_reversal_takes_what_is_available_and_owes_the_rest, concurrent_reversals_never_exceed_the_original);
