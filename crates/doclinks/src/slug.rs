//! GitHub-style heading slugs, as github-slugger computes them.
//!
//! GitHub lowercases the heading text, drops every character that is not a
//! letter, a combining mark, a number, a connector (`_`), `-` or a space, and turns
//! each space into `-`. Marks are kept, which matters for scripts such as
//! Devanagari where vowel signs are combining marks: dropping them (as some
//! checkers do) makes every Hindi heading a false positive.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

static DROPPED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{L}\p{M}\p{N}\p{Pc} -]").expect("the slug pattern is valid"));

/// The slug of one heading text, without duplicate suffixes.
pub(crate) fn slug(text: &str) -> String {
    let lower = text.trim().to_lowercase();
    DROPPED.replace_all(&lower, "").replace(' ', "-")
}

/// Hands out unique slugs in document order: the second `Intro` becomes
/// `intro-1`, the third `intro-2`, as on GitHub.
#[derive(Default)]
pub(crate) struct Slugger {
    seen: HashMap<String, usize>,
}

impl Slugger {
    pub(crate) fn unique(&mut self, text: &str) -> String {
        let original = slug(text);
        let mut result = original.clone();
        while self.seen.contains_key(&result) {
            let count = self.seen.entry(original.clone()).or_insert(0);
            *count += 1;
            result = format!("{original}-{count}");
        }
        self.seen.insert(result.clone(), 0);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
