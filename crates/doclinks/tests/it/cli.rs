//! The `check` command on fixture trees: every link form, every finding kind,
//! every fix class, exit codes, help, and bad input. Data-driven through `check`.

use crate::util::{Dir, tree};

/// Runs `doclinks check --format json ARGS` and lists the findings as
/// `file:line:col kind target -> new (confidence: reason)`.
fn check(dir: &Dir, args: &[&str]) -> Vec<String> {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (_, stdout, stderr) = dir.run(&all);
    let json: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"));
    json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut line = format!(
                "{}:{}:{} {} {}",
                f["file"].as_str().unwrap(),
                f["line"],
                f["column"],
                f["kind"].as_str().unwrap(),
                f["target"].as_str().unwrap()
            );
            if !f["fix"].is_null() {
                line.push_str(&format!(
                    " -> {} ({}: {})",
                    f["fix"]["new_target"].as_str().unwrap(),
                    f["fix"]["confidence"].as_str().unwrap(),
                    f["fix"]["reason"].as_str().unwrap()
                ));
            }
            line
        })
        .collect()
}

#[test]
fn every_link_form_is_checked() {
    let dir = tree(
        "//- README.md
Inline [a](missing-inline.md), image ![i](missing.png), <https://example.com>,
reference [r][def] and [def], www.example.com, autolink <mailto:x@example.com>.

<p><a href=\"missing-html.md\">x</a><img src='missing.svg'></p>

Inline html <a href=\"missing-inline-html.md\">y</a>.

[def]: missing-def.md
",
    );
    assert_eq!(
        check(&dir, &[]),
        [
            "README.md:1:12 missing_file missing-inline.md",
            "README.md:1:43 missing_file missing.png",
            "README.md:4:13 missing_file missing-html.md",
            "README.md:4:45 missing_file missing.svg",
            "README.md:6:22 missing_file missing-inline-html.md",
            "README.md:8:8 missing_file missing-def.md",
        ]
    );
}

#[test]
fn nothing_from_code_blocks_code_spans_or_front_matter() {
    let dir = tree(
        "//- README.md
---
see: [x](front.md)
---
```md
[a](fenced.md)
<a href=\"fenced.html\">
```

    [b](indented.md)

`[c](span.md)` and ``<a href=\"span2.md\">``
",
    );
    assert_eq!(check(&dir, &[]), Vec::<String>::new());
}

#[test]
fn every_finding_kind() {
    let dir = tree(
        "//- doclinks.toml
site_prefixes = [\"/learn/\"]
//- docs/index.md
[missing](nope.md)
[anchor](page.md#nowhere)
[case](Page.md)
[outside](../../etc/passwd)
[absolute](file:///home/me/page.md)
[windows](C:\\docs\\page.md)
[site](/learn/intro)
//- docs/page.md
# Page
",
    );
    assert_eq!(
        check(&dir, &[]),
        [
            "docs/index.md:1:11 missing_file nope.md",
            "docs/index.md:2:10 missing_anchor page.md#nowhere",
            "docs/index.md:3:8 case_mismatch Page.md -> page.md (high: case-only mismatch)",
            "docs/index.md:4:11 outside_root ../../etc/passwd",
            "docs/index.md:5:12 absolute_path file:///home/me/page.md",
            "docs/index.md:6:11 absolute_path C:\\docs\\page.md",
        ]
    );
    let (code, stdout, _) = dir.run(&["check", "--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["summary"]["site_links"], 1);
    assert_eq!(json["site_links"][0]["kind"], "site_link");
    assert_eq!(json["summary"]["broken"], 6);
}

#[test]
fn fragments_into_local_html_pages_are_checked_against_ids_and_names() {
    let dir = tree(
        "//- README.md
[id](api/page.html#intro) [name](api/page.html#old-name) [upper](api/Page.htm#Upper)
[commented](api/page.html#gone) [typo](api/page.html#intr) [no-fragment](api/page.html)
<a href=\"api/page.html#also-missing\">raw</a>
//- api/page.html
<!doctype html><h1 id=\"intro\">x</h1><a name='old-name'></a>
<!-- <p id=\"gone\"> -->
//- api/Page.htm
<div ID=Upper></div>
",
    );
    assert_eq!(
        check(&dir, &[]),
        [
            "README.md:2:13 missing_anchor api/page.html#gone",
            "README.md:2:40 missing_anchor api/page.html#intr -> api/page.html#intro (medium: close match of a heading (80% of its words))",
            "README.md:3:10 missing_anchor api/page.html#also-missing",
        ]
    );
    assert_eq!(check(&dir, &["--no-fragments"]), Vec::<String>::new());
}

#[test]
fn github_source_line_anchors_with_plain_1_are_valid() {
    let dir = tree(
        "//- README.md
# T
[line](README.md?plain=1#L2) [range](README.md?plain=1#L1-L2) [no-plain](README.md#L2)
",
    );
    assert_eq!(check(&dir, &[]), ["README.md:2:74 missing_anchor README.md#L2"]);
}

#[test]
fn anchors_github_slugs_explicit_ids_and_percent_decoding() {
    let dir = tree(
        "//- README.md
[ok](doc.md#hello-world) [dup](doc.md#hello-world-1) [legacy](doc.md#legacy)
[custom](doc.md#my-id) [html](doc.md#box) [hindi](doc.md#हिन्दी-शीर्षक)
[encoded](doc.md#%E0%A4%B9%E0%A4%BF%E0%A4%A8%E0%A5%8D%E0%A4%A6%E0%A5%80-%E0%A4%B6%E0%A5%80%E0%A4%B0%E0%A5%8D%E0%A4%B7%E0%A4%95)
[self](#readme) [top](doc.md#top) [dir](sub/#sub-page) [query](doc.md?plain=1#hello-world)
# Readme
//- doc.md
# Hello, World!
## Hello World
## <a name=\"legacy\"></a> Old title
## Custom {#my-id}
<div id=\"box\"></div>

हिन्दी शीर्षक
=============
//- sub/README.md
# Sub page
",
    );
    assert_eq!(check(&dir, &[]), Vec::<String>::new());
}

#[test]
fn high_confidence_fix_classes() {
    let dir = tree(
        "//- doclinks.toml
[redirects]
\"docs/retired.md\" = \"docs/current.md\"
//- docs/index.md
[case](Guide/Setup.md)
[unique name](setup-notes.md)
[one ../ too many](../guide/setup.md)
[one ../ too few](api/reference.md)
[one ../ too few, name not unique](readme.md)
[extension](guide/setup.html#install)
[extensionless](guide/setup)
[redirect](retired.md)
[anchor case](guide/setup.md#Install)
[anchor text](guide/setup.md#First%20steps)
//- docs/current.md
# Current
//- docs/guide/setup.md
# Setup
## Install
## First steps
//- notes/setup-notes.md
# Notes
//- api/reference.md
# API
//- readme.md
# Root
//- notes/readme.md
# Notes
",
    );
    // GitHub matches `#Install` to `## Install` whatever the case: not broken.
    assert_eq!(
        check(&dir, &[]),
        [
            "docs/index.md:1:8 case_mismatch Guide/Setup.md -> guide/setup.md (high: case-only mismatch)",
            "docs/index.md:2:15 missing_file setup-notes.md -> ../notes/setup-notes.md (high: `setup-notes.md` exists once in the tree)",
            "docs/index.md:3:20 missing_file ../guide/setup.md -> guide/setup.md (high: `setup.md` exists once in the tree)",
            "docs/index.md:4:19 missing_file api/reference.md -> ../api/reference.md (high: `reference.md` exists once in the tree)",
            "docs/index.md:5:36 missing_file readme.md -> ../readme.md (medium: one `../` too few)",
            "docs/index.md:6:13 missing_file guide/setup.html#install -> guide/setup.md#install (high: extension changed to `setup.md`)",
            "docs/index.md:7:17 missing_file guide/setup -> guide/setup.md (high: `setup.md` exists once in the tree)",
            "docs/index.md:8:12 missing_file retired.md -> current.md (high: redirect map in doclinks.toml [redirects])",
            "docs/index.md:10:15 missing_anchor guide/setup.md#First%20steps -> guide/setup.md#first-steps (high: fragment written as heading text, not its slug)",
        ]
    );
}

#[test]
fn redirect_maps_of_docfx_and_mkdocs() {
    // A Learn docset: the redirect file is in a folder the publish config lists.
    let docfx = tree(
        "//- .openpublishing.publish.config.json
{\"docsets_to_publish\": [{\"build_source_folder\": \"articles\"}], \"redirection_files\": [\"redir/.openpublishing.redirection.json\"]}
//- redir/.openpublishing.redirection.json
{\"redirections\": [{\"source_path\": \"../articles/old-topic.md\", \"redirect_url\": \"/product/new-topic\"}]}
//- articles/docfx.json
{\"build\": {\"content\": [{\"files\": [\"**/*.md\"]}]}}
//- articles/index.md
[docfx](old-topic.md) [home](/product/index)
//- articles/new-topic.md
# New
",
    );
    // DocFX follows a link to a redirected page: reported apart, with the fix.
    assert_eq!(check(&docfx, &[]), Vec::<String>::new());
    let (_, stdout, _) = docfx.run(&["check", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["redirected"][0]["target"], "old-topic.md");
    assert_eq!(json["redirected"][0]["fix"]["new_target"], "new-topic.md");
    assert_eq!(
        json["redirected"][0]["fix"]["reason"],
        "redirect map in redir/.openpublishing.redirection.json"
    );
    let mkdocs = tree(
        "//- mkdocs.yml
docs_dir: articles
plugins:
  - redirects:
      redirect_maps:
        'moved.md': 'target.md'
//- articles/index.md
[mkdocs](moved.md)
//- articles/target.md
# Target
//- articles/other.md
# Other
",
    );
    // mkdocs redirects URLs only: a link to the old `.md` is broken.
    assert_eq!(
        check(&mkdocs, &[]),
        [
            "articles/index.md:1:10 missing_file moved.md -> target.md (high: redirect map in mkdocs.yml redirect_maps)"
        ]
    );
}

#[test]
fn git_rename_history() {
    let dir = tree(
        "//- docs/index.md
# Index
//- docs/a/old-name.md
# Old
//- docs/b/old-name.md
# Other with the same name
",
    );
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "one"]);
    dir.git(&["mv", "docs/a/old-name.md", "docs/a/new-name.md"]);
    dir.git(&["commit", "-q", "-m", "rename"]);
    dir.write("docs/index.md", "[moved](a/old-name.md)\n");
    assert_eq!(
        check(&dir, &[]),
        [
            "docs/index.md:1:9 missing_file a/old-name.md -> a/new-name.md (high: renamed in git history)"
        ]
    );
}

#[test]
fn medium_and_low_confidence() {
    let dir = tree(
        "//- index.md
[typo](instalation.md) [anchor typo](installation.md#confgure) [two](a/same.md) [none](zzz-qqq.md)
//- installation.md
# Install
## Configure
//- x/same.md
//- y/same.md
",
    );
    assert_eq!(
        check(&dir, &[]),
        [
            "index.md:1:8 missing_file instalation.md -> installation.md (medium: similar file name (92% of its words))",
            "index.md:1:38 missing_anchor installation.md#confgure -> installation.md#configure (medium: close match of a heading (89% of its words))",
            "index.md:1:70 missing_file a/same.md -> x/same.md (low: 2 files named `same.md`: x/same.md, y/same.md)",
            "index.md:1:88 missing_file zzz-qqq.md",
        ]
    );
}

#[test]
fn exit_codes_and_report_only() {
    let clean = tree("//- README.md\n[ok](README.md)\n");
    assert_eq!(clean.run(&["check"]).0, 0);
    let broken = tree("//- README.md\n[bad](nope.md)\n");
    let (code, stdout, _) = broken.run(&["check"]);
    assert_eq!(code, 1);
    assert!(stdout.starts_with("README.md:1:7: missing_file: nope.md\n"), "{stdout}");
    assert_eq!(broken.run(&["check", "--report-only"]).0, 0);
    let (code, _, stderr) = broken.run(&["check", "--format", "yaml"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'yaml'"), "{stderr}");
}

#[test]
fn help_has_examples() {
    let dir = tree("");
    let (code, stdout, _) = dir.run(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Examples:") && stdout.contains("Exit codes"), "{stdout}");
    let (code, stdout, _) = dir.run(&["check", "--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("--nav-only") && stdout.contains("Examples:"), "{stdout}");
}

#[test]
fn paths_restrict_the_files_checked() {
    let dir = tree("//- a/x.md\n[bad](nope.md)\n//- b/y.md\n[bad](nope.md)\n");
    assert_eq!(check(&dir, &["a"]), ["a/x.md:1:7 missing_file nope.md"]);
    let (code, _, stderr) = dir.run(&["check", "/"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is outside the root"), "{stderr}");
}

#[test]
fn no_fragments_skips_anchor_checks() {
    let dir = tree("//- README.md\n[x](README.md#nowhere)\n");
    assert_eq!(check(&dir, &["--no-fragments"]), Vec::<String>::new());
}

#[test]
fn bad_files_warn_and_the_scan_goes_on() {
    let dir = tree("//- good.md\n[bad](nope.md)\n");
    std::fs::write(dir.join("latin1.md"), b"caf\xe9 [x](y.md)\n").unwrap();
    std::fs::write(dir.join("binary.md"), b"\x00\x01\x02PNG").unwrap();
    std::fs::write(dir.join("doclinks.toml"), "max_file_size = 1000\n").unwrap();
    dir.write("big.md", &"[a](big.md)\n".repeat(200));
    dir.write("garbage.md", "[pct](%zz%E0%A4.md) [dots](../../../../x.md)\n");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path(), dir.join("loop")).unwrap();
    let (code, stdout, stderr) = dir.run(&["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "latin1.md: not valid UTF-8 (line 1): checked from a lossy decode, never rewritten"
        ),
        "{stderr}"
    );
    assert!(stdout.contains("latin1.md:1:10: missing_file: y.md"), "{stdout}");
    assert!(stderr.contains("binary.md: skipped: binary file"), "{stderr}");
    assert!(stderr.contains("big.md: skipped: 2.3 KiB is over the 1000 bytes limit"), "{stderr}");
    assert!(stdout.contains("good.md:1:7: missing_file: nope.md"), "{stdout}");
    assert!(stdout.contains("garbage.md:1:7: missing_file: %zz%E0%A4.md"), "{stdout}");
    assert!(stdout.contains("garbage.md:1:28: outside_root: ../../../../x.md"), "{stdout}");
}

#[cfg(unix)]
#[test]
fn unreadable_file_warns() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tree("//- secret.md\n# secret\n//- ok.md\n# ok\n");
    std::fs::set_permissions(dir.join("secret.md"), std::fs::Permissions::from_mode(0o000))
        .unwrap();
    // Root reads a mode-000 file anyway (CI runs as root); a dangling symlink
    // is unreadable for everyone, so the test always asserts something.
    std::os::unix::fs::symlink("nowhere.md", dir.join("dangling.md")).unwrap();
    let (code, _, stderr) = dir.run(&["check"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr
            .contains("dangling.md: skipped: a symbolic link to nowhere.md that leads to no file"),
        "{stderr}"
    );
    if std::fs::read(dir.join("secret.md")).is_err() {
        assert!(stderr.contains("secret.md: cannot read: Permission denied"), "{stderr}");
    }
}

#[test]
fn malformed_config_names_key_and_line() {
    let dir = tree(
        "//- doclinks.toml\nsite_prefixes = [\"/x/\"]\n\n[[ignore]]\ntarget = \"old/*\"\n//- README.md\n# hi\n",
    );
    let (code, stdout, stderr) = dir.run(&["check"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(
        stderr.contains("doclinks.toml: line 3: [[ignore]] entry for `old/*` has no `reason`; every ignore entry needs one"),
        "{stderr}"
    );
    dir.write("doclinks.toml", "site_prefixes = [\"/x/\"]\nignores = 3\n");
    let (code, _, stderr) = dir.run(&["check"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("line 2: unknown field `ignores`"), "{stderr}");
}

#[test]
fn ignore_and_historical_entries() {
    let dir = tree(
        "//- doclinks.toml
[[ignore]]
target = \"generated/*\"
reason = \"built by the site generator\"

[[historical_ref]]
target = \"v1/*\"
file = \"CHANGELOG.md\"
reason = \"release notes name pages of old releases\"
//- CHANGELOG.md
[old](v1/setup.md) [gen](generated/api.md)
//- README.md
[old](v1/setup.md)
",
    );
    assert_eq!(check(&dir, &[]), ["README.md:1:7 missing_file v1/setup.md"]);
    let (_, stdout, _) = dir.run(&["check"]);
    assert!(stdout.contains("1 ignored, 1 historical"), "{stdout}");
}

#[test]
fn unusable_root_or_config_is_an_input_error() {
    let dir = tree("//- README.md\n# hi\n");
    let (code, stdout, stderr) = dir.run(&["check", "--root", "no-such-dir"]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.starts_with("doclinks: error: cannot open root no-such-dir: "), "{stderr}");
    let (code, _, stderr) = dir.run(&["check", "--config", "missing.toml"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("doclinks: error: cannot read config missing.toml: "), "{stderr}");
    let (code, _, stderr) = dir.run(&["check", "--root", "README.md"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("root README.md is not a directory"), "{stderr}");
}

#[test]
fn a_closed_stdout_pipe_is_not_a_panic() {
    // More output than a pipe buffers, so the write hits the closed pipe.
    let lines: String = (0..20_000).map(|i| format!("[x{i}](nope{i}.md)\n")).collect();
    let dir = tree(&format!("//- README.md\n{lines}"));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_doclinks"))
        .current_dir(dir.path())
        .arg("check")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "findings, as if read to the end: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
