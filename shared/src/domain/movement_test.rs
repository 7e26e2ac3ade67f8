//! Unit tests of `movement.rs`: the rules where money features meet.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn empty() -> Reseller {
    crate::domain::sample_reseller(0, t0())
}

/// `wallet` after `motion`, as the store would write it.
fn after(wallet: &Reseller, motion: Motion) -> (Reseller, Settlement) {
    let settled = settle(wallet, &motion, &crate::domain::new_id(), t0()).expect("settles");
    let next = Reseller {
        balance: settled.balance,
        held: settled.held,
        debt: settled.debt,
        lots: settled.lots.clone(),
        ..wallet.clone()
    };
    (next, settled)
}

fn credit(amount: i64) -> Motion {
    let grant = Grant { kind: LotKind::Paid, expires_at: None, amount };
    Motion { kind: Some(EntryKind::Credit), amount, lots: LotMove::Open(vec![grant]), debt_added: 0 }
}

#[test]
fn a_void_repays_debt_before_its_credit_is_available() {
    let (w, _) = after(&empty(), credit(1_000));
    let (w, placed) = after(&w, Motion { kind: None, amount: 1_000, lots: LotMove::Reserve, debt_added: 0 });
    // A chargeback of the whole credit while it is held: nothing is available, all is debt.
    let (w, _) =
        after(&w, Motion { kind: Some(EntryKind::Reversal), amount: 0, lots: LotMove::Draw, debt_added: 1_000 });
    assert_eq!((w.balance, w.held, w.debt), (1_000, 1_000, 1_000));
    let (w, voided) = after(&w, Motion { kind: None, amount: 0, lots: LotMove::Release(placed.moved), debt_added: 0 });
    assert_eq!(voided.repaid, 1_000, "what the void frees repays the debt first");
    assert_eq!((w.balance, w.held, w.debt, w.available()), (0, 0, 0, 0));
}

#[test]
fn a_partial_capture_repays_debt_out_of_what_it_leaves() {
    let (w, _) = after(&empty(), credit(500));
    let (w, placed) = after(&w, Motion { kind: None, amount: 500, lots: LotMove::Reserve, debt_added: 0 });
    let w = Reseller { debt: 300, ..w };
    let capture =
        Motion { kind: Some(EntryKind::Debit), amount: 100, lots: LotMove::Capture(placed.moved), debt_added: 0 };
    let (w, captured) = after(&w, capture);
    assert_eq!(captured.repaid, 300);
    assert_eq!((w.balance, w.held, w.debt), (100, 0, 0));
}

#[test]
fn a_credit_repays_debt_first_and_a_spend_frees_nothing() {
    let w = Reseller { debt: 200, ..empty() };
    let (w, credited) = after(&w, credit(150));
    assert_eq!((credited.repaid, w.balance, w.debt), (150, 0, 50));
    let (w, _) = after(&w, credit(100));
    assert_eq!((w.balance, w.debt), (50, 0));
    let (_, spent) = after(&w, Motion { kind: Some(EntryKind::Debit), amount: 50, lots: LotMove::Draw, debt_added: 0 });
    assert_eq!(spent.repaid, 0);
}

#[test]
fn expired_credit_a_hold_gives_back_repays_debt_before_it_is_written_off() {
    let grant = Grant { kind: LotKind::Promotional, expires_at: Some(t0() + Duration::seconds(1)), amount: 100 };
    let motion = Motion { kind: Some(EntryKind::Credit), amount: 100, lots: LotMove::Open(vec![grant]), debt_added: 0 };
    let (w, _) = after(&empty(), motion);
    let (w, placed) = after(&w, Motion { kind: None, amount: 100, lots: LotMove::Reserve, debt_added: 0 });
    let w = Reseller { debt: 40, ..w };
    let release = Motion { kind: None, amount: 0, lots: LotMove::Release(placed.moved), debt_added: 0 };
    let later = settle(&w, &release, "x", t0() + Duration::seconds(5)).unwrap();
    assert_eq!((later.repaid, later.debt, later.balance), (40, 0, 60));
}

#[test]
fn a_wallet_whose_lots_disagree_with_its_balance_is_refused_not_adopted() {
    let (w, _) = after(&empty(), credit(100));
    let torn = Reseller { balance: 150, ..w };
    let refused = settle(&torn, &credit(1), "x", t0());
    assert!(matches!(refused, Err(Unsettled::Drift { balance: 150, lots: 100, .. })), "{refused:?}");
}

#[test]
fn a_spend_beyond_the_lots_is_insufficient() {
    let (w, _) = after(&empty(), credit(100));
    let refused = settle(
        &w,
        &Motion { kind: Some(EntryKind::Debit), amount: 101, lots: LotMove::Draw, debt_added: 0 },
        "x",
        t0(),
    );
    assert!(matches!(refused, Err(Unsettled::Insufficient { needed: 101, spendable: 100 })), "{refused:?}");
}

#[test]
fn what_is_left_of_a_credit_excludes_what_its_expiry_wrote_off() {
    // 500 granted, all of it expired: nothing left to take back.
    assert_eq!(reversible_left(500, 0, 500, 500, 500), 0);
    // 500 granted, 200 spent, 300 expired: 200 left (it becomes debt if not available).
    assert_eq!(reversible_left(500, 0, 500, 500, 300), 200);
    // Two credits of 100 joined one lot, 150 expired: each counts 75 as gone.
    assert_eq!(reversible_left(100, 0, 100, 200, 150), 25);
    assert_eq!(reversible_left(100, 20, 100, 200, 0), 80);
}
