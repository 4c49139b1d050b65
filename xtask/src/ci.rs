//! `cargo xtask ci`: the single CI entry point. Steps run in order and the first
//! failure stops the run with the step's name.

use crate::util::{cargo, run_command};

type Step = fn() -> Result<(), String>;

pub(crate) fn run() -> Result<(), String> {
    let steps: [(&str, Step); 7] = [
        ("fmt", fmt),
        ("clippy", clippy),
        ("test", test),
        ("doctest", doctest),
        ("doc", doc),
        ("deny", deny),
        ("e2e", crate::e2e::run),
    ];
    for (name, step) in steps {
        println!("\n==> xtask ci: {name}");
        step().map_err(|e| format!("ci step `{name}` failed: {e}"))?;
    }
    println!("\nxtask ci: all steps passed");
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
