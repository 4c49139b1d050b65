//! Several real processes contending for the same locks through `multilock run`.

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
    let workers: Vec<_> =
        (0..8).map(|_| sandbox.command("sh").args(["-c", &loop_script]).spawn().unwrap()).collect();
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
            sandbox.command("sh").args(["-c", script]).spawn().unwrap()
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().unwrap().success());
    }
}

#[test]
fn sigterm_to_run_reaches_the_command_and_locks_stay_held_until_it_exits() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::Stdio;

    let sandbox = Sandbox::new();
    // On TERM the command says so, then waits for its stdin to close before
    // exiting 3. It also ends by itself after ~10 s, so a failure cannot hang.
    let script = "trap 'echo got-term; read line; exit 3' TERM; echo ready; \
                  i=0; while [ $i -lt 500 ]; do sleep 0.02; i=$((i + 1)); done";
    let mut run = sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(run.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let pid = rustix::process::Pid::from_raw(run.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    line.clear();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "got-term\n");
    // The command is still running its trap: the lock is still held.
    let status = sandbox.multilock().arg("status").output().unwrap();
    assert!(String::from_utf8_lossy(&status.stdout).contains("docs  held"), "{status:?}");
    drop(run.stdin.take());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(run.wait().unwrap().code(), Some(3), "run exits with the command's code");
    // Released normally: the metadata is gone too.
    assert!(!sandbox.lock_dir().join("docs.lock.json").exists());
}

#[test]
fn a_holder_killed_with_sigkill_frees_its_locks_at_once() {
    use std::io::Read;

    let sandbox = Sandbox::new();
    let mut holding = sandbox.hold(&["queue", "docs"]);
    let mut stdout = holding.child.stdout.take().unwrap();
    // SIGKILL: no destructor runs, the metadata files stay behind.
    holding.child.kill().unwrap();
    holding.child.wait().unwrap();
    // The command (`cat`) dies with it and shares our stdout pipe: end of file
    // means it is gone too, so nothing runs on with the locks it was given.
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(sandbox.lock_dir().join("docs.lock.json").exists());
    // The kernel freed the locks when the last holder died: no wait, no timeout.
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
fn work_the_command_started_keeps_the_lock_after_multilock_is_killed() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let sandbox = Sandbox::new();
    // The command starts a background job and waits; the job outlives it.
    let mut run = sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", "echo $$; sleep 30 & echo \"$!\"; wait"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(run.stdout.take().unwrap());
    let mut pid = || {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        line.trim().parse::<i32>().unwrap()
    };
    let (command, job) = (pid(), pid());
    let recorded: serde_json::Value = serde_json::from_slice(
        &sandbox.multilock().args(["status", "--format", "json"]).output().unwrap().stdout,
    )
    .unwrap();
    assert!(recorded["locks"][0]["holding_processes"].is_null(), "the recorded holder holds it");
    run.kill().unwrap();
    run.wait().unwrap();
    // The command itself dies of its parent-death signal, which the kernel
    // delivers after multilock is gone: until then it is the recorded holder.
    wait_until_gone(command);
    // The background job inherited the lock file: the lock is still held, by
    // the job, and status and the timeout say so rather than name the dead.
    let status = sandbox.multilock().args(["status", "--format", "json"]).output().unwrap();
    assert_eq!(status.status.code(), Some(0));
    let parsed: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let docs = &parsed["locks"][0];
    assert_eq!(docs["holder"]["pid"], run.id(), "the recorded holder is still shown");
    assert_eq!(
        docs["holding_processes"],
        serde_json::json!([{ "pid": job, "command": "sleep 30" }]),
        "{parsed}"
    );
    let inherited = format!(
        "held by pid {job} running `sleep 30`, which inherited it from pid {} on ",
        run.id()
    );
    let text = sandbox.multilock().arg("status").output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains(&inherited[8..]), "{text}");
    assert!(text.contains(", now gone; lease "), "{text}");
    let busy = sandbox
        .multilock()
        .args(["run", "--timeout", "0", "--lock", "docs", "--", "true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&busy.stderr);
    assert_eq!(busy.status.code(), Some(75), "{stderr}");
    assert!(stderr.contains(&inherited), "{stderr}");
    let job = rustix::process::Pid::from_raw(job).unwrap();
    rustix::process::kill_process(job, rustix::process::Signal::KILL).unwrap();
    // Waits in the kernel until the job is gone, then gets the lock.
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "true"])
        .status()
        .unwrap()
        .success()
        .then_some(())
        .unwrap();
}

/// Waits for a process that is not this one's child to end: a pidfd becomes
/// readable when it does (no polling of /proc, no sleep).
fn wait_until_gone(pid: i32) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let Some(pid) = Pid::from_raw(pid) else { return };
    // Already reaped: nothing to wait for.
    let Ok(fd) = pidfd_open(pid, PidfdFlags::empty()) else { return };
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let limit = Timespec { tv_sec: 30, tv_nsec: 0 };
    let ready = poll(&mut fds, Some(&limit)).unwrap();
    assert_eq!(ready, 1, "pid {pid:?} still runs after 30 s");
}
