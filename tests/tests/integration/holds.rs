//! Holds: reserve, then capture (all or part), void or expire, each once; spends
//! judged against `available`; on both stores.

use ally::domain::{AllyError, EntryKind, Hold, HoldStatus, Tier};
use ally::service::{CaptureRequest, HoldRequest};
use ally::store::{HoldWrite, IdempotencyRecord, IdempotencyState, PageRequest, Store, WalletChange};
use ally_tests::{all_entries, assert_ledger_matches_balance, ikey, on_both_stores, reseller_with, uid};
use ally_tests::{ally_on, spend};

fn cost(n: i64) -> HoldRequest {
    HoldRequest { cost: Some(n), ..HoldRequest::default() }
}

async fn a_hold_reserves_then_a_capture_debits_part_and_releases_the_rest<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Gold, 1_500).await;
    let placed = ally.place_hold(&uid("p"), cost(1_000), &ikey("hold-1")).await.unwrap();
    assert_eq!((placed.balance, placed.held, placed.available), (1_500, 850, 650), "gold: 850 reserved");
    assert_eq!((placed.hold.status, placed.hold.amount), (HoldStatus::Active, 850));
    let again = ally.place_hold(&uid("p"), cost(1_000), &ikey("hold-1")).await.unwrap();
    assert_eq!(again, placed, "the same key reserves once");
    let spend = spend(800);
    let refused = ally.provision(&uid("p"), spend.clone(), &ikey("buy")).await.unwrap_err();
    assert!(matches!(refused, AllyError::InsufficientCredits { needed: 680, balance: 650 }), "{refused:?}");
    let refused = ally.place_hold(&uid("p"), cost(800), &ikey("hold-2")).await.unwrap_err();
    assert!(matches!(refused, AllyError::InsufficientCredits { .. }), "a hold spends from available too");

    let id = placed.hold.id.clone();
    let too_much = CaptureRequest { amount: Some(851) };
    assert!(matches!(ally.capture_hold(&uid("p"), &id, too_much, &ikey("cap-0")).await, Err(AllyError::Validation(_))));
    let captured =
        ally.capture_hold(&uid("p"), &id, CaptureRequest { amount: Some(600) }, &ikey("cap-1")).await.unwrap();
    assert_eq!((captured.cost, captured.balance, captured.released), (600, 900, 250));
    assert_eq!(captured.service.cost, 600);
    let replay = ally.capture_hold(&uid("p"), &id, CaptureRequest { amount: Some(600) }, &ikey("cap-1")).await;
    assert_eq!(replay.unwrap(), captured, "a retry replays the capture");
    let twice = ally.capture_hold(&uid("p"), &id, CaptureRequest::default(), &ikey("cap-2")).await;
    assert!(matches!(twice, Err(AllyError::HoldClosed)), "{twice:?}");
    assert!(matches!(ally.void_hold(&uid("p"), &id, &ikey("void-1")).await, Err(AllyError::HoldClosed)));
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.balance, r.held, r.available(), r.provisions), (900, 0, 900, 1));
    let debits: Vec<i64> =
        all_entries(&ally, "p").await.iter().filter(|e| e.kind == EntryKind::Debit).map(|e| e.amount).collect();
    assert_eq!(debits, vec![600], "one debit, of what was captured");

    reseller_with(&ally, "q", Tier::Standard, 100).await;
    let theirs = ally.capture_hold(&uid("q"), &id, CaptureRequest::default(), &ikey("steal")).await;
    assert!(matches!(theirs, Err(AllyError::NotFound(_))), "another partner's hold is not found");

    let voidable = ally.place_hold(&uid("p"), cost(200), &ikey("hold-3")).await.unwrap();
    let voided = ally.void_hold(&uid("p"), &voidable.hold.id, &ikey("void-2")).await.unwrap();
    assert_eq!((voided.released, voided.available), (170, 900));
    let listed = ally.holds(&uid("p"), Some(HoldStatus::Voided), &PageRequest::first(10)).await.unwrap();
    assert_eq!(listed.items.iter().map(|h| h.id.clone()).collect::<Vec<_>>(), vec![voidable.hold.id.clone()]);
    let bad = HoldRequest { expires_in_s: Some(59), ..cost(10) };
    assert!(matches!(ally.place_hold(&uid("p"), bad, &ikey("hold-4")).await, Err(AllyError::Validation(_))));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A hold past its `expires_at` cannot be captured even before the sweeper runs; the
/// sweeper releases it once, also when two run at once. (Long: one hold's life, before and
/// after its expiry, with the racing sweeps at the end.)
async fn an_expired_hold_is_released_once<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    // A hold that expired a second ago, written as placing one would have written it.
    let now = chrono::Utc::now();
    let mut hold = Hold {
        id: ally::domain::new_id(),
        owner_id: uid("p"),
        amount: 400,
        base_cost: 400,
        tier: Tier::Standard,
        status: HoldStatus::Active,
        expires_at: now - chrono::Duration::seconds(1),
        product: None,
        client_id: None,
        description: None,
        created_at: now - chrono::Duration::minutes(2),
        captured: None,
        closed_at: None,
        lots: Vec::new(),
    };
    let mut lots = r.lots.clone();
    hold.lots = lots.reserve(400, hold.created_at).unwrap();
    let placed = WalletChange {
        new_lots: lots,
        lot_writes: Vec::new(),
        user_id: uid("p"),
        guard: ally::domain::Guard::Release { version: r.version },
        new_balance: 1_000,
        new_held: 400,
        activity: ally::domain::Activity::default(),
        accrual: None,
        new_debt: 0,
        entries: Vec::new(),
        hold: Some(HoldWrite { hold: hold.clone(), placed: true }),
        reversal: None,
        clients: Vec::new(),
        services: Vec::new(),
        idempotency: IdempotencyRecord {
            key: ikey("old-hold"),
            request_hash: "h".into(),
            state: IdempotencyState::Done,
            response: "{}".into(),
            created_at: now,
            expires_at: None,
            pending_fill: None,
        },
        payment: None,
        lift_hold: false,
        top_up: None,
        at: now,
    };
    ally.store().commit_wallet_change(&placed).await.unwrap();
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().available(), 600);
    let late = ally.capture_hold(&uid("p"), &hold.id, CaptureRequest::default(), &ikey("late")).await;
    assert!(matches!(late, Err(AllyError::HoldClosed)), "expired, sweeper or not: {late:?}");
    let listed = ally.holds(&uid("p"), Some(HoldStatus::Expired), &PageRequest::first(10)).await.unwrap();
    assert_eq!(listed.items.len(), 1, "shown as expired before the sweeper ran");

    let (a, b) = tokio::join!(ally.expire_holds(), ally.expire_holds());
    assert_eq!(a.unwrap() + b.unwrap(), 1, "released once by two sweepers");
    assert_eq!(ally.expire_holds().await.unwrap(), 0);
    let after = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((after.balance, after.held, after.available()), (1_000, 0, 1_000));
    assert_ledger_matches_balance(&ally, "p").await;
}

/// 100 holds and provisions at once on one wallet: `available` never goes below zero,
/// and the reserve is exactly the holds that went through.
async fn a_hundred_concurrent_holds_and_provisions_never_overdraw<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 5_000).await;
    let outcomes = futures::future::join_all((0..100).map(|i| {
        let ally = &ally;
        async move {
            let key = ikey(&format!("op-{i}"));
            if i % 2 == 0 {
                ally.place_hold(&uid("p"), cost(100), &key).await.map(|_| ())
            } else {
                let spend = spend(100);
                ally.provision(&uid("p"), spend, &key).await.map(|_| ())
            }
        }
    }))
    .await;
    let done = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(outcomes.iter().all(|o| matches!(o, Ok(()) | Err(AllyError::InsufficientCredits { .. }))), "{outcomes:?}");
    assert_eq!(done, 50, "5,000 credits cover 50 of 100 at 100 each");
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!(r.available(), 0);
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A hold that takes what is available below the threshold can bring the low-credit rule's
/// hold on provisioning; voiding it gives the credit back and lifts that hold in the same
/// write.
async fn a_voided_hold_lifts_the_low_credit_rule<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let placed = ally.place_hold(&uid("p"), cost(800), &ikey("hold")).await.unwrap();
    assert_eq!(placed.available, 200);
    assert!(ally.hold_for_low_credit(&uid("p")).await.unwrap(), "200 is below 500");
    ally.void_hold(&uid("p"), &placed.hold.id, &ikey("void")).await.unwrap();
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!((r.available(), r.hold_provisioning, r.hold_reason), (1_000, false, None));
    assert_ledger_matches_balance(&ally, "p").await;
}

on_both_stores!(
    a_voided_hold_lifts_the_low_credit_rule,
    a_hold_reserves_then_a_capture_debits_part_and_releases_the_rest,
    an_expired_hold_is_released_once,
    a_hundred_concurrent_holds_and_provisions_never_overdraw,
);
