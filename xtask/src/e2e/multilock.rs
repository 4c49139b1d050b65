//! multilock end to end: a tidy run takes `queue → runs → archive → docs` locks
//! in phases while other processes contend for the same locks, and a timed-out
//! waiter is told who holds its lock.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::e2e::ensure;
use crate::util::{Tools, show};

/// Adds one to `counter` with no atomicity of its own: only the lock protects it.
const INCREMENT: &str =
    "n=$(cat counter); printf '%s' $((n + 1)) > counter.tmp; mv counter.tmp counter";

/// The phases of a tidy run and the locks each needs (in a deliberately
/// non-canonical request order), with the order they must be taken in.
const PHASES: &[(&str, &[&str], &str)] = &[
    ("queue retry", &["queue"], "queue"),
    ("runs cleanup", &["archive", "runs"], "runs,archive"),
    ("execute moves", &["docs", "archive", "queue"], "queue,archive,docs"),
    ("archive consolidation", &["docs", "archive"], "archive,docs"),
];

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let repo = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = repo.path();
    std::fs::write(repo.join("counter"), "0").map_err(|e| e.to_string())?;
    let multilock = tools.path("multilock");
    let multilock = multilock.display();

    // Contenders: three processes each increment the counter 20 times under
    // `docs` + `queue`, requested in the opposite order to the tidy phases.
    let contender = format!(
        "for i in $(seq 20); do {multilock} run --timeout 60 --lock docs --lock queue -- sh -c '{INCREMENT}' || exit 1; done"
    );
    let contenders: Vec<_> = (0..3)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &contender])
                .current_dir(repo)
                .env_remove("MULTILOCK_HELD")
                .spawn()
        })
        .collect::<Result<_, _>>()
        .map_err(|e| format!("cannot start contender: {e}"))?;

    for (phase, locks, expected_order) in PHASES {
        let mut command = tools.command("multilock");
        command.current_dir(repo).args(["run", "--timeout", "60"]);
        for lock in *locks {
            command.args(["--lock", lock]);
        }
        command.args(["--", "sh", "-c", &format!("printf '%s' \"$MULTILOCK_HELD\"; {INCREMENT}")]);
        let output = command.output().map_err(|e| e.to_string())?;
        ensure(output.status.success(), || {
            format!("phase `{phase}` failed: {}", String::from_utf8_lossy(&output.stderr))
        })?;
        let held = String::from_utf8_lossy(&output.stdout);
        ensure(held == *expected_order, || {
            format!("phase `{phase}` held {held}, expected {expected_order}")
        })?;
    }
    for mut contender in contenders {
        let status = contender.wait().map_err(|e| e.to_string())?;
        ensure(status.success(), || format!("a contender failed with {status}"))?;
    }
    let counter = std::fs::read_to_string(repo.join("counter")).map_err(|e| e.to_string())?;
    ensure(counter == (3 * 20 + PHASES.len()).to_string(), || {
        format!("lost updates: counter is {counter}")
    })?;

    timeout_names_the_holder(tools, repo)?;

    let status = tools
        .command("multilock")
        .current_dir(repo)
        .arg("status")
        .output()
        .map_err(|e| e.to_string())?;
    ensure(String::from_utf8_lossy(&status.stdout) == "no locks held in .multilock\n", || {
        format!("locks left held: {}", String::from_utf8_lossy(&status.stdout))
    })
}

fn timeout_names_the_holder(tools: &Tools, repo: &Path) -> Result<(), String> {
    let mut holder = tools
        .command("multilock")
        .current_dir(repo)
        .args(["run", "--lock", "archive", "--", "sh", "-c", "echo ready; exec cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut ready = String::new();
    let stdout = holder.stdout.as_mut().ok_or("holder has no stdout")?;
    BufReader::new(stdout).read_line(&mut ready).map_err(|e| e.to_string())?;
    let waiter = tools
        .command("multilock")
        .current_dir(repo)
        .args(["run", "--lock", "archive", "--timeout", "0.2", "--", "true"])
        .output()
        .map_err(|e| e.to_string())?;
    drop(holder.stdin.take());
    holder.wait().map_err(|e| e.to_string())?;
    let message = String::from_utf8_lossy(&waiter.stderr);
    ensure(waiter.status.code() == Some(75), || {
        format!("timeout exited with {:?}", waiter.status)
    })?;
    ensure(message.contains(&format!("held by pid {}", holder.id())), || {
        format!("timeout message: {message}")
    })
}

/// The demo's multilock part: the order, a run that shows what it holds, and a
/// contended run that times out naming the holder.
pub(crate) fn demo(tools: &Tools, repo: &Path) -> Result<(), String> {
    show(tools.command("multilock").arg("order"), repo)?;
    show(
        tools
            .command("multilock")
            .env("PATH", tools.path_env())
            .args(["run", "--lock", "docs", "--lock", "queue", "--", "sh", "-c"])
            .arg("echo \"holding: $MULTILOCK_HELD\"; multilock status"),
        repo,
    )?;
    let mut holder = tools
        .command("multilock")
        .current_dir(repo)
        .args(["run", "--lock", "archive", "--", "sh", "-c", "echo ready; exec cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut ready = String::new();
    BufReader::new(holder.stdout.as_mut().ok_or("holder has no stdout")?)
        .read_line(&mut ready)
        .map_err(|e| e.to_string())?;
    println!("\n(another process now holds `archive`)");
    show(tools.command("multilock").args(["status", "--all"]), repo)?;
    show(
        tools.command("multilock").args([
            "run",
            "--lock",
            "archive",
            "--timeout",
            "0.5",
            "--",
            "true",
        ]),
        repo,
    )?;
    drop(holder.stdin.take());
    holder.wait().map_err(|e| e.to_string())?;
    Ok(())
}
