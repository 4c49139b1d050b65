//! `analyze --execute` writes the rules file under the multilock lock `docs`: a
//! busy lock past `--lock-timeout` is exit 75 naming the holder and nothing is
//! written; a parent `multilock run` holding `docs` is used instead of waiting;
//! asking for it under a parent holding nothing earlier is fine, and
//! `--no-subsystem-locks` writes without it. The test process plays the other
//! holder and the parent run through the multilock library.

use std::path::Path;
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt as _;

/// A repository with two records of one failure in the default location.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let errors = dir.path().join(".autonomous_runs/run-a/errors");
    std::fs::create_dir_all(&errors).unwrap();
    for i in 0..2 {
        let record = serde_json::json!({
            "error_type": "TimeoutError",
            "message": format!("worker {i} timed out after 30s"),
            "run_id": "run-a",
            "timestamp": "2026-11-24T10:00:00Z",
        });
        std::fs::write(errors.join(format!("err_{i}.json")), record.to_string()).unwrap();
    }
    dir
}

fn analyze(root: &Path, extra: &[&str], env: &[(&str, std::ffi::OsString)]) -> Output {
    let mut c = Command::cargo_bin("failure-rules").unwrap();
    c.current_dir(root).args(["analyze", "--execute"]).args(extra).env("NO_COLOR", "1");
    for var in ["MULTILOCK_DIR", "MULTILOCK_HELD", "MULTILOCK_HELD_DIR", "MULTILOCK_HELD_SETS"] {
        c.env_remove(var);
    }
    for (key, value) in env {
        c.env(key, value);
    }
    c.output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_busy_docs_lock_past_the_timeout_is_exit_75_and_nothing_is_written() {
    let repo = repository();
    let set = multilock::LockSet::open(repo.path().join(".multilock")).unwrap();
    let options = multilock::AcquireOptions::new().command("doclinks fix");
    let held = set.acquire_with(&["docs"], &options).unwrap();
    let rules = repo.path().join("docs/LEARNED_ERROR_MITIGATIONS.json");

    let out = analyze(repo.path(), &["--lock-timeout", "0.2"], &[]);
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(stderr(&out).contains("`docs`") && stderr(&out).contains("doclinks fix"));
    assert!(!rules.exists(), "no rules file written without the lock");

    let out = analyze(repo.path(), &["--no-subsystem-locks"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(rules.is_file());
    drop(held);
}

#[test]
fn a_parent_run_holding_docs_is_used_and_one_holding_queue_lets_it_wait_for_docs() {
    let repo = repository();
    let set = multilock::LockSet::open(repo.path().join(".multilock")).unwrap();
    // What `multilock run --lock docs -- failure-rules analyze --execute` does.
    let guard = set.acquire(&["docs"]).unwrap();
    let out = analyze(repo.path(), &["--lock-timeout", "0.2"], &set.child_env(&guard));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    drop(guard);

    // Under `multilock run --lock queue`: docs comes after queue, so it is taken.
    let guard = set.acquire(&["queue"]).unwrap();
    let out = analyze(repo.path(), &["--lock-timeout", "0.2"], &set.child_env(&guard));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
