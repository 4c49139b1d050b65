//! Taking a destination as written apart: schemes, percent-decoding,
//! `?query`, `#fragment`, root-absolute and `~/` links; and the path helpers
//! (`..` normalisation, relative paths, encoding) that resolution and fixes share.
//! What a path means is the platform's business (`site.rs`).

use std::borrow::Cow;

/// A link destination taken apart: what the platform resolves, and how it is
/// written (fixes are written in the same style).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link<'a> {
    /// The path part as written (before `?` or `#`), unescaped by the parser.
    pub(crate) path_as_written: &'a str,
    /// The path part percent-decoded.
    pub(crate) path: Cow<'a, str>,
    /// `?query#fragment` exactly as written, kept by file fixes.
    pub(crate) suffix: &'a str,
    /// The percent-decoded fragment, if any.
    pub(crate) fragment: Option<Cow<'a, str>>,
    /// Whether the path part was empty (`#x`).
    pub(crate) same_file: bool,
    /// Whether the path ended with `/`.
    pub(crate) trailing_slash: bool,
    /// `/x`: from the root of the repository or the site.
    pub(crate) root_absolute: bool,
    /// DocFX's `~/x`: from the docset folder.
    pub(crate) tilde: bool,
}

impl Link<'_> {
    /// The last path segment (`page.md`, `page`), decoded.
    pub(crate) fn name(&self) -> &str {
        let path = self.path.trim_end_matches('/');
        path.rfind(['/', '\\']).map_or(path, |i| &path[i + 1..])
    }

    /// Whether the last segment has an extension (`page.md`, `x.png`), not a
    /// bare name that a site resolves as a URL (`page`, `v1.2`-like names
    /// aside: only known file extensions count).
    pub(crate) fn has_extension(&self) -> bool {
        let name = self.name();
        match crate::tree::last(name, b'.') {
            Some(0) | None => false,
            Some(i) => {
                let ext = &name[i + 1..];
                !ext.is_empty()
                    && ext.len() <= 5
                    && ext.bytes().all(|b| b.is_ascii_alphanumeric())
                    && ext.bytes().any(|b| b.is_ascii_alphabetic())
            }
        }
    }
}

/// What a destination is before looking at the tree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Class<'a> {
    /// `http:`, `mailto:`, `//host/...`, a template (`{{< ref >}}`): not checked.
    External,
    /// `file:///...` or `C:\\...`: a path of one machine.
    AbsolutePath,
    /// DocFX's `xref:uid`.
    Xref(&'a str),
    /// A path, to be resolved by the platform.
    Path(Link<'a>),
}

fn has_scheme(dest: &str) -> bool {
    let Some(colon) = dest.find(':') else { return false };
    let scheme = &dest[..colon];
    scheme.len() > 1
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

fn is_drive_path(dest: &str) -> bool {
    let bytes = dest.as_bytes();
    bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/')
}

/// Classifies a destination and takes a path apart.
pub(crate) fn classify(dest: &str) -> Class<'_> {
    let dest = dest.trim();
    let lower = dest.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("file://") || is_drive_path(dest) || dest.starts_with("\\\\") {
        return Class::AbsolutePath;
    }
    if let Some(uid) = dest.strip_prefix("xref:").or_else(|| dest.strip_prefix("Xref:")) {
        return Class::Xref(uid);
    }
    if has_scheme(dest) || dest.starts_with("//") || dest.contains("{{") || dest.contains("{%") {
        return Class::External;
    }
    let suffix_at = dest.find(['?', '#']).unwrap_or(dest.len());
    let (path_part, suffix) = dest.split_at(suffix_at);
    let fragment = dest.find('#').map(|i| percent_decode(&dest[i + 1..]));
    let path = percent_decode(path_part);
    Class::Path(Link {
        path_as_written: path_part,
        trailing_slash: path.ends_with('/'),
        root_absolute: path_part.starts_with('/'),
        tilde: path_part.starts_with("~/"),
        same_file: path_part.is_empty(),
        path,
        suffix,
        fragment,
    })
}

/// Joins `rel` onto `base` and removes `.` and `..`; `None` if it climbs above the root.
pub(crate) fn normalize(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|s| !s.is_empty()).collect()
    };
    for segment in rel.split('/') {
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

/// Percent-decodes `text`; sequences that are not valid (`%zz`, or bytes that
/// are not UTF-8 once decoded) are left as written.
pub(crate) fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) =
                (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(_) => Cow::Borrowed(text),
    }
}

fn hex(b: &u8) -> Option<u8> {
    (*b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// Encodes a path for use as a Markdown destination: the characters that would
/// end or change the destination are escaped, everything else is kept.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '\\' => out.push_str("%5C"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// The relative path from the directory `from_dir` to `to` (both root-relative).
pub(crate) fn relative(from_dir: &str, to: &str) -> String {
    let from: Vec<&str> = from_dir.split('/').filter(|s| !s.is_empty()).collect();
    let to_parts: Vec<&str> = to.split('/').filter(|s| !s.is_empty()).collect();
    let common = from.iter().zip(&to_parts).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; from.len() - common];
    out.extend(&to_parts[common..]);
    if out.is_empty() { ".".to_owned() } else { out.join("/") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(dest: &str) -> String {
        match classify(dest) {
            Class::Path(l) => format!("{} #{:?} {}", l.path, l.fragment.as_deref(), l.suffix),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn classification() {
        assert_eq!(class("https://x.org/a.md"), "External");
        assert_eq!(class("mailto:me@x.org"), "External");
        assert_eq!(class("//cdn.example/x.js"), "External");
        assert_eq!(class("{{< ref \"x.md\" >}}"), "External");
        assert_eq!(class("file:///home/me/a.md"), "AbsolutePath");
        assert_eq!(class("C:\\docs\\a.md"), "AbsolutePath");
        assert_eq!(class("xref:System.String"), "Xref(\"System.String\")");
    }

    #[test]
    fn paths() {
        assert_eq!(class("b.md#Setup"), "b.md #Some(\"Setup\") #Setup");
        assert_eq!(class("#x"), " #Some(\"x\") #x");
        assert_eq!(class("./sub/../c%20d.md?raw=1"), "./sub/../c d.md #None ?raw=1");
        assert_eq!(class("../x.md#caf%C3%A9"), "../x.md #Some(\"café\") #caf%C3%A9");
        assert_eq!(class("a%zz%ff.md"), "a%zz%ff.md #None ");
        let Class::Path(link) = classify("../guide/Intro.MD?x") else { panic!() };
        assert_eq!((link.name(), link.has_extension()), ("Intro.MD", true));
        let Class::Path(link) = classify("/cpp/build/v1.2/") else { panic!() };
        assert_eq!((link.name(), link.has_extension(), link.trailing_slash), ("v1.2", false, true));
    }

    #[test]
    fn normalizing() {
        assert_eq!(normalize("docs", "../x/./y.md").as_deref(), Some("x/y.md"));
        assert_eq!(normalize("", "../x.md"), None);
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative("docs/a", "docs/b/c.md"), "../b/c.md");
        assert_eq!(relative("", "x.md"), "x.md");
        assert_eq!(relative("docs", "docs"), ".");
        assert_eq!(encode_path("a b(1).md"), "a%20b%281%29.md");
    }
}
