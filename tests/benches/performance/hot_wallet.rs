//! One hot wallet: 100 concurrent provisions from one partner's wallet on the emulator,
//! next to the same 100 provisions spread over 100 wallets in the same run.

use ally_tests::{ally_on, spend};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ally::domain::Tier;
use ally_tests::reseller_with;
use ally_tests::sdk::SdkCalls;

use super::{Section, ms, quantile};

const REQUESTS: usize = 100;

async fn burst(hot: bool) -> String {
    let calls = SdkCalls::default();
    let ally = Arc::new(ally_on(calls.store().await));
    let wallets = if hot { 1 } else { REQUESTS };
    for w in 0..wallets {
        reseller_with(&ally, &format!("wallet-{w}"), Tier::Standard, 1_000_000).await;
    }
    calls.take();
    let started = Instant::now();
    let tasks: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let ally = ally.clone();
            tokio::spawn(async move {
                let sent = Instant::now();
                let request = spend(10);
                let outcome = ally
                    .provision(
                        &ally_tests::uid(&format!("wallet-{}", i % wallets)),
                        request,
                        &ally_tests::ikey(&format!("hot-{i}")),
                    )
                    .await;
                (sent.elapsed(), outcome.is_ok())
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    let mut successes = 0;
    for task in tasks {
        let (latency, ok) = task.await.expect("provision task");
        latencies.push(latency);
        successes += usize::from(ok);
    }
    let wall = started.elapsed();
    let by_operation = calls.take();
    let writes = by_operation.get("TransactWriteItems").copied().unwrap_or(0);
    let reads = by_operation.get("BatchGetItem").copied().unwrap_or(0);
    let balance: i64 = {
        let mut sum = 0;
        for w in 0..wallets {
            sum += ally.find_by_user(&ally_tests::uid(&format!("wallet-{w}"))).await.expect("wallet").balance;
        }
        sum
    };
    let label = if hot { "one wallet" } else { "100 wallets (baseline)" };
    format!(
        "| {label} | {successes} | {} | {writes} | {} | {reads} | {} | {} | {} | {} | {} |",
        REQUESTS - successes,
        writes.saturating_sub(successes as u64),
        ms(quantile(&mut latencies, 0.5)),
        ms(quantile(&mut latencies, 0.99)),
        ms(quantile(&mut latencies, 1.0)),
        ms(wall),
        wallets as i64 * 1_000_000 - balance
    )
}

pub async fn run() -> Section {
    let baseline = burst(false).await;
    let hot = burst(true).await;
    Section {
        title: "One hot wallet",
        body: format!(
            "{REQUESTS} concurrent `provision` calls (cost 10 each) on the DynamoDB store against the emulator, \
             which serves one request at a time. A lost compare-and-swap on the wallet's version is \
             retried with jittered backoff (up to 50 attempts, then 503 `busy`); retries = transactions \
             sent beyond the successful ones.\n\n\
             | wallets | successes | failures | TransactWriteItems | retries | reads | p50 ms | p99 ms | max ms | wall ms | credits charged |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n{baseline}\n{hot}\n"
        ),
    }
}
