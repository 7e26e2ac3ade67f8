//! Transfers down the tree: one atomic write per transfer, entries that name
//! each other, the credit keeping its kind and expiry, exact under concurrency; on both
//! stores.

use ally::domain::{AllyError, CallerKey, EntryKind, IdempotencyKey, LotKind, RefId, Tier};
use ally::service::{AdminTransferRequest, CreditRequest, ReversalRequest, TransferRequest};
use ally::store::Store;
use ally_tests::{
    all_entries, assert_ledger_matches_balance, child_of, holdings, ikey, note, on_both_stores, reseller_with, uid,
};
use ally_tests::{ally_on, credit};

fn send(to: &RefId, amount: i64) -> TransferRequest {
    TransferRequest { to_refid: to.clone(), amount, note: None }
}

/// A parent passes credit to its child once per key, never up the tree or to a stranger, and
/// an admin moves credit between any two (long: one pair's story, each step's balances
/// depending on the steps before).
async fn a_parent_passes_credit_to_its_child_once<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Platinum, 1_000).await.refid;
    let expires_at = chrono::Utc::now() + chrono::Duration::days(20);
    let grant = CreditRequest {
        amount: 300,
        reason: None,
        promotional: true,
        expires_at: Some(expires_at),
        top_up_request: None,
    };
    ally.add_credits(&uid("top"), grant, EntryKind::Credit, "admin", &ikey("grant")).await.unwrap();
    let child = child_of(&ally, "child", &top, 0).await;

    let sent = ally.transfer_to_child(&uid("top"), send(&child, 500), &ikey("t1")).await.unwrap();
    assert_eq!((sent.balance, sent.transaction.kind, sent.transaction.amount), (800, EntryKind::TransferOut, 500));
    let received = &sent.to.transaction;
    assert_eq!((received.kind, received.balance_after), (EntryKind::TransferIn, 500));
    assert_eq!(
        sent.transaction.counterpart.as_ref().map(|c| (&c.refid, c.entry_id.as_str())),
        Some((&child, received.id.as_str()))
    );
    assert_eq!(
        received.counterpart.as_ref().map(|c| (&c.refid, c.entry_id.as_str())),
        Some((&top, sent.transaction.id.as_str()))
    );
    // The credit keeps what it was: 300 promotional expiring with the grant, 200 paid.
    let c = ally.find_by_user(&uid("child")).await.unwrap();
    let lots: Vec<_> = c.lots.iter().map(|l| (l.kind, l.remaining, l.expires_at)).collect();
    assert_eq!(lots, [(LotKind::Promotional, 300, Some(expires_at)), (LotKind::Paid, 200, None)]);

    let again = ally.transfer_to_child(&uid("top"), send(&child, 500), &ikey("t1")).await.unwrap();
    assert_eq!(again, sent, "a retry moves nothing more");
    let before = (holdings(&ally, "top").await, holdings(&ally, "child").await);
    let refused = ally.transfer_to_child(&uid("top"), send(&child, 801), &ikey("t2")).await.unwrap_err();
    assert!(matches!(refused, AllyError::InsufficientCredits { needed: 801, balance: 800 }), "{refused:?}");
    let stranger = reseller_with(&ally, "stranger", Tier::Standard, 0).await.refid;
    let refused = ally.transfer_to_child(&uid("top"), send(&stranger, 1), &ikey("t3")).await.unwrap_err();
    assert!(matches!(refused, AllyError::NotFound(_)), "only to a direct child: {refused:?}");
    let refused = ally.transfer_to_child(&uid("child"), send(&top, 1), &ikey("t4")).await.unwrap_err();
    assert!(matches!(refused, AllyError::NotFound(_)), "not up the tree: {refused:?}");
    assert_eq!((holdings(&ally, "top").await, holdings(&ally, "child").await), before, "refusals move nothing");

    // An admin moves credit between any two, and the receiver's debt is repaid first.
    assert!(all_entries(&ally, "stranger").await.is_empty());
    ally.add_credits(&uid("stranger"), credit(100), EntryKind::Credit, "admin", &ikey("s1")).await.unwrap();
    let first = all_entries(&ally, "stranger").await[0].id.clone();
    ally.add_credits(&uid("stranger"), credit(50), EntryKind::Credit, "admin", &ikey("s2")).await.unwrap();
    let spend = ally::service::ProvisionRequest { cost: Some(150), ..Default::default() };
    ally.provision(&uid("stranger"), spend, &ikey("spend")).await.unwrap();
    let reversal = ReversalRequest { entry_id: first, amount: None, reason: note("chargeback") };
    let reversed = ally.reverse(&uid("stranger"), reversal, "admin", &ikey("rev")).await.unwrap();
    assert_eq!(reversed.debt, 100);
    let admin_key = IdempotencyKey::admin(&CallerKey::parse("move-1").unwrap());
    let request =
        AdminTransferRequest { from_refid: child.clone(), to_refid: stranger.clone(), amount: 250, note: None };
    let moved = ally.transfer_between(request, "admin-1", &admin_key).await.unwrap();
    assert_eq!((moved.balance, moved.to.transaction.balance_after), (250, 250));
    let s = ally.find_by_user(&uid("stranger")).await.unwrap();
    assert_eq!((s.balance, s.debt), (150, 0), "100 of it repaid the debt");
    for user in ["top", "child", "stranger"] {
        assert_ledger_matches_balance(&ally, user).await;
    }
}

async fn fifty_concurrent_transfers_from_one_parent_are_exact<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Gold, 4_000).await.refid;
    let mut children = Vec::new();
    for i in 0..5 {
        children.push(child_of(&ally, &format!("child-{i}"), &top, 0).await);
    }
    let outcomes = futures::future::join_all((0..50).map(|i| {
        let (ally, to) = (&ally, children[i % 5].clone());
        async move { ally.transfer_to_child(&uid("top"), send(&to, 100), &ikey(&format!("t-{i}"))).await }
    }))
    .await;
    let moved = outcomes.iter().filter(|o| o.is_ok()).count() as i64;
    assert!(outcomes.iter().all(|o| matches!(o, Ok(_) | Err(AllyError::InsufficientCredits { .. }))), "{outcomes:?}");
    assert_eq!(moved, 40, "4,000 covers 40 transfers of 100");
    let top_balance = ally.find_by_user(&uid("top")).await.unwrap().balance;
    let mut received = 0;
    for i in 0..5 {
        received += ally.find_by_user(&uid(&format!("child-{i}"))).await.unwrap().balance;
        assert_ledger_matches_balance(&ally, &format!("child-{i}")).await;
    }
    assert_eq!((top_balance, received), (0, 4_000), "what left the parent is what the children got");
    assert_ledger_matches_balance(&ally, "top").await;
}

/// The receiver reads the giver by refid only: neither the giver's user id nor the key it
/// sent appears in the receiver's ledger.
async fn the_receiver_never_sees_the_givers_user_id_or_key<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "giver-user-7f3a", Tier::Standard, 1_000).await.refid;
    let child = child_of(&ally, "child", &top, 0).await;
    ally.transfer_to_child(&uid("giver-user-7f3a"), send(&child, 100), &ikey("giver-secret-key")).await.unwrap();
    let seen = serde_json::to_string(&all_entries(&ally, "child").await).unwrap();
    assert!(seen.contains(top.as_str()), "named by refid: {seen}");
    for private in ["giver-user-7f3a", "giver-secret-key"] {
        assert!(!seen.contains(private), "{private} in the receiver's ledger: {seen}");
    }
}

on_both_stores!(
    the_receiver_never_sees_the_givers_user_id_or_key,
    a_parent_passes_credit_to_its_child_once,
    fifty_concurrent_transfers_from_one_parent_are_exact,
);
