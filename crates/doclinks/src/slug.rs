//! Heading slugs, the way each renderer computes them.
//!
//! A `#fragment` works only if it is the id the renderer that shows the page
//! gives the heading, so each platform has its own [`Flavor`]:
//!
//! - GitHub (github-slugger, also Docusaurus and MyST): lowercase, drop every
//!   character that is not a letter, a combining mark, a number, a connector
//!   (`_`), `-` or a space, each space to `-`; duplicates get `-1`, `-2`.
//!   Marks are kept, which matters for scripts such as Devanagari where vowel
//!   signs are combining marks.
//! - GitLab: the same characters, but runs of `-` collapse into one.
//! - Markdig (DocFX) and Hugo's `github` ids: letters, digits, `_` and `-`
//!   kept, spaces to `-`, marks dropped.
//! - mdBook: alphanumerics, `_` and `-` kept (ASCII letters lowercased only),
//!   every whitespace character to `-`.
//! - Python-Markdown's `toc` (mkdocs' default): accents folded to ASCII and
//!   the rest dropped, `[^\w\s-]` removed, runs of spaces and `-` to one `-`;
//!   duplicates get `_1`, `_2`. `pymdownx.slugs.slugify` keeps Unicode.

use std::sync::LazyLock;

use regex::Regex;

use crate::fast::HashMap;

/// How a renderer turns heading text into an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Flavor {
    GitHub,
    GitLab,
    Markdig,
    Hugo,
    MdBook,
    PythonMarkdown,
    Pymdownx,
}

impl Flavor {
    /// Every flavor, for per-flavor caches.
    pub(crate) const ALL: [Flavor; 7] = [
        Flavor::GitHub,
        Flavor::GitLab,
        Flavor::Markdig,
        Flavor::Hugo,
        Flavor::MdBook,
        Flavor::PythonMarkdown,
        Flavor::Pymdownx,
    ];

    pub(crate) fn index(self) -> usize {
        Flavor::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }

    /// The suffix separator of a duplicate heading's id.
    fn duplicate_separator(self) -> char {
        match self {
            Flavor::PythonMarkdown | Flavor::Pymdownx => '_',
            _ => '-',
        }
    }
}

/// The slug of one heading text in the GitHub flavor, without duplicate suffixes.
pub(crate) fn slug(text: &str) -> String {
    slug_as(Flavor::GitHub, text)
}

/// The slug of one heading text, without duplicate suffixes.
pub(crate) fn slug_as(flavor: Flavor, text: &str) -> String {
    let text = text.trim();
    match flavor {
        Flavor::GitHub => kept(text, &GITHUB_DROPPED),
        Flavor::GitLab => collapse(&kept(text, &GITHUB_DROPPED)),
        Flavor::Markdig | Flavor::Hugo => kept(text, &MARKDIG_DROPPED),
        Flavor::MdBook => text
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '_' || c == '-' => Some(c.to_ascii_lowercase()),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect(),
        Flavor::PythonMarkdown => {
            let ascii: String = text.chars().filter_map(fold_to_ascii).collect();
            python_slug(&ascii)
        }
        Flavor::Pymdownx => {
            let lower = text.to_lowercase();
            lower
                .chars()
                .filter(|c| python_word(*c) || matches!(c, '-' | ' '))
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        }
    }
}

/// `text` lowercased, without the characters `dropped` matches, its spaces
/// made `-`. ASCII text (most headings) is done without the pattern: of
/// ASCII, both patterns keep exactly the letters, digits, `_`, space and
/// `-`, and a tree of ASCII headings never compiles their Unicode classes.
fn kept(text: &str, dropped: &LazyLock<Regex>) -> String {
    if !text.is_ascii() {
        return dropped.replace_all(&text.to_lowercase(), "").replace(' ', "-");
    }
    // Sized once: every heading of every page is slugged.
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b' ' => out.push('-'),
            b'-' | b'_' => out.push(char::from(b)),
            _ if b.is_ascii_alphanumeric() => out.push(char::from(b.to_ascii_lowercase())),
            _ => {}
        }
    }
    out
}

static GITHUB_DROPPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{M}\p{N}\p{Pc} -]").expect("the slug pattern is valid"));

/// Markdig's `char.IsLetterOrDigit` and Hugo's `unicode.IsLetter || IsDigit`.
static MARKDIG_DROPPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{Nd}_ -]").expect("the slug pattern is valid"));

/// Python's `\w` for one character: alphanumerics and `_`.
fn python_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// NFKD then `encode('ascii', 'ignore')` for the characters that have an ASCII
/// base letter; everything else is dropped, as Python drops it.
fn fold_to_ascii(c: char) -> Option<char> {
    if c.is_ascii() {
        return Some(c);
    }
    let base = match c {
        'À'..='Å' | 'à'..='å' | 'Ā'..='ą' => 'a',
        'Ç' | 'ç' | 'Ć'..='č' => 'c',
        'Ď' | 'ď' => 'd',
        'È'..='Ë' | 'è'..='ë' | 'Ē'..='ě' => 'e',
        'Ĝ'..='ģ' => 'g',
        'Ĥ' | 'ĥ' => 'h',
        'Ì'..='Ï' | 'ì'..='ï' | 'Ĩ'..='İ' => 'i',
        'Ĵ' | 'ĵ' => 'j',
        'Ķ' | 'ķ' => 'k',
        'Ĺ'..='ľ' => 'l',
        'Ñ' | 'ñ' | 'Ń'..='ň' => 'n',
        'Ò'..='Ö' | 'ò'..='ö' | 'Ō'..='ő' => 'o',
        'Ŕ'..='ř' => 'r',
        'Ś'..='š' => 's',
        'Ţ'..='ť' => 't',
        'Ù'..='Ü' | 'ù'..='ü' | 'Ũ'..='ų' => 'u',
        'Ŵ' | 'ŵ' => 'w',
        'Ý' | 'ý' | 'ÿ' | 'Ŷ' | 'ŷ' | 'Ÿ' => 'y',
        'Ź'..='ž' => 'z',
        _ => return None,
    };
    // Upper-case letters keep their case until the slug lowercases them.
    Some(if c.is_uppercase() { base.to_ascii_uppercase() } else { base })
}

/// Python-Markdown's `slugify` on ASCII text: `[^\w\s-]` removed, stripped,
/// lowercased, runs of whitespace and `-` to one `-`.
fn python_slug(text: &str) -> String {
    let kept: String =
        text.chars().filter(|c| python_word(*c) || c.is_whitespace() || *c == '-').collect();
    let lower = kept.trim().to_lowercase();
    let mut out = String::with_capacity(lower.len());
    let mut in_run = false;
    for c in lower.chars() {
        if c == '-' || c.is_whitespace() {
            if !in_run {
                out.push('-');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    out
}

/// Runs of `-` to one.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// Hands out unique slugs in document order: the second `Intro` becomes
/// `intro-1` (`intro_1` for Python-Markdown), as the renderer does.
pub(crate) struct Slugger {
    flavor: Flavor,
    seen: HashMap<String, usize>,
}

impl Default for Slugger {
    fn default() -> Slugger {
        Slugger::new(Flavor::GitHub)
    }
}

impl Slugger {
    pub(crate) fn new(flavor: Flavor) -> Slugger {
        Slugger { flavor, seen: HashMap::default() }
    }

    pub(crate) fn unique(&mut self, text: &str) -> String {
        let mut original = slug_as(self.flavor, text);
        if original.is_empty() && self.flavor == Flavor::Markdig {
            // Markdig names a heading without id characters (`` ### `$_` ``) `section`.
            original = "section".to_owned();
        }
        let separator = self.flavor.duplicate_separator();
        // Most headings are the first of their slug: one copy, for the map.
        if (!original.is_empty() || separator != '_') && !self.seen.contains_key(&original) {
            self.seen.insert(original.clone(), 0);
            return original;
        }
        let mut result = original.clone();
        while self.seen.contains_key(&result) || (result.is_empty() && separator == '_') {
            let count = self.seen.entry(original.clone()).or_insert(0);
            *count += 1;
            result = format!("{original}{separator}{count}");
        }
        self.seen.insert(result.clone(), 0);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// ASCII headings are slugged without the patterns, as the patterns
        /// slug them.
        #[test]
        fn ascii_text_is_kept_as_the_patterns_keep_it(text in "[ -~\t]{0,40}") {
            for dropped in [&GITHUB_DROPPED, &MARKDIG_DROPPED] {
                let by_pattern =
                    dropped.replace_all(&text.trim().to_lowercase(), "").replace(' ', "-");
                proptest::prop_assert_eq!(kept(text.trim(), dropped), by_pattern);
            }
        }
    }

    #[test]
    fn github_examples() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("  Trailing space  "), "trailing-space");
        assert_eq!(slug("API v2.0 (beta)"), "api-v20-beta");
        assert_eq!(slug("snake_case and kebab-case"), "snake_case-and-kebab-case");
        assert_eq!(slug("Two  spaces"), "two--spaces");
        assert_eq!(slug("Ünïcödé Straße"), "ünïcödé-straße");
    }

    #[test]
    fn emoji_and_symbols_as_github_slugger_drops_them() {
        // Symbols go, spaces stay: a leading emoji leaves a leading `-`.
        assert_eq!(slug("🚀 Launch"), "-launch");
        assert_eq!(slug("I ♥ unicode"), "i--unicode");
        // U+FE0F (variation selector) is a mark, so github-slugger keeps it.
        assert_eq!(slug("❤️ Love"), "\u{fe0f}-love");
        assert_eq!(slug("A — B"), "a--b");
        assert_eq!(slug("C++ & C#"), "c--c");
        assert_eq!(slug("v1.2.3: what's new?"), "v123-whats-new");
    }

    #[test]
    fn keeps_combining_marks_in_hindi() {
        // Vowel signs (U+093F, U+0940) and the virama (U+094D) are marks.
        assert_eq!(slug("हिन्दी शीर्षक"), "हिन्दी-शीर्षक");
    }

    #[test]
    fn duplicates_get_suffixes() {
        let mut slugger = Slugger::default();
        let slugs: Vec<String> =
            ["Intro", "Intro", "Intro-1", "Intro"].iter().map(|t| slugger.unique(t)).collect();
        assert_eq!(slugs, ["intro", "intro-1", "intro-1-1", "intro-2"]);
        let mut python = Slugger::new(Flavor::PythonMarkdown);
        let slugs: Vec<String> =
            ["Intro", "Intro", "Intro"].iter().map(|t| python.unique(t)).collect();
        assert_eq!(slugs, ["intro", "intro_1", "intro_2"]);
    }

    #[test]
    fn other_renderers() {
        let text = "Café — C++ & Go: a  b";
        assert_eq!(slug_as(Flavor::GitHub, text), "café--c--go-a--b");
        assert_eq!(slug_as(Flavor::GitLab, text), "café-c-go-a-b");
        assert_eq!(slug_as(Flavor::Markdig, text), "café--c--go-a--b");
        assert_eq!(slug_as(Flavor::PythonMarkdown, text), "cafe-c-go-a-b");
        assert_eq!(slug_as(Flavor::Pymdownx, text), "café--c--go-a--b");
        assert_eq!(slug_as(Flavor::MdBook, "Ünïcödé\tTab"), "Ünïcödé-tab");
        // Markdig and Hugo drop marks that github-slugger keeps.
        assert_eq!(slug_as(Flavor::Hugo, "हिन्दी"), "हनद");
    }
}
