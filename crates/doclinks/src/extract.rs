//! Link and anchor extraction from one Markdown file, with comrak.
//!
//! comrak tells us where each link node is; the destination's exact byte range
//! inside that node is found here by reading the source, because a fix must
//! rewrite those bytes and nothing else. Reference-style links are reported once,
//! at their definition (`[label]: dest`), which is where the destination lives.
//!
//! Headings are kept as text, not as ids: the id depends on the renderer that
//! shows the page (see `slug.rs`), so [`Extracted::anchors`] computes them per
//! flavor. Front matter (`id`, `slug`, `uid`, `url`, `aliases`) and included
//! files (DocFX `[!INCLUDE]`, MDX imports, mdBook `{{#include}}`) are kept for
//! the site model. Line endings are those of CommonMark: `\n`, `\r\n`, and a
//! lone `\r`.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::LazyLock;

use comrak::nodes::{AstNode, NodeValue, Sourcepos};
use comrak::{Arena, Options, parse_document};
use regex::Regex;

use crate::cache::{Reader, Writer};
use crate::slug::{Flavor, Slugger, slug_as};

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
    /// The destination as the renderer sees it, where that is not `raw`
    /// (escapes or entities resolved): most links keep one string, not two.
    decoded: Option<Box<str>>,
    /// The destination exactly as written (the bytes of `span`).
    pub(crate) raw: String,
    /// The byte range of the destination in the source file ([`RawLink::span`];
    /// 32 bits: a page is far below 4 GiB, and a tree holds a million links).
    start: u32,
    end: u32,
    /// 1-based line of the destination.
    pub(crate) line: u32,
    /// 1-based column of the destination, in characters.
    pub(crate) column: u32,
    /// How the link is written; autolinks are validated differently.
    pub(crate) form: Form,
}

impl RawLink {
    fn new(
        dest: String,
        raw: String,
        span: Range<usize>,
        (line, column): (u32, u32),
        form: Form,
    ) -> RawLink {
        let decoded = (dest != raw).then(|| dest.into_boxed_str());
        let (start, end) = (to_u32(span.start), to_u32(span.end));
        RawLink { decoded, raw, start, end, line, column, form }
    }

    /// The byte range of the destination in the source file.
    pub(crate) fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The destination as the renderer sees it (escapes and entities resolved).
    pub(crate) fn dest(&self) -> &str {
        self.decoded.as_deref().unwrap_or(&self.raw)
    }
}

/// One heading, as the renderers see its text (boxed strings: a tree's
/// headings are held for the whole check, without spare capacity).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Heading {
    /// The text slugs are made of (text and code, not HTML or image alt).
    pub(crate) text: Box<str>,
    /// `{#id}` / `{ id="x" }` attribute of the heading.
    pub(crate) explicit: Option<Box<str>>,
    /// With an attribute list, the text before it.
    pub(crate) bare: Option<Box<str>>,
    /// A definition list term, not a heading: it has an id only where the
    /// renderer gives terms ids (Hugo's `autoDefinitionTermID`).
    pub(crate) term: bool,
}

/// Front matter keys the site model uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Front {
    /// Docusaurus `id`.
    pub(crate) id: Option<String>,
    /// Docusaurus and Hugo `slug`.
    pub(crate) slug: Option<String>,
    /// DocFX `uid`.
    pub(crate) uid: Option<String>,
    /// Hugo `url`.
    pub(crate) url: Option<String>,
    /// Hugo `aliases` and Docusaurus/Jekyll `redirect_from`: old URLs of the page.
    pub(crate) aliases: Vec<String>,
}

/// What one Markdown file contributes: its links and what its anchors are made of.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    pub(crate) links: Vec<RawLink>,
    pub(crate) headings: Vec<Heading>,
    /// `id`/`name` attributes of HTML elements and `{#id}` of other blocks.
    pub(crate) ids: HashSet<String>,
    /// Footnote labels (`[^1]:` defines `1`).
    pub(crate) footnotes: Vec<String>,
    /// MyST targets: `(label)=` lines.
    pub(crate) labels: Vec<String>,
    /// Files this page includes, as written (resolved against the page).
    pub(crate) includes: Vec<String>,
    /// pymdownx.tabbed tabs (`=== "Title"`): the title, and how many headings
    /// come before the tab (its id may be the last one's slug and its own).
    pub(crate) tabs: Vec<(usize, String)>,
    /// Whether a heading's id is generated by a plugin (a heading made only of
    /// an HTML comment directive, such as `## <!-- md:setting x -->`): its id
    /// cannot be known, so fragments into the page are not judged.
    pub(crate) generated_ids: bool,
    /// The front matter's keys; the rest of it is not kept.
    /// Boxed: most pages set none of the keys.
    front: Option<Box<Front>>,
}

impl Extracted {
    /// The front matter keys the site model uses.
    pub(crate) fn front(&self) -> &Front {
        static NONE: Front =
            Front { id: None, slug: None, uid: None, url: None, aliases: Vec::new() };
        self.front.as_deref().unwrap_or(&NONE)
    }

    /// The anchors of the page as a renderer of `flavor` makes them: heading
    /// ids (with duplicate suffixes), explicit ids, HTML ids and names, and
    /// footnote ids. A heading's `{#id}` is counted with and without it, as
    /// renderers that support attributes and those that show them as text do.
    /// The ids of the headings in document order (no explicit ids, HTML
    /// anchors or footnotes): what a reworded heading is found by.
    pub(crate) fn heading_ids(&self, flavor: Flavor, terms: bool) -> Vec<String> {
        let mut slugger = Slugger::new(flavor);
        self.headings
            .iter()
            .filter(|h| terms || !h.term)
            .map(|h| h.explicit.as_deref().map_or_else(|| slugger.unique(&h.text), str::to_owned))
            .collect()
    }

    pub(crate) fn anchors(&self, flavor: Flavor, terms: bool) -> HashSet<String> {
        let mut out = self.ids.clone();
        let mut slugger = Slugger::new(flavor);
        for heading in &self.headings {
            if heading.term && !terms {
                continue;
            }
            if let Some(id) = &heading.explicit {
                out.insert(id.to_string());
                out.insert(slug_as(flavor, heading.bare.as_deref().unwrap_or(&heading.text)));
            }
            out.insert(slugger.unique(&heading.text));
        }
        for label in &self.footnotes {
            match flavor {
                Flavor::PythonMarkdown | Flavor::Pymdownx => {
                    out.insert(format!("fn:{label}"));
                    out.insert(format!("fnref:{label}"));
                }
                _ => {
                    out.insert(format!("user-content-fn-{label}"));
                    out.insert(format!("fn-{label}"));
                }
            }
        }
        out.extend(self.labels.iter().cloned());
        if matches!(flavor, Flavor::PythonMarkdown | Flavor::Pymdownx) && !self.tabs.is_empty() {
            // pymdownx.tabbed with a `slugify`: `{tab}`, or `{heading}-{tab}`
            // with `combine_header_slug`.
            let headings = self.heading_ids(flavor, terms);
            for (before, title) in &self.tabs {
                let tab = slug_as(Flavor::Pymdownx, &clean_tab_title(title));
                if let Some(heading) = before.checked_sub(1).and_then(|i| headings.get(i)) {
                    out.insert(format!("{heading}-{tab}"));
                }
                out.insert(tab);
            }
        }
        out
    }
}

impl Form {
    fn code(self) -> u8 {
        match self {
            Form::Inline => 0,
            Form::Image => 1,
            Form::Definition => 2,
            Form::Autolink => 3,
            Form::Html => 4,
        }
    }

    fn from_code(code: u8) -> Option<Form> {
        [Form::Inline, Form::Image, Form::Definition, Form::Autolink, Form::Html]
            .get(usize::from(code))
            .copied()
    }
}

impl Extracted {
    /// Writes what a check needs of the page to the cache (`cache.rs`).
    pub(crate) fn encode(&self, out: &mut Writer) {
        out.len(self.links.len());
        for link in &self.links {
            out.str(&link.raw);
            // Most destinations are written as the renderer sees them.
            out.opt(link.decoded.as_deref());
            out.u32(link.start);
            out.u32(link.end);
            out.u32(link.line);
            out.u32(link.column);
            out.0.push(link.form.code());
        }
        out.len(self.headings.len());
        for heading in &self.headings {
            out.str(&heading.text);
            out.opt(heading.explicit.as_deref());
            out.opt(heading.bare.as_deref());
            out.0.push(u8::from(heading.term));
        }
        let mut ids: Vec<&String> = self.ids.iter().collect();
        ids.sort();
        out.strs(ids.into_iter());
        out.strs(self.footnotes.iter());
        out.strs(self.labels.iter());
        out.strs(self.includes.iter());
        out.len(self.tabs.len());
        for (before, title) in &self.tabs {
            out.u64(*before as u64);
            out.str(title);
        }
        out.0.push(u8::from(self.generated_ids));
        let front = self.front();
        for key in [&front.id, &front.slug, &front.uid, &front.url] {
            out.opt(key.as_deref());
        }
        out.strs(front.aliases.iter());
    }

    /// Reads what [`Extracted::encode`] wrote; `None` when it is damaged.
    pub(crate) fn decode(input: &mut Reader<'_>) -> Option<Extracted> {
        let mut out = Extracted::default();
        let count = input.len()?;
        out.links.reserve(count.min(input.0.len()));
        for _ in 0..count {
            let raw = input.string()?;
            let decoded = input.opt()?.map(String::into_boxed_str);
            let (start, end) = (input.u32()?, input.u32()?);
            let (line, column) = (input.u32()?, input.u32()?);
            let form = Form::from_code(input.byte()?)?;
            out.links.push(RawLink { decoded, raw, start, end, line, column, form });
        }
        for _ in 0..input.len()? {
            let text = input.str()?.into();
            let (explicit, bare) = (input.opt()?.map(Into::into), input.opt()?.map(Into::into));
            let term = input.byte()? == 1;
            out.headings.push(Heading { text, explicit, bare, term });
        }
        out.ids = input.strs()?.into_iter().collect();
        out.footnotes = input.strs()?;
        out.labels = input.strs()?;
        out.includes = input.strs()?;
        for _ in 0..input.len()? {
            let before = usize::try_from(input.u64()?).ok()?;
            out.tabs.push((before, input.string()?));
        }
        out.generated_ids = input.byte()? == 1;
        let (id, slug, uid, url) = (input.opt()?, input.opt()?, input.opt()?, input.opt()?);
        out.front = Some(Box::new(Front { id, slug, uid, url, aliases: input.strs()? }))
            .filter(|f| **f != Front::default());
        Some(out)
    }
}

fn options() -> Options<'static> {
    let mut options = Options::default();
    options.extension.table = true;
    options.extension.strikethrough = true;
    options.extension.autolink = true;
    options.extension.tasklist = true;
    options.extension.footnotes = true;
    options.extension.description_lists = true;
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
    Regex::new(
        r#"^(?:[ \t]*>)*[ \t]*\[((?:[^\]\\]|\\.)+)\]:[ \t]*(?:<([^>\n]*)>|(\S+))(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*\r?\n?$"#,
    )
    .expect("the definition pattern is valid")
});

static TITLE_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?:[ \t]*>)*[ \t]*(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))[ \t]*\r?\n?$"#)
        .expect("the title pattern is valid")
});

static LABEL_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]*>)*[ \t]*\[((?:[^\]\\]|\\.)+)\]:[ \t]*\r?\n?$")
        .expect("the label pattern is valid")
});

static DESTINATION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[ \t]*>)*[ \t]*(?:<([^>\n]*)>|([^\s<]\S*))")
        .expect("the destination pattern is valid")
});

/// A trailing attribute list: `{#id}`, `{: #id .class }`, `{ id="x" }`.
static ATTRIBUTES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{:?[ \t]*((?:[#.][^\s{}]+|[\w-]+=(?:\x22[^\x22]*\x22|'[^']*'|[^\s{}]+))(?:[ \t]+(?:[#.][^\s{}]+|[\w-]+=(?:\x22[^\x22]*\x22|'[^']*'|[^\s{}]+)))*)[ \t]*\}\s*$")
        .expect("the attribute list pattern is valid")
});

/// The id of an attribute list's contents (`#id` or `id="id"`).
fn attribute_id(list: &str) -> Option<String> {
    static ID: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?:^|\s)(?:#([^\s{}]+)|id=(?:"([^"]*)"|'([^']*)'|([^\s{}]+)))"#)
            .expect("the id pattern is valid")
    });
    let caps = ID.captures(list)?;
    let id = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3)).or_else(|| caps.get(4))?;
    Some(id.as_str().to_owned())
}

static DOCFX_INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\[!include\s*\[[^\]]*\]\(\s*<?([^)\s>]+)>?[^)]*\)\s*\]")
        .expect("the include pattern is valid")
});

static MDX_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^import\s+[\w{}\s,*]+\s+from\s+['"]([^'"]+\.mdx?)['"]"#)
        .expect("the import pattern is valid")
});

static MDBOOK_INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\{\{#include\s+([^}\s:]+\.md)").expect("the mdBook include pattern is valid")
});

static MYST_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\(([^()\s]+)\)=[ \t]*\r?$").expect("the label pattern is valid")
});

/// Hugo shortcodes that insert another file: `{{% include "x.md" %}}`, `readfile`.
static HUGO_INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\{\{[<%]\s*(?:include|readfile)\s+(?:file=)?"([^"]+)""#)
        .expect("the Hugo include pattern is valid")
});

/// Byte offsets of line starts, to turn comrak positions into byte ranges and
/// byte offsets into line:column.
struct Lines<'s> {
    text: &'s str,
    starts: Vec<usize>,
}

impl<'s> Lines<'s> {
    fn new(text: &'s str) -> Lines<'s> {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        // A lone `\r` ends a line as `\n` does (CommonMark, and comrak's positions).
        starts.extend(
            bytes
                .iter()
                .enumerate()
                .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
                .map(|(i, _)| i + 1),
        );
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
        // A byte order mark is not a column an editor shows.
        let start = if line == 1 && self.text.starts_with('\u{feff}') { start + 3 } else { start };
        let column = self.text.get(start..offset).map_or(0, |s| s.chars().count()) + 1;
        (to_u32(line), to_u32(column))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The local and external link destinations of one page, exactly as written, in
/// the order they appear: inline, reference, autolink, image and raw-HTML
/// `href`/`src` destinations, none from code. An HTML page can be passed too:
/// its `href` and `src` attributes are read as raw HTML. For tools that need a
/// page's links without a check (storage-approval's keep rule).
pub fn destinations(text: &str) -> Vec<String> {
    extract(text).links.into_iter().map(|link| link.raw).collect()
}

/// Extracts every link and anchor of a Markdown text.
pub(crate) fn extract(text: &str) -> Extracted {
    let lines = Lines::new(text);
    let mut out = Extracted::default();
    // Lines where a `[label]: dest` line is not a definition: code, raw HTML,
    // front matter.
    let mut opaque_lines: Vec<Range<usize>> = Vec::new();
    // Hugo's TOML front matter is not Markdown: comrak parses a copy with it
    // blanked out (byte offsets unchanged).
    let toml = toml_front_matter(text);
    let parsed: std::borrow::Cow<'_, str> = match &toml {
        Some((front, end)) => {
            out.front = Some(Box::new(front.clone())).filter(|f| **f != Front::default());
            let last_line = lines.position(end.saturating_sub(1)).0 as usize;
            opaque_lines.push(1..last_line + 1);
            blank(text, std::slice::from_ref(&(0..*end))).into()
        }
        None => text.into(),
    };
    let arena = Arena::new();
    let root = parse_document(&arena, &parsed, &options());
    // Links and anchors of inline nodes, whose positions may need a second parse.
    let mut inline = Extracted::default();
    let mut reparse = false;

    for node in root.descendants() {
        let data = node.data.borrow();
        let pos = data.sourcepos;
        match &data.value {
            NodeValue::Link(_) | NodeValue::Image(_) | NodeValue::HtmlInline(_) => {
                reparse = reparse || starts_with_definition(&lines, node);
                if !reparse {
                    inline_node(&lines, node, &mut inline);
                }
            }
            NodeValue::HtmlBlock(block) => {
                if is_directive(&block.literal) {
                    out.generated_ids = true;
                }
                html_links(&lines, lines.range(pos), &mut out);
                opaque_lines.push(pos.start.line..pos.end.line + 1);
            }
            NodeValue::CodeBlock(_) => {
                opaque_lines.push(pos.start.line..pos.end.line + 1);
            }
            NodeValue::Heading(_) => {
                let mut heading = String::new();
                heading_text(node, &mut heading);
                // `{#id}` is an attribute for mkdocs, Pandoc, Hugo and Docusaurus;
                // GitHub shows it as text and slugs it with the rest.
                let (explicit, bare) = match ATTRIBUTES.captures(&heading) {
                    Some(caps) => {
                        let start = caps.get(0).map_or(heading.len(), |m| m.start());
                        (attribute_id(&caps[1]).map(Into::into), Some(heading[..start].into()))
                    }
                    None => (None, None),
                };
                if heading.trim().is_empty() && has_comment(node) {
                    out.generated_ids = true;
                }
                let text = heading.into_boxed_str();
                out.headings.push(Heading { text, explicit, bare, term: false });
            }
            NodeValue::FootnoteDefinition(definition) => {
                out.footnotes.push(definition.name.clone());
            }
            NodeValue::DescriptionTerm => {
                let mut term = String::new();
                heading_text(node, &mut term);
                let text = term.into_boxed_str();
                out.headings.push(Heading { text, explicit: None, bare: None, term: true });
            }
            NodeValue::FrontMatter(raw) => {
                out.front = Some(Box::new(front_matter(raw))).filter(|f| **f != Front::default());
                opaque_lines.push(pos.start.line..pos.end.line + 1);
            }
            _ => {}
        }
    }
    let definition_spans =
        if text.contains("]:") { definitions(&lines, &opaque_lines, &mut out) } else { Vec::new() };
    if reparse {
        // comrak reports the inline positions of a paragraph that starts with
        // link reference definitions relative to what is left after them. Parse
        // again with the definitions blanked out (byte offsets unchanged): every
        // paragraph then starts with its own text and positions are exact.
        let mut spans = definition_spans.clone();
        if let Some((_, end)) = &toml {
            spans.push(0..*end);
        }
        let blanked = blank(text, &spans);
        let arena = Arena::new();
        let root = parse_document(&arena, &blanked, &options());
        let blank_lines = Lines::new(&blanked);
        inline = Extracted::default();
        for node in root.descendants() {
            if matches!(
                node.data.borrow().value,
                NodeValue::Link(_) | NodeValue::Image(_) | NodeValue::HtmlInline(_)
            ) {
                inline_node(&blank_lines, node, &mut inline);
            }
        }
    }
    out.links.append(&mut inline.links);
    out.ids.extend(inline.ids);
    out.links.sort_by_key(|l| l.start);
    // Held for the whole check: no spare capacity.
    out.links.shrink_to_fit();
    out.headings.shrink_to_fit();
    let includes = [&*DOCFX_INCLUDE, &*MDX_IMPORT, &*MDBOOK_INCLUDE, &*HUGO_INCLUDE];
    for pattern in includes {
        for caps in pattern.captures_iter(text) {
            out.includes.push(caps[1].to_owned());
        }
    }
    if text.contains("===") {
        static TAB: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(r#"^[ \t]*===[+!]?[ \t]+"(.+)"[ \t]*\r?$"#)
                .expect("the tab pattern is valid")
        });
        let heading_lines: Vec<usize> = root
            .descendants()
            .filter(|n| matches!(n.data.borrow().value, NodeValue::Heading(_)))
            .map(|n| n.data.borrow().sourcepos.start.line)
            .collect();
        for (index, line) in text.lines().enumerate() {
            if let Some(caps) = TAB.captures(line) {
                let before = heading_lines.iter().filter(|&&l| l <= index + 1).count();
                out.tabs.push((before, caps[1].to_owned()));
            }
        }
    }
    if text.contains(")=") {
        out.labels.extend(MYST_LABEL.captures_iter(text).map(|c| c[1].to_owned()));
    }
    out
}

/// `text` with the bytes of `spans` turned into spaces, line endings kept.
fn blank(text: &str, spans: &[Range<usize>]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for span in spans {
        for byte in &mut bytes[span.clone()] {
            if !matches!(*byte, b'\n' | b'\r') {
                *byte = b' ';
            }
        }
    }
    // Spans start and end on character boundaries (line starts and ends, the
    // ends of front matter), so the text stays UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned())
}

/// A tab title as pymdownx slugifies it: emoji shortcodes (`:octicons-x-16:`)
/// and HTML tags become nothing.
fn clean_tab_title(title: &str) -> String {
    static NOISE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r":[a-z0-9_+-]+:|<[^>]*>").expect("the tab title pattern is valid")
    });
    NOISE.replace_all(title, "").trim().to_owned()
}

/// An HTML comment that a build plugin expands (`<!-- md:option type:x -->`),
/// possibly into headings with ids doclinks cannot compute.
fn is_directive(html: &str) -> bool {
    static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^<!--\s*[a-z][\w-]*:[a-z][\w-]*\b").expect("the directive pattern is valid")
    });
    DIRECTIVE.is_match(html.trim_start())
}

/// Whether a heading holds an HTML comment (a directive a plugin expands).
fn has_comment<'a>(node: &'a AstNode<'a>) -> bool {
    node.descendants().any(|n| match &n.data.borrow().value {
        NodeValue::HtmlInline(html) => html.trim_start().starts_with("<!--"),
        _ => false,
    })
}

/// The keys of YAML front matter (`---` lines included in `raw`) that the site
/// model reads; malformed YAML gives none.
fn front_matter(raw: &str) -> Front {
    if !may_set_keys(raw) {
        return Front::default();
    }
    let body: String =
        raw.lines().filter(|l| l.trim_end() != "---").map(|l| format!("{l}\n")).collect();
    let Ok(docs) = yaml_rust2::YamlLoader::load_from_str(&body) else { return Front::default() };
    let Some(doc) = docs.first() else { return Front::default() };
    let text = |key: &str| match &doc[key] {
        yaml_rust2::Yaml::String(s) | yaml_rust2::Yaml::Real(s) => Some(s.clone()),
        yaml_rust2::Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    };
    let list = |key: &str| match &doc[key] {
        yaml_rust2::Yaml::Array(items) => {
            items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()
        }
        yaml_rust2::Yaml::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut aliases = list("aliases");
    aliases.extend(list("redirect_from"));
    Front { id: text("id"), slug: text("slug"), uid: text("uid"), url: text("url"), aliases }
}

/// Whether YAML front matter may set one of the keys [`front_matter`] reads:
/// a key name followed (after an optional quote) by `:`, not part of a longer
/// name. Most pages' front matter (`title`, `description`, `ms.date`) is then
/// never parsed; a false "may" only costs the parse.
fn may_set_keys(yaml: &str) -> bool {
    const KEYS: [&str; 6] = ["id", "slug", "uid", "url", "aliases", "redirect_from"];
    KEYS.iter().any(|key| {
        yaml.match_indices(key).any(|(at, _)| {
            let before = yaml[..at].chars().next_back();
            let after = yaml[at + key.len()..].trim_start_matches(['"', '\'']);
            before.is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
                && after.trim_start_matches([' ', '\t']).starts_with(':')
        })
    })
}

/// Hugo's TOML front matter (`+++` … `+++`): its keys, and the byte length of
/// the block, which the Markdown parser must not see as text.
pub(crate) fn toml_front_matter(text: &str) -> Option<(Front, usize)> {
    let rest = text.strip_prefix("+++")?;
    let first_end = rest.find('\n')?;
    if !rest[..first_end].trim().is_empty() {
        return None;
    }
    let body_start = 3 + first_end + 1;
    let mut at = body_start;
    for line in text[body_start..].split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let body = &text[body_start..at];
            let end = at + line.len();
            let value: toml::Value = toml::from_str(body).ok()?;
            let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
            let mut aliases: Vec<String> = value
                .get("aliases")
                .and_then(|a| a.as_array())
                .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            if let Some(alias) = value.get("aliases").and_then(|a| a.as_str()) {
                aliases.push(alias.to_owned());
            }
            let front =
                Front { id: None, slug: text("slug"), uid: text("uid"), url: text("url"), aliases };
            return Some((front, end));
        }
        at += line.len();
    }
    None
}

/// The destination of a Markdown link or image, or the links and anchors of
/// inline HTML. A destination whose source bytes are not what comrak parsed is
/// left out rather than risk rewriting the wrong bytes.
fn inline_node<'a>(lines: &Lines<'_>, node: &'a AstNode<'a>, out: &mut Extracted) {
    let data = node.data.borrow();
    match &data.value {
        NodeValue::Link(link) | NodeValue::Image(link) => {
            let image = matches!(data.value, NodeValue::Image(_));
            let limit = block_end(lines, node);
            if let Located::Found(raw) =
                link_destination(lines, data.sourcepos, &link.url, image, limit)
                && plausible(&raw.raw, raw.form, &link.url)
            {
                out.links.push(raw);
            }
        }
        NodeValue::HtmlInline(literal) => {
            let range = lines.range(data.sourcepos);
            if lines.text.get(range.clone()) == Some(literal.as_str()) {
                html_links(lines, range, out);
            }
        }
        _ => {}
    }
}

/// Whether the paragraph around `node` starts with a link reference definition.
fn starts_with_definition<'a>(lines: &Lines<'_>, node: &'a AstNode<'a>) -> bool {
    let Some(paragraph) =
        node.ancestors().find(|n| matches!(n.data.borrow().value, NodeValue::Paragraph))
    else {
        return false;
    };
    let pos = paragraph.data.borrow().sourcepos;
    let start = lines.offset(pos.start.line, pos.start.column);
    if lines.text.as_bytes().get(start) != Some(&b'[') {
        return false;
    }
    let mut from = lines.offset(pos.start.line, 1);
    if from == 0 && lines.text.starts_with('\u{feff}') {
        from = 3;
    }
    let to = lines.starts.get(pos.start.line).copied().unwrap_or(lines.text.len());
    lines
        .text
        .get(from..to)
        .is_some_and(|line| DEFINITION.is_match(line) || LABEL_ONLY.is_match(line))
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

/// Where a link node's destination is, by comrak's position of the node.
enum Located {
    Found(RawLink),
    /// `[text][label]`: reported at its definition.
    Reference,
    /// `[text]()`: nothing to check.
    Empty,
    /// The source at the node's position is not a link.
    Lost,
}

/// The end of the block (paragraph, heading, table cell…) a link is in: a code
/// span in link text cannot close beyond it.
fn block_end<'a>(lines: &Lines<'_>, node: &'a AstNode<'a>) -> usize {
    node.ancestors()
        .find(|n| n.data.borrow().value.block())
        .map_or(lines.text.len(), |block| lines.range(block.data.borrow().sourcepos).end)
}

fn link_destination(
    lines: &Lines<'_>,
    pos: Sourcepos,
    url: &str,
    image: bool,
    code_limit: usize,
) -> Located {
    let range = lines.range(pos);
    let bytes = lines.text.as_bytes();
    let node = &bytes[range.clone()];
    let (span, form) = if node.first() == Some(&b'<') {
        // `<scheme:...>` autolink: the destination is between the brackets.
        (range.start + 1..range.end.saturating_sub(1).max(range.start + 1), Form::Autolink)
    } else if node.starts_with(b"[") || node.starts_with(b"![") {
        // comrak ends a link whose title is on a later line at the end of its
        // first line, so the node's end cannot be trusted: scan from its start
        // to the end of the text. `plausible` then checks the bytes found.
        let form = if image { Form::Image } else { Form::Inline };
        match inline_destination(bytes, range.start, bytes.len(), code_limit) {
            Some(span)
                if lines.text.get(span.clone()).is_some_and(|raw| plausible(raw, form, url)) =>
            {
                (span, form)
            }
            _ if node.last() == Some(&b']') => return Located::Reference,
            _ => return Located::Lost,
        }
    } else {
        // A bare GFM autolink: the node is the URL itself.
        (range.clone(), Form::Autolink)
    };
    if span.is_empty() && url.is_empty() {
        return Located::Empty;
    }
    let (line, column) = lines.position(span.start);
    match lines.text.get(span.clone()) {
        Some(raw) => {
            Located::Found(RawLink::new(url.to_owned(), raw.to_owned(), span, (line, column), form))
        }
        None => Located::Lost,
    }
}

/// Whether the source bytes found for a link are the destination comrak parsed.
fn plausible(raw: &str, form: Form, url: &str) -> bool {
    match form {
        Form::Autolink => url.ends_with(raw),
        _ => {
            let unescaped = unescape(raw);
            unescaped == url || decode_entities(&unescaped) == url
        }
    }
}

/// The byte range of the destination in `[text](dest "title")`, starting at
/// `start` (the `[` or `!`).
fn inline_destination(
    bytes: &[u8],
    start: usize,
    end: usize,
    code_limit: usize,
) -> Option<Range<usize>> {
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
                let limit = code_limit.clamp(i + run, end);
                if let Some(close) = find_backtick_run(&bytes[i + run..limit], run) {
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
        out.links.push(RawLink::new(dest, raw, span, (line, column), Form::Html));
    }
    for caps in HTML_ANCHOR.captures_iter(html) {
        if let Some(value) = caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3))
            && !in_comment(value.start())
        {
            out.ids.insert(decode_entities(value.as_str()));
        }
    }
}

/// The `id` and `name` anchors of a whole HTML page (a local `.html` link
/// target), skipping comments.
pub(crate) fn html_page_anchors(html: &str) -> Extracted {
    let comments = comment_ranges(html);
    let anchors = HTML_ANCHOR
        .captures_iter(html)
        .filter_map(|caps| caps.get(1).or_else(|| caps.get(2)).or_else(|| caps.get(3)))
        .filter(|value| !comments.iter().any(|c| c.contains(&value.start())))
        .map(|value| decode_entities(value.as_str()))
        .collect();
    Extracted { ids: anchors, ..Extracted::default() }
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
/// `[label]: dest` definitions outside code, HTML and front matter. Returns the
/// byte ranges the definitions cover (from the `[` to the end of the line).
fn definitions(
    lines: &Lines<'_>,
    opaque: &[Range<usize>],
    out: &mut Extracted,
) -> Vec<Range<usize>> {
    let text = lines.text;
    let line_text = |index: usize| {
        // A byte order mark before the first line is not part of it.
        let bom = if index == 0 && text.starts_with('\u{feff}') { 3 } else { 0 };
        let start = lines.starts[index] + bom;
        let end = lines.starts.get(index + 1).copied().unwrap_or(text.len());
        (start, &text[start..end])
    };
    // From the first `[` (after any `>` markers) to the end of the line.
    let content = |index: usize| {
        let (start, line) = line_text(index);
        let skip = line.len() - line.trim_start_matches([' ', '\t', '>']).len();
        start + skip..start + line.trim_end_matches(['\n', '\r']).len()
    };
    let in_opaque = |index: usize| opaque.iter().any(|r| r.contains(&(index + 1)));
    let mut spans = Vec::new();
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
                spans.push(content(index));
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
                    spans.push(content(index));
                    spans.push(content(index + 1));
                    index += 1;
                    defined = true;
                }
            }
            // A title on the line after the destination belongs to the definition.
            if defined
                && index + 1 < lines.starts.len()
                && TITLE_LINE.is_match(line_text(index + 1).1)
            {
                spans.push(content(index + 1));
                index += 1;
            }
        }
        may_start = defined || bare.is_empty() || bare.starts_with('#');
        index += 1;
    }
    spans
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
    out.links.push(RawLink::new(dest, raw, span, (line, column), Form::Definition));
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
                format!("{}:{} {:?} {} ={}", l.line, l.column, l.form, l.dest(), &text[l.span()])
            })
            .collect()
    }

    #[test]
    fn html_page_anchors_are_ids_and_names_outside_comments() {
        let html = "<!doctype html><h1 id=\"intro\">x</h1><a name='old-name'></a>\n<!-- <p id=\"gone\"> -->\n<div data-id=\"no\" ID=Upper>&amp;</div><p id=\"a&amp;b\">";
        let mut anchors: Vec<String> = html_page_anchors(html).ids.into_iter().collect();
        anchors.sort();
        assert_eq!(anchors, ["Upper", "a&b", "intro", "old-name"]);
    }

    fn anchors(text: &str) -> Vec<String> {
        let mut a: Vec<String> = extract(text).anchors(Flavor::GitHub, false).into_iter().collect();
        a.sort();
        a
    }

    #[test]
    fn inline_link_with_its_title_on_the_next_line() {
        // comrak ends such a node at the end of its first line.
        let text = "- [j](a.md\r\n  \"title\")\r\n\n[k](<b c.md>\n't') ![i](d.png\n(t))\n";
        assert_eq!(
            links(text),
            ["1:7 Inline a.md =a.md", "4:6 Inline b c.md =b c.md", "5:11 Image d.png =d.png"]
        );
    }

    #[test]
    fn byte_order_mark_is_not_a_column_and_does_not_hide_a_definition() {
        let text = "\u{feff}[b]: <a.md> \"t\"\n[c][b] [d](e.md)\n";
        assert_eq!(links(text), ["1:7 Definition a.md =a.md", "2:12 Inline e.md =e.md"]);
        assert_eq!(links("\u{feff}[x](y.md)\n"), ["1:5 Inline y.md =y.md"]);
    }

    #[test]
    fn front_matter_is_parsed_only_when_it_may_set_a_key_a_site_reads() {
        assert!(may_set_keys("title: x\nslug: /a\n"));
        assert!(may_set_keys("\"uid\" : x"));
        assert!(may_set_keys("{id: 3}"));
        assert!(!may_set_keys("title: Valid ids\nms.id: 4\nguid: 5\nvideo: x\n"));
        assert!(!may_set_keys("description: the url of it\n"));
        let page = extract("---\ntitle: T\nid: intro\naliases: [/old]\n---\n# T\n");
        let front = page.front().clone();
        assert_eq!((front.id.as_deref(), front.aliases), (Some("intro"), vec!["/old".to_owned()]));
        assert_eq!(extract("---\ntitle: T\n---\n").front, None);
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
    fn inline_positions_after_a_definition_with_an_indented_line() {
        let text =
            "# Local\n\n    \n[d]: ../API/reference.md\n {#id}[z](#LOCAL)[x](../api/Reference.md)";
        assert_eq!(
            links(text),
            [
                "4:6 Definition ../API/reference.md =../API/reference.md",
                "5:11 Inline #LOCAL =#LOCAL",
                "5:22 Inline ../api/Reference.md =../api/Reference.md",
            ]
        );
    }

    #[test]
    fn escaped_brackets_after_a_definition_are_not_links() {
        let text = "# L\n\n[d]: a.md\n]:\\[x](b.md)[x](b.md) `[y](b.md)` [z](b.md)";
        assert_eq!(
            links(text),
            ["3:6 Definition a.md =a.md", "4:17 Inline b.md =b.md", "4:39 Inline b.md =b.md",]
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
            [
                "box",
                "custom",
                "custom-my-id",
                "intro",
                "intro-1",
                "legacy",
                "my-id",
                "setup-cli",
                "हिन्दी-शीर्षक"
            ]
        );
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Markdown-flavoured noise: every syntax character that matters here.
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
                Just("\r\n"),
                Just("a.md"),
                Just("é"),
                Just("हि"),
                Just("]:"),
                Just("href=\""),
                Just("\""),
                Just("<a name=x>"),
                Just("```\n"),
                Just("    "),
                Just("> "),
                Just("- "),
                Just("---\n"),
                Just("http://x"),
                Just("{#id}"),
                Just("<!--"),
                Just("-->"),
            ],
            0..60,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #[test]
        fn never_panics_and_spans_hold_the_raw_destination(text in noise()) {
            let extracted = extract(&text);
            for link in &extracted.links {
                prop_assert_eq!(text.get(link.span()), Some(link.raw.as_str()));
                let (line, column) = Lines::new(&text).position(link.span().start);
                prop_assert_eq!((line, column), (link.line, link.column));
            }
        }
    }
}
