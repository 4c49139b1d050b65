//! Nav-only mode (README, SUMMARY.md, mkdocs.yml, toc.yml, configured nav) and
//! `--affected-since` with its reverse link index.

use crate::util::{Dir, check_json, lines_of, tree};

fn json(dir: &Dir, args: &[&str]) -> serde_json::Value {
    check_json(dir, args)
}

fn files(value: &serde_json::Value) -> Vec<String> {
    lines_of(value, "findings", |f| {
        format!("{} {}", f["file"].as_str().unwrap(), f["target"].as_str().unwrap())
    })
}

#[test]
fn nav_only_follows_navigation_transitively_and_lists_unreached_pages() {
    let dir = tree(
        "//- README.md
[docs](docs/)
//- docs/README.md
[a](a.md)
//- docs/a.md
[b](b.md) [broken](nope-a.md)
//- docs/b.md
[broken](nope-b.md)
//- docs/orphan.md
[broken](nope-orphan.md)
//- book/SUMMARY.md
- [Chapter](chapter.md)
//- book/chapter.md
# Chapter
//- mkdocs.yml
docs_dir: site
nav:
  - Home: index.md
//- site/index.md
# Site
//- dfx/toc.yml
- name: Topic
  href: topic.md
//- dfx/topic.md
[broken](nope-topic.md)
//- extra/listed.md
# Listed in config
//- doclinks.toml
nav = [\"extra/listed.md\"]
//- guide/README.md
[g](g.md)
//- guide/g.md
[broken](nope-g.md)
",
    );
    let nav = json(&dir, &["--nav-only"]);
    assert_eq!(
        files(&nav),
        [
            "dfx/topic.md nope-topic.md",
            "docs/a.md nope-a.md",
            "docs/b.md nope-b.md",
            "guide/g.md nope-g.md"
        ]
    );
    assert_eq!(nav["unreached"], serde_json::json!(["docs/orphan.md"]));
    assert_eq!(nav["summary"]["files"], 11, "a directory's README is navigation too");
    let deep = json(&dir, &[]);
    assert_eq!(deep["summary"]["broken"], 5);
    assert!(deep["unreached"].is_null());
}

#[test]
fn affected_since_checks_changed_files_and_files_linking_to_them() {
    let dir = tree(
        "//- docs/setup.md
# Setup
//- docs/usage.md
[setup](setup.md)
//- docs/other.md
[old breakage](nowhere.md)
//- docs/unrelated.md
# Unrelated
",
    );
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "base"]);
    dir.git(&["mv", "docs/setup.md", "docs/install.md"]);
    dir.write("docs/new.md", "[new breakage](missing.md)\n");
    let value = json(&dir, &["--affected-since", "HEAD"]);
    assert_eq!(files(&value), ["docs/new.md missing.md", "docs/usage.md setup.md"]);
    assert_eq!(value["findings"][1]["fix"]["new_target"], "install.md");
    assert_eq!(value["summary"]["files"], 3, "new.md, usage.md and the renamed install.md");

    let (code, _, stderr) = dir.run(&["check", "--affected-since", "no-such-rev"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`no-such-rev` is not a revision"), "{stderr}");
}

#[test]
fn nav_only_with_a_path_starts_at_its_readme_and_reports_only_under_it() {
    let dir = tree(
        "//- README.md
# Root without links
//- docs/README.md
[a](a.md)
//- docs/a.md
[broken](nope.md)
//- docs/orphan.md
# Orphan
//- other/page.md
[broken](nope.md)
",
    );
    let value = json(&dir, &["--nav-only", "docs"]);
    assert_eq!(files(&value), ["docs/a.md nope.md"]);
    assert_eq!(value["unreached"], serde_json::json!(["docs/orphan.md"]));
    // Paths are taken from the root when they are not under it from the current directory.
    let (code, stdout, _) = dir.run(&["check", "--root", dir.path().to_str().unwrap(), "docs"]);
    assert_eq!(code, 1, "{stdout}");
}

#[test]
fn nav_only_and_changed_since_do_not_mix() {
    let dir = tree("//- README.md\n# hi\n");
    let (code, _, stderr) = dir.run(&["check", "--nav-only", "--changed-since", "HEAD"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn nav_only_reads_flow_style_yaml_and_warns_on_malformed_nav_files() {
    let dir = tree(
        "//- mkdocs.yml
nav: [index.md, {Guide: [guide/a.md, {Deep: guide/deep/b.md}]}]
//- docs/index.md
[broken](nope-index.md)
//- docs/guide/a.md
[broken](nope-a.md)
//- docs/guide/deep/b.md
[broken](nope-b.md)
//- dfx/toc.yml
- {name: Topic, href: topic.md, items: [{name: Sub, href: sub/page.md}]}
//- dfx/topic.md
[broken](nope-topic.md)
//- dfx/sub/page.md
[broken](nope-sub.md)
//- bad/toc.yml
- name: Broken
  href: [unclosed.md
//- bad/unclosed.md
[broken](nope-bad.md)
",
    );
    let (code, stdout, stderr) = dir.run(&["check", "--nav-only", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let nav: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        files(&nav),
        [
            "dfx/sub/page.md nope-sub.md",
            "dfx/topic.md nope-topic.md",
            "docs/guide/a.md nope-a.md",
            "docs/guide/deep/b.md nope-b.md",
            "docs/index.md nope-index.md",
        ]
    );
    assert_eq!(nav["unreached"], serde_json::json!(["bad/unclosed.md"]));
    let warning =
        stderr.lines().find(|l| l.contains("toc.yml")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(warning.contains("bad/toc.yml") && warning.contains("malformed YAML"), "{warning}");
}
