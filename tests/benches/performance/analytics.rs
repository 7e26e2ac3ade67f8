//! Analytics cost against history: latency and store calls of every analytics read with few
//! and with many ledger entries, on the memory store (100 vs 100,000 entries) and on the
//! DynamoDB emulator (100 vs 10,000).

use std::time::{Duration, Instant};

use ally::domain::{DateRange, EntryKind, Interval, Tier};
use ally::service::CreditRequest;
use ally::store::Store;
use ally::{Ally, Config};
use ally_tests::{Hooked, reseller_with};
use chrono::Utc;
use futures::StreamExt;

use super::Section;

const RESELLERS: usize = 10;

async fn fill<S: Store>(ally: &Ally<Hooked<S>>, entries: usize) {
    for r in 0..RESELLERS {
        reseller_with(ally, &format!("r{r}"), Tier::ALL[r % 3], 0).await;
    }
    futures::stream::iter(0..entries)
        .map(|i| async move {
            let user = format!("r{}", i % RESELLERS);
            let credit = CreditRequest { amount: 10, reason: None, ..CreditRequest::default() };
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
async fn measure<S: Store, F: std::future::Future<Output = ()>>(
    ally: &Ally<Hooked<S>>,
    runs: usize,
    read: impl Fn() -> F,
) -> (Duration, u64) {
    let mut times = Vec::new();
    let mut calls = 0;
    for _ in 0..runs {
        let before = ally.store().calls();
        let start = Instant::now();
        read().await;
        times.push(start.elapsed());
        calls = ally.store().calls() - before;
    }
    times.sort();
    (times[times.len() / 2], calls)
}

async fn report<S: Store>(label: &str, store: S, entries: usize) -> Vec<String> {
    let ally = Ally::new(Hooked::counting(store), Config::default());
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
            measure(&ally, runs, || async {
                ally.top_resellers(&month, 10).await.unwrap();
            })
            .await,
        ),
        (
            "tier snapshot",
            measure(&ally, runs, || async {
                ally.tier_snapshot().await.unwrap();
            })
            .await,
        ),
        (
            "total credits",
            measure(&ally, runs, || async {
                ally.total_credits().await.unwrap();
            })
            .await,
        ),
        (
            "credit trends, monthly, 1 year, network",
            measure(&ally, runs, || async {
                ally.credit_trends(Interval::Monthly, &year, None, ally::domain::Measure::Added).await.unwrap();
            })
            .await,
        ),
        (
            "credit trends, daily, 30 days, one reseller",
            measure(&ally, runs, || async {
                ally.credit_trends(Interval::Daily, &month, Some(&ally_tests::uid("r1")), ally::domain::Measure::Added)
                    .await
                    .unwrap();
            })
            .await,
        ),
        (
            "reseller stats",
            measure(&ally, runs, || async {
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
        rows.extend(report("memory", ally::store::memory::MemoryStore::new(), entries).await);
    }
    for entries in [100, 10_000] {
        rows.extend(report("dynamodb (moto)", ally_tests::dynamo_store().await, entries).await);
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
