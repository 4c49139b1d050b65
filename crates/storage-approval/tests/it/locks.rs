//! `execute --execute` and `undo --execute` under the multilock lock `archive`
//! (and what the report's policy names) when a lock directory is in use: a busy
//! lock waits and `--lock-timeout` ends the wait with exit 75 naming the holder,
//! a parent `multilock run`'s hold is used, asking for a lock before one the
//! parent holds is refused at once, and without a lock directory nothing is
//! created. The test process plays the other holder (or the parent run) through
//! the multilock library.

use std::process::Output;

use crate::util::{Dir, assert_untouched, execute_args, path_str, snapshot, stderr};

/// A tree with an old log to archive and a junk file, in a git repository
/// whose root has a `.multilock` lock directory.
fn repository() -> Dir {
    let d = Dir::new();
    d.file("logs/old.log", "old\n").age("logs/old.log", 400).file("notes.tmp", "junk\n");
    std::fs::create_dir(d.root().join(".git")).unwrap();
    std::fs::create_dir(d.root().join(".multilock")).unwrap();
    d
}

fn locks(d: &Dir) -> multilock::LockSet {
    multilock::LockSet::open(d.root().join(".multilock")).unwrap()
}

/// The binary with no lock directory or parent hold from the environment.
fn command() -> std::process::Command {
    let mut command = crate::util::command();
    for var in ["MULTILOCK_DIR", "MULTILOCK_HELD", "MULTILOCK_HELD_DIR", "MULTILOCK_HELD_SETS"] {
        command.env_remove(var);
    }
    command
}

fn run(args: &[&str], env: &[(&str, std::ffi::OsString)]) -> Output {
    let mut command = command();
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

#[test]
fn a_busy_archive_lock_ends_in_exit_75_naming_its_holder_and_nothing_is_done() {
    let d = repository();
    let (report, approval) = d.scan_and_approve();
    let set = locks(&d);
    let options = multilock::AcquireOptions::new().command("the other tidy run");
    let held = set.acquire_with(&["archive"], &options).unwrap();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));

    let out = run(&execute_args(&report, &approval, &["--lock-timeout", "0.2"]), &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.starts_with("storage-approval: "), "{message}");
    assert!(message.contains("archive") && message.contains("the other tidy run"), "{message}");
    assert_untouched(&d, &before);

    // Free again: the same command does the work, and leaves the lock free.
    drop(held);
    let out = run(&execute_args(&report, &approval, &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!d.root().join("notes.tmp").exists());
    drop(set.try_acquire(&["archive"]).unwrap());
}

#[test]
fn a_parent_run_holding_archive_is_used_instead_of_waiting() {
    let d = repository();
    let (report, approval) = d.scan_and_approve();
    let set = locks(&d);
    // What `multilock run --lock archive -- storage-approval execute …` does.
    let guard = set.acquire(&["archive"]).unwrap();
    let env = set.child_env(&guard);
    let out = run(&execute_args(&report, &approval, &["--lock-timeout", "0.2"]), &env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!d.root().join("notes.tmp").exists());
}

#[test]
fn asking_for_archive_under_a_parent_holding_docs_is_refused_at_once() {
    let d = repository();
    let (report, approval) = d.scan_and_approve();
    let set = locks(&d);
    let guard = set.acquire(&["docs"]).unwrap();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let env = set.child_env(&guard);
    // No timeout: a wait here could close a cycle, so it must not start.
    let out = run(&execute_args(&report, &approval, &[]), &env);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(message.contains("archive") && message.contains("docs"), "{message}");
    assert!(message.contains("queue → runs → archive → docs"), "{message}");
    assert_untouched(&d, &before);
}

#[test]
fn the_policy_names_more_locks_and_a_dry_run_takes_none() {
    let d = repository();
    let policy = d.out("policy.toml");
    std::fs::write(&policy, "[locks]\nalso = [\"runs\"]\n").unwrap();
    let (report, approval) = (d.out("report.json"), d.out("approval.json"));
    let root = d.root();
    let scan = ["scan", path_str(&root), "--policy", path_str(&policy), "--report-out"];
    let out = run(&[&scan[..], &[path_str(&report)]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let approve = ["approve", path_str(&report), "--operator", "ana", "--out"];
    assert!(run(&[&approve[..], &[path_str(&approval)]].concat(), &[]).status.success());

    let set = locks(&d);
    let held = set.acquire(&["runs"]).unwrap();
    let dry_run = ["execute", "--report", path_str(&report), "--approval", path_str(&approval)];
    let out = run(&[&dry_run[..], &["--lock-timeout", "0.2"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "a dry run takes no lock: {}", stderr(&out));
    let out = run(&execute_args(&report, &approval, &["--lock-timeout", "0.2"]), &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(stderr(&out).contains("`runs`"), "{}", stderr(&out));
    drop(held);

    let bad = d.out("bad-policy.toml");
    std::fs::write(&bad, "[locks]\nalso = [\"../etc\"]\n").unwrap();
    let scan = ["scan", path_str(&root), "--policy", path_str(&bad), "--report-out", "-"];
    let out = run(&scan, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("locks.also"), "{}", stderr(&out));
}

#[test]
fn undo_takes_archive_too_and_no_subsystem_locks_turns_it_off() {
    let d = repository();
    let (report, approval) = d.scan_and_approve();
    assert!(run(&execute_args(&report, &approval, &[]), &[]).status.success());
    let set = locks(&d);
    let held = set.acquire(&["archive"]).unwrap();
    let log = d.audit_log();
    let undo = ["undo", "--audit-log", path_str(&log), "--execute"];
    let out = run(&[&undo[..], &["--lock-timeout", "0.2"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(!d.root().join("notes.tmp").exists(), "nothing restored while the lock is busy");

    let out = run(&[&undo[..], &["--no-subsystem-locks"]].concat(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(d.root().join("notes.tmp").exists());
    drop(held);
}

#[test]
fn without_a_lock_directory_nothing_is_locked_or_created() {
    let d = Dir::new();
    d.file("notes.tmp", "junk\n");
    std::fs::create_dir(d.root().join(".git")).unwrap();
    let (report, approval) = d.scan_and_approve();
    let out = run(&execute_args(&report, &approval, &[]), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!d.root().join(".multilock").exists());
}
