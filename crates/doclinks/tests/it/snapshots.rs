//! Snapshots of every output format on one tree with every finding kind, and
//! of `fix` output. Temp paths and backup timestamps are redacted.

use crate::util::{Dir, redactions, tree};

fn sample() -> Dir {
    tree(
        "//- doclinks.toml
site_prefixes = [\"/learn/\"]
//- README.md
# Project

- [Install](docs/Install.md) and [setup](docs/install.md#prerequisite)
- [Usage](docs/usage) and [API](docs/api/refrence.md)
- [Gone](docs/removed.md), [escape](../outside.md), [local](file:///home/me/notes.md)
- [Published](/learn/intro) and [web](https://example.com)
//- docs/install.md
# Install
## Prerequisites
//- docs/usage.md
# Usage
//- docs/api/reference.md
# Reference
//- docs/old/orphan.md
No page links here: [stale](../../removed-long-ago.md)
",
    )
}

fn snapshot(name: &str, args: &[&str]) {
    let dir = sample();
    let (code, stdout, stderr) = dir.run(args);
    redactions(&dir).bind(|| {
        insta::assert_snapshot!(
            name,
            format!("exit: {code}\n--- stdout\n{stdout}--- stderr\n{stderr}")
        );
    });
}

#[test]
fn human() {
    snapshot("check_human", &["check"]);
}

#[test]
fn json() {
    snapshot("check_json", &["check", "--format", "json"]);
}

#[test]
fn sarif() {
    snapshot("check_sarif", &["check", "--format", "sarif"]);
}

#[test]
fn sarif_has_the_required_fields() {
    let dir = sample();
    let (_, stdout, _) = dir.run(&["check", "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "doclinks");
    assert_eq!(run["columnKind"], "unicodeCodePoints", "columns count characters");
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty(), "the sample has findings to check");
    for result in results {
        assert!(result["message"]["text"].is_string());
        let rule = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], rule);
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(
            region["startLine"].as_u64().unwrap() >= 1
                && region["startColumn"].as_u64().unwrap() >= 1
        );
    }
}

#[test]
fn github() {
    snapshot("check_github", &["check", "--format", "github"]);
}

#[test]
fn markdown() {
    snapshot("check_markdown", &["check", "--format", "markdown"]);
}

#[test]
fn nav_only_human() {
    snapshot("check_nav_only", &["check", "--nav-only"]);
}

#[test]
fn nav_only_without_navigation_warns() {
    snapshot("check_nav_only_no_nav", &["check", "--nav-only", "--root", "docs/old"]);
}

#[test]
fn fix_human() {
    snapshot("fix_human", &["fix"]);
}

#[test]
fn fix_json() {
    snapshot(
        "fix_json_dry_run",
        &["fix", "--dry-run", "--format", "json", "--min-confidence", "medium"],
    );
}

#[test]
fn fix_plan_markdown() {
    let dir = sample();
    dir.run(&["fix", "--dry-run", "--plan-out", "plan.md"]);
    redactions(&dir).bind(|| insta::assert_snapshot!("fix_plan_markdown", dir.read("plan.md")));
}

#[test]
fn help() {
    let dir = sample();
    let (_, stdout, _) = dir.run(&["check", "--help"]);
    redactions(&dir).bind(|| insta::assert_snapshot!("check_help", stdout));
}
