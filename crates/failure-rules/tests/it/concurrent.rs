//! Several `analyze --execute` processes on one rules file: the `docs` lock and the
//! read-modify-write under it make the file end with the union of their rules.

use std::process::{Command, Stdio};

#[test]
fn four_concurrent_executes_keep_the_union() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for k in 0..4 {
        let lines: Vec<String> = (0..5)
            .map(|i| {
                serde_json::json!({
                    "error_type": format!("Worker{k}Error"),
                    "message": format!("worker {k} step {i} rejected input batch_{i}"),
                    "run_id": format!("run-{k}"),
                })
                .to_string()
            })
            .collect();
        std::fs::write(root.join(format!("in-{k}.jsonl")), lines.join("\n")).expect("write input");
    }
    // All four start before any is waited for.
    let children: Vec<_> = (0..4)
        .map(|k| {
            Command::new(env!("CARGO_BIN_EXE_failure-rules"))
                .current_dir(root)
                .env("MULTILOCK_DIR", root.join(".multilock"))
                .args(["analyze", "--execute", &format!("in-{k}.jsonl")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let text = std::fs::read_to_string(root.join("docs/LEARNED_ERROR_MITIGATIONS.json"))
        .expect("rules file");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let signatures: Vec<&str> = json["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter_map(|r| r["signature"].as_str())
        .collect();
    assert_eq!(signatures.len(), 8 + 4, "bootstrap rules plus one per process: {signatures:?}");
    for k in 0..4 {
        let expected = format!("Worker{k}Error: worker <NUM> step <NUM> rejected input batch_<*>");
        assert!(signatures.contains(&expected.as_str()), "{expected} lost: {signatures:?}");
    }
}
