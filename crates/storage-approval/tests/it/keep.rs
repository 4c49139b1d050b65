//! The keep rule through the CLI: on a documentation tree duplicated into a
//! `backup/` folder and a ` (copy)` file, the originals and every copy a page links
//! to stay, and no link breaks (checked with the doclinks library); keep globs from
//! the policy and `--keep-path` choose the copy that stays.

use std::collections::BTreeSet;
use std::path::Path;

use crate::util::{Dir, execute, path_str, run, stderr, stdout};

/// A docs tree as a user has it: pages and images, all of it copied into
/// `backup/`, the README copied next to itself, and one copy (with a copy
/// marker) that a page really links to.
fn docs_tree() -> Dir {
    let d = Dir::new();
    let logo = [1u8; 3000];
    let diagram = [2u8; 5000];
    let banner = [3u8; 700];
    let pages = [
        (
            "README.md",
            "# Project\n\nSee [the docs](docs/index.md).\n\n![logo](docs/img/logo.png)\n",
        ),
        (
            "docs/index.md",
            "# Docs\n\n![logo](img/logo.png)\n\n[Guide](guide.md#setup)\n\n\
             <img src=\"img/diagram.png\" alt=\"diagram\">\n\n[gone](missing.png)\n",
        ),
        ("docs/guide.md", "# Guide\n\n## Setup\n\n![diagram](./img/diagram.png)\n"),
        ("docs/news.md", "# News\n\n![banner](img/banner%20(copy).png)\n"),
    ];
    for (rel, text) in pages {
        d.file(rel, text);
        d.file(&format!("backup/{rel}"), text);
    }
    d.file("README (copy).md", pages[0].1);
    for (rel, bytes) in [
        ("docs/img/logo.png", &logo[..]),
        ("docs/img/diagram.png", &diagram[..]),
        ("docs/img/banner.png", &banner[..]),
    ] {
        d.file(rel, bytes);
        d.file(&format!("backup/{rel}"), bytes);
    }
    // The copy a page links to: it has a marker, and still stays.
    d.file("docs/img/banner (copy).png", banner);
    // The backup is newer than the originals, as a copy made later is.
    for rel in ["README.md", "docs/index.md", "docs/guide.md", "docs/news.md"] {
        d.mtime(rel, 1_700_000_000);
    }
    d
}

/// Every broken link doclinks finds below `root`, as (page, destination).
fn broken_links(root: &Path) -> BTreeSet<(String, String)> {
    let report =
        doclinks::check(&doclinks::CheckOptions::new(root)).expect("doclinks checks the tree");
    report.findings.into_iter().map(|f| (f.file, f.target)).collect()
}

#[test]
fn originals_and_linked_copies_stay_and_no_link_breaks() {
    let d = docs_tree();
    let root = d.root();
    let broken_before = broken_links(&root);
    // The two `missing.png` links, and the backup's news page, whose banner copy
    // was never backed up.
    assert_eq!(broken_before.len(), 3, "{broken_before:?}");
    let (report, approval) = d.scan_and_approve();

    let dry = run(&["execute", "--report", path_str(&report), "--approval", path_str(&approval)]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let text = stdout(&dry);
    // The dry run says which copy stays and why.
    let line = |src: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {src} -> ")))
            .unwrap_or_else(|| panic!("no line for {src}:\n{text}"))
            .to_owned()
    };
    assert!(
        line("README (copy).md")
            .contains(", keep README.md (its name has no copy marker; this one has ` (copy)`)"),
        "{text}"
    );
    assert!(
        line("backup/docs/img/logo.png")
            .contains(", keep docs/img/logo.png (linked from `README.md`)"),
        "{text}"
    );
    assert!(
        line("docs/img/banner.png")
            .contains("keep docs/img/banner (copy).png (linked from `docs/news.md`)"),
        "{text}"
    );

    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for original in [
        "README.md",
        "docs/index.md",
        "docs/guide.md",
        "docs/news.md",
        "docs/img/logo.png",
        "docs/img/diagram.png",
        "docs/img/banner (copy).png",
    ] {
        assert!(root.join(original).is_file(), "{original} is gone:\n{}", stdout(&out));
    }
    // Every copy in the backup and the README's copy went to the quarantine: the
    // backup's pages link only to each other, so they keep nothing.
    assert!(!root.join("backup").exists(), "{}", stdout(&out));
    assert!(!root.join("README (copy).md").exists());
    assert!(!root.join("docs/img/banner.png").exists(), "the copy no page links to goes");
    // No new broken link: the backup's pages went, with their own broken links.
    let broken_after = broken_links(&root);
    assert!(broken_after.is_subset(&broken_before), "{broken_after:?}");
    assert!(broken_after.contains(&("docs/index.md".to_owned(), "missing.png".to_owned())));
}

#[test]
fn a_page_that_stays_keeps_the_backup_copy_it_links_to() {
    // A page of the docs links into the backup: that copy stays, and so does every
    // copy the pages of its group that stay link to.
    let d = Dir::new();
    d.file("docs/index.md", "![old](../backup/img/old.png)\n")
        .file("docs/img/old.png", "old logo bytes")
        .file("backup/img/old.png", "old logo bytes")
        .mtime("docs/img/old.png", 1_600_000_000);
    let (report, approval) = d.scan_and_approve();
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let actions = r["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["src"], "docs/img/old.png");
    assert_eq!(actions[0]["kept"], "backup/img/old.png");
    assert_eq!(actions[0]["keep_reason"], "linked from `docs/index.md`");
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(d.root().join("backup/img/old.png").is_file());
    assert!(broken_links(&d.root()).is_empty());
}

/// Scans with `extra` arguments and returns (src, kept, keep_reason) of each action.
fn scan_kept(d: &Dir, extra: &[&str]) -> Vec<(String, String, String)> {
    let (root, report) = (d.root(), d.out("report.json"));
    let mut args = vec!["scan", path_str(&root), "--report-out", path_str(&report)];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = |key: &str| a[key].as_str().unwrap_or_default().to_owned();
            (text("src"), text("kept"), text("keep_reason"))
        })
        .collect()
}

#[test]
fn keep_globs_and_keep_path_choose_the_copy_that_stays() {
    let d = Dir::new();
    d.file("a/photo.jpg", "pixels").file("b/photo.jpg", "pixels").file("c/photo.jpg", "pixels");
    d.mtime("a/photo.jpg", 1_600_000_000)
        .mtime("b/photo.jpg", 1_700_000_000)
        .mtime("c/photo.jpg", 1_700_000_000);
    // Without a glob the oldest stays.
    let plain = scan_kept(&d, &[]);
    assert!(
        plain
            .iter()
            .all(|(_, kept, why)| kept == "a/photo.jpg" && why == "an older modification time"),
        "{plain:?}"
    );
    // `--keep-path` (repeatable): every copy it matches stays.
    let kept = scan_kept(&d, &["--keep-path", "b/**", "--keep-path", "c/"]);
    assert_eq!(
        kept,
        [(
            "a/photo.jpg".to_owned(),
            "b/photo.jpg".to_owned(),
            "matches the keep glob `b/**`; 1 other copy stays too".to_owned()
        )]
    );
    // The same from the policy file, recorded in the report.
    let policy = d.out("policy.toml");
    std::fs::write(&policy, "[duplicates]\nkeep = [\"c/**\"]\n").unwrap();
    let kept = scan_kept(&d, &["--policy", path_str(&policy)]);
    let srcs: Vec<&str> = kept.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(srcs, ["a/photo.jpg", "b/photo.jpg"]);
    assert!(kept.iter().all(|k| k.1 == "c/photo.jpg"), "{kept:?}");
    let report = std::fs::read_to_string(d.out("report.json")).unwrap();
    assert!(report.contains("\"keep\": [\n        \"c/**\"\n      ]"), "{report}");
    // A bad glob is an input error naming the option.
    let out = run(&["scan", path_str(&d.root()), "--report-out", "-", "--keep-path", "a["]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--keep-path") && stderr(&out).contains("a["),
        "{}",
        stderr(&out)
    );
}
