//! The `multilock` binary: exit codes, refusals of bad input, and snapshots of
//! what people and scripts read.

use std::os::unix::fs::PermissionsExt;

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

use crate::util::{Sandbox, redactions};

fn snapshot_settings(sandbox: &Sandbox) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in redactions(sandbox) {
        settings.add_filter(&pattern, replacement);
    }
    settings.set_prepend_module_to_snapshot(false);
    settings
}

#[test]
fn run_passes_the_command_exit_code_and_held_names_through() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .args([
            "run",
            "--lock",
            "docs",
            "--lock",
            "queue",
            "--",
            "sh",
            "-c",
            "echo $MULTILOCK_HELD; exit 7",
        ])
        .assert()
        .code(7)
        .stdout("queue,docs\n");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", "kill -9 $$"])
        .assert()
        .code(137);
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "no-such-command-xyz"])
        .assert()
        .code(127)
        .stderr(predicate::str::contains("cannot run `no-such-command-xyz`"));
    // Nothing stays held after any of them.
    sandbox.multilock().args(["status"]).assert().success().stdout("no locks held in .multilock\n");
}

#[test]
fn nested_run_asking_for_a_parent_lock_exits_2_at_once() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    let script = format!("{me} run --lock docs -- true; echo inner=$?");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", &script])
        .assert()
        .success()
        .stdout("inner=2\n")
        .stderr(predicate::str::contains(
            "lock `docs` is already held by a parent `multilock run`",
        ));
}

/// Issue 11's reproduction, reduced to its cause: a run nested in one that
/// holds `docs` asks to wait for `queue`, which comes before it. It must be
/// refused at once, not wait (a `run --lock queue --lock docs` elsewhere would
/// hold `queue` and wait for `docs`: a deadlock only a timeout ends).
#[test]
fn a_nested_run_waiting_back_in_the_order_is_refused_at_once_naming_the_order() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    // No timeout anywhere: were the inner run allowed to wait and queue busy,
    // this would hang; the refusal does not look at queue at all.
    let holding = sandbox.hold(&["queue"]);
    let inner = format!("{me} run --lock queue -- true; echo inner=$?");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", &inner])
        .assert()
        .success()
        .stdout("inner=2\n")
        .stderr(
            "multilock: error: cannot wait for lock `queue` while holding `docs` (a parent \
             `multilock run`): a lock may be waited for only when it comes after every lock held, \
             in the order queue → runs → archive → docs; ask for all of them in one acquisition \
             (the outermost `multilock run`), or take `queue` without waiting (`run --no-wait`, \
             `try_acquire`)\n",
        );
    holding.finish();
    // The same two locks in one run are fine, and so is a nested run that
    // goes forward in the order, or one that only tries.
    let forward = format!(
        "{me} run --lock docs -- true; echo forward=$?; {me} run --no-wait --lock queue -- true; echo try=$?"
    );
    sandbox
        .multilock()
        .args(["run", "--lock", "runs", "--", "sh", "-c", &forward])
        .assert()
        .success()
        .stdout("forward=0\ntry=0\n");
}

#[test]
fn no_wait_exits_with_the_conflict_code_at_once_naming_the_holder() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["archive"]);
    let output = sandbox
        .multilock()
        .args(["run", "--no-wait", "--lock", "queue", "--lock", "archive", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(75));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "multilock: error: lock `archive` (.multilock/archive.lock) is busy; held by pid {} on ",
            holding.pid()
        )),
        "{stderr}"
    );
    // queue was taken before archive was found busy, and is free again.
    sandbox
        .multilock()
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("queue").not());
    sandbox
        .multilock()
        .args(["run", "--no-wait", "--timeout", "1", "--lock", "queue", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--timeout"));
    holding.finish();
}

#[test]
fn unknown_names_warn_and_order_prints_the_canonical_order() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .args(["run", "--lock", "zeta", "--", "true"])
        .assert()
        .success()
        .stderr(predicate::str::contains("warning: lock `zeta` is not in the canonical order"));
    sandbox.multilock().arg("order").assert().success().stdout("queue\nruns\narchive\ndocs\n");
    // The directory recorded its order on first use; another order is refused there.
    sandbox
        .multilock()
        .args(["--order", "a,b", "run", "--lock", "a", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("records queue,runs,archive,docs, but a,b was asked for"));
    sandbox
        .multilock()
        .args(["--dir", "other", "--order", "a,b", "run", "--lock", "b", "--", "true"])
        .assert()
        .success();
    sandbox.multilock().args(["--dir", "other", "order"]).assert().success().stdout("a\nb\n");
}

#[test]
fn disabled_mode_runs_the_command_without_touching_the_lock_dir() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .args([
            "run",
            "--no-subsystem-locks",
            "--lock",
            "docs",
            "--",
            "sh",
            "-c",
            "echo [$MULTILOCK_HELD]",
        ])
        .assert()
        .success()
        .stdout("[]\n");
    assert!(!sandbox.lock_dir().exists());
}

#[test]
fn bad_input_exits_2_with_one_clear_message() {
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &str)] = &[
        (&["run", "--lock", "../x", "--", "true"], "invalid lock name \"../x\""),
        (&["run", "--lock", "", "--", "true"], "invalid lock name \"\": it is empty"),
        (&["run", "--lock", "Docs", "--", "true"], "invalid lock name \"Docs\""),
        (&["run", "--lock", &"a".repeat(65), "--", "true"], "longer than 64 characters"),
        (
            &["run", "--lock", "docs", "--timeout", "soon", "--", "true"],
            "invalid duration \"soon\"",
        ),
        (&["run", "--lock", "docs"], "COMMAND"),
        (&["run", "--", "true"], "needs at least one --lock"),
        (&["--order", "a,a", "order"], "appears twice in the order"),
    ];
    for (args, message) in cases {
        sandbox.multilock().args(*args).assert().code(2).stderr(predicate::str::contains(*message));
    }
}

#[test]
fn unsafe_lock_directories_are_refused() {
    let sandbox = Sandbox::new();
    let real = sandbox.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, sandbox.path().join("link")).unwrap();
    std::fs::write(sandbox.path().join("file"), "").unwrap();
    let open = sandbox.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let cases = [
        ("link", "is a symbolic link"),
        ("file", "is not a directory"),
        ("open", "world-writable without the sticky bit"),
        // Unwritable even for root: procfs accepts no new files.
        ("/proc", "cannot record the order in /proc/multilock.order.json"),
    ];
    for (dir, message) in cases {
        sandbox
            .multilock()
            .args(["--dir", dir, "run", "--lock", "docs", "--", "true"])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(message));
    }
    assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0, "nothing written through the link");
    assert_eq!(std::fs::read(sandbox.path().join("file")).unwrap(), b"");
}

#[test]
fn a_lock_file_replaced_by_a_symlink_is_refused_and_its_target_untouched() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.lock_dir()).unwrap();
    let victim = sandbox.path().join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, sandbox.lock_dir().join("docs.lock")).unwrap();
    std::os::unix::fs::symlink(&victim, sandbox.lock_dir().join("queue.lock.json")).unwrap();
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("docs.lock: it is a symbolic link"));
    sandbox
        .multilock()
        .args(["run", "--lock", "queue", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("queue.lock.json: it is not a regular file"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    // Status refuses to read through the planted links too, and says so on
    // each lock's own line.
    sandbox.multilock().args(["status"]).assert().code(1).stdout(
        "LOCK   STATE    HOLDER\n\
         queue  free     error: unsafe lock file .multilock/queue.lock.json: it is not a regular file but a symbolic link; nothing is read from it\n\
         docs   unknown  error: unsafe lock file .multilock/docs.lock: it is a symbolic link\n",
    );
    // Once it is gone, nothing is held: the queue lock was released after the refusal.
    std::fs::remove_file(sandbox.lock_dir().join("queue.lock.json")).unwrap();
    std::fs::remove_file(sandbox.lock_dir().join("docs.lock")).unwrap();
    sandbox.multilock().args(["status"]).assert().success().stdout("no locks held in .multilock\n");
}

#[test]
fn corrupt_metadata_is_reported_on_its_lock_line_and_status_exits_1() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["queue"]);
    std::fs::write(sandbox.lock_dir().join("runs.lock"), "").unwrap();
    std::fs::write(sandbox.lock_dir().join("runs.lock.json"), r#"{"format":"someone-else/2"}"#)
        .unwrap();
    let output = sandbox.multilock().args(["status", "--all"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[1].starts_with("queue    held   pid "), "{text}");
    assert!(
        lines[2].starts_with(
            "runs     free   error: corrupt holder metadata .multilock/runs.lock.json"
        ),
        "{text}"
    );
    assert_eq!(&lines[3..], ["archive  free", "docs     free"]);
    let json = sandbox.multilock().args(["status", "--format", "json"]).output().unwrap();
    assert_eq!(json.status.code(), Some(1));
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let locks = parsed["locks"].as_array().unwrap();
    assert_eq!((locks[0]["name"].as_str(), locks[0]["error"].is_null()), (Some("queue"), true));
    assert_eq!(locks[1]["name"], "runs");
    assert!(locks[1]["error"].as_str().unwrap().contains("unknown format"), "{parsed}");
    holding.finish();
}

#[test]
fn status_of_a_missing_directory_creates_nothing() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .arg("status")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does not exist"));
    assert!(!sandbox.lock_dir().exists());
}

#[test]
fn snapshot_status_text_and_json() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["docs", "queue"]);
    let settings = snapshot_settings(&sandbox);
    let text = sandbox.multilock().args(["status", "--all"]).output().unwrap();
    let json = sandbox.multilock().args(["status", "--all", "--format", "json"]).output().unwrap();
    settings.bind(|| {
        insta::assert_snapshot!("status_all_text", String::from_utf8_lossy(&text.stdout));
        insta::assert_snapshot!("status_all_json", String::from_utf8_lossy(&json.stdout));
    });
    let parsed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(parsed["locks"][0]["holder"]["pid"], holding.pid());
    holding.finish();
    let free = sandbox.multilock().args(["status", "--format", "json"]).output().unwrap();
    settings.bind(|| {
        insta::assert_snapshot!("status_none_held_json", String::from_utf8(free.stdout).unwrap())
    });
}

#[test]
fn snapshot_timeout_message() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["archive"]);
    let output = sandbox
        .multilock()
        .args(["run", "--lock", "archive", "--lock", "queue", "--timeout", "0.2", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(75));
    snapshot_settings(&sandbox).bind(|| {
        insta::assert_snapshot!("timeout_message", String::from_utf8(output.stderr).unwrap());
    });
    let output = sandbox
        .multilock()
        .args([
            "run",
            "--lock",
            "archive",
            "--timeout",
            "0",
            "--conflict-exit-code",
            "3",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    holding.finish();
}

#[test]
fn help_shows_examples() {
    let sandbox = Sandbox::new();
    let help = sandbox.multilock().arg("--help").output().unwrap();
    snapshot_settings(&sandbox)
        .bind(|| insta::assert_snapshot!("help", String::from_utf8_lossy(&help.stdout)));
}

#[test]
fn lock_dir_from_the_environment() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .env("MULTILOCK_DIR", "elsewhere")
        .args(["run", "--lock", "docs", "--", "true"])
        .assert()
        .success();
    assert!(sandbox.path().join("elsewhere/docs.lock").is_file());
    assert!(!sandbox.lock_dir().exists());
}

#[test]
fn a_fifo_at_the_lock_path_is_refused_not_waited_on() {
    let sandbox = Sandbox::new();
    sandbox.fifo_in_lock_dir("docs.lock");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("docs.lock: it is not a regular file"));
    // Status lists every lock: the FIFO is docs' error, the others are as usual.
    let holding = sandbox.hold(&["runs"]);
    let output = sandbox.multilock().args(["status", "--all"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "LOCK     STATE    HOLDER");
    assert_eq!(lines[1], "queue    free");
    assert!(lines[2].starts_with("runs     held     pid "), "{text}");
    assert_eq!(lines[3], "archive  free");
    assert_eq!(
        lines[4],
        "docs     unknown  error: unsafe lock file .multilock/docs.lock: it is not a regular file"
    );
    assert_eq!(lines.len(), 5, "{text}");
    holding.finish();
}

#[test]
fn nested_runs_are_refused_across_lock_directories() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    // docs in .multilock, then queue in d2 (a try: waiting in a second
    // directory is refused), then docs in .multilock again.
    let innermost = format!("{me} run --lock docs -- true; echo inner=$?");
    let middle = format!("{me} --dir d2 run --no-wait --lock queue -- sh -c '{innermost}'");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", &middle])
        .assert()
        .success()
        .stdout("inner=2\n")
        .stderr(predicate::str::contains("lock `docs` is already held by a parent"));
    // Waiting in d2 while holding docs in .multilock: two directories have no
    // common order, so that is refused, naming the other directory.
    let waiting = format!("{me} --dir d2 run --lock queue -- true; echo middle=$?");
    let held_in = std::fs::canonicalize(sandbox.path()).unwrap().join(".multilock");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", &waiting])
        .assert()
        .success()
        .stdout("middle=2\n")
        .stderr(predicate::str::contains(format!(
            "cannot wait for lock `queue` while holding `docs` in {} (a parent `multilock run`): \
             locks in different directories have no common order",
            held_in.display()
        )));
}

#[test]
fn a_nested_run_is_refused_before_it_waits_for_anything() {
    let sandbox = Sandbox::new();
    // queue is busy elsewhere; the nested run must not wait for it (and time
    // out with 75) before noticing that its parent holds docs.
    let holding = sandbox.hold(&["queue"]);
    let me = env!("CARGO_BIN_EXE_multilock");
    let nested = format!("{me} run --timeout 5 --lock queue --lock docs -- true; echo inner=$?");
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--", "sh", "-c", &nested])
        .assert()
        .success()
        .stdout("inner=2\n");
    holding.finish();
}

#[test]
fn conflict_exit_code_zero_is_refused() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .args(["run", "--lock", "docs", "--conflict-exit-code", "0", "--", "true"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--conflict-exit-code"));
}

#[test]
fn an_umbrella_held_by_the_parent_run_covers_a_nested_run() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    // The nested run does not name the umbrella: its parent's covers it.
    let nested = format!(
        "{me} run --lock docs -- sh -c 'echo $MULTILOCK_HELD'; {me} run --lock tidy -- true; echo inner=$?"
    );
    sandbox
        .multilock()
        .args(["run", "--umbrella", "tidy", "--lock", "queue", "--", "sh", "-c", &nested])
        .assert()
        .success()
        .stdout("tidy,queue,docs\ninner=2\n");
}

#[test]
fn nested_runs_are_recognised_whatever_bytes_the_directory_name_holds() {
    let sandbox = Sandbox::new();
    let me = env!("CARGO_BIN_EXE_multilock");
    let innermost = format!("{me} --dir \"$ODD\" run --lock docs -- true; echo inner=$?");
    let middle = format!("{me} run --no-wait --lock queue -- sh -c '{innermost}'");
    sandbox
        .multilock()
        .env("ODD", "odd\tdir\nname")
        .args(["--dir", "odd\tdir\nname", "run", "--lock", "docs", "--", "sh", "-c", &middle])
        .assert()
        .success()
        .stdout("inner=2\n");
}

#[test]
fn order_prints_json_and_the_common_flags_quiet_or_explain() {
    let sandbox = Sandbox::new();
    sandbox
        .multilock()
        .args(["order", "--format", "json"])
        .assert()
        .success()
        .stdout("{\n  \"order\": [\n    \"queue\",\n    \"runs\",\n    \"archive\",\n    \"docs\"\n  ]\n}\n");
    // `human` is the other tools' spelling of `text`.
    sandbox.multilock().args(["order", "--format", "human"]).assert().success();

    // An unknown lock name is a warning; -q leaves only errors on stderr.
    let run = ["run", "--lock", "staging", "--", "true"];
    let out = sandbox.multilock().args(run).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("multilock: warning: lock `staging`"));
    sandbox.multilock().arg("-q").args(run).assert().success().stderr("");

    // -v says what was taken and released.
    let out =
        sandbox.multilock().args(["-v", "run", "--lock", "docs", "--", "true"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("multilock: took docs in "), "{stderr}");
    assert!(stderr.contains("released the locks; the command exited with 0"), "{stderr}");
}
