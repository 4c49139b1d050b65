//! Several real processes contending for the same locks through `multilock run`.

use std::process::Command;

use crate::util::Sandbox;

/// A read-increment-write of a counter file with no atomicity of its own: only
/// the lock keeps two processes from losing each other's update.
const INCREMENT: &str =
    "n=$(cat counter); n=$((n + 1)); printf '%s' \"$n\" > counter.tmp; mv counter.tmp counter";

#[test]
fn eight_processes_times_fifty_increments_lose_no_update() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.path().join("counter"), "0").unwrap();
    let me = env!("CARGO_BIN_EXE_multilock");
    let loop_script = format!(
        "i=0; while [ $i -lt 50 ]; do {me} run --lock runs -- sh -c '{INCREMENT}' || exit 1; i=$((i + 1)); done"
    );
    let workers: Vec<_> = (0..8)
        .map(|_| {
            Command::new("sh")
                .args(["-c", &loop_script])
                .current_dir(sandbox.path())
                .env_remove("MULTILOCK_HELD")
                .env_remove("MULTILOCK_DIR")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success());
    }
    assert_eq!(std::fs::read_to_string(sandbox.path().join("counter")).unwrap(), "400");
}

#[test]
fn opposite_request_orders_never_deadlock() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    // A timeout turns a deadlock into a failure instead of a hung test.
    let forward = format!(
        "for i in $(seq 30); do {me} run --timeout 60 --lock queue --lock runs --lock docs -- true || exit 1; done"
    );
    let backward = format!(
        "for i in $(seq 30); do {me} run --timeout 60 --lock docs --lock runs --lock queue -- true || exit 1; done"
    );
    let workers: Vec<_> = (0..6)
        .map(|i| {
            let script = if i % 2 == 0 { &forward } else { &backward };
            Command::new("sh")
                .args(["-c", script])
                .current_dir(sandbox.path())
                .env_remove("MULTILOCK_HELD")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success());
    }
}

#[test]
fn a_holder_killed_with_sigkill_frees_its_locks_at_once() {
    let sandbox = Sandbox::new();
    let mut holding = sandbox.hold(&["queue", "docs"]);
    // SIGKILL: no destructor runs, the metadata files stay behind.
    holding.child.kill().unwrap();
    holding.child.wait().unwrap();
    assert!(sandbox.lock_dir().join("docs.lock.json").exists());
    // The kernel freed the locks when the process died: no wait, no timeout.
    let status = sandbox.multilock().args(["status", "--format", "json"]).output().unwrap();
    let parsed: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(parsed["locks"].as_array().unwrap().len(), 0, "stale metadata is not a held lock");
    let output = sandbox
        .multilock()
        .args(["run", "--timeout", "0", "--lock", "docs", "--lock", "queue", "--", "true"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn sigterm_to_run_reaches_the_command_and_locks_stay_held_until_it_exits() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let sandbox = Sandbox::new();
    // The command traps TERM, says so, and exits 3 a moment later.
    // It ends by itself after ~10 s, so a failure cannot hang the test.
    let script = "trap 'echo got-term; exit 3' TERM; echo ready; i=0; while [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done";
    let mut run = sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let pid = rustix::process::Pid::from_raw(run.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = run.wait().unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(3), "run exits with the command's code");
    // Released normally: the metadata is gone too.
    assert!(!sandbox.lock_dir().join("docs.lock.json").exists());
}
