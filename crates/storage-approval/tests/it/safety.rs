//! Refusals and skips: what execute must not do. Approval mismatches and unsafe
//! reports touch nothing (exit 1); files changed after the report are skipped with
//! the reason (exit 3); bad input is a clear error naming the file (exit 2).

use std::path::{Path, PathBuf};

use crate::util::{
    Dir, assert_untouched, check_audit_verifies, check_refused, execute, execute_args, path_str,
    run, snapshot, stderr, stdout,
};

fn tree() -> Dir {
    let d = Dir::new();
    d.file("keep/a", "dup bytes")
        .file("b", "dup bytes")
        .file("c.tmp", "junk")
        .file("d.tmp", "junk 2");
    d
}

fn edit_report(report: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(report, serde_json::to_string_pretty(&json).unwrap()).unwrap();
}

fn approve(d: &Dir, report: &Path) -> PathBuf {
    let approval = d.out("approval2.json");
    let out =
        run(&["approve", path_str(report), "--operator", "eve", "--out", path_str(&approval)]);
    assert!(out.status.success(), "{}", stderr(&out));
    approval
}

/// Scans [`tree`], applies `edit` to the report, approves the edited report and
/// executes it: refused with exit 1, stderr holding `needle`, nothing touched.
fn check_edited_report_refused(
    case: &str,
    needle: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) {
    let d = tree();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, _) = d.scan_and_approve();
    edit_report(&report, edit);
    let approval = approve(&d, &report);
    let out = execute(&report, &approval, &[]);
    check_refused(&d, &before, &out, 1, &[needle], case);
}

#[test]
fn approval_for_another_report_touches_nothing() {
    let d = tree();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, approval) = d.scan_and_approve();
    edit_report(&approval, |a| a["report_id"] = "0".repeat(64).into());
    let out = execute(&report, &approval, &[]);
    check_refused(&d, &before, &out, 1, &["refused", "nothing was touched"], "another report");
    // Without any approval file, the same.
    let out = execute(&report, &d.out("missing.json"), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(&["verify", "--report", path_str(&report), "--approval", path_str(&approval)]);
    assert_eq!(out.status.code(), Some(1));
    assert_untouched(&d, &before);
}

#[test]
fn report_edited_after_approval_touches_nothing() {
    let d = tree();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, approval) = d.scan_and_approve();
    // One changed character in one action.
    edit_report(&report, |r| r["actions"][0]["policy_reason"] = "junk: matches `*.tmq`".into());
    let out = execute(&report, &approval, &[]);
    check_refused(&d, &before, &out, 1, &[], "edited report");
}

#[test]
fn unsafe_paths_are_refused_even_when_approved() {
    for bad in [
        "../../etc/passwd",
        "/etc/passwd",
        "keep/../../x",
        ".git/config",
        ".tidy-quarantine/audit.jsonl",
    ] {
        check_edited_report_refused(bad, "nothing was touched", |r| {
            r["actions"][0]["src"] = bad.into();
        });
    }
}

#[test]
fn an_action_without_a_hash_is_refused() {
    // rmlint #672: never act on a file whose content was not hashed.
    check_edited_report_refused("no sha256", "without a hash", |r| {
        r["actions"][1].as_object_mut().unwrap().remove("sha256");
    });
}

#[test]
fn a_report_removing_every_copy_is_refused() {
    // Add the mirror image of the duplicate delete: the kept copy deleted in favour
    // of the copy being deleted.
    check_edited_report_refused("mirror delete", "every copy", |r| {
        let dup = r["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| !a["group"].is_null())
            .unwrap()
            .clone();
        let mut extra = dup.clone();
        extra["src"] = dup["kept"].clone();
        extra["kept"] = dup["src"].clone();
        r["actions"].as_array_mut().unwrap().push(extra);
    });
}

#[test]
fn files_changed_after_the_report_are_skipped_with_the_reason() {
    let d = Dir::new();
    d.file("keep", "dup")
        .file("same-size-same-mtime", "dup")
        .file("grown.tmp", "x")
        .file("gone.tmp", "x")
        .file("link.tmp", "x")
        .file("sub/in-linked-dir.tmp", "x")
        .file("fine.tmp", "x");
    let (report, approval) = d.scan_and_approve();
    let root = d.root();
    // fclones #84: `cp -a` keeps size and mtime; only the hash tells.
    let mtime = std::fs::metadata(root.join("same-size-same-mtime")).unwrap().modified().unwrap();
    std::fs::write(root.join("same-size-same-mtime"), "DUP").unwrap();
    std::fs::File::options()
        .write(true)
        .open(root.join("same-size-same-mtime"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::write(root.join("grown.tmp"), "xx").unwrap();
    std::fs::remove_file(root.join("gone.tmp")).unwrap();
    let target = d.out("precious");
    std::fs::write(&target, "x").unwrap();
    std::fs::remove_file(root.join("link.tmp")).unwrap();
    std::os::unix::fs::symlink(&target, root.join("link.tmp")).unwrap();
    // A parent directory swapped for a symlink to a look-alike outside ROOT.
    let outside = d.out("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("in-linked-dir.tmp"), "x").unwrap();
    std::fs::rename(root.join("sub"), d.out("sub-moved")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();

    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let line = |src: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {src}")))
            .unwrap_or_else(|| panic!("{src}: {text}"))
            .to_owned()
    };
    assert!(
        line("same-size-same-mtime").contains("skipped")
            && line("same-size-same-mtime").contains("content changed"),
        "{text}"
    );
    assert!(line("grown.tmp").contains("size changed"), "{text}");
    assert!(line("gone.tmp").contains("deleted since the report"), "{text}");
    assert!(line("link.tmp").contains("symlink"), "{text}");
    assert!(line("sub/in-linked-dir.tmp").contains("symlink"), "{text}");
    assert!(line("fine.tmp").starts_with("done"), "{text}");
    // Nothing outside ROOT was touched through the links.
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "x");
    assert!(outside.join("in-linked-dir.tmp").exists());
    assert!(root.join("link.tmp").symlink_metadata().unwrap().file_type().is_symlink());
    // The skips are in the audit log with their reasons.
    let log = std::fs::read_to_string(d.audit_log()).unwrap();
    assert_eq!(log.lines().filter(|l| l.contains("\"phase\":\"skipped\"")).count(), 5, "{log}");
}

#[test]
fn a_duplicate_whose_kept_copy_changed_is_not_removed() {
    let d = Dir::new();
    d.file("a", "dup").file("b", "dup");
    let (report, approval) = d.scan_and_approve();
    std::fs::remove_file(d.root().join("a")).unwrap();
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).contains("the kept copy `a` is not intact"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(d.root().join("b")).unwrap(), "dup", "the last copy stays");
}

#[test]
fn a_duplicate_whose_kept_copy_was_rewritten_with_the_same_size_and_mtime_is_not_removed() {
    // fclones #84 again, on the kept side: `cp -a` puts size and mtime back.
    let d = Dir::new();
    d.file("a", "dup").file("b", "dup");
    let (report, approval) = d.scan_and_approve();
    let keep = d.root().join("a");
    let mtime = std::fs::metadata(&keep).unwrap().modified().unwrap();
    std::fs::write(&keep, "DUP").unwrap();
    std::fs::File::options().write(true).open(&keep).unwrap().set_modified(mtime).unwrap();
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    assert!(stdout(&out).contains("the kept copy `a` is not intact"), "{}", stdout(&out));
    assert_eq!(std::fs::read_to_string(d.root().join("b")).unwrap(), "dup", "the last copy stays");
}

#[test]
fn malformed_policy_names_the_file_and_key() {
    let d = tree();
    let policy = d.out("policy.toml");
    let cases: [(&str, &[&str]); 2] = [
        ("[archive]\nolder_than_dayz = 3\n", &["policy.toml", "older_than_dayz"]),
        ("[junk]\npatterns = [\"a[\"]\n", &["junk.patterns"]),
    ];
    for (text, needles) in cases {
        std::fs::write(&policy, text).unwrap();
        let out = run(&[
            "scan",
            path_str(&d.root()),
            "--policy",
            path_str(&policy),
            "--report-out",
            path_str(&d.out("r")),
        ]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = stderr(&out);
        for needle in needles {
            assert!(err.contains(needle), "{text}: no `{needle}` in: {err}");
        }
    }
}

#[test]
fn quarantine_inside_a_protected_path_is_an_error() {
    let d = tree();
    let policy = d.out("policy.toml");
    std::fs::write(&policy, "[protect]\nglobs = [\"keep/\"]\n[junk]\npatterns = [\"**/*.tmp\"]\n")
        .unwrap();
    let report = d.out("r.json");
    assert!(
        run(&[
            "scan",
            path_str(&d.root()),
            "--policy",
            path_str(&policy),
            "--report-out",
            path_str(&report)
        ])
        .status
        .success()
    );
    let approval = approve(&d, &report);
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let q = d.root().join("keep/q");
    let out = execute(&report, &approval, &["--quarantine", path_str(&q)]);
    check_refused(&d, &before, &out, 2, &["protected"], "quarantine in keep/");
}

#[test]
fn malformed_report_and_approval_name_the_file() {
    let d = tree();
    let report = d.out("report.json");
    std::fs::write(&report, "{\"version\":1,").unwrap();
    let out = run(&["report-id", path_str(&report)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("report.json") && stderr(&out).contains("not valid JSON"),
        "{}",
        stderr(&out)
    );
    // A malformed approval: an input error for `verify` (exit 2), a refusal with
    // nothing touched for `execute` (exit 1); both name the file and the problem.
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, _) = d.scan_and_approve();
    let approval = d.out("broken-approval.json");
    std::fs::write(&approval, "{\"report_id\": 7}").unwrap();
    let out = run(&["verify", "--report", path_str(&report), "--approval", path_str(&approval)]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("broken-approval.json") && stderr(&out).contains("invalid type"),
        "{}",
        stderr(&out)
    );
    let out = execute(&report, &approval, &[]);
    check_refused(&d, &before, &out, 1, &["broken-approval.json"], "broken approval");
}

#[test]
fn a_full_disk_during_a_move_loses_nothing_and_a_later_run_finishes() {
    // The quarantine is on another file system (tmpfs), so the move is a copy. A file
    // size limit (RLIMIT_FSIZE, with SIGXFSZ ignored) makes the copy fail part way
    // like a full disk would.
    let Some(elsewhere) = crate::util::other_fs() else { return };
    if !std::path::Path::new("/usr/bin/prlimit").exists() {
        return;
    }
    let d = Dir::new();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    d.file("big.tmp", &big).file("small.tmp", "x");
    let (report, approval) = d.scan_and_approve();
    let args = execute_args(&report, &approval, &["--quarantine", path_str(elsewhere.path())]);
    let limited = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; exec /usr/bin/prlimit --fsize=100000 "$@""#)
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_storage-approval"))
        .args(&args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(limited.status.code(), Some(3), "{}\n{}", stdout(&limited), stderr(&limited));
    let text = stdout(&limited);
    assert!(
        text.lines().any(|l| l.starts_with("failed")
            && l.contains("big.tmp")
            && l.contains("original is untouched")),
        "{text}"
    );
    assert_eq!(std::fs::read(d.root().join("big.tmp")).unwrap(), big, "the original is intact");
    assert!(!d.root().join("small.tmp").exists(), "the other action went through");
    let partials = snapshot(elsewhere.path(), Some(".storage-approval-quarantine"));
    assert!(
        partials.keys().all(|k| !k.contains(".storage-approval-partial.")),
        "no partial copy left: {partials:?}"
    );
    // With room again, the failed action is tried again and nothing else repeats.
    let again = run(&args);
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert!(stdout(&again).contains("1 done, 1 already done"), "{}", stdout(&again));
    assert!(!d.root().join("big.tmp").exists());
    check_audit_verifies(&d.audit_log());
}

#[test]
fn a_root_swapped_for_a_symlink_is_refused() {
    let d = tree();
    let (report, approval) = d.scan_and_approve();
    let root = d.root();
    let decoy = d.out("decoy");
    std::fs::rename(&root, d.out("real")).unwrap();
    std::fs::create_dir(&decoy).unwrap();
    std::fs::write(decoy.join("c.tmp"), "junk").unwrap();
    std::os::unix::fs::symlink(&decoy, &root).unwrap();
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("symlink on the way"), "{}", stderr(&out));
    assert!(decoy.join("c.tmp").exists());
}

#[test]
fn a_quarantine_folder_swapped_for_a_symlink_is_refused() {
    // ROOT/.tidy-quarantine pointing out of ROOT would carry the quarantined files
    // (and the audit log) there.
    let d = tree();
    let (report, approval) = d.scan_and_approve();
    let q = d.root().join(".tidy-quarantine");
    if q.exists() {
        std::fs::remove_dir_all(&q).unwrap();
    }
    let elsewhere = d.out("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &q).unwrap();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("is a symlink, not a directory"), "{}", stderr(&out));
    assert_eq!(before, snapshot(&d.root(), Some(".tidy-quarantine")));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing went through the link");
}

#[test]
fn undo_into_a_root_swapped_for_a_symlink_restores_nothing() {
    let d = tree();
    let (report, approval) = d.scan_and_approve();
    assert_eq!(execute(&report, &approval, &[]).status.code(), Some(0));
    let root = d.root();
    let moved = d.out("real");
    std::fs::rename(&root, &moved).unwrap();
    let decoy = d.out("decoy");
    std::fs::create_dir(&decoy).unwrap();
    std::os::unix::fs::symlink(&decoy, &root).unwrap();
    let out = run(&[
        "undo",
        "--audit-log",
        path_str(&moved.join(".tidy-quarantine/audit.jsonl")),
        "--execute",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("symlink on the way"), "{}", stdout(&out));
    assert_eq!(std::fs::read_dir(&decoy).unwrap().count(), 0, "nothing restored through the link");
}

#[test]
fn hard_linked_junk_goes_in_one_run() {
    // Moving one name of an inode into the quarantine moves its ctime, which the
    // last look before acting on the other name must not take for a rewrite.
    let d = Dir::new();
    d.file("a.tmp", "shared junk");
    std::fs::hard_link(d.root().join("a.tmp"), d.root().join("b.tmp")).unwrap();
    let (report, approval) = d.scan_and_approve();
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(!d.root().join("a.tmp").exists() && !d.root().join("b.tmp").exists());
}
