//! The findings of issue 9 that are not about one platform: the root found
//! from a subdirectory (5), git renames before every heuristic and pages that
//! moved with their targets (6), lone CRs and backticks (7), backslash
//! separators (8), pages that are not UTF-8 and unreadable directories (9).

use crate::util::{Dir, tree};

fn findings(dir: &Dir, cwd: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let out = dir.cmd(&all).current_dir(dir.join(cwd)).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let fix = &f["fix"];
            let fix = if fix.is_null() {
                String::new()
            } else {
                format!(
                    " -> {} ({}: {})",
                    fix["new_target"].as_str().unwrap(),
                    fix["confidence"].as_str().unwrap(),
                    fix["reason"].as_str().unwrap()
                )
            };
            format!(
                "{}:{} {}{fix}",
                f["file"].as_str().unwrap(),
                f["line"],
                f["target"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn from_a_subdirectory_root_absolute_links_resolve_from_the_found_root() {
    let dir = tree(
        "//- doclinks.toml
//- contributors/guide/issue-triage.md
# Triage
//- contributors/README.md
[triage](/contributors/guide/issue-triage.md) [broken](/contributors/guide/nope.md)
//- other/README.md
[elsewhere](nope.md)
",
    );
    // From contributors/: the root is where doclinks.toml is; only contributors/ is checked.
    assert_eq!(findings(&dir, "contributors", &[]), ["README.md:1 /contributors/guide/nope.md"]);
    let out =
        dir.cmd(&["fix", "--dry-run"]).current_dir(dir.join("contributors")).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("would fix 0 links"), "no working link is rewritten: {stdout}");
    // PATHS narrow what is checked, not how links resolve.
    assert_eq!(findings(&dir, "contributors", &["../other"]), ["../other/README.md:1 nope.md"]);
    // Output shows paths from where the user stands.
    let out = dir.cmd(&["check"]).current_dir(dir.join("contributors")).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("README.md:1:"), "{stdout}");
}

#[test]
fn a_tree_named_on_the_command_line_is_found_from_that_path_not_the_current_directory() {
    let dir = tree(
        "//- here/doclinks.toml
//- here/README.md
[broken](nope.md)
//- site/doclinks.toml
//- site/guide/intro.md
# Intro
//- site/docs/page.md
[intro](/guide/intro.md) [missing](/guide/gone.md)
//- bare/mkdocs.yml
site_name: Bare
//- bare/guide/intro.md
# Intro
//- bare/docs/page.md
[intro](/guide/intro.md) [up](../../here/README.md)
",
    );
    // From one tree, `check ../site/docs` checks the other with its own root:
    // its root-absolute links resolve there, and nothing of here/ is read.
    assert_eq!(
        findings(&dir, "here", &["../site/docs"]),
        ["../site/docs/page.md:1 /guide/gone.md"]
    );
    // A file names its tree the same way; from above both trees paths are
    // shown from where the user stands.
    assert_eq!(findings(&dir, ".", &["site/docs/page.md"]), ["site/docs/page.md:1 /guide/gone.md"]);
    // Where neither the path nor the current directory has a marker or git
    // above it, a tree named with a site of its own is the root: `/` means
    // bare/, and nothing above it is read.
    assert_eq!(findings(&dir, ".", &["bare"]), ["bare/docs/page.md:1 ../../here/README.md"]);
}

#[test]
fn git_renames_win_over_other_heuristics_and_follow_pages_that_moved() {
    let dir = tree(
        "//- docs/guide/intro.md
[contributing](./CONTRIBUTING.md) [setup](setup.md)
//- docs/CONTRIBUTING.md
# Contributing (docs)
//- docs/guide/CONTRIBUTING.md
# Contributing
//- docs/guide/setup.md
# Setup
",
    );
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    // The target is renamed; `../CONTRIBUTING.md` exists, but git names the new place.
    dir.git(&["mv", "docs/guide/CONTRIBUTING.md", "docs/guide/CONTRIBUTING-overview.md"]);
    // The linking page and its other target both move.
    std::fs::create_dir_all(dir.join("docs/start")).unwrap();
    std::fs::create_dir_all(dir.join("docs/install")).unwrap();
    dir.git(&["mv", "docs/guide/intro.md", "docs/start/intro.md"]);
    dir.git(&["mv", "docs/guide/setup.md", "docs/install/setup.md"]);
    dir.git(&["commit", "-q", "-m", "moves"]);
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "docs/start/intro.md:1 ./CONTRIBUTING.md -> ../guide/CONTRIBUTING-overview.md (high: both moved in git history (this page from docs/guide/intro.md))",
            "docs/start/intro.md:1 setup.md -> ../install/setup.md (high: both moved in git history (this page from docs/guide/intro.md))",
        ]
    );
}

#[test]
fn a_page_that_moved_keeps_its_links_to_pages_that_did_not() {
    let dir = tree(
        "//- a/page.md\n[sibling](sibling.md)\n//- a/sibling.md\n# S\n//- b/sibling.md\n# other\n",
    );
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    std::fs::create_dir_all(dir.join("c")).unwrap();
    dir.git(&["mv", "a/page.md", "c/page.md"]);
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "c/page.md:1 sibling.md -> ../a/sibling.md (high: the linking page moved from a/page.md in git history)"
        ]
    );
}

#[test]
fn a_lone_carriage_return_ends_a_line_and_links_after_it_are_checked() {
    let dir = tree("//- ok.md\n# ok\n");
    dir.write("page.md", "# T\r[a](nope-a.md)\r\rtext [b](OK.md) and [c](ok.md)\n");
    assert_eq!(
        findings(&dir, ".", &[]),
        ["page.md:2 nope-a.md", "page.md:4 OK.md -> ok.md (high: case-only mismatch)",]
    );
    let (code, _, _) = dir.run(&["fix"]);
    assert_eq!(code, 1, "nope-a.md is left");
    assert_eq!(dir.read("page.md"), "# T\r[a](nope-a.md)\r\rtext [b](ok.md) and [c](ok.md)\n");
}

#[test]
fn an_unmatched_backtick_in_link_text_does_not_hide_the_link() {
    let dir = tree("//- page.md\n# T\n\n[a ` b](nope.md)\n\nlater `code` and ``more``.\n");
    assert_eq!(findings(&dir, ".", &[]), ["page.md:3 nope.md"]);
}

#[test]
fn backslash_separators_are_fixed_with_high_confidence_where_they_do_not_work() {
    let dir = tree(
        "//- docs/a/page.md\n[up](..\\x.md) [down](../b\\y.md)\n//- docs/x.md\n# X\n//- docs/b/y.md\n# Y\n",
    );
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "docs/a/page.md:1 ..\\x.md -> ../x.md (high: `\\` written for the path separator `/`)",
            "docs/a/page.md:1 ../b\\y.md -> ../b/y.md (high: `\\` written for the path separator `/`)",
        ]
    );
    // DocFX reads `\` as a separator: nothing is broken there.
    dir.write("docs/docfx.json", "{\"build\": {\"content\": [{\"files\": [\"**/*.md\"]}]}}");
    assert_eq!(findings(&dir, ".", &[]), Vec::<String>::new());
}

#[test]
fn a_page_that_is_not_utf8_is_checked_lossily_and_never_rewritten() {
    let dir = tree("//- guide.md\n# Guide\n");
    let bytes = b"caf\xe9 [x](Guide.md) [y](nope.md)\n".to_vec();
    std::fs::write(dir.join("latin1.md"), &bytes).unwrap();
    assert_eq!(
        findings(&dir, ".", &[]),
        ["latin1.md:1 Guide.md -> guide.md (high: case-only mismatch)", "latin1.md:1 nope.md"]
    );
    let (code, stdout, stderr) = dir.run(&["fix"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("skipped latin1.md: not valid UTF-8"), "{stdout}");
    assert_eq!(std::fs::read(dir.join("latin1.md")).unwrap(), bytes);
}

/// `doclinks ARGS` in `dir` by a user who cannot read `private` (mode 000):
/// this user, or `nobody` (by `setpriv`) when this user is root and reads
/// everything; `None` when neither can be had.
#[cfg(unix)]
fn run_unable_to_read(dir: &Dir, private: &str, args: &[&str]) -> Option<(i32, String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let set = |path: &std::path::Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set(&dir.join(private), 0o000);
    let out = if std::fs::read_dir(dir.join(private)).is_err() {
        Some(dir.run(args))
    } else {
        // Root: the check runs as `nobody`, who may enter the tree but not `private`.
        set(dir.path(), 0o755);
        std::process::Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_doclinks"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .ok()
            .filter(|out| !String::from_utf8_lossy(&out.stderr).contains("setpriv:"))
            .map(|out| {
                let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
                (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
            })
    };
    set(&dir.join(private), 0o755);
    out
}

#[cfg(unix)]
#[test]
fn links_into_an_unreadable_directory_are_not_broken_and_the_directory_is_named() {
    // Resolved as files (no site), and through a site's routes (mkdocs).
    for (fixture, private) in [
        (
            "//- README.md\n[secret](private/notes.md)\n//- private/notes.md\n# N\n//- other/notes.md\n# Other\n",
            "private",
        ),
        (
            "//- mkdocs.yml\nsite_name: x\n//- docs/index.md\n# Home\n\n[secret](private/notes.md) [anchor](private/notes.md#n)\n//- docs/private/notes.md\n# N\n//- docs/other/notes.md\n# Other\n",
            "docs/private",
        ),
    ] {
        let dir = tree(fixture);
        let Some((code, stdout, stderr)) = run_unable_to_read(&dir, private, &["check"]) else {
            // Root without setpriv: the directory is readable anyway, and the link fine.
            let (code, stdout, stderr) = dir.run(&["check"]);
            assert_eq!(code, 0, "{stdout}{stderr}");
            continue;
        };
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stderr.contains(&format!("{private}: cannot read the directory")), "{stderr}");
        assert!(stderr.contains("links into it are not checked"), "{stderr}");
        assert!(!stdout.contains("other/notes.md"), "no fix to another page: {stdout}");
    }
}

#[test]
fn a_heading_reworded_in_git_is_fixed_with_high_confidence() {
    let dir = tree(
        "//- guide.md\n# Guide\n\n## Install the tool\n\n## Use it\n//- README.md\n[install](guide.md#install-the-tool)\n",
    );
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    dir.write("guide.md", "# Guide\n\n## Installing the tool\n\n## Use it\n");
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "README.md:1 guide.md#install-the-tool -> guide.md#installing-the-tool (high: heading reworded in git history)"
        ]
    );
}

#[test]
fn a_top_level_hugo_page_that_moved_is_broken_not_a_site_link() {
    let dir = tree(
        "//- hugo.toml\nbaseURL = 'https://example.org/'\n//- content/documentation.md\n# Docs\n//- content/guide/start.md\n[docs](/documentation/) [site](/showcase/)\n",
    );
    assert_eq!(findings(&dir, ".", &[]), Vec::<String>::new());
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    std::fs::create_dir_all(dir.join("content/about")).unwrap();
    dir.git(&["mv", "content/documentation.md", "content/about/documentation.md"]);
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "content/guide/start.md:1 /documentation/ -> /about/documentation/ (high: renamed in git history)"
        ]
    );
}

#[test]
fn list_links_says_where_every_link_leads() {
    let dir = tree(
        "//- README.md\n[a](docs/a.md) [b](nope.md) [c](https://example.com)\n//- docs/a.md\n# A\n",
    );
    let (_, stdout, _) = dir.run(&["check", "--format", "json", "--list-links"]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let links: Vec<String> = json["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{} {} {}",
                l["target"].as_str().unwrap(),
                l["leads_to"].as_str().unwrap(),
                l["path"]
            )
        })
        .collect();
    assert_eq!(
        links,
        [
            "docs/a.md file \"docs/a.md\"",
            "nope.md missing \"nope.md\"",
            "https://example.com external null"
        ]
    );
    let (_, stdout, _) = dir.run(&["check", "--format", "json"]);
    assert!(!stdout.contains("\"leads_to\""), "only on request: {stdout}");
}

#[test]
fn fragments_match_as_github_matches_them_and_a_wrong_one_is_fixed_from_the_anchors() {
    let dir = tree(
        "//- guide.md
# Setup Steps
## Réglages avancés
<a id=\"Custom-Id\"></a>
//- README.md
[case](guide.md#Setup-Steps) [accents](guide.md#R%C3%A9glages-Avanc%C3%A9s)
[html id](guide.md#custom-id) [exact](guide.md#setup-steps)
[case only, elsewhere](guide.md#SETUP-STEPX) [close](guide.md#setup-step)
",
    );
    // GitHub matches fragments whatever their letter case (percent-decoded
    // too); a fragment that matches none is fixed from the page's anchors.
    assert_eq!(
        findings(&dir, ".", &[]),
        [
            "README.md:3 guide.md#SETUP-STEPX -> guide.md#setup-steps (medium: close match of a heading (90% of its words))",
            "README.md:3 guide.md#setup-step -> guide.md#setup-steps (medium: close match of a heading (90% of its words))",
        ]
    );
}
