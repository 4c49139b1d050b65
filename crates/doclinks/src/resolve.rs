//! Turning a destination as written into a path under the root: schemes,
//! percent-decoding, `?query`, `#fragment`, `..` and root-absolute links.

use std::borrow::Cow;

use crate::tree::parent;

/// What a destination is, before looking at the tree.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Dest<'a> {
    /// `http:`, `mailto:`, `//host/...`: counted, not checked.
    External,
    /// `file:///...` or `C:\...`: a path of one machine.
    AbsolutePath,
    /// A root-absolute link under a configured site prefix.
    Site,
    /// Escapes the root with `..`.
    OutsideRoot,
    /// A path in the tree (root-relative, normalised; empty is the root).
    Local(Local<'a>),
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Local<'a> {
    /// Root-relative path without `.`/`..`; the linking file itself for `#x`.
    pub(crate) path: String,
    /// The percent-decoded fragment, if any.
    pub(crate) fragment: Option<Cow<'a, str>>,
    /// Whether the path part was empty (`#x`).
    pub(crate) same_file: bool,
    /// Whether the path ended with `/`.
    pub(crate) trailing_slash: bool,
    pub(crate) root_absolute: bool,
    /// `?query#fragment` exactly as written, kept by file fixes.
    pub(crate) suffix: &'a str,
    /// The path part as written, for fixes that only change the fragment.
    pub(crate) path_as_written: &'a str,
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

/// Classifies and resolves `dest`, written in the file `from` (root-relative).
pub(crate) fn resolve<'a>(dest: &'a str, from: &str, site_prefixes: &[String]) -> Dest<'a> {
    let dest = dest.trim();
    let lower = dest.get(..7).map(str::to_ascii_lowercase);
    if lower.as_deref() == Some("file://") || is_drive_path(dest) || dest.starts_with("\\\\") {
        return Dest::AbsolutePath;
    }
    if has_scheme(dest) || dest.starts_with("//") {
        return Dest::External;
    }
    let suffix_at = dest.find(['?', '#']).unwrap_or(dest.len());
    let (path_part, suffix) = dest.split_at(suffix_at);
    let fragment = dest.find('#').map(|i| percent_decode(&dest[i + 1..]));
    let root_absolute = path_part.starts_with('/');
    if root_absolute
        && site_prefixes
            .iter()
            .any(|p| path_part.starts_with(p.as_str()) || path_part == p.trim_end_matches('/'))
    {
        return Dest::Site;
    }
    let decoded = percent_decode(path_part);
    let same_file = path_part.is_empty();
    let trailing_slash = decoded.ends_with('/');
    let path = if same_file {
        Some(from.to_owned())
    } else if root_absolute {
        normalize("", &decoded)
    } else {
        normalize(parent(from), &decoded)
    };
    match path {
        None => Dest::OutsideRoot,
        Some(path) => Dest::Local(Local {
            path,
            fragment,
            same_file,
            trailing_slash,
            root_absolute,
            suffix,
            path_as_written: path_part,
        }),
    }
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

    fn local(dest: &str, from: &str) -> String {
        match resolve(dest, from, &["/site/".to_owned()]) {
            Dest::Local(l) => format!("{} #{:?} {}", l.path, l.fragment.as_deref(), l.suffix),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn classification() {
        assert_eq!(local("https://x.org/a.md", "a.md"), "External");
        assert_eq!(local("mailto:me@x.org", "a.md"), "External");
        assert_eq!(local("//cdn.example/x.js", "a.md"), "External");
        assert_eq!(local("file:///home/me/a.md", "a.md"), "AbsolutePath");
        assert_eq!(local("C:\\docs\\a.md", "a.md"), "AbsolutePath");
        assert_eq!(local("/site/page", "a.md"), "Site");
        assert_eq!(local("../../x.md", "docs/a.md"), "OutsideRoot");
    }

    #[test]
    fn local_paths() {
        assert_eq!(local("b.md#Setup", "docs/a.md"), "docs/b.md #Some(\"Setup\") #Setup");
        assert_eq!(local("#x", "docs/a.md"), "docs/a.md #Some(\"x\") #x");
        assert_eq!(local("./sub/../c%20d.md?raw=1", "docs/a.md"), "docs/c d.md #None ?raw=1");
        assert_eq!(local("/guide/", "docs/a.md"), "guide #None ");
        assert_eq!(local("../x.md#caf%C3%A9", "docs/a.md"), "x.md #Some(\"café\") #caf%C3%A9");
        assert_eq!(local("a%zz%ff.md", "a.md"), "a%zz%ff.md #None ");
    }

    #[test]
    fn relative_paths() {
        assert_eq!(relative("docs/a", "docs/b/c.md"), "../b/c.md");
        assert_eq!(relative("", "x.md"), "x.md");
        assert_eq!(relative("docs", "docs"), ".");
        assert_eq!(encode_path("a b(1).md"), "a%20b%281%29.md");
    }
}
