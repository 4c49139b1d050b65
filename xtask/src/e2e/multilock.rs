//! multilock end to end: a tidy run takes `queue → runs → archive → docs` locks
//! in phases while other processes contend for the same locks, and a timed-out
//! waiter is told who holds its lock.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::e2e::ensure;
use crate::util::{Tools, show};

/// For every lock named in `$MULTILOCK_HELD`, adds one to `counter-LOCK` with
/// no atomicity of its own: only that lock keeps two processes from losing
/// each other's update.
const INCREMENT_HELD: &str = "IFS=,; for lock in $MULTILOCK_HELD; do n=$(cat counter-$lock); \
    printf %s $((n + 1)) > counter-$lock.tmp; mv counter-$lock.tmp counter-$lock; done";

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
    for lock in ["queue", "runs", "archive", "docs"] {
        std::fs::write(repo.join(format!("counter-{lock}")), "0").map_err(|e| e.to_string())?;
    }
    let multilock = tools.path("multilock");
    let multilock = multilock.display();

    // Contenders: three processes each take `docs` + `queue` 20 times (asked
    // for in the opposite order to the phases) and count both.
    let contender = format!(
        "for i in $(seq 20); do {multilock} run --timeout 60 --lock docs --lock queue -- sh -c \"$INCREMENT_HELD\" || exit 1; done"
    );
    let contenders: Vec<_> = (0..3)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &contender])
                .env("INCREMENT_HELD", INCREMENT_HELD)
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
        command.args([
            "--",
            "sh",
            "-c",
            &format!("printf '%s' \"$MULTILOCK_HELD\"; {INCREMENT_HELD}"),
        ]);
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
    for lock in ["queue", "runs", "archive", "docs"] {
        let by_phases = PHASES.iter().filter(|(_, locks, _)| locks.contains(&lock)).count();
        let by_contenders = if lock == "queue" || lock == "docs" { 3 * 20 } else { 0 };
        let counter = std::fs::read_to_string(repo.join(format!("counter-{lock}")))
            .map_err(|e| e.to_string())?;
        ensure(counter == (by_phases + by_contenders).to_string(), || {
            format!(
                "lost updates under `{lock}`: counter is {counter}, expected {}",
                by_phases + by_contenders
            )
        })?;
    }

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

/// Starts a `multilock run` that holds `lock` until its stdin is closed, and
/// returns once it holds it (its command has printed `ready`).
fn hold(tools: &Tools, repo: &Path, lock: &str) -> Result<Child, String> {
    let mut holder = tools
        .command("multilock")
        .current_dir(repo)
        .args(["run", "--lock", lock, "--", "sh", "-c", "echo ready; exec cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut ready = String::new();
    let stdout = holder.stdout.as_mut().ok_or("holder has no stdout")?;
    BufReader::new(stdout).read_line(&mut ready).map_err(|e| e.to_string())?;
    Ok(holder)
}

fn timeout_names_the_holder(tools: &Tools, repo: &Path) -> Result<(), String> {
    let mut holder = hold(tools, repo, "archive")?;
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
    let mut holder = hold(tools, repo, "archive")?;
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
