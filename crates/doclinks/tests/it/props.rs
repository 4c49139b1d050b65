//! Property tests of the issue's invariants, through the library API: applying
//! any set of fixes changes only destination bytes, fix-then-check finds none
//! of the fixed links again, and restore returns every file byte for byte.

use doclinks::{CheckOptions, Confidence, FixOptions};
use proptest::prelude::*;

/// Destinations written in `docs/page.md`: valid ones and each kind of breakage.
const TARGETS: &[&str] = &[
    "../guide/Setup%20Guide.md",
    "../guide/setup%20guide.md",
    "../guide/Setup%20Guide.md#install",
    "../guide/Setup%20Guide.md#INSTALL",
    "../guide/Setup%20Guide.md#configur",
    "../api/reference",
    "unique-name.md",
    "../api/Reference.md#top",
    "nowhere-at-all.md",
    "#local-heading",
    "#Local-Heading",
    "./../api/reference.md?plain=1#api",
    "../guide/setup%20guide.md#INSTALL",
    "../api/reference#nothing-like-it",
    "unique-name.md#uniqe",
];

/// Text between links, including code that must never be touched.
const TEXT: &[&str] = &[
    "word ",
    "ünïcødé ",
    "`[x](../api/Reference.md)` ",
    "\n\n",
    "\n\n```\n[y](../guide/setup%20guide.md)\n```\n\n",
    "\n\n## Local heading\n\n",
    "\n> quoted ",
    "\n- item ",
];

#[derive(Debug, Clone)]
enum Piece {
    Text(usize),
    Inline(usize),
    Image(usize),
    Html(usize),
    Reference(usize),
    /// `[t](<dest> "title")`.
    Angle(usize),
    /// `[t](dest` with the title on the next line.
    TitleBelow(usize),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        (0..TEXT.len()).prop_map(Piece::Text),
        (0..TARGETS.len()).prop_map(Piece::Inline),
        (0..TARGETS.len()).prop_map(Piece::Image),
        (0..TARGETS.len()).prop_map(Piece::Html),
        (0..TARGETS.len()).prop_map(Piece::Reference),
        (0..TARGETS.len()).prop_map(Piece::Angle),
        (0..TARGETS.len()).prop_map(Piece::TitleBelow),
    ]
}

fn render(pieces: &[Piece]) -> String {
    let mut body = String::from("# Page\n\n");
    let mut definitions = String::new();
    for (n, piece) in pieces.iter().enumerate() {
        match piece {
            Piece::Text(i) => body.push_str(TEXT[*i]),
            Piece::Inline(i) => body.push_str(&format!("[link {n}]({}) ", TARGETS[*i])),
            Piece::Image(i) => body.push_str(&format!("![img {n}]({} \"title\") ", TARGETS[*i])),
            Piece::Html(i) => body.push_str(&format!("<a href=\"{}\">html</a> ", TARGETS[*i])),
            Piece::Angle(i) => body.push_str(&format!("[angle {n}](<{}> \"t\") ", TARGETS[*i])),
            Piece::TitleBelow(i) => {
                body.push_str(&format!("[below {n}]({}\n  'title') ", TARGETS[*i]));
            }
            Piece::Reference(i) => {
                body.push_str(&format!("[ref {n}][r{n}] "));
                definitions.push_str(&format!("[r{n}]: {}\n", TARGETS[*i]));
            }
        }
    }
    format!("{body}\n\n{definitions}")
}

fn write_tree(root: &std::path::Path, page: &str) {
    for (path, text) in [
        ("docs/page.md", page),
        ("guide/Setup Guide.md", "# Setup\n\n## Install\n\n## Configure\n"),
        ("api/reference.md", "# API\n"),
        ("notes/unique-name.md", "# Unique\n"),
    ] {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// The byte offset of a 1-based line and character column.
/// A byte order mark is not a column.
fn offset(text: &str, line: u32, column: u32) -> usize {
    let mut start: usize = text.split_inclusive('\n').take(line as usize - 1).map(str::len).sum();
    if line == 1 && text.starts_with('\u{feff}') {
        start += 3;
    }
    start + text[start..].chars().take(column as usize - 1).map(char::len_utf8).sum::<usize>()
}

/// Markdown-flavoured noise around links, for the parser's edge cases.
fn noise() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just("["),
            Just("]"),
            Just("("),
            Just(")"),
            Just("<"),
            Just(">"),
            Just("!"),
            Just("`"),
            Just("\\"),
            Just("#"),
            Just(" "),
            Just("\n"),
            Just("]:"),
            Just("href=\""),
            Just("\""),
            Just("```\n"),
            Just("    "),
            Just("> "),
            Just("- "),
            Just("é"),
            Just("{#id}"),
            Just("[x](../api/Reference.md)"),
            Just("[y](unique-name)"),
            Just("[z](#LOCAL)"),
            Just("<a href=\"../guide/setup%20guide.md\">"),
            Just("\n[d]: ../API/reference.md\n"),
        ],
        0..80,
    )
    .prop_map(|parts| format!("# Local\n\n{}", parts.concat()))
}

/// Checks the three invariants for one page: only destinations change (at the
/// reported positions), fixed links are not found again, restore is exact.
fn fix_round_trip(page: &str, min: Confidence) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), page);
    let first = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
    let applied = doclinks::apply(&first, &FixOptions::new().min_confidence(min)).unwrap();
    let after = std::fs::read_to_string(dir.path().join("docs/page.md")).unwrap();
    let mut expected = page.to_owned();
    let mut changes = applied.changes.clone();
    changes.sort_by_key(|c| std::cmp::Reverse((c.line, c.column)));
    for change in &changes {
        let at = offset(page, change.line, change.column);
        prop_assert!(page[at..].starts_with(&change.old), "{change:?} not at its position");
        expected.replace_range(at..at + change.old.len(), &change.new);
    }
    prop_assert_eq!(&after, &expected);
    let second = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
    prop_assert_eq!(second.findings.len(), first.findings.len() - applied.changes.len());
    for finding in &second.findings {
        prop_assert!(
            !applied.changes.iter().any(|c| c.new == finding.target),
            "fixed link found again: {finding:?}"
        );
    }
    if let Some(backup) = &applied.backup {
        doclinks::restore(backup, dir.path(), &doclinks::RestoreOptions::new()).unwrap();
        prop_assert_eq!(std::fs::read_to_string(dir.path().join("docs/page.md")).unwrap(), page);
    } else {
        prop_assert!(applied.changes.is_empty());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn noisy_pages_keep_the_invariants(page in noise()) {
        fix_round_trip(&page, Confidence::Low)?;
    }

    #[test]
    fn fixes_touch_only_destinations_and_restore_is_exact(
        pieces in proptest::collection::vec(piece(), 1..40),
        min in prop_oneof![Just(Confidence::High), Just(Confidence::Medium), Just(Confidence::Low)],
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let mut page = render(&pieces);
        if crlf {
            page = page.replace('\n', "\r\n");
        }
        if bom {
            page.insert(0, '\u{feff}');
        }
        fix_round_trip(&page, min)?;
    }
}
