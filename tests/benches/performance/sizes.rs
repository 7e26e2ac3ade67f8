//! Bootstrap sizes for both architectures, next to the baselines'.

use super::{FUNCTIONS, Section, bootstrap};

fn mib(arch: &str, name: &str) -> Option<f64> {
    let path = bootstrap(arch, name)?;
    Some(std::fs::metadata(path).ok()?.len() as f64 / 1_048_576.0)
}

pub fn run() -> Section {
    let (bare, floor) = (mib("arm64", "hello-lambda"), mib("arm64", "hello-dynamodb"));
    let rows: Vec<String> = ["hello-lambda", "hello-dynamodb"]
        .into_iter()
        .chain(FUNCTIONS)
        .map(|name| {
            let cell = |arch| mib(arch, name).map_or("not built".to_string(), |m| format!("{m:.2}"));
            // The pages function links no SDK: its floor is the bare function.
            let (baseline, against) =
                if name == "dashboard" { (bare, "hello-lambda") } else { (floor, "hello-dynamodb") };
            let ratio = match (name.starts_with("hello"), mib("arm64", name), baseline) {
                (false, Some(size), Some(baseline)) => format!("{:.2}x {against}", size / baseline),
                _ => String::new(),
            };
            format!("| {name} | {} | {} | {ratio} |", cell("x86-64"), cell("arm64"))
        })
        .collect();
    Section {
        title: "Bootstrap sizes",
        body: format!(
            "Uncompressed `bootstrap` files as `cargo lambda build --release` makes them (what SAM zips).\n\n\
             | binary | x86_64 MiB | arm64 MiB | arm64 vs its floor |\n| --- | ---: | ---: | ---: |\n{}\n",
            rows.join("\n")
        ),
    }
}
