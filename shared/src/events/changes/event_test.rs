//! Unit tests of the events a change makes: `event.rs` and `crossings.rs`.

use super::*;
use crate::domain::{CompanyName, Email, Reseller, Tier};
use crate::events::{SpendNow, runway_event};

fn wallet(balance: i64) -> Stored {
    let sample = crate::domain::sample_reseller(balance, chrono::Utc::now());
    Stored::Reseller(Box::new(Reseller {
        user_id: UserId::parse("u").unwrap(),
        company: CompanyName::parse("C").unwrap(),
        email: Some(Email::parse("u@x.example").unwrap()),
        tier: Tier::Gold,
        ..sample
    }))
}

fn change(old: Option<Stored>, new: Option<Stored>) -> ItemChange {
    ItemChange { id: "e1".into(), at: chrono::Utc::now(), old, new }
}

fn event(change: &ItemChange) -> Option<AllyEvent> {
    AllyEvent::try_from(Observed { change, low_credit_threshold: 500 }).ok()
}

#[test]
fn low_credit_fires_only_when_the_threshold_is_crossed() {
    let kind = |old, new| event(&change(Some(wallet(old)), Some(wallet(new)))).map(|e| e.detail_type());
    assert_eq!(kind(600, 400), Some("LowCredit"));
    assert_eq!(kind(500, 499), Some("LowCredit"));
    assert_eq!(kind(499, 100), None, "already low");
    assert_eq!(kind(400, 600), None, "going up");
    assert_eq!(kind(900, 500), None, "not below");
    assert_eq!(event(&change(None, Some(wallet(0)))).map(|e| e.detail_type()), Some("ResellerOnboarded"));
    assert_eq!(event(&change(Some(Stored::Other), Some(Stored::Other))), None);
}

#[test]
fn an_event_goes_to_the_bus_and_back_unchanged() {
    let low = event(&change(Some(wallet(600)), Some(wallet(400)))).unwrap();
    let bus = low.to_bus().unwrap();
    assert_eq!((bus.source.as_str(), bus.detail_type.as_str()), (SOURCE, "LowCredit"));
    assert_eq!(bus.detail["event_id"], "e1");
    assert_eq!(bus.detail["balance"], 400);
    assert_eq!(bus.detail["reseller"]["refid"], "RRRRRRRRRR");
    assert_eq!(AllyEvent::from_bus(&bus).unwrap(), low);
}

fn held(balance: i64, held: i64) -> Stored {
    match wallet(balance) {
        Stored::Reseller(mut r) => {
            r.held = held;
            Stored::Reseller(r)
        }
        other => other,
    }
}

fn hold(status: crate::domain::HoldStatus, captured: Option<i64>) -> Stored {
    let now = chrono::Utc::now();
    Stored::Hold(crate::domain::Hold {
        lots: Vec::new(),
        id: "h1".into(),
        owner_id: UserId::parse("u").unwrap(),
        amount: 850,
        base_cost: 1_000,
        tier: Tier::Gold,
        status,
        expires_at: now,
        product: None,
        client_id: None,
        description: None,
        created_at: now,
        captured,
        closed_at: None,
    })
}

#[test]
fn a_hold_that_takes_available_below_the_threshold_warns_and_its_end_is_an_event() {
    use crate::domain::HoldStatus as S;
    let low = event(&change(Some(held(1_000, 0)), Some(held(1_000, 850)))).expect("LowCredit");
    assert_eq!(low.to_bus().unwrap().detail["available"], 150, "the balance did not move, what is available did");
    let captured = event(&change(Some(hold(S::Active, None)), Some(hold(S::Captured, Some(600))))).unwrap();
    let bus = captured.to_bus().unwrap();
    assert_eq!(
        (bus.detail_type.as_str(), &bus.detail["captured"], &bus.detail["released"]),
        ("HoldCaptured", &600.into(), &250.into())
    );
    for status in [S::Voided, S::Expired] {
        let released = event(&change(Some(hold(S::Active, None)), Some(hold(status, None)))).unwrap();
        assert_eq!(
            (released.detail_type(), released.to_bus().unwrap().detail["released"].as_i64()),
            ("HoldReleased", Some(850))
        );
    }
    assert_eq!(
        event(&change(None, Some(hold(S::Active, None)))),
        None,
        "placing a hold moves the wallet, which says so"
    );
}

#[test]
fn every_ledger_entry_is_an_event_of_its_kind_with_the_same_envelope() {
    use crate::domain::{Draw, EntryKind as K, LedgerEntry, LotKind};
    let entry = |kind| LedgerEntry {
        id: "01ENTRY".into(),
        kind,
        amount: 450,
        balance_after: 40,
        reason: None,
        actor: "expiry".into(),
        idempotency_key: "lot:01LOT:expired".into(),
        created_at: chrono::Utc::now(),
        reversed: 0,
        lots: vec![Draw { lot: "01LOT".into(), kind: LotKind::Promotional, amount: 450 }],
        counterpart: None,
        commission_to: None,
    };
    let owner_id = UserId::parse("u").unwrap();
    for (kind, detail_type) in [
        (K::Credit, "CreditsAdded"),
        (K::Reward, "CreditsAdded"),
        (K::Debit, "CreditsSpent"),
        (K::Reversal, "CreditsReversed"),
        (K::DebtRepayment, "DebtRepaid"),
        (K::Expiry, "CreditsExpired"),
    ] {
        let posted = event(&change(None, Some(Stored::Entry { owner_id: owner_id.clone(), entry: entry(kind) })));
        let bus = posted.expect("an event").to_bus().unwrap();
        assert_eq!(bus.detail_type, detail_type);
        assert_eq!(
            (bus.detail["event_id"].as_str(), bus.detail["reseller"]["user_id"].as_str()),
            (Some("e1"), Some("u"))
        );
        assert_eq!(bus.detail["transaction"]["lots"][0]["lot"], "01LOT", "{detail_type} names the lots it moved");
    }
}

/// A wallet of `balance` that has spent `spent` in all, with a runway alert of 8 days.
fn alerted(balance: i64, spent: i64) -> Stored {
    match wallet(balance) {
        Stored::Reseller(mut r) => {
            r.credits_spent = spent;
            r.alerts = Some(crate::domain::Alerts { thresholds: vec![], runway_days: Some(8) });
            Stored::Reseller(r)
        }
        other => other,
    }
}

#[test]
fn a_runway_crossing_is_judged_on_the_spend_before_and_after_the_change() {
    // Published before any later change: the running total now is the change's own.
    let low = |old: Stored, new: Stored, in_window| {
        let credits_spent = match &new {
            Stored::Reseller(r) => r.credits_spent,
            _ => 0,
        };
        let now = SpendNow { in_window, credits_spent };
        runway_event(&change(Some(old), Some(new)), now).map(|e| e.detail_type())
    };
    // 1,000 left at 3,000 a month is 10 days; spending all of it (4,000 in the window) is 0.
    assert_eq!(
        low(alerted(1_000, 3_000), alerted(0, 4_000), 4_000),
        Some("LowRunway"),
        "raised the average and emptied"
    );
    assert_eq!(low(alerted(1_000, 3_000), alerted(900, 3_100), 3_100), None, "9 days left, still above 8");
    assert_eq!(low(alerted(500, 3_000), alerted(400, 3_100), 3_100), None, "already short before it: no repeat");
    assert_eq!(low(alerted(100, 0), alerted(10, 90), 90), Some("LowRunway"), "the first spend shows 3 days");
    assert_eq!(low(alerted(100, 0), alerted(90, 10), 10), None, "270 days");
}

#[test]
fn changes_published_together_make_one_runway_crossing() {
    // Two spends of 50 (1,000 -> 950 -> 900), both read after the second: 3,600 spent in the
    // window, 3,600 in all. As of the first, 3,550 in the window: 950 lasts 8 days, 1,000 did
    // too; as of the second, 3,600: 900 lasts 7. One crossing, made by the second.
    let now = SpendNow { in_window: 3_600, credits_spent: 3_600 };
    let first = runway_event(&change(Some(alerted(1_000, 3_500)), Some(alerted(950, 3_550))), now);
    let second = runway_event(&change(Some(alerted(950, 3_550)), Some(alerted(900, 3_600))), now);
    let crossings = [first, second].map(|e| e.map(|e| e.detail_type()));
    assert_eq!(crossings, [None, Some("LowRunway")]);
}
