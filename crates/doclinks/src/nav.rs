//! Navigation files of documentation generators: mkdocs.yml (`nav`,
//! `docs_dir`, `use_directory_urls`, `site_url`, mkdocs-redirects
//! `redirect_maps`) and DocFX `toc.yml`. Redirect files are the site model's
//! (`site.rs`).
//!
//! The YAML files are parsed with a real YAML parser, so block and flow style,
//! quoting and comments all read the same. A malformed file becomes a warning
//! naming it, and the link check goes on without what it would have said.
//! They are read like pages, below the root and only when regular files.

use std::sync::Mutex;

use yaml_rust2::{Yaml, YamlLoader};

use crate::report::Warning;
use crate::resolve::normalize;
use crate::tree::{TreeRoot, parent, push_warning};

/// What mkdocs.yml says about navigation and redirects, as root-relative paths.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Mkdocs {
    pub(crate) docs_dir: String,
    pub(crate) nav: Vec<String>,
    pub(crate) redirects: Vec<(String, String)>,
    /// `use_directory_urls` (default true): `a/b.md` is served at `a/b/`.
    pub(crate) use_directory_urls: bool,
    /// The path of `site_url`, without slashes (`` for a site at the host root).
    pub(crate) site_path: String,
}

impl Default for Mkdocs {
    fn default() -> Mkdocs {
        Mkdocs {
            docs_dir: String::new(),
            nav: Vec::new(),
            redirects: Vec::new(),
            use_directory_urls: true,
            site_path: String::new(),
        }
    }
}

/// Reads `mkdocs.yml` (or `mkdocs.yaml`) at the root. A file that is not valid
/// YAML, or cannot be read (a FIFO, a link out of the root), is reported in
/// `warnings` and treated as absent.
pub(crate) fn read_mkdocs(root: &TreeRoot, warnings: &Mutex<Vec<Warning>>) -> Option<Mkdocs> {
    let name = ["mkdocs.yml", "mkdocs.yaml"]
        .into_iter()
        .find(|n| std::fs::symlink_metadata(root.join(n)).is_ok())?;
    let path = root.join(name);
    let text = match read_text(root, name) {
        Ok(text) => text,
        Err(e) => {
            push_warning(warnings, &path, format!("{e}; its nav and redirect_maps are skipped"));
            return None;
        }
    };
    match parse_mkdocs(&text) {
        Ok(mkdocs) => Some(mkdocs),
        Err(e) => {
            push_warning(warnings, &path, format!("{e}; its nav and redirect_maps are skipped"));
            None
        }
    }
}

/// A navigation file of the tree as text; `Err` says why it is not read.
pub(crate) fn read_text(root: &TreeRoot, rel: &str) -> Result<String, String> {
    String::from_utf8(root.read(rel)?).map_err(|_| "not valid UTF-8".to_owned())
}

/// Parses the first YAML document of `text`; an empty file is `Null`.
fn load(text: &str) -> Result<Yaml, String> {
    let mut docs = YamlLoader::load_from_str(text).map_err(|e| format!("malformed YAML: {e}"))?;
    Ok(if docs.is_empty() { Yaml::Null } else { docs.swap_remove(0) })
}

/// A link target from a navigation file: not a URL, without `?query` and
/// `#fragment`.
fn local_path(value: &str) -> Option<&str> {
    let value = value.trim();
    let is_url = value.contains("://")
        || value.starts_with("mailto:")
        || value.starts_with("xref:")
        || value.starts_with("//");
    let path = value.split(['#', '?']).next().unwrap_or_default();
    (!is_url && !path.is_empty()).then_some(path)
}

/// Every string value in a mkdocs `nav` tree. Mapping keys are titles; a
/// value is a page path, a URL or a nested section.
fn nav_values<'y>(node: &'y Yaml, out: &mut Vec<&'y str>) {
    match node {
        Yaml::String(s) => out.push(s),
        Yaml::Array(items) => items.iter().for_each(|item| nav_values(item, out)),
        Yaml::Hash(map) => map.values().for_each(|value| nav_values(value, out)),
        _ => {}
    }
}

/// The first `redirect_maps` mapping anywhere in the document (mkdocs-redirects
/// keeps it under `plugins: - redirects:`).
fn find_redirect_maps(node: &Yaml) -> Option<&yaml_rust2::yaml::Hash> {
    match node {
        Yaml::Hash(map) => {
            if let Some(Yaml::Hash(maps)) = map.get(&Yaml::String("redirect_maps".to_owned())) {
                return Some(maps);
            }
            map.values().find_map(find_redirect_maps)
        }
        Yaml::Array(items) => items.iter().find_map(find_redirect_maps),
        _ => None,
    }
}

pub(crate) fn parse_mkdocs(text: &str) -> Result<Mkdocs, String> {
    let doc = load(text)?;
    let docs_dir = doc["docs_dir"]
        .as_str()
        .map(|v| v.trim().trim_start_matches("./").trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "docs".to_owned());
    let in_docs = |p: &str| normalize(&docs_dir, p);
    let site_path = doc["site_url"]
        .as_str()
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.split_once('/').map(|(_, path)| path))
        .unwrap_or("")
        .trim_matches('/')
        .to_owned();
    let use_directory_urls = doc["use_directory_urls"].as_bool().unwrap_or(true);
    let mut mkdocs =
        Mkdocs { docs_dir: docs_dir.clone(), use_directory_urls, site_path, ..Mkdocs::default() };
    let mut values = Vec::new();
    nav_values(&doc["nav"], &mut values);
    mkdocs.nav = values.into_iter().filter_map(local_path).filter_map(in_docs).collect();
    if let Some(maps) = find_redirect_maps(&doc) {
        for (old, new) in maps {
            if let (Some(old), Some(new)) = (old.as_str(), new.as_str())
                && !new.contains("://")
                && let (Some(old), Some(new)) = (in_docs(old), in_docs(new))
            {
                mkdocs.redirects.push((old, new));
            }
        }
    }
    Ok(mkdocs)
}

/// The keys of a DocFX toc entry that point at a page or another toc.
const TOC_KEYS: [&str; 4] = ["href", "topicHref", "tocHref", "homepage"];

fn toc_values<'y>(node: &'y Yaml, out: &mut Vec<&'y str>) {
    match node {
        Yaml::Array(items) => items.iter().for_each(|item| toc_values(item, out)),
        Yaml::Hash(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    (Some(key), Yaml::String(s)) if TOC_KEYS.contains(&key) => out.push(s),
                    (_, Yaml::Array(_) | Yaml::Hash(_)) => toc_values(value, out),
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

/// The `href`s of a DocFX `toc.yml` (also in nested `items`), resolved against
/// its directory; `Err` names what is malformed.
pub(crate) fn toc_hrefs(toc_path: &str, text: &str) -> Result<Vec<String>, String> {
    let doc = load(text)?;
    let mut values = Vec::new();
    toc_values(&doc, &mut values);
    Ok(values
        .into_iter()
        .filter_map(local_path)
        .filter_map(|href| match href.strip_prefix('/') {
            Some(rooted) => normalize("", rooted),
            None => normalize(parent(toc_path), href),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav(text: &str) -> Vec<String> {
        parse_mkdocs(text).expect("valid mkdocs.yml").nav
    }

    #[test]
    fn mkdocs_nav_and_redirects_block_style() {
        let text = "site_name: x\ndocs_dir: site-docs\nnav:\n  - Home: index.md\n  - 'Guide':\n    - guide/setup.md\n    - \"Use it\": guide/use.md\n  - External: https://example.com\nplugins:\n  - redirects:\n      redirect_maps:\n        'old.md': 'guide/setup.md'\n        gone.md: https://example.com/\ntheme: x\n";
        let mkdocs = parse_mkdocs(text).expect("valid");
        assert_eq!(mkdocs.docs_dir, "site-docs");
        assert_eq!(
            mkdocs.nav,
            ["site-docs/index.md", "site-docs/guide/setup.md", "site-docs/guide/use.md"]
        );
        assert_eq!(
            mkdocs.redirects,
            [("site-docs/old.md".to_owned(), "site-docs/guide/setup.md".to_owned())]
        );
    }

    #[test]
    fn mkdocs_nav_flow_style() {
        let text = "nav: [index.md, {Guide: [guide/a.md, {Deep: guide/deep/b.md}]}, {Web: 'https://x.org'}]\n";
        assert_eq!(nav(text), ["docs/index.md", "docs/guide/a.md", "docs/guide/deep/b.md"]);
    }

    #[test]
    fn mkdocs_nav_nested_sections_bare_paths_and_comments() {
        let text = "# site\nnav:\n- index.md\n- Section:\n  - Sub section:\n    - Page: a/b.md # trailing comment\n    - a/c.md\n  - 'Title: with colon': a/d.md\n- Empty section: []\n- about/\ntheme:\n  name: material\n  icon: !!python/name:material.extensions.emoji.twemoji\n";
        assert_eq!(
            nav(text),
            ["docs/index.md", "docs/a/b.md", "docs/a/c.md", "docs/a/d.md", "docs/about"]
        );
    }

    #[test]
    fn mkdocs_nav_keeps_paths_without_md_and_drops_urls_and_fragments() {
        let text = "docs_dir: ./site/\nnav:\n  - 'Spaces in name.md'\n  - Anchor: page.md#part\n  - Mail: mailto:a@b.c\n  - Proto: //cdn.example.com/x\n";
        assert_eq!(nav(text), ["site/Spaces in name.md", "site/page.md"]);
    }

    #[test]
    fn mkdocs_without_nav_or_empty() {
        assert_eq!(
            parse_mkdocs("").expect("empty is valid"),
            Mkdocs { docs_dir: "docs".to_owned(), ..Mkdocs::default() }
        );
        assert!(nav("site_name: x\n").is_empty());
    }

    #[test]
    fn mkdocs_malformed_is_an_error_naming_the_problem() {
        let err = parse_mkdocs("nav:\n  - [index.md\n  - b.md: : :\n").expect_err("malformed");
        assert!(err.starts_with("malformed YAML: "), "{err}");
        assert!(err.contains("line"), "the message says where: {err}");
    }

    #[test]
    fn read_mkdocs_warns_and_goes_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("mkdocs.yml"), "nav: [a.md\n").expect("write");
        let warnings = Mutex::new(Vec::new());
        let root = TreeRoot::new(tidy_io::Root::open(dir.path()).expect("root"), 1 << 20);
        assert_eq!(read_mkdocs(&root, &warnings), None);
        let warnings = warnings.into_inner().expect("lock");
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].path, root.join("mkdocs.yml"));
        assert!(warnings[0].message.starts_with("malformed YAML: "), "{}", warnings[0].message);
    }

    #[test]
    fn toc_yml_hrefs_block_style_with_nested_items() {
        let text = "- name: Start\n  href: start.md\n- name: API\n  href: ../api/toc.yml\n  items:\n  - name: Web\n    href: https://x.org\n  - topicHref: \"deep/page.md#x\"\n    items:\n    - name: Deeper\n      href: deep/more/page.md?view=1\n  - name: Xref\n    href: xref:System.String\n";
        assert_eq!(
            toc_hrefs("docs/toc.yml", text).expect("valid"),
            ["docs/start.md", "api/toc.yml", "docs/deep/page.md", "docs/deep/more/page.md"]
        );
    }

    #[test]
    fn toc_yml_flow_style_and_root_items() {
        let flow = "- {name: A, href: a.md, items: [{name: B, href: /root/b.md}, {name: C, tocHref: c/}]}\n";
        assert_eq!(
            toc_hrefs("docs/toc.yml", flow).expect("valid"),
            ["docs/a.md", "root/b.md", "docs/c"]
        );
        let rooted = "items:\n- name: Home\n  href: index.md\n  homepage: home.md\n";
        assert_eq!(toc_hrefs("toc.yml", rooted).expect("valid"), ["index.md", "home.md"]);
    }

    #[test]
    fn toc_yml_malformed_is_an_error() {
        let err = toc_hrefs("toc.yml", "- name: a\n  href: [b.md\n").expect_err("malformed");
        assert!(err.starts_with("malformed YAML: "), "{err}");
    }
}
