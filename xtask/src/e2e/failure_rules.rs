//! failure-rules end to end: failure records written by runs, `analyze --execute`
//! writing rules under the `docs` lock (also inside `multilock run`), a second run
//! that changes nothing, four concurrent runs that lose no rule, `match`, and a corrupt
//! rules file left untouched; a JUnit report and a raw log with Python and Java
//! tracebacks analysed into rules; and the demo on the example repository.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::e2e::ensure;
use crate::util::{Tools, show};

fn run(command: &mut Command) -> Result<Output, String> {
    command.output().map_err(|e| format!("cannot start failure-rules: {e}"))
}

fn stdout_json(out: &Output) -> Result<serde_json::Value, String> {
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "output is not JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Writes `count` records of `error_type` into `.autonomous_runs/RUN/errors/`.
fn write_records(
    repo: &Path,
    run: &str,
    error_type: &str,
    message: impl Fn(usize) -> String,
    count: usize,
) -> Result<(), String> {
    let dir = repo.join(".autonomous_runs").join(run).join("errors");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for i in 0..count {
        let record = serde_json::json!({
            "error_type": error_type,
            "message": message(i),
            "timestamp": "2026-11-24T10:00:00Z",
            "run_id": run,
        });
        let path = dir.join(format!("{}-{i:03}.json", error_type.replace('.', "_")));
        std::fs::write(&path, record.to_string())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn signatures(rules_file: &Path) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(rules_file)
        .map_err(|e| format!("cannot read {}: {e}", rules_file.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(json["rules"]
        .as_array()
        .map(|rules| {
            rules.iter().filter_map(|r| r["signature"].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default())
}

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    if !tools.path("failure-rules").is_file() {
        return Err("the failure-rules binary was not built".into());
    }
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = tmp.path();
    let lock_dir = repo.join(".multilock");
    let rules_file = repo.join("docs/LEARNED_ERROR_MITIGATIONS.json");
    let fr = || {
        let mut command = tools.command("failure-rules");
        command.current_dir(repo).env("MULTILOCK_DIR", &lock_dir).env("NO_COLOR", "1");
        command
    };

    // Records written by three runs.
    for (n, run) in ["run-1", "run-2", "run-3"].iter().enumerate() {
        write_records(
            repo,
            run,
            "TimeoutError",
            |i| format!("worker {} timed out after {}s", n * 10 + i, 30 + i),
            4,
        )?;
        write_records(
            repo,
            run,
            "sqlite3.OperationalError",
            |_| "database is locked".to_owned(),
            2,
        )?;
        write_records(
            repo,
            run,
            "ValueError",
            |i| format!("phase phase_{n}{i} is not registered"),
            2,
        )?;
    }

    // A dry run writes nothing.
    let dry = run(fr().args(["analyze", "--format", "json"]))?;
    ensure(dry.status.success(), || format!("dry run failed: {dry:?}"))?;
    let report = stdout_json(&dry)?;
    ensure(report["summary"]["records"] == 24, || {
        format!("dry run summary: {}", report["summary"])
    })?;
    ensure(!rules_file.exists(), || "a dry run wrote the rules file".into())?;

    // --execute writes the rules under the lock.
    let first = run(fr().args(["analyze", "--execute", "--format", "json"]))?;
    ensure(first.status.success(), || format!("analyze --execute failed: {first:?}"))?;
    let applied = &stdout_json(&first)?["applied"];
    ensure(applied["added"] == 1 && applied["updated"] == 2, || {
        format!("first execute: {applied}")
    })?;
    let sigs = signatures(&rules_file)?;
    ensure(sigs.iter().any(|s| s == "ValueError: phase phase_<*> is not registered"), || {
        format!("rules after the first execute: {sigs:?}")
    })?;
    ensure(sigs.len() == 9, || format!("8 bootstrap rules and 1 new one expected: {sigs:?}"))?;

    // A second run on the same records changes nothing, byte for byte.
    let before = std::fs::read(&rules_file).map_err(|e| e.to_string())?;
    let second = run(fr().args(["analyze", "--execute", "--format", "json"]))?;
    let applied = &stdout_json(&second)?["applied"];
    ensure(applied["added"] == 0 && applied["updated"] == 0, || {
        format!("second execute: {applied}")
    })?;
    ensure(std::fs::read(&rules_file).map_err(|e| e.to_string())? == before, || {
        "the second execute changed the rules file".into()
    })?;

    // Inside `multilock run --lock docs`: the parent holds the lock for us.
    if tools.path("multilock").is_file() {
        write_records(repo, "run-4", "KeyError", |_| "'tenant'".to_owned(), 3)?;
        let out = tools
            .command("multilock")
            .current_dir(repo)
            .arg("--dir")
            .arg(&lock_dir)
            .args(["run", "--lock", "docs", "--timeout", "30", "--"])
            .arg(tools.path("failure-rules"))
            .args(["analyze", "--execute", "--format", "json"])
            .env("MULTILOCK_DIR", &lock_dir)
            .output()
            .map_err(|e| e.to_string())?;
        ensure(out.status.success(), || {
            format!("analyze under multilock run failed: {}", String::from_utf8_lossy(&out.stderr))
        })?;
        ensure(signatures(&rules_file)?.iter().any(|s| s == "KeyError: 'tenant'"), || {
            "the rule written under `multilock run` is missing".into()
        })?;
    }

    // Four concurrent runs on different inputs: the file ends with the union.
    let inputs: Vec<String> = (0..4)
        .map(|k| {
            let run = format!("batch-{k}");
            write_records(
                repo,
                &run,
                &format!("Batch{k}Error"),
                |i| format!("batch {k} item {i} rejected"),
                3,
            )
            .map(|()| format!(".autonomous_runs/{run}/errors/*.json"))
        })
        .collect::<Result<_, _>>()?;
    let children: Vec<std::process::Child> = inputs
        .iter()
        .map(|input| {
            fr().args(["analyze", "--execute", input])
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    for mut child in children {
        let status = child.wait().map_err(|e| e.to_string())?;
        ensure(status.success(), || format!("a concurrent analyze --execute failed: {status}"))?;
    }
    let sigs = signatures(&rules_file)?;
    for k in 0..4 {
        let expected = format!("Batch{k}Error: batch <NUM> item <NUM> rejected");
        ensure(sigs.contains(&expected), || format!("`{expected}` lost: {sigs:?}"))?;
    }

    // match: exit 0 with the rule, 1 without.
    let hit = run(fr().args(["match", "--type", "KeyError", "--message", "'tenant'"]))?;
    ensure(hit.status.code() == Some(0), || format!("match of a known error: {hit:?}"))?;
    let miss = run(fr().args(["match", "--type", "NewError", "--message", "never seen"]))?;
    ensure(miss.status.code() == Some(1), || format!("match of an unknown error: {miss:?}"))?;

    // A corrupt rules file: exit 2, a message naming it, and it stays as it was.
    std::fs::write(&rules_file, b"{\"rules\": [").map_err(|e| e.to_string())?;
    let corrupt = run(fr().args(["analyze", "--execute"]))?;
    let stderr = String::from_utf8_lossy(&corrupt.stderr);
    ensure(corrupt.status.code() == Some(2), || format!("corrupt rules file: {corrupt:?}"))?;
    ensure(stderr.contains("LEARNED_ERROR_MITIGATIONS.json is corrupt"), || {
        format!("corrupt rules file message: {stderr}")
    })?;
    ensure(std::fs::read(&rules_file).map_err(|e| e.to_string())? == b"{\"rules\": [", || {
        "the corrupt rules file was overwritten".into()
    })?;
    real_sources(tools)
}

/// A CI job's JUnit report and a service log with a Python and a Java traceback,
/// found by content in a directory: the rules carry the signatures (type, message,
/// in-app frames) and the evidence (input and content digest) of each failure, and
/// analysing the same files again changes nothing.
fn real_sources(tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = tmp.path();
    std::fs::create_dir_all(repo.join(".git")).map_err(|e| e.to_string())?;
    let ci = repo.join("ci");
    std::fs::create_dir_all(&ci).map_err(|e| e.to_string())?;
    std::fs::write(
        ci.join("junit.xml"),
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="unit" tests="3" failures="1" errors="1">
  <testcase classname="tests.test_store" name="test_load"><failure message="KeyError: 'run_id'">Traceback (most recent call last):
  File "/ci/app/tests/test_store.py", line 12, in test_load
    store.load(run)
  File "/ci/app/store.py", line 7, in load
    raise KeyError(key)
KeyError: 'run_id'</failure></testcase>
  <testcase classname="com.acme.PoolTest" name="take"><error type="java.lang.IllegalStateException" message="pool closed after 3 tries">java.lang.IllegalStateException: pool closed after 3 tries
	at com.acme.Pool.take(Pool.java:41)
	at org.junit.Assert.fail(Assert.java:89)</error></testcase>
  <testcase classname="t" name="passes"/>
</testsuite></testsuites>
"#,
    )
    .map_err(|e| e.to_string())?;
    // Tabs before the Java frames, as the JVM prints them.
    let log = "2026-11-25 10:00:00,001 INFO [main] app.Server: started
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
    std::fs::write(ci.join("service.log"), log).map_err(|e| e.to_string())?;
    let fr = || {
        let mut command = tools.command("failure-rules");
        command.current_dir(repo).env_remove("MULTILOCK_DIR").env("NO_COLOR", "1");
        command
    };
    let first = run(fr().args(["analyze", "ci", "--execute", "--format", "json"]))?;
    ensure(first.status.success(), || format!("analyze of the reports failed: {first:?}"))?;
    let report = stdout_json(&first)?;
    ensure(report["summary"]["records"] == 4 && report["summary"]["files"] == 2, || {
        format!("records of the JUnit report and the log: {}", report["summary"])
    })?;
    let rules_file = repo.join("docs/LEARNED_ERROR_MITIGATIONS.json");
    let text = std::fs::read_to_string(&rules_file).map_err(|e| e.to_string())?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let rules = doc["rules"].as_array().cloned().unwrap_or_default();
    let rule = |signature: &str| rules.iter().find(|r| r["signature"] == signature).cloned();
    let expected = [
        ("KeyError: 'run_id' @ test_store:test_load > store:load", 1, "ci/junit.xml#"),
        ("KeyError: 'run_id' @ jobs:run > store:load", 1, "ci/service.log#"),
    ];
    for (signature, frequency, evidence) in expected {
        let found = rule(signature).ok_or_else(|| format!("no rule `{signature}`: {text}"))?;
        ensure(
            found["frequency"] == frequency
                && found["evidence"].as_array().is_some_and(|e| {
                    e.iter().all(|v| v.as_str().is_some_and(|v| v.starts_with(evidence)))
                }),
            || format!("rule `{signature}`: {found}"),
        )?;
    }
    let java =
        "java.lang.IllegalStateException: pool closed after <NUM> tries @ com.acme.Pool:take";
    let found = rule(java).ok_or_else(|| format!("no rule `{java}`: {text}"))?;
    ensure(
        found["frequency"] == 2 && found["evidence"].as_array().is_some_and(|e| e.len() == 2),
        || format!("the Java rule counts the report's and the log's failure: {found}"),
    )?;
    let before = std::fs::read(&rules_file).map_err(|e| e.to_string())?;
    let again = run(fr().args(["analyze", "ci", "--execute"]))?;
    ensure(again.status.success(), || format!("second analyze failed: {again:?}"))?;
    ensure(std::fs::read(&rules_file).map_err(|e| e.to_string())? == before, || {
        "analysing the same reports again changed the rules file".into()
    })
}

/// The demo's failure-rules part on the example repository: the dry run, the rules
/// written under the lock with a Markdown report, the idempotent second run, a
/// lookup, and `normalize` on a few log lines.
pub(crate) fn demo(tools: &Tools, repo: &Path) -> Result<(), String> {
    let fr = || {
        let mut command = tools.command("failure-rules");
        command.env("NO_COLOR", "1");
        command
    };
    show(fr().args(["analyze", "--max", "5"]), repo)?;
    show(
        fr().args(["analyze", "--execute", "--output-report", "docs/reports/TOP_FAILURES.md"]),
        repo,
    )?;
    show(fr().args(["analyze", "--execute", "--max", "3"]), repo)?;
    show(
        fr().args([
            "match",
            "--type",
            "sqlite3.OperationalError",
            "--message",
            "database is locked",
        ]),
        repo,
    )?;
    let lines = repo.join("normalize-sample.log");
    std::fs::write(
        &lines,
        "Nov 25 08:33:06 web-1 sshd[24200]: Invalid user admin from 10.0.0.5 port 50211\n\
         Nov 25 08:33:09 web-1 sshd[24213]: Invalid user oracle from 10.0.0.9 port 50340\n\
         Nov 25 08:33:12 web-1 sshd[24230]: Invalid user test from 10.0.3.7 port 41022\n\
         FileNotFoundError: [Errno 2] No such file or directory: '/srv/runs/42/out.json'\n",
    )
    .map_err(|e| format!("cannot write {}: {e}", lines.display()))?;
    for mine in [false, true] {
        let mut command = fr();
        command.args(["normalize", "--format", "jsonl"]);
        if mine {
            command.arg("--mine");
        }
        let input = std::fs::File::open(&lines).map_err(|e| e.to_string())?;
        command.stdin(input);
        show(&mut command, repo)?;
    }
    std::fs::remove_file(&lines).map_err(|e| e.to_string())
}
