//! The page cache in `ROOT/.doclinks/cache`: a warm check answers as a cold
//! one does, and edits, renames, deletions, another build of the tool and a
//! damaged or foreign cache file each lead to the right answer, not a stale one.

use std::time::{Duration, SystemTime};

use crate::util::{Dir, check_json, lines_of, tree};

fn json(dir: &Dir, args: &[&str]) -> serde_json::Value {
    check_json(dir, args)
}

/// The findings and counts, without the warnings.
fn answer(value: &serde_json::Value) -> serde_json::Value {
    serde_json::json!([value["summary"], value["findings"], value["site_links"]])
}

fn warnings(value: &serde_json::Value) -> Vec<String> {
    lines_of(value, "warnings", |w| {
        format!("{}: {}", w["path"].as_str().unwrap(), w["message"].as_str().unwrap())
    })
}

/// Sets every page's mtime an hour back: the cache then trusts their stamps
/// (a page changed within two seconds of the cache's write is always re-read).
fn age(dir: &Dir) {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    for entry in walk(dir.path()) {
        let file = std::fs::File::options().append(true).open(&entry).unwrap();
        file.set_modified(hour_ago).unwrap();
    }
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The bytes of every cache shard, concatenated.
fn shards(dir: &Dir) -> Vec<u8> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(".doclinks/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    names.sort();
    names.iter().flat_map(|p| std::fs::read(p).unwrap()).collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

const TREE: &str = "//- README.md
# Home

[guide](docs/guide.md#install) [api](docs/api.md) [gone](docs/nope.md)
//- docs/guide.md
# Guide

## Install

[home](../README.md#home)
//- docs/api.md
# API

[guide](guide.md#configure)
//- docs/orphan.md
# Orphan

Prose that a check does not need, so the cache does not keep it.
";

#[test]
fn a_warm_check_answers_as_a_cold_one_and_git_never_sees_the_cache() {
    let dir = tree(TREE);
    dir.git(&["init", "-q"]);
    age(&dir);
    let cold = json(&dir, &[]);
    assert_eq!(cold["summary"]["broken"], 2, "{cold}");
    let ignore = dir.read(".doclinks/cache/.gitignore");
    assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
    let written = shards(&dir);
    assert!(contains(&written, "docs/orphan.md"));
    assert!(!contains(&written, "Prose that"), "the cache keeps links and anchors, not text");

    let warm = json(&dir, &[]);
    assert_eq!(answer(&warm), answer(&cold));
    assert_eq!(shards(&dir), written, "nothing changed, nothing rewritten");
    let status = std::process::Command::new("git")
        .current_dir(dir.path())
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    let status = String::from_utf8(status.stdout).unwrap();
    assert!(!status.contains(".doclinks"), "{status}");

    // Without the cache: the same answer, and nothing written.
    let plain = tree(TREE);
    let uncached = json(&plain, &["--no-cache"]);
    assert_eq!(answer(&uncached), answer(&cold));
    assert!(!plain.join(".doclinks").exists());
}

#[test]
fn an_edit_is_seen_even_when_the_stamp_was_trusted() {
    let dir = tree(TREE);
    age(&dir);
    json(&dir, &[]);
    // The heading the README links to goes; the page keeps an old mtime
    // (as a checkout or a copy that keeps times would), but not its size.
    dir.write("docs/guide.md", "# Guide\n\n## Installation\n\n[home](../README.md#home)\n");
    let file = std::fs::File::options().append(true).open(dir.join("docs/guide.md")).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(1800)).unwrap();
    let value = json(&dir, &[]);
    let targets: Vec<&str> = value["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["docs/guide.md#install", "docs/nope.md", "guide.md#configure"]);
    assert_eq!(answer(&value), answer(&json(&tree_like(&dir), &["--no-cache"])));
}

/// A copy of `dir`'s pages in a fresh directory.
fn tree_like(dir: &Dir) -> Dir {
    let copy = tree("");
    for path in walk(dir.path()) {
        let rel = path.strip_prefix(dir.path()).unwrap().to_str().unwrap().to_owned();
        copy.write(&rel, &std::fs::read_to_string(&path).unwrap());
    }
    copy
}

#[test]
fn renamed_and_deleted_pages_leave_the_cache() {
    let dir = tree(TREE);
    age(&dir);
    json(&dir, &[]);
    std::fs::rename(dir.join("docs/api.md"), dir.join("docs/reference.md")).unwrap();
    std::fs::remove_file(dir.join("docs/guide.md")).unwrap();
    assert!(contains(&shards(&dir), "docs/orphan.md"));
    std::fs::remove_file(dir.join("docs/orphan.md")).unwrap();
    let value = json(&dir, &[]);
    let found = lines_of(&value, "findings", |f| {
        format!("{} {}", f["file"].as_str().unwrap(), f["target"].as_str().unwrap())
    });
    assert_eq!(
        found,
        [
            "README.md docs/guide.md#install",
            "README.md docs/api.md",
            "README.md docs/nope.md",
            "docs/reference.md guide.md#configure",
        ]
    );
    let written = shards(&dir);
    assert!(contains(&written, "docs/reference.md"));
    assert!(!contains(&written, "docs/orphan.md"), "a deleted page leaves the cache");
    assert_eq!(answer(&value), answer(&json(&tree_like(&dir), &["--no-cache"])));
}

#[test]
fn another_build_of_the_tool_rebuilds_the_cache_quietly() {
    let dir = tree(TREE);
    age(&dir);
    let first = json(&dir, &[]);
    let before = shards(&dir);
    // A copy of the binary is another build: its own size and time are in
    // the cache's key.
    let tools = tree("");
    let copy = tools.join("doclinks");
    std::fs::copy(env!("CARGO_BIN_EXE_doclinks"), &copy).unwrap();
    let file = std::fs::File::options().append(true).open(&copy).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(7200)).unwrap();
    drop(file);
    let out = std::process::Command::new(&copy)
        .current_dir(dir.path())
        .args(["check", "--format", "json"])
        .output()
        .unwrap();
    let other: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(answer(&other), answer(&first));
    assert!(warnings(&other).is_empty(), "{:?}", warnings(&other));
    let rebuilt = shards(&dir);
    assert_ne!(rebuilt, before, "rebuilt under the other build's key");
    // And back: this build rebuilds it again, with the same answer; then it
    // is its own cache again, and a further check writes nothing.
    assert_eq!(answer(&json(&dir, &[])), answer(&first));
    let back = shards(&dir);
    assert_ne!(back, rebuilt);
    json(&dir, &[]);
    assert_eq!(shards(&dir), back);
}

/// The cache's files (pages and results), in name order; at least two.
fn cache_files(dir: &Dir) -> Vec<std::path::PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(".doclinks/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    names
}

#[test]
fn a_damaged_or_foreign_cache_file_is_a_warning_and_is_rebuilt() {
    let dir = tree(TREE);
    age(&dir);
    let first = json(&dir, &[]);
    let names = cache_files(&dir);
    // One file with a byte flipped, one replaced by something else entirely.
    let mut bytes = std::fs::read(&names[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    std::fs::write(&names[0], bytes).unwrap();
    std::fs::write(&names[1], "{\"not\": \"a cache\"}\n").unwrap();

    let value = json(&dir, &[]);
    assert_eq!(answer(&value), answer(&first));
    let shown = warnings(&value);
    assert_eq!(shown.len(), 2, "{shown:?}");
    let name = |p: &std::path::Path| p.file_name().unwrap().to_string_lossy().into_owned();
    assert!(shown[0].contains(&name(&names[0])) && shown[0].contains("damaged"), "{shown:?}");
    assert!(shown[1].contains(&name(&names[1])) && shown[1].contains("not a doclinks cache"));
    assert!(shown.iter().all(|w| w.ends_with("the cache file is ignored and rebuilt")));
    // Rebuilt: the next check has nothing to say about it.
    assert!(warnings(&json(&dir, &[])).is_empty());
}

#[test]
fn a_fifo_or_symlink_in_place_of_a_cache_file_is_replaced_not_followed() {
    let dir = tree(TREE);
    age(&dir);
    let first = json(&dir, &[]);
    let names = cache_files(&dir);
    // A FIFO where a pages file was, a symlink to a file outside the tree
    // where a results file was.
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(outside.path(), "not the cache's\n").unwrap();
    let (fifo, link) = (&names[0], names.last().unwrap());
    std::fs::remove_file(fifo).unwrap();
    let made = std::process::Command::new("mkfifo").arg(fifo).status().unwrap();
    assert!(made.success());
    std::fs::remove_file(link).unwrap();
    std::os::unix::fs::symlink(outside.path(), link).unwrap();

    let value = json(&dir, &[]);
    assert_eq!(answer(&value), answer(&first));
    assert_eq!(warnings(&value).len(), 2, "{:?}", warnings(&value));
    // Replaced by regular files: the next check has nothing to say, and the
    // file the symlink led to is as it was.
    for name in [fifo, link] {
        let kind = std::fs::symlink_metadata(name).unwrap().file_type();
        assert!(kind.is_file(), "{name:?} is {kind:?}");
    }
    assert_eq!(std::fs::read_to_string(outside.path()).unwrap(), "not the cache's\n");
    let again = json(&dir, &[]);
    assert!(warnings(&again).is_empty(), "{:?}", warnings(&again));
    assert_eq!(answer(&again), answer(&first));
}

/// The results cache files, in name order.
fn results_files(dir: &Dir) -> Vec<std::path::PathBuf> {
    let mut names: Vec<_> = std::fs::read_dir(dir.join(".doclinks/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("results-"))
        .collect();
    names.sort();
    names
}

/// The results cache files' bytes, concatenated.
fn results_file(dir: &Dir) -> Vec<u8> {
    results_files(dir).iter().flat_map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn an_unchanged_page_is_answered_anew_when_what_its_links_depend_on_changes() {
    let dir = tree(TREE);
    dir.git(&["init", "-q"]);
    age(&dir);
    let first = json(&dir, &[]);
    let written = results_file(&dir);
    assert_eq!(answer(&json(&dir, &[])), answer(&first));
    assert_eq!(results_file(&dir), written, "nothing changed, nothing rewritten");
    let fresh = |dir: &Dir| answer(&json(&tree_like(dir), &["--no-cache"]));

    // A heading the unchanged api.md links to appears in the page it links into.
    dir.write(
        "docs/guide.md",
        "# Guide\n\n## Install\n\n## Configure\n\n[home](../README.md#home)\n",
    );
    age(&dir);
    let value = json(&dir, &[]);
    assert_eq!(answer(&value), fresh(&dir));
    assert_eq!(value["summary"]["broken"], 1, "{value}");

    // The configuration changes: every page is judged under the new one.
    dir.write("doclinks.toml", "[[ignore]]\ntarget = \"docs/nope.md\"\nreason = \"soon\"\n");
    let value = json(&dir, &[]);
    assert_eq!(
        (value["summary"]["broken"].as_u64(), value["summary"]["ignored"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(answer(&value), fresh(&dir));

    // A missing file appears: README.md's link to it works now.
    dir.write("docs/nope.md", "# Here now\n");
    age(&dir);
    let value = json(&dir, &[]);
    assert_eq!(
        (value["summary"]["broken"].as_u64(), value["summary"]["ignored"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(answer(&value), fresh(&dir));
}

#[test]
fn a_hidden_redirect_map_the_site_reads_is_part_of_every_pages_answer() {
    let dir = tree(
        "//- .openpublishing.publish.config.json
{\"docsets_to_publish\": [{\"build_source_folder\": \"articles\"}], \"redirection_files\": [\"redir/.openpublishing.redirection.json\"]}
//- redir/.openpublishing.redirection.json
{\"redirections\": [{\"source_path\": \"../articles/old-topic.md\", \"redirect_url\": \"/product/new-topic\"}]}
//- articles/docfx.json
{\"build\": {\"content\": [{\"files\": [\"**/*.md\"]}]}}
//- articles/index.md
[docfx](old-topic.md)
//- articles/new-topic.md
# New
",
    );
    age(&dir);
    let value = json(&dir, &[]);
    assert_eq!(
        (value["summary"]["broken"].as_u64(), value["summary"]["redirected"].as_u64()),
        (Some(0), Some(1))
    );
    // The walk skips the hidden map; its bytes are in the results' key all the same.
    dir.write("redir/.openpublishing.redirection.json", "{\"redirections\": []}\n");
    age(&dir);
    let value = json(&dir, &[]);
    assert_eq!(
        (value["summary"]["broken"].as_u64(), value["summary"]["redirected"].as_u64()),
        (Some(1), Some(0))
    );
}

#[test]
fn a_damaged_results_file_is_a_warning_and_is_rebuilt() {
    let dir = tree(TREE);
    age(&dir);
    let first = json(&dir, &[]);
    let path = results_files(&dir)[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let value = json(&dir, &[]);
    assert_eq!(answer(&value), answer(&first));
    let shown = warnings(&value);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(shown[0].contains(&name) && shown[0].contains("damaged"), "{shown:?}");
    assert!(warnings(&json(&dir, &[])).is_empty(), "rebuilt");
    std::fs::write(&path, "PK\u{3}\u{4} not a cache").unwrap();
    let shown = warnings(&json(&dir, &[]));
    assert!(shown.len() == 1 && shown[0].contains("not a doclinks results cache"), "{shown:?}");
}

#[test]
fn a_link_outside_the_walk_or_to_a_folder_is_answered_anew_when_that_changes() {
    let dir = tree(
        "//- README.md
# Home

[owners](.github/CODEOWNERS) [assets](assets/)
//- .github/CODEOWNERS
* @team
",
    );
    age(&dir);
    let first = json(&dir, &[]);
    let targets = |value: &serde_json::Value| {
        lines_of(value, "findings", |f| f["target"].as_str().unwrap().to_owned())
    };
    assert_eq!(targets(&first), ["assets/"], "{first}");
    assert_eq!(targets(&json(&dir, &[])), ["assets/"], "warm");
    // A hidden file the walk never lists goes: the README's unchanged link
    // breaks. A folder appears: the link to it works.
    std::fs::remove_file(dir.join(".github/CODEOWNERS")).unwrap();
    std::fs::create_dir(dir.join("assets")).unwrap();
    let value = json(&dir, &[]);
    assert_eq!(targets(&value), [".github/CODEOWNERS"], "{value}");
    assert_eq!(answer(&value), answer(&json(&dir, &["--no-cache"])));
}
