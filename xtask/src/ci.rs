//! `cargo xtask ci`: the single CI entry point. Steps run in order and the first
//! failure stops the run with the step's name.

use std::time::Instant;

use crate::util::{cargo, run_command};

type Step = fn() -> Result<(), String>;

pub(crate) fn run() -> Result<(), String> {
    let steps: [(&str, Step); 9] = [
        ("fmt", fmt),
        ("clippy", clippy),
        ("test", test),
        ("doctest", doctest),
        ("doc", doc),
        ("no-default-features", no_default_features),
        ("package", package),
        ("deny", deny),
        ("e2e", crate::e2e::run),
    ];
    let started = Instant::now();
    let mut took = Vec::new();
    for (name, step) in steps {
        println!("\n==> xtask ci: {name}");
        let step_started = Instant::now();
        step().map_err(|e| format!("ci step `{name}` failed: {e}"))?;
        took.push(format!("{name} {:.0} s", step_started.elapsed().as_secs_f64()));
    }
    // Where the time goes, so that a slow step is seen before CI gets slow.
    println!(
        "\nxtask ci: all steps passed in {:.0} s ({})",
        started.elapsed().as_secs_f64(),
        took.join(", ")
    );
    Ok(())
}

fn fmt() -> Result<(), String> {
    run_command(cargo().args(["fmt", "--all", "--", "--check"]))
}

fn clippy() -> Result<(), String> {
    run_command(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test() -> Result<(), String> {
    // nextest runs each test in its own process, which suits the multi-process
    // lock tests; it does not run doc tests, so those are a step of their own.
    if cargo_subcommand_works("nextest") {
        run_command(cargo().args(["nextest", "run", "--workspace", "--locked", "--no-fail-fast"]))
    } else {
        run_command(cargo().args(["test", "--workspace", "--locked", "--lib", "--bins", "--tests"]))
    }
}

fn doctest() -> Result<(), String> {
    run_command(cargo().args(["test", "--workspace", "--locked", "--doc"]))
}

fn doc() -> Result<(), String> {
    run_command(
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// The published libraries, in dependency order.
const LIBRARIES: [&str; 5] =
    ["tidy-io", "multilock", "doclinks", "failure-rules", "storage-approval"];

/// The libraries without their `cli` feature. `--workspace` unifies features (the
/// binaries turn `cli` on), so only a build that selects the libraries alone proves
/// that the bare libraries compile, lint clean and pass their unit and doc tests
/// without clap and the binaries. One build for the five, not one each: no library
/// turns on another's `cli` (the workspace dependencies have
/// `default-features = false`), and five separate feature resolutions compiled
/// the shared dependencies five times (226 s of a cold CI run, against 61 s for
/// `cargo package` of every crate).
fn no_default_features() -> Result<(), String> {
    let libraries = LIBRARIES.iter().flat_map(|library| ["-p", library]);
    let bare = ["--no-default-features", "--locked"];
    run_command(
        cargo()
            .args(["clippy"])
            .args(libraries.clone())
            .args(bare)
            .args(["--lib", "--tests", "--", "-D", "warnings"]),
    )?;
    run_command(cargo().args(["test"]).args(libraries).args(bare))
}

/// `cargo package` for every published crate (not xtask and the root package
/// tidykit-hooks, which are never published), which also builds each one from its
/// packaged sources (the verify step), with the workspace's own crates served from a
/// temporary local registry: a file missing from a package, or a path dependency
/// without a version, fails here and not at publish time. The verify build shares
/// the target directory, so only the five crates themselves are compiled again.
/// `--offline`: the earlier steps fetched every dependency; `--allow-dirty`: a local
/// run checks the working tree as it is.
fn package() -> Result<(), String> {
    run_command(cargo().args([
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--exclude",
        "tidykit-hooks",
        "--locked",
        "--offline",
        "--allow-dirty",
    ]))
}

fn deny() -> Result<(), String> {
    if !cargo_subcommand_works("deny") {
        println!("cargo-deny is missing: installing it with `cargo install --locked cargo-deny`");
        run_command(cargo().args(["install", "--locked", "cargo-deny"]))?;
    }
    // Advisories need the network; they belong to a scheduled job, not every run.
    run_command(cargo().args(["deny", "--locked", "check", "licenses", "bans", "sources"]))
}

fn cargo_subcommand_works(subcommand: &str) -> bool {
    cargo()
        .args([subcommand, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
