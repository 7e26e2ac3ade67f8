//! Unit tests of `event.rs`.

use super::*;
use crate::domain::{CompanyName, Email, Reseller, Status, Tier};

fn wallet(balance: i64) -> Stored {
    Stored::Reseller(Box::new(Reseller {
        user_id: UserId::parse("u").unwrap(),
        refid: RefId::parse("RRRRRRRRRR").unwrap(),
        company: CompanyName::parse("C").unwrap(),
        email: Some(Email::parse("u@x.example").unwrap()),
        tier: Tier::Gold,
        status: Status::Active,
        balance,
        wallet_open: true,
        held: 0,
        hold_provisioning: false,
        hold_reason: None,
        metadata: Default::default(),
        version: 1,
        credits_added: 0,
        credits_spent: 0,
        provisions: 0,
        clients: 0,
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
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
