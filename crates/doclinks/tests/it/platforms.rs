//! One small published tree per platform, built by the test: every link that
//! works on the site is not reported (zero false alarms), links to the site
//! outside the tree are site links, and each broken link's fix is written the
//! way the platform resolves it and resolves after `fix` (zero damaging fixes).

use crate::util::{Dir, tree};

/// `check --format json` on the tree.
fn report(dir: &Dir, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (_, stdout, stderr) = dir.run(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {stderr}"))
}

/// The findings of a list as `file:line target -> fix (confidence)`.
fn lines(value: &serde_json::Value, list: &str) -> Vec<String> {
    value[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let mut line = format!(
                "{}:{} {} {}",
                f["file"].as_str().unwrap(),
                f["line"],
                f["kind"].as_str().unwrap(),
                f["target"].as_str().unwrap()
            );
            if !f["fix"].is_null() {
                line.push_str(&format!(
                    " -> {} ({})",
                    f["fix"]["new_target"].as_str().unwrap(),
                    f["fix"]["confidence"].as_str().unwrap()
                ));
            }
            line
        })
        .collect()
}

/// Applies the high-confidence fixes, then checks that nothing is broken that
/// was not broken before and that every fixed link now resolves.
fn fix_is_never_damaging(dir: &Dir) {
    let before = report(dir, &[]);
    let broken_before: Vec<String> = lines(&before, "findings");
    let (code, stdout, stderr) = dir.run(&["fix", "--format", "json"]);
    assert!(code <= 1, "{stdout}{stderr}");
    let applied: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let after = report(dir, &[]);
    let broken_after = lines(&after, "findings");
    for finding in &broken_after {
        assert!(
            broken_before.iter().any(|b| b.split(" -> ").next() == finding.split(" -> ").next()),
            "fix broke a link that worked: {finding}\nbefore: {broken_before:#?}"
        );
    }
    for change in applied["changes"].as_array().unwrap() {
        let still_broken = after["findings"].as_array().unwrap().iter().any(|f| {
            f["file"] == change["file"]
                && f["line"] == change["line"]
                && f["target"] == change["new"]
        });
        assert!(!still_broken, "the fix {change} does not resolve: {broken_after:#?}");
    }
}

#[test]
fn docfx_docset_with_its_base_path_other_docsets_tabs_xref_includes_and_redirects() {
    let dir = tree(
        r#"//- .openpublishing.publish.config.json
{
  // JSON with comments, as Learn writes it
  "docsets_to_publish": [{ "docset_name": "app", "build_source_folder": "docs", }],
  "redirection_files": ["redir/.openpublishing.redirection.json"]
}
//- redir/.openpublishing.redirection.json
{"redirections": [
  {"source_path": "../docs/build/old-name.md", "redirect_url": "/app/build/new-name"},
  {"source_path_from_root": "/docs/build/retired.md", "redirect_url": "/other-docset/somewhere"}
]}
//- docs/docfx.json
{"build": {"content": [
  {"files": ["**/*.md", "**/*.yml"], "exclude": ["**/includes/**"], "src": "."},
], "globalMetadata": {"breadcrumb_path": "~/_breadcrumb/toc.yml"}}}
//- docs/index.yml
title: Home
//- docs/build/new-name.md
---
uid: app.build.new-name
---
# New name

# [Visual Studio](#tab/visual-studio)

Steps.

# [CLI](#tab/cli)

More steps.

---

## Options

[!INCLUDE [shared](../includes/shared-steps.md)]
//- docs/includes/shared-steps.md
## Shared steps

[back](../build/new-name.md#options)
//- docs/build/Walkthrough.md
# Walkthrough

- [own base path](/app/build/new-name#options)
- [own base path, any case](/app/Build/New-Name)
- [with a moniker](/app/build/new-name?view=app-2.0#shared-steps)
- [another docset](/windows/win32/api/winuser/nf-winuser-sendmessage)
- [a site path no content folder has](/app/other-product/page)
- [xref to this docset](xref:app.build.new-name)
- [xref elsewhere](xref:System.String)
- <xref:System.Int32>
- [docset root](~/build/new-name.md)
- [backslashes](..\build\new-name.md)
- [case](./new-NAME.md)
- [extensionless](new-name)
- [redirected](old-name.md)
- [tab link](#tab/cli)
- [included heading](new-name.md#shared-steps)
- [home](/app/)
"#,
    );
    let value = report(&dir, &[]);
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    assert_eq!(value["platform"]["name"], "docfx");
    assert_eq!(value["summary"]["site_links"], 4, "{:#?}", lines(&value, "site_links"));
    assert_eq!(
        lines(&value, "redirected"),
        ["docs/build/Walkthrough.md:15 redirected old-name.md -> new-name.md (high)"]
    );
    let notes = value["platform"]["notes"].to_string();
    assert!(notes.contains("base path /app/ inferred from"), "{notes}");
    // The redirected link works: `fix` rewrites it only when asked to.
    let (_, stdout, _) = dir.run(&["fix", "--dry-run", "--format", "json"]);
    assert!(stdout.contains("\"changes\": []"), "{stdout}");
    let (_, stdout, _) = dir.run(&["fix", "--dry-run", "--redirected", "--format", "json"]);
    let applied: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(applied["changes"][0]["new"], "new-name.md", "{stdout}");

    // Broken links get fixes in their own style: a site URL stays a site URL
    // (never a root-absolute `.md`), a relative link stays relative.
    dir.write(
        "docs/build/broken.md",
        "# Broken\n\n[url](/app/build/new-nme)\n[file](new-nme.md)\n[gone](retired.md)\n[site](/windows/win32/winmsg/walkthrough)\n",
    );
    let value = report(&dir, &["docs/build/broken.md"]);
    assert_eq!(
        lines(&value, "findings"),
        [
            "docs/build/broken.md:3 missing_file /app/build/new-nme -> /app/build/new-name (medium)",
            "docs/build/broken.md:4 missing_file new-nme.md -> new-name.md (medium)",
        ]
    );
    // Redirected to another docset: the link works, and there is no local page to name.
    assert_eq!(lines(&value, "redirected"), ["docs/build/broken.md:5 redirected retired.md"]);
    assert_eq!(value["site_links"][0]["target"], "/windows/win32/winmsg/walkthrough");
    fix_is_never_damaging(&dir);
}

#[test]
fn docusaurus_site_with_ids_slugs_static_files_and_versions() {
    let dir = tree(
        r#"//- website/docusaurus.config.js
module.exports = {
  title: 'Site', url: 'https://example.com', baseUrl: '/',
  presets: [['classic', {
    docs: { path: '../docs', sidebarPath: require.resolve('./sidebars.js') },
    blog: { path: 'blog' },
  }]],
  plugins: [['@docusaurus/plugin-content-docs', { id: 'community', path: 'community', routeBasePath: 'community' }]],
};
//- website/versions.json
["1.0"]
//- website/static/img/logo.png
png
//- website/blog/2024-05-01-launch.md
# Launch

[docs](/docs/intro) [next](/docs/next/guides/configuration#options)
//- website/src/pages/showcase.js
export default function Showcase() {}
//- website/community/support.md
# Support

[intro](/docs/intro)
//- website/versioned_docs/version-1.0/intro.md
---
id: intro
---
# Intro

- [relative id](configuration#options)
- [file](./guides/configuration.md)
- [logo](/img/logo.png)
- [showcase](/showcase)
- [blog post](/blog/2024/05/01/launch)
- [community](/community/support)
- [same version, by slug](/docs/configuration)
- [generated category](/docs/category/guides)
//- website/versioned_docs/version-1.0/guides/configuration.md
---
id: configuration
slug: /configuration
---
# Configuration

## Options {#options}
//- docs/intro.md
# Intro (next)

- [file, from the content folder](guides/01-configuration.md)
- [number prefix stripped](/docs/next/guides/configuration)
- [logo](/img/logo.png)
- [partial](./_partial.mdx)
//- docs/_partial.mdx
## From a partial
//- website/i18n/fr/docusaurus-plugin-content-docs/current/intro.md
# Introduction (fr)

- [untranslated page, by file](guides/01-configuration.md)
- [untranslated page, by URL](guides/configuration#options)
//- docs/guides/01-configuration.md
# Configuration next

## Options
"#,
    );
    let value = report(&dir, &[]);
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    assert_eq!(value["platform"]["name"], "docusaurus");
    assert_eq!(value["platform"]["source"], "website/docusaurus.config.js");
    assert_eq!(lines(&value, "site_links").len(), 1, "{:#?}", lines(&value, "site_links"));

    dir.write(
        "docs/broken.md",
        "# Broken\n\n[asset](/img/Logo.png) [page](/docs/next/guides/configuraton) [file](./guides/01-configuraton.md)\n",
    );
    let value = report(&dir, &["docs/broken.md"]);
    // A static file keeps its URL: never `/website/static/…`.
    assert_eq!(
        lines(&value, "findings"),
        [
            "docs/broken.md:3 case_mismatch /img/Logo.png -> /img/logo.png (high)",
            "docs/broken.md:3 missing_file /docs/next/guides/configuraton -> /docs/next/guides/configuration (medium)",
            "docs/broken.md:3 missing_file ./guides/01-configuraton.md -> ./guides/01-configuration.md (medium)",
        ]
    );
    fix_is_never_damaging(&dir);
}

#[test]
fn mkdocs_with_directory_urls_attribute_lists_and_python_markdown_slugs() {
    let dir = tree(
        r#"//- mkdocs.yml
site_name: x
site_url: https://example.com/project/
markdown_extensions:
  - toc:
      permalink: true
  - attr_list
  - pymdownx.tabbed:
      combine_header_slug: true
      slugify: !!python/object/apply:pymdownx.slugs.slugify
        kwds:
          case: lower
plugins:
  - redirects:
      redirect_maps:
        'old.md': 'setup/install.md'
//- docs/index.md
# Home

- [install](setup/install.md#caret-mark-tilde)
- [directory URL](setup/install/)
- [duplicate heading](setup/install.md#intro_1)
- [attribute id](setup/install.md#custom)
- [tab under a heading](setup/install.md#logo-image)
- [footnote](#fn:1)
- [image](img/logo.png)

Text.[^1]

[^1]: A note.
//- docs/img/logo.png
png
//- docs/setup/install.md
# Install

## Intro

## Intro

### Caret, Mark & Tilde

### Something { #custom }

### Logo

=== ":octicons-image-16: Image"

    A tab.

[home](../index.md) [home URL](../)
"#,
    );
    let value = report(&dir, &[]);
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    assert_eq!(value["platform"]["name"], "mkdocs");
    dir.write(
        "docs/broken.md",
        "# B\n\n[github slug](setup/install.md#caret-mark--tilde) [redirected](old.md)\n",
    );
    let value = report(&dir, &["docs/broken.md"]);
    assert_eq!(
        lines(&value, "findings"),
        [
            "docs/broken.md:3 missing_anchor setup/install.md#caret-mark--tilde -> setup/install.md#caret-mark-tilde (medium)",
            "docs/broken.md:3 missing_file old.md -> setup/install.md (high)",
        ]
    );
    fix_is_never_damaging(&dir);
}

#[test]
fn hugo_sections_bundles_static_files_aliases_and_includes() {
    let dir = tree(
        r#"//- hugo.toml
baseURL = "https://example.org/"
[markup.goldmark.parser]
autoDefinitionTermID = true
[[module.mounts]]
source = "content/en"
target = "content"
[[module.mounts]]
source = "static"
target = "static"
//- static/images/logo.png
png
//- content/en/_index.md
# Home
//- content/en/functions/_index.md
# Functions
//- content/en/functions/strings/Replace.md
---
title: Replace
aliases: [/functions/replace/]
---
# Replace

term
: A definition term with an id.

{{% include "/_common/shared.md" %}}
//- content/en/_common/shared.md
## Shared section
//- content/en/guide/bundle/index.md
# Bundle

- [page](/functions/strings/replace/#term)
- [included section](/functions/strings/replace/#shared-section)
- [section](/functions/)
- [alias](/functions/replace/)
- [static](/images/logo.png)
- [resource](diagram.svg)
- [from the content folder](functions/strings/replace)
- [file path](../../functions/strings/Replace.md)
- [a page of the site no section holds](/showcase/)
- [a term of a page its templates write](/glossary/#sites-matrix)
//- content/en/glossary/_index.md
---
title: Glossary
---

{{% glossary %}}
//- content/en/guide/bundle/diagram.svg
<svg/>
"#,
    );
    let value = report(&dir, &[]);
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    assert_eq!(value["platform"]["name"], "hugo");
    assert_eq!(lines(&value, "site_links").len(), 1);
    dir.write("content/en/guide/broken.md", "# B\n\n[missing](/functions/strings/replac/)\n");
    let value = report(&dir, &["content/en/guide/broken.md"]);
    assert_eq!(
        lines(&value, "findings"),
        [
            "content/en/guide/broken.md:3 missing_file /functions/strings/replac/ -> /functions/strings/replace/ (medium)"
        ]
    );
    fix_is_never_damaging(&dir);
}

#[test]
fn mdbook_html_links_redirects_and_links_beyond_the_book() {
    let dir = tree(
        r#"//- book.toml
[book]
title = "Book"
[output.html.redirect]
"ch02-old.html" = "ch02-new.html"
//- src/SUMMARY.md
- [Intro](README.md)
- [Two](ch02-new.md)
//- src/README.md
# Intro

- [as HTML](ch02-new.html#two-point-one)
- [as Markdown](ch02-new.md)
- [index](index.html)
- [beyond the book](../std/index.html)
- [redirected](ch02-old.html)
//- src/ch02-new.md
# Two

## Two point one
"#,
    );
    let value = report(&dir, &[]);
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    assert_eq!(value["platform"]["name"], "mdbook");
    assert_eq!(value["summary"]["site_links"], 1);
    assert_eq!(
        lines(&value, "redirected"),
        ["src/README.md:7 redirected ch02-old.html -> ch02-new.html (high)"]
    );
    dir.write("src/broken.md", "# B\n\n[chapter](ch02-New.html)\n");
    let value = report(&dir, &["src/broken.md"]);
    assert_eq!(
        lines(&value, "findings"),
        ["src/broken.md:3 case_mismatch ch02-New.html -> ch02-new.html (high)"]
    );
    fix_is_never_damaging(&dir);
}

#[test]
fn github_matches_fragments_in_any_case_and_gitlab_does_not() {
    let fixture = "//- README.md
# Team

## Tech Lead

[lead](#Tech-Lead) [other](docs/guide.md#Set-Up)
//- docs/guide.md
# Guide

## Set up
";
    let github = tree(fixture);
    assert_eq!(lines(&report(&github, &[]), "findings"), Vec::<String>::new());
    let gitlab = tree(&format!("{fixture}//- .gitlab-ci.yml\ntest: {{script: [true]}}\n"));
    let value = report(&gitlab, &[]);
    assert_eq!(value["platform"]["name"], "gitlab");
    assert_eq!(
        lines(&value, "findings"),
        [
            "README.md:5 missing_anchor #Tech-Lead -> #tech-lead (high)",
            "README.md:5 missing_anchor docs/guide.md#Set-Up -> docs/guide.md#set-up (high)",
        ]
    );
    fix_is_never_damaging(&gitlab);
}

#[test]
fn platform_override_and_its_source_are_reported() {
    let dir = tree("//- docs/index.md\n# Home\n[x](page)\n//- docs/page.md\n# Page\n");
    // On GitHub an extensionless link is broken; on mkdocs' default site it is not
    // a file link either, but `page/` is the page's URL from `index/`.
    let (code, stdout, _) = dir.run(&["check"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("platform: github (no site configuration found)"), "{stdout}");
    let (_, stdout, _) = dir.run(&["check", "--platform", "docfx"]);
    assert!(stdout.contains("platform: docfx (--platform)"), "{stdout}");
    assert!(stdout.contains(": 0 broken"), "DocFX serves `page.md` at `page`: {stdout}");
    dir.write("doclinks.toml", "platform = \"docfx\"\n");
    let (_, stdout, _) = dir.run(&["check"]);
    assert!(stdout.contains("platform: docfx (doclinks.toml"), "{stdout}");
    let (code, _, stderr) = dir.run(&["check", "--platform", "jekyll"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("invalid value 'jekyll'"), "{stderr}");
}

#[test]
fn sphinx_myst_pages_by_name_and_labels() {
    let dir = tree(
        "//- docs/conf.py
project = 'x'
extensions = ['myst_parser']
myst_heading_anchors = 3
//- docs/index.md
# Home

- [extensionless](guide/install)
- [built page](guide/install.html#download)
- [label](#start-here)
- [restructured text](api)

(start-here)=
## Start
//- docs/guide/install.md
# Install

## Download
//- docs/api.rst
API
===
",
    );
    let value = report(&dir, &[]);
    assert_eq!(value["platform"]["name"], "sphinx");
    assert_eq!(lines(&value, "findings"), Vec::<String>::new());
    dir.write("docs/broken.md", "# B\n\n[gone](guide/instal) [anchor](guide/install.md#downlod)\n");
    let value = report(&dir, &["docs/broken.md"]);
    assert_eq!(
        lines(&value, "findings"),
        [
            "docs/broken.md:3 missing_file guide/instal -> guide/install.md (medium)",
            "docs/broken.md:3 missing_anchor guide/install.md#downlod -> guide/install.md#download (medium)",
        ]
    );
    fix_is_never_damaging(&dir);
}

#[test]
fn hugo_languages_with_their_own_content_folders() {
    let dir = tree(
        "//- hugo.toml
[languages.en]
contentDir = 'content/en'
[languages.fr]
contentDir = 'content/fr'
//- content/en/guide/_index.md
# Guide
//- content/fr/guide/_index.md
# Guide (fr)

[start](/guide/start/) [missing](/guide/nope/)
//- content/fr/guide/start.md
# Démarrer
",
    );
    let value = report(&dir, &[]);
    assert_eq!(value["platform"]["sites"][0]["content"], "content/en");
    assert_eq!(
        lines(&value, "findings"),
        ["content/fr/guide/_index.md:3 missing_file /guide/nope/"]
    );
}
