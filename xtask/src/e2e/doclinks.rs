//! doclinks end to end: a generated docs tree in a git repository is refactored
//! the way a real change would be (files renamed, moved, re-cased and deleted
//! without updating links). `check` must find exactly the links that broke,
//! `fix --min-confidence high` must repair those with one unambiguous target
//! (with a backup), a second `check` must report only the rest, and `restore`
//! must put every byte back.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use crate::e2e::ensure;
use crate::util::{Tools, describe};

/// Files whose links break in the refactor, and whether a high-confidence fix
/// exists for them.
const MOVED: &[(&str, bool)] = &[
    ("guide/setup.md", true),     // renamed: git history knows the new name
    ("api/endpoints.md", true),   // moved to another directory: git history
    ("faq.md", true),             // re-cased to FAQ.md: case-only mismatch
    ("notes/legacy.md", false),   // deleted: nothing to point at
    ("guide/overview.md", false), // deleted: two other overview.md pages, ambiguous
];

const KEY_PAGES: &[(&str, &str)] = &[
    ("README.md", "# Project\n\n## Start here\n"),
    ("guide/setup.md", "# Setup\n\n## Install\n\n## Configure\n"),
    ("guide/usage.md", "# Usage\n\n## Run\n"),
    ("guide/overview.md", "# Guide overview\n"),
    ("api/endpoints.md", "# Endpoints\n\n## List items\n"),
    ("api/auth.md", "# Authentication\n"),
    ("api/overview.md", "# API overview\n"),
    ("tutorials/intro.md", "# Introduction\n"),
    ("tutorials/overview.md", "# Tutorials overview\n"),
    ("faq.md", "# FAQ\n\n## Why\n"),
    ("notes/legacy.md", "# Legacy notes\n"),
];

/// Link targets used by the generated pages (root-relative path, anchor).
const TARGETS: &[(&str, &str)] = &[
    ("guide/setup.md", "#install"),
    ("guide/usage.md", "#run"),
    ("guide/overview.md", ""),
    ("api/endpoints.md", "#list-items"),
    ("api/auth.md", ""),
    ("tutorials/intro.md", ""),
    ("faq.md", "#why"),
    ("notes/legacy.md", ""),
    ("README.md", "#start-here"),
];

fn write(root: &Path, rel: &str, text: &str) -> Result<(), String> {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn git(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut command = Command::new("git");
    command
        .current_dir(root)
        .args([
            "-c",
            "user.name=e2e",
            "-c",
            "user.email=e2e@tidykit.test",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args);
    let out = command.output().map_err(|e| format!("cannot start git: {e}"))?;
    ensure(out.status.success(), || {
        format!("{} failed: {}", describe(&command), String::from_utf8_lossy(&out.stderr))
    })
}

/// Writes the tree; returns every link as (linking file, target as written, target path).
fn generate(root: &Path) -> Result<Vec<(String, String, String)>, String> {
    for (path, text) in KEY_PAGES {
        write(root, path, text)?;
    }
    let mut links = Vec::new();
    for n in 0..40 {
        let file = format!("pages/page-{n:02}.md");
        let mut text = format!("# Page {n}\n\nSome prose about topic {n}.\n\n");
        for k in 0..4 {
            let (target, anchor) = TARGETS[(n * 3 + k * 5) % TARGETS.len()];
            let written = format!("../{target}{anchor}");
            match k {
                0 => {
                    let _ = writeln!(text, "See [the page]({written}) for details.\n");
                }
                1 => {
                    let _ = writeln!(text, "Also [this one][r{n}].\n\n[r{n}]: {written}\n");
                }
                2 => {
                    let _ = writeln!(text, "<p><a href=\"{written}\">HTML link</a></p>\n");
                }
                _ => {
                    let _ = writeln!(
                        text,
                        "```\n[not a link](../{target})\n```\n\nAnd ![icon]({written}).\n"
                    );
                }
            }
            links.push((file.clone(), written, target.to_owned()));
        }
        write(root, &file, &text)?;
    }
    Ok(links)
}

fn findings(tools: &Tools, root: &Path, args: &[&str]) -> Result<(i32, serde_json::Value), String> {
    let mut command = tools.command("doclinks");
    command.current_dir(root).args(args);
    let out = command.output().map_err(|e| format!("cannot start doclinks: {e}"))?;
    let json = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{} printed no JSON ({e}): {}",
            describe(&command),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok((out.status.code().unwrap_or(-1), json))
}

fn pairs(
    json: &serde_json::Value,
    list: &str,
    file: &str,
    target: &str,
) -> BTreeSet<(String, String)> {
    json[list]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|f| {
                    (
                        f[file].as_str().unwrap_or("").to_owned(),
                        f[target].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn snapshot(root: &Path) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    for dir in ["pages", "guide", "api", "tutorials", "notes", "reference"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        for entry in entries {
            let path = entry.map_err(|e| e.to_string())?.path();
            let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
            files.insert(path.display().to_string(), bytes);
        }
    }
    Ok(files)
}

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = temp.path();
    let links = generate(root)?;
    git(root, &["init", "-q"])?;
    git(root, &["add", "."])?;
    git(root, &["commit", "-q", "-m", "docs"])?;
    let (code, clean) = findings(tools, root, &["check", "--format", "json"])?;
    ensure(code == 0 && clean["summary"]["broken"] == 0, || {
        format!("the generated tree is not clean: {clean}")
    })?;

    // The refactor: nobody updates the links.
    git(root, &["mv", "guide/setup.md", "guide/installation.md"])?;
    std::fs::create_dir_all(root.join("reference")).map_err(|e| e.to_string())?;
    git(root, &["mv", "api/endpoints.md", "reference/endpoints.md"])?;
    git(root, &["mv", "faq.md", "FAQ.md"])?;
    git(root, &["rm", "-q", "notes/legacy.md", "guide/overview.md"])?;
    git(root, &["commit", "-q", "-m", "restructure the docs"])?;

    let broke = |high: Option<bool>| -> BTreeSet<(String, String)> {
        links
            .iter()
            .filter(|(_, _, target)| {
                MOVED.iter().any(|(m, h)| m == target && high.is_none_or(|want| *h == want))
            })
            .map(|(file, written, _)| (file.clone(), written.clone()))
            .collect()
    };
    let (code, report) = findings(tools, root, &["check", "--format", "json"])?;
    let found = pairs(&report, "findings", "file", "target");
    ensure(code == 1, || format!("check exited {code} after the refactor"))?;
    ensure(found == broke(None), || {
        format!("check found {found:?}, expected exactly {:?}", broke(None))
    })?;

    let before_fix = snapshot(root)?;
    let (code, fixed) =
        findings(tools, root, &["fix", "--min-confidence", "high", "--format", "json"])?;
    let changed = pairs(&fixed, "changes", "file", "old");
    ensure(code == 1, || format!("fix exited {code}; links without a sure fix remain"))?;
    ensure(changed == broke(Some(true)), || {
        format!("fix changed {changed:?}, expected {:?}", broke(Some(true)))
    })?;
    let backup = fixed["backup"].as_str().ok_or("fix reported no backup")?.to_owned();
    ensure(Path::new(&backup).is_file(), || format!("backup {backup} does not exist"))?;

    let (_, again) = findings(tools, root, &["check", "--format", "json"])?;
    let left = pairs(&again, "findings", "file", "target");
    ensure(left == broke(Some(false)), || {
        format!("second check found {left:?}, expected {:?}", broke(Some(false)))
    })?;
    let (_, idempotent) = findings(tools, root, &["fix", "--format", "json"])?;
    ensure(idempotent["changes"].as_array().is_some_and(Vec::is_empty), || {
        "a second fix changed links".to_owned()
    })?;

    let status = tools
        .command("doclinks")
        .current_dir(root)
        .args(["restore", &backup])
        .output()
        .map_err(|e| e.to_string())?;
    ensure(status.status.success(), || {
        format!("restore failed: {}", String::from_utf8_lossy(&status.stderr))
    })?;
    ensure(snapshot(root)? == before_fix, || "restore did not put every byte back".to_owned())?;
    println!(
        "    {} links broke; fix repaired {} with high confidence; {} left for triage; restore was byte-exact",
        found.len(),
        changed.len(),
        left.len()
    );
    Ok(())
}

/// Runs one doclinks command in the demo repository and prints it with its output.
fn show(tools: &Tools, repo: &Path, args: &[&str]) -> Result<i32, String> {
    println!("\n$ doclinks {}", args.join(" "));
    let out = tools
        .command("doclinks")
        .current_dir(repo)
        .env("NO_COLOR", "1")
        .args(args)
        .output()
        .map_err(|e| format!("cannot start doclinks: {e}"))?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    print!("{}", String::from_utf8_lossy(&out.stderr).replace(&repo.display().to_string(), "."));
    let code = out.status.code().unwrap_or(-1);
    println!("(exit {code})");
    ensure(code != 2, || format!("doclinks {} failed", args.join(" ")))?;
    Ok(code)
}

/// The demo on a copy of examples/demo-repo: check, fix with a backup, check again.
pub(crate) fn demo(tools: &Tools, repo: &Path) -> Result<(), String> {
    let first = show(tools, repo, &["check", "docs"])?;
    ensure(first == 1, || "the demo docs should have broken links".to_owned())?;
    show(tools, repo, &["fix", "docs", "--dry-run", "--min-confidence", "medium"])?;
    show(tools, repo, &["fix", "docs"])?;
    let last = show(tools, repo, &["check", "docs"])?;
    ensure(last == 1, || "the demo keeps links that need a human".to_owned())?;
    Ok(())
}
