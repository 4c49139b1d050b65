//! Signatures and rule ids: `Type: normalized message`, plus the in-app frames of a
//! traceback, hashed with the normalizer version into `rule_<sha256>`.

use sha2::{Digest, Sha256};

use crate::normalize::{NORMALIZER_VERSION, Scratch, is_placeholder, normalize_into};

/// A signature cut into the parts template mining treats differently: the type and
/// the frames never vary, the message tokens may.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Parts {
    /// `ValueError` (without the colon), or empty for a bare log line.
    pub(crate) ty: String,
    /// The normalized message.
    pub(crate) body: String,
    /// `mod:func > mod:func`, or empty.
    pub(crate) frames: String,
}

impl Parts {
    pub(crate) fn render(&self) -> String {
        let mut s = String::with_capacity(self.ty.len() + self.body.len() + self.frames.len() + 5);
        if !self.ty.is_empty() {
            s.push_str(&self.ty);
            s.push_str(": ");
        }
        s.push_str(&self.body);
        if !self.frames.is_empty() {
            s.push_str(" @ ");
            s.push_str(&self.frames);
        }
        s
    }
}

/// Computes signatures, reusing its buffers between calls.
#[derive(Debug, Default)]
pub(crate) struct Signer {
    scratch: Scratch,
    out: String,
}

impl Signer {
    /// The parts of the signature of one error.
    pub(crate) fn parts(
        &mut self,
        error_type: &str,
        message: &str,
        traceback: Option<&str>,
    ) -> Parts {
        let ty = error_type.trim();
        let frames = traceback.map(in_app_frames).unwrap_or_default();
        // With a traceback, Sentry-style: the first message line only.
        let message = if traceback.is_some_and(|t| !t.trim().is_empty()) {
            message.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
        } else {
            message
        };
        normalize_into(message, &mut self.out, &mut self.scratch);
        Parts { ty: ty.to_owned(), body: self.out.clone(), frames }
    }

    /// The normalized body only, in the signer's buffer.
    pub(crate) fn normalize_line(&mut self, line: &str) -> &str {
        normalize_into(line, &mut self.out, &mut self.scratch);
        &self.out
    }
}

/// `ValueError: rest` → (`ValueError`, `rest`), when the first word is an exception type.
pub(crate) fn split_type(line: &str) -> Option<(&str, &str)> {
    // Most lines start with a printable ASCII byte, which no trimming removes.
    let line = if line.as_bytes().first().is_some_and(u8::is_ascii_graphic) {
        line
    } else {
        line.trim_start()
    };
    // The type is the first word, ending in `:`.
    let colon = match line.as_bytes().iter().position(|&c| c == b' ') {
        Some(space) if space > 0 && line.as_bytes()[space - 1] == b':' => space - 1,
        None if line.ends_with(':') => line.len() - 1,
        _ => return None,
    };
    let ty = &line[..colon];
    let looks_like_type = !ty.is_empty()
        && ty.as_bytes()[0].is_ascii_alphabetic()
        && ty.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
        && ["Error", "Exception", "Warning", "Exit", "Interrupt", "Fault", "Failure"]
            .iter()
            .any(|end| ty.len() > end.len() && ty.ends_with(end));
    looks_like_type.then(|| (ty, line.get(colon + 2..).unwrap_or("")))
}

/// The type and message a traceback ends (Python) or starts (Java, Rust, Go) with:
/// `KeyError: 'x'` after `Traceback (most recent call last):`; `Exception in thread
/// "main" java.lang.IllegalStateException: closed`; `thread 'main' panicked at
/// src/a.rs:3:5:` and the message on the next line (`panic` is the type); Go's
/// `panic: runtime error: …`. `None` when no line reads as an error.
pub fn error_of_traceback(traceback: &str) -> Option<(String, String)> {
    let lines: Vec<&str> =
        traceback.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    let first = lines.first()?.trim_start();
    if let Some(rest) = first.strip_prefix("panic: ") {
        return Some(("panic".into(), rest.to_owned()));
    }
    if let Some(rest) = first.strip_prefix("thread '")
        && let Some((_, after)) = rest.split_once("' panicked at ")
    {
        // Rust 1.73+: the location ends the line and the message follows; before, the
        // message was quoted on the line: `panicked at 'msg', src/a.rs:3:5`.
        let message = match after.strip_prefix('\'') {
            Some(quoted) => quoted.rsplit_once("', ").map_or(quoted, |(m, _)| m).to_owned(),
            None => lines.get(1).map_or(String::new(), |l| l.trim().to_owned()),
        };
        return Some(("panic".into(), message));
    }
    let java = first
        .strip_prefix("Exception in thread \"")
        .and_then(|r| r.split_once("\" "))
        .map_or(first, |(_, rest)| rest);
    if !first.starts_with("Traceback")
        && let Some((ty, message)) = split_type(java)
    {
        return Some((ty.to_owned(), message.to_owned()));
    }
    // Python: the last unindented line that reads as `Type: message`.
    lines
        .iter()
        .rev()
        .filter(|l| !l.starts_with([' ', '\t']))
        .find_map(|l| split_type(l))
        .map(|(ty, message)| (ty.to_owned(), message.to_owned()))
}

/// The signature of one error: `Type: normalized message` (and ` @ frames`).
pub fn signature(error_type: &str, message: &str, traceback: Option<&str>) -> String {
    Signer::default().parts(error_type, message, traceback).render()
}

/// The rule id of a signature: `rule_` and the SHA-256 of the normalizer version and
/// the signature's [`shape`], so that new normalization rules give new ids and
/// signatures that differ only in the kinds of their variables share one.
pub fn rule_id(signature: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(NORMALIZER_VERSION.as_bytes());
    hasher.update(b"\n");
    hasher.update(shape(signature).as_bytes());
    hex_id(&hasher.finalize())
}

/// The id of a signature under an older normalizer version, which hashed the
/// signature as printed: rules recorded then are found again by it.
pub(crate) fn legacy_rule_id(version: &str, signature: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(version.as_bytes());
    hasher.update(b"\n");
    hasher.update(signature.as_bytes());
    hex_id(&hasher.finalize())
}

fn hex_id(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = String::with_capacity(5 + 64);
    id.push_str("rule_");
    for &byte in digest {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 15)]));
    }
    id
}

/// The shape a rule id is computed over: the signature with every mask made `<*>`,
/// so that one slot holding `<IP>` in one line and `<HOST>` in another (or `<NUM>`
/// and `<HEX>`, `<TS>` and `<DUR>`) is one variable; an empty value made a variable
/// too (`()` and `(<HOST>)`, `key=` and `key=<*>`, `''` and `'<*>'`); masks joined
/// by punctuation inside a token made one (`<IP>:<NUM>`); and a run of tokens that
/// are nothing but variables made one `<*>` (`<HEX> <NUM>` and `<NUM>`), as is a run
/// of one identifier with a variable (`blk_<*> blk_<*>`). The frames
/// after ` @ ` stay as they are. `shape(shape(s)) == shape(s)`.
pub fn shape(signature: &str) -> String {
    let (body, frames) = match signature.split_once(" @ ") {
        Some((body, frames)) => (body, Some(frames)),
        None => (signature, None),
    };
    let mut out = String::with_capacity(signature.len());
    let mut token = String::new();
    // Whether the last token written was nothing but a variable.
    let mut last_variable = false;
    for word in body.split(' ').filter(|w| !w.is_empty()) {
        unify_token(word, &mut token);
        let variable = is_variable(&token);
        if variable && last_variable {
            // `(<*> <*>)` → `(<*>)`: one variable, with the punctuation before the
            // first and after the last.
            let start = out.rfind(' ').map_or(0, |p| p + 1);
            let lead_len = out[start..].find("<*>").unwrap_or(0);
            let trail = &token[token.rfind("<*>").map_or(token.len(), |p| p + 3)..];
            let trail = trail.to_owned();
            out.truncate(start + lead_len);
            out.push_str("<*>");
            out.push_str(&trail);
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token);
        last_variable = variable;
    }
    let mut out = collapse_lists(out);
    if let Some(frames) = frames {
        out.push_str(" @ ");
        out.push_str(frames);
    }
    out
}

/// The longest block of tokens that [`collapse_lists`] looks for repeats of.
const MAX_LIST_BLOCK: usize = 4;

/// A list of one kind of item, of any length, is one variable: a block of one to
/// [`MAX_LIST_BLOCK`] tokens holding a variable, repeated back to back, is kept
/// once (`blk_<*> blk_<*> blk_<*>` → `blk_<*>`; `node-<*> <*> <ok> node-<*> <*>
/// <ok>` → `node-<*> <*> <ok>`).
fn collapse_lists(shape: String) -> String {
    if !shape.contains("<*>") {
        return shape;
    }
    let mut tokens: Vec<&str> = shape.split(' ').collect();
    let mut changed = false;
    for k in 1..=MAX_LIST_BLOCK {
        let mut i = 0;
        while i + 2 * k <= tokens.len() {
            let block = &tokens[i..i + k];
            if block.iter().any(|t| t.contains("<*>")) && tokens[i + k..i + 2 * k] == *block {
                tokens.drain(i + k..i + 2 * k);
                changed = true;
            } else {
                i += 1;
            }
        }
    }
    if changed { tokens.join(" ") } else { shape }
}

/// One token of [`shape`]: masks to `<*>`, empty values to `<*>`, masks joined by
/// punctuation to one.
fn unify_token(word: &str, out: &mut String) {
    out.clear();
    let b = word.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<'
            && let Some(len) = word[i..].find('>')
            && is_placeholder(&word[i..=i + len])
        {
            push_variable(out);
            i += len + 1;
            continue;
        }
        let c = b[i];
        out.push(c as char);
        i += 1;
        // An empty value: `()`, `[]`, `{}`, `''`, `""`, or `key=` at the end.
        let next = b.get(i).copied();
        let empty = match c {
            b'(' => next == Some(b')'),
            b'[' => next == Some(b']'),
            b'{' => next == Some(b'}'),
            b'\'' | b'"' => next == Some(c) && (i < 2 || !b[i - 2].is_ascii_alphanumeric()),
            b'=' => next.is_none_or(|n| matches!(n, b',' | b';' | b')' | b']' | b'}')),
            _ => false,
        };
        if empty {
            push_variable(out);
        }
        // Non-ASCII bytes are copied whole, one char at a time.
        if c >= 0x80 {
            out.pop();
            let ch_len = word[i - 1..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&word[i - 1..i - 1 + ch_len]);
            i += ch_len - 1;
        }
    }
}

/// Appends `<*>` to a token, joining it with a `<*>` that only punctuation precedes.
fn push_variable(out: &mut String) {
    let trimmed = out.trim_end_matches(['.', ':', '-', '_', '/', ',', '#']);
    if trimmed.ends_with("<*>") {
        out.truncate(trimmed.len());
        return;
    }
    out.push_str("<*>");
}

/// Whether a token of a shape is nothing but variables and punctuation.
fn is_variable(token: &str) -> bool {
    let rest = token.replace("<*>", "");
    rest.len() < token.len() && !rest.bytes().any(|c| c.is_ascii_alphanumeric() || c >= 0x80)
}

/// Frames of library code are left out of a signature: they are the same for every
/// caller and change with library versions.
fn is_library_path(path: &str) -> bool {
    let p = path.replace('\\', "/");
    [
        "site-packages/",
        "dist-packages/",
        "/lib/python",
        "<frozen",
        "/usr/lib/",
        "/rustc/",
        "/.cargo/registry/",
        "/node_modules/",
    ]
    .iter()
    .any(|m| p.contains(m))
        || p.starts_with('<')
}

fn is_library_java(class: &str) -> bool {
    [
        "java.",
        "javax.",
        "sun.",
        "jdk.",
        "kotlin.",
        "scala.",
        "org.junit.",
        "org.springframework.",
        "org.apache.",
    ]
    .iter()
    .any(|m| class.starts_with(m))
}

/// Rust frames of the standard library and the panic machinery.
fn is_library_rust(path: &str) -> bool {
    ["std::", "core::", "alloc::", "test::", "rust_begin_unwind", "__rust", "<"]
        .iter()
        .any(|m| path.starts_with(m))
}

/// Go frames of the runtime and the standard library.
fn is_library_go(function: &str) -> bool {
    ["runtime.", "testing.", "net/", "net.", "sync.", "reflect.", "syscall.", "os.", "io."]
        .iter()
        .any(|m| function.starts_with(m))
}

/// The in-app frames of a Python, Java, Rust or Go traceback as `module:function`,
/// in the order the traceback lists them (Python: outermost first; Java, Rust, Go:
/// innermost first), without line numbers.
pub(crate) fn in_app_frames(traceback: &str) -> String {
    let mut frames: Vec<String> = Vec::new();
    let lines: Vec<&str> = traceback.lines().collect();
    for (k, raw) in lines.iter().enumerate() {
        let line = raw.trim();
        // The frames of the exception the signature names: Python's last traceback
        // of a chain, Java's outermost exception (not its causes).
        if line.starts_with("Traceback (most recent call last):") {
            frames.clear();
            continue;
        }
        if line.starts_with("Caused by:") || line.starts_with("Suppressed:") {
            break;
        }
        // Rust: `  12: app::store::load::h0123456789abcdef`.
        if let Some((n, path)) = line.split_once(": ")
            && !n.is_empty()
            && n.bytes().all(|c| c.is_ascii_digit())
            && path.contains("::")
            && !path.contains(' ')
        {
            let path = match path.rsplit_once("::h") {
                Some((head, hash))
                    if hash.len() == 16 && hash.bytes().all(|c| c.is_ascii_hexdigit()) =>
                {
                    head
                }
                _ => path,
            };
            if !is_library_rust(path)
                && let Some((module, func)) = path.rsplit_once("::")
            {
                frames.push(format!("{module}:{func}"));
            }
            continue;
        }
        // Go: `main.handle(0x0)` above a tab-indented `/srv/app/main.go:12 +0x1d`.
        if line.ends_with(')')
            && let Some(open) = line.rfind('(')
            && lines.get(k + 1).is_some_and(|next| next.starts_with('\t') && next.contains(".go:"))
        {
            // The arguments are the last parentheses: `main.(*Server).handle(0xc0)`.
            let function = &line[..open];
            if !is_library_go(function)
                && let Some((module, func)) = function.rsplit_once('.')
            {
                frames.push(format!("{module}:{func}"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("File \"") {
            // Python: File "/app/handlers.py", line 42, in get_user
            let Some(end) = rest.find('"') else { continue };
            let path = &rest[..end];
            let func = rest.rsplit_once(", in ").map(|(_, f)| f.trim()).unwrap_or("?");
            if is_library_path(path) {
                continue;
            }
            let file = path.rsplit(['/', '\\']).next().unwrap_or(path);
            let mut module = file.strip_suffix(".py").unwrap_or(file);
            if module == "__init__" {
                module = path.rsplit(['/', '\\']).nth(1).unwrap_or(module);
            }
            frames.push(format!("{module}:{func}"));
        } else if let Some(rest) = line.strip_prefix("at ") {
            // Java: at com.example.Service.load(Service.java:42)
            let Some(open) = rest.find('(') else { continue };
            let qualified = &rest[..open];
            if is_library_java(qualified) {
                continue;
            }
            if let Some((class, method)) = qualified.rsplit_once('.') {
                frames.push(format!("{class}:{method}"));
            }
        }
    }
    frames.join(" > ")
}

#[cfg(test)]
mod tests {
    use super::{rule_id, shape};

    #[test]
    fn shapes_unify_the_kinds_of_one_slot() {
        let same = [
            ("iar <HEX> dear <HEX>", "iar <NUM> dear <HEX>"),
            ("connection from <IP> () at <TS>", "connection from <IP> (<HOST>) at <TS>"),
            ("logname= uid=<*>", "logname=<*> uid=<*>"),
            ("softheader=<*> <HEX> <NUM>) x", "softheader=<*> <NUM>) x"),
            ("to <IP>:<NUM> now", "to <HOST> now"),
            ("value '' given", "value '<*>' given"),
            ("list (<NUM> <HEX>) end", "list (<NUM>) end"),
            ("delete blk_<*> blk_<*> blk_<*>", "delete blk_<*>"),
            (
                "sets n-<*> <ADDR> <ok> n-<*> <ADDR> <ok> n-<*> <ADDR> <ok>",
                "sets n-<*> <ADDR> <ok>",
            ),
        ];
        for (a, b) in same {
            assert_eq!(shape(a), shape(b), "{a} / {b}");
            assert_eq!(rule_id(a), rule_id(b));
        }
        assert_ne!(shape("session opened for <*>"), shape("session closed for <*>"));
        assert_eq!(shape("KeyError: 'x' @ a:b > c:d"), "KeyError: 'x' @ a:b > c:d");
        assert_eq!(shape("it's fine"), "it's fine");
        for s in ["a <IP> () b", "x= y=<NUM>", "é <NUM> ü"] {
            assert_eq!(shape(&shape(s)), shape(s));
        }
    }

    #[test]
    fn frames_of_rust_and_go() {
        let rust = "thread 'main' panicked at src/main.rs:10:5:\nboom\nstack backtrace:\n   0: rust_begin_unwind\n             at /rustc/x/library/std/src/panicking.rs:1\n   1: core::panicking::panic_fmt\n   2: app::store::load::h0123456789abcdef\n             at ./src/store.rs:3:5\n   3: app::main\n";
        assert_eq!(super::in_app_frames(rust), "app::store:load > app:main");
        let go = "panic: boom\n\ngoroutine 1 [running]:\nmain.(*Server).handle(0xc000010000)\n\t/srv/app/main.go:12 +0x1d\nruntime.goexit()\n\t/usr/lib/go/src/runtime/asm.s:1 +0x1\nmain.main()\n\t/srv/app/main.go:20 +0x25\n";
        assert_eq!(super::in_app_frames(go), "main.(*Server):handle > main:main");
    }
}
