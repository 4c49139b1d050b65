//! Property: a check answers the same with and without the page cache, over
//! generated trees and after a random edit, rename, deletion or new page
//! (with the pages' stamps old enough for the cache to trust them).

use std::path::Path;
use std::time::{Duration, SystemTime};

use doclinks::{CheckOptions, Format, Style};
use proptest::prelude::*;

const HEADINGS: &[&str] = &["Overview", "Install", "Configure the service", "Usage", "FAQ"];

/// One page: front matter or not, some headings, links to other pages of the
/// tree (or to missing ones), with and without fragments.
#[derive(Debug, Clone)]
struct Page {
    front: bool,
    headings: Vec<usize>,
    links: Vec<(usize, Option<usize>)>,
}

fn page() -> impl Strategy<Value = Page> {
    (
        any::<bool>(),
        proptest::collection::vec(0..HEADINGS.len(), 0..4),
        proptest::collection::vec((0..8usize, proptest::option::of(0..HEADINGS.len() + 1)), 0..6),
    )
        .prop_map(|(front, headings, links)| Page { front, headings, links })
}

fn name(n: usize) -> String {
    format!("docs/page-{n}.md")
}

fn text(page: &Page) -> String {
    let mut out = String::new();
    if page.front {
        out.push_str("---\ntitle: A page\nslug: /somewhere\n---\n\n");
    }
    for &h in &page.headings {
        out.push_str(&format!("## {}\n\nSome words.\n\n", HEADINGS[h]));
    }
    for &(to, fragment) in &page.links {
        let fragment = match fragment {
            Some(f) if f < HEADINGS.len() => {
                format!("#{}", HEADINGS[f].to_lowercase().replace(' ', "-"))
            }
            Some(_) => "#no-such-part".to_owned(),
            None => String::new(),
        };
        out.push_str(&format!("See [page {to}](page-{to}.md{fragment}).\n"));
    }
    out
}

/// What happens to the tree between the two checks.
#[derive(Debug, Clone)]
enum Change {
    Edit(usize, Page),
    Rename(usize, usize),
    Delete(usize),
    Add(usize, Page),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (0..8usize, page()).prop_map(|(n, p)| Change::Edit(n, p)),
        (0..8usize, 8..12usize).prop_map(|(a, b)| Change::Rename(a, b)),
        (0..8usize).prop_map(Change::Delete),
        (8..12usize, page()).prop_map(|(n, p)| Change::Add(n, p)),
    ]
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Every page's mtime set back, so that the cache trusts stamps.
fn age(root: &Path) {
    let past = SystemTime::now() - Duration::from_secs(3600);
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let file = std::fs::File::options().append(true).open(entry.unwrap().path()).unwrap();
        file.set_modified(past).unwrap();
    }
}

fn answer(root: &Path, cache: bool) -> String {
    let report = doclinks::check(&CheckOptions::new(root).cache(cache)).unwrap();
    doclinks::render_report(&report, Format::Json, &Style::new("", false))
}

fn apply(root: &Path, change: &Change) {
    let exists = |n: usize| root.join(name(n)).is_file();
    match change {
        Change::Edit(n, page) | Change::Add(n, page) => write(root, &name(*n), &text(page)),
        Change::Rename(a, b) if exists(*a) && !exists(*b) => {
            std::fs::rename(root.join(name(*a)), root.join(name(*b))).unwrap();
        }
        Change::Delete(n) if exists(*n) => std::fs::remove_file(root.join(name(*n))).unwrap(),
        Change::Rename(..) | Change::Delete(_) => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn results_are_identical_with_and_without_the_cache(
        pages in proptest::collection::vec(page(), 1..8),
        changes in proptest::collection::vec(change(), 1..3),
        aged in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (n, page) in pages.iter().enumerate() {
            write(root, &name(n), &text(page));
        }
        write(root, "README.md", "# Home\n\n[first](docs/page-0.md#install)\n");
        age(root);
        let plain = answer(root, false);
        prop_assert_eq!(&answer(root, true), &plain, "cold cache");
        prop_assert_eq!(&answer(root, true), &plain, "warm cache");
        for change in &changes {
            apply(root, change);
            if aged {
                age(root);
            }
            let plain = answer(root, false);
            prop_assert_eq!(&answer(root, true), &plain, "after {:?}", change);
        }
    }
}
