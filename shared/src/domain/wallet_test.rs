//! Unit tests of `wallet.rs`: the refusal order of api.md.

use chrono::Utc;

use super::*;
use crate::domain::Credits;

fn wallet() -> Reseller {
    Reseller { version: 7, ..crate::domain::sample_reseller(100, Utc::now()) }
}

fn spend(cost: i64, tiers: Vec<Tier>) -> Guard {
    let product = Product {
        id: "gold-only".into(),
        name: "Gold only".into(),
        base_price: Credits::new(cost, i64::MAX).unwrap(),
        tiers,
    };
    Guard::Spend { version: 7, tier: Tier::Standard, cost, held: 0, product: Some(product), at: chrono::Utc::now() }
}

#[test]
fn refusals_come_in_the_contracts_order() {
    let mut w = wallet();
    w.status = Status::Suspended;
    w.hold_provisioning = true;
    w.balance = 0;
    w.version = 8;
    let guard = spend(50, vec![Tier::Gold]);
    assert_eq!(guard.check(None), Err(Refusal::Missing));
    assert_eq!(guard.check(Some(&w)), Err(Refusal::Suspended));
    w.status = Status::Active;
    assert_eq!(guard.check(Some(&w)), Err(Refusal::OnHold));
    w.hold_provisioning = false;
    assert_eq!(
        guard.check(Some(&w)),
        Err(Refusal::TierNotAllowed { tier: Tier::Standard, product: "gold-only".into() })
    );
    let guard = spend(50, vec![]);
    assert_eq!(guard.check(Some(&w)), Err(Refusal::Insufficient { needed: 50, balance: 0 }));
    w.balance = 50;
    assert_eq!(guard.check(Some(&w)), Err(Refusal::VersionChanged));
    w.version = 7;
    assert_eq!(guard.check(Some(&w)), Ok(()));
    w.tier = Tier::Gold;
    assert_eq!(guard.check(Some(&w)), Err(Refusal::TierChanged));
}

#[test]
fn credits_and_profile_changes_only_need_the_version() {
    let mut w = wallet();
    w.status = Status::Suspended;
    w.hold_provisioning = true;
    w.balance = 0;
    assert_eq!(Guard::Credit { version: 7 }.check(Some(&w)), Ok(()));
    assert_eq!(Guard::Profile { version: 6 }.check(Some(&w)), Err(Refusal::VersionChanged));
    assert_eq!(Guard::AddClient.check(Some(&w)), Err(Refusal::Suspended));
    assert_eq!(Guard::Credit { version: 7 }.check(None), Err(Refusal::Missing));
}
