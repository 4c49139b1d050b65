//! Link and anchor extraction from one Markdown file, with comrak.
//!
//! comrak tells us where each link node is; the destination's exact byte range
//! inside that node is found here by reading the source, because a fix must
//! rewrite those bytes and nothing else. Reference-style links are reported once,
//! at their definition (`[label]: dest`), which is where the destination lives.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use comrak::nodes::{AstNode, NodeValue, Sourcepos};
use comrak::{Arena, Options, parse_document};
use regex::Regex;

use crate::slug::Slugger;

/// How a link is written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `[text](dest)`.
    Inline,
    /// `![alt](src)`.
    Image,
    /// `[label]: dest`, the definition behind `[text][label]`.
    Definition,
    /// `<scheme:...>` or a bare GFM autolink.
    Autolink,
    /// `href=` or `src=` in raw HTML.
    Html,
}

/// One link destination in a file.
#[derive(Debug, Clone)]
pub(crate) struct RawLink {
    /// The destination as the renderer sees it (escapes and entities resolved).
    pub(crate) dest: String,
    /// The destination exactly as written (the bytes of `span`).
    pub(crate) raw: String,
    /// The byte range of the destination in the source file.
    pub(crate) span: Range<usize>,
    /// 1-based line of the destination.
    pub(crate) line: u32,
    /// 1-based column of the destination, in characters.
    pub(crate) column: u32,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "kept for tests and debugging output; resolution treats all forms alike"
        )
    )]
    pub(crate) form: Form,
}

/// What one Markdown file contributes: its links and the anchors it defines.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub(crate) links: Vec<RawLink>,
    pub(crate) anchors: HashSet<String>,
}

fn options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.front_matter_delimiter = Some("---".to_owned());
    options
}

static HTML_LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[\s<])(href|src)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#)
        .expect("the HTML link pattern is valid")
});

static HTML_ANCHOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|[\s<])(?:id|name)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#)
        .expect("the HTML anchor pattern is valid")
});

static DEFINITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]*>)*[ \t]*\[((?:[^\]\\]|\\.)+)\]:[ \t]*(?:<([^>\n]*)>|(\S+))")
        .expect("the definition pattern is valid")
});

static LABEL_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]*>)*[ \t]*\[((?:[^\]\\]|\\.)+)\]:[ \t]*\r?\n?$")
        .expect("the label pattern is valid")
});

static DESTINATION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]*>)*[ \t]*(?:<([^>\n]*)>|([^\s<]\S*))")
        .expect("the destination pattern is valid")
});

static HEADING_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{#([^\s}]+)[^}]*\}\s*$").expect("the heading id pattern is valid")
});

/// Byte offsets of line starts, to turn comrak positions into byte ranges and
/// byte offsets into line:column.
struct Lines<'s> {
    text: &'s str,
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    fn new(text: &'s str) -> Lines<'s> {
        let mut starts = vec![0];
        starts.extend(text.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i + 1));
        Lines { text, starts }
    }

    /// The byte offset of a 1-based (line, byte column) position.
    fn offset(&self, line: usize, column: usize) -> usize {
        let start = self.starts.get(line.saturating_sub(1)).copied().unwrap_or(self.text.len());
        (start + column.saturating_sub(1)).min(self.text.len())
    }

    /// The byte range a node covers (its end position is inclusive).
    fn range(&self, pos: Sourcepos) -> Range<usize> {
        let start = self.offset(pos.start.line, pos.start.column);
        let end = (self.offset(pos.end.line, pos.end.column) + 1).min(self.text.len());
        start..end.max(start)
    }

    /// The 1-based line and character column of a byte offset.
    fn position(&self, offset: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self.text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
        (to_u32(line), to_u32(column))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Extracts every link and anchor of a Markdown text.
pub(crate) fn extract(text: &str) -> Extracted {
    let arena = Arena::new();
    let root = parse_document(&arena, text, &options());
    let lines = Lines::new(text);
    let mut out = Extracted::default();
    let mut slugger = Slugger::default();
    // Lines where a `[label]: dest` line is not a definition: code, raw HTML,
    // front matter.
    let mut opaque_lines: Vec<Range<usize>> = Vec::new();

    for node in root.descendants() {
        let data = node.data.borrow();
        let mut pos = data.sourcepos;
        if matches!(data.value, NodeValue::Link(_) | NodeValue::Image(_) | NodeValue::HtmlInline(_))
        {
            let shift = definition_shift(&lines, node);
            pos.start.line += shift;
            pos.end.line += shift;
        }
        match &data.value {
            NodeValue::Link(link) | NodeValue::Image(link) => {
                let image = matches!(data.value, NodeValue::Image(_));
                if let Some(raw) = link_destination(&lines, pos, &link.url, image) {
                    out.links.push(raw);
                }
            }
            NodeValue::HtmlBlock(_) | NodeValue::HtmlInline(_) => {
                let range = lines.range(pos);
                html_links(&lines, range.clone(), &mut out);
                if matches!(data.value, NodeValue::HtmlBlock(_)) {
                    opaque_lines.push(pos.start.line..pos.end.line + 1);
                }
            }
            NodeValue::CodeBlock(_) | NodeValue::FrontMatter(_) => {
                opaque_lines.push(pos.start.line..pos.end.line + 1);
            }
            NodeValue::Heading(_) => {
                let mut heading = String::new();
                heading_text(node, &mut heading);
                if let Some(caps) = HEADING_ID.captures(&heading) {
                    out.anchors.insert(caps[1].to_owned());
                    let start = caps.get(0).map_or(heading.len(), |m| m.start());
                    heading.truncate(start);
                }
                out.anchors.insert(slugger.unique(&heading));
            }
            _ => {}
        }
    }
    if text.contains("]:") {
        definitions(&lines, &opaque_lines, &mut out);
    }
    out.links.sort_by_key(|l| l.span.start);
    out
}

/// comrak reports inline positions of a paragraph that starts with link
/// reference definitions as if the definitions were not there; this is how many
/// lines to add back.
fn definition_shift<'a>(lines: &Lines<'_>, node: &'a AstNode<'a>) -> usize {
    let Some(paragraph) =
        node.ancestors().find(|n| matches!(n.data.borrow().value, NodeValue::Paragraph))
    else {
        return 0;
    };
    let pos = paragraph.data.borrow().sourcepos;
    let start = lines.offset(pos.start.line, pos.start.column);
    if lines.text.as_bytes().get(start) != Some(&b'[') {
        return 0;
    }
    let mut shift = 0;
    for line in pos.start.line..=pos.end.line {
        let from = lines.offset(line, 1);
        let to = lines.starts.get(line).copied().unwrap_or(lines.text.len());
        if DEFINITION.is_match(&lines.text[from..to]) {
            shift += 1;
        } else {
            break;
        }
    }
    shift
}

/// The text GitHub slugs: text and code of the heading, not HTML or image alt.
fn heading_text<'a>(node: &'a AstNode<'a>, out: &mut String) {
    for child in node.children() {
        match &child.data.borrow().value {
            NodeValue::Text(text) => out.push_str(text),
            NodeValue::Code(code) => out.push_str(&code.literal),
            NodeValue::Image(_) | NodeValue::HtmlInline(_) => {}
            _ => heading_text(child, out),
        }
    }
}

fn link_destination(lines: &Lines<'_>, pos: Sourcepos, url: &str, image: bool) -> Option<RawLink> {
    let range = lines.range(pos);
    let bytes = lines.text.as_bytes();
    let node = &bytes[range.clone()];
    let (span, form) = if node.first() == Some(&b'<') {
        // `<scheme:...>` autolink: the destination is between the brackets.
        (range.start + 1..range.end.saturating_sub(1).max(range.start + 1), Form::Autolink)
    } else if node.starts_with(b"[") || node.starts_with(b"![") {
        if node.last() != Some(&b')') {
            // Reference style: reported at its definition.
            return None;
        }
        let span = inline_destination(bytes, range.start, range.end)?;
        (span, if image { Form::Image } else { Form::Inline })
    } else {
        // A bare GFM autolink: the node is the URL itself.
        (range.clone(), Form::Autolink)
    };
    if span.is_empty() && url.is_empty() {
        return None;
    }
    let (line, column) = lines.position(span.start);
    let raw = lines.text.get(span.clone())?.to_owned();
    Some(RawLink { dest: url.to_owned(), raw, span, line, column, form })
}

/// The byte range of the destination in `[text](dest "title")`, starting at
/// `start` (the `[` or `!`).
fn inline_destination(bytes: &[u8], start: usize, end: usize) -> Option<Range<usize>> {
    let mut i = start;
    if bytes.get(i) == Some(&b'!') {
        i += 1;
    }
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    let mut depth = 0usize;
    while i < end {
        match bytes[i] {
            b'\\' => i += 1,
            b'`' => {
                let run = bytes[i..end].iter().take_while(|&&b| b == b'`').count();
                if let Some(close) = find_backtick_run(&bytes[i + run..end], run) {
                    i += run + close + run - 1;
                } else {
                    i += run - 1;
                }
            }
            b'[' => depth += 1,
            b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if bytes.get(i + 1) != Some(&b'(') {
        return None;
    }
    i += 2;
    while i < end && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r' | b'>') {
        i += 1;
    }
    if bytes.get(i) == Some(&b'<') {
        let open = i + 1;
        let mut j = open;
        while j < end && bytes[j] != b'>' && bytes[j] != b'\n' {
            if bytes[j] == b'\\' {
                j += 1;
            }
            j += 1;
        }
        return Some(open..j.min(end));
    }
    let open = i;
    let mut parens = 0usize;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'(' => parens += 1,
            b')' if parens == 0 => break,
            b')' => parens -= 1,
            b' ' | b'\t' | b'\n' | b'\r' => break,
            _ => {}
        }
        i += 1;
    }
    Some(open..i.min(bytes.len()))
}

fn find_backtick_run(bytes: &[u8], run: usize) -> Option<usize> {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if len == run {
                return Some(i);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// `href`/`src` links and `id`/`name` anchors in a raw HTML node, skipping comments.
fn html_links(lines: &Lines<'_>, range: Range<usize>, out: &mut Extracted) {
    let Some(html) = lines.text.get(range.clone()) else { return };
    let comments = comment_ranges(html);
    let in_comment = |at: usize| comments.iter().any(|c| c.contains(&at));
    for caps in HTML_LINK.captures_iter(html) {
        let Some(value) = caps.get(2).or_else(|| caps.get(3)).or_else(|| caps.get(4)) else {
            continue;
        };
        if in_comment(value.start()) || value.as_str().trim().is_empty() {
            continue;
        }
        let span = range.start + value.start()..range.start + value.end();
        let (line, column) = lines.position(span.start);
        let dest = decode_entities(value.as_str());
        let raw = value.as_str().to_owned();
        out.links.push(RawLink { dest, raw, span, line, column, form: Form::Html });
    }
    for caps in HTML_ANCHOR.captures_iter(html) {
        if let Some(value) = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))
            && !in_comment(value.start())
        {
            out.anchors.insert(decode_entities(value.as_str()));
        }
    }
}

fn comment_ranges(html: &str) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(open) = html[from..].find("<!--") {
        let open = from + open;
        let close = html[open + 4..].find("-->").map_or(html.len(), |c| open + 4 + c + 3);
        ranges.push(open..close);
        from = close;
    }
    ranges
}

/// The few entities that occur in attribute values written by hand.
fn decode_entities(value: &str) -> String {
    if !value.contains('&') {
        return value.to_owned();
    }
    value
        .replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// `[label]: dest` definitions outside code, HTML and front matter.
fn definitions(lines: &Lines<'_>, opaque: &[Range<usize>], out: &mut Extracted) {
    let text = lines.text;
    let line_text = |index: usize| {
        let start = lines.starts[index];
        let end = lines.starts.get(index + 1).copied().unwrap_or(text.len());
        (start, &text[start..end])
    };
    let in_opaque = |index: usize| opaque.iter().any(|r| r.contains(&(index + 1)));
    // A definition cannot interrupt a paragraph: it starts a document, follows a
    // blank line, a heading, another definition, or code/HTML/front matter.
    let mut may_start = true;
    let mut index = 0;
    while index < lines.starts.len() {
        if in_opaque(index) {
            may_start = true;
            index += 1;
            continue;
        }
        let (start, line) = line_text(index);
        let bare = line.trim_start_matches([' ', '\t', '>']).trim_end();
        let mut defined = false;
        if may_start && line.contains("]:") {
            if let Some(caps) = DEFINITION.captures(line) {
                if let Some(value) = caps.get(2).or_else(|| caps.get(3))
                    && !caps[1].starts_with('^')
                {
                    push_definition(lines, start, value, out);
                }
                defined = true;
            } else if let Some(caps) = LABEL_ONLY.captures(line)
                && index + 1 < lines.starts.len()
                && !caps[1].starts_with('^')
            {
                // `[label]:` with the destination on the next line.
                let (next_start, next) = line_text(index + 1);
                if let Some(value) =
                    DESTINATION_LINE.captures(next).and_then(|c| c.get(1).or_else(|| c.get(2)))
                {
                    push_definition(lines, next_start, value, out);
                    index += 1;
                }
                defined = true;
            }
        }
        may_start = defined || bare.is_empty() || bare.starts_with('#');
        index += 1;
    }
}

fn push_definition(
    lines: &Lines<'_>,
    line_start: usize,
    value: regex::Match<'_>,
    out: &mut Extracted,
) {
    let span = line_start + value.start()..line_start + value.end();
    let (line, column) = lines.position(span.start);
    let dest = unescape(value.as_str());
    let raw = value.as_str().to_owned();
    out.links.push(RawLink { dest, raw, span, line, column, form: Form::Definition });
}

/// Removes backslash escapes of ASCII punctuation, as CommonMark does.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && next.is_ascii_punctuation()
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each link as `line:col form dest =source-bytes`.
    fn links(text: &str) -> Vec<String> {
        extract(text)
            .links
            .iter()
            .map(|l| {
                format!(
                    "{}:{} {:?} {} ={}",
                    l.line,
                    l.column,
                    l.form,
                    l.dest,
                    &text[l.span.clone()]
                )
            })
            .collect()
    }

    fn anchors(text: &str) -> Vec<String> {
        let mut a: Vec<String> = extract(text).anchors.into_iter().collect();
        a.sort();
        a
    }

    #[test]
    fn inline_links_and_images() {
        let text = "# T\n\nSee [a *b* [c]](a.md#x \"title\") and ![img](<img dir/p.png>).\n";
        assert_eq!(
            links(text),
            ["3:17 Inline a.md#x =a.md#x", "3:45 Image img dir/p.png =img dir/p.png"]
        );
    }

    #[test]
    fn reference_links_report_their_definition() {
        let text =
            "Use [the guide][g] and [g] and [G][].\n\n[g]: ./guide.md#setup\n[^1]: a footnote\n";
        assert_eq!(links(text), ["3:6 Definition ./guide.md#setup =./guide.md#setup"]);
    }

    #[test]
    fn definitions_only_where_a_definition_can_start() {
        let text = "Some prose\n[not]: a-definition.md\n\n[split]:\n  next-line.md \"Title\"\n> [quoted]: q.md\n";
        assert_eq!(
            links(text),
            ["5:3 Definition next-line.md =next-line.md", "6:13 Definition q.md =q.md"]
        );
    }

    #[test]
    fn autolinks_and_html() {
        let text = "<https://example.com> www.example.org\n\n<p><a href=\"x.md\">x</a> <img src='i.png'></p>\n\nText <a href=y.md>y</a> <!-- <a href=\"no.md\"> -->\n";
        assert_eq!(
            links(text),
            [
                "1:2 Autolink https://example.com =https://example.com",
                "1:23 Autolink http://www.example.org =www.example.org",
                "3:13 Html x.md =x.md",
                "3:35 Html i.png =i.png",
                "5:14 Html y.md =y.md",
            ]
        );
    }

    #[test]
    fn nothing_from_code_or_front_matter() {
        let text = "---\nlink: [x](front.md)\n[f]: front.md\n---\n\n```\n[a](code.md)\n[d]: code.md\n```\n\n    [b](indented.md)\n\nInline `[c](span.md)` code.\n";
        assert!(links(text).is_empty(), "{:?}", links(text));
    }

    #[test]
    fn inline_positions_after_definitions() {
        let text = "[ref]: a.md\n<a href=\"b.md\">b</a> and [c](c.md)\n";
        assert_eq!(
            links(text),
            ["1:8 Definition a.md =a.md", "2:10 Html b.md =b.md", "2:30 Inline c.md =c.md"]
        );
    }

    #[test]
    fn crlf_line_endings() {
        let text = "# T\r\n\r\n[a](x.md) <a href=\"h.md\">\r\n\r\n[r]: y.md\r\n";
        assert_eq!(
            links(text),
            ["3:5 Inline x.md =x.md", "3:20 Html h.md =h.md", "5:6 Definition y.md =y.md"]
        );
    }

    #[test]
    fn positions_count_characters() {
        let text = "Ünïcödé [x](y.md)\n";
        assert_eq!(links(text), ["1:13 Inline y.md =y.md"]);
    }

    #[test]
    fn links_in_lists_tables_and_quotes() {
        let text = "- item [a](a.md)\n\n| h |\n|---|\n| [b](b.md) |\n\n> quoted [c](c.md)\n";
        assert_eq!(
            links(text),
            ["1:12 Inline a.md =a.md", "5:7 Inline b.md =b.md", "7:14 Inline c.md =c.md"]
        );
    }

    #[test]
    fn escaped_and_parenthesised_destinations() {
        let text = "[a](x_\\(1\\).md) [b](wiki/Foo_(bar).md)\n";
        assert_eq!(
            links(text),
            [
                "1:5 Inline x_(1).md =x_\\(1\\).md",
                "1:21 Inline wiki/Foo_(bar).md =wiki/Foo_(bar).md"
            ]
        );
    }

    #[test]
    fn heading_anchors() {
        let text = "# Intro\n## Intro\n## <a name=\"legacy\"></a> Setup `cli`\n### Custom {#my-id}\n<div id=\"box\"></div>\n\nहिन्दी शीर्षक\n---\n";
        assert_eq!(
            anchors(text),
            ["box", "custom", "intro", "intro-1", "legacy", "my-id", "setup-cli", "हिन्दी-शीर्षक"]
        );
    }
}
