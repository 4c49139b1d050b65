//! Hand-written scanners for the patterns nearly every page meets: HTML
//! attribute values, mdBook's `{{#include}}` and build-plugin directives.
//!
//! Each was a regular expression. Compiling one and making its matching
//! caches on each thread cost more than all of a small page's matching (on
//! the Rust book, ~3 ms of a 40 ms check), for patterns simple enough to
//! scan by hand. Each scanner's tests hold it to its pattern: the same
//! matches, in the same order, on generated text.

use std::ops::Range;

/// HTML attribute names whose values are links.
pub(crate) const LINK_ATTRIBUTES: &[&[u8]] = &[b"href", b"src"];
/// HTML attribute names whose values are anchors.
pub(crate) const ANCHOR_ATTRIBUTES: &[&[u8]] = &[b"id", b"name"];

/// The value ranges of the attributes `names` (lowercase ASCII, matched in
/// any ASCII case, as HTML matches attribute names) in `html`, as the
/// pattern ``(?:^|[\s<])(?i-u:NAME)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))``
/// finds them: left to right, without overlap; the name at the start or after
/// white space or `<`; the value quoted (the range without its quotes) or a
/// bare run. `\s` is Unicode white space, as in the pattern.
pub(crate) fn attribute_values<'h>(
    html: &'h str,
    names: &'static [&'static [u8]],
) -> impl Iterator<Item = Range<usize>> + 'h {
    let mut from = 0;
    let mut at = 0;
    std::iter::from_fn(move || {
        let bytes = html.as_bytes();
        while at < bytes.len() {
            let p = at + bytes[at..].iter().position(|b| starts_a_name(*b, names))?;
            at = p + 1;
            let Some(name) = names
                .iter()
                .find(|n| bytes.get(p..p + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(n)))
            else {
                continue;
            };
            // The character before the name, which the match takes, must be
            // after the last match (`^` is the start of the text only).
            let prefixed = p == 0
                || html[..p]
                    .chars()
                    .next_back()
                    .is_some_and(|c| (c.is_whitespace() || c == '<') && p - c.len_utf8() >= from);
            if !prefixed {
                continue;
            }
            let mut i = skip_white_space(html, p + name.len());
            if bytes.get(i) != Some(&b'=') {
                continue;
            }
            i = skip_white_space(html, i + 1);
            let (value, end) = match bytes.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    let Some(close) = memchr::memchr(quote, &bytes[i + 1..]) else { continue };
                    (i + 1..i + 1 + close, i + 2 + close)
                }
                Some(_) => {
                    let run = html[i..]
                        .char_indices()
                        .find(|&(_, c)| !is_bare_value_char(c))
                        .map_or(html.len(), |(k, _)| i + k);
                    if run == i {
                        continue;
                    }
                    (i..run, run)
                }
                None => continue,
            };
            (from, at) = (end, end);
            return Some(value);
        }
        None
    })
}

fn starts_a_name(byte: u8, names: &[&[u8]]) -> bool {
    let lower = byte.to_ascii_lowercase();
    names.iter().any(|n| n[0] == lower)
}

/// The offset after the white space (`\s*`) at `at`.
fn skip_white_space(text: &str, at: usize) -> usize {
    text[at..].char_indices().find(|&(_, c)| !c.is_whitespace()).map_or(text.len(), |(k, _)| at + k)
}

/// ``[^\s"'=<>`]``.
fn is_bare_value_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '"' | '\'' | '=' | '<' | '>' | '`'))
}

/// The pages mdBook's `{{#include path.md…}}` names in `text`, as the pattern
/// `\{\{#include\s+([^}\s:]+\.md)` captures them: the longest run of
/// characters but `}`, white space and `:` that ends in `.md` after at least
/// one character (`{{#include a.md:5}}` is `a.md`).
pub(crate) fn mdbook_includes(text: &str) -> impl Iterator<Item = &str> {
    const OPEN: &str = "{{#include";
    let mut from = 0;
    memchr::memmem::find_iter(text.as_bytes(), OPEN).filter_map(move |at| {
        if at < from {
            return None;
        }
        let after = at + OPEN.len();
        let start = skip_white_space(text, after);
        if start == after {
            return None;
        }
        let run = text[start..]
            .char_indices()
            .find(|&(_, c)| c == '}' || c == ':' || c.is_whitespace())
            .map_or(&text[start..], |(k, _)| &text[start..start + k]);
        // The last `.md` with a character before it.
        let end = run.rfind(".md").filter(|&k| k >= 1)? + 3;
        from = start + end;
        Some(&run[..end])
    })
}

/// Whether an HTML node is a build plugin's directive, as the pattern
/// `^<!--\s*[a-z][\w-]*:[a-z]` tells (after leading white space): a comment
/// opening with a lowercase word, a colon and a lowercase letter
/// (`<!-- md:option type:x -->`). `\w` is Unicode's word class, as in the
/// pattern.
pub(crate) fn is_directive(html: &str) -> bool {
    let Some(body) = html.trim_start().strip_prefix("<!--") else { return false };
    let mut chars = body.trim_start().chars();
    if !chars.next().is_some_and(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let mut rest = chars.skip_while(|&c| c == '-' || regex_syntax::is_word_character(c));
    rest.next() == Some(':') && rest.next().is_some_and(|c| c.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;

    /// What the attribute pattern of `names` (`a|b`) captures, as ranges.
    fn by_pattern(html: &str, names: &str) -> Vec<Range<usize>> {
        let pattern =
            format!(r#"(?:^|[\s<])(?i-u:{names})\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#);
        Regex::new(&pattern)
            .unwrap()
            .captures_iter(html)
            .map(|caps| {
                caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3)).unwrap().range()
            })
            .collect()
    }

    fn scanned(html: &str, names: &'static [&'static [u8]]) -> Vec<Range<usize>> {
        attribute_values(html, names).collect()
    }

    #[test]
    fn attribute_values_are_found_as_a_tokenizer_finds_them() {
        let html = r#"<a HREF = "x.md" src=y.png data-href="no" name='n'>"#;
        let values: Vec<&str> =
            scanned(html, LINK_ATTRIBUTES).into_iter().map(|r| &html[r]).collect();
        assert_eq!(values, ["x.md", "y.png"]);
        let anchors: Vec<&str> =
            scanned(html, ANCHOR_ATTRIBUTES).into_iter().map(|r| &html[r]).collect();
        assert_eq!(anchors, ["n"]);
        // A value that is never closed is no value; a name inside a value found is none.
        assert!(scanned(r#"<a href="x.md>"#, LINK_ATTRIBUTES).is_empty());
        assert_eq!(scanned(r#"<a href="see src=x" src=y>"#, LINK_ATTRIBUTES), [9..18, 24..25]);
        // Names are matched in ASCII case only, as HTML does: `ſ` is not `s`.
        assert!(scanned("<img ſrc=x.png>", LINK_ATTRIBUTES).is_empty());
    }

    #[test]
    fn mdbook_includes_take_the_last_md_of_the_path() {
        let text = "{{#include a.md:5}} {{#include\tb.md.md}} {{#include .md}} {{#include c.rs}}";
        assert_eq!(mdbook_includes(text).collect::<Vec<_>>(), ["a.md", "b.md.md"]);
    }

    #[test]
    fn directives_are_comments_opening_with_a_word_and_a_colon() {
        assert!(is_directive("<!-- md:option type:x -->"));
        assert!(is_directive("  <!--md:flag-->"));
        assert!(!is_directive("<!-- ignore -->"));
        assert!(!is_directive("<!-- Md:option -->"));
        assert!(!is_directive("<!-- md: option -->"));
    }

    /// Text made of the pieces the patterns turn on.
    fn html_noise() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("href".to_owned()),
            Just("HrEf".to_owned()),
            Just("src".to_owned()),
            Just("ſrc".to_owned()),
            Just("id".to_owned()),
            Just("NAME".to_owned()),
            Just("<a ".to_owned()),
            "[=\"'<>` \t\n\u{a0}\u{2003}\u{85}&a-z.:/#é]{1,3}",
        ];
        prop::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn attribute_values_are_what_the_pattern_captures(html in html_noise()) {
            prop_assert_eq!(scanned(&html, LINK_ATTRIBUTES), by_pattern(&html, "href|src"));
            prop_assert_eq!(scanned(&html, ANCHOR_ATTRIBUTES), by_pattern(&html, "id|name"));
        }

        #[test]
        fn mdbook_includes_are_what_the_pattern_captures(
            text in prop::collection::vec(
                prop_oneof![
                    Just("{{#include".to_owned()),
                    Just(".md".to_owned()),
                    "[{}#:. \t\u{a0}a-z/é]{1,3}",
                ],
                0..16,
            ).prop_map(|p| p.concat()),
        ) {
            let pattern = Regex::new(r"\{\{#include\s+([^}\s:]+\.md)").unwrap();
            let expected: Vec<&str> =
                pattern.captures_iter(&text).map(|c| c.get(1).unwrap().as_str()).collect();
            prop_assert_eq!(mdbook_includes(&text).collect::<Vec<_>>(), expected);
        }

        #[test]
        fn directives_are_what_the_pattern_tells(
            text in "[ \n\u{a0}]{0,2}(<!--)?[ \t\u{a0}\u{2003}]{0,2}[a-zAé_\u{300}\u{663}-]{0,4}[:é]{0,2}[a-zAé_ -]{0,5}(-->)?",
        ) {
            let whole = Regex::new(r"^<!--\s*[a-z][\w-]*:[a-z][\w-]*\b").unwrap();
            prop_assert_eq!(is_directive(&text), whole.is_match(text.trim_start()));
        }
    }
}
