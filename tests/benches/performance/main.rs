//! `make bench`: how Ally performs where its users judge it, every figure next to a
//! baseline measured in the same run (these machines are shared and noisy; only ratios
//! travel). Prints each section and writes them all to `BENCHMARKS.md` with the date, the
//! commit and the machine. Asserts nothing.
//!
//! The release bootstraps are built by `make bench` (cargo lambda, both architectures) into
//! `$CARGO_TARGET_DIR/bench-x86-64/` and `bench-arm64/`. Sections can be chosen:
//! `cargo bench -p ally-tests --bench performance -- cold-start calls`.

mod analytics;
mod calls;
mod cold_start;
mod distributor;
mod hot_wallet;
mod sizes;
mod throughput;

use std::path::PathBuf;
use std::time::Duration;

/// One section of the report: a title and its markdown body.
pub struct Section {
    pub title: &'static str,
    pub body: String,
}

/// Where `make bench` put the release bootstraps of `arch` (`x86-64` or `arm64`):
/// `$CARGO_TARGET_DIR/bench-<arch>`, or under `ALLY_BENCH_DIR` (profile experiments).
pub fn bootstraps(arch: &str) -> PathBuf {
    let target = std::env::var("ALLY_BENCH_DIR")
        .or_else(|_| std::env::var("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|_| ally_tests::workspace().join("target"));
    target.join(format!("bench-{arch}"))
}

/// The bootstrap of `name` for `arch`, if built.
pub fn bootstrap(arch: &str, name: &str) -> Option<PathBuf> {
    Some(bootstraps(arch).join(name).join("bootstrap")).filter(|p| p.exists())
}

/// The functions, in the order of the template.
pub const FUNCTIONS: [&str; 12] = [
    "onboarding",
    "add-credits",
    "provision",
    "clients",
    "analytics",
    "stream-publisher",
    "network-figures",
    "low-credit-notifier",
    "referral-reward",
    "monthly-report",
    "sweeper",
    "dashboard",
];

/// The `q`-quantile (0..=1) of `samples`, which it sorts.
pub fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(index).copied().unwrap_or_default()
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn shell(command: &str, args: &[&str]) -> String {
    std::process::Command::new(command)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).unwrap_or("");
    format!(
        "{cores} cores ({}), {:.1} GiB memory, {}",
        model.trim(),
        memory_kib as f64 / 1_048_576.0,
        std::env::consts::ARCH
    )
}

#[tokio::main]
async fn main() {
    let chosen: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| chosen.is_empty() || chosen.iter().any(|c| c == name);
    let mut sections = Vec::new();
    if wanted("cold-start") {
        sections.push(cold_start::run().await);
    }
    if wanted("sizes") {
        sections.push(sizes::run());
    }
    if wanted("calls") {
        sections.push(calls::run().await);
    }
    if wanted("throughput") {
        sections.push(throughput::run().await);
    }
    if wanted("hot-wallet") {
        sections.push(hot_wallet::run().await);
    }
    if wanted("distributor") {
        sections.push(distributor::run().await);
    }
    if wanted("analytics") {
        sections.push(analytics::run().await);
    }
    let commit = shell("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = if shell("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " (with uncommitted changes)"
    };
    let mut report = format!(
        "# Benchmarks\n\nWritten by `make bench` on {} at commit `{commit}`{dirty}.\n\nMachine: {}.\n\n\
         Every figure sits next to a baseline measured in the same run: compare ratios, not \
         absolute times, between machines.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine()
    );
    for section in &sections {
        println!("\n## {}\n\n{}", section.title, section.body);
        report.push_str(&format!("\n## {}\n\n{}", section.title, section.body));
    }
    let tuning = ally_tests::workspace().join("tests/benches/performance/tuning.md");
    report.push('\n');
    report.push_str(&std::fs::read_to_string(&tuning).unwrap_or_default());
    if chosen.is_empty() {
        let path = ally_tests::workspace().join("BENCHMARKS.md");
        std::fs::write(&path, report).expect("write BENCHMARKS.md");
        let path = path.canonicalize().unwrap_or(path);
        println!("\nwritten to {}", path.display());
    } else {
        println!("\n(some sections only: BENCHMARKS.md left as it was)");
    }
}
