//! Analytics on both stores: every figure equals a brute-force recomputation from the
//! ledgers, clients and profiles, after random and concurrent activity; refused and
//! replayed operations change no counter.

use ally_tests::{ally_on, credit, spend};
use std::sync::Arc;

use ally::domain::{AllyError, EntryKind, Tier, TierSnapshot};
use ally::service::{BulkRequest, CreditRequest, NewClient, ResellerPatch};
use ally::store::{Granularity, Store};
use ally_tests::figures::{assert_figures_match, figures};
use ally_tests::stream::CatchUp;
use ally_tests::{cname, ikey, on_both_stores, reseller_with, uid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Random activity of every kind that counts, then every analytics figure against the same
/// figure recomputed by brute force (long: one generator of every kind of activity, and the
/// comparison needs all of it in one store).
async fn random_activity_keeps_every_figure_exact<S: Store + CatchUp>(store: S) {
    let ally = ally_on(store);
    let mut rng = StdRng::seed_from_u64(7);
    let users: Vec<String> = (0..5).map(|i| format!("r{i}")).collect();
    let began = chrono::Utc::now().date_naive();
    for (i, user) in users.iter().enumerate() {
        reseller_with(&ally, user, Tier::ALL[i % 3], rng.random_range(0..5_000)).await;
    }
    for step in 0..60 {
        let user = &users[rng.random_range(0..users.len())];
        let key = ikey(&format!("op-{step}"));
        match rng.random_range(0..7) {
            0 => {
                let credit = credit(rng.random_range(1..3_000));
                ally.add_credits(&uid(user), credit, EntryKind::Credit, "admin-1", &key).await.unwrap();
            }
            1 => {
                let reward = CreditRequest {
                    amount: 1_000,
                    reason: Some(ally_tests::note("referral")),
                    ..CreditRequest::default()
                };
                ally.add_credits(&uid(user), reward, EntryKind::Reward, "referral", &key).await.unwrap();
            }
            2 => {
                let request = spend(rng.random_range(1..2_000));
                match ally.provision(&uid(user), request, &key).await {
                    Ok(_) | Err(AllyError::InsufficientCredits { .. } | AllyError::OnHold | AllyError::Suspended) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            3 => {
                let clients = (0..rng.random_range(1..4))
                    .map(|i| NewClient { name: cname(&format!("b{i}")), email: None })
                    .collect();
                let request = BulkRequest { clients, product: None, cost: Some(rng.random_range(1..900)) };
                match ally.bulk_onboard(&uid(user), request, &key).await {
                    Ok(_) | Err(AllyError::InsufficientCredits { .. } | AllyError::OnHold | AllyError::Suspended) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            4 => {
                match ally.onboard_client(&uid(user), NewClient { name: cname(&format!("c{step}")), email: None }).await
                {
                    Ok(_) | Err(AllyError::Suspended) => {}
                    Err(other) => panic!("{other:?}"),
                }
            }
            5 => {
                let refid = ally.find_by_user(&uid(user)).await.unwrap().refid;
                let patch = ResellerPatch {
                    tier: Some(Tier::ALL[rng.random_range(0..3)]),
                    hold_provisioning: Some(rng.random_bool(0.2)),
                    status: Some(if rng.random_bool(0.15) {
                        ally::domain::Status::Suspended
                    } else {
                        ally::domain::Status::Active
                    }),
                    ..Default::default()
                };
                ally.update_reseller(&refid, patch).await.unwrap();
            }
            _ => {
                // A replay of an earlier key changes nothing, whatever it was.
                let earlier = format!("op-{}", rng.random_range(0..=step));
                let credit = credit(1);
                let _ = ally.add_credits(&uid(user), credit, EntryKind::Credit, "admin-1", &ikey(&earlier)).await;
            }
        }
    }
    assert_figures_match(&ally, &users).await;
    // Everything happened since `began` (today, or the day before and today across
    // midnight): the months' active resellers are those days', with the same counts (the
    // ranking reads whole months from the by-month index).
    let days = std::collections::BTreeSet::from([began, chrono::Utc::now().date_naive()]);
    let months: std::collections::BTreeSet<_> = days.iter().map(|d| ally::domain::month_of(*d)).collect();
    let mut by_day = std::collections::BTreeMap::new();
    let mut by_month = std::collections::BTreeMap::new();
    for (periods, granularity, sums) in
        [(&days, Granularity::Day, &mut by_day), (&months, Granularity::Month, &mut by_month)]
    {
        for period in periods {
            for (user, activity) in ally.store().active(*period, granularity).await.unwrap() {
                *sums.entry(user).or_insert_with(ally::domain::Activity::default) += activity;
            }
        }
    }
    assert!(!by_day.is_empty());
    assert_eq!(by_month, by_day);
}

async fn counters_stay_exact_under_concurrency<S: Store + CatchUp>(store: S) {
    let ally = Arc::new(ally_on(store));
    let users: Vec<String> = (0..3).map(|i| format!("c{i}")).collect();
    for user in &users {
        reseller_with(&ally, user, Tier::Gold, 2_000).await;
    }
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let ally = ally.clone();
            let user = users[i % 3].clone();
            tokio::spawn(async move {
                let key = ikey(&format!("k{i}"));
                match i % 4 {
                    0 => drop(ally.add_credits(&uid(&user), credit(300), EntryKind::Credit, "a", &key).await),
                    1 => drop(ally.provision(&uid(&user), spend(400), &key).await),
                    2 => drop(
                        ally.onboard_client(&uid(&user), NewClient { name: cname(&format!("n{i}")), email: None })
                            .await,
                    ),
                    _ => {
                        let clients = vec![
                            NewClient { name: cname("x"), email: None },
                            NewClient { name: cname("y"), email: None },
                        ];
                        drop(
                            ally.bulk_onboard(
                                &uid(&user),
                                BulkRequest { clients, product: None, cost: Some(250) },
                                &key,
                            )
                            .await,
                        )
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_figures_match(&ally, &users).await;
    for user in &users {
        ally_tests::assert_ledger_matches_balance(&ally, user).await;
    }
}

async fn a_tier_change_moves_the_tier_counts<S: Store + CatchUp>(store: S) {
    let ally = ally_on(store);
    let a = reseller_with(&ally, "a", Tier::Standard, 0).await;
    reseller_with(&ally, "b", Tier::Standard, 0).await;
    reseller_with(&ally, "c", Tier::Gold, 0).await;
    ally.store().catch_up().await;
    assert_eq!(ally.tier_snapshot().await.unwrap(), TierSnapshot { platinum: 0, gold: 1, standard: 2 });
    ally.update_reseller(&a.refid, ResellerPatch { tier: Some(Tier::Platinum), ..Default::default() }).await.unwrap();
    ally.store().catch_up().await;
    assert_eq!(ally.tier_snapshot().await.unwrap(), TierSnapshot { platinum: 1, gold: 1, standard: 1 });
    let suspend = ResellerPatch { status: Some(ally::domain::Status::Suspended), ..Default::default() };
    ally.update_reseller(&a.refid, suspend).await.unwrap();
    ally.store().catch_up().await;
    assert_eq!(
        ally.tier_snapshot().await.unwrap(),
        TierSnapshot { platinum: 1, gold: 1, standard: 1 },
        "a suspended reseller still counts"
    );
    ally.update_reseller(&a.refid, ResellerPatch { tier: Some(Tier::Platinum), ..Default::default() }).await.unwrap();
    ally.store().catch_up().await;
    assert_eq!(ally.tier_snapshot().await.unwrap().platinum, 1, "setting the same tier moves nothing");
}

async fn refused_and_replayed_operations_change_no_counter<S: Store + CatchUp>(store: S) {
    let ally = ally_on(store);
    let users = vec!["p".to_string(), "q".to_string()];
    reseller_with(&ally, "p", Tier::Standard, 1_000).await;
    let q = reseller_with(&ally, "q", Tier::Standard, 0).await;
    ally.provision(&uid("p"), spend(100), &ikey("buy")).await.unwrap();
    let clients = vec![NewClient { name: cname("x"), email: None }];
    ally.bulk_onboard(
        &uid("p"),
        BulkRequest { clients: clients.clone(), product: None, cost: Some(50) },
        &ikey("bulk"),
    )
    .await
    .unwrap();
    let today = chrono::Utc::now().date_naive();
    let before = figures(&ally, &users, today).await;

    let _ = ally.provision(&uid("p"), spend(100), &ikey("buy")).await;
    let _ = ally.bulk_onboard(&uid("p"), BulkRequest { clients, product: None, cost: Some(50) }, &ikey("bulk")).await;
    let _ = ally
        .add_credits(
            &uid("p"),
            CreditRequest {
                amount: 1_000,
                reason: Some(ally_tests::note("opening balance")),
                ..CreditRequest::default()
            },
            EntryKind::Credit,
            "admin-1",
            &ikey("open-p"),
        )
        .await;
    assert!(ally.provision(&uid("q"), spend(1), &ikey("x")).await.is_err());
    let too_many = (0..30).map(|i| NewClient { name: cname(&format!("n{i}")), email: None }).collect();
    assert!(
        ally.bulk_onboard(&uid("p"), BulkRequest { clients: too_many, product: None, cost: Some(100) }, &ikey("y"))
            .await
            .is_err()
    );
    ally.update_reseller(
        &q.refid,
        ResellerPatch { status: Some(ally::domain::Status::Suspended), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(ally.onboard_client(&uid("q"), NewClient { name: cname("z"), email: None }).await.is_err());
    assert!(ally.add_credits(&uid("p"), credit(0), EntryKind::Credit, "a", &ikey("zero")).await.is_err());

    assert_eq!(figures(&ally, &users, today).await, before);
}

on_both_stores!(
    random_activity_keeps_every_figure_exact,
    counters_stay_exact_under_concurrency,
    a_tier_change_moves_the_tier_counts,
    refused_and_replayed_operations_change_no_counter,
);
