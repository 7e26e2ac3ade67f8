//! `make simulate SEEDS=n [FROM=s] [STEPS=k]`: the conservation simulator for as many seeds
//! as asked, on the memory store (`SEED=s` replays one). Prints each seed's report; exits 1
//! at the first seed that breaks a law, naming it.

use ally::store::memory::MemoryStore;
use ally_tests::simulator::simulate;

fn number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let (first, count) = match std::env::var("SEED").ok().and_then(|v| v.parse().ok()) {
        Some(seed) => (seed, 1),
        None => (number("FROM", 1), number("SEEDS", 100)),
    };
    let steps = usize::try_from(number("STEPS", 150)).unwrap_or(150);
    // One thread and the simulation's clock: a seed replays exactly.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    for seed in first..first.saturating_add(count) {
        if let Err(e) = runtime.block_on(simulate(MemoryStore::new(), seed, steps)) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
    println!("{count} seeds from {first}, {steps} steps each: every law held");
}
