//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.
//! - `cargo xtask e2e`: end-to-end scenarios across the binaries.
//! - `cargo xtask demo`: the whole flow on a bundled example repository.
//! - `cargo xtask dist [DIR]`: shell completions and man pages for the four tools.
//! - `cargo xtask bench [TOOL]`: throughput of each tool on generated corpora.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "xtask is a CLI: printing is its job"
)]

mod bench;
mod ci;
mod demo;
mod dist;
mod e2e;
mod tidy;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci              fmt, clippy, tests, docs, bare libraries, packaging, cargo-deny, end-to-end
  e2e [FILTER]    end-to-end scenarios across the built binaries (those whose name has FILTER)
  demo            build the tools and run the whole flow on the example repository
  dist [DIR]      shell completions and man pages for the four tools (default target/dist)
  bench [TOOL]    throughput benchmarks (multilock, doclinks, failure-rules, storage-approval)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("e2e") => e2e::run_matching(args.get(1).map(String::as_str)),
        Some("demo") => demo::run(),
        Some("dist") => dist::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help") => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown task `{other}`\n\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
