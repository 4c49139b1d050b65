//! The fix invariant as a property, on generated trees of every platform:
//! links written the way the platform resolves them are never reported, and
//! applying every high-confidence fix never turns a link that resolves into
//! one that does not (the resolver judges before and after the fix), and
//! leaves each fixed link resolving.

use std::collections::HashSet;
use std::path::Path;

use doclinks::{CheckOptions, Confidence, FixOptions, Report};
use proptest::prelude::*;

/// The pages of every generated tree, relative to the platform's content
/// folder, and the heading each has (the same slug in every flavor).
const PAGES: &[&str] = &[
    "index.md",
    "guide/setup.md",
    "guide/usage-notes.md",
    "reference/api.md",
    "reference/cli/flags.md",
];

#[derive(Debug, Clone, Copy)]
enum Site {
    GitHub,
    DocFx,
    Mkdocs,
    Docusaurus,
    Hugo,
    MdBook,
}

const SITES: [Site; 6] =
    [Site::GitHub, Site::DocFx, Site::Mkdocs, Site::Docusaurus, Site::Hugo, Site::MdBook];

impl Site {
    /// The content folder and the configuration files of the site.
    fn setup(self) -> (&'static str, Vec<(&'static str, &'static str)>) {
        match self {
            Site::GitHub => ("", vec![]),
            Site::DocFx => (
                "docs",
                vec![
                    ("docs/docfx.json", r#"{"build": {"content": [{"files": ["**/*.md"]}]}}"#),
                    ("doclinks.toml", "base_path = \"/product/\"\n"),
                ],
            ),
            Site::Mkdocs => ("docs", vec![("mkdocs.yml", "site_name: x\n")]),
            Site::Docusaurus => (
                "docs",
                vec![(
                    "docusaurus.config.js",
                    "module.exports = { baseUrl: '/', presets: [['classic', {docs: {}}]] };\n",
                )],
            ),
            Site::Hugo => ("content", vec![("hugo.toml", "baseURL = 'https://example.org/'\n")]),
            Site::MdBook => ("src", vec![("book.toml", "[book]\ntitle = 'x'\n")]),
        }
    }

    /// Ways to write a working link from page `from` to page `to` on this
    /// platform (`None` when a style does not apply).
    fn write(self, style: usize, from: &str, to: &str) -> Option<String> {
        let rel = relative(from, to);
        let url_of = |page: &str| {
            let stem = page.strip_suffix(".md").unwrap_or(page);
            if stem == "index" { String::new() } else { stem.to_owned() }
        };
        let styles: Vec<String> = match self {
            Site::GitHub => vec![rel.clone(), format!("/{to}"), format!("./{rel}")],
            Site::DocFx => vec![
                rel.clone(),
                format!("/product/{}", url_of(to)),
                format!("~/{to}"),
                rel.strip_suffix(".md").unwrap_or(&rel).to_owned(),
            ],
            Site::Mkdocs => vec![rel.clone()],
            Site::Docusaurus => vec![rel.clone(), format!("/docs/{}", url_of(to))],
            Site::Hugo => vec![format!("/{}/", url_of(to)).replace("//", "/"), rel.clone()],
            Site::MdBook => {
                vec![rel.clone(), format!("{}.html", rel.strip_suffix(".md").unwrap_or(&rel))]
            }
        };
        styles.get(style % styles.len()).cloned()
    }
}

/// The relative path from page `from` to page `to` (both content-relative).
fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> =
        from.split('/').collect::<Vec<_>>()[..from.split('/').count() - 1].to_vec();
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dir.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut out = vec![".."; from_dir.len() - common];
    out.extend(&to_parts[common..]);
    out.join("/")
}

/// How a working link is broken, if it is.
#[derive(Debug, Clone, Copy)]
enum Break {
    None,
    /// The letter case of the file name changes.
    Case,
    /// A typo in the file name.
    Typo,
    /// One `../` too many or too few.
    Depth,
    /// The fragment names a heading that is not there.
    Fragment,
}

#[derive(Debug, Clone)]
struct Spec {
    from: usize,
    to: usize,
    style: usize,
    fragment: bool,
    breakage: Break,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..PAGES.len(),
        0..PAGES.len(),
        0..4usize,
        any::<bool>(),
        prop_oneof![
            3 => Just(Break::None),
            1 => Just(Break::Case),
            1 => Just(Break::Typo),
            1 => Just(Break::Depth),
            1 => Just(Break::Fragment),
        ],
    )
        .prop_map(|(from, to, style, fragment, breakage)| Spec {
            from,
            to,
            style,
            fragment,
            breakage,
        })
}

fn mutate(dest: &str, breakage: Break) -> String {
    let (path, fragment) = dest.split_once('#').map_or((dest, None), |(p, f)| (p, Some(f)));
    let name_at = path.trim_end_matches('/').rfind('/').map_or(0, |i| i + 1);
    let mut path = path.to_owned();
    match breakage {
        Break::None | Break::Fragment => {}
        Break::Case => {
            let upper: String =
                path[name_at..].chars().take(1).flat_map(char::to_uppercase).collect();
            if !upper.is_empty() {
                let first = path[name_at..].chars().next().map_or(0, char::len_utf8);
                path.replace_range(name_at..name_at + first, &upper);
            }
        }
        Break::Typo => {
            // Drop the name's second letter: `setup` → `stup`.
            if let Some((i, c)) = path[name_at..].char_indices().nth(1)
                && c.is_alphabetic()
            {
                path.remove(name_at + i);
            }
        }
        Break::Depth => {
            path = match path.strip_prefix("../") {
                Some(rest) => rest.to_owned(),
                None if !path.starts_with(['/', '~']) => format!("../{path}"),
                None => path,
            };
        }
    }
    match (fragment, breakage) {
        (Some(_), Break::Fragment) | (None, Break::Fragment) => format!("{path}#no-such-heading"),
        (Some(f), _) => format!("{path}#{f}"),
        (None, _) => path,
    }
}

/// Writes the tree: every page has the same two headings, and links on lines
/// of their own. Returns, per page, the lines whose links work by construction.
fn write_tree(root: &Path, site: Site, specs: &[Spec]) -> Vec<(String, HashSet<u32>)> {
    let (content, configs) = site.setup();
    for (path, text) in configs {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let mut out = Vec::new();
    for (p, page) in PAGES.iter().enumerate() {
        let mut text = String::from("# Page title\n\n## Section two\n\n");
        let mut working = HashSet::new();
        for spec in specs.iter().filter(|s| s.from == p) {
            let Some(mut dest) = site.write(spec.style, page, PAGES[spec.to]) else { continue };
            if spec.fragment {
                dest.push_str("#section-two");
            }
            let dest = mutate(&dest, spec.breakage);
            let line = text.lines().count() as u32 + 1;
            if matches!(spec.breakage, Break::None) {
                working.insert(line);
            }
            text.push_str(&format!("[link]({dest})\n"));
        }
        let rel = if content.is_empty() { (*page).to_owned() } else { format!("{content}/{page}") };
        let path = root.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        out.push((rel, working));
    }
    out
}

fn broken_at(report: &Report) -> HashSet<(String, u32)> {
    report.findings.iter().map(|f| (f.file.clone(), f.line)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 36, ..ProptestConfig::default() })]

    #[test]
    fn high_fixes_never_break_a_link_and_working_links_are_never_reported(
        site in 0..SITES.len(),
        specs in proptest::collection::vec(spec(), 1..24),
    ) {
        let site = SITES[site];
        let dir = tempfile::tempdir().unwrap();
        let working = write_tree(dir.path(), site, &specs);
        let before = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
        let broken_before = broken_at(&before);
        for (file, lines) in &working {
            for line in lines {
                prop_assert!(
                    !broken_before.contains(&(file.clone(), *line)),
                    "{site:?}: a working link is reported: {file}:{line}: {:#?}",
                    before.findings
                );
            }
        }
        let applied = doclinks::apply(&before, &FixOptions::new().min_confidence(Confidence::High)).unwrap();
        let after = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
        let broken_after = broken_at(&after);
        // Fixes change destinations only: the lines are the same.
        prop_assert!(broken_after.is_subset(&broken_before), "{site:?}: a fix broke a link: {:#?}", after.findings);
        for change in &applied.changes {
            prop_assert!(
                !broken_after.contains(&(change.file.clone(), change.line)),
                "{site:?}: the fix {change:?} does not resolve: {:#?}",
                after.findings
            );
        }
        prop_assert_eq!(after.redirected.len(), 0);
    }
}
