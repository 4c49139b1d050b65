//! Link and anchor extraction from one Markdown file, with pulldown-cmark.
//!
//! pulldown-cmark tells us the byte range of each link in the source; the
//! destination's exact byte range inside it is found here by reading the
//! source, because a fix must rewrite those bytes and nothing else. Reference-style links are reported once,
//! at their definition (`[label]: dest`), which is where the destination lives.
//!
//! Headings are kept as text, not as ids: the id depends on the renderer that
//! shows the page (see `slug.rs`), so [`Extracted::anchors`] computes them per
//! flavor. Front matter (`id`, `slug`, `uid`, `url`, `aliases`) and included
//! files (DocFX `[!INCLUDE]`, MDX imports, mdBook `{{#include}}`) are kept for
//! the site model. Line endings are those of CommonMark: `\n`, `\r\n`, and a
//! lone `\r`.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};
use regex::Regex;

use crate::cache::{Reader, Writer};
use crate::fast::HashSet;
use crate::scan::{self, is_directive};
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

/// A string of a page's [`Extracted::strings`]: where it starts, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    at: u32,
    len: u32,
}

impl Span {
    /// No string (a link's destination that is as written).
    const NONE: Span = Span { at: u32::MAX, len: 0 };
}

/// One link destination in a file, its strings in its page's.
#[derive(Debug, Clone)]
struct StoredLink {
    /// Where the destination exactly as written (the bytes of the span)
    /// starts in the page's strings; its length is the span's.
    raw_at: u32,
    /// The destination as the renderer sees it, where that is not the raw
    /// one (escapes or entities resolved): most links keep one string, not two.
    decoded: Span,
    /// The byte range of the destination in the source file (32 bits: a page
    /// is far below 4 GiB, and a tree holds a million links).
    start: u32,
    end: u32,
    line: u32,
    column: u32,
    form: Form,
}

/// One link destination in a file, as [`Extracted::links`] gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLink<'d> {
    /// The destination exactly as written (the bytes of [`RawLink::span`]).
    pub(crate) raw: &'d str,
    dest: &'d str,
    start: u32,
    end: u32,
    /// 1-based line of the destination.
    pub(crate) line: u32,
    /// 1-based column of the destination, in characters.
    pub(crate) column: u32,
    /// How the link is written; autolinks are validated differently.
    pub(crate) form: Form,
}

impl<'d> RawLink<'d> {
    /// The byte range of the destination in the source file.
    pub(crate) fn span(&self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    /// The destination as the renderer sees it (escapes and entities resolved).
    pub(crate) fn dest(&self) -> &'d str {
        self.dest
    }
}

/// One heading, as the renderers see its text: 12 bytes (a tree holds about
/// ten a page, for the whole check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Heading {
    /// The text slugs are made of (text and code, not HTML or image alt), in
    /// the page's strings.
    text: Span,
    /// [`Heading::TERM`], and in the other bits 1 + the index of its
    /// attribute list in [`Rare::attributes`] (0: none; few headings end in
    /// one).
    extra: u32,
}

impl Heading {
    /// A definition list term, not a heading: it has an id only where the
    /// renderer gives terms ids (Hugo's `autoDefinitionTermID`).
    const TERM: u32 = 1 << 31;

    fn term(self) -> bool {
        self.extra & Heading::TERM != 0
    }

    /// Where its attribute list is in [`Rare::attributes`].
    fn attributes(self) -> Option<usize> {
        (self.extra & !Heading::TERM).checked_sub(1).map(|i| i as usize)
    }
}

/// A heading's trailing attribute list (`{#id}`, `{: #id .class }`), in the
/// page's strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Attributes {
    /// `{#id}` / `{ id="x" }` attribute of the heading ([`Span::NONE`]: none).
    explicit: Span,
    /// The text before the list.
    bare: Span,
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
    /// The page's strings end to end: link destinations (as written, then as
    /// the renderer sees them where that differs), heading texts and ids. A
    /// tree's pages are held for the whole check: one allocation a page, not
    /// one a string (at 100k pages, the strings' own allocations and their
    /// pointers were most of the memory a page took).
    /// Boxed slices, not vectors: no spare capacity and no capacity field
    /// (at 100k pages, 3 MB).
    strings: Box<str>,
    links: Box<[StoredLink]>,
    headings: Box<[Heading]>,
    /// `id`/`name` attributes of HTML elements, in the page's strings; sorted
    /// by their text and each once.
    ids: Box<[Span]>,
    /// What few pages have; boxed, one pointer a page.
    rare: Option<Box<Rare>>,
    /// Whether a heading's id is generated by a plugin (a heading made only of
    /// an HTML comment directive, such as `## <!-- md:setting x -->`): its id
    /// cannot be known, so fragments into the page are not judged.
    pub(crate) generated_ids: bool,
    /// The front matter's keys; the rest of it is not kept.
    /// Boxed: most pages set none of the keys.
    front: Option<Box<Front>>,
}

/// A page's [`Extracted`] while it is read: what the walk adds to, settled
/// into an `Extracted` when the page is done.
#[derive(Debug, Default)]
struct Draft {
    strings: String,
    links: Vec<StoredLink>,
    headings: Vec<Heading>,
    ids: Vec<Span>,
    rare: Option<Box<Rare>>,
    generated_ids: bool,
    front: Option<Box<Front>>,
}

impl Draft {
    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }

    /// `text` appended to the page's strings.
    fn store(&mut self, text: &str) -> Span {
        let at = to_u32(self.strings.len());
        self.strings.push_str(text);
        Span { at, len: to_u32(text.len()) }
    }

    /// Records a link at `span` whose bytes are `raw` and which the renderer
    /// reads as `dest` (its position is filled in when all are found).
    fn push_link(&mut self, dest: &str, raw: &str, span: Range<usize>, form: Form) {
        let raw_at = self.store(raw).at;
        let decoded = if dest == raw { Span::NONE } else { self.store(dest) };
        let (start, end) = (to_u32(span.start), to_u32(span.end));
        self.links.push(StoredLink { raw_at, decoded, start, end, line: 0, column: 0, form });
    }

    fn push_heading(
        &mut self,
        text: &str,
        explicit: Option<Box<str>>,
        bare: Option<Box<str>>,
        term: bool,
    ) {
        let text_span = self.store(text);
        let mut extra = if term { Heading::TERM } else { 0 };
        if explicit.is_some() || bare.is_some() {
            let explicit = explicit.map_or(Span::NONE, |id| self.store(&id));
            let bare = bare.map_or(text_span, |bare| self.store(&bare));
            let list = &mut self.rare_mut().attributes;
            list.push(Attributes { explicit, bare });
            extra |= u32::try_from(list.len()).unwrap_or(u32::MAX) & !Heading::TERM;
        }
        self.headings.push(Heading { text: text_span, extra });
    }

    fn push_id(&mut self, id: &str) {
        let id = self.store(id);
        self.ids.push(id);
    }

    /// The page as it is held for the rest of the check: its ids sorted and
    /// each once, no spare capacity.
    fn settle(self) -> Extracted {
        let Draft { strings, links, headings, mut ids, mut rare, generated_ids, front } = self;
        if rare.as_deref().is_some_and(|rare| *rare == Rare::default()) {
            rare = None;
        }
        let text = |span: &Span| &strings[span.at as usize..][..span.len as usize];
        ids.sort_unstable_by(|a, b| text(a).cmp(text(b)));
        ids.dedup_by(|a, b| text(a) == text(b));
        Extracted {
            strings: strings.into_boxed_str(),
            links: links.into_boxed_slice(),
            headings: headings.into_boxed_slice(),
            ids: ids.into_boxed_slice(),
            rare,
            generated_ids,
            front,
        }
    }
}

/// The parts of a page that few pages have.
#[derive(Debug, Default, PartialEq, Eq)]
struct Rare {
    /// Footnote labels (`[^1]:` defines `1`).
    footnotes: Vec<String>,
    /// MyST targets: `(label)=` lines.
    labels: Vec<String>,
    /// Files this page includes, as written (resolved against the page).
    includes: Vec<String>,
    /// pymdownx.tabbed tabs (`=== "Title"`): the title, and how many headings
    /// come before the tab (its id may be the last one's slug and its own).
    tabs: Vec<(usize, String)>,
    /// Headings' attribute lists ([`Heading::attributes`]).
    attributes: Vec<Attributes>,
}

impl Extracted {
    /// Footnote labels (`[^1]:` defines `1`).
    pub(crate) fn footnotes(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.footnotes)
    }

    /// MyST targets: `(label)=` lines.
    pub(crate) fn labels(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.labels)
    }

    /// Files this page includes, as written (resolved against the page).
    pub(crate) fn includes(&self) -> &[String] {
        self.rare.as_ref().map_or(&[], |r| &r.includes)
    }

    /// pymdownx.tabbed tabs: each title, with how many headings come before it.
    pub(crate) fn tabs(&self) -> &[(usize, String)] {
        self.rare.as_ref().map_or(&[], |r| &r.tabs)
    }

    /// The front matter keys the site model uses.
    pub(crate) fn front(&self) -> &Front {
        static NONE: Front =
            Front { id: None, slug: None, uid: None, url: None, aliases: Vec::new() };
        self.front.as_deref().unwrap_or(&NONE)
    }

    /// The page's link destinations, in the order they appear.
    pub(crate) fn links(&self) -> impl ExactSizeIterator<Item = RawLink<'_>> + '_ {
        self.links.iter().map(|link| {
            let raw = self.string(Span { at: link.raw_at, len: link.end - link.start });
            let dest = if link.decoded == Span::NONE { raw } else { self.string(link.decoded) };
            RawLink {
                raw,
                dest,
                start: link.start,
                end: link.end,
                line: link.line,
                column: link.column,
                form: link.form,
            }
        })
    }

    /// Whether the page has headings or HTML ids (what fragments into it
    /// are judged by).
    pub(crate) fn has_anchors(&self) -> bool {
        !self.headings.is_empty() || !self.ids.is_empty()
    }

    /// The page's HTML `id`/`name` values, sorted, each once.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.ids.iter().map(|&id| self.string(id))
    }

    fn string(&self, span: Span) -> &str {
        let at = span.at as usize;
        &self.strings[at..at + span.len as usize]
    }

    /// A heading's `{#id}` / `{ id="x" }` attribute.
    fn explicit(&self, heading: Heading) -> Option<&str> {
        let list = self.rare.as_ref()?.attributes.get(heading.attributes()?)?;
        (list.explicit != Span::NONE).then(|| self.string(list.explicit))
    }

    /// With an attribute list, a heading's text before it.
    fn bare(&self, heading: Heading) -> Option<&str> {
        let list = self.rare.as_ref()?.attributes.get(heading.attributes()?)?;
        Some(self.string(list.bare))
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
            .filter(|h| terms || !h.term())
            .map(|&h| {
                self.explicit(h).map_or_else(|| slugger.unique(self.string(h.text)), str::to_owned)
            })
            .collect()
    }

    pub(crate) fn anchors(&self, flavor: Flavor, terms: bool) -> HashSet<String> {
        let mut out: HashSet<String> = self.ids().map(str::to_owned).collect();
        let mut slugger = Slugger::new(flavor);
        for &heading in &self.headings {
            if heading.term() && !terms {
                continue;
            }
            let text = self.string(heading.text);
            if let Some(id) = self.explicit(heading) {
                out.insert(id.to_string());
                out.insert(slug_as(flavor, self.bare(heading).unwrap_or(text)));
            }
            out.insert(slugger.unique(text));
        }
        for label in self.footnotes() {
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
        out.extend(self.labels().iter().cloned());
        if matches!(flavor, Flavor::PythonMarkdown | Flavor::Pymdownx) && !self.tabs().is_empty() {
            // pymdownx.tabbed with a `slugify`: `{tab}`, or `{heading}-{tab}`
            // with `combine_header_slug`.
            let headings = self.heading_ids(flavor, terms);
            for (before, title) in self.tabs() {
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
        for link in self.links() {
            out.str(link.raw);
            // Most destinations are written as the renderer sees them.
            out.opt((link.dest != link.raw).then_some(link.dest));
            out.u32(link.start);
            out.u32(link.end);
            out.u32(link.line);
            out.u32(link.column);
            out.0.push(link.form.code());
        }
        out.len(self.headings.len());
        for &heading in &self.headings {
            out.str(self.string(heading.text));
            out.opt(self.explicit(heading));
            out.opt(self.bare(heading));
            out.0.push(u8::from(heading.term()));
        }
        out.strs(self.ids.iter().map(|&id| self.string(id)));
        out.strs(self.footnotes().iter());
        out.strs(self.labels().iter());
        out.strs(self.includes().iter());
        out.len(self.tabs().len());
        for (before, title) in self.tabs() {
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
        let mut out = Draft::default();
        let count = input.len()?;
        out.links.reserve(count.min(input.0.len()));
        for _ in 0..count {
            let raw = input.str()?;
            let decoded = input.opt()?;
            let (start, end) = (input.u32()?, input.u32()?);
            let (line, column) = (input.u32()?, input.u32()?);
            let form = Form::from_code(input.byte()?)?;
            // A raw destination is the bytes of its span.
            if end.checked_sub(start)? as usize != raw.len() {
                return None;
            }
            out.push_link(
                decoded.as_deref().unwrap_or(raw),
                raw,
                start as usize..end as usize,
                form,
            );
            let link = out.links.last_mut()?;
            (link.line, link.column) = (line, column);
        }
        for _ in 0..input.len()? {
            let text = input.str()?;
            let (explicit, bare) = (input.opt()?.map(Into::into), input.opt()?.map(Into::into));
            let term = input.byte()? == 1;
            out.push_heading(text, explicit, bare, term);
        }
        for id in input.strs()? {
            out.push_id(&id);
        }
        // The headings' attribute lists are in `rare` already.
        let attributes = out.rare.take().map(|r| r.attributes).unwrap_or_default();
        let mut rare = Rare {
            footnotes: input.strs()?,
            labels: input.strs()?,
            includes: input.strs()?,
            tabs: Vec::new(),
            attributes,
        };
        for _ in 0..input.len()? {
            let before = usize::try_from(input.u64()?).ok()?;
            rare.tabs.push((before, input.string()?));
        }
        out.rare = (rare != Rare::default()).then(|| Box::new(rare));
        out.generated_ids = input.byte()? == 1;
        let (id, slug, uid, url) = (input.opt()?, input.opt()?, input.opt()?, input.opt()?);
        out.front = Some(Box::new(Front { id, slug, uid, url, aliases: input.strs()? }))
            .filter(|f| **f != Front::default());
        Some(out.settle())
    }
}

fn options() -> Options {
    // GitHub's extensions that change where links are; not heading attributes:
    // a `{#id}` stays heading text, read below as each renderer reads it.
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_DEFINITION_LIST
}

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

/// An MDX import of a page, matched at a line start (an unanchored search
/// of a whole page cost as much as the rest of its extraction).
static MDX_IMPORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^import\s+[\w{}\s,*]+\s+from\s+['"]([^'"]+\.mdx?)['"]"#)
        .expect("the import pattern is valid")
});

static MYST_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\(([^()\s]+)\)=[ \t]*\r?$").expect("the label pattern is valid")
});

/// Hugo shortcodes that insert another file: `{{% include "x.md" %}}`, `readfile`.
static HUGO_INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\{\{[<%]\s*(?:include|readfile)\s+(?:file=)?"([^"]+)""#)
        .expect("the Hugo include pattern is valid")
});

/// Whether `text` may hold `[!include`, in any case (DocFX pages are full of
/// `[!NOTE]`, which the include pattern need not see).
fn has_docfx_include(text: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), "[!").any(|at| {
        text.as_bytes().get(at + 2..at + 9).is_some_and(|w| w.eq_ignore_ascii_case(b"include"))
    })
}

/// Whether `text` holds `needle` (SIMD search: most tests of a whole page fail).
fn has(text: &str, needle: &str) -> bool {
    memchr::memmem::find(text.as_bytes(), needle.as_bytes()).is_some()
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Turns byte offsets, asked for in increasing order, into 1-based line and
/// character column, counting line ends on the way (`\n`, `\r\n`, a lone `\r`).
struct Cursor<'s> {
    text: &'s str,
    at: usize,
    line: usize,
    line_start: usize,
    /// Characters from the line start to `at`: links share long lines.
    chars: usize,
}

impl<'s> Cursor<'s> {
    fn new(text: &'s str) -> Cursor<'s> {
        // A byte order mark is not a column an editor shows.
        let line_start = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Cursor { text, at: line_start, line: 1, line_start, chars: 0 }
    }

    fn position(&mut self, offset: usize) -> (u32, u32) {
        let bytes = self.text.as_bytes();
        let offset = offset.clamp(self.at, bytes.len());
        let mut counted = self.at;
        let between = &bytes[self.at..offset];
        if memchr::memchr(b'\r', between).is_none() {
            // Only `\n` ends lines here: count them at once (vectorized).
            let lines = count_newlines(between);
            if let Some(last) = memchr::memrchr(b'\n', between) {
                self.line += lines;
                self.line_start = self.at + last + 1;
                (counted, self.chars) = (self.line_start, 0);
            }
        } else {
            for i in memchr::memchr2_iter(b'\n', b'\r', between) {
                let i = self.at + i;
                if bytes[i] == b'\n' || bytes.get(i + 1) != Some(&b'\n') {
                    self.line += 1;
                    self.line_start = i + 1;
                    (counted, self.chars) = (i + 1, 0);
                }
            }
        }
        self.chars += self.text.get(counted..offset).map_or(0, |s| s.chars().count());
        self.at = offset;
        (to_u32(self.line), to_u32(self.chars + 1))
    }
}

/// The number of `\n` in `bytes`, summed in bytes over short chunks (which
/// the compiler turns into wide compares; a `usize` per byte it does not).
fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(255)
        .map(|chunk| usize::from(chunk.iter().map(|&b| u8::from(b == b'\n')).sum::<u8>()))
        .sum()
}

/// The local and external link destinations of one page, exactly as written, in
/// the order they appear: inline, reference, autolink, image and raw-HTML
/// `href`/`src` destinations, none from code. An HTML page can be passed too:
/// its `href` and `src` attributes are read as raw HTML. For tools that need a
/// page's links without a check (storage-approval's keep rule).
pub fn destinations(text: &str) -> Vec<String> {
    extract(text).links().map(|link| link.raw.to_owned()).collect()
}

/// Extracts every link and anchor of a Markdown text.
pub(crate) fn extract(text: &str) -> Extracted {
    let mut out = Draft::default();
    // Front matter is not Markdown: the parser sees the rest, and its offsets
    // are shifted back to the file's.
    let (front, body) = split_front_matter(text);
    out.front = front.map(Box::new).filter(|f| **f != Front::default());
    let mut walk = Walk::new(text, &mut out);
    let mut events = Parser::new_ext(&text[body..], options()).into_offset_iter();
    for (event, range) in events.by_ref() {
        walk.event(event, body + range.start..body + range.end);
    }
    walk.flush_text();
    let headings = std::mem::take(&mut walk.heading_starts);
    let covered = std::mem::take(&mut walk.covered);
    let defs = events.reference_definitions();
    let mut firsts = Vec::new();
    for (_, def) in defs.iter() {
        let span = body + def.span.start..body + def.span.end;
        firsts.extend(definition(text, span, &def.dest, &mut out));
    }
    // Each definition has its `]:`: with no more of them than first
    // definitions, no label is defined twice.
    if !firsts.is_empty()
        && memchr::memmem::find_iter(text.as_bytes(), "]:").nth(firsts.len()).is_some()
    {
        firsts.sort_unstable();
        let mut labels: Vec<String> = defs.iter().map(|(label, _)| normal_label(label)).collect();
        labels.sort_unstable();
        duplicate_definitions(text, body, &covered, (&labels, &firsts), &mut out);
    }
    finish(text, &headings, &mut out);
    if made_of_shortcodes(&text[body..]) {
        // A page whose body is only template calls (Hugo's `{{% glossary %}}`)
        // is written by its templates: its anchors cannot be known.
        out.generated_ids = true;
    }
    out.settle()
}

/// Front matter's keys and where the Markdown after it starts: YAML between
/// `---` lines (as comrak and the site generators split it), Hugo's TOML
/// between `+++` lines, after a byte order mark.
fn split_front_matter(text: &str) -> (Option<Front>, usize) {
    if let Some((front, end)) = toml_front_matter(text) {
        return (Some(front), end);
    }
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    match yaml_front_matter(&text[bom..]) {
        Some(len) => (Some(front_matter(&text[bom..bom + len])), bom + len),
        None => (None, bom),
    }
}

/// The length of the `---` front matter block that starts `s`, with the line
/// end after its closing `---` and one blank line after that.
fn yaml_front_matter(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("---")?;
    let mut start = 3 + line_end_len(rest)?;
    // The first line that is `---` closes it.
    let bytes = s.as_bytes();
    let close = memchr::memmem::find_iter(&bytes[start..], "\n---").map(|at| start + at + 4).find(
        |&end| end == bytes.len() || bytes[end] == b'\n' || bytes[end..].starts_with(b"\r\n"),
    )?;
    start = close;
    if start == s.len() {
        return Some(start);
    }
    start += line_end_len(&s[start..])?;
    Some(start + line_end_len(&s[start..]).unwrap_or(0))
}

fn line_end_len(s: &str) -> Option<usize> {
    if s.starts_with('\n') {
        Some(1)
    } else if s.starts_with("\r\n") {
        Some(2)
    } else {
        None
    }
}

/// The links after the walk: ordered, with positions, and what is read from
/// the whole text (includes, tabs, MyST labels).
fn finish(text: &str, heading_starts: &[usize], out: &mut Draft) {
    out.links.sort_by_key(|l| l.start);
    let mut cursor = Cursor::new(text);
    for link in &mut out.links {
        (link.line, link.column) = cursor.position(link.start as usize);
    }
    includes(text, out);
    if has(text, "===") {
        tabs(text, heading_starts, out);
    }
    if has(text, ")=") {
        out.rare_mut().labels.extend(MYST_LABEL.captures_iter(text).map(|c| c[1].to_owned()));
    }
}

/// The files a page includes, in the order of their syntaxes: DocFX, MDX,
/// mdBook, Hugo. Cheap tests first: most pages include nothing.
fn includes(text: &str, out: &mut Draft) {
    let mut found = Vec::new();
    let all = |pattern: &'static Regex| pattern.captures_iter(text).map(|caps| caps[1].to_owned());
    if has_docfx_include(text) {
        found.extend(all(&DOCFX_INCLUDE));
    }
    let mut imports = line_starts_of(text, "import").peekable();
    // A match ends in `.md` or `.mdx` and a quote: where no such bytes are
    // (an `import` line of a code sample), the pattern is not even compiled;
    // one pass over the page looks for all four.
    let may_import_a_page = || {
        memchr::memmem::find_iter(text.as_bytes(), ".md").any(|at| {
            let after = &text.as_bytes()[at + 3..];
            let after = after.strip_prefix(b"x").unwrap_or(after);
            matches!(after.first(), Some(b'"' | b'\''))
        })
    };
    if imports.peek().is_some() && may_import_a_page() {
        for start in imports {
            found.extend(MDX_IMPORT.captures(&text[start..]).map(|caps| caps[1].to_owned()));
        }
    }
    let (mdbook, hugo) = shortcodes(text);
    if mdbook {
        found.extend(scan::mdbook_includes(text).map(str::to_owned));
    }
    if hugo {
        found.extend(all(&HUGO_INCLUDE));
    }
    if !found.is_empty() {
        out.rare_mut().includes = found;
    }
}

/// Whether `text` has `{{#` (an mdBook include may follow) and `{{<` or `{{%`
/// (a Hugo shortcode), in one pass.
fn shortcodes(text: &str) -> (bool, bool) {
    let bytes = text.as_bytes();
    let (mut mdbook, mut hugo) = (false, false);
    for at in memchr::memmem::find_iter(bytes, "{{") {
        match bytes.get(at + 2) {
            Some(b'#') => mdbook = true,
            Some(b'<' | b'%') => hugo = true,
            _ => {}
        }
    }
    (mdbook, hugo)
}

/// pymdownx.tabbed titles, with how many headings start on or before their line.
fn tabs(text: &str, heading_starts: &[usize], out: &mut Draft) {
    static TAB: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^[ \t]*===[+!]?[ \t]+"(.+)"[ \t]*\r?$"#).expect("the tab pattern is valid")
    });
    let bytes = text.as_bytes();
    // Only the lines holding `===` (JavaScript's `===` is common in code).
    let mut last_line = None;
    for at in memchr::memmem::find_iter(bytes, "===") {
        let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |n| n + 1);
        if last_line == Some(line_start) {
            continue;
        }
        last_line = Some(line_start);
        let line_end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |n| at + n);
        if let Some(caps) = TAB.captures(&text[line_start..line_end]) {
            let next_line = (line_end + 1).min(bytes.len());
            let before = heading_starts.partition_point(|&s| s < next_line);
            out.rare_mut().tabs.push((before, caps[1].to_owned()));
        }
    }
}

/// The offsets of the lines of `text` that start with `prefix`.
fn line_starts_of<'t>(text: &'t str, prefix: &'t str) -> impl Iterator<Item = usize> + 't {
    let first = text.starts_with(prefix).then_some(0);
    let finder = memchr::memmem::find_iter(text.as_bytes(), prefix.as_bytes());
    let later = finder.filter(|&at| at > 0 && text.as_bytes()[at - 1] == b'\n');
    first.into_iter().chain(later)
}

/// A link being read: its whole source range and where its text ends.
struct OpenLink<'a> {
    range: Range<usize>,
    link_type: LinkType,
    dest: CowStr<'a>,
    image: bool,
    /// The end of the last event inside the link text (its `]` follows).
    text_end: Option<usize>,
}

/// Where a bare autolink may be in a page: each `://`, `www.` and `@`, in
/// order (three SIMD scans; a page's text runs are thousands, these a few).
fn autolink_candidates(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut found: Vec<usize> = memchr::memmem::find_iter(bytes, "://").collect();
    found.extend(memchr::memmem::find_iter(bytes, "www."));
    found.extend(memchr::memchr_iter(b'@', bytes));
    found.sort_unstable();
    found
}

/// A heading or definition term being read.
struct OpenHeading {
    text: String,
    term: bool,
    /// Whether it holds an HTML comment (a directive a plugin expands).
    comment: bool,
}

/// The state of one walk over the parser's events.
struct Walk<'t, 'o> {
    text: &'t str,
    out: &'o mut Draft,
    links: Vec<OpenLink<'t>>,
    heading: Option<OpenHeading>,
    heading_starts: Vec<usize>,
    /// Inside an image: its alt text is not heading text.
    images: usize,
    code: bool,
    /// Contiguous text not in link text or code: where bare autolinks are.
    run: Option<Range<usize>>,
    /// Where bare autolinks may be ([`autolink_candidates`]), and how many
    /// of them are behind the walk.
    candidates: Vec<usize>,
    passed: usize,
    /// Where the last bare autolink ends (it may reach beyond its text run).
    linked: usize,
    /// The end of the table cell being read: a bare URL ends there.
    cell_end: usize,
    /// The source ranges of blocks and inline content, merged, when the text
    /// may hold definitions: what is left between them is definitions and
    /// container markers.
    covered: Vec<Range<usize>>,
    track_covered: bool,
    /// Whether the next inline event is the first of its block.
    block_start: bool,
}

impl<'t, 'o> Walk<'t, 'o> {
    fn new(text: &'t str, out: &'o mut Draft) -> Walk<'t, 'o> {
        Walk {
            text,
            out,
            links: Vec::new(),
            heading: None,
            heading_starts: Vec::new(),
            images: 0,
            code: false,
            run: None,
            candidates: autolink_candidates(text),
            passed: 0,
            linked: 0,
            cell_end: usize::MAX,
            covered: Vec::new(),
            track_covered: has(text, "]:"),
            block_start: true,
        }
    }

    fn event(&mut self, event: Event<'t>, range: Range<usize>) {
        if let Event::Text(text) = &event {
            self.text_event(text, range);
            return;
        }
        self.flush_text();
        if self.track_covered && !is_container(&event) {
            self.cover(&range);
        }
        if let Some(link) = self.links.last_mut()
            && !matches!(event, Event::End(TagEnd::Link | TagEnd::Image))
        {
            link.text_end = Some(link.text_end.map_or(range.end, |e| e.max(range.end)));
        }
        match event {
            Event::Start(tag) => self.start(tag, range),
            Event::End(tag) => self.end(tag),
            Event::Code(code) => {
                self.block_start = false;
                if let Some(heading) = &mut self.heading
                    && self.images == 0
                {
                    heading.text.push_str(&code);
                }
            }
            Event::InlineHtml(html) => {
                self.block_start = false;
                if let Some(heading) = &mut self.heading
                    && html.trim_start().starts_with("<!--")
                {
                    heading.comment = true;
                }
                if self.text.get(range.clone()) == Some(&*html) {
                    html_links(self.text, range, self.out);
                }
            }
            _ => self.block_start = false,
        }
    }

    fn start(&mut self, tag: Tag<'t>, range: Range<usize>) {
        match tag {
            Tag::Link { link_type, dest_url, .. } => self.open(range, link_type, dest_url, false),
            Tag::Image { link_type, dest_url, .. } => self.open(range, link_type, dest_url, true),
            Tag::HtmlBlock => {
                if self.text.get(range.clone()).is_some_and(is_directive) {
                    self.out.generated_ids = true;
                }
                html_links(self.text, range, self.out);
            }
            Tag::CodeBlock(_) => self.code = true,
            Tag::Heading { .. } => {
                self.heading_starts.push(range.start);
                self.heading =
                    Some(OpenHeading { text: String::new(), term: false, comment: false });
                self.block_start = true;
            }
            Tag::DefinitionListTitle => {
                self.heading =
                    Some(OpenHeading { text: String::new(), term: true, comment: false });
                self.block_start = true;
            }
            Tag::FootnoteDefinition(label) => {
                self.out.rare_mut().footnotes.push(label.into_string());
                self.block_start = true;
            }
            Tag::TableCell => {
                self.cell_end = range.end;
                self.block_start = true;
            }
            Tag::Emphasis | Tag::Strong | Tag::Strikethrough => self.block_start = false,
            _ => self.block_start = true,
        }
    }

    fn open(&mut self, range: Range<usize>, link_type: LinkType, dest: CowStr<'t>, image: bool) {
        self.images += usize::from(image);
        self.block_start = false;
        self.links.push(OpenLink { range, link_type, dest, image, text_end: None });
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Link | TagEnd::Image => {
                if let Some(link) = self.links.pop() {
                    self.images -= usize::from(link.image);
                    link_destination(self.text, &link, self.out);
                }
            }
            TagEnd::CodeBlock => self.code = false,
            TagEnd::TableCell => self.cell_end = usize::MAX,
            TagEnd::Heading(_) | TagEnd::DefinitionListTitle => {
                if let Some(heading) = self.heading.take() {
                    self.out.generated_ids |= heading.comment && heading.text.trim().is_empty();
                    finish_heading(heading, self.out);
                }
            }
            _ => {}
        }
    }

    fn cover(&mut self, range: &Range<usize>) {
        match self.covered.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => self.covered.push(range.clone()),
        }
    }

    fn text_event(&mut self, text: &str, range: Range<usize>) {
        if self.track_covered {
            self.cover(&range);
        }
        if self.code {
            return;
        }
        if let Some(heading) = &mut self.heading
            && self.images == 0
        {
            heading.text.push_str(text);
        }
        if !self.links.is_empty() {
            self.block_start = false;
            return;
        }
        match &mut self.run {
            Some(run) if run.end == range.start => run.end = range.end,
            _ => {
                self.flush_text();
                self.run = Some(range);
            }
        }
    }

    /// Finds the bare autolinks of the text read since the last other event,
    /// if a candidate for one is in it (runs come in document order).
    fn flush_text(&mut self) {
        if let Some(run) = self.run.take() {
            let first = std::mem::replace(&mut self.block_start, false);
            let ahead = &self.candidates[self.passed..];
            self.passed += ahead.partition_point(|&at| at < run.start);
            if self.candidates.get(self.passed).is_some_and(|&at| at < run.end) {
                let limits = (self.linked, self.cell_end);
                self.linked = bare_autolinks(self.text, run, limits, first, self.out);
            }
        }
    }
}

/// Whether an event starts or ends a container block, which holds definitions.
fn is_container(event: &Event<'_>) -> bool {
    use pulldown_cmark::TagEnd as E;
    match event {
        Event::Start(tag) => matches!(
            tag,
            Tag::BlockQuote(_)
                | Tag::List(_)
                | Tag::Item
                | Tag::FootnoteDefinition(_)
                | Tag::DefinitionList
                | Tag::DefinitionListDefinition
        ),
        Event::End(tag) => matches!(
            tag,
            E::BlockQuote(_)
                | E::List(_)
                | E::Item
                | E::FootnoteDefinition
                | E::DefinitionList
                | E::DefinitionListDefinition
        ),
        _ => false,
    }
}

/// A heading's slug text and its trailing attribute list: `{#id}` is an
/// attribute for mkdocs, Pandoc, Hugo and Docusaurus; GitHub shows it as text
/// and slugs it with the rest.
fn finish_heading(heading: OpenHeading, out: &mut Draft) {
    let OpenHeading { text, term, .. } = heading;
    if term {
        return out.push_heading(&text, None, None, term);
    }
    // An attribute list ends the heading: most have none.
    let attributes = text.trim_end().ends_with('}').then(|| ATTRIBUTES.captures(&text)).flatten();
    let (explicit, bare) = match attributes {
        Some(caps) => {
            let start = caps.get(0).map_or(text.len(), |m| m.start());
            (attribute_id(&caps[1]).map(Into::into), Some(text[..start].into()))
        }
        None => (None, None),
    };
    out.push_heading(&text, explicit, bare, term);
}

/// Whether a page's body is nothing but template calls (`{{% name %}}`,
/// `{{< name >}}`) and white space: a page its templates write.
fn made_of_shortcodes(body: &str) -> bool {
    let mut rest = body.trim();
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let close = match rest.get(..3) {
            Some("{{%") => "%}}",
            Some("{{<") => ">}}",
            _ => return false,
        };
        let Some(end) = rest.find(close) else { return false };
        rest = rest[end + close.len()..].trim_start();
    }
    true
}

/// A tab title as pymdownx slugifies it: emoji shortcodes (`:octicons-x-16:`)
/// and HTML tags become nothing.
fn clean_tab_title(title: &str) -> String {
    static NOISE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r":[a-z0-9_+-]+:|<[^>]*>").expect("the tab title pattern is valid")
    });
    NOISE.replace_all(title, "").trim().to_owned()
}

/// The keys of YAML front matter (`---` lines included in `raw`) that the site
/// model reads; malformed YAML gives none.
fn front_matter(raw: &str) -> Front {
    if !may_set_keys(raw) {
        return Front::default();
    }
    let mut body = String::with_capacity(raw.len());
    for line in raw.lines().filter(|l| l.trim_end() != "---") {
        body.push_str(line);
        body.push('\n');
    }
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
    // Back from each `:` over blanks and quotes to the name before it.
    memchr::memchr_iter(b':', yaml.as_bytes()).any(|colon| {
        let before = yaml[..colon].trim_end_matches([' ', '\t']).trim_end_matches(['"', '\'']);
        let name_start = before
            .char_indices()
            .rev()
            .take_while(|&(_, c)| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .last()
            .map_or(before.len(), |(i, _)| i);
        KEYS.contains(&&before[name_start..])
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

/// The destination of a link or image the parser found, located in the source.
/// A destination whose source bytes are not what the parser read is left out
/// rather than risk rewriting the wrong bytes.
fn link_destination(text: &str, link: &OpenLink<'_>, out: &mut Draft) {
    let range = &link.range;
    let (span, dest, form) = match link.link_type {
        LinkType::Inline => {
            let form = if link.image { Form::Image } else { Form::Inline };
            let Some(span) = inline_span(text, link) else { return };
            (span, CowStr::Borrowed(&link.dest), form)
        }
        // `<scheme:...>`: the destination is between the brackets.
        LinkType::Autolink => (
            range.start + 1..range.end.saturating_sub(1),
            CowStr::Borrowed(&link.dest),
            Form::Autolink,
        ),
        LinkType::Email => {
            let dest = format!("mailto:{}", link.dest).into();
            (range.start + 1..range.end.saturating_sub(1), dest, Form::Autolink)
        }
        // `[text][label]`: reported at its definition.
        _ => return,
    };
    if span.is_empty() && dest.is_empty() {
        return;
    }
    if let Some(raw) = text.get(span.clone())
        && plausible(raw, form, &dest)
    {
        out.push_link(&dest, raw, span, form);
    }
}

/// The byte range of the destination of `[text](dest "title")`: after the `]`
/// that closes the text (the last event inside the link ends before it), or,
/// where that is not `](`, after the `]` a scan of the source finds.
fn inline_span(text: &str, link: &OpenLink<'_>) -> Option<Range<usize>> {
    let bytes = text.as_bytes();
    let end = link.range.end;
    let open = link.range.start + if link.image { 2 } else { 1 };
    let close = link.text_end.map_or(open, |e| e.max(open));
    if bytes.get(close) == Some(&b']') && bytes.get(close + 1) == Some(&b'(') {
        let span = destination_after(bytes, close + 2, end);
        if text.get(span.clone()).is_some_and(|raw| plausible(raw, Form::Inline, &link.dest)) {
            return Some(span);
        }
    }
    let close = closing_bracket(bytes, link.range.start, end)?;
    (bytes.get(close + 1) == Some(&b'(')).then(|| destination_after(bytes, close + 2, end))
}

/// Whether the source bytes found for a link are the destination the parser read.
fn plausible(raw: &str, form: Form, url: &str) -> bool {
    match form {
        Form::Autolink => url.ends_with(raw),
        // Most destinations are written as the parser reads them.
        _ if raw == url => true,
        _ => {
            let unescaped = unescape(raw);
            unescaped == url || decode_entities(&unescaped) == url
        }
    }
}

/// The `]` that closes the link text starting at `start` (the `[` or `!`),
/// skipping escapes, code spans and nested brackets.
fn closing_bracket(bytes: &[u8], start: usize, end: usize) -> Option<usize> {
    let mut i = start + usize::from(bytes.get(start) == Some(&b'!'));
    if bytes.get(i) != Some(&b'[') {
        return None;
    }
    let mut depth = 0usize;
    while i < end {
        match bytes[i] {
            b'\\' => i += 1,
            b'`' => {
                let run = bytes[i..end].iter().take_while(|&&b| b == b'`').count();
                i +=
                    find_backtick_run(&bytes[i + run..end], run).map_or(run, |c| run + c + run) - 1;
            }
            b'[' => depth += 1,
            b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The destination that starts after `(` at `i`: `<...>` or a run without
/// spaces and with balanced parentheses, after spaces and at most one line end
/// (and the block quote markers of the next line).
fn destination_after(bytes: &[u8], mut i: usize, end: usize) -> Range<usize> {
    while i < end && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    if i < end && matches!(bytes[i], b'\n' | b'\r') {
        i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') { 2 } else { 1 };
        while i < end && matches!(bytes[i], b' ' | b'\t' | b'>') {
            i += 1;
        }
    }
    if bytes.get(i) == Some(&b'<') {
        let open = i + 1;
        let mut j = open;
        while j < end && bytes[j] != b'>' && bytes[j] != b'\n' {
            j += if bytes[j] == b'\\' { 2 } else { 1 };
        }
        return open..j.min(end);
    }
    let open = i;
    let mut parens = 0usize;
    while i < end {
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
    open..i.min(end)
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

/// A `[label]: dest` definition the parser read (`span` covers it, `dest` is
/// its destination as the parser read it). Returns where its `[` is.
fn definition(text: &str, span: Range<usize>, dest: &str, out: &mut Draft) -> Option<usize> {
    let bytes = text.as_bytes();
    let end = span.end.min(bytes.len());
    let open = span.start + bytes[span.start..end].iter().position(|&b| b == b'[')?;
    let close = label_end(bytes, open, end)?;
    let span = definition_destination(bytes, close, end)?;
    let raw = text.get(span.clone())?;
    if !raw.is_empty() && plausible(raw, Form::Definition, dest) {
        out.push_link(dest, raw, span, Form::Definition);
    }
    Some(open)
}

/// The destination of a definition whose label ends at `close` (the `]`).
fn definition_destination(bytes: &[u8], close: usize, end: usize) -> Option<Range<usize>> {
    if bytes.get(close + 1) != Some(&b':') {
        return None;
    }
    let span = destination_after(bytes, close + 2, end);
    if bytes.get(span.start.wrapping_sub(1)) == Some(&b'<') {
        // `<dest>`: `destination_after` stopped at the `>`.
        return Some(span);
    }
    // A definition's bare destination may hold unbalanced parentheses.
    let len = bytes[span.start..end].iter().position(u8::is_ascii_whitespace);
    Some(span.start..len.map_or(end, |n| span.start + n))
}

/// The definitions of labels defined before: the parser keeps only the first
/// of each label (CommonMark's rule), but Python-Markdown uses the last, and a
/// fix must see them all. They are in what no block covers (`covered`, in
/// order), from a `[` after container markers to the end of the destination.
fn duplicate_definitions(
    text: &str,
    body: usize,
    covered: &[Range<usize>],
    known: (&[String], &[usize]),
    out: &mut Draft,
) {
    let ends = std::iter::once(body).chain(covered.iter().map(|r| r.end));
    let starts = covered.iter().map(|r| r.start).chain([text.len()]);
    for (from, to) in ends.zip(starts) {
        let gap = from..to.max(from);
        if text.get(gap.clone()).is_some_and(|g| has(g, "]:")) {
            gap_definitions(text, gap, known, out);
        }
    }
}

/// The definitions of `known` labels (sorted) in a gap, but for the first of
/// each (`known.1`: where their `[` is, sorted).
fn gap_definitions(
    text: &str,
    gap: Range<usize>,
    (labels, firsts): (&[String], &[usize]),
    out: &mut Draft,
) {
    let bytes = text.as_bytes();
    let mut i = gap.start;
    while i < gap.end {
        let skip = bytes[i..gap.end].iter().take_while(|b| b" \t\r\n>-*+.):0123456789".contains(b));
        i += skip.count();
        if i >= gap.end {
            break;
        }
        if bytes[i] == b'['
            && bytes.get(i + 1) != Some(&b'^')
            && let Some(close) = label_end(bytes, i, gap.end)
            && let Some(span) = definition_destination(bytes, close, gap.end)
        {
            let known = labels.binary_search(&normal_label(&text[i + 1..close])).is_ok();
            if known && firsts.binary_search(&i).is_err() && !span.is_empty() {
                let raw = &text[span.clone()];
                out.push_link(&unescape(raw), raw, span.clone(), Form::Definition);
            }
            i = span.end.max(i + 1);
            continue;
        }
        i = memchr::memchr(b'\n', &bytes[i..gap.end]).map_or(gap.end, |n| i + n + 1);
    }
}

/// A label as labels are matched: case and runs of white space do not count.
fn normal_label(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The `]` that ends the label of a definition whose `[` is at `open`.
fn label_end(bytes: &[u8], open: usize, end: usize) -> Option<usize> {
    let mut i = open + 1;
    while i < end {
        match bytes[i] {
            b'\\' => i += 1,
            b']' => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// GFM's extended autolinks in a run of text (`range` of the source), after
/// `from` (the end of the last one): `http://`, `https://` and `ftp://` URLs,
/// `www.` hosts and e-mail addresses, found as GitHub's cmark-gfm (and comrak)
/// find them. A URL ends at white space in the source, beyond the run if need
/// be (`https://x/*y*` is one link). `first`: the run starts its block, so
/// nothing precedes a `www.`. Returns where the last link ends.
fn bare_autolinks(
    text: &str,
    range: Range<usize>,
    (from, limit): (usize, usize),
    first: bool,
    out: &mut Draft,
) -> usize {
    let start = range.start.max(from);
    let Some(run) = text.get(start..range.end.max(start)) else { return from };
    if memchr::memchr3(b':', b'.', b'@', run.as_bytes()).is_none() {
        return from;
    }
    let bytes = text.as_bytes();
    // Where text not yet part of a URL or `www.` link starts: e-mail
    // addresses are looked for there.
    let mut plain = start;
    let mut i = start;
    while let Some(found_at) = next_link_start(&bytes[i..range.end]) {
        i += found_at;
        let found = if bytes[i] == b':' {
            url_match(text, i, plain, limit)
        } else {
            let before = (i > range.start || !first).then(|| i.checked_sub(1)).flatten();
            www_match(text, i, before.map(|b| bytes[b]), limit)
        };
        match found {
            Some((link, dest)) => {
                email_autolinks(text, plain..link.start, out);
                plain = link.end;
                i = link.end.min(range.end);
                push_autolink(text, link, &dest, out);
            }
            None => i += 1,
        }
    }
    if plain < range.end {
        email_autolinks(text, plain..range.end, out);
    }
    plain.max(from)
}

/// Where the next `:` (of a URL's `://`) or `www.` is.
fn next_link_start(bytes: &[u8]) -> Option<usize> {
    static WWW: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new("www."));
    let colon = memchr::memchr(b':', bytes);
    let www = WWW.find(&bytes[..colon.unwrap_or(bytes.len())]);
    www.or(colon)
}

fn push_autolink(text: &str, span: Range<usize>, dest: &str, out: &mut Draft) {
    out.push_link(dest, &text[span.clone()], span, Form::Autolink);
}

/// A URL whose `://` is at `colon`: its scheme is the letters before, which
/// start no earlier than `from`.
fn url_match(
    text: &str,
    colon: usize,
    from: usize,
    limit: usize,
) -> Option<(Range<usize>, String)> {
    let bytes = text.as_bytes();
    if !text[colon..].starts_with("://") || text.len() - colon < 4 {
        return None;
    }
    let letters = bytes[from..colon].iter().rev().take_while(|b| b.is_ascii_alphabetic()).count();
    let start = colon - letters;
    let scheme = &text[start..colon];
    if !["http", "https", "ftp"].iter().any(|s| scheme.eq_ignore_ascii_case(s)) {
        return None;
    }
    let host = colon + 3;
    if !text[host..].chars().next().is_some_and(is_valid_hostchar) {
        return None;
    }
    let end = link_end(text, host + check_domain(&text[host..], true)?, limit);
    let end = colon + autolink_delim(&text[colon..end]);
    Some((start..end, text[start..end].to_owned()))
}

/// A `www.` link at `at`, where `before` is the character before it.
fn www_match(
    text: &str,
    at: usize,
    before: Option<u8>,
    limit: usize,
) -> Option<(Range<usize>, String)> {
    if !text[at..].starts_with("www.")
        || before.is_some_and(|b| !b.is_ascii_whitespace() && !b"*_~([".contains(&b))
    {
        return None;
    }
    let end = link_end(text, at + 4 + check_domain(&text[at + 4..], false)?, limit);
    let end = at + autolink_delim(&text[at..end]);
    Some((at..end, format!("http://{}", &text[at..end])))
}

/// Where a link whose domain ends at `from` ends: at white space, or at the
/// end of its table cell (`limit`).
fn link_end(text: &str, from: usize, limit: usize) -> usize {
    let end = limit.min(text.len()).max(from);
    text.as_bytes()[from..end].iter().position(u8::is_ascii_whitespace).map_or(end, |n| from + n)
}

/// The length of a domain at the start of `data`, if it is one: at least one
/// dot unless `allow_short`, and no underscore in its last two labels.
fn check_domain(data: &str, allow_short: bool) -> Option<usize> {
    let (mut end, mut dots, mut underscores, mut previous) = (0, 0, 0, 0);
    for (i, c) in data.char_indices() {
        match c {
            '\\' if i + 1 < data.len() => {}
            '_' => underscores += 1,
            '.' => {
                previous = underscores;
                underscores = 0;
                dots += 1;
            }
            c if is_valid_hostchar(c) || c == '-' => {}
            _ => {
                end = i;
                break;
            }
        }
        end = i + c.len_utf8();
    }
    if dots > 10 {
        return Some(end);
    }
    if underscores > 0 || previous > 0 {
        return None;
    }
    (allow_short || dots > 0).then_some(end)
}

/// The ASCII letters that end `bytes`.
fn letters_before(bytes: &[u8]) -> &[u8] {
    let n = bytes.iter().rev().take_while(|b| b.is_ascii_alphabetic()).count();
    &bytes[bytes.len() - n..]
}

/// Whether a character may be part of a host name: not white space,
/// punctuation or a symbol (all of ASCII's, and the common Unicode blocks of them).
fn is_valid_hostchar(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_ascii_punctuation()
        || matches!(c, '\u{a1}'..='\u{bf}' | '\u{d7}' | '\u{f7}' | '\u{2010}'..='\u{2bff}' | '\u{3000}'..='\u{303f}' | '\u{ff01}'..='\u{ff0f}' | '\u{ff1a}'..='\u{ff20}'))
}

/// The end of a link once trailing punctuation is taken off, as GFM does: `?!.,:*_~'"`,
/// a `)` without its `(`, an entity-like `&name;`, anything from a `<`.
fn autolink_delim(data: &str) -> usize {
    let bytes = data.as_bytes();
    let mut end = bytes.len();
    if let Some(lt) = bytes[..end].iter().position(|&b| b == b'<') {
        end = lt;
    }
    let opening = bytes[..end].iter().filter(|&&b| b == b'(').count();
    let mut closing = bytes[..end].iter().filter(|&&b| b == b')').count();
    while end > 0 {
        match bytes[end - 1] {
            b'?' | b'!' | b'.' | b',' | b':' | b'*' | b'_' | b'~' | b'\'' | b'"' => end -= 1,
            b';' => {
                let mut at = end.saturating_sub(2);
                while at > 0 && bytes[at].is_ascii_alphabetic() {
                    at -= 1;
                }
                end = if at + 2 < end && bytes[at] == b'&' { at } else { end - 1 };
            }
            b')' if closing > opening => {
                closing -= 1;
                end -= 1;
            }
            _ if bytes[..end].ends_with("\u{2069}".as_bytes()) => {
                end -= 3;
                break;
            }
            _ => break,
        }
    }
    end
}

/// E-mail addresses in text (`range`) that holds no URL: `a.b@c.d`,
/// `mailto:a@b.c`, not inside `[...]`.
fn email_autolinks(text: &str, range: Range<usize>, out: &mut Draft) {
    let run = &text[range.clone()];
    if memchr::memchr(b'@', run.as_bytes()).is_none() {
        return;
    }
    let bytes = run.as_bytes();
    let mut brackets = 0i32;
    let mut from = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'[' => brackets += 1,
            b']' => brackets -= 1,
            b'@' if brackets <= 0 => {
                if let Some((start, end, dest)) = email_match(run, i, from) {
                    push_autolink(text, range.start + start..range.start + end, &dest, out);
                    from = end;
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// The address around the `@` at `at`, starting no earlier than `from`.
fn email_match(run: &str, at: usize, from: usize) -> Option<(usize, usize, String)> {
    let bytes = run.as_bytes();
    let mut start = at;
    let mut mailto = true;
    while start > from {
        let c = bytes[start - 1];
        if c.is_ascii_alphanumeric() || b".+-_".contains(&c) {
            start -= 1;
        } else if c == b':' && letters_before(&bytes[from..start - 1]) == b"mailto" {
            mailto = false;
            start -= 1;
        } else {
            break;
        }
    }
    if start == at {
        return None;
    }
    let mut end = 1;
    let mut dots = 0;
    while at + end < bytes.len() {
        let c = bytes[at + end];
        if c == b'@' {
            return None;
        }
        if c == b'.' && bytes.get(at + end + 1).is_some_and(u8::is_ascii_alphanumeric) {
            dots += 1;
        } else if !(c.is_ascii_alphanumeric() || c == b'-' || c == b'_') {
            break;
        }
        end += 1;
    }
    let last = bytes[at + end - 1];
    if end < 2 || dots == 0 || !(last.is_ascii_alphabetic() || last == b'.') {
        return None;
    }
    let end = at + autolink_delim(&run[at..at + end]);
    if end == at {
        return None;
    }
    let found = &run[start..end];
    let dest = if mailto { format!("mailto:{found}") } else { found.to_owned() };
    Some((start, end, dest))
}

/// `href`/`src` links and `id`/`name` anchors in a raw HTML node, skipping comments.
fn html_links(text: &str, range: Range<usize>, out: &mut Draft) {
    let Some(html) = text.get(range.clone()) else { return };
    // Both patterns need an attribute value: most tags (`</a>`, `<br>`) have none.
    if memchr::memchr(b'=', html.as_bytes()).is_none() {
        return;
    }
    // The patterns' own set-up costs more than these scans of a short tag.
    let links = has_ignoring_case(html, b"href") || has_ignoring_case(html, b"src");
    let anchors = has_ignoring_case(html, b"id") || has_ignoring_case(html, b"name");
    if !links && !anchors {
        return;
    }
    let comments = comment_ranges(html);
    let in_comment = |at: usize| comments.iter().any(|c| c.contains(&at));
    if links {
        for value in scan::attribute_values(html, scan::LINK_ATTRIBUTES) {
            let raw = &html[value.clone()];
            if in_comment(value.start) || raw.trim().is_empty() {
                continue;
            }
            let span = range.start + value.start..range.start + value.end;
            out.push_link(&decode_entities(raw), raw, span, Form::Html);
        }
    }
    if anchors {
        for value in scan::attribute_values(html, scan::ANCHOR_ATTRIBUTES) {
            if !in_comment(value.start) {
                out.push_id(&decode_entities(&html[value]));
            }
        }
    }
}

/// Whether `html` holds `word` (lowercase ASCII) in any case.
fn has_ignoring_case(html: &str, word: &[u8]) -> bool {
    let bytes = html.as_bytes();
    let first = word[0];
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), bytes)
        .any(|at| bytes.get(at..at + word.len()).is_some_and(|w| w.eq_ignore_ascii_case(word)))
}

/// The `id` and `name` anchors of a whole HTML page (a local `.html` link
/// target), skipping comments.
pub(crate) fn html_page_anchors(html: &str) -> Extracted {
    let comments = comment_ranges(html);
    let mut out = Draft::default();
    for value in scan::attribute_values(html, scan::ANCHOR_ATTRIBUTES) {
        if !comments.iter().any(|c| c.contains(&value.start)) {
            out.push_id(&decode_entities(&html[value]));
        }
    }
    out.settle()
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
fn decode_entities(value: &str) -> Cow<'_, str> {
    if !value.contains('&') {
        return Cow::Borrowed(value);
    }
    Cow::Owned(
        value
            .replace("&amp;", "&")
            .replace("&#38;", "&")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">"),
    )
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

    #[test]
    fn headings_with_attribute_lists_survive_the_cache_format() {
        let text = "# Plain\n\n## Named {#custom}\n\n### Classy {: #other .wide }\n\n\
                    Term\n: its definition\n\n## Plain\n\nA note[^n].\n\n[^n]: Here.\n";
        let page = extract(text);
        let mut written = Writer(Vec::new());
        page.encode(&mut written);
        let read = Extracted::decode(&mut Reader(&written.0)).expect("it decodes");
        let mut again = Writer(Vec::new());
        read.encode(&mut again);
        assert_eq!(again.0, written.0, "decoding and encoding again changes nothing");
        for flavor in [Flavor::GitHub, Flavor::PythonMarkdown, Flavor::Hugo] {
            for terms in [false, true] {
                assert_eq!(read.anchors(flavor, terms), page.anchors(flavor, terms));
                assert_eq!(read.heading_ids(flavor, terms), page.heading_ids(flavor, terms));
            }
        }
        let anchors = page.anchors(Flavor::PythonMarkdown, true);
        for id in ["custom", "named", "other", "classy", "plain", "plain_1", "term"] {
            assert!(anchors.contains(id), "{id} in {anchors:?}");
        }
        assert_eq!(
            page.heading_ids(Flavor::GitHub, false),
            ["plain", "custom", "other", "plain-1"],
            "explicit ids stand for their headings, terms are left out"
        );
    }

    /// Each link as `line:col form dest =source-bytes`.
    fn links(text: &str) -> Vec<String> {
        extract(text)
            .links()
            .map(|l| {
                format!("{}:{} {:?} {} ={}", l.line, l.column, l.form, l.dest(), &text[l.span()])
            })
            .collect()
    }

    #[test]
    fn a_page_made_only_of_template_calls_has_anchors_no_one_can_know() {
        let generated = |text: &str| extract(text).generated_ids;
        assert!(generated("---\ntitle: Glossary\n---\n\n{{% glossary %}}\n"));
        assert!(generated("{{< list-terms section=\"x\" >}}\n\n{{% footer %}}"));
        // Prose or a heading beside a shortcode: the page's own anchors count.
        assert!(!generated("# Terms\n\n{{% glossary %}}\n"));
        assert!(!generated("Some words. {{< note >}}x{{< /note >}}"));
        assert!(!generated("---\ntitle: Empty\n---\n"));
        assert!(!generated("{{% unclosed"));
    }

    #[test]
    fn html_page_anchors_are_ids_and_names_outside_comments() {
        let html = "<!doctype html><h1 id=\"intro\">x</h1><a name='old-name'></a>\n<!-- <p id=\"gone\"> -->\n<div data-id=\"no\" ID=Upper>&amp;</div><p id=\"a&amp;b\">";
        let page = html_page_anchors(html);
        assert_eq!(page.ids().collect::<Vec<_>>(), ["Upper", "a&b", "intro", "old-name"]);
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
    fn front_matter_ends_at_the_first_line_that_is_three_dashes() {
        let text = "\u{feff}---\r\nslug: /a\r\n---\r\n\r\n[x](y.md)\r\n---\n";
        let page = extract(text);
        assert_eq!(page.front().slug.as_deref(), Some("/a"));
        assert_eq!(links(text), ["5:5 Inline y.md =y.md"]);
        // `----` is not the closing line; the blank line after it is taken too.
        assert_eq!(yaml_front_matter("---\na: ----\n----\n---\n\nrest"), Some(22));
        // No closing line: no front matter, and its lines are Markdown.
        assert_eq!(links("---\nslug: /a\n[z](w.md)\n"), ["3:5 Inline w.md =w.md"]);
        let toml = "+++\nslug = \"/t\"\n+++\n[v](u.md)\n";
        assert_eq!(
            (extract(toml).front().slug.as_deref(), links(toml)),
            (Some("/t"), vec!["4:5 Inline u.md =u.md".to_owned()])
        );
    }

    #[test]
    fn includes_and_tabs_are_read_where_their_syntax_is() {
        let text = "import Tabs from '@theme/Tabs';\nimport {\n  A,\n} from './_a.mdx';\n\n> [!NOTE]\n> [!INCLUDE [t](../inc/x.md)]\n\n{{#include ../b.md}} {{< readfile file=\"c.md\" >}}\n\n# One\n\n```js\nif (a === b) {}\n```\n\n=== \"Tab :octicons-x-16: A\"\n\n    text\n";
        let page = extract(text);
        assert_eq!(page.includes(), ["../inc/x.md", "./_a.mdx", "../b.md", "c.md"]);
        assert_eq!(page.tabs(), [(1, "Tab :octicons-x-16: A".to_owned())]);
        assert_eq!(links("import x from 'y.mdx'"), Vec::<String>::new());
        assert_eq!(extract("import A from \"./a.md\";\n").includes(), ["./a.md"]);
        assert!(extract("import A from './a.mdy';\n[x](b.md)\n").includes().is_empty());
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
    fn every_definition_of_a_label_is_reported() {
        // CommonMark uses the first, Python-Markdown the last: both are links.
        let text =
            "[a]: one.md\n\n- item\n\n  [a]: two.md\n  [b]: three.md\n\n```\n[a]: code.md\n```\n";
        assert_eq!(
            links(text),
            [
                "1:6 Definition one.md =one.md",
                "5:8 Definition two.md =two.md",
                "6:8 Definition three.md =three.md"
            ]
        );
    }

    #[test]
    fn bare_urls_end_at_their_table_cell_and_at_white_space() {
        let text = "| a | b |\n|---|---|\n| see https://x.org/a| [c](c\\|d.md) \\| [e](e.md) |\n\nhttps://y.org/*p*q and a@b.co.\n";
        assert_eq!(
            links(text),
            [
                "3:7 Autolink https://x.org/a =https://x.org/a",
                "3:28 Inline c|d.md =c\\|d.md",
                "3:44 Inline e.md =e.md",
                "5:1 Autolink https://y.org/*p*q =https://y.org/*p*q",
                "5:24 Autolink mailto:a@b.co =a@b.co",
            ]
        );
    }

    #[test]
    fn inline_html_across_lines_and_links_in_footnotes() {
        let text = "Text\n<img\n  alt=\"x\"\n  src=\"/i.png\"\n/>\n\n[^n]: [https://a.org/x](https://a.org/x)\n";
        assert_eq!(
            links(text),
            ["4:8 Html /i.png =/i.png", "7:25 Inline https://a.org/x =https://a.org/x"]
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
                Just("www.a.b"),
                Just("a@b.c"),
                Just("|"),
                Just("[^1]:"),
                Just("+++\n"),
                Just(": "),
                Just("\r"),
                Just("*"),
                Just("_"),
            ],
            0..60,
        )
        .prop_map(|parts| parts.concat())
    }

    /// Line and character column of a byte offset, the slow way: a line ends
    /// at `\n`, `\r\n` or a lone `\r`; a byte order mark is no column.
    fn position(text: &str, offset: usize) -> (u32, u32) {
        let before = text[..offset].replace("\r\n", "\n").replace('\r', "\n");
        let line = before.matches('\n').count() + 1;
        let last = before.rsplit('\n').next().unwrap_or("");
        let last = if line == 1 { last.trim_start_matches('\u{feff}') } else { last };
        (to_u32(line), to_u32(last.chars().count() + 1))
    }

    proptest! {
        #[test]
        fn never_panics_and_spans_hold_the_raw_destination(text in noise()) {
            let extracted = extract(&text);
            for link in extracted.links() {
                prop_assert_eq!(text.get(link.span()), Some(link.raw));
                prop_assert_eq!(position(&text, link.span().start), (link.line, link.column));
            }
        }
    }
}
