//! The money core's contract, run on both stores: exact balances under concurrency,
//! idempotent retries, all-or-nothing bulk, refusals that write nothing.

use ally_tests::{ally_on, spend};
use std::sync::Arc;

use ally::domain::{AllyError, Draw, EntryKind, Status, Tier};
use ally::service::{BulkRequest, BulkState, CreditRequest, NewClient, ProvisionRequest, ResellerPatch};
use ally::store::{PageRequest, Store};
use ally::{Ally, Config};
use ally_tests::{
    CrashingFill, all_entries, assert_ledger_matches_balance, cname, company, email, holdings, ikey, on_both_stores,
    reseller_with, uid,
};

pub(super) fn cost(amount: i64) -> ProvisionRequest {
    spend(amount)
}

fn credit(amount: i64) -> CreditRequest {
    CreditRequest { amount, reason: Some(ally_tests::note("top-up")), ..CreditRequest::default() }
}

fn clients(n: usize) -> Vec<NewClient> {
    (0..n)
        .map(|i| NewClient { name: cname(&format!("Client {i}")), email: Some(email(&format!("c{i}@example.com"))) })
        .collect()
}

async fn fifty_concurrent_debits_of_100_on_1000<S: Store>(store: S) {
    let ally = Arc::new(ally_on(store));
    reseller_with(&ally, "hot", Tier::Standard, 1_000).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let ally = ally.clone();
            tokio::spawn(async move { ally.provision(&uid("hot"), cost(100), &ikey(&format!("debit-{i}"))).await })
        })
        .collect();
    let mut ok = 0;
    let mut insufficient = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(receipt) => {
                assert_eq!(receipt.cost, 100);
                ok += 1;
            }
            Err(AllyError::InsufficientCredits { needed: 100, .. }) => insufficient += 1,
            Err(other) => panic!("unexpected outcome: {other:?}"),
        }
    }
    assert_eq!((ok, insufficient), (10, 40));
    let r = ally.find_by_user(&uid("hot")).await.unwrap();
    assert_eq!(r.balance, 0);
    assert_eq!(r.credits_spent, 1_000);
    assert_eq!(r.provisions, 10);
    assert_ledger_matches_balance(&ally, "hot").await;
    assert_eq!(all_entries(&ally, "hot").await.iter().filter(|e| e.kind == EntryKind::Debit).count(), 10);
}

async fn fifty_concurrent_retries_of_one_credit_key_credit_once<S: Store>(store: S) {
    let ally = Arc::new(ally_on(store));
    reseller_with(&ally, "p", Tier::Gold, 0).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let ally = ally.clone();
            tokio::spawn(async move {
                ally.add_credits(&uid("p"), credit(2_500), EntryKind::Credit, "admin-1", &ikey("pay-1")).await
            })
        })
        .collect();
    let mut receipts = Vec::new();
    for task in tasks {
        receipts.push(task.await.unwrap().expect("every retry gets the first result"));
    }
    assert!(receipts.iter().all(|r| r == &receipts[0]), "every retry replays the same receipt");
    assert_eq!(receipts[0].balance, 2_500);
    let r = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!(r.balance, 2_500);
    assert_eq!(all_entries(&ally, "p").await.len(), 1);
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn same_key_other_input_is_a_conflict_and_moves_nothing<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "p", Tier::Standard, 0).await;
    let first = ally.add_credits(&uid("p"), credit(300), EntryKind::Credit, "admin-1", &ikey("k1")).await.unwrap();
    let again = ally.add_credits(&uid("p"), credit(300), EntryKind::Credit, "admin-1", &ikey("k1")).await.unwrap();
    assert_eq!(first, again);
    let before = holdings(&ally, "p").await;
    let err = ally.add_credits(&uid("p"), credit(301), EntryKind::Credit, "admin-1", &ikey("k1")).await.unwrap_err();
    assert!(matches!(err, AllyError::IdempotencyConflict), "{err:?}");
    let err = ally.provision(&uid("p"), cost(10), &ikey("k1")).await.unwrap_err();
    assert!(matches!(err, AllyError::IdempotencyConflict), "a key is not reusable across operations: {err:?}");
    assert_eq!(holdings(&ally, "p").await, before);

    let receipt = ally.provision(&uid("p"), cost(100), &ikey("buy-1")).await.unwrap();
    let replay = ally.provision(&uid("p"), cost(100), &ikey("buy-1")).await.unwrap();
    assert_eq!(receipt, replay, "a provision retry returns the same service");
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 200);
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn bad_amounts_and_keys_are_refused_and_write_nothing<S: Store>(store: S) {
    let config = Config { max_credit_amount: 1_000_000, ..Config::default() };
    let ally = Ally::new(store, config);
    reseller_with(&ally, "p", Tier::Standard, 500).await;
    let before = holdings(&ally, "p").await;
    for amount in [0, -1, 1_000_001, i64::MIN, i64::MAX] {
        let err =
            ally.add_credits(&uid("p"), credit(amount), EntryKind::Credit, "a", &ikey(&format!("bad-{amount}"))).await;
        assert!(matches!(err, Err(AllyError::Validation(_))), "{amount}: {err:?}");
        let err = ally.provision(&uid("p"), cost(amount), &ikey(&format!("bad-p-{amount}"))).await;
        assert!(matches!(err, Err(AllyError::Validation(_))), "{amount}: {err:?}");
    }
    for key in ["", " ", &"k".repeat(129), "tab\tkey", "é"] {
        assert!(ally::domain::CallerKey::parse(key).is_err(), "{key:?}");
    }
    let both = ProvisionRequest { product: Some("license-basic".into()), cost: Some(5), ..ProvisionRequest::default() };
    assert!(matches!(ally.provision(&uid("p"), both, &ikey("both")).await, Err(AllyError::Validation(_))));
    let neither = ProvisionRequest::default();
    assert!(matches!(ally.provision(&uid("p"), neither, &ikey("neither")).await, Err(AllyError::Validation(_))));
    let unknown = ProvisionRequest { product: Some("nope".into()), ..ProvisionRequest::default() };
    assert!(matches!(ally.provision(&uid("p"), unknown, &ikey("unknown")).await, Err(AllyError::Validation(_))));
    let err = ally.add_credits(&uid("nobody"), credit(5), EntryKind::Credit, "a", &ikey("k")).await;
    assert!(matches!(err, Err(AllyError::NotFound("reseller"))), "{err:?}");
    assert_eq!(holdings(&ally, "p").await, before);
}

async fn provision_prices_by_tier_and_refuses_in_order<S: Store>(store: S) {
    let ally = ally_on(store);
    for (user, tier, price) in
        [("std", Tier::Standard, 1_000), ("gold", Tier::Gold, 850), ("plat", Tier::Platinum, 700)]
    {
        reseller_with(&ally, user, tier, 5_000).await;
        let product = ProvisionRequest { product: Some("license-basic".into()), ..ProvisionRequest::default() };
        let receipt = ally.provision(&uid(user), product, &ikey("lic")).await.unwrap();
        assert_eq!((receipt.cost, receipt.balance, receipt.service.base_cost), (price, 5_000 - price, 1_000));
        assert_eq!(receipt.service.tier, tier);
        assert!(receipt.service.license_key.starts_with("ALLY-"));
        assert_eq!(receipt.transaction.balance_after, 5_000 - price);
    }

    // A standard reseller may not sell the dedicated server; gold may.
    let dedicated = || ProvisionRequest { product: Some("server-dedicated".into()), ..ProvisionRequest::default() };
    let before = holdings(&ally, "std").await;
    let err = ally.provision(&uid("std"), dedicated(), &ikey("ded")).await.unwrap_err();
    assert!(matches!(err, AllyError::TierNotAllowed { tier: Tier::Standard, .. }), "{err:?}");
    let err = ally.provision(&uid("std"), cost(4_001), &ikey("big")).await.unwrap_err();
    assert!(matches!(err, AllyError::InsufficientCredits { needed: 4_001, balance: 4_000 }), "{err:?}");
    assert_eq!(holdings(&ally, "std").await, before);

    // On hold beats tier and affordability; suspended beats everything.
    let refid = before.reseller.refid.clone();
    let hold = ResellerPatch { hold_provisioning: Some(true), ..ResellerPatch::default() };
    ally.update_reseller(&refid, hold).await.unwrap();
    let before = holdings(&ally, "std").await;
    let err = ally.provision(&uid("std"), dedicated(), &ikey("ded-2")).await.unwrap_err();
    assert!(matches!(err, AllyError::OnHold), "{err:?}");
    let err = ally.provision(&uid("std"), cost(10), &ikey("small")).await.unwrap_err();
    assert!(matches!(err, AllyError::OnHold), "{err:?}");
    let suspend = ResellerPatch { status: Some(Status::Suspended), ..ResellerPatch::default() };
    ally.update_reseller(&refid, suspend).await.unwrap();
    let err = ally.provision(&uid("std"), cost(10), &ikey("small")).await.unwrap_err();
    assert!(matches!(err, AllyError::Suspended), "{err:?}");
    let err = ally
        .bulk_onboard(&uid("std"), BulkRequest { clients: clients(2), product: None, cost: Some(10) }, &ikey("b"))
        .await;
    assert!(matches!(err, Err(AllyError::Suspended)), "{err:?}");
    let err = ally.onboard_client(&uid("std"), NewClient { name: cname("X"), email: None }).await;
    assert!(matches!(err, Err(AllyError::Suspended)), "{err:?}");
    let after = holdings(&ally, "std").await;
    assert_eq!(
        (after.ledger, after.services, after.clients, after.reseller.balance),
        (before.ledger, before.services, before.clients, before.reseller.balance)
    );

    // An admin may still credit a suspended reseller.
    let receipt = ally.add_credits(&uid("std"), credit(100), EntryKind::Credit, "admin-1", &ikey("top")).await.unwrap();
    assert_eq!(receipt.balance, 4_100);
    let gold = ally.provision(&uid("gold"), dedicated(), &ikey("ded")).await;
    assert!(matches!(gold, Err(AllyError::InsufficientCredits { needed: 17_000, .. })), "{gold:?}");
    for user in ["std", "gold", "plat"] {
        assert_ledger_matches_balance(&ally, user).await;
    }
}

async fn bulk_is_all_or_nothing<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "g", Tier::Gold, 9_000).await;
    // 588 at gold is 500 a client: 20 clients cost 10,000 > 9,000.
    assert_eq!(ally.config().discounts.price(ally::domain::Credits::new(588, 1_000).unwrap(), Tier::Gold).get(), 500);
    let before = holdings(&ally, "g").await;
    let too_many = BulkRequest { clients: clients(20), product: None, cost: Some(588) };
    let err = ally.bulk_onboard(&uid("g"), too_many, &ikey("bulk-20")).await.unwrap_err();
    assert!(matches!(err, AllyError::InsufficientCredits { needed: 10_000, balance: 9_000 }), "{err:?}");
    assert_eq!(holdings(&ally, "g").await, before, "nothing written, nothing charged");

    // 500 at gold is 425 a client: 3 clients cost 1,275.
    let three = BulkRequest { clients: clients(3), product: None, cost: Some(500) };
    let receipt = ally.bulk_onboard(&uid("g"), three.clone(), &ikey("bulk-3")).await.unwrap();
    assert_eq!((receipt.cost, receipt.total, receipt.balance), (425, 1_275, 7_725));
    assert_eq!(receipt.clients.len(), 3);
    assert_eq!(receipt.services.len(), 3);
    let after = holdings(&ally, "g").await;
    assert_eq!((after.clients, after.services, after.ledger), (3, 3, before.ledger + 1));
    assert_eq!((after.reseller.clients, after.reseller.provisions), (3, 3));
    let listed = ally.clients(&uid("g"), &PageRequest::first(10)).await.unwrap().items;
    let mut listed_ids: Vec<_> = listed.iter().map(|c| c.id.clone()).collect();
    listed_ids.sort();
    let mut receipt_ids: Vec<_> = receipt.clients.iter().map(|c| c.id.clone()).collect();
    receipt_ids.sort();
    assert_eq!(listed_ids, receipt_ids);
    for s in &receipt.services {
        assert!(receipt.clients.iter().any(|c| Some(&c.id) == s.client_id.as_ref()));
        assert_eq!((s.cost, s.base_cost, s.tier), (425, 500, Tier::Gold));
    }

    let replay = ally.bulk_onboard(&uid("g"), three, &ikey("bulk-3")).await.unwrap();
    assert_eq!(replay, receipt, "a retry returns the same clients and charges nothing");
    assert_eq!(holdings(&ally, "g").await, after);
    let other = BulkRequest { clients: clients(4), product: None, cost: Some(500) };
    assert!(matches!(ally.bulk_onboard(&uid("g"), other, &ikey("bulk-3")).await, Err(AllyError::IdempotencyConflict)));
    for n in [0, 501] {
        let err = ally
            .bulk_onboard(&uid("g"), BulkRequest { clients: clients(n), product: None, cost: Some(1) }, &ikey("n"))
            .await;
        assert!(matches!(err, Err(AllyError::Validation(_))), "{n}: {err:?}");
    }
    let mut bad = clients(3);
    // A blank name cannot even be made: the request is refused when it is parsed.
    assert!(ally::domain::ClientName::parse(" ").is_err());
    bad[2].email = None;
    assert_eq!(holdings(&ally, "g").await, after);
    assert_ledger_matches_balance(&ally, "g").await;
}

async fn a_bulk_crash_is_finished_by_a_retry_without_a_second_charge<S: Store + CrashingFill>(store: S) {
    let ally = ally_on(store.crashing_fill().await);
    // Up to 47 clients ride in the charge's transaction: such a bulk has no fill to crash.
    reseller_with(&ally, "small", Tier::Platinum, 10_000).await;
    let small = BulkRequest { clients: clients(10), product: Some("license-basic".into()), cost: None };
    ally.bulk_onboard(&uid("small"), small, &ikey("bulk")).await.expect("no fill, no crash");
    let h = holdings(&ally, "small").await;
    assert_eq!((h.clients, h.services, h.reseller.balance), (10, 10, 10_000 - 10 * 700));
    // 60: the first 47 with the charge, the rest in a fill that crashes half way.
    reseller_with(&ally, "p", Tier::Platinum, 50_000).await;
    let request = BulkRequest { clients: clients(60), product: Some("license-basic".into()), cost: None };
    let first = ally.bulk_onboard(&uid("p"), request.clone(), &ikey("bulk")).await.expect("an answer, not a 500");
    assert_eq!(first.state, BulkState::Filling, "charged, the fill unfinished");
    assert_eq!(first.clients.len(), 60, "the ids it will have");
    let charged = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!(charged.balance, 50_000 - 60 * 700, "the charge is committed before the fill");
    let written = ally.store().clients(&uid("p"), &PageRequest::first(100)).await.unwrap().items.len();
    assert!((47..60).contains(&written), "{written} clients: those of the charge and part of the fill");
    let status = ally.bulk_status(&uid("p"), &ikey("bulk")).await.unwrap();
    assert_eq!((status.state, status.charge.total), (BulkState::Filling, 42_000));
    assert!(matches!(ally.bulk_status(&uid("small"), &ikey("bulk-none")).await, Err(AllyError::NotFound(_))));

    // Nothing is pending within the grace; after it, the sweeper and the caller's retry
    // finish the same fill at the same time: the same items, once, nothing charged again.
    assert_eq!(ally.finish_pending_bulks(chrono::Duration::minutes(5)).await.unwrap(), 0);
    let (user, key) = (uid("p"), ikey("bulk"));
    let (swept, receipt) = tokio::join!(
        ally.finish_pending_bulks(chrono::Duration::zero()),
        ally.bulk_onboard(&user, request.clone(), &key)
    );
    assert!(swept.unwrap() <= 1);
    let receipt = receipt.unwrap();
    assert_eq!((receipt.state, receipt.cost, receipt.total, receipt.balance), (BulkState::Done, 700, 42_000, 8_000));
    assert_eq!(receipt.clients, first.clients, "the ids promised");
    let h = holdings(&ally, "p").await;
    assert_eq!(h.reseller.balance, charged.balance, "the retry charged nothing");
    assert_eq!((h.clients, h.services), (60, 60));
    assert_eq!(all_entries(&ally, "p").await.iter().filter(|e| e.kind == EntryKind::Debit).count(), 1);
    assert_eq!(ally.bulk_status(&uid("p"), &ikey("bulk")).await.unwrap().state, BulkState::Done);
    assert_eq!(ally.finish_pending_bulks(chrono::Duration::zero()).await.unwrap(), 0, "nothing left");
    let again = ally.bulk_onboard(&uid("p"), request, &ikey("bulk")).await.unwrap();
    assert_eq!(again, receipt);
    assert_ledger_matches_balance(&ally, "p").await;
}

/// A bulk whose caller never comes back is finished by the sweeper alone.
async fn a_bulk_its_caller_abandoned_is_finished_by_the_sweeper<S: Store + CrashingFill>(store: S) {
    let ally = ally_on(store.crashing_fill().await);
    reseller_with(&ally, "gone", Tier::Standard, 100_000).await;
    let request = BulkRequest { clients: clients(90), product: None, cost: Some(100) };
    let first = ally.bulk_onboard(&uid("gone"), request, &ikey("bulk")).await.unwrap();
    assert_eq!(first.state, BulkState::Filling);
    assert_eq!(ally.finish_pending_bulks(chrono::Duration::zero()).await.unwrap(), 1);
    let h = holdings(&ally, "gone").await;
    assert_eq!((h.clients, h.services, h.reseller.balance), (90, 90, 100_000 - 90 * 100));
    let listed = ally.store().clients(&uid("gone"), &PageRequest::first(200)).await.unwrap().items;
    let mut ids: Vec<_> = listed.iter().map(|c| c.id.clone()).collect();
    let mut promised: Vec<_> = first.clients.iter().map(|c| c.id.clone()).collect();
    ids.sort();
    promised.sort();
    assert_eq!(ids, promised, "the clients the first answer named");
    assert_eq!(ally.bulk_status(&uid("gone"), &ikey("bulk")).await.unwrap().state, BulkState::Done);
}

async fn a_closed_wallet_opens_on_the_first_credit<S: Store>(store: S) {
    let closed = Ally::new(store, Config { auto_provision_wallet: false, ..Config::default() });
    let request = ally::service::NewReseller::new(company("Closed"));
    let r = closed.onboard(&ally_tests::partner("c"), request).await.unwrap();
    assert!(!r.wallet_open);
    let err = closed.provision(&uid("c"), cost(1), &ikey("spend")).await.unwrap_err();
    assert!(matches!(err, AllyError::InsufficientCredits { needed: 1, balance: 0 }), "{err:?}");
    closed.add_credits(&uid("c"), credit(10), EntryKind::Credit, "a", &ikey("open")).await.unwrap();
    assert!(closed.find_by_user(&uid("c")).await.unwrap().wallet_open, "the first credit opens the wallet");
}

/// The store itself refuses a wallet write whose conditions fail, naming the reason; the
/// service's own checks are not what keeps the money right. (Long: one list of every
/// condition of a wallet write, each tried against the same wallet.)
async fn the_store_enforces_every_wallet_condition<S: Store>(store: S) {
    use ally::domain::{Guard, Refusal};
    use ally::store::{IdempotencyRecord, IdempotencyState, StoreError, WalletChange};
    let ally = ally_on(store);
    let r = reseller_with(&ally, "p", Tier::Gold, 1_000).await;
    let now = chrono::Utc::now();
    let change = |guard: Guard, key: &str| WalletChange {
        user_id: uid("p"),
        guard,
        new_balance: 0,
        new_held: 0,
        activity: ally::domain::Activity::default(),
        accrual: None,
        hold: None,
        new_debt: 0,
        reversal: None,
        entries: vec![ally::domain::LedgerEntry {
            id: ally::domain::new_id(),
            kind: EntryKind::Debit,
            amount: 1_000,
            balance_after: 0,
            reason: None,
            actor: "p".into(),
            idempotency_key: key.into(),
            created_at: now,
            reversed: 0,
            // All of the funded lot: the lots stay the balance.
            lots: r.lots.iter().map(|l| Draw { lot: l.id.clone(), kind: l.kind, amount: l.remaining }).collect(),
            counterpart: None,
            commission_to: None,
        }],
        new_lots: ally::domain::Lots::default(),
        lot_writes: Vec::new(),
        clients: Vec::new(),
        services: Vec::new(),
        idempotency: IdempotencyRecord {
            key: ikey(key),
            request_hash: "h".into(),
            state: IdempotencyState::Done,
            response: "{}".into(),
            created_at: now,
            expires_at: Some(now.timestamp() + 60),
            pending_fill: None,
        },
        payment: None,
        lift_hold: false,
        top_up: None,
        at: now,
    };
    let spend =
        |version: u64, tier: Tier, cost: i64| Guard::Spend { version, tier, cost, held: 0, product: None, at: now };
    let fresh = |r: &ally::domain::Reseller| spend(r.version, r.tier, 1_000);
    let refused = |result: Result<(), StoreError>| match result {
        Err(StoreError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let store = ally.store();
    let before = holdings(&ally, "p").await;
    let stale = spend(r.version + 7, r.tier, 1_000);
    assert_eq!(refused(store.commit_wallet_change(&change(stale, "k1")).await), Refusal::VersionChanged);
    let dear = spend(r.version, r.tier, 1_001);
    assert_eq!(
        refused(store.commit_wallet_change(&change(dear, "k2")).await),
        Refusal::Insufficient { needed: 1_001, balance: 1_000 }
    );
    let platinum = spend(r.version, Tier::Platinum, 1_000);
    assert_eq!(refused(store.commit_wallet_change(&change(platinum, "k3")).await), Refusal::TierChanged);
    assert_eq!(refused(store.commit_wallet_change(&change(fresh(&r), "open-p")).await), Refusal::Duplicate);
    let ghost = WalletChange { user_id: uid("ghost"), ..change(fresh(&r), "k4") };
    assert_eq!(refused(store.commit_wallet_change(&ghost).await), Refusal::Missing);

    let held = ally
        .update_reseller(&r.refid, ResellerPatch { hold_provisioning: Some(true), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(refused(store.commit_wallet_change(&change(fresh(&held), "k5")).await), Refusal::OnHold);
    let patch = ResellerPatch { status: Some(Status::Suspended), hold_provisioning: Some(false), ..Default::default() };
    let suspended = ally.update_reseller(&r.refid, patch).await.unwrap();
    assert_eq!(refused(store.commit_wallet_change(&change(fresh(&suspended), "k6")).await), Refusal::Suspended);
    let after = holdings(&ally, "p").await;
    assert_eq!(
        (after.reseller.balance, after.ledger, after.services),
        (before.reseller.balance, before.ledger, before.services)
    );

    let active = ally
        .update_reseller(&r.refid, ResellerPatch { status: Some(Status::Active), ..Default::default() })
        .await
        .unwrap();
    store.commit_wallet_change(&change(fresh(&active), "k7")).await.unwrap();
    assert_eq!(ally.find_by_user(&uid("p")).await.unwrap().balance, 0);
    assert_ledger_matches_balance(&ally, "p").await;
}

on_both_stores!(
    the_store_enforces_every_wallet_condition,
    fifty_concurrent_debits_of_100_on_1000,
    fifty_concurrent_retries_of_one_credit_key_credit_once,
    same_key_other_input_is_a_conflict_and_moves_nothing,
    bad_amounts_and_keys_are_refused_and_write_nothing,
    provision_prices_by_tier_and_refuses_in_order,
    bulk_is_all_or_nothing,
    a_bulk_crash_is_finished_by_a_retry_without_a_second_charge,
    a_bulk_its_caller_abandoned_is_finished_by_the_sweeper,
    a_closed_wallet_opens_on_the_first_credit,
);
