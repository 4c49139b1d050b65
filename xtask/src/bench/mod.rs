//! `cargo xtask bench [TOOL]`: throughput of each tool on generated corpora of a
//! realistic size. Prints tables; the numbers go into docs/PERFORMANCE.md by hand.
//! Benchmarks are not tests: nothing here asserts a time.

mod common;
mod doclinks;
mod failure_rules;
mod multilock;
mod storage_approval;

type Bench = fn(&[String]) -> Result<(), String>;

const BENCHES: &[(&str, Bench)] = &[
    ("doclinks", doclinks::run),
    ("failure-rules", failure_rules::run),
    ("multilock", multilock::run),
    ("storage-approval", storage_approval::run),
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let selected: Vec<&(&str, Bench)> = match args.first() {
        None => BENCHES.iter().collect(),
        Some(name) => {
            let bench = BENCHES.iter().find(|(n, _)| n == name).ok_or_else(|| {
                let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
                format!("no benchmark `{name}`; there are: {}", names.join(", "))
            })?;
            vec![bench]
        }
    };
    for (name, bench) in selected {
        println!("\n==> bench {name}");
        bench(args.get(1..).unwrap_or(&[]))?;
    }
    Ok(())
}
