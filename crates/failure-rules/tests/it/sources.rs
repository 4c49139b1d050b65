//! Real failure sources: a JUnit XML report and a raw log with Python and Java
//! tracebacks, told by content, analysed into rules with the right signatures and
//! evidence; malformed XML named with its line; `--input-format` to force.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt as _;

const JUNIT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="app" tests="4" failures="2" errors="1">
    <testcase classname="tests.test_store" name="test_load">
      <failure message="KeyError: 'run_id'">Traceback (most recent call last):
  File "/srv/app/tests/test_store.py", line 12, in test_load
    store.load(run)
  File "/srv/app/store.py", line 7, in load
    raise KeyError(key)
KeyError: 'run_id'</failure>
    </testcase>
    <testcase classname="tests.test_store" name="test_load_again">
      <failure message="KeyError: 'tenant'">Traceback (most recent call last):
  File "/srv/app/tests/test_store.py", line 20, in test_load
    store.load(run)
  File "/srv/app/store.py", line 7, in load
    raise KeyError(key)
KeyError: 'tenant'</failure>
    </testcase>
    <testcase classname="com.acme.PoolTest" name="take">
      <error type="java.lang.IllegalStateException" message="pool closed after 3 tries">java.lang.IllegalStateException: pool closed after 3 tries
	at com.acme.Pool.take(Pool.java:41)
	at java.util.concurrent.FutureTask.run(FutureTask.java:266)</error>
    </testcase>
    <testcase classname="t" name="passes"/>
  </testsuite>
</testsuites>
"#;

const LOG: &str = "2026-11-25 10:00:00,001 INFO [main] app.Server: started
2026-11-25 10:00:01,002 ERROR [main] app.Jobs: job 17 failed
Traceback (most recent call last):
  File \"/srv/app/jobs.py\", line 88, in run
    store.load(run)
  File \"/srv/app/store.py\", line 7, in load
    raise KeyError(key)
KeyError: 'run_id'
2026-11-25 10:00:02,000 ERROR [pool-1] app.Pool: lease failed
Exception in thread \"pool-1\" java.lang.IllegalStateException: pool closed after 5 tries
\tat com.acme.Pool.take(Pool.java:44)
\tat java.util.concurrent.FutureTask.run(FutureTask.java:266)
Caused by: java.io.IOException: broken pipe
\tat com.acme.Conn.write(Conn.java:9)
\t... 3 more
2026-11-25 10:00:03,000 INFO [main] app.Server: stopping
";

fn fr(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("failure-rules").expect("the failure-rules binary is built");
    c.current_dir(dir).env("MULTILOCK_DIR", dir.join(".multilock")).env("NO_COLOR", "1");
    c
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn json(c: &mut Command) -> (i32, serde_json::Value, String) {
    let out = c.output().expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    (out.status.code().unwrap_or(-1), value, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn junit_and_a_log_become_rules_with_signatures_and_evidence() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "reports/junit.xml", JUNIT);
    // No extension: a log is told by its content.
    write(dir.path(), "logs/app-2026-11-25", LOG);
    let args = ["analyze", "reports/junit.xml", "logs/app-2026-11-25", "--format", "json"];
    let (code, report, err) = json(fr(dir.path()).args(args).arg("--execute"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(report["summary"]["records"], 5, "{report}");
    assert_eq!(report["summary"]["files"], 2);
    let groups: Vec<(String, u64)> = report["proposals"]
        .as_array()
        .expect("proposals")
        .iter()
        .map(|p| {
            (p["signature"].as_str().expect("sig").to_owned(), p["count"].as_u64().expect("n"))
        })
        .collect();
    // The test's KeyError and the log's share in-app frames up to the test: the
    // signature keeps them (`test_store:test_load > store:load` vs `jobs:run > …`).
    assert!(
        groups.contains(&("KeyError: '<*>' @ test_store:test_load > store:load".into(), 2))
            || groups
                .contains(&("KeyError: 'run_id' @ test_store:test_load > store:load".into(), 1)),
        "{groups:?}"
    );
    assert!(
        groups.contains(&("KeyError: 'run_id' @ jobs:run > store:load".into(), 1)),
        "{groups:?}"
    );
    assert!(
        groups.contains(&(
            "java.lang.IllegalStateException: pool closed after <NUM> tries @ com.acme.Pool:take"
                .into(),
            2
        )),
        "{groups:?}"
    );
    let text = std::fs::read_to_string(dir.path().join("docs/LEARNED_ERROR_MITIGATIONS.json"))
        .expect("rules file");
    let rules: serde_json::Value = serde_json::from_str(&text).expect("json");
    let signatures: Vec<&str> = rules["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["signature"].as_str())
        .collect();
    // Two KeyErrors with other frames are two rules.
    assert!(signatures.contains(&"KeyError: 'run_id' @ jobs:run > store:load"), "{signatures:?}");
    assert!(
        signatures.contains(&"KeyError: 'run_id' @ test_store:test_load > store:load"),
        "{signatures:?}"
    );
    let java = rules["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| {
            r["signature"]
                .as_str()
                .is_some_and(|s| s.starts_with("java.lang.IllegalStateException"))
        })
        .expect("the Java rule");
    assert_eq!(java["frequency"], 2);
    let evidence: Vec<&str> =
        java["evidence"].as_array().expect("evidence").iter().filter_map(|e| e.as_str()).collect();
    assert_eq!(evidence.len(), 2, "{evidence:?}");
    assert!(evidence.iter().any(|e| e.starts_with("reports/junit.xml#")), "{evidence:?}");
    assert!(evidence.iter().any(|e| e.starts_with("logs/app-2026-11-25#")), "{evidence:?}");
    // Analysing the same inputs again changes nothing.
    let (code, report, _) = json(fr(dir.path()).args(args).arg("--execute"));
    assert_eq!(code, 0);
    assert_eq!(report["applied"]["added"], 0, "{report}");
    assert_eq!(report["applied"]["updated"], 0, "{report}");
}

#[test]
fn records_keep_file_and_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "app.log", LOG);
    let loaded = failure_rules::load(&["app.log".to_owned()], dir.path(), None).expect("loads");
    let sources: Vec<&str> = loaded.records.iter().map(|r| r.source.as_str()).collect();
    assert_eq!(sources, ["app.log:3", "app.log:10"]);
    assert_eq!(loaded.records[1].error_type, "java.lang.IllegalStateException");
}

#[test]
fn malformed_xml_is_named_with_its_line_and_formats_can_be_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        dir.path(),
        "bad.xml",
        "<testsuite>\n<testcase name=\"a\">\n<failure message=\"x\">\n</error>\n",
    );
    let out = fr(dir.path()).args(["analyze", "bad.xml"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("failure-rules: warning: skipped bad.xml: malformed XML at line 4"),
        "{err}"
    );
    // The same file read as a log: no traceback, no record, no error.
    let out = fr(dir.path())
        .args(["analyze", "bad.xml", "--input-format", "log"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = fr(dir.path())
        .args(["analyze", "bad.xml", "--input-format", "yaml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid --input-format `yaml`"), "{err}");
}
