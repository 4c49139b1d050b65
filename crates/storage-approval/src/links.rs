//! Which files the pages of ROOT link to, for the keep rule: a copy that a
//! Markdown or HTML page links to is never the copy that is removed.
//!
//! The destinations come from the doclinks library (`doclinks::destinations`),
//! which parses inline, reference, autolink, image and raw-HTML destinations with
//! pulldown-cmark, never from code; HTML pages are read the same way (their `href` and
//! `src`). Each page is read through ROOT's handle with tidy-io, and each
//! destination is resolved here against the page's path the way doclinks resolves
//! it (query and fragment dropped, percent-decoded, relative to the page or, with
//! a leading `/`, to ROOT, and a directory to the README or index page it shows).

use std::collections::HashMap;
use std::ffi::OsStr;

use tidy_io::Dir;

/// The most bytes read from one page: doclinks' own default cap.
const PAGE_LIMIT: u64 = 16 * 1024 * 1024;

/// The pages doclinks shows as a directory link's target, in its order.
const DIR_INDEXES: [&str; 6] =
    ["README.md", "readme.md", "Readme.md", "index.md", "INDEX.md", "_index.md"];

/// Whether `rel` is a page whose links count: Markdown or HTML.
pub(crate) fn is_page(rel: &str) -> bool {
    // Asked of every file of a scan: no allocation.
    let name = rel.as_bytes();
    [".md", ".markdown", ".html", ".htm"].iter().any(|ext| {
        name.len() >= ext.len()
            && name[name.len() - ext.len()..].eq_ignore_ascii_case(ext.as_bytes())
    })
}

/// The links found, and the pages whose links could not be read.
#[derive(Debug, Default)]
pub(crate) struct Links {
    /// (page, target): indexes into the `pages` and `targets` the caller passed.
    pub(crate) edges: Vec<(usize, usize)>,
    /// Pages whose links are unknown, with the reason.
    pub(crate) warnings: Vec<String>,
}

/// The links from `pages` (paths relative to ROOT) to any of `targets`. A page's
/// links to itself do not count.
pub(crate) fn find(root: &Dir, pages: &[&str], targets: &[&str]) -> Result<Links, String> {
    let mut links = Links::default();
    if pages.is_empty() || targets.is_empty() {
        return Ok(links);
    }
    let target_index: HashMap<&str, usize> =
        targets.iter().enumerate().map(|(i, t)| (*t, i)).collect();
    let mut dirs: HashMap<&str, Option<Dir>> = HashMap::new();
    for (page_index, page) in pages.iter().enumerate() {
        let (parent, name) = page.rsplit_once('/').unwrap_or(("", page));
        let source = dirs.entry(parent).or_insert_with(|| {
            let parts: Vec<&str> = parent.split('/').filter(|p| !p.is_empty()).collect();
            root.open_beneath(&parts, false).ok()
        });
        let bytes = match source.as_ref().map(|dir| dir.read_regular(OsStr::new(name), PAGE_LIMIT))
        {
            Some(Ok(bytes)) => bytes,
            Some(Err(e)) => {
                links.warnings.push(format!("{page}: {}; its links are not known", e.reason()));
                continue;
            }
            None => {
                links
                    .warnings
                    .push(format!("{page}: cannot open its directory; its links are not known"));
                continue;
            }
        };
        // A page in a legacy encoding still has ASCII destinations worth keeping.
        let text = String::from_utf8_lossy(&bytes);
        for raw in doclinks::destinations(&text) {
            let Some(target) = resolve(&raw, page) else { continue };
            let hit = target_index.get(target.as_str()).copied().or_else(|| {
                DIR_INDEXES.iter().find_map(|index| {
                    let path = if target.is_empty() {
                        (*index).to_owned()
                    } else {
                        format!("{target}/{index}")
                    };
                    target_index.get(path.as_str()).copied()
                })
            });
            if let Some(target) = hit
                && targets[target] != *page
            {
                links.edges.push((page_index, target));
            }
        }
    }
    links.edges.sort_unstable();
    links.edges.dedup();
    Ok(links)
}

/// The path below ROOT that `raw` (a destination as written in `page`) names, as
/// doclinks resolves it; `None` for external links, links of one machine, links
/// to the page itself and links that climb out of ROOT.
pub(crate) fn resolve(raw: &str, page: &str) -> Option<String> {
    let dest = raw.trim();
    let dest = dest.strip_prefix('<').and_then(|d| d.strip_suffix('>')).unwrap_or(dest);
    let lower = dest.get(..7).map(str::to_ascii_lowercase);
    let bytes = dest.as_bytes();
    let drive = bytes.len() >= 3 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if lower.as_deref() == Some("file://")
        || drive
        || dest.starts_with("\\\\")
        || has_scheme(dest)
        || dest.starts_with("//")
    {
        return None;
    }
    let path = &dest[..dest.find(['?', '#']).unwrap_or(dest.len())];
    if path.is_empty() {
        return None;
    }
    let decoded = unescape(&percent_decode(path));
    let base = if decoded.starts_with('/') {
        ""
    } else {
        page.rsplit_once('/').map_or("", |(dir, _)| dir)
    };
    let mut parts: Vec<&str> = base.split('/').filter(|s| !s.is_empty()).collect();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

fn has_scheme(dest: &str) -> bool {
    let Some(colon) = dest.find(':') else { return false };
    let scheme = &dest[..colon];
    scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Percent-decoding; a sequence that is not valid, or bytes that are not UTF-8 once
/// decoded, are left as written (as doclinks does).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// Markdown backslash escapes and the HTML entity `&amp;`, which a destination as
/// written may hold and the file name does not.
fn unescape(text: &str) -> String {
    let text = text.replace("&amp;", "&");
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some(next)) if next.is_ascii_punctuation() => {
                out.push(*next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_resolve_as_doclinks_resolves_them() {
        let cases = [
            ("img/a.png", "docs/page.md", Some("docs/img/a.png")),
            ("../img/a%20b.png?raw=1#x", "docs/page.md", Some("img/a b.png")),
            ("/assets/logo.svg", "docs/deep/page.md", Some("assets/logo.svg")),
            ("<my file.png>", "page.md", Some("my file.png")),
            ("a\\_b.png", "page.md", Some("a_b.png")),
            ("./sub/", "docs/page.md", Some("docs/sub")),
            ("https://example.com/a.png", "page.md", None),
            ("mailto:a@b", "page.md", None),
            ("//cdn/a.png", "page.md", None),
            ("#anchor", "page.md", None),
            ("../../x", "docs/page.md", None),
            ("C:\\x.png", "page.md", None),
        ];
        for (raw, page, want) in cases {
            assert_eq!(resolve(raw, page).as_deref(), want, "{raw} in {page}");
        }
    }

    #[test]
    fn every_kind_of_link_of_every_page_is_found() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let write = |rel: &str, text: &str| {
            let path = root.join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write(
            "docs/index.md",
            "![logo](img/logo.png)\n[guide](guide.md#setup)\n[ref]\n\n[ref]: ../data/table.csv\n\n\
             <img src=\"img/raw.png\">\n\n[sub](sub/)\n[self](#top) [out](https://x.invalid/img/logo.png)\n",
        );
        write("docs/guide.md", "# Guide\n[back](index.md)\n");
        write(
            "site/page.html",
            "<html><body><a href=\"../docs/img/logo.png\">x</a></body></html>\n",
        );
        let pages = ["docs/guide.md", "docs/index.md", "site/page.html"];
        let targets = [
            "docs/img/logo.png",
            "docs/guide.md",
            "data/table.csv",
            "docs/img/raw.png",
            "docs/sub/README.md",
            "docs/index.md",
            "docs/unlinked.png",
        ];
        let dir = Dir::open(root).unwrap();
        let links = find(&dir, &pages, &targets).unwrap();
        assert!(links.warnings.is_empty(), "{:?}", links.warnings);
        let named: Vec<(&str, &str)> =
            links.edges.iter().map(|&(p, t)| (pages[p], targets[t])).collect();
        assert_eq!(
            named,
            [
                ("docs/guide.md", "docs/index.md"),
                ("docs/index.md", "docs/img/logo.png"),
                ("docs/index.md", "docs/guide.md"),
                ("docs/index.md", "data/table.csv"),
                ("docs/index.md", "docs/img/raw.png"),
                ("docs/index.md", "docs/sub/README.md"),
                ("site/page.html", "docs/img/logo.png"),
            ]
        );
    }
}
