//! The network's figures are counted from the change records by their own consumer, never
//! inside a money transaction: each record once, whether the batch comes again, is cut in
//! two (bisected), or is handled by two consumers at the same time. Both stores.

use ally::domain::{EntryKind, Tier};
use ally::events::figures;
use ally::events::handlers::count_stream;
use ally::service::{BulkRequest, CreditRequest, NewClient, ProvisionRequest, ResellerPatch};
use ally::store::ItemChange;
use ally::store::memory::MemoryStore;
use ally::{Ally, Config};
use ally_tests::figures::{assert_figures_match, recomputed};
use ally_tests::stream::stream_batch;
use ally_tests::{cname, ikey, reseller_with, uid};
use aws_lambda_events::event::dynamodb::Event as StreamBatch;

/// Some of everything the figures count: resellers of two tiers, credits, spends, a bulk
/// of clients, a tier change.
async fn activity<S: ally::store::Store>(ally: &Ally<S>) -> Vec<String> {
    let users: Vec<String> = (0..3).map(|i| format!("n{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        reseller_with(ally, user, if i == 0 { Tier::Gold } else { Tier::Standard }, 5_000).await;
        let credit = CreditRequest { amount: 700, reason: None, ..CreditRequest::default() };
        ally.add_credits(&uid(user), credit, EntryKind::Reward, "referral", &ikey("reward")).await.unwrap();
        let spend = ProvisionRequest { cost: Some(300 + i as i64), ..ProvisionRequest::default() };
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

fn halves(batch: &StreamBatch) -> (StreamBatch, StreamBatch) {
    let mid = batch.records.len() / 2;
    let mut first = batch.clone();
    let mut second = batch.clone();
    first.records.truncate(mid);
    second.records.drain(..mid);
    (first, second)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_counts_each_stream_record_once() {
    let ally = Ally::new(ally_tests::dynamo_store().await, Config::default());
    let users = activity(&ally).await;
    let store = ally.store();
    let batch = stream_batch(store).await;
    let (first, second) = halves(&batch);
    // The second half first, as a retry from a failed record would deliver it.
    assert!(count_stream(store, second.clone()).await.batch_item_failures.is_empty());
    let (a, b) = tokio::join!(count_stream(store, batch.clone()), count_stream(store, batch.clone()));
    assert!(a.batch_item_failures.is_empty() && b.batch_item_failures.is_empty(), "two consumers at once");
    let caught_up = recomputed(&ally, &users).await;
    assert_figures_match(&ally, &users).await;
    // Redelivered whole, then bisected: nothing counts twice.
    for again in [batch.clone(), first, second] {
        assert!(count_stream(store, again).await.batch_item_failures.is_empty());
    }
    assert_eq!(ally.total_credits().await.unwrap(), caught_up.total);
    assert_eq!(ally.tier_snapshot().await.unwrap(), caught_up.tiers);
    assert_figures_match(&ally, &users).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_counts_each_change_record_once() {
    let (store, mut feed) = MemoryStore::new().with_change_feed();
    let ally = Ally::new(store, Config::default());
    let users = activity(&ally).await;
    let mut records: Vec<ItemChange> = Vec::new();
    while let Ok(change) = feed.try_recv() {
        records.push(change);
    }
    assert!(records.len() > 20, "the store emitted its changes: {}", records.len());
    let as_batch = |changes: &[ItemChange]| changes.iter().map(|c| (c.id.clone(), Ok(c.clone()))).collect();
    let mid = records.len() / 2;
    // The store counted each change as it made it: the consumer's deliveries, whole,
    // bisected or twice at once, add nothing.
    assert!(figures::count(ally.store(), as_batch(&records)).await.is_empty());
    assert!(figures::count(ally.store(), as_batch(&records[..mid])).await.is_empty());
    let (a, b) = tokio::join!(
        figures::count(ally.store(), as_batch(&records[mid..])),
        figures::count(ally.store(), as_batch(&records))
    );
    assert!(a.is_empty() && b.is_empty());
    assert_figures_match(&ally, &users).await;
}
