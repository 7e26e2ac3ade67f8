//! The reseller tree: parents set by an admin, by a partner's invite or by a referral, never a cycle,
//! never deeper than `ALLY_MAX_DEPTH`, a refused move changing nothing; a parent sees its
//! children's figures; on both stores.

use ally::Ally;
use ally::domain::{AllyError, ParentRef, RefId, Refusal, Tier};
use ally::events::ReferralCompleted;
use ally::events::reactions::{Handled, reward_referral};
use ally::service::{NewReseller, ResellerPatch};
use ally::store::{Ancestor, PageRequest, ParentChange, ParentLink, Store, StoreError};
use ally_tests::{admin, company, ikey, on_both_stores, onboarded, reseller_with, uid};
use ally_tests::{ally_on, spend};
use chrono::Utc;

async fn under<S: Store>(ally: &Ally<S>, child: &RefId, parent: Option<&RefId>) -> Result<(), AllyError> {
    let patch = ResellerPatch { parent_refid: Some(parent.cloned()), ..ResellerPatch::default() };
    ally.update_reseller(child, patch).await.map(|_| ())
}

async fn parent_of<S: Store>(ally: &Ally<S>, user: &str) -> Option<RefId> {
    ally.find_by_user(&uid(user)).await.unwrap().parent.map(|p| p.refid)
}

async fn children_of<S: Store>(ally: &Ally<S>, user: &str) -> Vec<RefId> {
    let page = ally.sub_resellers(&uid(user), &PageRequest::first(100)).await.unwrap();
    page.items.into_iter().map(|c| c.refid).collect()
}

/// The profiles and children of the first three resellers, to show a refusal moved nothing.
async fn tree_of<S: Store>(ally: &Ally<S>) -> Vec<(ally::domain::Reseller, Vec<RefId>)> {
    let mut out = Vec::new();
    for user in ["top", "mid", "leaf"] {
        out.push((ally.find_by_user(&uid(user)).await.unwrap(), children_of(ally, user).await));
    }
    out
}

async fn an_admin_builds_the_tree_without_cycles_or_excess_depth<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Platinum, 5_000).await.refid;
    let mid = reseller_with(&ally, "mid", Tier::Gold, 1_000).await.refid;
    // Onboarded straight under `mid` by an admin.
    let request = NewReseller {
        user_id: Some(uid("leaf")),
        parent_refid: Some(mid.clone()),
        ..NewReseller::new(company("Leaf Ltd"))
    };
    let leaf = ally.onboard(&admin(), request).await.unwrap();
    assert_eq!(
        leaf.parent.as_ref().map(|p| (p.refid.clone(), p.company.as_str().to_string())),
        Some((mid.clone(), "mid Ltd".into()))
    );
    under(&ally, &mid, Some(&top)).await.unwrap();
    assert_eq!(children_of(&ally, "top").await, std::slice::from_ref(&mid));
    assert_eq!(children_of(&ally, "mid").await, std::slice::from_ref(&leaf.refid));

    // A cycle, the tree growing to four levels, an unknown parent: 422, and nothing moves.
    let first = tree_of(&ally).await;
    let cycle = under(&ally, &top, Some(&leaf.refid)).await.unwrap_err();
    assert!(matches!(cycle, AllyError::Validation(_)), "{cycle:?}");
    assert!(matches!(under(&ally, &top, Some(&top)).await, Err(AllyError::Validation(_))), "itself");
    let deep = reseller_with(&ally, "deep", Tier::Standard, 0).await.refid;
    let too_deep = under(&ally, &deep, Some(&leaf.refid)).await.unwrap_err();
    assert!(matches!(too_deep, AllyError::Validation(ref m) if m.contains("3 levels")), "{too_deep:?}");
    let stranger = RefId::parse("ZZZZZZZZZZ").unwrap();
    assert!(matches!(under(&ally, &deep, Some(&stranger)).await, Err(AllyError::Validation(_))));
    assert_eq!(tree_of(&ally).await, first, "the refusals changed nothing");
    // Moving `mid` (with its child) under `deep` would make four levels too.
    under(&ally, &deep, Some(&top)).await.unwrap();
    let before = tree_of(&ally).await;
    assert!(matches!(under(&ally, &mid, Some(&deep)).await, Err(AllyError::Validation(_))), "a subtree counts");
    let refused = ResellerPatch {
        tier: Some(Tier::Standard),
        parent_refid: Some(Some(leaf.refid.clone())),
        ..ResellerPatch::default()
    };
    assert!(ally.update_reseller(&top, refused).await.is_err());
    assert_eq!(tree_of(&ally).await, before, "a refused change changes nothing");

    // An admin moves a reseller and clears a parent.
    under(&ally, &leaf.refid, Some(&top)).await.unwrap();
    assert_eq!(children_of(&ally, "mid").await, Vec::<RefId>::new());
    assert_eq!(children_of(&ally, "top").await, [deep.clone(), leaf.refid.clone(), mid.clone()], "newest first");
    under(&ally, &leaf.refid, None).await.unwrap();
    assert_eq!(parent_of(&ally, "leaf").await, None);
    assert!(!children_of(&ally, "top").await.contains(&leaf.refid));
}

async fn two_moves_at_once_never_close_a_cycle<S: Store>(store: S) {
    let ally = ally_on(store);
    for round in 0..10 {
        let a = onboarded(&ally, &format!("a{round}"), Tier::Standard, None).await.refid;
        let b = onboarded(&ally, &format!("b{round}"), Tier::Standard, None).await.refid;
        let (ab, ba) = tokio::join!(under(&ally, &a, Some(&b)), under(&ally, &b, Some(&a)));
        assert!(ab.is_ok() != ba.is_ok(), "round {round}: exactly one move wins: {ab:?} {ba:?}");
        let (pa, pb) = (parent_of(&ally, &format!("a{round}")).await, parent_of(&ally, &format!("b{round}")).await);
        assert!(pa.is_none() || pb.is_none(), "round {round}: a cycle {pa:?} {pb:?}");
    }
}

async fn a_reseller_hung_below_a_move_in_flight_makes_it_start_over<S: Store>(store: S) {
    let ally = ally_on(store);
    let x = onboarded(&ally, "x", Tier::Standard, None).await.refid;
    let l = onboarded(&ally, "l", Tier::Standard, None).await.refid;
    let y = onboarded(&ally, "y", Tier::Standard, None).await.refid;
    let p = onboarded(&ally, "p", Tier::Standard, None).await.refid;
    under(&ally, &l, Some(&x)).await.unwrap();
    // The move of x under p as decided now: p above x's two levels makes three, the most.
    let (xr, pr) = (ally.find_by_user(&uid("x")).await.unwrap(), ally.find_by_user(&uid("p")).await.unwrap());
    let move_x = ParentChange {
        child: uid("x"),
        child_refid: x.clone(),
        child_created_at: xr.created_at,
        version: xr.version,
        tree_version: ally.store().tree_version(&uid("x")).await.unwrap(),
        old: None,
        new: Some(ParentLink {
            parent: uid("p"),
            shown: ParentRef { refid: p.clone(), company: pr.company },
            chain: vec![Ancestor { user_id: uid("p"), parent: None }],
        }),
        at: Utc::now(),
    };
    // Before it is written, y goes under l: x, l and y are three levels too.
    under(&ally, &y, Some(&l)).await.unwrap();
    // Written now, the move would make four (p, x, l, y): refused, to be judged again.
    let late = ally.store().set_parent(&move_x).await;
    assert!(matches!(late, Err(StoreError::Refused(Refusal::VersionChanged))), "{late:?}");
    assert_eq!(parent_of(&ally, "x").await, None, "x did not move");
    assert!(children_of(&ally, "p").await.is_empty());
    let judged_again = under(&ally, &x, Some(&p)).await;
    assert!(matches!(&judged_again, Err(AllyError::Validation(m)) if m.contains("levels deep")), "{judged_again:?}");
}

async fn a_parent_sees_its_children_figures_and_a_child_its_parent_only<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Platinum, 5_000).await.refid;
    let child = reseller_with(&ally, "child", Tier::Gold, 2_000).await.refid;
    under(&ally, &child, Some(&top)).await.unwrap();
    let spend = spend(1_000);
    ally.provision(&uid("child"), spend, &ikey("buy")).await.unwrap();
    let listed = ally.sub_resellers(&uid("top"), &PageRequest::first(10)).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    let c = &listed[0];
    assert_eq!((c.refid.clone(), c.tier, c.balance, c.credits_spent_month), (child.clone(), Tier::Gold, 1_150, 850));
    let shown = serde_json::to_value(&ally.find_by_user(&uid("child")).await.unwrap().parent).unwrap();
    assert_eq!(shown, serde_json::json!({"refid": top.as_str(), "company": "top Ltd"}), "refid and company only");
    assert!(children_of(&ally, "child").await.is_empty());
    let missing = ally.sub_resellers(&uid("nobody"), &PageRequest::first(10)).await;
    assert!(matches!(missing, Err(AllyError::NotFound(_))));
}

async fn a_referral_puts_the_recruit_under_its_referrer<S: Store>(store: S) {
    let ally = ally_on(store);
    let referrer = onboarded(&ally, "referrer", Tier::Gold, None).await.refid;
    let event = |id: &str, referred: &str| ReferralCompleted {
        referral_id: id.into(),
        referrer_user_id: "referrer".into(),
        referred_user_id: referred.into(),
        tag: "become-partner".into(),
    };
    // Onboarded before the event.
    onboarded(&ally, "early", Tier::Standard, None).await;
    let now = chrono::Utc::now();
    assert!(matches!(reward_referral(&ally, &event("r1", "early"), now).await.unwrap(), Handled::Done));
    assert_eq!(parent_of(&ally, "early").await, Some(referrer.clone()));
    // Onboarded after it: the waiting referral pays and links on `ResellerOnboarded`.
    assert!(matches!(reward_referral(&ally, &event("r2", "late"), now).await.unwrap(), Handled::Waiting));
    onboarded(&ally, "late", Tier::Standard, None).await;
    ally::events::reactions::pay_waiting_referrals(&ally, &uid("late")).await.unwrap();
    assert_eq!(parent_of(&ally, "late").await, Some(referrer.clone()));
    // An admin's parent stands: a later referral does not move it.
    let other = onboarded(&ally, "other", Tier::Standard, None).await.refid;
    onboarded(&ally, "placed", Tier::Standard, None).await;
    under(&ally, &ally.find_by_user(&uid("placed")).await.unwrap().refid, Some(&other)).await.unwrap();
    reward_referral(&ally, &event("r3", "placed"), now).await.unwrap();
    assert_eq!(parent_of(&ally, "placed").await, Some(other));
    assert_eq!(children_of(&ally, "referrer").await.len(), 2);
}

async fn subtree_figures_are_the_sums_of_their_members<S: Store>(store: S) {
    use ally::domain::{DateRange, Interval};
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Platinum, 5_000).await.refid;
    let mid = reseller_with(&ally, "mid", Tier::Gold, 2_000).await.refid;
    let leaf = reseller_with(&ally, "leaf", Tier::Standard, 1_000).await.refid;
    reseller_with(&ally, "outside", Tier::Standard, 9_000).await;
    under(&ally, &mid, Some(&top)).await.unwrap();
    under(&ally, &leaf, Some(&mid)).await.unwrap();
    for (i, user) in ["top", "mid", "leaf", "outside"].iter().enumerate() {
        for n in 0..=i {
            let spend = spend(100);
            ally.provision(&uid(user), spend, &ikey(&format!("buy-{n}"))).await.unwrap();
        }
    }
    let transfer = ally::service::TransferRequest { to_refid: leaf.clone(), amount: 300, note: None };
    ally.transfer_to_child(&uid("mid"), transfer, &ikey("pass")).await.unwrap();
    let members = ally.subtree(&uid("top")).await.unwrap();
    assert_eq!(members, [uid("top"), uid("mid"), uid("leaf")]);

    let today = chrono::Utc::now().date_naive();
    let range = DateRange { start: today - chrono::Duration::days(40), end: today };
    for interval in [Interval::Daily, Interval::Monthly] {
        let whole = ally.subtree_credit_trends(interval, &range, &members, ally::domain::Measure::Added).await.unwrap();
        let mut summed = std::collections::BTreeMap::new();
        for member in &members {
            for (period, credits) in
                ally.credit_trends(interval, &range, Some(member), ally::domain::Measure::Added).await.unwrap()
            {
                *summed.entry(period).or_insert(0) += credits;
            }
        }
        assert_eq!(whole, summed, "{interval:?}: the subtree is the sum of its members");
    }
    let ranked = ally.subtree_top_resellers(&range, 10, &members, ally::domain::Ranking::Acquisitions).await.unwrap();
    let spent: Vec<_> = ranked.iter().map(|r| (r.refid.clone(), r.credits_spent)).collect();
    assert_eq!(spent, [(leaf, 300), (mid, 170), (top, 70)], "members only, by spend");
}

/// The wallet versions of `top` and `mid`.
async fn wallet_versions<S: Store>(ally: &Ally<S>) -> (u64, u64) {
    let top = ally.find_by_user(&uid("top")).await.unwrap().version;
    (top, ally.find_by_user(&uid("mid")).await.unwrap().version)
}

/// A distributor's wallet is its own: hanging resellers below it (at onboarding or by a
/// move), however deep, never writes its wallet item, so its own money calls never meet a
/// tree change.
async fn hanging_resellers_below_never_writes_the_wallets_above<S: Store>(store: S) {
    let ally = ally_on(store);
    let top = reseller_with(&ally, "top", Tier::Gold, 1_000).await.refid;
    let mid = onboarded(&ally, "mid", Tier::Standard, None).await.refid;
    under(&ally, &mid, Some(&top)).await.unwrap();
    let before = wallet_versions(&ally).await;
    let leaf = onboarded(&ally, "leaf", Tier::Standard, None).await.refid;
    under(&ally, &leaf, Some(&mid)).await.unwrap();
    let request = NewReseller {
        user_id: Some(uid("born-below")),
        parent_refid: Some(mid.clone()),
        ..NewReseller::new(company("Born Below Ltd"))
    };
    ally.onboard(&admin(), request).await.unwrap();
    under(&ally, &leaf, None).await.unwrap();
    assert_eq!(wallet_versions(&ally).await, before, "the wallets above were not written");
    assert_eq!(children_of(&ally, "mid").await.len(), 1, "born-below is listed, leaf moved away");
}

on_both_stores!(
    hanging_resellers_below_never_writes_the_wallets_above,
    subtree_figures_are_the_sums_of_their_members,
    an_admin_builds_the_tree_without_cycles_or_excess_depth,
    two_moves_at_once_never_close_a_cycle,
    a_reseller_hung_below_a_move_in_flight_makes_it_start_over,
    a_parent_sees_its_children_figures_and_a_child_its_parent_only,
    a_referral_puts_the_recruit_under_its_referrer,
);

/// A partner hands out an invite; whoever signs up with it joins under that partner, once
/// and only for itself. An invite that was not issued (another refid, a changed seal, a
/// bare refid) is refused with 422 and creates no one; so is one from a suspended partner
/// or one that would make the tree too deep; naming a parent directly stays an admin's.
/// (Long: one invite's life, issued, forged, used, then refused as the inviter changes.)
#[tokio::test]
async fn a_partner_invites_a_new_partner_under_itself() {
    use serde_json::json;
    let api = super::http::api();
    let (p, p_refid) = api.partner("inviter", "gold", 0).await;
    let (_, other_refid) = api.partner("other", "gold", 0).await;
    let invite = api.call("GET", "/resellers/me/invite", Some(&p), None).await;
    assert_eq!(invite.status, 200, "{invite:?}");
    let sealed = invite.body["invited_by"].as_str().unwrap().to_string();
    let link = invite.body["link"].as_str().unwrap();
    assert!(link.ends_with(&format!("/partner/dashboard?invited_by={sealed}")), "{link}");
    let nobody = api.token("nobody", false);
    assert_eq!(api.call("GET", "/resellers/me/invite", Some(&nobody), None).await.status, 404, "no partner, no invite");

    let (_, tag) = sealed.split_once('.').unwrap();
    let flipped = format!("{}{}", &tag[..tag.len() - 1], if tag.ends_with('A') { 'B' } else { 'A' });
    for forged in [format!("{other_refid}.{tag}"), format!("{p_refid}.{flipped}"), p_refid.clone(), String::new()] {
        let body = json!({"company": "Forger", "invited_by": forged});
        let refused = api.call("POST", "/resellers", Some(&api.token("forger", false)), Some(body)).await;
        ally_tests::assert_problem(&refused, 422, "validation_failed", &forged);
        assert!(refused.body["detail"].as_str().unwrap().contains("invite is not valid"), "{refused:?}");
    }
    let for_another = json!({"company": "Sneaky", "invited_by": sealed, "user_id": "someone-else"});
    let refused = api.call("POST", "/resellers", Some(&api.token("sneaky", false)), Some(for_another)).await;
    assert_eq!(refused.status, 403, "an invite onboards only yourself: {refused:?}");
    for user in ["forger", "sneaky", "someone-else"] {
        let admin = api.token("admin", true);
        let none = api.call("GET", &format!("/resellers?user_id={user}"), Some(&admin), None).await;
        assert_eq!(none.status, 404, "{user} was not onboarded");
    }

    let newcomer = api.token("newcomer", false);
    let joined =
        api.call("POST", "/resellers", Some(&newcomer), Some(json!({"company": "New Co", "invited_by": sealed}))).await;
    assert_eq!(joined.status, 201, "{joined:?}");
    assert_eq!(joined.body["parent"]["refid"], p_refid.as_str());
    let children = api.call("GET", "/resellers/me/sub-resellers", Some(&p), None).await;
    assert_eq!(children.body["items"][0]["company"], "New Co", "{children:?}");
    let again =
        api.call("POST", "/resellers", Some(&newcomer), Some(json!({"company": "Twice", "invited_by": sealed}))).await;
    assert_eq!(again.status, 409, "one account per user");

    // Under a suspended partner, and three levels deep (the default maximum), no one joins.
    let admin = api.token("admin", true);
    let child_invite = api.call("GET", "/resellers/me/invite", Some(&newcomer), None).await.body["invited_by"].clone();
    let third = api
        .call(
            "POST",
            "/resellers",
            Some(&api.token("third", false)),
            Some(json!({"company": "Third", "invited_by": child_invite})),
        )
        .await;
    assert_eq!(third.status, 201, "{third:?}");
    let third_invite =
        api.call("GET", "/resellers/me/invite", Some(&api.token("third", false)), None).await.body["invited_by"]
            .clone();
    let fourth = api
        .call(
            "POST",
            "/resellers",
            Some(&api.token("fourth", false)),
            Some(json!({"company": "Fourth", "invited_by": third_invite})),
        )
        .await;
    ally_tests::assert_problem(&fourth, 422, "validation_failed", "too deep");
    api.call("PATCH", &format!("/resellers/{p_refid}"), Some(&admin), Some(json!({"status": "suspended"}))).await;
    let late = api
        .call(
            "POST",
            "/resellers",
            Some(&api.token("late", false)),
            Some(json!({"company": "Late", "invited_by": sealed})),
        )
        .await;
    ally_tests::assert_problem(&late, 422, "validation_failed", "a suspended inviter");
    assert!(late.body["detail"].as_str().unwrap().contains("cannot take sub-resellers"), "{late:?}");
    let both = json!({"company": "Both", "invited_by": child_invite, "parent_refid": other_refid});
    let both = api.call("POST", "/resellers", Some(&api.token("both", false)), Some(both)).await;
    ally_tests::assert_problem(&both, 422, "validation_failed", "an invite and a parent");
    let direct = json!({"company": "Direct", "parent_refid": other_refid});
    assert_eq!(api.call("POST", "/resellers", Some(&api.token("direct", false)), Some(direct)).await.status, 403);
}

/// While commissions are paid a partner could invite accounts of its own, pass them credit
/// and earn a commission on its own spending: invites are off then (403 both ways), and
/// admins place sub-resellers.
#[tokio::test]
async fn invites_are_off_while_commissions_are_paid() {
    use ally::config::Secret;
    use serde_json::json;
    let sealed_with = || Some(Secret::new("one cursor secret for both"));
    let off = ally::Config { cursor_secret: sealed_with(), ..ally::Config::default() };
    let on = ally::Config {
        cursor_secret: sealed_with(),
        commissions: ally::domain::Commissions { standard: 5, gold: 5, platinum: 5 },
        ..ally::Config::default()
    };
    let open = ally_tests::TestApi::new(ally::store::memory::MemoryStore::new(), off);
    let (p, _) = open.partner("shark", "gold", 0).await;
    let sealed = open.call("GET", "/resellers/me/invite", Some(&p), None).await.body["invited_by"].clone();
    assert!(sealed.is_string(), "invites work without commissions");

    let paying = ally_tests::TestApi::new(ally::store::memory::MemoryStore::new(), on);
    let (p, _) = paying.partner("shark", "gold", 0).await;
    let refused = paying.call("GET", "/resellers/me/invite", Some(&p), None).await;
    ally_tests::assert_problem(&refused, 403, "forbidden", "no invite");
    let sock = json!({"company": "Sock", "invited_by": sealed});
    let refused = paying.call("POST", "/resellers", Some(&paying.token("sock", false)), Some(sock)).await;
    ally_tests::assert_problem(&refused, 403, "forbidden", "no sign-up by invite");
}
