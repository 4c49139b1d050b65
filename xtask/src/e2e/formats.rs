//! The JSON outputs match their written schemas (docs/schemas/*.schema.json,
//! described in docs/formats.md): every tool's `--format json` output of a real
//! run on a copy of the demo repository, several variants of each, checked by
//! a small JSON Schema validator (the subset the schemas use: `type`,
//! `properties`, `required`, `additionalProperties`, `items`, `enum`).

use std::path::Path;

use serde_json::Value;

use crate::e2e::ensure;
use crate::util::{Tools, project_root};

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let repo = tmp.path().join("repo");
    crate::demo::copy_tree(&project_root().join("examples/demo-repo"), &repo)?;
    let run = |tool: &str, args: &[&str]| -> Result<Vec<u8>, String> {
        let out = tools
            .command(tool)
            .current_dir(&repo)
            .args(args)
            .env("NO_COLOR", "1")
            .env("MULTILOCK_DIR", repo.join(".multilock"))
            .output()
            .map_err(|e| e.to_string())?;
        Ok(out.stdout)
    };
    let mut checked = 0;
    let mut check = |schema: &str, stdout: Vec<u8>| -> Result<(), String> {
        let schema = load_schema(schema)?;
        let text = String::from_utf8(stdout).map_err(|e| e.to_string())?;
        let values: Vec<Value> = if schema["title"] == "failure-rules-normalize" {
            text.lines().map(serde_json::from_str).collect::<Result<_, _>>()
        } else {
            serde_json::from_str(&text).map(|v| vec![v])
        }
        .map_err(|e| format!("{}: not JSON ({e}):\n{text}", schema["title"]))?;
        for value in values {
            let mut errors = Vec::new();
            validate(&schema, &value, "$", &mut errors);
            ensure(errors.is_empty(), || {
                format!("{} does not match its schema:\n  {}", schema["title"], errors.join("\n  "))
            })?;
            checked += 1;
        }
        Ok(())
    };

    std::fs::create_dir(repo.join(".multilock")).map_err(|e| e.to_string())?;
    check("multilock-order", run("multilock", &["order", "--format", "json"])?)?;
    check("multilock-status", run("multilock", &["status", "--all", "--format", "json"])?)?;

    check("doclinks-check", run("doclinks", &["check", "docs", "--format", "json"])?)?;
    let nav = ["check", "docs", "--nav-only", "--format", "json"];
    check("doclinks-check", run("doclinks", &nav)?)?;
    check("doclinks-fix", run("doclinks", &["fix", "docs", "--dry-run", "--format", "json"])?)?;
    let links = ["check", "docs", "--list-links", "--format", "json"];
    check("doclinks-check", run("doclinks", &links)?)?;
    // A reviewed plan: every row fix leaves gets a decision, then triage checks it.
    let plan_out = ["fix", "docs", "--dry-run", "--plan-out", "plan.json"];
    run("doclinks", &plan_out)?;
    let plan_path = repo.join("plan.json");
    let mut plan: Value = serde_json::from_str(
        &std::fs::read_to_string(&plan_path).map_err(|e| format!("no plan.json: {e}"))?,
    )
    .map_err(|e| e.to_string())?;
    for row in plan["findings"].as_array_mut().ok_or("a plan without findings")? {
        if row["apply"] == false {
            row["decision"] = serde_json::json!({ "action": "ignore", "rationale": "e2e" });
        }
    }
    std::fs::write(&plan_path, plan.to_string()).map_err(|e| e.to_string())?;
    let triage = ["triage", "plan.json", "--dry-run", "--format", "json"];
    check("doclinks-triage", run("doclinks", &triage)?)?;
    check("doclinks-fix", run("doclinks", &["fix", "docs", "--format", "json"])?)?;
    let backups = repo.join(".doclinks/backups");
    let backup = std::fs::read_dir(&backups)
        .map_err(|e| format!("no backup after fix: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .next()
        .ok_or("fix wrote no backup")?;
    let backup = backup.to_string_lossy().into_owned();
    check("doclinks-restore", run("doclinks", &["restore", &backup, "--format", "json"])?)?;
    let stub = ["stub", "docs/old-page.md", "docs/README.md", "--format", "json"];
    check("doclinks-stub", run("doclinks", &stub)?)?;

    check("failure-rules-analyze", run("failure-rules", &["analyze", "--format", "json"])?)?;
    let execute = ["analyze", "--execute", "--format", "json"];
    check("failure-rules-analyze", run("failure-rules", &execute)?)?;
    let found = ["--type", "sqlite3.OperationalError", "--message", "database is locked"];
    let json = ["--format", "json"];
    check("failure-rules-match", run("failure-rules", &[&["match"], &found[..], &json].concat())?)?;
    let none = ["match", "--type", "NopeError", "--message", "nothing like it", "--format", "json"];
    check("failure-rules-match", run("failure-rules", &none)?)?;
    check("failure-rules-normalize", normalize(tools, &repo)?)?;

    let sa = |args: &[&str]| run("storage-approval", &[&["--format", "json"], args].concat());
    let scan = ["scan", "data", "--policy", "storage-policy.toml", "--report-out", "report.json"];
    check("storage-approval-scan", sa(&scan)?)?;
    run("storage-approval", &["approve", "report.json", "--operator", "e2e", "--out", "ok.json"])?;
    check("storage-approval-report-id", sa(&["report-id", "report.json"])?)?;
    check(
        "storage-approval-verify",
        sa(&["verify", "--report", "report.json", "--approval", "ok.json"])?,
    )?;
    let execute = ["execute", "--report", "report.json", "--approval", "ok.json"];
    check("storage-approval-run", sa(&execute)?)?;
    check("storage-approval-run", sa(&[&execute[..], &["--execute"]].concat())?)?;
    let log = "data/.tidy-quarantine/audit.jsonl";
    check("storage-approval-audit-verify", sa(&["audit", "verify", log])?)?;
    check("storage-approval-run", sa(&["undo", "--audit-log", log])?)?;
    check("storage-approval-run", sa(&["undo", "--audit-log", log, "--execute"])?)?;
    ensure(checked >= 23, || format!("only {checked} outputs were checked"))?;
    println!("    {checked} JSON outputs of the four tools match docs/schemas");
    Ok(())
}

fn normalize(tools: &Tools, repo: &Path) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut child = tools
        .command("failure-rules")
        .current_dir(repo)
        .args(["normalize", "--format", "jsonl"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    stdin
        .write_all(b"ValueError: bad id 42\nTimeoutError: read timed out after 30s\n")
        .map_err(|e| e.to_string())?;
    drop(stdin);
    Ok(child.wait_with_output().map_err(|e| e.to_string())?.stdout)
}

fn load_schema(name: &str) -> Result<Value, String> {
    let path = project_root().join(format!("docs/schemas/{name}.schema.json"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Checks `value` against `schema`, adding one message per mismatch.
fn validate(schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(types) = schema.get("type") {
        let allowed: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !allowed.iter().any(|t| type_matches(t, value)) {
            errors.push(format!("{at}: {value} is not of type {allowed:?}"));
            return;
        }
    }
    if let Some(Value::Array(options)) = schema.get("enum")
        && !options.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {options:?}"));
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(Value::Array(required)) = schema.get("required") {
                for key in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(key) {
                        errors.push(format!("{at}: missing `{key}`"));
                    }
                }
            }
            for (key, item) in map {
                let path = format!("{at}.{key}");
                match (properties.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
                    (Some(sub), _) => validate(sub, item, &path, errors),
                    (None, Some(Value::Bool(false))) => {
                        errors.push(format!("{at}: `{key}` is not in the schema"));
                    }
                    (None, Some(sub @ Value::Object(_))) => validate(sub, item, &path, errors),
                    (None, _) => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate(sub, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_u64() || value.is_i64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validator_finds_wrong_types_missing_and_unknown_keys() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": { "a": { "type": "integer" }, "b": { "type": ["string", "null"] } },
            "required": ["a"],
            "additionalProperties": false
        });
        let mut errors = Vec::new();
        validate(&schema, &serde_json::json!({ "a": 1, "b": null }), "$", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        validate(&schema, &serde_json::json!({ "b": 2, "c": true }), "$", &mut errors);
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
