//! The capacity model (`make capacity`, also run by `make bench`): the product's workload
//! (`workload.rs`: a tree with distributors of 1,000, 100 and 10 children, every money
//! feature, a clock across a midnight and a month's end) run through the real DynamoDB
//! store code on the emulator; every write recorded by an SDK interceptor and seen again in
//! the table's stream (old and new images), the index writes derived from `template.yaml`,
//! and the write and read units per operation, each partition's load per second of
//! simulated time, the midnight bursts, the ceilings and the quotas written to `CAPACITY.md`.
//!
//! usage: capacity <CAPACITY.md> <section title> [operations per phase]

mod model;
mod record;
mod report;
mod workload;

use std::collections::{BTreeMap, HashMap};

use ally::Ally;
use ally::store::dynamo::{ChangeStream, DynamoStore, create_table};

use model::indexes;
use record::Recorder;
use workload::{Clock, PHASE_SECONDS};

/// Operations per phase unless told: two phases of four simulated minutes.
const OPERATIONS_PER_PHASE: usize = 2_000;

async fn store(recorder: &Recorder) -> DynamoStore {
    let config =
        aws_sdk_dynamodb::config::Builder::from(&ally_tests::sdk_config()).interceptor(recorder.clone()).build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = format!("ally-capacity-{}", ulid::Ulid::new().to_string().to_lowercase());
    create_table(&client, &table, ChangeStream::On).await.expect("create the table");
    DynamoStore::new(client, table)
}

/// One sweep of the sweeper, labelled `label`.
async fn sweep(ally: &Ally<DynamoStore>, recorder: &Recorder, label: &str) {
    recorder.label(label, "sweeper", ally.now().timestamp());
    ally::events::handlers::sweep(ally).await.expect("a sweep");
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (file, title) = match args.as_slice() {
        [_, file, title, ..] => (file.clone(), title.clone()),
        _ => panic!("usage: capacity <CAPACITY.md> <section title> [operations per phase]"),
    };
    let per_phase: usize = args.get(3).map_or(OPERATIONS_PER_PHASE, |a| a.parse().expect("a number"));
    let recorder = Recorder::default();
    let phases = workload::phases();
    let clock = Clock::new(phases[0] - chrono::Duration::hours(1));
    let ally = Ally::new(store(&recorder).await, workload::config()).with_clock(clock.service_clock());
    let mut rng = workload::rng();
    let started = std::time::Instant::now();
    let population = workload::onboard(&ally, &recorder, &clock, &mut rng).await;
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    counts.insert("reseller onboarding (and opening top-up)".into(), population.len() as u64);
    let mut state = workload::State::default();
    let mut step = 0;
    for start in phases {
        let mut minute = None;
        for i in 0..per_phase {
            let at = start + chrono::Duration::milliseconds(i as i64 * PHASE_SECONDS * 1_000 / per_phase as i64);
            clock.set(at);
            // The sweeper runs every minute, as its schedule does.
            if minute != Some(at.timestamp() / 60) {
                minute = Some(at.timestamp() / 60);
                sweep(&ally, &recorder, "sweeper").await;
                *counts.entry("sweeper".into()).or_default() += 1;
            }
            let operation = workload::perform(&ally, &recorder, &population, &mut state, &mut rng, step).await;
            *counts.entry(operation.into()).or_default() += 1;
            step += 1;
        }
        // Past the new day's grace: the day before is settled (commissions), once.
        clock.set(start + chrono::Duration::minutes(22));
        sweep(&ally, &recorder, "sweeper (commission settlement)").await;
        *counts.entry("sweeper (commission settlement)".into()).or_default() += 1;
    }
    let workload_time = started.elapsed();
    consume(&ally, &recorder).await;
    let (writes, reads) = recorder.take();
    let shards = ally_tests::stream::stream_records(ally.store()).await;
    let batch: aws_lambda_events::event::dynamodb::Event = serde_json::from_value(serde_json::json!({
        "Records": shards.into_iter().flat_map(|(_, r)| r).collect::<Vec<_>>()
    }))
    .expect("the stream's records");
    // The emulator writes an UpdateItem of a new item as an insert of its bare key, then the
    // update: DynamoDB writes (and streams) it once, as an insert of the whole item.
    let bare = |image: &HashMap<String, serde_dynamo::AttributeValue>| image.keys().all(|k| k == "pk" || k == "sk");
    let mut kept = Vec::new();
    let mut records = Vec::new();
    for r in batch.records {
        let (old, new) = (HashMap::from(r.change.old_image.clone()), HashMap::from(r.change.new_image.clone()));
        if old.is_empty() && bare(&new) {
            continue;
        }
        records.push(if bare(&old) { (HashMap::new(), new) } else { (old, new) });
        kept.push(r);
    }
    let template = std::fs::read_to_string(ally_tests::workspace().join("template.yaml")).expect("template.yaml");
    let indexes = indexes(&template);
    let items = model::attribute(&records, &writes, &indexes);
    let events = report::events_per_kind(&kept, &items);
    let run = report::Run {
        title: &title,
        population: &population,
        counts: &counts,
        items: &items,
        writes: &writes,
        reads: &reads,
        indexes: &indexes,
        events: &events,
        workload: workload_time,
    };
    let section = report::report(&run);
    write_section(&file, &title, &section);
    println!(
        "capacity: {} item writes, {} reads, workload in {:.0} s; section `{title}` written to {file}",
        items.len(),
        reads.len(),
        workload_time.as_secs_f64()
    );
}

/// Records per window of the `network-figures` function in this run: one batch. A real
/// one-minute window at the goal rate holds far more (CAPACITY.md), so this overstates the
/// consumer's writes.
const STREAM_WINDOW: usize = 1_000;

/// The network's figures, counted from the stream by their own consumer, one window per
/// shard and run of records.
async fn consume(ally: &Ally<DynamoStore>, recorder: &Recorder) {
    recorder.label("network figures (stream consumer)", "network", ally.now().timestamp());
    for (shard, records) in ally_tests::stream::stream_records(ally.store()).await {
        for window in records.chunks(STREAM_WINDOW) {
            let event = ally_tests::stream::final_window(&shard, window);
            ally::events::figures::count_window(ally.store(), event).await.expect("the window counted");
        }
    }
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
