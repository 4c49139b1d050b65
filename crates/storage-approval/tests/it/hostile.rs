//! Hostile files where the tool reads and writes its own: a FIFO, a device or a
//! symlink as the audit log, report, approval, policy, hash cache or an output path;
//! `-` as an output; the umask; and a reader that goes away (`| head`). Every run
//! that could hang has a timeout, so a hang fails the test instead of the suite.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::util::{Dir, audit_entries, check_audit_verifies, path_str, snapshot, stderr};

/// Runs the binary with `args` (in `cwd`), killed after 10 s: a run that hangs
/// ends with no exit code and fails the caller's assertion on it.
fn run_timed(cwd: &Path, args: &[&str]) -> Output {
    let mut command = crate::util::command();
    command.current_dir(cwd).args(args);
    assert_cmd::Command::from_std(command)
        .timeout(Duration::from_secs(10))
        .output()
        .expect("the binary runs")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

fn is_symlink_to(path: &Path, target: &Path) -> bool {
    std::fs::read_link(path).is_ok_and(|t| t == target)
}

/// Checks a run that must be an error (exit `code`) whose message names `file`
/// and holds `what`; `case` names the run in failure messages.
fn check_error(out: &Output, code: i32, file: &Path, what: &str, case: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{case}: exit (none: killed, it hung): {err}");
    assert!(err.contains(path_str(file)), "{case}: the message names {}: {err}", file.display());
    assert!(err.contains(what), "{case}: no `{what}` in: {err}");
    assert!(!err.contains("panicked"), "{case}: {err}");
}

/// A tree with two junk files and a duplicate, scanned and approved.
fn approved() -> (Dir, PathBuf, PathBuf) {
    let d = Dir::new();
    d.file("a.tmp", "junk a").file("b.tmp", "junk b").file("x", "dup").file("y/x", "dup");
    let (report, approval) = d.scan_and_approve();
    (d, report, approval)
}

fn tree(d: &Dir) -> BTreeMap<String, String> {
    snapshot(&d.root(), Some(".tidy-quarantine"))
}

/// Runs every command that opens the audit log `log` (already made hostile) and
/// checks each is an error at once naming it and holding `what`, with nothing moved
/// and `log` as it was (`intact`).
fn check_audit_log_refused(
    d: &Dir,
    (report, approval): (&Path, &Path),
    log: &Path,
    what: &str,
    intact: &dyn Fn() -> bool,
) {
    let before = tree(d);
    let (r, a, l) = (path_str(report), path_str(approval), path_str(log));
    let execute = ["execute", "--report", r, "--approval", a];
    // The default log is ROOT/.tidy-quarantine/audit.jsonl; another is named.
    let named: &[&str] = if log == d.audit_log() { &[] } else { &["--audit-log", l] };
    let runs: [(&str, Vec<&str>); 5] = [
        ("execute dry run", [&execute[..], named].concat()),
        ("execute --execute", [&execute[..], named, &["--execute"]].concat()),
        ("audit verify", vec!["audit", "verify", l]),
        ("undo dry run", vec!["undo", "--audit-log", l]),
        ("undo --execute", vec!["undo", "--audit-log", l, "--execute"]),
    ];
    for (case, args) in runs {
        let out = run_timed(d.path(), &args);
        check_error(&out, 2, log, what, case);
        assert_eq!(before, tree(d), "{case}: nothing moved");
        assert!(intact(), "{case}: {} is left as it was", log.display());
    }
}

#[test]
fn a_fifo_as_the_audit_log_is_an_error_at_once_and_nothing_moves() {
    let (d, report, approval) = approved();
    for log in [d.audit_log(), d.out("named-log")] {
        mkfifo(&log);
        check_audit_log_refused(&d, (&report, &approval), &log, "FIFO", &|| is_fifo(&log));
    }
}

#[test]
fn a_symlink_as_the_audit_log_is_refused_and_its_target_left_alone() {
    let (d, report, approval) = approved();
    let elsewhere = d.out("elsewhere.jsonl");
    std::fs::write(&elsewhere, "").unwrap();
    for log in [d.audit_log(), d.out("named-log")] {
        std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
        let intact =
            || is_symlink_to(&log, &elsewhere) && std::fs::read(&elsewhere).unwrap() == b"";
        check_audit_log_refused(&d, (&report, &approval), &log, "symbolic link", &intact);
    }
}

#[test]
fn a_fifo_or_a_device_as_report_approval_or_policy_is_refused_at_once() {
    let (d, report, approval) = approved();
    let fifo = d.out("fifo.json");
    mkfifo(&fifo);
    let zero = d.out("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let before = tree(&d);
    let (r, a) = (path_str(&report), path_str(&approval));
    let out_path = d.out("approval-out.json");
    for (bad, what) in [(&fifo, "FIFO"), (&zero, "character device")] {
        let b = path_str(bad);
        let approve = ["approve", b, "--operator", "ana", "--out", path_str(&out_path)];
        // In `execute`, an approval that cannot be read is a refusal (exit 1), as a
        // missing one is; every other unreadable input is an input error (exit 2).
        let runs: [(&str, Vec<&str>, i32); 6] = [
            ("approve REPORT", approve.to_vec(), 2),
            ("report-id REPORT", vec!["report-id", b], 2),
            ("execute --report", vec!["execute", "--report", b, "--approval", a, "--execute"], 2),
            ("execute --approval", vec!["execute", "--report", r, "--approval", b, "--execute"], 1),
            ("verify --approval", vec!["verify", "--report", r, "--approval", b], 2),
            ("scan --policy", vec!["scan", ".", "--policy", b, "--report-out", "-"], 2),
        ];
        for (case, args, code) in runs {
            let out = run_timed(&d.root(), &args);
            check_error(&out, code, bad, what, &format!("{case} {what}"));
        }
        assert_eq!(before, tree(&d), "{what}: nothing moved");
        assert!(!out_path.exists(), "{what}: no approval written");
    }
    assert!(is_fifo(&fifo) && is_symlink_to(&zero, Path::new("/dev/zero")));
}

#[test]
fn a_fifo_or_a_symlink_as_the_hash_cache_is_a_warning_never_read_or_replaced() {
    let elsewhere_dir = tempfile::tempdir().unwrap();
    let elsewhere = elsewhere_dir.path().join("outside-cache");
    std::fs::write(&elsewhere, "precious\n").unwrap();
    for (case, what) in [("FIFO", "FIFO"), ("symlink", "symbolic link")] {
        let d = Dir::new();
        d.file("x", "dup").file("y/x", "dup");
        let cache = d.root().join(".tidy-quarantine/hash-cache.v1");
        std::fs::create_dir(cache.parent().unwrap()).unwrap();
        match case {
            "FIFO" => mkfifo(&cache),
            _ => std::os::unix::fs::symlink(&elsewhere, &cache).unwrap(),
        }
        let report = d.out("report.json");
        let root = d.root();
        // A cache it cannot use only slows the scan down: a warning, exit 0.
        let out =
            run_timed(d.path(), &["scan", path_str(&root), "--report-out", path_str(&report)]);
        check_error(&out, 0, &cache, what, case);
        assert!(stderr(&out).contains("storage-approval: warning: "), "{case}: {}", stderr(&out));
        assert!(std::fs::read_to_string(&report).unwrap().contains("\"y/x\""), "{case}");
        let intact = is_fifo(&cache) || is_symlink_to(&cache, &elsewhere);
        assert!(intact, "{case}: the cache's place is left as it was");
    }
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "precious\n", "never written");
}

#[test]
fn dash_is_standard_output_for_every_output_flag() {
    let d = Dir::new();
    d.file("a.tmp", "junk");
    let root = path_str(&d.root()).to_owned();
    let scan = run_timed(d.path(), &["scan", &root, "--report-out", "-"]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    // Standard output is the report alone; the summary went to standard error.
    let report: serde_json::Value = serde_json::from_slice(&scan.stdout).expect("a JSON report");
    assert_eq!(report["actions"][0]["src"], "a.tmp");
    assert!(stderr(&scan).contains("report id: "), "{}", stderr(&scan));
    let report_path = d.out("report.json");
    std::fs::write(&report_path, &scan.stdout).unwrap();
    let r = path_str(&report_path);
    let runs =
        [vec!["approve", r, "--operator", "ana", "--out", "-"], vec!["template", r, "--out", "-"]];
    for args in runs {
        let out = run_timed(d.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        let approval: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(approval["report_id"].as_str().map(str::len), Some(64), "{args:?}");
    }
    for dir in [d.path(), &d.root()] {
        assert!(!dir.join("-").exists(), "no file named `-` in {}", dir.display());
    }
}

#[test]
fn dev_stdout_a_fifo_and_a_link_to_a_device_as_output_are_refused_never_replaced() {
    let (d, report, _) = approved();
    let root = path_str(&d.root()).to_owned();
    let fifo = d.out("out-fifo");
    mkfifo(&fifo);
    let null_link = d.out("to-null");
    std::os::unix::fs::symlink("/dev/null", &null_link).unwrap();
    let stdout_before = std::fs::symlink_metadata("/dev/stdout").ok();
    let stdout_link = std::fs::read_link("/dev/stdout").ok();
    let r = path_str(&report);
    for (bad, what) in [(&fifo, "FIFO"), (&null_link, "character device")] {
        let b = path_str(bad);
        let runs = [
            vec!["scan", root.as_str(), "--report-out", b],
            vec!["approve", r, "--operator", "ana", "--out", b],
            vec!["template", r, "--out", b],
        ];
        for args in runs {
            let out = run_timed(d.path(), &args);
            check_error(&out, 2, bad, what, &format!("{} {what}", args[0]));
        }
    }
    assert!(is_fifo(&fifo), "the FIFO stays");
    assert!(is_symlink_to(&null_link, Path::new("/dev/null")), "the link stays");
    // As root, `--report-out /dev/stdout` once replaced the /dev/stdout symlink.
    let out = run_timed(d.path(), &["scan", &root, "--report-out", "/dev/stdout"]);
    check_error(&out, 2, Path::new("/dev/stdout"), "not", "scan --report-out /dev/stdout");
    let stdout_after = std::fs::symlink_metadata("/dev/stdout").ok();
    assert_eq!(
        stdout_before.map(|m| m.file_type().is_symlink()),
        stdout_after.map(|m| m.file_type().is_symlink()),
        "/dev/stdout keeps its type"
    );
    assert_eq!(stdout_link, std::fs::read_link("/dev/stdout").ok(), "/dev/stdout keeps its target");
}

#[test]
fn new_reports_and_approvals_follow_the_umask() {
    let d = Dir::new();
    d.file("a.tmp", "junk");
    let report = d.out("report.json");
    let approval = d.out("approval.json");
    let under_umask = |args: &[&str]| {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"umask 027; exec "$0" "$@""#)
            .arg(env!("CARGO_BIN_EXE_storage-approval"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    };
    under_umask(&["scan", path_str(&d.root()), "--report-out", path_str(&report)]);
    under_umask(&["approve", path_str(&report), "--operator", "ana", "--out", path_str(&approval)]);
    for file in [&report, &approval] {
        let mode = std::fs::metadata(file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{}: {mode:o}", file.display());
    }
}

/// Whether a run's standard error shows a panic or a broken-pipe complaint.
fn complains(err: &str) -> bool {
    err.contains("panicked") || err.contains("Broken pipe") || err.contains("failed printing")
}

/// Runs `args` with a standard output whose reader is already gone: every write to
/// it fails with EPIPE, whatever the timing. Returns the exit code and stderr.
fn run_with_closed_stdout(cwd: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = crate::util::command()
        .current_dir(cwd)
        .args(args)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (out.status.code(), stderr(&out))
}

/// `count` junk files below `junk/`, scanned and approved.
fn approved_junk(count: usize) -> (Dir, PathBuf, PathBuf) {
    let d = Dir::new();
    for i in 0..count {
        d.file(&format!("junk/with-a-long-enough-name-{i:04}.tmp"), format!("junk {i}"));
    }
    let (report, approval) = d.scan_and_approve();
    (d, report, approval)
}

#[test]
fn every_command_that_prints_ends_quietly_on_a_closed_pipe() {
    let (d, report, approval) = approved_junk(20);
    let (r, a, l) = (path_str(&report), path_str(&approval), d.audit_log());
    let l = path_str(&l);
    let root = path_str(&d.root()).to_owned();
    let scan_out = path_str(&d.out("again.json")).to_owned();
    let runs: [Vec<&str>; 12] = [
        vec!["scan", &root, "--report-out", &scan_out],
        vec!["scan", &root, "--report-out", "-", "--no-cache"],
        vec!["policy"],
        vec!["report-id", r],
        vec!["template", r],
        vec!["approve", r, "--operator", "ana"],
        vec!["verify", "--report", r, "--approval", a],
        vec!["execute", "--report", r, "--approval", a],
        vec!["execute", "--report", r, "--approval", a, "--execute"],
        vec!["audit", "verify", l],
        vec!["undo", "--audit-log", l],
        vec!["undo", "--audit-log", l, "--execute"],
    ];
    for args in runs {
        for format in ["text", "json"] {
            let args = [&args[..], &["--format", format]].concat();
            let (got, err) = run_with_closed_stdout(d.path(), &args);
            assert_eq!(got, Some(0), "{args:?}: {err}");
            assert!(!complains(&err), "{args:?}: {err}");
        }
    }
    // The closed pipe stopped the printing, not the work: everything went and came
    // back, and the log of it all verifies.
    check_audit_verifies(&d.audit_log());
    let entries = audit_entries(&d.audit_log());
    assert!(entries.iter().any(|e| e["action"] == "restore" && e["phase"] == "done"));
    assert!(d.root().join("junk/with-a-long-enough-name-0000.tmp").exists());
}

#[test]
fn head_one_of_a_long_execute_listing_ends_quietly() {
    // Enough lines to overflow the pipe's buffer, so the writes after `head` has
    // gone meet a closed pipe.
    let (d, report, approval) = approved_junk(2000);
    let (r, a) = (path_str(&report), path_str(&approval));
    for args in [
        vec!["execute", "--report", r, "--approval", a],
        vec!["execute", "--report", r, "--approval", a, "--execute"],
        vec!["undo", "--audit-log", path_str(&d.audit_log())],
    ] {
        let mut child = crate::util::command()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        let mut reader = std::io::BufReader::new(child.stdout.take().unwrap());
        reader.read_line(&mut first).unwrap();
        drop(reader);
        let out = child.wait_with_output().unwrap();
        assert!(!first.is_empty(), "{args:?}: a first line");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!complains(&stderr(&out)), "{args:?}: {}", stderr(&out));
    }
    assert!(!d.root().join("junk").exists(), "the real run did all its work");
    check_audit_verifies(&d.audit_log());
}

#[test]
fn names_with_control_characters_cannot_forge_lines_of_human_output() {
    use std::os::unix::ffi::OsStrExt as _;
    let d = Dir::new();
    // A junk file whose name would print a fake line, one with a bell and a colour
    // escape, and a duplicate pair with a backslash in a name.
    let forged = "evil\ndone         delete  not-really.tmp";
    d.file(&format!("{forged}.tmp"), "junk 1")
        .file("bell\u{7}\u{1b}[31mred.tmp", "junk 2")
        .file("a\\b", "same")
        .file("c", "same");
    // A name that is not UTF-8 (and holds a newline): skipped, with a warning.
    let odd = std::ffi::OsStr::from_bytes(b"odd\xff\nname.tmp");
    std::fs::write(d.root().join(odd), "junk 3").unwrap();
    let report = d.out("report.json");
    let scan =
        run_timed(d.path(), &["scan", path_str(&d.root()), "--report-out", path_str(&report)]);
    assert_eq!(scan.status.code(), Some(0), "{}", stderr(&scan));
    let text = crate::util::stdout(&scan);
    assert!(text.lines().next().unwrap().ends_with(", 1 warning"), "{text}");
    let err = stderr(&scan);
    assert_eq!(err.lines().count(), 1, "one warning, on one line: {err}");
    assert!(err.contains("odd\u{fffd}\\nname.tmp"), "{err}");

    let approval = d.out("approval.json");
    let approve = ["approve", path_str(&report), "--operator", "ana", "--out", path_str(&approval)];
    assert_eq!(run_timed(d.path(), &approve).status.code(), Some(0));
    let (r, a) = (path_str(&report), path_str(&approval));
    let execute = run_timed(d.path(), &["execute", "--report", r, "--approval", a, "--execute"]);
    assert_eq!(execute.status.code(), Some(0), "{}", stderr(&execute));
    let text = crate::util::stdout(&execute);
    let actions: Vec<&str> = text.lines().filter(|l| l.starts_with("done ")).collect();
    assert_eq!(actions.len(), 3, "one line per action:\n{text}");
    assert!(text.contains(" evil\\ndone         delete  not-really.tmp.tmp -> "), "{text}");
    assert!(text.contains(" bell\\a\\033[31mred.tmp -> "), "{text}");
    assert!(text.contains(" a\\\\b -> ") || text.contains(", keep a\\\\b "), "{text}");
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'), "{text:?}");

    // JSON keeps every name exact.
    let undo = run_timed(
        d.path(),
        &["--format", "json", "undo", "--audit-log", path_str(&d.audit_log()), "--execute"],
    );
    assert_eq!(undo.status.code(), Some(0), "{}", stderr(&undo));
    let v: serde_json::Value = serde_json::from_slice(&undo.stdout).unwrap();
    let srcs: Vec<&str> =
        v["outcomes"].as_array().unwrap().iter().map(|o| o["src"].as_str().unwrap()).collect();
    assert!(srcs.contains(&format!("{forged}.tmp").as_str()), "{srcs:?}");
    assert!(srcs.contains(&"bell\u{7}\u{1b}[31mred.tmp"), "{srcs:?}");
    assert!(d.root().join(format!("{forged}.tmp")).is_file(), "undo put it back");
}
