//! One CLI feel: every binary's `--help` lists the flags the README's table
//! promises, the tools that write list the lock flags, every `--format` takes
//! `text`, `human` and `json`, and a usage error is `TOOL: error: …` or clap's
//! own message with exit 2 in every tool.

use crate::e2e::ensure;
use crate::util::{Tools, project_root};

const TOOLS: [&str; 4] = ["multilock", "doclinks", "failure-rules", "storage-approval"];

/// The flags every binary has.
const COMMON: [&str; 5] = ["--color", "--quiet", "-q,", "--verbose", "--no-progress"];

/// The subcommands that write under a subsystem lock (`--lock-dir` and friends).
const WRITERS: &[(&str, &[&str])] = &[
    ("doclinks", &["fix", "triage", "restore", "stub"]),
    ("failure-rules", &["analyze"]),
    ("storage-approval", &["execute", "undo"]),
];
const LOCK_FLAGS: [&str; 3] = ["--lock-dir", "--lock-timeout", "--no-subsystem-locks"];

/// Commands with a `--format`, run with each spelling; each must succeed.
const FORMATS: &[(&str, &[&str])] = &[
    ("multilock", &["order", "--format"]),
    ("storage-approval", &["policy", "--format"]),
    ("failure-rules", &["match", "--type", "ValueError", "--message", "x", "--format"]),
    ("doclinks", &["check", "--root", ".", "--format"]),
];

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let readme = std::fs::read_to_string(project_root().join("README.md"))
        .map_err(|e| format!("cannot read README.md: {e}"))?;
    for flag in COMMON.iter().chain(&LOCK_FLAGS).filter(|f| f.starts_with("--")) {
        ensure(readme.contains(&format!("`{flag}")), || {
            format!("the README's table of common flags does not name {flag}")
        })?;
    }
    for tool in TOOLS {
        let help = help(tools, tool, &[])?;
        for flag in COMMON {
            ensure(help.contains(flag), || format!("`{tool} --help` does not list {flag}"))?;
        }
        let out = tools.command(tool).arg("--no-such-flag").output().map_err(|e| e.to_string())?;
        ensure(out.status.code() == Some(2), || format!("{tool}: a bad flag is not exit 2"))?;
    }
    // A closed stderr is no reason to panic (exit 101): a warning is simply lost.
    let multilock = tools.path("multilock");
    let tmp_locks = tempfile::tempdir().map_err(|e| e.to_string())?;
    let closed = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$0\" --dir \"$1\" run --lock staging -- true 2>&-")
        .arg(&multilock)
        .arg(tmp_locks.path())
        .status()
        .map_err(|e| e.to_string())?;
    ensure(closed.success(), || format!("multilock with stderr closed: {closed}"))?;
    for (tool, subcommands) in WRITERS {
        for subcommand in *subcommands {
            let help = help(tools, tool, &[subcommand])?;
            for flag in LOCK_FLAGS {
                ensure(help.contains(flag), || {
                    format!("`{tool} {subcommand} --help` does not list {flag}")
                })?;
            }
        }
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::write(tmp.path().join("README.md"), "# Readme\n").map_err(|e| e.to_string())?;
    for (tool, args) in FORMATS {
        for format in ["text", "human", "json"] {
            let out = tools
                .command(tool)
                .current_dir(tmp.path())
                .args(*args)
                .arg(format)
                .env("NO_COLOR", "1")
                .output()
                .map_err(|e| e.to_string())?;
            // `match` finds no rule in an empty rules file: 1, as grep.
            let ok = matches!(out.status.code(), Some(0 | 1));
            ensure(ok, || {
                format!(
                    "{tool} {} {format}: exit {:?}\n{}",
                    args.join(" "),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                )
            })?;
            if format == "json" && !out.stdout.is_empty() {
                serde_json::from_slice::<serde_json::Value>(&out.stdout)
                    .map_err(|e| format!("{tool} {} json: not JSON: {e}", args.join(" ")))?;
            }
        }
    }
    Ok(())
}

fn help(tools: &Tools, tool: &str, subcommand: &[&str]) -> Result<String, String> {
    let out = tools
        .command(tool)
        .args(subcommand)
        .arg("--help")
        .env("COLUMNS", "200")
        .output()
        .map_err(|e| e.to_string())?;
    ensure(out.status.success(), || format!("`{tool} {} --help` failed", subcommand.join(" ")))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
