//! The small findings of issue 13, one test each: streaming output, evidence keys
//! from content, the repository root for defaults, an empty default glob, `.jsonl`
//! in the default glob, `match` without `--type` and with a traceback.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use assert_cmd::cargo::CommandCargoExt as _;

fn fr(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("failure-rules").expect("the failure-rules binary is built");
    c.current_dir(dir).env("MULTILOCK_DIR", dir.join(".multilock")).env("NO_COLOR", "1");
    c
}

fn run(c: &mut Command, stdin: &str) -> (i32, String, String) {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("failure-rules runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("exits");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// `tail -f app.log | failure-rules normalize`: each line's result comes out while
/// stdin is still open, both when the output is flushed because input is idle and
/// with `--line-buffered`.
#[test]
fn normalize_streams_while_input_is_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["normalize"][..], &["normalize", "--line-buffered", "--format", "jsonl"]] {
        let mut child = fr(dir.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("runs");
        let mut stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if send.send(line.expect("utf-8")).is_err() {
                    break;
                }
            }
        });
        for n in 1..=2 {
            stdin.write_all(format!("ValueError: bad id {n}\n").as_bytes()).expect("write");
            stdin.flush().expect("flush");
            // A generous bound on a wait for output that must come without more input;
            // without streaming it would never come while stdin stays open.
            let line =
                lines.recv_timeout(Duration::from_secs(30)).expect("a result line before EOF");
            assert!(line.contains("ValueError: bad id <NUM>"), "{line}");
        }
        drop(stdin);
        reader.join().expect("reader");
        assert!(child.wait().expect("exits").success());
    }
}

/// Records without `run_id` from stdin: analysing the same input again, shifted by a
/// blank line, adds no evidence and no frequency.
#[test]
fn evidence_keys_come_from_content_not_line_numbers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let records = "{\"type\":\"ValueError\",\"message\":\"bad id 1\"}\n{\"type\":\"ValueError\",\"message\":\"bad id 2\"}\n";
    let (code, out, err) = run(fr(dir.path()).args(["analyze", "-", "--execute"]), records);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 added"), "{out}");
    let shifted = format!("\n{records}");
    let (code, out, err) = run(fr(dir.path()).args(["analyze", "-", "--execute"]), &shifted);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 added, 0 updated, 1 unchanged"), "{out}");
    let text = std::fs::read_to_string(dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json"))
        .expect("rules file");
    let rules: serde_json::Value = serde_json::from_str(&text).expect("json");
    let rule = rules["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["signature"] == "ValueError: bad id <NUM>")
        .expect("the rule");
    assert_eq!(rule["frequency"], 2);
    let evidence = rule["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 2);
    assert!(evidence.iter().all(|e| e.as_str().is_some_and(|e| e.starts_with("<stdin>#"))));
}

/// From a subdirectory, the default rules file and inputs are the repository's, as
/// the lock directory is.
#[test]
fn defaults_resolve_against_the_repository_root() {
    let dir = tempfile::tempdir().expect("temp dir");
    let repo = dir.path();
    std::fs::create_dir_all(repo.join(".git")).expect("mkdir .git");
    std::fs::create_dir_all(repo.join("src/deep")).expect("mkdir");
    write(
        repo,
        ".autonomous_runs/run-1/errors/a.json",
        r#"{"type":"KeyError","message":"'x'","run_id":"run-1"}"#,
    );
    // A .jsonl file in the default location is read too.
    write(
        repo,
        ".autonomous_runs/run-2/errors/more.jsonl",
        "{\"type\":\"KeyError\",\"message\":\"'x'\",\"run_id\":\"run-2\"}\n",
    );
    let mut c = Command::cargo_bin("failure-rules").expect("built");
    c.current_dir(repo.join("src/deep")).env_remove("MULTILOCK_DIR").env("NO_COLOR", "1");
    let (code, out, err) = run(c.args(["analyze", "--execute"]), "");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("2 records from 2 files"), "{out}");
    assert!(repo.join("docs/LEARNED_ERROR_MITIGATIONS.json").is_file());
    assert!(!repo.join("src/deep/docs").exists(), "no rules file in the subdirectory");
    assert!(repo.join(".multilock").is_dir());
    // `match` finds the rule from there too.
    let mut c = Command::cargo_bin("failure-rules").expect("built");
    c.current_dir(repo.join("src/deep"));
    let (code, out, _) = run(c.args(["match", "--message", "KeyError: 'x'"]), "");
    assert_eq!(code, 0, "{out}");
}

/// The default glob matching nothing is an input error, not "0 records".
#[test]
fn an_empty_default_glob_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, out, err) = run(fr(dir.path()).arg("analyze"), "");
    assert_eq!(code, 2, "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("no input: `.autonomous_runs/**/errors/*.{json,jsonl}` matched no file"),
        "{err}"
    );
    let (code, _, err) = run(fr(dir.path()).args(["analyze", "logs/*.json"]), "");
    assert_eq!(code, 2);
    assert!(err.contains("`logs/*.json` matched no file"), "{err}");
    // Stdin that holds nothing is no error: `grep ERROR log | analyze -` found none.
    assert_eq!(run(fr(dir.path()).args(["analyze", "-"]), "").0, 0);
}

/// `match` takes the type from the message, or type and message from a traceback.
#[test]
fn match_without_type_and_with_a_traceback() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, out, _) = run(
        fr(dir.path()).args(["match", "--message", "TimeoutError: read timed out after 30s"]),
        "",
    );
    assert_eq!(code, 0);
    assert!(out.contains("signature: TimeoutError: <*>"), "{out}");
    let (code, _, err) = run(fr(dir.path()).args(["match", "--message", "no type here"]), "");
    assert_eq!(code, 2);
    assert_eq!(err.lines().count(), 1, "{err}");
    let traceback = "Traceback (most recent call last):\n  File \"/srv/app/jobs.py\", line 3, in run\n    open(p)\nPermissionError: [Errno 13] Permission denied: '/x'\n";
    write(dir.path(), "tb.txt", traceback);
    let (code, out, _) =
        run(fr(dir.path()).args(["match", "--traceback", "tb.txt", "--format", "json"]), "");
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(
        json["signature"],
        "PermissionError: [Errno <NUM>] Permission denied: '<PATH>' @ jobs:run"
    );
    assert_eq!(json["rule"]["signature"], "PermissionError: <*>");
    let (code, out, _) = run(fr(dir.path()).args(["match", "--traceback", "-"]), traceback);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = run(fr(dir.path()).args(["match", "--traceback", "-"]), "just text\n");
    assert_eq!(code, 2);
    assert!(err.contains("no error line"), "{err}");
}
