//! `cargo xtask e2e`: scenarios that drive the built binaries the way scripts and
//! CI pipelines do, each in a fresh temporary directory. One module per tool;
//! each exposes `scenario(&Tools) -> Result<(), String>`.

pub(crate) mod cli_feel;
pub(crate) mod dist;
pub(crate) mod doclinks;
pub(crate) mod failure_rules;
pub(crate) mod formats;
pub(crate) mod integrations;
pub(crate) mod multilock;
pub(crate) mod storage_approval;
pub(crate) mod tidy_run;

use crate::util::Tools;

type Scenario = fn(&Tools) -> Result<(), String>;

/// Every scenario, in the order a tidy run would meet them.
const SCENARIOS: &[(&str, Scenario)] = &[
    ("multilock: tidy phases under contention", multilock::scenario),
    ("doclinks: refactor breaks links, fix with backup, restore", doclinks::scenario),
    (
        "failure-rules: analyze --execute under the docs lock, concurrent runs",
        failure_rules::scenario,
    ),
    ("storage-approval: scan, approve, execute, audit verify, undo", storage_approval::scenario),
    (
        "tidy run: the four phases under multilock, several copies at once, other writers beside",
        tidy_run::scenario,
    ),
    ("dist: completions load in bash, zsh and fish; man renders every page", dist::scenario),
    ("integrations: pre-commit hooks from a git URL, the GitHub Action", integrations::scenario),
    (
        "one CLI feel: common flags, lock flags, formats and exit 2 in every tool",
        cli_feel::scenario,
    ),
    ("formats: every JSON output matches its schema in docs/schemas", formats::scenario),
];

pub(crate) fn run() -> Result<(), String> {
    run_matching(None)
}

/// The scenarios whose name contains `filter` (all without one).
pub(crate) fn run_matching(filter: Option<&str>) -> Result<(), String> {
    let tools = Tools::build("dev")?;
    let chosen = SCENARIOS.iter().filter(|(name, _)| filter.is_none_or(|f| name.contains(f)));
    for (name, scenario) in chosen {
        println!("--> e2e: {name}");
        let started = std::time::Instant::now();
        scenario(&tools).map_err(|e| format!("scenario `{name}` failed: {e}"))?;
        println!("    ok ({:.0} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// Checks a condition of a scenario, with a message saying what was expected.
pub(crate) fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition { Ok(()) } else { Err(message()) }
}
