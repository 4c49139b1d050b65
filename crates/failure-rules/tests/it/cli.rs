//! The `failure-rules` binary: reports (insta snapshots), `normalize` and `match`
//! output, bad input and exit codes. Each test gets a fresh directory.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;

/// A fresh directory and a command for the binary running in it, with its own lock
/// directory and no colours.
fn setup() -> (tempfile::TempDir, impl Fn() -> Command) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let command = move || {
        let mut c = Command::cargo_bin("failure-rules").expect("the failure-rules binary is built");
        // A fixed width keeps wrapped help text the same on every terminal.
        c.current_dir(&root)
            .env("MULTILOCK_DIR", root.join(".multilock"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100");
        c
    };
    (dir, command)
}

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn record(error_type: &str, message: &str, run: &str) -> String {
    serde_json::json!({"error_type": error_type, "message": message, "run_id": run, "timestamp": "2026-11-24T10:00:00Z"})
        .to_string()
}

/// A small set of records in the default location.
fn fixture(root: &Path) {
    let records = [
        ("TimeoutError", "lock 'queue' not acquired after 30s (holder pid 4121)", "run-a"),
        ("TimeoutError", "lock 'queue' not acquired after 12s (holder pid 977)", "run-b"),
        ("sqlite3.OperationalError", "database is locked", "run-a"),
        ("ValueError", "invalid phase id phase_17_ab: expected a registered phase", "run-a"),
        ("ValueError", "invalid phase id phase_3_ff: expected a registered phase", "run-b"),
        ("KeyError", "'run_id'", "run-b"),
    ];
    for (i, (t, m, run)) in records.iter().enumerate() {
        write(root, &format!(".autonomous_runs/{run}/errors/e{i}.json"), record(t, m, run));
    }
}

fn stdout(c: &mut Command) -> (i32, String, String) {
    let out = c.output().expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn analyze_reports() {
    let (dir, fr) = setup();
    fixture(dir.path());
    let (code, human, _) = stdout(fr().arg("analyze"));
    assert_eq!(code, 0);
    insta::assert_snapshot!("analyze_human", human);
    let (_, markdown, _) = stdout(fr().args(["analyze", "--format", "markdown"]));
    insta::assert_snapshot!("analyze_markdown", markdown);
    let (_, json, _) = stdout(fr().args(["analyze", "--format", "json", "--max", "2"]));
    insta::assert_snapshot!("analyze_json", json);
    assert!(
        !dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json").exists(),
        "a dry run writes nothing"
    );
}

#[test]
fn execute_writes_rules_and_is_idempotent() {
    let (dir, fr) = setup();
    fixture(dir.path());
    let (code, out, _) =
        stdout(fr().args(["analyze", "--execute", "--output-report", "reports/top.md"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("docs/LEARNED_ERROR_MITIGATIONS.json: 2 added, 2 updated, 0 unchanged"),
        "{out}"
    );
    assert!(dir.path().join("reports/top.md").is_file());
    let rules_file = dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json");
    let first = std::fs::read_to_string(&rules_file).expect("rules file");
    insta::with_settings!({filters => vec![(r#""created_at": "20[0-9T:.Z-]+""#, r#""created_at": "[now]""#)]}, {
        insta::assert_snapshot!("rules_file", first.replace("2026-01-03T00:00:00Z", "[bootstrap]"));
    });
    let (code, out, _) = stdout(fr().args(["analyze", "--execute"]));
    assert_eq!(code, 0);
    assert!(out.contains("0 added, 0 updated, 4 unchanged"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&rules_file).expect("rules file"),
        first,
        "the second run changes nothing"
    );
}

#[test]
fn new_runs_update_frequency_and_evidence() {
    let (dir, fr) = setup();
    fixture(dir.path());
    assert_eq!(stdout(fr().args(["analyze", "--execute"])).0, 0);
    write(
        dir.path(),
        ".autonomous_runs/run-c/errors/x.json",
        record("KeyError", "'run_id'", "run-c"),
    );
    let (_, out, _) = stdout(fr().args(["analyze", "--execute", "--format", "json"]));
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json["applied"]["updated"], 1, "{out}");
    let rules: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json")).expect("read"),
    )
    .expect("json");
    let key_error = rules["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["signature"] == "KeyError: 'run_id'");
    let key_error = key_error.expect("the KeyError rule");
    assert_eq!(key_error["frequency"], 2);
    assert_eq!(key_error["evidence"], serde_json::json!(["run-b", "run-c"]));
}

#[test]
fn normalize_prints_one_line_per_input_line_in_order() {
    let (_dir, fr) = setup();
    let input = "ValueError: bad id 42\nlogin for alice refused from 10.0.0.1\n\nlogin for bob refused from 10.0.0.2\nlogin for carol refused from 10.0.0.3\n";
    let out = fr().args(["normalize", "--format", "jsonl"]).write_stdin_and_wait(input);
    insta::assert_snapshot!("normalize_jsonl", out);
    let out = fr().args(["normalize", "--mine", "--format", "tsv"]).write_stdin_and_wait(input);
    insta::assert_snapshot!("normalize_mine_tsv", out);
    let out =
        fr().args(["normalize", "--type", "OSError"]).write_stdin_and_wait("disk /dev/sda1 full\n");
    assert!(out.ends_with("\tOSError: disk <PATH> full\n"), "{out}");
}

#[test]
fn mining_from_a_file_reads_twice_and_prints_the_same() {
    let (dir, fr) = setup();
    let lines: String = (0..50)
        .map(|i| {
            format!(
                "job {i} for {} failed on node-{i}\nlogin for {} refused\n",
                ["ann", "ben", "cy"][i % 3],
                ["ann", "ben", "cy"][i % 3]
            )
        })
        .collect();
    write(dir.path(), "in.log", &lines);
    let piped =
        fr().args(["normalize", "--mine", "--format", "jsonl"]).write_stdin_and_wait(&lines);
    let out = fr()
        .args(["normalize", "--mine", "--format", "jsonl"])
        .stdin(std::fs::File::open(dir.path().join("in.log")).expect("open"))
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).expect("utf-8"), piped);
    // Three names beside no mask are three events (it takes ten words to be a
    // variable); beside a mask (`node-<*>`) the lines agree on, still three.
    assert!(piped.contains(r#""line":100,"signature":"login for ben refused""#), "{piped}");
}

#[test]
fn normalize_accepts_invalid_utf8() {
    let (_dir, fr) = setup();
    let out = fr().arg("normalize").write_stdin_and_wait(b"bad \xff\xfe byte 7\n".as_slice());
    assert!(out.ends_with("\tbad \u{fffd}\u{fffd} byte <NUM>\n"), "{out}");
}

#[test]
fn match_finds_the_rule_or_exits_1() {
    let (_dir, fr) = setup();
    let (code, out, _) = stdout(fr().args([
        "match",
        "--type",
        "sqlite3.OperationalError",
        "--message",
        "database is locked",
    ]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("match_human", out);
    let (code, out, err) =
        stdout(fr().args(["match", "--type", "KeyError", "--message", "'x'", "--format", "json"]));
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("\"rule\": null"), "{out}");
}

#[test]
fn malformed_inputs_are_reported_and_skipped() {
    let (dir, fr) = setup();
    fixture(dir.path());
    let errors = ".autonomous_runs/run-x/errors";
    write(dir.path(), &format!("{errors}/broken.json"), "{\"error_type\": \"X\", ");
    write(dir.path(), &format!("{errors}/no-message.json"), "{\"error_type\": \"X\"}");
    write(
        dir.path(),
        &format!("{errors}/not-utf8.json"),
        b"{\"error_type\": \"X\", \"message\": \"\xff\"}",
    );
    let huge = format!("disk full {}", "x".repeat(10 * 1024 * 1024));
    write(dir.path(), &format!("{errors}/huge.json"), record("OSError", &huge, "run-x"));
    let (code, out, err) = stdout(fr().arg("analyze"));
    assert_eq!(code, 2, "skipped inputs make exit code 2: {err}");
    assert!(out.contains("7 records from 10 files"), "the rest is analysed: {out}");
    insta::assert_snapshot!("malformed_stderr", err);
}

#[test]
fn corrupt_or_newer_rules_files_are_never_overwritten() {
    let (dir, fr) = setup();
    fixture(dir.path());
    for (content, expected) in [
        ("{\"rules\": [", "docs/LEARNED_ERROR_MITIGATIONS.json is corrupt: not valid JSON"),
        ("{\"version\": 9, \"rules\": []}", "has schema version 9, newer than 1"),
        (
            "{\"rules\": [{\"id\": 3}]}",
            "docs/LEARNED_ERROR_MITIGATIONS.json is corrupt: invalid type",
        ),
    ] {
        write(dir.path(), "docs/LEARNED_ERROR_MITIGATIONS.json", content);
        let (code, _, err) = stdout(fr().args(["analyze", "--execute"]));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "{err}");
        let after = std::fs::read_to_string(dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json"))
            .expect("read");
        assert_eq!(after, content, "left untouched");
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let (_dir, fr) = setup();
    let (code, _, err) = stdout(fr().args(["analyze", "--max", "many"]));
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = stdout(fr().arg("--help"));
    assert_eq!(code, 0);
    insta::assert_snapshot!("help", out);
    for command in ["analyze", "normalize", "match"] {
        let (code, out, _) = stdout(fr().args([command, "--help"]));
        assert_eq!(code, 0);
        assert!(out.contains("Examples:"), "{command} --help: {out}");
    }
}

#[test]
fn stdin_records_and_report_format_by_extension() {
    let (dir, fr) = setup();
    let input = format!(
        "{}\n{}\n",
        record("TimeoutError", "read timed out after 3s", "r1"),
        record("TimeoutError", "read timed out after 9s", "r2")
    );
    let out = fr()
        .args(["analyze", "-", "--output-report", "out/report.json", "--format", "markdown"])
        .write_stdin_and_wait(input);
    assert!(out.starts_with("# Top failures"), "{out}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["summary"]["records"], 2);
    assert_eq!(report["proposals"][0]["signature"], "TimeoutError: read timed out after <DUR>");
    assert_eq!(report["proposals"][0]["rule_signature"], "TimeoutError: <*>");
}

#[test]
fn absolute_glob_patterns() {
    let (dir, fr) = setup();
    fixture(dir.path());
    let pattern = format!("{}/.autonomous_runs/*/errors/*.json", dir.path().display());
    let (code, out, err) = stdout(fr().args(["analyze", &pattern]));
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("6 records from 6 files"), "{out}");
}

#[test]
fn one_bad_line_of_stdin_is_skipped_alone() {
    let (_dir, fr) = setup();
    let input = format!(
        "{}\n{{\"type\": \"Trunc\n{}\n",
        record("AError", "first", "r"),
        record("BError", "second", "r")
    );
    let out = fr().args(["analyze", "-", "--format", "json"]).write_stdin_and_wait_any(input);
    assert_eq!(out.0, 2, "a skipped line makes exit code 2: {}", out.2);
    let report: serde_json::Value = serde_json::from_str(&out.1).expect("JSON report");
    assert_eq!(report["summary"]["records"], 2, "{}", out.1);
    assert_eq!(report["skipped"][0]["source"], "<stdin>:2", "{}", out.1);
}

#[test]
fn empty_stdin_is_no_records() {
    let (_dir, fr) = setup();
    let out = fr().args(["analyze", "-"]).write_stdin_and_wait_any("\n");
    assert_eq!(out.0, 0, "{}", out.2);
    assert!(out.1.starts_with("0 records from 0 files, 0 groups, 0 skipped"), "{}", out.1);
}

#[test]
fn since_days_keeps_recent_records() {
    let (dir, fr) = setup();
    let old = serde_json::json!({"type": "OldError", "message": "gone", "timestamp": "2001-01-01T00:00:00Z"});
    // Relative to now: a fixed date would fall out of the window one day.
    let yesterday = (time::OffsetDateTime::now_utc() - time::Duration::days(1))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format a time");
    let new = serde_json::json!({"type": "NewError", "message": "fresh", "timestamp": yesterday});
    write(dir.path(), "in.jsonl", format!("{old}\n{new}\n"));
    let (_, out, _) = stdout(fr().args(["analyze", "in.jsonl", "--since-days", "30"]));
    assert!(out.contains("NewError") && !out.contains("OldError"), "{out}");
}

/// `Command` plus stdin, returning stdout.
trait WriteStdin {
    fn write_stdin_and_wait(&mut self, input: impl AsRef<[u8]>) -> String;
    /// Exit code, stdout and stderr, whatever the exit code.
    fn write_stdin_and_wait_any(&mut self, input: impl AsRef<[u8]>) -> (i32, String, String);
}

impl WriteStdin for Command {
    fn write_stdin_and_wait(&mut self, input: impl AsRef<[u8]>) -> String {
        use std::io::Write as _;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_ref()).expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    fn write_stdin_and_wait_any(&mut self, input: impl AsRef<[u8]>) -> (i32, String, String) {
        use std::io::Write as _;
        let mut child = self
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child.stdin.take().expect("stdin").write_all(input.as_ref()).expect("write stdin");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn the_common_flags_quiet_warnings_say_more_and_accept_text_for_human() {
    let (dir, failure_rules) = setup();
    fixture(dir.path());
    write(dir.path(), ".autonomous_runs/run-x/errors/broken.json", "{");
    let out = failure_rules().args(["analyze", "--format", "text"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("failure-rules: warning: skipped "), "{stderr}");
    let quiet = failure_rules().args(["-q", "analyze", "--format", "human"]).output().unwrap();
    assert_eq!(quiet.status.code(), out.status.code(), "-q changes no exit code");
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "", "-q leaves only errors");
    assert_eq!(quiet.stdout, out.stdout, "text and human are one format");
    let verbose = failure_rules().args(["-v", "analyze"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&verbose.stderr).into_owned();
    assert!(
        stderr.contains("failure-rules: read ") && stderr.contains(" records from "),
        "{stderr}"
    );
}
