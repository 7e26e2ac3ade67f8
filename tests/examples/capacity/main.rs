//! The capacity model (`make capacity`, also run by `make bench`): a workload of 21,000
//! operations over 1,000 resellers with Zipf-distributed activity, run through the real
//! DynamoDB store code on the emulator; every write recorded by an SDK interceptor and seen
//! again in the table's stream (old and new images), the index writes derived from
//! `template.yaml`, and the write and read units per operation type, the hottest partitions
//! and the network's ceiling written to `CAPACITY.md`.
//!
//! usage: capacity <CAPACITY.md> <section title> [operations] [resellers]
//! (the section of that title is replaced; the defaults are the sizes the issue asks for)

mod model;
mod record;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use ally::domain::{EntryKind, Tier};
use ally::service::{BulkRequest, CreditRequest, NewClient, ProvisionRequest};
use ally::store::PageRequest;
use ally::store::dynamo::{ChangeStream, DynamoStore, create_table};
use ally::{Ally, Config};
use ally_tests::{cname, ikey, reseller_with, uid};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use model::{ItemWrite, indexes};
use record::Recorder;

const RESELLERS: usize = 1_000;
const OPERATIONS: usize = 20_000;
/// The Zipf exponent of activity: the busiest reseller acts ~1,000 times as often as the least.
const ZIPF: f64 = 1.0;

/// Operation types and their share of the 20,000 (the 1,000 onboardings come first).
const MIX: [(&str, f64); 7] = [
    ("provision", 0.55),
    ("top-up", 0.15),
    ("client onboarding", 0.10),
    ("bulk onboarding (5 clients)", 0.05),
    ("read profile", 0.05),
    ("read ledger", 0.05),
    ("read clients", 0.05),
];

/// Operations that move credits.
const MONEY: [&str; 3] = ["provision", "top-up", "bulk onboarding (5 clients)"];

fn zipf_table(n: usize) -> Vec<f64> {
    let mut cumulative = Vec::with_capacity(n);
    let mut total = 0.0;
    for rank in 1..=n {
        total += 1.0 / (rank as f64).powf(ZIPF);
        cumulative.push(total);
    }
    cumulative.iter().map(|c| c / total).collect()
}

fn pick(rng: &mut StdRng, cumulative: &[f64]) -> usize {
    let x: f64 = rng.random();
    cumulative.partition_point(|c| *c < x).min(cumulative.len() - 1)
}

async fn store(recorder: &Recorder) -> DynamoStore {
    let config =
        aws_sdk_dynamodb::config::Builder::from(&ally_tests::sdk_config()).interceptor(recorder.clone()).build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!("ally-capacity-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&client, &table, ChangeStream::On).await.expect("create the table");
    DynamoStore::new(client, table)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (file, title) = match args.as_slice() {
        [_, file, title, ..] => (file.clone(), title.clone()),
        _ => panic!("usage: capacity <CAPACITY.md> <section title> [operations] [resellers]"),
    };
    let number = |i: usize, default: usize| args.get(i).map_or(default, |a| a.parse().expect("a number"));
    let (operations, resellers) = (number(3, OPERATIONS), number(4, RESELLERS));
    let recorder = Recorder::default();
    let ally = Ally::new(store(&recorder).await, Config::default());
    let mut rng = StdRng::seed_from_u64(14);
    let users: Vec<String> = (0..resellers).map(|i| format!("r{i:04}")).collect();
    let started = std::time::Instant::now();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (i, user) in users.iter().enumerate() {
        recorder.label("reseller onboarding (and opening top-up)", user);
        reseller_with(&ally, user, Tier::ALL[i % 3], 1_000_000).await;
        *counts.entry("reseller onboarding (and opening top-up)".into()).or_default() += 1;
    }
    let zipf = zipf_table(resellers);
    let shares: Vec<f64> = MIX
        .iter()
        .scan(0.0, |acc, (_, share)| {
            *acc += share;
            Some(*acc)
        })
        .collect();
    for step in 0..operations {
        let user = &users[pick(&mut rng, &zipf)];
        let x: f64 = rng.random::<f64>() * shares[shares.len() - 1];
        let operation = MIX[shares.partition_point(|s| *s < x).min(MIX.len() - 1)].0;
        recorder.label(operation, user);
        *counts.entry(operation.into()).or_default() += 1;
        let key = ikey(&format!("op-{step}"));
        let id = uid(user);
        match operation {
            "provision" => {
                let cost = ProvisionRequest { cost: Some(rng.random_range(10..200)), ..ProvisionRequest::default() };
                ally.provision(&id, cost, &key).await.map(drop)
            }
            "top-up" => {
                let credit =
                    CreditRequest { amount: rng.random_range(100..10_000), reason: None, ..CreditRequest::default() };
                ally.add_credits(&id, credit, EntryKind::Credit, "admin", &key).await.map(drop)
            }
            "client onboarding" => ally
                .onboard_client(&id, NewClient { name: cname(&format!("Client {step}")), email: None })
                .await
                .map(drop),
            "bulk onboarding (5 clients)" => {
                let clients =
                    (0..5).map(|i| NewClient { name: cname(&format!("Bulk {step}-{i}")), email: None }).collect();
                ally.bulk_onboard(&id, BulkRequest { clients, product: None, cost: Some(20) }, &key).await.map(drop)
            }
            "read profile" => ally.find_by_user(&id).await.map(drop),
            "read ledger" => ally.ledger(&id, &PageRequest::first(25)).await.map(drop),
            _ => ally.clients(&id, &PageRequest::first(25)).await.map(drop),
        }
        .unwrap_or_else(|e| panic!("{operation} for {user}: {e}"));
    }
    let workload = started.elapsed();
    consume(&ally, &recorder).await;
    let (writes, reads) = recorder.take();
    let batch = ally_tests::stream::stream_batch(ally.store()).await;
    // The emulator writes an UpdateItem of a new item as an insert of its bare key, then the
    // update: DynamoDB writes (and streams) it once, as an insert of the whole item.
    let bare = |image: &HashMap<String, serde_dynamo::AttributeValue>| image.keys().all(|k| k == "pk" || k == "sk");
    let records: Vec<_> = batch
        .records
        .iter()
        .map(|r| (HashMap::from(r.change.old_image.clone()), HashMap::from(r.change.new_image.clone())))
        .filter(|(old, new)| !(old.is_empty() && bare(new)))
        .map(|(old, new)| if bare(&old) { (HashMap::new(), new) } else { (old, new) })
        .collect();
    let template = std::fs::read_to_string(ally_tests::workspace().join("template.yaml")).expect("template.yaml");
    let indexes = indexes(&template);
    let items = model::attribute(&records, &writes, &indexes);
    let section = report(&title, resellers, &counts, &items, &writes, &reads, &indexes, workload);
    write_section(&file, &title, &section);
    println!(
        "capacity: {} item writes, {} reads, workload in {:.0} s; section `{title}` written to {file}",
        items.len(),
        reads.len(),
        workload.as_secs_f64()
    );
}

/// Records per window of the `network-figures` function's stream mapping (`template.yaml`).
const STREAM_WINDOW: usize = 1_000;

/// The network's figures, counted from the stream by their own consumer, one window per
/// shard and run of records.
async fn consume(ally: &Ally<DynamoStore>, recorder: &Recorder) {
    recorder.label("network figures (stream consumer)", "network");
    for (shard, records) in ally_tests::stream::stream_records(ally.store()).await {
        for window in records.chunks(STREAM_WINDOW) {
            let event = ally_tests::stream::final_window(&shard, window);
            ally::events::figures::count_window(ally.store(), event).await.expect("the window counted");
        }
    }
}

/// A partition written by one reseller only is its own; any other is shared.
fn owner(actors: &BTreeSet<String>) -> Option<&String> {
    match actors.iter().collect::<Vec<_>>().as_slice() {
        [only] if only.starts_with('r') => Some(only),
        _ => None,
    }
}

fn kind(sort_key: &str) -> String {
    sort_key.split('#').next().unwrap_or(sort_key).to_string()
}

#[allow(clippy::too_many_arguments)]
fn report(
    title: &str,
    resellers: usize,
    counts: &BTreeMap<String, u64>,
    items: &[ItemWrite],
    writes: &[record::Write],
    reads: &[record::Read],
    indexes: &[model::Index],
    workload: std::time::Duration,
) -> String {
    let targets: Vec<String> =
        std::iter::once("table".to_string()).chain(indexes.iter().map(|i| i.name.clone())).collect();
    // Units per operation type and target.
    let mut wcu: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut partitions: BTreeMap<(String, String), (f64, BTreeSet<String>)> = BTreeMap::new();
    for item in items {
        for w in &item.writes {
            *wcu.entry((w.label.operation.clone(), w.target.clone())).or_default() += w.wcu;
            let entry = partitions.entry((w.target.clone(), w.partition.clone())).or_default();
            entry.0 += w.wcu;
            entry.1.insert(w.label.actor.clone());
        }
    }
    let mut rcu: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in reads {
        *rcu.entry((r.label.operation.clone(), r.target.clone())).or_default() += r.rcu;
    }
    // Transactions: items per call, and how many of them sit on a partition that other
    // resellers (or the network's consumer) also write.
    let shared: BTreeSet<(String, String)> =
        partitions.iter().filter(|(_, (_, actors))| actors.len() > 1).map(|(p, _)| p.clone()).collect();
    let mut calls: BTreeMap<(String, usize), (usize, usize)> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.transactional) {
        let entry = calls.entry((w.label.operation.clone(), w.call)).or_default();
        entry.0 += 1;
        if shared.contains(&("table".to_string(), w.key.0.clone())) {
            entry.1 += 1;
        }
    }
    let mut per_op_calls: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for ((operation, _), (n, s)) in &calls {
        let entry = per_op_calls.entry(operation.clone()).or_default();
        entry.0 += 1;
        entry.1 += n;
        entry.2 += s;
    }
    let total_wcu: f64 = partitions.values().map(|(w, _)| w).sum();
    let money: u64 = MONEY.iter().map(|m| counts.get(*m).copied().unwrap_or(0)).sum();

    let mut out = String::new();
    let _ = writeln!(out, "## {title}\n");
    let _ = writeln!(
        out,
        "{} operations ({} money operations) over {resellers} resellers with Zipf(s = {ZIPF}) activity, run in {:.0} s \
         on the emulator; {} item writes seen in the stream, {} reads recorded.\n",
        counts.values().sum::<u64>(),
        money,
        workload.as_secs_f64(),
        items.len(),
        reads.len()
    );
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
    let mut operations: Vec<&String> = counts.keys().collect();
    let consumer = "network figures (stream consumer)".to_string();
    if wcu.keys().any(|(o, _)| *o == consumer) {
        operations.push(&consumer);
    }
    for operation in operations {
        // The consumer's units are spread over the money operations whose records it counts.
        let n = counts.get(operation).copied().unwrap_or(money).max(1) as f64;
        let (tx, tx_items, tx_shared) = per_op_calls.get(operation).copied().unwrap_or_default();
        let per_tx = |v: usize| if tx == 0 { "-".to_string() } else { format!("{:.1}", v as f64 / tx as f64) };
        let count = counts.get(operation).map_or("-".to_string(), u64::to_string);
        let _ = write!(out, "| {operation} | {count} | {} | {} |", per_tx(tx_items), per_tx(tx_shared));
        for t in &targets {
            let _ = write!(out, " {:.2} |", wcu.get(&(operation.clone(), t.clone())).copied().unwrap_or(0.0) / n);
        }
        for t in &targets {
            let _ = write!(out, " {:.2} |", rcu.get(&(operation.clone(), t.clone())).copied().unwrap_or(0.0) / n);
        }
        out.push('\n');
    }
    let consumer_note = if wcu.keys().any(|(o, _)| *o == consumer) {
        "The consumer's row is per money operation of the workload; its transactions are batches of records \
         (a marker per record, the summed deltas on one random network shard)."
    } else {
        "(No consumer: the network's counters were written inside each money transaction.)"
    };
    let _ = writeln!(out, "\n{consumer_note}\n");

    let _ = writeln!(out, "### The ten hottest partitions, by share of all write units\n");
    let _ = writeln!(
        out,
        "| where | partition key | writers | share of all WCU | own to one reseller |\n| --- | --- | ---: | ---: | --- |"
    );
    let mut hottest: Vec<_> = partitions.iter().collect();
    hottest.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for ((target, partition), (units, actors)) in hottest.iter().take(10) {
        let _ = writeln!(
            out,
            "| {target} | `{partition}` | {} | {:.2} % | {} |",
            actors.len(),
            100.0 * units / total_wcu,
            if owner(actors).is_some() { "yes" } else { "no" }
        );
    }

    // The ceilings count what money operations cause: their own writes and the consumer's.
    let consumer_label = "network figures (stream consumer)";
    let mut caused: BTreeMap<(String, String), (f64, BTreeSet<String>)> = BTreeMap::new();
    for item in
        items.iter().filter(|i| MONEY.contains(&i.label.operation.as_str()) || i.label.operation == consumer_label)
    {
        for w in &item.writes {
            let entry = caused.entry((w.target.clone(), w.partition.clone())).or_default();
            entry.0 += w.wcu;
            entry.1.insert(w.label.actor.clone());
        }
    }
    let mut hottest: Vec<_> = caused.iter().collect();
    hottest.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    let hottest_shared = hottest.iter().find(|(_, (_, actors))| owner(actors).is_none());
    let _ = writeln!(out, "\n### Ceilings\n");
    if let Some(((target, partition), (units, _))) = hottest_shared {
        let per_money = units / money.max(1) as f64;
        let _ = writeln!(
            out,
            "- **Network ceiling: {:.0} money operations per second.** Of what money operations write (theirs and the \
             consumer's), the hottest partition that is not one reseller's own is {target} `{partition}`, with \
             {per_money:.4} WCU per money operation of the whole network; it reaches DynamoDB's 1,000 WCU/s per \
             partition at that rate.",
            1000.0 / per_money
        );
    }
    let busiest = hottest.iter().find(|((target, _), (_, actors))| target == "table" && owner(actors).is_some());
    if let Some(((_, partition), (units, actors))) = busiest {
        let user = owner(actors).cloned().unwrap_or_default();
        let own_money = items
            .iter()
            .filter(|i| {
                i.label.actor == user && MONEY.contains(&i.label.operation.as_str()) && i.key.1.starts_with("TXN#")
            })
            .count()
            .max(1);
        let per_money = units / own_money as f64;
        let _ = writeln!(
            out,
            "- **One hot reseller's ceiling: {:.0} money operations per second** on its own partition `{partition}` \
             ({per_money:.2} WCU per money operation of its own: the wallet, entry, key, service and counters in one \
             transaction, twice for the transaction). Long before that, writers of one wallet contend: every money \
             operation is a compare-and-swap on the wallet's version (BENCHMARKS.md, hot wallet).",
            1000.0 / per_money
        );
    }

    let _ = writeln!(
        out,
        "\n### Item sizes\n\n| item (sort key) | writes | mean bytes | largest bytes |\n| --- | ---: | ---: | ---: |"
    );
    let mut sizes: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    for item in items {
        let entry = sizes.entry(kind(&item.key.1)).or_default();
        entry.0 += 1;
        entry.1 += item.bytes;
        entry.2 = entry.2.max(item.bytes);
    }
    for (kind, (n, total, largest)) in sizes {
        let _ = writeln!(out, "| `{kind}` | {n} | {} | {largest} |", total / n.max(1));
    }
    out
}

/// Replaces (or adds) the section `title` of `file`, keeping the others.
fn write_section(file: &str, title: &str, section: &str) {
    let existing = std::fs::read_to_string(file).unwrap_or_default();
    let heading = format!("## {title}\n");
    let mut out = String::new();
    let mut rest = existing.as_str();
    if let Some(start) = rest.find(&heading) {
        out.push_str(&rest[..start]);
        rest = &rest[start + heading.len()..];
        rest = rest.find("\n## ").map_or("", |next| &rest[next + 1..]);
    } else {
        out.push_str(rest);
        rest = "";
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
    }
    out.push_str(section);
    if !rest.is_empty() {
        out.push('\n');
        out.push_str(rest);
    }
    std::fs::write(file, out).expect("write the capacity file");
}
