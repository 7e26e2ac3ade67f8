//! The conservation simulator (`ally_tests::simulator`) for a fixed budget of seeds:
//! `make simulate SEEDS=n` runs as many as asked. Every seed prints its report; a failing
//! one prints what to replay.

use ally::store::memory::MemoryStore;
use ally_tests::simulator::simulate;

/// Seeds `make test` runs on the memory store, and the steps of each.
const SEEDS: u64 = 12;
const STEPS: usize = 150;

#[test]
fn money_is_conserved_for_every_seed_on_the_memory_store() {
    // One thread and the simulation's clock: a seed replays exactly.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for seed in 1..=SEEDS {
        if let Err(e) = runtime.block_on(simulate(MemoryStore::new(), seed, STEPS)) {
            panic!("{e}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn money_is_conserved_on_dynamodb() {
    let store = ally_tests::dynamo_store().await;
    if let Err(e) = simulate(store, 1_000, 15).await {
        panic!("{e}");
    }
}
