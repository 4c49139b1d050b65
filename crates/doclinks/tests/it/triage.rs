//! `doclinks triage`: a reviewed plan applied in one step, or refused as a
//! whole; and `fix --apply-plan`, the same thing.

use crate::util::{Dir, tree};

const TREE: &str = "//- doclinks.toml
site_prefixes = [\"/learn/\"]
//- README.md
# Home

[a](a/same.md) [b](gone.md) [c](old-release.md) [d](generated.md) [e](fine.md)
//- fine.md
# Fine
//- x/same.md
# X
//- y/same.md
# Y
//- docs/new-home.md
# New home
";

/// Writes the plan, then gives each row the decision `decide` returns.
fn reviewed(dir: &Dir, decide: impl Fn(&str) -> Option<serde_json::Value>) -> serde_json::Value {
    let (_, _, stderr) = dir.run(&["fix", "--dry-run", "--plan-out", "plan.json"]);
    assert!(stderr.contains("wrote the fix plan"), "{stderr}");
    let mut plan: serde_json::Value = serde_json::from_str(&dir.read("plan.json")).unwrap();
    for row in plan["findings"].as_array_mut().unwrap() {
        if let Some(decision) = decide(row["target"].as_str().unwrap()) {
            row["decision"] = decision;
        }
    }
    dir.write("plan.json", &serde_json::to_string_pretty(&plan).unwrap());
    plan
}

fn decisions(target: &str) -> Option<serde_json::Value> {
    let d = |action: &str, target: Option<&str>, why: &str| {
        let mut v = serde_json::json!({ "action": action, "rationale": why });
        if let Some(t) = target {
            v["target"] = t.into();
        }
        Some(v)
    };
    match target {
        "a/same.md" => d("retarget", Some("y/same.md"), "the Y page is the one meant"),
        "gone.md" => d("stub", Some("docs/new-home.md"), "bookmarks still point at gone.md"),
        "old-release.md" => d("historical_ref", None, "release notes name old pages on purpose"),
        "generated.md" => d("ignore", None, "built by the site generator"),
        _ => None,
    }
}

#[test]
fn a_reviewed_plan_is_applied_in_one_step_with_one_backup() {
    let dir = tree(TREE);
    reviewed(&dir, decisions);
    let (code, stdout, stderr) = dir.run(&["triage", "plan.json", "--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("would apply: 1 links retargeted, 1 stubs, 2 doclinks.toml entries"),
        "{stdout}"
    );
    assert!(
        !dir.join("gone.md").exists() && !dir.join(".doclinks/backups").exists(),
        "a dry run writes nothing but the page cache"
    );

    let config_before = dir.read("doclinks.toml");
    let (code, stdout, stderr) = dir.run(&["triage", "plan.json"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(dir.read("README.md").contains("[a](y/same.md)"), "{}", dir.read("README.md"));
    assert!(
        dir.read("gone.md").contains("[new-home](docs/new-home.md)"),
        "{}",
        dir.read("gone.md")
    );
    let config = dir.read("doclinks.toml");
    assert!(config.starts_with(&config_before), "{config}");
    assert!(config.contains("[[historical_ref]]\ntarget = \"old-release.md\"\nfile = \"README.md\"\nreason = \"release notes name old pages on purpose\""), "{config}");
    assert!(config.contains("[[ignore]]\ntarget = \"generated.md\""), "{config}");
    assert_eq!(std::fs::read_dir(dir.join(".doclinks/backups")).unwrap().count(), 1);
    assert_eq!(dir.run(&["check"]).0, 0, "every finding is decided");

    // The one backup puts back the page and the configuration.
    let backup = std::fs::read_dir(dir.join(".doclinks/backups")).unwrap().next().unwrap().unwrap();
    let (code, stdout, stderr) = dir.run(&["restore", backup.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(dir.read("doclinks.toml"), config_before);
    assert!(dir.read("README.md").contains("[a](a/same.md)"));
}

#[test]
fn a_plan_with_a_row_without_a_reason_is_refused_as_a_whole() {
    let dir = tree(TREE);
    reviewed(&dir, |target| {
        let mut decision = decisions(target)?;
        if target == "generated.md" {
            decision["rationale"] = "  ".into();
        }
        Some(decision)
    });
    let before = dir.read("README.md");
    let (code, stdout, stderr) = dir.run(&["triage", "plan.json"]);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(stderr.contains("plan.json: refused, nothing written:"), "{stderr}");
    assert!(stderr.contains("generated.md): the decision has no rationale"), "{stderr}");
    assert_eq!(dir.read("README.md"), before);
    assert!(!dir.join("gone.md").exists());

    // A missing decision, and `fix --apply-plan` says the same.
    reviewed(&dir, |target| (target != "gone.md").then(|| decisions(target)).flatten());
    let (code, _, stderr) = dir.run(&["fix", "--apply-plan", "plan.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("gone.md) has no decision"), "{stderr}");
}

#[test]
fn a_retarget_that_does_not_resolve_is_refused() {
    let dir = tree(TREE);
    reviewed(&dir, |target| {
        let mut decision = decisions(target)?;
        if target == "a/same.md" {
            decision["target"] = "z/same.md".into();
        }
        Some(decision)
    });
    let (code, _, stderr) = dir.run(&["triage", "plan.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("the new target `z/same.md` does not resolve"), "{stderr}");
    // A plan made before the tree changed no longer matches it.
    reviewed(&dir, decisions);
    dir.write("README.md", "# Home\n\n[e](fine.md)\n");
    let (code, _, stderr) = dir.run(&["triage", "plan.json"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is no longer a finding of the tree"), "{stderr}");
}
