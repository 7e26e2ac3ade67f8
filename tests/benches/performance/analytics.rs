//! Analytics cost against history: latency and store calls of every analytics read with few
//! and with many ledger entries, on the memory store (100 vs 100,000 entries) and on the
//! DynamoDB emulator (100 vs 10,000).

use ally_tests::{ally_on, credit};
use std::time::{Duration, Instant};

use ally::Ally;
use ally::domain::{DateRange, EntryKind, Interval, Tier};
use ally::store::Store;
use ally_tests::reseller_with;
use ally_tests::sdk::SdkCalls;
use chrono::Utc;
use futures::StreamExt;

use super::Section;

const RESELLERS: usize = 10;

async fn fill<S: Store>(ally: &Ally<S>, entries: usize) {
    for r in 0..RESELLERS {
        reseller_with(ally, &format!("r{r}"), Tier::ALL[r % 3], 0).await;
    }
    futures::stream::iter(0..entries)
        .map(|i| async move {
            let user = format!("r{}", i % RESELLERS);
            let credit = credit(10);
            ally.add_credits(
                &ally_tests::uid(&user),
                credit,
                EntryKind::Credit,
                "bench",
                &ally_tests::ikey(&format!("e{i}")),
            )
            .await
            .expect("credit");
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
}

/// Median latency and store calls of one read, over `runs` runs.
async fn measure<F: std::future::Future<Output = ()>>(
    calls_so_far: &impl Fn() -> u64,
    runs: usize,
    read: impl Fn() -> F,
) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut calls = 0;
    for _ in 0..runs {
        let before = calls_so_far();
        let start = Instant::now();
        read().await;
        times.push(start.elapsed());
        calls = calls_so_far() - before;
    }
    times.sort();
    (times[times.len() / 2], calls)
}

/// The rows of one store; `calls_so_far` counts its calls (the memory store's own count, or
/// the DynamoDB calls the SDK made).
async fn report<S: Store>(label: &str, store: S, calls: impl Fn(&S) -> u64, entries: usize) -> Vec<String> {
    let ally = ally_on(store);
    let calls_so_far = || calls(ally.store());
    fill(&ally, entries).await;
    let today = Utc::now().date_naive();
    let t = today.format("%Y-%m-%d").to_string();
    let month =
        DateRange::parse(&(today - chrono::Duration::days(29)).format("%Y-%m-%d").to_string(), &t, 366).unwrap();
    let year =
        DateRange::parse(&(today - chrono::Duration::days(364)).format("%Y-%m-%d").to_string(), &t, 3_700).unwrap();
    let runs = 5;
    let rows = [
        (
            "top resellers, 30 days",
            measure(&calls_so_far, runs, || async {
                ally.top_resellers(&month, 10, ally::domain::Ranking::Acquisitions).await.unwrap();
            })
            .await,
        ),
        (
            "tier snapshot",
            measure(&calls_so_far, runs, || async {
                ally.tier_snapshot().await.unwrap();
            })
            .await,
        ),
        (
            "total credits",
            measure(&calls_so_far, runs, || async {
                ally.total_credits().await.unwrap();
            })
            .await,
        ),
        (
            "credit trends, monthly, 1 year, network",
            measure(&calls_so_far, runs, || async {
                ally.credit_trends(Interval::Monthly, &year, None, ally::domain::Measure::Added).await.unwrap();
            })
            .await,
        ),
        (
            "credit trends, daily, 30 days, one reseller",
            measure(&calls_so_far, runs, || async {
                ally.credit_trends(Interval::Daily, &month, Some(&ally_tests::uid("r1")), ally::domain::Measure::Added)
                    .await
                    .unwrap();
            })
            .await,
        ),
        (
            "reseller stats",
            measure(&calls_so_far, runs, || async {
                ally.stats(&ally_tests::uid("r1")).await.unwrap();
            })
            .await,
        ),
    ];
    rows.into_iter()
        .map(|(name, (latency, calls))| {
            format!("| {label} | {entries} | {name} | {:.3} | {calls} |", latency.as_secs_f64() * 1e3)
        })
        .collect()
}

pub async fn run() -> Section {
    let mut rows = Vec::new();
    for entries in [100, 100_000] {
        let store = ally::store::memory::MemoryStore::new();
        rows.extend(report("memory", store, ally::store::memory::MemoryStore::calls, entries).await);
    }
    for entries in [100, 10_000] {
        let sdk = SdkCalls::default();
        let store = sdk.store().await;
        let total = std::sync::atomic::AtomicU64::new(0);
        let counted = move |_: &ally::store::dynamo::DynamoStore| {
            let new: u64 = sdk.take().values().sum();
            total.fetch_add(new, std::sync::atomic::Ordering::SeqCst) + new
        };
        rows.extend(report("dynamodb (moto)", store, counted, entries).await);
    }
    Section {
        title: "Analytics against the size of the history",
        body: format!(
            "Median of 5 runs of each analytics read, with {RESELLERS} resellers and few or many ledger entries.\n\n\
             | store | entries | read | median ms | store calls |\n| --- | ---: | --- | ---: | ---: |\n{}\n\n\
             Store calls are the figure that carries over to DynamoDB: the same at both sizes. moto's latency \
             grows with the table because its Query evaluates every item of the partition (and of the whole \
             table for an index) before applying the key condition; DynamoDB reads only the items in the key \
             range.\n",
            rows.join("\n")
        ),
    }
}
