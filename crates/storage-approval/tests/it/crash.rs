//! Multi-process crash test: `execute` is killed with SIGKILL at random points and
//! run again; at every point each original byte is in its place, in the quarantine
//! or in its archive destination, and in the end the audit chain verifies; `undo`,
//! killed the same way and run again, restores the tree exactly. A property test
//! kills `execute` at checkpoints chosen by a hook (no timing) on random trees and
//! checks that `undo` alone restores them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::util::{
    Dir, Lcg, audit_entries, check_audit_verifies, execute_args, path_str, run, sha256, snapshot,
    stderr,
};

/// Where an original file may legitimately be: its place, the quarantine, the archive.
fn assert_every_byte_present(
    root: &Path,
    report_id: &str,
    original: &BTreeMap<String, String>,
    round: usize,
) {
    let now = snapshot(root, None);
    for (path, hash) in original {
        let places = [
            path.clone(),
            format!(".tidy-quarantine/{report_id}/{path}"),
            format!("archive/{path}"),
        ];
        assert!(
            places.iter().any(|p| now.get(p) == Some(hash)),
            "round {round}: the bytes of `{path}` are nowhere (looked at {places:?})"
        );
    }
}

/// Lines in the audit log so far (0 before it exists).
fn log_lines(log: &Path) -> usize {
    std::fs::read(log).map(|b| b.iter().filter(|&&c| c == b'\n').count()).unwrap_or(0)
}

/// Starts the binary with `args` and kills it with SIGKILL at a random point of its
/// run: once the audit log has grown by a random number of lines (waiting on that,
/// not on the clock, so a loaded machine still kills it mid-run), plus a random few
/// hundred microseconds so that the kill lands between or inside actions too.
/// Returns whether it was killed (rather than finishing first).
fn kill_mid_run(args: &[&str], log: &Path, rng: &mut Lcg, max_lines: u64) -> bool {
    let target = log_lines(log) + 1 + rng.below(max_lines) as usize;
    let mut child = crate::util::command()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while log_lines(log) < target {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        assert!(Instant::now() < deadline, "no progress in the audit log");
        std::thread::sleep(Duration::from_micros(100));
    }
    std::thread::sleep(Duration::from_micros(rng.below(2_000)));
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    killed
}

#[test]
fn sigkill_at_random_points_loses_nothing_and_resumes_exactly() {
    let d = Dir::new();
    for i in 0..40 {
        let body = format!("{i}").repeat(8_000 + i * 100);
        d.file(&format!("a/{i:02}/orig"), &body).file(&format!("b/{i:02}/copy"), &body);
        d.file(&format!("c/{i:02}/x.tmp"), format!("junk {i}"));
        if i % 2 == 0 {
            d.file(&format!("logs/{i:02}.log"), format!("old log {i}"))
                .age(&format!("logs/{i:02}.log"), 365);
        }
    }
    let root = d.root();
    let original = snapshot(&root, None);
    let (report, approval) = d.scan_and_approve();
    let report_id = crate::util::stdout(&run(&["report-id", path_str(&report)])).trim().to_owned();
    let log = d.audit_log();

    let args = execute_args(&report, &approval, &["--batch", "4"]);
    let mut rng = Lcg(0x5eed_2026);
    let mut killed = 0;
    for round in 0..12 {
        killed += usize::from(kill_mid_run(&args, &log, &mut rng, 16));
        assert_every_byte_present(&root, &report_id, &original, round);
    }
    assert!(killed >= 4, "only {killed} of 12 runs were killed mid-run");
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_every_byte_present(&root, &report_id, &original, 99);
    check_audit_verifies(&log);

    // Each action has exactly one intent and one result for this report: nothing repeated.
    let entries = audit_entries(&log);
    let mut per_src: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in
        entries.iter().filter(|e| e["report_id"] == report_id.as_str() && e["action"] != "rmdir")
    {
        let slot = per_src.entry(e["src"].as_str().unwrap().to_owned()).or_default();
        match e["phase"].as_str().unwrap() {
            "intent" => slot.0 += 1,
            "done" => slot.1 += 1,
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    assert_eq!(per_src.len(), 40 + 40 + 20);
    assert!(per_src.values().all(|&(intent, done)| intent == 1 && done == 1), "{per_src:?}");
    assert!(!root.join("b").exists() && !root.join("c").exists(), "emptied directories go");

    // Undo is killed the same way, then finished.
    let undo_args = ["undo", "--audit-log", path_str(&log), "--execute", "--batch", "4"];
    let mut killed = 0;
    for round in 0..6 {
        killed += usize::from(kill_mid_run(&undo_args, &log, &mut rng, 16));
        assert_every_byte_present(&root, &report_id, &original, 100 + round);
    }
    assert!(killed >= 2, "only {killed} of 6 undo runs were killed mid-run");
    let undo = run(&undo_args);
    assert_eq!(undo.status.code(), Some(0), "{}", stderr(&undo));
    check_audit_verifies(&log);
    // The same paths (directories included) with the same SHA-256.
    assert_eq!(original, snapshot(&root, Some(".tidy-quarantine")));
}

#[test]
fn a_run_killed_between_copy_and_unlink_across_file_systems_finishes() {
    // The state a SIGKILL leaves right after a cross-file-system copy was placed and
    // before the original was removed: the intent is logged, the result is not, and
    // both copies exist. Built by hand: run, then put the original back and drop the
    // result line (what remains is a valid chain).
    let Some(elsewhere) = crate::util::other_fs() else { return };
    let d = Dir::new();
    d.file("one.tmp", "junk bytes");
    let (report, approval) = d.scan_and_approve();
    let args = execute_args(&report, &approval, &["--quarantine", path_str(elsewhere.path())]);
    assert_eq!(run(&args).status.code(), Some(0));
    std::fs::write(d.root().join("one.tmp"), "junk bytes").unwrap();
    let log = d.audit_log();
    let text = std::fs::read_to_string(&log).unwrap();
    let kept: Vec<&str> = text.lines().take(1).collect();
    assert!(kept[0].contains("\"phase\":\"intent\""));
    std::fs::write(&log, format!("{}\n", kept[0])).unwrap();
    // The re-created original needs its reported mtime back.
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mtime = r["actions"][0]["mtime"].as_str().unwrap().to_owned();
    let out = std::process::Command::new("touch")
        .args(["-d", &mtime])
        .arg(d.root().join("one.tmp"))
        .status()
        .unwrap();
    assert!(out.success());

    let again = run(&args);
    assert_eq!(again.status.code(), Some(0), "{}{}", crate::util::stdout(&again), stderr(&again));
    assert!(!d.root().join("one.tmp").exists(), "the original is removed now");
    let copies = crate::util::files(elsewhere.path(), Some(".storage-approval-quarantine"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert_eq!(copies.values().next().unwrap(), &sha256(b"junk bytes"));
    check_audit_verifies(&log);
}

#[test]
fn undo_after_a_kill_between_copy_and_unlink_keeps_the_original_and_empties_the_quarantine() {
    // The state of the test above, plus the temporary file of a second copy that
    // was killed half way; this time `undo` follows instead of a resumed execute.
    let Some(elsewhere) = crate::util::other_fs() else { return };
    let d = Dir::new();
    d.file("one.tmp", "junk bytes").file("keep.txt", "stays");
    let (report, approval) = d.scan_and_approve();
    let args = execute_args(&report, &approval, &["--quarantine", path_str(elsewhere.path())]);
    assert_eq!(run(&args).status.code(), Some(0));
    std::fs::write(d.root().join("one.tmp"), "junk bytes").unwrap();
    let log = d.audit_log();
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, format!("{}\n", text.lines().next().unwrap())).unwrap();
    let report_id = crate::util::stdout(&run(&["report-id", path_str(&report)])).trim().to_owned();
    let quarantine = elsewhere.path().join(&report_id);
    std::fs::write(quarantine.join(".storage-approval-partial.4242.0.tmp"), "junk by").unwrap();

    let undo = run(&["undo", "--audit-log", path_str(&log), "--execute"]);
    assert_eq!(undo.status.code(), Some(0), "{}{}", crate::util::stdout(&undo), stderr(&undo));
    assert!(
        crate::util::stdout(&undo).contains("the copy at the destination was removed"),
        "{}",
        crate::util::stdout(&undo)
    );
    assert_eq!(std::fs::read_to_string(d.root().join("one.tmp")).unwrap(), "junk bytes");
    assert!(!quarantine.exists(), "{:?}", snapshot(elsewhere.path(), None));
    check_audit_verifies(&log);
    // Settled: a second undo repeats nothing.
    let again = run(&["undo", "--audit-log", path_str(&log), "--execute"]);
    assert!(
        crate::util::stdout(&again).contains("0 done, 1 already done"),
        "{}",
        crate::util::stdout(&again)
    );
}

/// Runs execute on a single junk file, then rewinds the audit log to the state a
/// SIGKILL right after the intent leaves (the result line dropped; the chain holds).
fn interrupted_after_the_intent(extra: &[&str]) -> (Dir, Vec<String>) {
    let d = Dir::new();
    d.file("one.tmp", "junk bytes");
    let (report, approval) = d.scan_and_approve();
    let args: Vec<String> =
        execute_args(&report, &approval, extra).into_iter().map(str::to_owned).collect();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(run(&argv).status.code(), Some(0));
    let log = d.audit_log();
    let text = std::fs::read_to_string(&log).unwrap();
    let intent = text.lines().next().unwrap();
    assert!(intent.contains("\"phase\":\"intent\""), "{intent}");
    std::fs::write(&log, format!("{intent}\n")).unwrap();
    (d, args)
}

#[test]
fn a_resume_with_another_quarantine_or_purge_is_refused() {
    // The interrupted run quarantined `one.tmp`; a resume with --purge would look
    // for nothing and log a purge that never happened.
    let (d, mut args) = interrupted_after_the_intent(&[]);
    let before = snapshot(&d.root(), None);
    args.push("--purge".to_owned());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("run again with the same --quarantine"), "{}", stderr(&out));
    assert_eq!(before, snapshot(&d.root(), None), "nothing touched");
    // With the same options it finishes.
    args.pop();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(crate::util::stdout(&out).contains("completed by an interrupted run"));
}

#[test]
fn an_interrupted_purge_of_a_file_that_changed_is_not_logged_as_done() {
    let (d, args) = interrupted_after_the_intent(&["--purge"]);
    // The purge happened, then someone wrote a new file under the same name.
    std::fs::write(d.root().join("one.tmp"), "new precious bytes").unwrap();
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&argv);
    assert_eq!(out.status.code(), Some(3), "{}", crate::util::stdout(&out));
    assert!(crate::util::stdout(&out).contains("skipped"), "{}", crate::util::stdout(&out));
    assert_eq!(std::fs::read_to_string(d.root().join("one.tmp")).unwrap(), "new precious bytes");
    let log = std::fs::read_to_string(d.audit_log()).unwrap();
    assert!(log.lines().last().unwrap().contains("\"phase\":\"skipped\""), "{log}");
}

/// A random tree: files in a few directories (some nested), contents drawn from a
/// small pool so that many are duplicates, some junk, some old logs to archive.
fn tree_strategy() -> impl Strategy<Value = Vec<(usize, usize, usize)>> {
    prop::collection::vec((0usize..6, 0usize..8, 0usize..6), 1..40)
}

const DIRS: [&str; 6] = ["", "a", "a/b", "c/d/e", "logs", "x/__pycache__"];

/// Builds the tree of `files` (directory, name, content) in a fresh `Dir`.
fn build(files: &[(usize, usize, usize)]) -> Dir {
    let d = Dir::new();
    for &(dir, name, content) in files {
        let name = match (DIRS[dir], name % 4) {
            ("logs", _) => format!("run{name}.log"),
            (_, 0) => format!("f{name}.tmp"),
            _ => format!("f{name}.dat"),
        };
        let rel = if DIRS[dir].is_empty() { name } else { format!("{}/{name}", DIRS[dir]) };
        // Contents of different sizes, a few of them larger than one read.
        let body = format!("content {content} ").repeat(1 + content * 700);
        d.file(&rel, body);
        if DIRS[dir] == "logs" {
            d.age(&rel, 400);
        }
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Issue 12: undo after an execute killed at any point (one or two kills,
    /// chosen by the checkpoint hook, so without timing) leaves the tree byte for
    /// byte as it was and the run's quarantine empty.
    #[test]
    fn undo_after_sigkill_anywhere_in_execute_restores_the_tree(
        files in tree_strategy(),
        batch in 1usize..5,
        first in 1usize..80,
        second in prop::option::of(1usize..40),
    ) {
        let d = build(&files);
        let root = d.root();
        let before = snapshot(&root, Some(".tidy-quarantine"));
        let (report, approval) = d.scan_and_approve();
        let report_id =
            crate::util::stdout(&run(&["report-id", path_str(&report)])).trim().to_owned();
        let batch = batch.to_string();
        let args = execute_args(&report, &approval, &["--batch", &batch]);
        for crash_at in std::iter::once(first).chain(second) {
            let out = crate::util::command()
                .args(&args)
                .env("STORAGE_APPROVAL_CRASH_AT", crash_at.to_string())
                .output()
                .unwrap();
            // Killed at its checkpoint, or done before reaching it.
            let killed = std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(9);
            prop_assert!(killed || out.status.code() == Some(0), "{:?}: {}", out.status, stderr(&out));
        }
        let log = d.audit_log();
        if log.exists() {
            let out = run(&["undo", "--audit-log", path_str(&log), "--execute", "--batch", &batch]);
            prop_assert_eq!(out.status.code(), Some(0), "{}{}", crate::util::stdout(&out), stderr(&out));
            check_audit_verifies(&log);
        }
        prop_assert_eq!(&before, &snapshot(&root, Some(".tidy-quarantine")));
        let quarantine = root.join(".tidy-quarantine").join(&report_id);
        prop_assert!(
            !quarantine.exists() || quarantine.read_dir().unwrap().next().is_none(),
            "left in the quarantine: {:?}",
            snapshot(&quarantine, None)
        );
    }
}
