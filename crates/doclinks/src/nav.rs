//! Navigation and redirect files of documentation generators: mkdocs.yml
//! (`nav`, `docs_dir`, mkdocs-redirects `redirect_maps`), DocFX `toc.yml` and
//! `.openpublishing.redirection*.json`.
//!
//! These are read with a few line patterns rather than a YAML parser: only
//! paths are needed, and a malformed file must not stop a link check.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::resolve::normalize;
use crate::tree::{Tree, file_name, is_markdown, join, parent};

static YAML_MD_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*-\s*(?:(?:'[^']*'|"[^"]*"|[^:'"]+):\s*)?['"]?([^'"\s#]+\.md)['"]?\s*$"#)
        .expect("the nav pattern is valid")
});

static TOC_HREF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*-?\s*(?:href|topicHref|tocHref|homepage):\s*['"]?([^'"\s#?]+)"#)
        .expect("the toc pattern is valid")
});

static MAP_ENTRY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*['"]?([^'":]+?)['"]?\s*:\s*['"]?([^'"\s]+?)['"]?\s*$"#)
        .expect("the map pattern is valid")
});

/// What mkdocs.yml says about navigation and redirects, as root-relative paths.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Mkdocs {
    pub(crate) docs_dir: String,
    pub(crate) nav: Vec<String>,
    pub(crate) redirects: Vec<(String, String)>,
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

pub(crate) fn read_mkdocs(root: &Path) -> Option<Mkdocs> {
    let text = ["mkdocs.yml", "mkdocs.yaml"]
        .iter()
        .find_map(|n| std::fs::read_to_string(root.join(n)).ok())?;
    Some(parse_mkdocs(&text))
}

pub(crate) fn parse_mkdocs(text: &str) -> Mkdocs {
    let docs_dir = text
        .lines()
        .find_map(|l| l.strip_prefix("docs_dir:"))
        .map(|v| v.trim().trim_matches(['\'', '"']).trim_end_matches('/').to_owned())
        .unwrap_or_else(|| "docs".to_owned());
    let in_docs = |p: &str| normalize(&docs_dir, p);
    let mut mkdocs = Mkdocs { docs_dir: docs_dir.clone(), ..Mkdocs::default() };
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("nav:") {
            i += 1;
            while i < lines.len()
                && (lines[i].trim().is_empty() || indent(lines[i]) > 0 || lines[i].starts_with('-'))
            {
                if let Some(caps) = YAML_MD_VALUE.captures(lines[i])
                    && let Some(path) = in_docs(&caps[1])
                {
                    mkdocs.nav.push(path);
                }
                i += 1;
            }
            continue;
        }
        if line.trim_start().starts_with("redirect_maps:") {
            let base = indent(line);
            i += 1;
            while i < lines.len() && (lines[i].trim().is_empty() || indent(lines[i]) > base) {
                if let Some(caps) = MAP_ENTRY.captures(lines[i])
                    && !caps[2].contains("://")
                    && let (Some(old), Some(new)) = (in_docs(&caps[1]), in_docs(&caps[2]))
                {
                    mkdocs.redirects.push((old, new));
                }
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    mkdocs
}

/// The `href`s of a DocFX `toc.yml`, resolved against its directory.
pub(crate) fn toc_hrefs(toc_path: &str, text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| TOC_HREF.captures(l))
        .filter(|c| !c[1].contains("://"))
        .filter_map(|c| {
            if c[1].starts_with('/') {
                normalize("", &c[1])
            } else {
                normalize(parent(toc_path), &c[1])
            }
        })
        .collect()
}

/// `source_path → target` pairs from DocFX `.openpublishing.redirection*.json`
/// files at the root, with the redirect URL mapped back to a file of the tree.
pub(crate) fn docfx_redirects(tree: &Tree) -> Vec<(String, String, String)> {
    let Ok(dir) = std::fs::read_dir(&tree.root) else { return Vec::new() };
    let mut names: Vec<String> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(".openpublishing.redirection") && n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let Ok(text) = std::fs::read_to_string(tree.root.join(&name)) else { continue };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else { continue };
        let Some(entries) = json.get("redirections").and_then(|r| r.as_array()) else { continue };
        for entry in entries {
            let source = entry
                .get("source_path_from_root")
                .or_else(|| entry.get("source_path"))
                .and_then(|s| s.as_str())
                .and_then(|s| normalize("", s.trim_start_matches('/')));
            let url = entry.get("redirect_url").and_then(|u| u.as_str());
            if let (Some(source), Some(url)) = (source, url)
                && let Some(target) = redirect_target(tree, &source, url)
            {
                out.push((source, target, name.clone()));
            }
        }
    }
    out
}

/// Maps a published URL back to a Markdown file: relative to the source, from
/// the root, or (for URLs with a site base path) by the longest matching path tail.
fn redirect_target(tree: &Tree, source: &str, url: &str) -> Option<String> {
    if url.contains("://") {
        return None;
    }
    let url = url.split(['?', '#']).next().unwrap_or(url).trim_end_matches('/');
    let base = if url.starts_with('/') { "" } else { parent(source) };
    let joined = normalize(base, url)?;
    for candidate in [
        joined.clone(),
        format!("{joined}.md"),
        join(&joined, "index.md"),
        join(&joined, "README.md"),
    ] {
        if tree.index(&candidate).is_some() {
            return Some(candidate);
        }
    }
    let last = file_name(&joined);
    let name = if is_markdown(last) { last.to_owned() } else { format!("{last}.md") };
    let candidates = tree.by_name.get(&name)?;
    let url_parts: Vec<&str> = joined.trim_end_matches(".md").split('/').rev().collect();
    let score = |path: &str| {
        path.trim_end_matches(".md")
            .split('/')
            .rev()
            .zip(&url_parts)
            .take_while(|(a, b)| a == *b)
            .count()
    };
    let best = candidates.iter().map(|&i| score(&tree.files[i])).max()?;
    let mut top = candidates.iter().filter(|&&i| score(&tree.files[i]) == best);
    let first = top.next()?;
    if top.next().is_some() { None } else { Some(tree.files[*first].clone()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mkdocs_nav_and_redirects() {
        let text = "site_name: x\ndocs_dir: site-docs\nnav:\n  - Home: index.md\n  - 'Guide':\n    - guide/setup.md\n    - \"Use it\": guide/use.md\n  - External: https://example.com\nplugins:\n  - redirects:\n      redirect_maps:\n        'old.md': 'guide/setup.md'\n        gone.md: https://example.com/\ntheme: x\n";
        let mkdocs = parse_mkdocs(text);
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
    fn toc_yml_hrefs() {
        let text = "- name: Start\n  href: start.md\n- name: API\n  href: ../api/toc.yml\n  items:\n  - name: Web\n    href: https://x.org\n  - topicHref: \"deep/page.md#x\"\n";
        assert_eq!(
            toc_hrefs("docs/toc.yml", text),
            ["docs/start.md", "api/toc.yml", "docs/deep/page.md"]
        );
    }
}
