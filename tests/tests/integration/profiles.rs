//! Profiles and portfolios, run on both stores: onboarding rules, refids, admin changes,
//! the reseller lists, clients and ledgers that stay with their owner.

use ally_tests::ally_on;
use std::sync::Arc;

use super::money::cost;
use ally::domain::MetadataValue;

fn text(value: &str) -> MetadataValue {
    MetadataValue::Text(value.into())
}
use ally::domain::{AllyError, EntryKind, Status, Tier};
use ally::service::{Actor, NewClient, ProvisionRequest, ResellerPatch};
use ally::store::{PageRequest, Store};
use ally_tests::{
    admin, assert_ledger_matches_balance, cname, company, email, holdings, ikey, mkey, on_both_stores, reseller_with,
    rid, uid,
};

async fn one_user_onboarded_concurrently_is_one_reseller<S: Store>(store: S) {
    let ally = Arc::new(ally_on(store));
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let ally = ally.clone();
            tokio::spawn(async move {
                let request = ally::service::NewReseller::new(company(&format!("Twin {i}")));
                ally.onboard(&ally_tests::partner("twin"), request).await
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => created.push(r),
            Err(AllyError::AlreadyExists("reseller")) => {}
            Err(other) => panic!("unexpected: {other:?}"),
        }
    }
    assert_eq!(created.len(), 1);
    let stored = ally.find_by_user(&uid("twin")).await.unwrap();
    assert_eq!(stored, created[0]);
    assert_eq!(ally.find_by_refid(&stored.refid).await.unwrap(), stored);
}

async fn onboarding_rules<S: Store>(store: S) {
    let ally = ally_on(store);
    let me = ally_tests::partner("self-1");
    let request = |name: &str| ally::service::NewReseller::new(company(name));
    let r = ally.onboard(&me, request("Acme")).await.unwrap();
    assert_eq!((r.tier, r.status, r.balance, r.wallet_open), (Tier::Standard, Status::Active, 0, true));
    assert_eq!(r.email.as_deref(), Some("self-1@partners.example"), "email defaults to the token's");
    ally::domain::RefId::parse(r.refid.as_str()).unwrap();
    assert_eq!(ally.find_by_refid(&r.refid).await.unwrap(), r);
    assert!(matches!(ally.onboard(&me, request("Again")).await, Err(AllyError::AlreadyExists(_))));

    let other = ally_tests::partner("self-2");
    let gold = ally::service::NewReseller { tier: Some(Tier::Gold), ..request("G") };
    assert!(matches!(ally.onboard(&other, gold.clone()).await, Err(AllyError::Forbidden(_))));
    let someone = ally::service::NewReseller { user_id: Some(uid("x")), ..request("S") };
    assert!(matches!(ally.onboard(&other, someone).await, Err(AllyError::Forbidden(_))));
    // Names and metadata keys are checked where they are parsed: such requests cannot be made.
    for bad in ["", "   ", "a\u{7}b"] {
        assert!(ally::domain::CompanyName::parse(bad).is_err(), "{bad:?}");
    }
    assert!(ally::domain::MetadataKey::parse("hold_provisioning").is_err());
    let mut control = request("R");
    control.metadata.insert(ally::domain::MetadataKey::parse("k").unwrap(), text("a\u{0}b"));
    assert!(matches!(ally.onboard(&other, control).await, Err(AllyError::Validation(_))));
    // Mail goes only where it should: another address than the verified one is an admin's
    // to give, and without a verified address the reseller has none.
    let elsewhere = ally::service::NewReseller { email: Some(email("victim@elsewhere.example")), ..request("E") };
    assert!(matches!(ally.onboard(&other, elsewhere).await, Err(AllyError::Forbidden(_))));
    assert!(matches!(ally.find_by_user(&uid("self-2")).await, Err(AllyError::NotFound(_))), "refusals wrote nothing");
    let unverified = Actor { email: None, ..ally_tests::partner("self-3") };
    let given = ally::service::NewReseller { email: Some(email("self-3@partners.example")), ..request("U") };
    assert!(matches!(ally.onboard(&unverified, given).await, Err(AllyError::Forbidden(_))), "nothing verified");
    assert_eq!(ally.onboard(&unverified, request("U")).await.unwrap().email, None, "no verified address, no mail");
    let own = ally::service::NewReseller { email: Some(email("self-4@partners.example")), ..request("O") };
    let onboarded = ally.onboard(&ally_tests::partner("self-4"), own).await.unwrap();
    assert_eq!(onboarded.email.as_deref(), Some("self-4@partners.example"), "its own verified address");

    let by_admin = ally::service::NewReseller {
        company: company("Platinum Co"),
        tier: Some(Tier::Platinum),
        user_id: Some(uid("self-2")),
        email: Some(email("billing@plat.example")),
        metadata: Default::default(),
        parent_refid: None,
        invited_by: None,
    };
    let p = ally.onboard(&admin(), by_admin).await.unwrap();
    assert_eq!((p.tier, p.email.as_deref()), (Tier::Platinum, Some("billing@plat.example")));
}

async fn refid_collisions_draw_another<S: Store>(store: S) {
    let drawn = Arc::new(std::sync::Mutex::new(vec!["BBBBBBBBBB", "AAAAAAAAAA", "AAAAAAAAAA"]));
    let source = {
        let drawn = drawn.clone();
        Arc::new(move || rid(drawn.lock().unwrap().pop().unwrap_or("CCCCCCCCCC")))
    };
    let ally = ally_on(store).with_refids(source);
    let request = |c: &str| ally::service::NewReseller::new(company(c));
    let a = ally.onboard(&ally_tests::partner("a"), request("A")).await.unwrap();
    let b = ally.onboard(&ally_tests::partner("b"), request("B")).await.unwrap();
    assert_eq!((a.refid.as_str(), b.refid.as_str()), ("AAAAAAAAAA", "BBBBBBBBBB"));
    assert_eq!(ally.find_by_refid(&rid("BBBBBBBBBB")).await.unwrap().user_id, "b");
}

async fn admins_change_tier_status_hold_and_metadata<S: Store>(store: S) {
    let ally = ally_on(store);
    let r = reseller_with(&ally, "p", Tier::Standard, 2_000).await;
    let patch = ResellerPatch {
        tier: Some(Tier::Gold),
        metadata: [(mkey("logo_url"), Some(text("https://cdn.p.example/logo.png")))].into(),
        ..ResellerPatch::default()
    };
    let updated = ally.update_reseller(&r.refid, patch).await.unwrap();
    assert_eq!(updated.tier, Tier::Gold);
    assert_eq!(updated.balance, 2_000, "a profile change leaves the wallet alone");
    assert_eq!(updated.metadata.get("logo_url"), Some(&text("https://cdn.p.example/logo.png")));
    assert_eq!(ally.provision(&uid("p"), cost(1_000), &ikey("after-upgrade")).await.unwrap().cost, 850);

    let version = ally.find_by_user(&uid("p")).await.unwrap().version;
    let own = ally
        .update_own_metadata(
            &uid("p"),
            [
                (mkey("primary_color"), Some(text("#0055ff"))),
                (mkey("logo_url"), None),
                (mkey("seats"), Some(MetadataValue::Number(25.into()))),
                (mkey("beta"), Some(MetadataValue::Flag(true))),
            ]
            .into(),
        )
        .await
        .unwrap();
    assert_eq!(own.metadata.len(), 3);
    assert_eq!(own.metadata["primary_color"], text("#0055ff"));
    let stored = ally.find_by_user(&uid("p")).await.unwrap();
    assert_eq!(stored.metadata, own.metadata, "as stored");
    // Metadata has an item of its own: changing it leaves the wallet (and its version) alone.
    assert_eq!(stored.version, version);
    let listed = ally.list_resellers(ally::store::ResellerFilter::Tier(Tier::Gold), &PageRequest::first(5)).await;
    assert!(listed.unwrap().items[0].metadata.is_empty(), "lists leave metadata out");
    let before = holdings(&ally, "p").await;
    // Reserved and malformed keys are refused where they are parsed.
    assert!(ally::domain::MetadataKey::parse("hold_provisioning").is_err());
    assert!(ally::domain::MetadataKey::parse("Bad Key").is_err());
    let err = ally.update_own_metadata(&uid("p"), [(mkey("k"), Some(text("a\u{0}b")))].into()).await;
    assert!(matches!(err, Err(AllyError::Validation(_))), "{err:?}");
    // 8 KiB of JSON in all: many small values add up to too much.
    let too_much = (0..100).map(|i| (mkey(&format!("k{i}")), Some(text(&"v".repeat(80))))).collect();
    assert!(matches!(ally.update_own_metadata(&uid("p"), too_much).await, Err(AllyError::TooLarge(_))));
    // An admin's change with metadata that does not fit is refused whole: the tier stays.
    let too_big = ResellerPatch {
        tier: Some(Tier::Platinum),
        metadata: [(mkey("huge"), Some(text(&"x".repeat(9_000))))].into(),
        ..ResellerPatch::default()
    };
    assert!(matches!(ally.update_reseller(&r.refid, too_big).await, Err(AllyError::TooLarge(_))));
    assert_eq!(holdings(&ally, "p").await, before);
    assert!(matches!(
        ally.update_reseller(&rid("ZZZZZZZZZZ"), ResellerPatch::default()).await,
        Err(AllyError::NotFound(_))
    ));
    assert!(ally::domain::RefId::parse("bad refid").is_err());
    assert_ledger_matches_balance(&ally, "p").await;
}

async fn resellers_are_listed_by_tier_and_status_page_by_page<S: Store>(store: S) {
    let ally = ally_on(store);
    for i in 0..5 {
        reseller_with(&ally, &format!("gold-{i}"), Tier::Gold, 0).await;
    }
    reseller_with(&ally, "plat-0", Tier::Platinum, 0).await;
    let mut seen = Vec::new();
    let mut page = PageRequest::first(2);
    let mut sizes = Vec::new();
    loop {
        let p = ally.list_resellers(ally::store::ResellerFilter::Tier(Tier::Gold), &page).await.unwrap();
        sizes.push(p.items.len());
        seen.extend(p.items.into_iter().map(|r| r.user_id));
        match p.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    assert_eq!(seen, vec!["gold-4", "gold-3", "gold-2", "gold-1", "gold-0"], "newest first, each once");

    let plat = ally.find_by_user(&uid("plat-0")).await.unwrap();
    let demote = ResellerPatch { tier: Some(Tier::Gold), status: Some(Status::Suspended), ..ResellerPatch::default() };
    ally.update_reseller(&plat.refid, demote).await.unwrap();
    let gold =
        ally.list_resellers(ally::store::ResellerFilter::Tier(Tier::Gold), &PageRequest::first(10)).await.unwrap();
    assert_eq!(gold.items.len(), 6);
    assert!(gold.next_cursor.is_none());
    let platinum =
        ally.list_resellers(ally::store::ResellerFilter::Tier(Tier::Platinum), &PageRequest::first(10)).await.unwrap();
    assert!(platinum.items.is_empty());
    let suspended = ally
        .list_resellers(ally::store::ResellerFilter::Status(Status::Suspended), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(suspended.items.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(), vec!["plat-0"]);
    // Both scopes: the suspended gold one, and the active gold ones two a page.
    let scope = |status| ally::store::ResellerFilter::TierAndStatus(Tier::Gold, status);
    let gold_suspended = ally.list_resellers(scope(Status::Suspended), &PageRequest::first(10)).await.unwrap();
    assert_eq!(gold_suspended.items.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(), vec!["plat-0"]);
    let first = ally.list_resellers(scope(Status::Active), &PageRequest::first(3)).await.unwrap();
    assert_eq!(first.items.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(), ["gold-4", "gold-3", "gold-2"]);
    let rest = PageRequest { limit: 3, cursor: first.next_cursor };
    let rest = ally.list_resellers(scope(Status::Active), &rest).await.unwrap();
    assert_eq!(rest.items.iter().map(|r| r.user_id.as_str()).collect::<Vec<_>>(), ["gold-1", "gold-0"]);
    assert!(rest.next_cursor.is_none());
    let bad = PageRequest { limit: 2, cursor: Some("not-a-cursor".into()) };
    assert!(matches!(
        ally.list_resellers(ally::store::ResellerFilter::Tier(Tier::Gold), &bad).await,
        Err(AllyError::Validation(_))
    ));
}

async fn clients_and_ledgers_stay_with_their_owner<S: Store>(store: S) {
    let ally = ally_on(store);
    reseller_with(&ally, "a", Tier::Standard, 1_000).await;
    reseller_with(&ally, "b", Tier::Standard, 1_000).await;
    let mut a_clients = Vec::new();
    for i in 0..5 {
        let c = ally
            .onboard_client(&uid("a"), NewClient { name: cname(&format!("A client {i}")), email: None })
            .await
            .unwrap();
        a_clients.push(c);
    }
    let b_client = ally.onboard_client(&uid("b"), NewClient { name: cname("B client"), email: None }).await.unwrap();
    assert_eq!(ally.client(&uid("a"), &a_clients[0].id).await.unwrap(), a_clients[0]);
    assert!(matches!(ally.client(&uid("b"), &a_clients[0].id).await, Err(AllyError::NotFound("client"))));
    assert!(ally::domain::ClientId::parse("../../etc").is_err(), "a path like this names no client");

    // B cannot provision for A's client.
    let for_a = ProvisionRequest { cost: Some(10), client_id: Some(a_clients[0].id.to_string()), ..Default::default() };
    assert!(matches!(ally.provision(&uid("b"), for_a.clone(), &ikey("x")).await, Err(AllyError::NotFound("client"))));
    let receipt = ally.provision(&uid("a"), for_a, &ikey("x")).await.unwrap();
    assert_eq!(receipt.service.client_id.as_deref(), Some(a_clients[0].id.as_str()));

    // Pages: newest first; A's cursor in B's hands lists only B's items.
    let first = ally.clients(&uid("a"), &PageRequest::first(2)).await.unwrap();
    assert_eq!(first.items.iter().map(|c| &c.id).collect::<Vec<_>>(), vec![&a_clients[4].id, &a_clients[3].id]);
    let cursor = first.next_cursor.clone().unwrap();
    let second = ally.clients(&uid("a"), &PageRequest { limit: 2, cursor: Some(cursor.clone()) }).await.unwrap();
    assert_eq!(second.items.iter().map(|c| &c.id).collect::<Vec<_>>(), vec![&a_clients[2].id, &a_clients[1].id]);
    let stolen = ally.clients(&uid("b"), &PageRequest { limit: 2, cursor: Some(cursor) }).await.unwrap();
    assert!(stolen.items.iter().all(|c| c.owner_id == "b"));
    assert!(stolen.items.is_empty(), "B's only client is newer than the position of A's cursor: {:?}", stolen.items);
    assert_eq!(ally.clients(&uid("b"), &PageRequest::first(10)).await.unwrap().items, vec![b_client]);
    let b_ledger = ally.ledger(&uid("b"), &PageRequest::first(100)).await.unwrap();
    assert_eq!(b_ledger.items.len(), 1, "B sees its opening credit only");

    assert!(ally::domain::Email::parse("not-an-email").is_err(), "such a client cannot be asked for");
    assert!(matches!(
        ally.onboard_client(&uid("ghost"), NewClient { name: cname("x"), email: None }).await,
        Err(AllyError::NotFound("reseller"))
    ));

    let stats = ally.stats(&uid("a")).await.unwrap();
    assert_eq!(
        (stats.balance, stats.clients, stats.credits_added, stats.credits_spent, stats.provisions),
        (990, 5, 1_000, 10, 1)
    );
    let ledger = ally.ledger(&uid("a"), &PageRequest::first(100)).await.unwrap().items;
    assert_eq!(
        ledger.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EntryKind::Debit, EntryKind::Credit],
        "newest first"
    );
    assert_eq!(ledger[0].balance_after, 990);
}

on_both_stores!(
    one_user_onboarded_concurrently_is_one_reseller,
    onboarding_rules,
    refid_collisions_draw_another,
    admins_change_tier_status_hold_and_metadata,
    resellers_are_listed_by_tier_and_status_page_by_page,
    clients_and_ledgers_stay_with_their_owner,
);
