//! An adversarial pass over the results cache: each test checks a tree (the
//! cache is written), changes one thing a page's findings may depend on
//! without touching that page, and asserts that the warm check answers
//! exactly as `--no-cache` does on the same tree.

use std::time::{Duration, SystemTime};

use crate::util::{Dir, check_json, tree};

/// Sets the mtime of every file, hidden ones too (`.gitignore`), an hour
/// back, so that the cache trusts the stamps and a stale answer cannot hide
/// behind a racy one. The cache's folder and git's are left alone (git keeps
/// its index itself).
fn age(dir: &Dir) {
    let back = SystemTime::now() - Duration::from_secs(3600);
    for path in walk(dir.path()) {
        if let Ok(file) = std::fs::File::options().append(true).open(&path) {
            file.set_modified(back).unwrap();
        }
    }
}

/// The files below `root` (symlinks and the cache's and git's folders apart).
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![root.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap_or_default();
            if name == ".doclinks" || name == ".git" || path.is_symlink() {
                continue;
            }
            if path.is_dir() { folders.push(path) } else { files.push(path) }
        }
    }
    files
}

/// Replaces `from` (which must be there) with `to` in the file `rel`.
fn edit(dir: &Dir, rel: &str, from: &str, to: &str) {
    let text = dir.read(rel);
    assert!(text.contains(from), "{rel} has no {from:?}");
    dir.write(rel, &text.replace(from, to));
}

/// Makes `dir` a git repository with everything in it committed.
fn commit_all(dir: &Dir) {
    dir.git(&["init", "-q", "-b", "main"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
}

/// Asserts that a check with `args` answers the same warm and cold, warnings
/// included, and returns the answer.
fn same_warm_and_cold(dir: &Dir, args: &[&str]) -> serde_json::Value {
    let warm = check_json(dir, args);
    let mut cold_args = args.to_vec();
    cold_args.push("--no-cache");
    let cold = check_json(dir, &cold_args);
    assert_eq!(warm, cold, "warm (left) and --no-cache (right) differ");
    warm
}

/// Ages the tree, then [`same_warm_and_cold`].
fn checked(dir: &Dir, args: &[&str]) -> serde_json::Value {
    age(dir);
    same_warm_and_cold(dir, args)
}

/// Makes `link` a symlink to `to`, in place of what was there.
#[cfg(unix)]
fn symlink(dir: &Dir, link: &str, to: &str) {
    let _ = std::fs::remove_file(dir.join(link));
    std::os::unix::fs::symlink(to, dir.join(link)).unwrap();
}

/// Checks `fixture` once (the cache is written), lets `change` edit it, ages
/// the tree and asserts the warm answer is the cold one.
fn after(fixture: &str, args: &[&str], change: impl FnOnce(&Dir)) -> serde_json::Value {
    let dir = tree(fixture);
    checked(&dir, args);
    change(&dir);
    checked(&dir, args)
}

fn broken(value: &serde_json::Value) -> u64 {
    value["summary"]["broken"].as_u64().unwrap()
}

const DOCFX: &str = r#"//- docs/docfx.json
{"build": {"content": [{"files": ["**/*.md"], "exclude": ["**/includes/**"], "src": "."}]}}
//- docs/a.md
# A

[!INCLUDE [shared](includes/inc.md)]
//- docs/b.md
# B

[shared](a.md#shared-steps)
//- docs/includes/inc.md
## Other steps
"#;

#[test]
fn a_docfx_include_gaining_the_named_heading() {
    let value = after(DOCFX, &[], |dir| dir.write("docs/includes/inc.md", "## Shared steps\n"));
    assert_eq!(broken(&value), 0, "{value}");
}

#[test]
fn a_docfx_include_losing_the_named_heading() {
    let fixture = DOCFX.replace("## Other steps", "## Shared steps");
    let value = after(&fixture, &[], |dir| dir.write("docs/includes/inc.md", "## Other steps\n"));
    assert_eq!(broken(&value), 1, "{value}");
}

#[test]
fn a_nested_docfx_include_changing() {
    let fixture = DOCFX.replace(
        "## Other steps\n",
        "# Inc\n\n[!INCLUDE [deeper](deeper.md)]\n//- docs/includes/deeper.md\n## Other steps\n",
    );
    let value =
        after(&fixture, &[], |dir| dir.write("docs/includes/deeper.md", "## Shared steps\n"));
    assert_eq!(broken(&value), 0, "{value}");
}

#[test]
fn a_docfx_include_the_config_excludes_changing() {
    let fixture = format!("//- doclinks.toml\nexclude = [\"docs/includes/**\"]\n{DOCFX}");
    after(&fixture, &[], |dir| dir.write("docs/includes/inc.md", "## Shared steps\n"));
}

#[test]
fn a_docfx_include_appearing() {
    let fixture = DOCFX.replace("//- docs/includes/inc.md\n## Other steps\n", "");
    after(&fixture, &[], |dir| dir.write("docs/includes/inc.md", "## Shared steps\n"));
}

const HUGO: &str = r#"//- hugo.toml
baseURL = "https://example.org/"
//- content/_index.md
# Home
//- content/guide/a.md
---
title: A
---
# A

{{% include "/_common/shared.md" %}}
//- content/_common/shared.md
## Other section
//- content/guide/b.md
---
title: B
aliases: [/old-b/]
---
# B

- [included](/guide/a/#shared-section)
- [file](a.md#shared-section)
"#;

#[test]
fn a_hugo_include_gaining_the_named_heading() {
    after(HUGO, &[], |dir| dir.write("content/_common/shared.md", "## Shared section\n"));
}

#[test]
fn hugo_aliases_changing_for_a_page_another_links_by_url() {
    let fixture = format!("{HUGO}//- content/c.md\n# C\n\n[old](/old-b/)\n");
    let value = after(&fixture, &[], |dir| {
        edit(dir, "content/guide/b.md", "/old-b/", "/new-b/");
    });
    assert!(broken(&value) >= 1, "{value}");
}

const MDBOOK: &str = r#"//- book.toml
[book]
title = "Book"
//- src/SUMMARY.md
- [A](a.md)
- [B](b.md)
//- src/a.md
# A

{{#include inc.md}}
//- src/inc.md
## Other
//- src/b.md
# B

[included](a.md#shared)
"#;

#[test]
fn an_mdbook_include_gaining_the_named_heading() {
    after(MDBOOK, &[], |dir| dir.write("src/inc.md", "## Shared\n"));
}

#[test]
fn an_mdbook_redirect_edited_to_the_same_size() {
    let fixture = MDBOOK.replace(
        "title = \"Book\"\n",
        "title = \"Book\"\n[output.html.redirect]\n\"old.html\" = \"b.html\"\n",
    ) + "//- src/c.md\n# C\n\n[old](old.html)\n";
    after(&fixture, &[], |dir| {
        edit(dir, "book.toml", "\"b.html\"", "\"x.html\"");
    });
}

const DOCUSAURUS: &str = r#"//- docusaurus.config.js
module.exports = {
  title: 'Site', url: 'https://example.com', baseUrl: '/',
  presets: [['classic', { docs: { path: 'docs' } }]],
};
//- docs/intro.md
# Intro

- [by slug](/docs/start#setup)
- [by id](other-id)
//- docs/guide.md
---
id: other-id
slug: /start
---
# Guide

## Setup
"#;

#[test]
fn a_docusaurus_slug_changing() {
    let value = after(DOCUSAURUS, &[], |dir| {
        edit(dir, "docs/guide.md", "/start", "/begin");
    });
    assert!(broken(&value) >= 1, "{value}");
}

#[test]
fn a_docusaurus_id_changing() {
    after(DOCUSAURUS, &[], |dir| {
        edit(dir, "docs/guide.md", "other-id", "another");
    });
}

#[test]
fn a_docusaurus_config_moving_the_docs_route() {
    after(DOCUSAURUS, &[], |dir| {
        let text = dir
            .read("docusaurus.config.js")
            .replace("path: 'docs'", "path: 'docs', routeBasePath: 'd'");
        dir.write("docusaurus.config.js", &text);
    });
}

#[test]
fn a_docusaurus_partial_gaining_the_named_heading() {
    let fixture = format!(
        "{DOCUSAURUS}//- docs/page.mdx\nimport Part from './_part.mdx';\n\n# Page\n\n<Part />\n//- docs/_part.mdx\n## Other\n//- docs/link.md\n# Link\n\n[part](page.mdx#shared)\n"
    );
    after(&fixture, &[], |dir| dir.write("docs/_part.mdx", "## Shared\n"));
}

const MKDOCS: &str = r#"//- mkdocs.yml
site_name: x
plugins:
  - redirects:
      redirect_maps:
        'old.md': 'setup.md'
//- docs/index.md
# Home

[old](old.md) [setup](setup.md#intro)
//- docs/setup.md
# Setup

## Intro
//- docs/other.md
# Other
"#;

#[test]
fn a_mkdocs_redirect_map_edited_to_the_same_size() {
    after(MKDOCS, &[], |dir| {
        edit(dir, "mkdocs.yml", "'setup.md'", "'gone.md'");
    });
}

#[test]
fn a_mkdocs_docs_dir_moving() {
    after(MKDOCS, &[], |dir| {
        edit(dir, "mkdocs.yml", "site_name: x", "site_name: x\ndocs_dir: site");
    });
}

#[test]
fn a_netlify_redirect_edited() {
    let fixture = "//- _redirects\n/old /new.html 301\n//- new.md\n# New\n//- index.md\n# Home\n\n[old](/old)\n";
    after(fixture, &[], |dir| dir.write("_redirects", "/olx /new.html 301\n"));
}

#[test]
fn a_docfx_toc_edited() {
    let fixture =
        format!("{DOCFX}//- docs/toc.yml\n- name: A\n  href: a.md\n- name: B\n  href: b.md\n");
    after(&fixture, &[], |dir| {
        dir.write("docs/toc.yml", "- name: A\n  href: a.md\n- name: B\n  href: x.md\n")
    });
}

const PLAIN: &str = "//- README.md
# Home

[guide](docs/guide.md#install) [gone](docs/nope.md) [case](docs/Guide.md)
//- docs/guide.md
# Guide

## Install

[self](#install) [self by name](guide.md#install) [home](../README.md#home)
//- docs/api.md
# API
";

#[test]
fn doclinks_toml_exclude_edited() {
    let fixture = format!("//- doclinks.toml\nexclude = [\"docs/api.md\"]\n{PLAIN}");
    after(&fixture, &[], |dir| dir.write("doclinks.toml", "exclude = [\"docs/guide.md\"]\n"));
}

#[test]
fn doclinks_toml_ignore_edited() {
    let fixture = format!(
        "//- doclinks.toml\n[[ignore]]\ntarget = \"docs/nope.md\"\nreason = \"soon\"\n{PLAIN}"
    );
    after(&fixture, &[], |dir| {
        dir.write("doclinks.toml", "[[ignore]]\ntarget = \"docs/nop.md\"\nreason = \"soon\"\n");
    });
}

#[test]
fn doclinks_toml_redirects_edited() {
    let fixture =
        format!("//- doclinks.toml\n[redirects]\n\"docs/nope.md\" = \"docs/api.md\"\n{PLAIN}");
    after(&fixture, &[], |dir| {
        dir.write("doclinks.toml", "[redirects]\n\"docs/nope.md\" = \"docs/apx.md\"\n")
    });
}

#[test]
fn another_config_file_given() {
    let fixture = format!(
        "//- one.toml\n[[ignore]]\ntarget = \"docs/nope.md\"\nreason = \"soon\"\n//- two.toml\nmax_file_size = 100000\n{PLAIN}"
    );
    let dir = tree(&fixture);
    checked(&dir, &["--config", "one.toml"]);
    same_warm_and_cold(&dir, &["--config", "two.toml"]);
    // The same name, other contents.
    dir.write("one.toml", "max_file_size = 100001\n");
    checked(&dir, &["--config", "one.toml"]);
}

#[test]
fn a_platform_given_then_not() {
    let dir = tree(MKDOCS);
    checked(&dir, &[]);
    same_warm_and_cold(&dir, &["--platform", "github"]);
    same_warm_and_cold(&dir, &["--platform", "docfx"]);
    same_warm_and_cold(&dir, &[]);
}

#[test]
fn a_gitignore_hiding_then_revealing_a_page() {
    let dir = tree(PLAIN);
    dir.git(&["init", "-q"]);
    checked(&dir, &[]);
    dir.write(".gitignore", "docs/guide.md\n");
    checked(&dir, &[]);
    dir.write(".gitignore", "docs/api.md\n");
    checked(&dir, &[]);
    dir.write(".gitignore", "\n");
    checked(&dir, &[]);
}

#[test]
fn a_link_to_a_hidden_file_that_appears() {
    let fixture = "//- .gitignore\nbuild/\n//- index.md\n# Home\n\n[out](build/out.md#x) [hidden](.notes/n.md)\n";
    let dir = tree(fixture);
    dir.git(&["init", "-q"]);
    checked(&dir, &[]);
    dir.write("build/out.md", "# X\n");
    dir.write(".notes/n.md", "# N\n");
    checked(&dir, &[]);
}

#[cfg(unix)]
#[test]
fn a_symlinked_page_retargeted() {
    let dir =
        tree("//- index.md\n# Home\n\n[link](link.md#two)\n//- one.md\n# One\n//- two.md\n# Two\n");
    symlink(&dir, "link.md", "one.md");
    checked(&dir, &[]);
    symlink(&dir, "link.md", "two.md");
    checked(&dir, &[]);
}

#[cfg(unix)]
#[test]
fn a_symlinked_folder_retargeted() {
    let dir = tree(
        "//- index.md\n# Home\n\n[link](docs/page.md#two)\n//- one/page.md\n# One\n//- two/page.md\n# Two\n",
    );
    symlink(&dir, "docs", "one");
    checked(&dir, &[]);
    symlink(&dir, "docs", "two");
    checked(&dir, &[]);
}

#[test]
fn a_case_only_rename() {
    let fixture =
        "//- index.md\n# Home\n\n[g](guide.md#install)\n//- Guide.md\n# Guide\n\n## Install\n";
    after(fixture, &[], |dir| std::fs::rename(dir.join("Guide.md"), dir.join("guide.md")).unwrap());
}

#[test]
fn a_file_becoming_a_folder_of_the_same_name() {
    let fixture = "//- index.md\n# Home\n\n[x](guide) [y](guide/) [z](guide/index.md)\n//- guide\nplain file\n";
    after(fixture, &[], |dir| {
        std::fs::remove_file(dir.join("guide")).unwrap();
        dir.write("guide/index.md", "# Guide\n");
    });
}

#[test]
fn a_folder_gaining_an_index() {
    let fixture = "//- index.md\n# Home\n\n[x](guide/) [y](guide)\n//- guide/a.md\n# A\n";
    after(fixture, &[], |dir| dir.write("guide/README.md", "# Guide\n"));
}

#[test]
fn git_renames_staged_committed_and_checked_out() {
    let dir = tree("//- index.md\n# Home\n\n[old](old-name.md)\n//- old-name.md\n# Old\n");
    commit_all(&dir);
    checked(&dir, &[]);
    dir.git(&["mv", "old-name.md", "brand-new.md"]);
    checked(&dir, &[]);
    dir.git(&["commit", "-q", "-m", "two"]);
    checked(&dir, &[]);
    dir.git(&["checkout", "-q", "-b", "other", "HEAD~1"]);
    checked(&dir, &[]);
    dir.git(&["checkout", "-q", "main"]);
    checked(&dir, &[]);
}

#[test]
fn a_page_turning_non_utf8_then_fixed() {
    let dir = tree(PLAIN);
    checked(&dir, &[]);
    std::fs::write(dir.join("docs/guide.md"), b"# Guide\n\n## Install\xff\xfe\n").unwrap();
    checked(&dir, &[]);
    dir.write("docs/guide.md", "# Guide\n\n## Install\n");
    checked(&dir, &[]);
}

#[test]
fn a_self_link_whose_heading_changes() {
    after(PLAIN, &[], |dir| {
        edit(dir, "docs/guide.md", "## Install", "## Setup");
    });
}

#[test]
fn checks_of_other_paths_in_between() {
    let dir = tree(PLAIN);
    checked(&dir, &["README.md"]);
    same_warm_and_cold(&dir, &["docs"]);
    dir.write("docs/guide.md", "# Guide\n\n## Installing\n");
    checked(&dir, &["docs/api.md"]);
    same_warm_and_cold(&dir, &["README.md"]);
    same_warm_and_cold(&dir, &[]);
}

#[test]
fn an_html_page_losing_the_named_id() {
    let fixture =
        "//- index.md\n# Home\n\n[x](page.html#here)\n//- page.html\n<h2 id=\"here\">x</h2>\n";
    after(fixture, &[], |dir| dir.write("page.html", "<h2 id=\"hern\">x</h2>\n"));
}

/// Refreshes git's index for the aged files and dates it after them, so that
/// no check's own git run rewrites it (as `git status` does for racy entries).
fn settle_git_index(dir: &Dir) {
    dir.git(&["update-index", "-q", "--refresh"]);
    let file = std::fs::File::options().append(true).open(dir.join(".git/index")).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(1800)).unwrap();
}

#[test]
fn lossy_binary_and_oversized_pages_checked_warm_twice() {
    let dir = tree(
        "//- doclinks.toml\nmax_file_size = 300\n//- index.md\n# Home\n\n[a](lossy.md#one) [b](binary.md#x) [c](big.md#y)\n",
    );
    std::fs::write(dir.join("lossy.md"), b"# One\n\n\xff [x](nope.md)\n").unwrap();
    std::fs::write(dir.join("binary.md"), b"# X\n\0\n").unwrap();
    dir.write("big.md", &format!("# Y\n\n{}\n", "z".repeat(400)));
    checked(&dir, &[]);
    let value = same_warm_and_cold(&dir, &[]);
    assert_eq!(value["warnings"].as_array().unwrap().len(), 3, "{value}");
}

#[test]
fn text_then_json() {
    let dir = tree(PLAIN);
    age(&dir);
    dir.run(&["check"]);
    dir.run(&["check", "--format", "markdown"]);
    same_warm_and_cold(&dir, &[]);
}

#[test]
fn changed_since_a_revision_that_moves() {
    let dir = tree(PLAIN);
    commit_all(&dir);
    dir.write("docs/api.md", "# API\n\n[new](gone.md)\n");
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "two"]);
    dir.git(&["tag", "base"]);
    checked(&dir, &["--changed-since", "base"]);
    dir.git(&["tag", "-f", "base", "HEAD~1"]);
    same_warm_and_cold(&dir, &["--changed-since", "base"]);
    same_warm_and_cold(&dir, &[]);
}

#[test]
fn a_hugo_url_front_matter_taking_a_route() {
    let fixture = format!(
        "{HUGO}//- content/c.md\n# C\n\n[by url](/guide/a/#shared-section) [x](/special/)\n"
    );
    after(&fixture, &[], |dir| {
        edit(dir, "content/guide/b.md", "aliases: [/old-b/]", "url: /special/");
    });
}

#[test]
fn an_anchor_behind_a_configured_redirect() {
    let fixture = "//- doclinks.toml\n[redirects]\n\"old.md\" = \"new.md\"\n//- index.md\n# Home\n\n[old](old.md#setup)\n//- new.md\n# New\n\n## Setup\n";
    after(fixture, &[], |dir| dir.write("new.md", "# New\n\n## Set up\n"));
}

#[test]
fn an_anchor_behind_a_docusaurus_route() {
    after(DOCUSAURUS, &[], |dir| {
        edit(dir, "docs/guide.md", "## Setup", "## Set up");
    });
}

#[test]
fn an_anchor_behind_a_mkdocs_directory_url() {
    let fixture = format!(
        "{MKDOCS}//- docs/more.md\n# More\n\n[dir url](setup/#intro) [redirected](old.md#intro)\n"
    );
    after(&fixture, &[], |dir| dir.write("docs/setup.md", "# Setup\n\n## Introduction\n"));
}

#[test]
fn a_heading_reworded_in_git_then_committed() {
    let dir = tree(
        "//- index.md\n# Home\n\n[g](guide.md#install)\n//- guide.md\n# Guide\n\n## Install\n",
    );
    commit_all(&dir);
    dir.write("guide.md", "# Guide\n\n## Installing it\n");
    age(&dir);
    settle_git_index(&dir);
    same_warm_and_cold(&dir, &[]);
    dir.git(&["commit", "-q", "-am", "two"]);
    age(&dir);
    settle_git_index(&dir);
    same_warm_and_cold(&dir, &[]);
}

/// An HTML page in a symlinked folder whose target the walk does not see (so
/// neither sees the page, and its fragments are not judged).
#[cfg(unix)]
#[test]
fn an_html_page_in_a_symlinked_folder_changing() {
    let dir = tree(
        "//- index.md\n# Home\n\n[b](site/page.html#here)\n//- .build/page.html\n<h2 id=\"here\">x</h2>\n",
    );
    symlink(&dir, "site", ".build");
    checked(&dir, &[]);
    dir.write(".build/page.html", "<h2 id=\"hern\">x</h2>\n");
    checked(&dir, &[]);
}

// Stale answers the adversarial pass found, each fixed since (ctime in the
// stamp, symlinked files stamped through the link, pending renames in git).
const SIMILAR: &str = "# Old\n\nSome text that makes the page long enough\nfor git to see a rename by similarity.\nLine three.\nLine four.\n";
const OTHER: &str = "# Wholly other\n\nNothing alike at all here.\nZ\nY\nX\nW\n";

/// A staged `git mv` whose new file's working copy then stops (or starts)
/// looking like the old one: git's rename detection (`git diff HEAD -M`)
/// reads the working tree, and neither HEAD nor the index changes.
#[test]
fn a_staged_rename_whose_working_copy_changes() {
    let dir =
        tree(&format!("//- index.md\n# Home\n\n[old](old-name.md)\n//- old-name.md\n{SIMILAR}"));
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    dir.git(&["mv", "old-name.md", "brand-new.md"]);
    dir.write("brand-new.md", OTHER);
    age(&dir);
    settle_git_index(&dir);
    let before = same_warm_and_cold(&dir, &[]);
    assert!(before["findings"][0]["fix"].is_null(), "{before}");
    dir.write("brand-new.md", SIMILAR);
    age(&dir);
    let after = same_warm_and_cold(&dir, &[]);
    assert_eq!(after["findings"][0]["fix"]["new_target"], "brand-new.md", "{after}");
}

/// An HTML page that is a symlink to a file the walk does not see (a hidden
/// build folder): its anchors change with its target's bytes.
#[cfg(unix)]
#[test]
fn a_symlinked_html_page_whose_target_changes() {
    let dir = tree(
        "//- index.md\n# Home\n\n[b](page.html#here)\n//- .build/one.html\n<h2 id=\"here\">x</h2>\n//- .build/two.html\n<h2 id=\"here\">y</h2>\n",
    );
    std::os::unix::fs::symlink(".build/one.html", dir.join("page.html")).unwrap();
    age(&dir);
    same_warm_and_cold(&dir, &[]);
    dir.write(".build/one.html", "<h2 id=\"hern\">x</h2>\n");
    age(&dir);
    let value = same_warm_and_cold(&dir, &[]);
    assert_eq!(broken(&value), 1, "{value}");
}

/// The same, the link retargeted.
#[cfg(unix)]
#[test]
fn a_symlinked_html_page_retargeted() {
    let dir = tree(
        "//- index.md\n# Home\n\n[b](page.html#here)\n//- .build/one.html\n<h2 id=\"here\">x</h2>\n//- .build/two.html\n<h2 id=\"hern\">y</h2>\n",
    );
    std::os::unix::fs::symlink(".build/one.html", dir.join("page.html")).unwrap();
    age(&dir);
    same_warm_and_cold(&dir, &[]);
    std::fs::remove_file(dir.join("page.html")).unwrap();
    std::os::unix::fs::symlink(".build/two.html", dir.join("page.html")).unwrap();
    age(&dir);
    let value = same_warm_and_cold(&dir, &[]);
    assert_eq!(broken(&value), 1, "{value}");
}

/// A page rewritten in place (same inode), to the same size, its mtime set
/// back to what it was (`touch -r`, `rsync --inplace --times`): only the
/// change time tells.
#[test]
fn a_page_rewritten_in_place_with_its_mtime_restored() {
    let dir = tree(
        "//- index.md\n# Home\n\n[g](guide.md#install)\n//- guide.md\n# Guide\n\n## Install\n",
    );
    age(&dir);
    same_warm_and_cold(&dir, &[]);
    let path = dir.join("guide.md");
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    dir.write("guide.md", "# Guide\n\n## Instant\n");
    std::fs::File::options().append(true).open(&path).unwrap().set_modified(mtime).unwrap();
    let value = same_warm_and_cold(&dir, &[]);
    assert_eq!(broken(&value), 1, "{value}");
}

/// Fails only when not run as root (root reads a mode-000 file).
#[cfg(unix)]
#[test]
fn a_page_made_unreadable_then_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree(PLAIN);
    checked(&dir, &[]);
    let path = dir.join("docs/guide.md");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    same_warm_and_cold(&dir, &[]);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    same_warm_and_cold(&dir, &[]);
}
