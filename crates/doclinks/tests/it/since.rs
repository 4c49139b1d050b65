//! `--changed-since REV` reports only what a change introduced, matched by
//! file, destination and occurrence against the tree at REV, on real git
//! histories with edits, moves and deletions; `--affected-since REV` keeps the
//! older behaviour (every finding of the affected files).

use crate::util::{Dir, check_json, lines_of, tree};

fn json(dir: &Dir, args: &[&str]) -> serde_json::Value {
    check_json(dir, args)
}

fn findings(value: &serde_json::Value) -> Vec<String> {
    lines_of(value, "findings", |f| {
        let (file, target) = (f["file"].as_str().unwrap(), f["target"].as_str().unwrap());
        format!("{file}:{} {target}", f["line"])
    })
}

fn commit(dir: &Dir, message: &str) {
    dir.git(&["add", "-A"]);
    dir.git(&["commit", "-q", "-m", message]);
}

/// A page with broken links of its own, and three pages whose old broken
/// anchors point into it: the debt a one-line edit must not surface.
const DEBT: &str = "//- docs/hub.md
# Hub

[old one](nowhere.md) and [old two](also-nowhere.md#x)
//- docs/a.md
[hub](hub.md#no-such-heading)
//- docs/b.md
[hub](hub.md#gone-heading) [hub again](hub.md#gone-heading)
//- docs/c.md
See [the hub](hub.md#hub) and [its lost part](hub.md#lost).
";

#[test]
fn a_blank_line_appended_to_a_page_surfaces_none_of_the_old_debt() {
    let dir = tree(DEBT);
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    let hub = dir.read("docs/hub.md");
    dir.write("docs/hub.md", &format!("{hub}\n"));

    let new = json(&dir, &["--changed-since", "HEAD"]);
    assert_eq!(findings(&new), Vec::<String>::new());
    assert_eq!(new["summary"]["preexisting"], 6, "{new}");
    assert_eq!(new["summary"]["broken"], 0);

    // The older behaviour: every finding of the changed page and its linkers.
    let affected = json(&dir, &["--affected-since", "HEAD"]);
    assert_eq!(affected["summary"]["broken"], 6, "{affected}");
    assert!(affected["summary"].get("preexisting").is_none());

    let (code, stdout, _) = dir.run(&["check", "--changed-since", "HEAD"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("6 older findings, already there at the revision"), "{stdout}");
}

#[test]
fn moved_lines_are_not_new_and_a_further_occurrence_is() {
    let dir = tree(DEBT);
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    // Lines above the old links, and the same broken link written once more.
    dir.write(
        "docs/b.md",
        "# B\n\nIntro.\n\n[hub](hub.md#gone-heading) [hub again](hub.md#gone-heading)\n\n\
         [a third time](hub.md#gone-heading) [fresh](fresh.md)\n",
    );
    let value = json(&dir, &["--changed-since", "HEAD"]);
    assert_eq!(findings(&value), ["docs/b.md:7 hub.md#gone-heading", "docs/b.md:7 fresh.md"]);
    assert_eq!(value["summary"]["preexisting"], 6);
}

#[test]
fn history_with_moves_and_deletions() {
    let dir = tree(
        "//- docs/index.md
[setup](setup.md) [api](api.md#calls) [notes](notes.md#missing-part)
//- docs/setup.md
# Setup
//- docs/api.md
# API
## Calls
//- docs/notes.md
# Notes
//- docs/legacy.md
[old debt](nope.md) and [again](nope.md)
",
    );
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    let base = String::from_utf8(
        std::process::Command::new("git")
            .current_dir(dir.path())
            .args(["rev-parse", "HEAD"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let base = base.trim();

    // Commit 1: a page moves (its old debt moves with it, a line added above);
    // the page whose anchor was already missing is deleted.
    dir.git(&["mv", "docs/legacy.md", "docs/archive.md"]);
    dir.write("docs/archive.md", "# Archive\n\n[old debt](nope.md) and [again](nope.md)\n");
    dir.git(&["rm", "-q", "docs/notes.md"]);
    commit(&dir, "move and delete");
    // Commit 2: another page moves; one new broken link in a new page.
    dir.git(&["mv", "docs/setup.md", "docs/install.md"]);
    dir.write("docs/new.md", "[typo](instal.md)\n");
    commit(&dir, "rename setup");
    // Uncommitted: the API page loses its heading.
    dir.write("docs/api.md", "# API\n");

    let value = json(&dir, &["--changed-since", base]);
    assert_eq!(
        findings(&value),
        [
            // Broken by the change: the renamed page, the lost heading.
            "docs/index.md:1 setup.md",
            "docs/index.md:1 api.md#calls",
            // Already broken at the base (a missing anchor), but into a
            // page deleted since: shown, with what it is now.
            "docs/index.md:1 notes.md#missing-part",
            "docs/new.md:1 instal.md",
        ]
    );
    assert_eq!(value["findings"][0]["kind"], "missing_file");
    assert_eq!(value["findings"][0]["fix"]["new_target"], "install.md");
    assert_eq!(value["findings"][2]["kind"], "missing_file");
    assert_eq!(value["summary"]["preexisting"], 2, "archive.md's two, followed through the move");

    // Since the first commit only the second commit's and the uncommitted
    // changes count: the deleted page's link was already broken then.
    let value = json(&dir, &["--changed-since", "HEAD~1"]);
    assert_eq!(
        findings(&value),
        ["docs/index.md:1 setup.md", "docs/index.md:1 api.md#calls", "docs/new.md:1 instal.md"]
    );
}

#[test]
fn a_root_below_the_top_of_the_repository_is_compared_with_itself_at_the_revision() {
    let dir = tree(
        "//- site/docs/page.md
[old](gone.md)
//- site/docs/other.md
# Other
//- README.md
[outside the root](nowhere.md)
",
    );
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    dir.write("site/docs/page.md", "# Page\n\n[old](gone.md) [new](other.md#nope)\n");
    let value = json(&dir, &["--root", "site", "--changed-since", "HEAD"]);
    assert_eq!(findings(&value), ["site/docs/page.md:3 other.md#nope"]);
    assert_eq!(value["summary"]["preexisting"], 1);
}

#[test]
fn a_root_that_did_not_exist_at_the_revision_is_new_throughout() {
    let dir = tree("//- README.md\n# Top\n");
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    dir.write("guide/page.md", "[one](a.md) [two](b.md)\n");
    let value = json(&dir, &["--root", "guide", "--changed-since", "HEAD"]);
    assert_eq!(findings(&value), ["guide/page.md:1 a.md", "guide/page.md:1 b.md"]);
    assert_eq!(value["summary"]["preexisting"], 0);

    let (code, _, stderr) = dir.run(&["check", "--changed-since", "no-such-rev"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("`no-such-rev` is not a revision"), "{stderr}");
}

/// A repository git refuses (another user's, no `safe.directory`): the error
/// gives git's reason, and a plain check warns that renames are unknown,
/// instead of "not a revision" and rename fixes lost without a word. Needs
/// root to give the folder away; skipped otherwise.
#[test]
fn a_repository_git_refuses_is_named_with_gits_reason() {
    let dir = tree("//- a.md\n[b](b.md)\n");
    dir.git(&["init", "-q"]);
    commit(&dir, "base");
    let other = Some(54_321);
    if std::os::unix::fs::chown(dir.path(), other, other).is_err() {
        // Not root: git would have nothing to refuse.
        return;
    }
    std::os::unix::fs::chown(dir.path().join(".git"), other, other).unwrap();
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = dir
            .cmd(args)
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stderr).unwrap())
    };

    let (code, stderr) = run(&["check", "--changed-since", "HEAD"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("git refuses the repository ("), "{stderr}");
    assert!(!stderr.contains("is not a revision"), "{stderr}");

    let (code, stderr) = run(&["check"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("git refuses the repository"),
        "{stderr}"
    );
}
