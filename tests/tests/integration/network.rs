//! The network's figures are counted from the change records by their own consumer, never
//! inside a money transaction: each shard's window once, whether it comes again or is
//! handled by two consumers at the same time, and folded once when its shard is closed.
//! Both stores.

use ally::domain::{EntryKind, Tier};
use ally::events::figures::count_window;
use ally::service::{BulkRequest, NewClient, ResellerPatch};
use ally::store::Counters;
use ally::store::memory::MemoryStore;
use ally::{Ally, Config};
use ally_tests::figures::{assert_figures_match, recomputed};
use ally_tests::stream::{final_window, stream_records};
use ally_tests::{ally_on, credit, spend};
use ally_tests::{cname, ikey, reseller_with, uid};

/// Some of everything the figures count: resellers of two tiers, credits, spends, a bulk
/// of clients, a tier change.
async fn activity<S: ally::store::Store>(ally: &Ally<S>) -> Vec<String> {
    let users: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        reseller_with(ally, user, if i == 0 { Tier::Gold } else { Tier::Standard }, 5_000).await;
        let credit = credit(700);
        ally.add_credits(&uid(user), credit, EntryKind::Reward, "referral", &ikey("reward")).await.unwrap();
        let spend = spend(300 + i as i64);
        ally.provision(&uid(user), spend, &ikey("spend")).await.unwrap();
    }
    let clients = (0..3).map(|i| NewClient { name: cname(&format!("Bulk {i}")), email: None }).collect();
    ally.bulk_onboard(&uid("n1"), BulkRequest { clients, product: None, cost: Some(100) }, &ikey("bulk"))
        .await
        .unwrap();
    let r = ally.find_by_user(&uid("n2")).await.unwrap();
    ally.update_reseller(&r.refid, ResellerPatch { tier: Some(Tier::Platinum), ..ResellerPatch::default() })
        .await
        .unwrap();
    users
}

/// The network's figures of a store: outstanding, promotional, tiers.
async fn totals<S: ally::store::Store>(ally: &Ally<S>) -> (i64, i64, ally::domain::TierSnapshot) {
    let t = ally.network_totals().await.unwrap();
    (t.outstanding, t.promotional, t.tiers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_counts_each_window_once_and_folds_closed_shards() {
    let ally = Ally::new(ally_tests::dynamo_store().await, Config::default());
    let users = activity(&ally).await;
    let store = ally.store();
    let (shard, records) = stream_records(store).await.into_iter().next().expect("a shard");
    let mid = records.len() / 2;
    let (first, second, whole) =
        (final_window(&shard, &records[..mid]), final_window(&shard, &records[mid..]), final_window(&shard, &records));
    // One window after the other, as the stream delivers them.
    count_window(store, first.clone()).await.unwrap();
    count_window(store, second.clone()).await.unwrap();
    let caught_up = recomputed(&ally, &users).await;
    assert_figures_match(&ally, &users).await;
    // Delivered again (a retried invocation), whole or in part, or by two consumers at
    // once: nothing counts twice.
    for again in [first, second.clone()] {
        count_window(store, again).await.unwrap();
    }
    let (a, b) = tokio::join!(count_window(store, second.clone()), count_window(store, second));
    a.unwrap();
    b.unwrap();
    assert_eq!(ally.total_credits().await.unwrap(), caught_up.total);
    assert_eq!(ally.tier_snapshot().await.unwrap(), caught_up.tiers);
    // A window overlapping one counted is left out, never half-counted.
    count_window(store, whole.clone()).await.unwrap();
    assert_eq!(ally.total_credits().await.unwrap(), caught_up.total);
    // A day later the shard is closed: its figures move into the base, once, and read the same.
    let before = totals(&ally).await;
    assert_eq!(store.fold_figures(chrono::Utc::now() - chrono::Duration::hours(1)).await.unwrap(), 0, "not quiet yet");
    // Two sweeps at once, each having read the shard as open: it is folded once.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let (a, b) = tokio::join!(store.fold_figures(later), store.fold_figures(later));
    assert_eq!(a.unwrap() + b.unwrap(), 1, "folded once by two sweeps");
    assert_eq!(store.fold_figures(later).await.unwrap(), 0, "folded once");
    assert_eq!(totals(&ally).await, before);
    assert_figures_match(&ally, &users).await;
    // The folded shard keeps its mark: a late redelivery still counts nothing.
    count_window(store, whole).await.unwrap();
    assert_eq!(totals(&ally).await, before);
}

/// The memory store counts its own changes as it makes them; windows of a shard given to it
/// count once, as on DynamoDB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_counts_each_window_once() {
    let ally = Ally::new(MemoryStore::new(), Config::default());
    let users = activity(&ally).await;
    assert_figures_match(&ally, &users).await;
    let before = totals(&ally).await;
    let mut sum = ally::domain::NetworkSum { outstanding: 50, ..Default::default() };
    sum.tiers.gold = 1;
    let window = |first: &str, last: &str| ally::store::FiguresWindow {
        shard: "s-1".into(),
        first: first.into(),
        last: last.into(),
        sum: sum.clone(),
        at: chrono::Utc::now(),
    };
    assert!(ally.store().apply_figures(&window("10", "19")).await.unwrap());
    assert!(!ally.store().apply_figures(&window("10", "19")).await.unwrap(), "delivered again");
    assert!(ally.store().apply_figures(&window("15", "25")).await.is_err(), "an overlap is refused");
    assert!(ally.store().apply_figures(&window("20", "29")).await.unwrap());
    let after = totals(&ally).await;
    assert_eq!((after.0 - before.0, after.2.gold - before.2.gold), (100, 2));
}

/// Figures that lost a window (a failed batch that outlived the stream) are rebuilt from
/// the resellers' own counters by a recount; a second recount adds nothing; and the
/// consumer, still running, counts what moves afterwards once.
async fn a_recount_rebuilds_lost_figures_once<S: ally::store::Store + ally_tests::stream::CatchUp>(store: S) {
    let ally = ally_on(store);
    let mut users = activity(&ally).await;
    assert_figures_match(&ally, &users).await;
    let right = totals(&ally).await;
    let now = chrono::Utc::now();
    let today = now.date_naive();
    let mut lost = ally::domain::NetworkSum { outstanding: -700, as_of: Some(now), ..Default::default() };
    lost.tiers.gold = -1;
    let activity_lost = ally::domain::Activity { credits_added: -700, provisions: -1, ..Default::default() };
    let yesterday = today - chrono::Duration::days(1);
    lost.days.insert(yesterday, activity_lost);
    ally.store().correct_figures(&lost).await.unwrap();
    assert_ne!(totals(&ally).await, right, "the figures lost a window");

    let from = yesterday - chrono::Duration::days(1);
    let recount = ally.recount_network_figures(from).await.unwrap();
    assert_eq!((recount.resellers, recount.correction.outstanding, recount.correction.tiers.gold), (3, 700, 1));
    assert_eq!(recount.correction.days.get(&yesterday).map(|a| (a.credits_added, a.provisions)), Some((700, 1)));
    assert_eq!(totals(&ally).await, right);
    assert_figures_match(&ally, &users).await;
    let again = ally.recount_network_figures(from).await.unwrap();
    assert!(again.correction.is_empty(), "a second recount adds nothing: {again:?}");

    reseller_with(&ally, "after", Tier::Gold, 1_000).await;
    let spend = spend(250);
    ally.provision(&uid("after"), spend, &ikey("after")).await.unwrap();
    users.push("after".into());
    assert_figures_match(&ally, &users).await;
    assert!(ally.recount_network_figures(from).await.unwrap().correction.is_empty());
    assert!(
        ally.recount_network_figures(today + chrono::Duration::days(1)).await.is_err(),
        "a recount from a day to come is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recount_rebuilds_lost_figures_once_on_dynamodb() {
    a_recount_rebuilds_lost_figures_once(ally_tests::dynamo_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recount_rebuilds_lost_figures_once_in_memory() {
    a_recount_rebuilds_lost_figures_once(MemoryStore::new()).await;
}
