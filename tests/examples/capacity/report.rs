//! What the run measured, as the section of `CAPACITY.md`: units per operation, each
//! partition's load per second of simulated time, the partition families and the network's
//! ceiling, the midnight and month-end bursts, the distributors, the consumer, the quotas.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use ally::events::{AllyEvent, Observed};

use crate::model::{Index, ItemWrite};
use crate::record::{Read, Write};
use crate::workload::{MONEY, PHASE_SECONDS, Population, phases};

/// The rate every ceiling is judged against.
const GOAL: f64 = 50_000.0;
/// The network the bursts are sized for, and the minute their first operations fall in.
const RESELLERS_GOAL: f64 = 1_000_000.0;
const BURST_SECONDS: f64 = 60.0;
/// DynamoDB's write units per second on one partition.
const PARTITION_WCU: f64 = 1_000.0;

/// Labels whose writes money operations cause besides their own: the sweeper's and the
/// network figures' consumer's.
const CAUSED: [&str; 3] = ["sweeper", "sweeper (commission settlement)", "network figures (stream consumer)"];

pub struct Run<'a> {
    pub title: &'a str,
    pub population: &'a Population,
    pub counts: &'a BTreeMap<String, u64>,
    pub items: &'a [ItemWrite],
    pub writes: &'a [Write],
    pub reads: &'a [Read],
    pub indexes: &'a [Index],
    pub events: &'a BTreeMap<String, u64>,
    pub workload: std::time::Duration,
}

/// The events the publisher makes of the records money operations wrote in the phases, by
/// detail type: `records` are the stream's records the items were made of, in their order.
pub fn events_per_kind(
    records: &[aws_lambda_events::event::dynamodb::EventRecord],
    items: &[ItemWrite],
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (record, item) in records.iter().zip(items) {
        if !(caused_by_money(&item.label.operation) && in_phase(item.label.second)) {
            continue;
        }
        if let (_, Ok(change)) = ally::events::stream::change_of(record)
            && let Ok(made) = AllyEvent::try_from(Observed { change: &change, low_credit_threshold: 100 })
        {
            *out.entry(made.detail_type().to_string()).or_default() += 1;
        }
    }
    out
}

/// Operations that write two resellers' own items by nature.
const TWO_PARTY: [&str; 2] = ["transfer to a child", "referral reward"];

fn is_money(operation: &str) -> bool {
    MONEY.contains(&operation)
}

fn caused_by_money(operation: &str) -> bool {
    is_money(operation) || CAUSED.contains(&operation)
}

/// Whether `actor` is a reseller of the run (not the sweeper, the consumer or set-up).
fn reseller(population: &Population, actor: &str) -> bool {
    population.users.iter().any(|u| u == actor)
}

/// The seconds of simulated time the phases cover.
fn in_phase(second: i64) -> bool {
    phases().iter().any(|p| (p.timestamp()..p.timestamp() + PHASE_SECONDS).contains(&second))
}

/// A partition key with its variable parts named: the family it belongs to.
fn family(population: &Population, partition: &str) -> String {
    partition
        .split('#')
        .map(|part| {
            if population.users.iter().any(|u| u == part) {
                "<user>".to_string()
            } else if chrono::NaiveDate::parse_from_str(part, "%Y-%m-%d").is_ok() {
                "<day>".into()
            } else if part.len() == 7 && chrono::NaiveDate::parse_from_str(&format!("{part}-01"), "%Y-%m-%d").is_ok() {
                "<month>".into()
            } else if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) {
                "<shard>".into()
            } else if part.contains(':') || part.starts_with("shardId") || part.len() >= 20 {
                "<id>".into()
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("#")
}

/// How many partitions a family is spread over by design (its shard count), or none for a
/// family of one partition per thing (a reseller, a payment, a stream shard).
fn shards_of(family: &str) -> Option<f64> {
    if family.starts_with("DAY#<day>#<shard>") || family.starts_with("MONTH#<month>#<shard>") {
        Some(f64::from(ally::store::keys::ACTIVE_SHARDS))
    } else if family.ends_with("#<shard>") {
        Some(f64::from(ally::store::keys::SPARSE_SHARDS))
    } else {
        None
    }
}

/// Load of one partition: who writes it in the phases and its WCU per simulated second.
#[derive(Default)]
struct Load {
    /// The resellers whose operations write it (a transfer's giver left out: a transfer
    /// writes its two parties' own wallets).
    resellers: BTreeSet<String>,
    /// Any other writer: the sweeper (on a reseller's behalf, under its wallet's version),
    /// the network's consumer.
    others: BTreeSet<String>,
    caused: f64,
    by_second: BTreeMap<i64, f64>,
}

impl Load {
    /// Written by one reseller only (and the sweeper on its behalf).
    fn own(&self) -> bool {
        self.resellers.len() == 1 && self.others.iter().all(|w| w == "sweeper")
    }

    fn writers(&self) -> usize {
        self.resellers.len() + self.others.len()
    }
}

fn loads(run: &Run) -> BTreeMap<(String, String), Load> {
    let mut out: BTreeMap<(String, String), Load> = BTreeMap::new();
    for item in run.items.iter().filter(|i| in_phase(i.label.second) || i.label.operation.starts_with("network")) {
        for w in &item.writes {
            let load = out.entry((w.target.clone(), w.partition.clone())).or_default();
            if !reseller(run.population, &w.label.actor) {
                load.others.insert(w.label.actor.clone());
            } else {
                load.resellers.insert(writer(run.population, w));
            }
            // The consumer counts the phases' records after them: its writes are theirs.
            let counted = in_phase(w.label.second) || w.label.operation.starts_with("network");
            if caused_by_money(&w.label.operation) && counted {
                load.caused += w.wcu;
                *load.by_second.entry(w.label.second).or_default() += w.wcu;
            }
        }
    }
    out
}

pub fn report(run: &Run) -> String {
    let money: u64 = run.counts.iter().filter(|(op, _)| is_money(op)).map(|(_, n)| n).sum();
    let money_f = money.max(1) as f64;
    let seconds = 2.0 * PHASE_SECONDS as f64;
    let loads = loads(run);
    let mut out = String::new();
    let _ = writeln!(out, "## {}\n", run.title);
    let total_ops: u64 = run.counts.values().sum();
    let _ = writeln!(
        out,
        "{total_ops} operations ({money} money operations, {:.1} per simulated second) over {} resellers (distributors \
         of 1,000, 100 and 10 children, and resellers alone), in two phases of {PHASE_SECONDS} simulated seconds \
         around the midnight of 2026-12-30 and the month's (and year's) end, run in {:.0} s on the emulator; {} item \
         writes seen in the stream, {} reads recorded.\n",
        money as f64 / seconds,
        run.population.len(),
        run.workload.as_secs_f64(),
        run.items.len(),
        run.reads.len()
    );
    units(run, &mut out, money_f);
    partitions(&loads, &mut out, money_f, seconds);
    let ceiling = families(run, &loads, &mut out, money_f);
    bursts(run, &mut out);
    distributors(run, &loads, &mut out, money_f, ceiling);
    goals(run, &mut out, money_f, ceiling);
    quotas(run, &mut out, money_f);
    sizes(run, &mut out);
    out
}

/// Units per operation: items and shared items per transaction, WCU and RCU per target.
fn units(run: &Run, out: &mut String, money: f64) {
    let targets: Vec<String> =
        std::iter::once("table".to_string()).chain(run.indexes.iter().map(|i| i.name.clone())).collect();
    let mut wcu: BTreeMap<(String, String), f64> = BTreeMap::new();
    for item in run.items {
        for w in &item.writes {
            *wcu.entry((w.label.operation.clone(), w.target.clone())).or_default() += w.wcu;
        }
    }
    let mut rcu: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in run.reads {
        *rcu.entry((r.label.operation.clone(), r.target.clone())).or_default() += r.rcu;
    }
    let shared = shared_partitions(run);
    let mut calls: BTreeMap<(String, usize), (usize, usize)> = BTreeMap::new();
    for w in run.writes.iter().filter(|w| w.transactional) {
        let entry = calls.entry((w.label.operation.clone(), w.call)).or_default();
        entry.0 += 1;
        entry.1 += usize::from(shared.contains(&w.key.0));
    }
    let mut per_op: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for ((operation, _), (n, s)) in &calls {
        let entry = per_op.entry(operation.clone()).or_default();
        entry.0 += 1;
        entry.1 += n;
        entry.2 += s;
    }
    let _ = writeln!(out, "### Units per operation (averages)\n");
    let mut header = String::from("| operation | count | items per transaction | shared items per transaction |");
    let mut rule = String::from("| --- | ---: | ---: | ---: |");
    for t in &targets {
        let _ = write!(header, " WCU {t} |");
        rule.push_str(" ---: |");
    }
    for t in &targets {
        let _ = write!(header, " RCU {t} |");
        rule.push_str(" ---: |");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let consumer = "network figures (stream consumer)".to_string();
    let operations: Vec<&String> = run.counts.keys().chain(std::iter::once(&consumer)).collect();
    for operation in operations {
        // The consumer's units are spread over the money operations whose records it counts.
        let n = run.counts.get(operation).map_or(money, |c| *c as f64).max(1.0);
        let (tx, items, shared) = per_op.get(operation).copied().unwrap_or_default();
        let per_tx = |v: usize| if tx == 0 { "-".to_string() } else { format!("{:.1}", v as f64 / tx as f64) };
        let count = run.counts.get(operation).map_or("-".to_string(), u64::to_string);
        let _ = write!(out, "| {operation} | {count} | {} | {} |", per_tx(items), per_tx(shared));
        for t in &targets {
            let _ = write!(out, " {:.2} |", wcu.get(&(operation.clone(), t.clone())).copied().unwrap_or(0.0) / n);
        }
        for t in &targets {
            let _ = write!(out, " {:.2} |", rcu.get(&(operation.clone(), t.clone())).copied().unwrap_or(0.0) / n);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\nThe consumer's row is per money operation of the workload (windows of {} records here). A sweeper row \
         is per run of the sweeper. \"Shared\" counts the items of a transaction on a table partition another \
         reseller also writes (a transfer's two wallets are the two parties' own).\n",
        1_000
    );
}

/// Whose write `w` is: its reseller's, except where a two-party operation writes the other
/// party's items: a transfer (the receiver's wallet) and a referral reward (the recruit hung
/// under its referrer, once in its life): those are the other party's own.
fn writer(population: &Population, w: &crate::model::PartitionWrite) -> String {
    if TWO_PARTY.contains(&w.label.operation.as_str())
        && let Some(owner) = w.partition.split_once('#').map(|(_, owner)| owner)
        && reseller(population, owner)
    {
        return owner.to_string();
    }
    w.label.actor.clone()
}

/// The table partitions more than one reseller writes in the phases (a transfer's writes
/// of the receiver's items are the receiver's).
fn shared_partitions(run: &Run) -> BTreeSet<String> {
    let mut writers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for item in run.items.iter().filter(|i| in_phase(i.label.second)) {
        for w in item.writes.iter().filter(|w| w.target == "table" && reseller(run.population, &w.label.actor)) {
            writers.entry(w.partition.clone()).or_default().insert(writer(run.population, w));
        }
    }
    writers.into_iter().filter(|(_, w)| w.len() > 1).map(|(p, _)| p.to_string()).collect()
}

/// Each partition's load per second of simulated time: the hottest that no single reseller
/// owns, and the hottest reseller's own.
fn partitions(loads: &BTreeMap<(String, String), Load>, out: &mut String, money: f64, seconds: f64) {
    let _ = writeln!(
        out,
        "### Load per second of simulated time\n\nWhat money operations cause (their writes, the sweeper's and the \
         consumer's), per partition and simulated second of the phases: the peak second, the mean, and the mean \
         scaled to the goal of {GOAL:.0} money operations a second (the sample runs {:.1}).\n",
        money / seconds
    );
    let _ = writeln!(
        out,
        "| where | partition key | writers | peak WCU in a second | mean WCU/s | WCU per money op | mean at the goal, WCU/s |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    let mut hottest: Vec<_> = loads.iter().filter(|(_, l)| l.caused > 0.0).collect();
    hottest.sort_by(|a, b| b.1.caused.total_cmp(&a.1.caused));
    let shown: Vec<_> =
        hottest.iter().filter(|(_, l)| !l.own()).take(12).chain(hottest.iter().find(|(_, l)| l.own())).collect();
    for ((target, partition), load) in shown {
        let peak = load.by_second.values().copied().fold(0.0, f64::max);
        let per_op = load.caused / money;
        // One reseller's own partition moves with that reseller's rate, not the network's.
        let (mark, at_goal) =
            if load.own() { (" (one reseller's own)", "-".to_string()) } else { ("", format!("{:.0}", per_op * GOAL)) };
        let _ = writeln!(
            out,
            "| {target} | `{partition}`{mark} | {} | {peak:.0} | {:.2} | {per_op:.4} | {at_goal} |",
            load.writers(),
            load.caused / seconds,
        );
    }
    out.push('\n');
}

/// Partition families: per shard, WCU per money operation and the rate at which one shard
/// reaches a partition's 1,000 WCU/s. Answers the network's ceiling.
fn families(run: &Run, loads: &BTreeMap<(String, String), Load>, out: &mut String, money: f64) -> f64 {
    struct Family {
        total: f64,
        hottest: f64,
        partitions: usize,
    }
    let mut families: BTreeMap<(String, String), Family> = BTreeMap::new();
    for ((target, partition), load) in loads.iter().filter(|(_, l)| l.caused > 0.0 && !l.own()) {
        let name = family(run.population, partition);
        let f = families.entry((target.clone(), name)).or_insert(Family { total: 0.0, hottest: 0.0, partitions: 0 });
        f.total += load.caused;
        f.hottest = f.hottest.max(load.caused);
        f.partitions += 1;
    }
    let _ = writeln!(
        out,
        "### Partition families and the network's ceiling\n\nA family is one partition key with its variable parts \
         named. A sharded family's load is its total over its shards (the hash spreads owners evenly; the sample is \
         too small to show the spread); any other family's is its hottest partition. The by-day and by-month \
         families are written once per reseller and period, not per operation: their bound is the burst below.\n"
    );
    let _ = writeln!(
        out,
        "| where | family | partitions seen | shards | WCU per money op, per partition | ceiling (money ops/s) |\n\
         | --- | --- | ---: | ---: | ---: | ---: |"
    );
    let mut ceiling = f64::INFINITY;
    let mut binding = String::new();
    let mut rows: Vec<_> = families.iter().collect();
    rows.sort_by(|a, b| b.1.hottest.total_cmp(&a.1.hottest));
    for ((target, name), f) in rows {
        let shards = shards_of(name);
        let per_partition = match shards {
            Some(k) => f.total / k / money,
            None => f.hottest / money,
        };
        let limit = PARTITION_WCU / per_partition.max(f64::MIN_POSITIVE);
        let periodic = name.starts_with("DAY#<day>#<shard>") || name.starts_with("MONTH#<month>#<shard>");
        // The sweeper's own bookkeeping is written per run (a minute), and a stream shard's
        // figures once per window (a minute; here per 1,000 records of the one emulator
        // shard), not per operation.
        let scheduled =
            name.starts_with("CHECKPOINT#") || name.starts_with("ONCE#") || name.starts_with("FIGURES#<id>");
        if !periodic && !scheduled && limit < ceiling {
            ceiling = limit;
            binding = format!("{target} `{name}`");
        }
        let shown = if periodic {
            "burst, below".to_string()
        } else if scheduled {
            "per run or window".to_string()
        } else {
            format!("{limit:.0}")
        };
        let _ = writeln!(
            out,
            "| {target} | `{name}` | {} | {} | {per_partition:.5} | {shown} |",
            f.partitions,
            shards.map_or("-".to_string(), |k| format!("{k:.0}"))
        );
    }
    let own = loads.iter().filter(|(_, l)| l.own() && l.caused > 0.0).count();
    let _ = writeln!(
        out,
        "\nThe {own} partitions each written by one reseller only (its wallet and items, its counters, its \
         payments' receipts) bound only that reseller: a hot reseller's ceiling is its own partition's 1,000 \
         WCU/s, about 100 money operations a second, and before it the compare-and-swap on its wallet \
         (BENCHMARKS.md, one hot wallet).\n\n\
         **Network ceiling: {ceiling:.0} money operations per second**, set by {binding}: the rate at which one of \
         its partitions reaches 1,000 WCU/s with this mix.\n"
    );
    ceiling
}

/// The midnight and month-end bursts of the by-day and by-month indexes: measured in the
/// sample, and sized for a million resellers whose first operation falls in the first minute.
fn bursts(run: &Run, out: &mut String) {
    let _ = writeln!(
        out,
        "### Midnight and month-end bursts\n\nA reseller's first counter of a day (of a month) enters the by-day (by-month) \
         index: one index write per reseller and period, whatever its rate. In the sample:\n"
    );
    let _ = writeln!(
        out,
        "| midnight | index | writes in its first minute | resellers | peak writes in a second, one shard | steady writes a second after it (all shards) |\n\
         | --- | --- | ---: | ---: | ---: | ---: |"
    );
    let mut unit = (0.0, 0usize);
    for (p, start) in phases().iter().enumerate() {
        let midnight = start.timestamp() + PHASE_SECONDS / 2;
        for index in ["by-day", "by-month"] {
            let mut first_minute = 0usize;
            let mut actors = BTreeSet::new();
            let mut per_second_shard: BTreeMap<(i64, &str), usize> = BTreeMap::new();
            let mut after = 0usize;
            for item in run.items {
                for w in item.writes.iter().filter(|w| w.target == index) {
                    let s = w.label.second;
                    if (midnight..midnight + 60).contains(&s) {
                        first_minute += 1;
                        actors.insert(w.label.actor.clone());
                        *per_second_shard.entry((s, w.partition.as_str())).or_default() += 1;
                        unit.0 += w.wcu;
                        unit.1 += 1;
                    } else if (midnight + 60..midnight + PHASE_SECONDS / 2).contains(&s) {
                        after += 1;
                    }
                }
            }
            let peak = per_second_shard.values().copied().max().unwrap_or(0);
            let label = if p == 0 { "2026-12-31 00:00" } else { "2027-01-01 00:00 (month's end)" };
            let _ = writeln!(
                out,
                "| {label} | {index} | {first_minute} | {} | {peak} | {:.1} |",
                actors.len(),
                after as f64 / (PHASE_SECONDS / 2 - 60) as f64
            );
        }
    }
    let per_write = if unit.1 == 0 { 1.0 } else { unit.0 / unit.1 as f64 };
    let shards = f64::from(ally::store::keys::ACTIVE_SHARDS);
    let per_shard = RESELLERS_GOAL / BURST_SECONDS / shards * per_write;
    let _ = writeln!(
        out,
        "\nSized for {RESELLERS_GOAL:.0} resellers whose first operation of the day falls in its first minute: \
         {:.0} index writes a second over {shards:.0} shards is **{per_shard:.0} WCU/s per shard** \
         ({:.0} % of a partition) at {per_write:.2} WCU per index write, in each index; at a month's end the by-day \
         and by-month bursts fall on different partitions, so neither adds to the other. The steady state after \
         the burst is the few resellers acting for the first time that day. The sparse lists of `by-status` \
         (holds, expiring lots, pending top-ups and fills, open figures) move with the money rate, not the clock: \
         their bound is in the families above.\n",
        RESELLERS_GOAL / BURST_SECONDS,
        100.0 * per_shard / PARTITION_WCU
    );
}

/// What a distributor's subtree writes on it, and its ceiling.
fn distributors(run: &Run, loads: &BTreeMap<(String, String), Load>, out: &mut String, money: f64, ceiling: f64) {
    let _ = writeln!(
        out,
        "### Distributors\n\n| distributor | children | children's spends | writes on the distributor's partitions by its \
         children's operations | commission entries settled (paid and promotional parts, two days) |\n| --- | ---: | ---: | ---: | ---: |"
    );
    let spends = ["provision", "hold captured", "bulk onboarding (5 clients)"];
    for (d, children) in &run.population.distributors {
        let name = &run.population.users[*d];
        let kids: BTreeSet<&str> =
            run.population.children[*d].iter().map(|c| run.population.users[*c].as_str()).collect();
        let spent = run
            .items
            .iter()
            .filter(|i| kids.contains(i.label.actor.as_str()) && spends.contains(&i.label.operation.as_str()))
            .filter(|i| i.key.1.starts_with("TXN#"))
            .count();
        let own_partitions = [format!("RESELLER#{name}"), format!("STATS#{name}")];
        let written = run
            .items
            .iter()
            .filter(|i| in_phase(i.label.second) && kids.contains(i.label.actor.as_str()))
            .filter(|i| own_partitions.contains(&i.key.0))
            .filter(|i| i.label.operation != "transfer to a child")
            .count();
        let settled = run
            .items
            .iter()
            .filter(|i| i.key.0 == own_partitions[0] && i.label.operation.starts_with("sweeper"))
            .filter(|i| i.key.1.starts_with("IDEMP#commission:"))
            .count();
        let _ = writeln!(out, "| `{name}` | {children} | {spent} | {written} | {settled} |");
    }
    let own = loads
        .iter()
        .filter(|((t, p), l)| t == "table" && l.own() && p.starts_with("RESELLER#"))
        .map(|(_, l)| l.caused)
        .fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "\nA child's spend writes the child's own items only (its commission accrues on its own day counter); the \
         parent's wallet is written once a day per parent by the settlement. So a distributor's ceiling, in its \
         children's spends a second, is the network's ceiling ({ceiling:.0} money operations a second with this \
         mix), however many children it has: **at least 10,000 a second**, each child bounded by its own \
         partition (the busiest reseller here writes {:.2} WCU per money operation of the network on it).\n",
        own / money
    );
}

/// The goals, each a figure of this run.
fn goals(run: &Run, out: &mut String, money: f64, ceiling: f64) {
    let shared = shared_partitions(run);
    let mut money_tx = 0usize;
    let mut shared_items = 0usize;
    let mut transfer_tx = BTreeSet::new();
    let mut calls = BTreeSet::new();
    for w in run.writes.iter().filter(|w| w.transactional && is_money(&w.label.operation)) {
        if w.label.operation == "transfer to a child" {
            transfer_tx.insert(w.call);
            continue;
        }
        calls.insert(w.call);
        shared_items += usize::from(shared.contains(&w.key.0));
    }
    money_tx += calls.len();
    let consumer_items: f64 = run
        .items
        .iter()
        .filter(|i| i.label.operation == "network figures (stream consumer)")
        .flat_map(|i| &i.writes)
        .map(|w| w.wcu)
        .sum();
    let _ = writeln!(
        out,
        "### Goals\n\n| goal | before (the design at the start of this round) | this run |\n| --- | --- | --- |\n\
         | network ceiling with the full mix and its peaks, money ops/s (>= 50,000) | about 64,000 with provisions, \
         top-ups and onboardings only, no clock (previous model); a distributor's wallet contended by its children's \
         commissions | {ceiling:.0} (the midnight burst: {:.0} % of a partition per shard) |\n\
         | items shared between resellers in a money transaction (0) | 0 in the plain workload; every commission a \
         compare-and-swap on the parent's wallet, every tree change a write of each ancestor's wallet | {shared_items} \
         in {money_tx} money transactions (and {} transfers, each writing its two parties' own wallets) |\n\
         | network figures' WCU per money operation (<= 1) | 5.47 (a 2-WCU marker per record, transactions on 16 \
         shared shards) | {:.3} (windows of 1,000 records; a closed shard's fold is one transaction in its lifetime) |\n\
         | one hot wallet, transactions per success under 100 concurrent writers | 24 (BENCHMARKS.md) | unchanged \
         (what bounds it: \"What bounds one hot wallet\" above) |\n",
        100.0 * (RESELLERS_GOAL / BURST_SECONDS / f64::from(ally::store::keys::ACTIVE_SHARDS)) / PARTITION_WCU,
        transfer_tx.len(),
        consumer_items / money,
    );
}

/// Every account and service quota the network meets, and the money rate at which each binds.
fn quotas(run: &Run, out: &mut String, money: f64) {
    let caused_wcu: f64 = run
        .items
        .iter()
        .filter(|i| caused_by_money(&i.label.operation) && in_phase(i.label.second))
        .flat_map(|i| &i.writes)
        .map(|w| w.wcu)
        .sum();
    let table_wcu: f64 = run
        .items
        .iter()
        .filter(|i| caused_by_money(&i.label.operation) && in_phase(i.label.second))
        .flat_map(|i| &i.writes)
        .filter(|w| w.target == "table")
        .map(|w| w.wcu)
        .sum();
    let rcu: f64 = run.reads.iter().filter(|r| in_phase(r.label.second)).map(|r| r.rcu).sum();
    let requests: f64 = run
        .counts
        .iter()
        .filter(|(op, _)| !op.starts_with("sweeper") && !op.starts_with("reseller onboarding"))
        .map(|(_, n)| *n as f64)
        .sum();
    let (w, t, r, q) = (caused_wcu / money, table_wcu / money, rcu / money, requests / money);
    let published: u64 = run.events.values().sum();
    let per_money_events = published as f64 / money;
    let routed: u64 = ["LowCredit", "CreditThresholdCrossed", "LowRunway", "AutoTopUpFailed", "ResellerOnboarded"]
        .iter()
        .map(|k| run.events.get(*k).copied().unwrap_or(0))
        .sum();
    let per_money_routed = routed as f64 / money;
    let mails = ["LowCredit", "CreditThresholdCrossed", "LowRunway", "AutoTopUpFailed"]
        .iter()
        .map(|k| run.events.get(*k).copied().unwrap_or(0))
        .sum::<u64>() as f64
        / money;
    let _ = writeln!(
        out,
        "### Quotas\n\nMeasured per money operation: {w:.1} WCU in all (table {t:.1}, the rest index writes), {r:.1} \
         RCU, {q:.2} API requests (reads and onboardings included), {per_money_events:.2} events published, {per_money_routed:.3} routed to a function by a rule, {mails:.3} mails.\n"
    );
    let bind = |limit: f64, per: f64| if per <= 0.0 { "never".to_string() } else { format!("{:.0}", limit / per) };
    let _ = writeln!(
        out,
        "| quota (default) | binds at, money ops/s | what to raise or set |\n| --- | ---: | --- |\n\
         | DynamoDB on-demand, a new table's warm throughput: 4,000 writes/s, 12,000 reads/s | {} (writes) | \
         `TableWarmWriteUnits` / `TableWarmReadUnits` (the table's `WarmThroughput`) before launch |\n\
         | DynamoDB on-demand table quota: 40,000 WCU/s and 40,000 RCU/s (each index its own) | {} | a Service Quotas \
         increase of the table-level write throughput |\n\
         | DynamoDB account quota: 80,000 WCU/s | {} | a Service Quotas increase |\n\
         | DynamoDB Streams: 2 readers per shard at most | - | the two mappings (publisher, figures) use both: a third \
         consumer reads from the bus, never the stream |\n\
         | API Gateway HTTP API: 10,000 requests/s per account and Region (burst 5,000) | {} | a Service Quotas \
         increase; the stage's throttling is the first guard |\n\
         | Lambda: 1,000 concurrent executions per account and Region | {} at 50 ms a request | a quota increase; \
         `StreamConsumerConcurrency` caps each stream consumer (default 50) so they cannot starve the API; the \
         sweeper is capped at 2 |\n\
         | Lambda stream mappings: one invocation per shard (`ParallelizationFactor` 1 to 10) | - | the figures need \
         1 (one window per shard at a time); the publisher's `PublisherParallelization` (default 2) |\n\
         | EventBridge PutEvents: 10,000/s in us-east-1, us-west-2, eu-west-1 (2,400 in us-east-2, lower elsewhere), \
         counted per entry here | {} | a quota increase, or the Region |\n\
         | EventBridge rule invocations: 18,750/s in us-east-1, us-west-2, eu-west-1 (4,500 or 1,100 elsewhere) | {} \
         | a quota increase |\n\
         | SES: 200 mails a day and 1 a second in the sandbox; 50,000 a day and 14 a second after leaving it | {} \
         (14/s) | production access, then a sending-rate increase |\n",
        bind(4_000.0, w),
        bind(40_000.0, w),
        bind(80_000.0, w),
        bind(10_000.0, q),
        bind(1_000.0 / 0.05, q),
        bind(10_000.0, per_money_events),
        bind(18_750.0, per_money_routed),
        bind(14.0, mails),
    );
    let _ = writeln!(
        out,
        "At {GOAL:.0} money operations a second this mix needs {:.0} WCU/s: the per-table quota and the account's \
         bind long before any partition, so a network at the goal needs both raised (and the table warmed), \
         the API's request quota raised about {:.0}-fold, and EventBridge's PutEvents quota raised or events \
         thinned.\n",
        w * GOAL,
        (q * GOAL / 10_000.0).max(1.0)
    );
}

fn sizes(run: &Run, out: &mut String) {
    let _ = writeln!(
        out,
        "### Item sizes\n\n| item (sort key) | writes | mean bytes | largest bytes |\n| --- | ---: | ---: | ---: |"
    );
    let mut sizes: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for item in run.items {
        let kind = item.key.1.split(['#', ':']).next().unwrap_or(&item.key.1).to_string();
        let entry = sizes.entry(kind).or_default();
        entry.0 += 1;
        entry.1 += item.bytes;
        entry.2 = entry.2.max(item.bytes);
    }
    for (kind, (n, total, largest)) in sizes {
        let _ = writeln!(out, "| `{kind}` | {n} | {} | {largest} |", total / n.max(1));
    }
}
