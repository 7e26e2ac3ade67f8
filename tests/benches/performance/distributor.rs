//! A distributor under its children's spends: its own provisions alone, then the same while
//! 100 children spend at once, on the emulator. A child's spend accrues the commission on
//! the child's own counters, so nothing but the distributor's own calls writes its wallet:
//! its calls meet no compare-and-swap from below.

use ally_tests::spend;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ally::domain::{Commissions, Tier};
use ally::{Ally, Config};
use ally_tests::sdk::SdkCalls;
use ally_tests::{child_of, ikey, reseller_with, uid};

use super::{Section, ms, quantile};

const CHILDREN: usize = 100;
const SPENDS_PER_CHILD: usize = 5;
const PARENT_CALLS: usize = 20;

/// The parent's own provisions, one after the other; their latencies.
async fn parent_calls(ally: &Ally<ally::store::dynamo::DynamoStore>, round: &str) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for i in 0..PARENT_CALLS {
        let sent = Instant::now();
        let request = spend(10);
        ally.provision(&uid("dist"), request, &ikey(&format!("{round}-{i}"))).await.expect("the parent's provision");
        latencies.push(sent.elapsed());
    }
    latencies
}

fn row(label: &str, latencies: &mut [Duration], transactions: u64, successes: usize, others: i64) -> String {
    format!(
        "| {label} | {successes} | {transactions} | {} | {} | {} | {others} |",
        transactions.saturating_sub(successes as u64),
        ms(quantile(latencies, 0.5)),
        ms(quantile(latencies, 0.99)),
    )
}

pub async fn run() -> Section {
    let calls = SdkCalls::default();
    let config = Config { commissions: Commissions { standard: 10, gold: 15, platinum: 20 }, ..Config::default() };
    let ally = Arc::new(Ally::new(calls.store().await, config));
    let parent = reseller_with(&ally, "dist", Tier::Gold, 1_000_000).await.refid;
    for c in 0..CHILDREN {
        child_of(&ally, &format!("child-{c}"), &parent, 100_000).await;
    }
    calls.take();
    let version = |ally: Arc<Ally<_>>| async move { ally.find_by_user(&uid("dist")).await.expect("parent").version };

    let before = version(ally.clone()).await;
    let mut alone = parent_calls(&ally, "alone").await;
    let alone_tx = calls.take().get("TransactWriteItems").copied().unwrap_or(0);
    let alone_others = i64::try_from(version(ally.clone()).await - before).unwrap_or(0) - PARENT_CALLS as i64;

    let before = version(ally.clone()).await;
    let children: Vec<_> = (0..CHILDREN)
        .map(|c| {
            let ally = ally.clone();
            tokio::spawn(async move {
                for s in 0..SPENDS_PER_CHILD {
                    let request = spend(10);
                    ally.provision(&uid(&format!("child-{c}")), request, &ikey(&format!("spend-{s}")))
                        .await
                        .expect("a child's spend");
                }
            })
        })
        .collect();
    let mut busy = parent_calls(&ally, "busy").await;
    for child in children {
        child.await.expect("a child's task");
    }
    let busy_tx = calls.take().get("TransactWriteItems").copied().unwrap_or(0);
    let busy_others = i64::try_from(version(ally.clone()).await - before).unwrap_or(0) - PARENT_CALLS as i64;
    let successes = PARENT_CALLS + CHILDREN * SPENDS_PER_CHILD;
    Section {
        title: "A distributor under its children's spends",
        body: format!(
            "{PARENT_CALLS} provisions by a distributor, one after the other, alone and then while its \
             {CHILDREN} children make {} spends at once (commissions on), on the DynamoDB store against the \
             emulator. The emulator serves one request at a time, so the second row's latencies include its \
             queue of the children's requests; what shows contention is the retries and the writes on the \
             distributor's wallet that are not its own (0: its children's spends never write it).\n\n\
             | round | successes | TransactWriteItems | retries | parent p50 ms | parent p99 ms | other writes on the parent's wallet |\n\
             | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n{}\n{}\n",
            CHILDREN * SPENDS_PER_CHILD,
            row("the distributor alone", &mut alone, alone_tx, PARENT_CALLS, alone_others),
            row("while its children spend", &mut busy, busy_tx, successes, busy_others),
        ),
    }
}
