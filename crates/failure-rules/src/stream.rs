//! `normalize`: one message per input line to one signature and id per output line,
//! in input order, with or without template mining.
//!
//! Memory is bounded by the distinct signatures (each id is computed once and
//! cached). Mining must see every line before it prints the first: from a file it
//! reads the input twice ([`normalize_rewindable`]); from a pipe each line costs the
//! 4 bytes of its signature's index.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, Seek, SeekFrom, Write};

use crate::header::{self, HeaderMode, Kind, Learner};
use crate::mine::mine;
use crate::signature::{Parts, Signer, rule_id, split_type};

/// Output format of [`normalize_stream`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// `{"line": N, "signature": "...", "id": "rule_..."}` per line.
    Jsonl,
    /// `N<TAB>id<TAB>signature` per line.
    Tsv,
}

/// Options of [`normalize_stream`].
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// Mine templates across all lines (reads all input first).
    pub mine: bool,
    /// The error type of every line; without it a leading `SomeError:` is the type.
    pub error_type: Option<String>,
    /// How the header of a line (time, level, host, component) is found; only the
    /// message after it is normalized.
    pub header: HeaderMode,
    /// Flush the output after every line (stateless only: mining prints at the end).
    pub line_buffered: bool,
}

/// Counts of a [`normalize_stream`] run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Lines read.
    pub lines: u64,
    /// Distinct signatures (templates, with mining).
    pub signatures: usize,
}

/// Normalizes every line of `input` and writes one result line per input line to
/// `output`. Invalid UTF-8 is replaced (U+FFFD) rather than refused.
pub fn normalize_stream(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    format: LineFormat,
    options: &StreamOptions,
) -> std::io::Result<StreamStats> {
    if options.mine {
        mined(input, output, format, options)
    } else {
        stateless(input, output, format, options)
    }
}

/// Like [`normalize_stream`], for input that can be read twice (a file): with
/// mining, the first pass collects the distinct signatures and the second prints, so
/// memory is bounded by the distinct signatures alone, not by the number of lines.
pub fn normalize_rewindable<R: BufRead + Seek>(
    input: &mut R,
    output: &mut dyn Write,
    format: LineFormat,
    options: &StreamOptions,
) -> std::io::Result<StreamStats> {
    if !options.mine {
        return stateless(input, output, format, options);
    }
    let start = input.stream_position()?;
    let mut signer = Signer::default();
    let mut seen: HashSet<Box<str>, FastHash> = HashSet::default();
    let mut set: BTreeSet<Parts> = BTreeSet::new();
    let mut raw = Vec::new();
    let mut sig = String::new();
    let (headers, first) = learn_headers(input, options)?;
    let mut first = first.into_iter();
    while let Some(line) = next_line(&mut first, input, &mut raw)? {
        let ty = stateless_signature(&mut signer, &line, options, &headers, &mut sig);
        if !seen.contains(sig.as_str()) {
            let body = sig[if ty.is_empty() { 0 } else { ty.len() + 2 }..].to_owned();
            set.insert(Parts { ty: ty.to_owned(), body, frames: String::new() });
            seen.insert(sig.as_str().into());
        }
    }
    drop(seen);
    let templates = mine(&set);
    // Stateless signature → (template, id), each rendered once.
    let mut outputs: Vec<(String, String)> = Vec::new();
    let mut rendered: HashMap<String, usize> = HashMap::new();
    let mut by_signature: HashMap<Box<str>, usize, FastHash> = HashMap::default();
    for parts in &set {
        let sig = templates[parts].render();
        let next = outputs.len();
        let i = *rendered.entry(sig.clone()).or_insert_with(|| {
            let id = rule_id(&sig);
            outputs.push((sig, id));
            next
        });
        by_signature.insert(parts.render().into_boxed_str(), i);
    }
    drop(templates);
    drop(set);
    drop(rendered);
    input.seek(SeekFrom::Start(start))?;
    let mut out_line = Vec::new();
    let mut n = 0u64;
    while let Some(line) = read_line(input, &mut raw)? {
        n += 1;
        stateless_signature(&mut signer, &line, options, &headers, &mut sig);
        let i = by_signature.get(sig.as_str()).copied().ok_or_else(|| {
            std::io::Error::other(format!("line {n} changed while it was read: {sig}"))
        })?;
        let (template, id) = &outputs[i];
        write_result(output, &mut out_line, format, n, template, id)?;
    }
    output.flush()?;
    Ok(StreamStats { lines: n, signatures: outputs.len() })
}

/// Where the message of a line starts: by the options' header mode, or by the
/// header shape learnt from the first lines of the stream.
#[derive(Debug)]
struct Headers<'a> {
    mode: &'a HeaderMode,
    learnt: Option<Vec<Kind>>,
}

impl<'a> Headers<'a> {
    fn stateless(options: &'a StreamOptions) -> Headers<'a> {
        Headers { mode: &options.header, learnt: None }
    }

    fn message<'l>(&self, line: &'l str) -> &'l str {
        let start = match (&self.learnt, self.mode) {
            (Some(shape), HeaderMode::Auto) => header::learnt_start(line, shape),
            _ => header::message_start(line, self.mode),
        };
        &line[start..]
    }
}

/// The signature of one line without mining, into `sig`; returns the type.
fn stateless_signature<'a>(
    signer: &mut Signer,
    line: &'a str,
    options: &'a StreamOptions,
    headers: &Headers<'_>,
    sig: &mut String,
) -> &'a str {
    let line = headers.message(line);
    let (ty, rest) = match options.error_type.as_deref() {
        Some(ty) => (ty.trim(), line),
        None => split_type(line).map_or(("", line), |(ty, rest)| (ty.trim(), rest)),
    };
    sig.clear();
    if !ty.is_empty() {
        sig.push_str(ty);
        sig.push_str(": ");
    }
    sig.push_str(signer.normalize_line(rest));
    ty
}

/// Reads the first lines of the stream and learns its header shape from them
/// (with `--header auto`); returns the lines read, to be normalized first.
fn learn_headers<'o>(
    input: &mut dyn BufRead,
    options: &'o StreamOptions,
) -> std::io::Result<(Headers<'o>, Vec<String>)> {
    let mut headers = Headers::stateless(options);
    let mut first = Vec::new();
    if !matches!(options.header, HeaderMode::Auto) {
        return Ok((headers, first));
    }
    let mut raw = Vec::new();
    let mut learner = Learner::default();
    while first.len() < header::SAMPLE_LINES {
        let Some(line) = read_line(input, &mut raw)? else { break };
        learner.sample(&line);
        first.push(line.into_owned());
    }
    headers.learnt = learner.learnt();
    Ok((headers, first))
}

/// The next line: one of the lines read ahead, then one from `input`.
fn next_line<'a>(
    ahead: &mut std::vec::IntoIter<String>,
    input: &mut dyn BufRead,
    raw: &'a mut Vec<u8>,
) -> std::io::Result<Option<std::borrow::Cow<'a, str>>> {
    match ahead.next() {
        Some(line) => Ok(Some(std::borrow::Cow::Owned(line))),
        None => read_line(input, raw),
    }
}

fn read_line<'a>(
    input: &mut dyn BufRead,
    raw: &'a mut Vec<u8>,
) -> std::io::Result<Option<std::borrow::Cow<'a, str>>> {
    raw.clear();
    if input.read_until(b'\n', raw)? == 0 {
        return Ok(None);
    }
    if raw.last() == Some(&b'\n') {
        raw.pop();
        if raw.last() == Some(&b'\r') {
            raw.pop();
        }
    }
    // Valid UTF-8 is the common case and `from_utf8` checks it fastest.
    Ok(Some(match std::str::from_utf8(raw) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(raw),
    }))
}

fn stateless(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    format: LineFormat,
    options: &StreamOptions,
) -> std::io::Result<StreamStats> {
    let mut signer = Signer::default();
    // Signature → what follows the line number in its result lines (id included).
    let mut tails: HashMap<Box<str>, Box<[u8]>, FastHash> = HashMap::default();
    let mut sig = String::new();
    // Result lines not written yet: written in blocks, and always before a read,
    // which may wait for input (`tail -f | failure-rules normalize`).
    let mut pending = Vec::with_capacity(OUT_BLOCK + 1024);
    let mut n = 0u64;
    let mut number = LineNumber::new();
    let headers = Headers::stateless(options);
    for_each_line(input, &mut |event| {
        let line = match event {
            Event::Line(line) => line,
            Event::Read => return write_pending(output, &mut pending),
        };
        n += 1;
        number.increment();
        stateless_signature(&mut signer, line, options, &headers, &mut sig);
        let tail = match tails.get(sig.as_str()) {
            Some(tail) => tail,
            None => {
                let mut tail = Vec::new();
                result_tail(&mut tail, format, &sig, &rule_id(&sig))?;
                tails.entry(sig.as_str().into()).or_insert(tail.into_boxed_slice())
            }
        };
        push_numbered(&mut pending, format, number.digits(), tail);
        if options.line_buffered {
            write_pending(output, &mut pending)?;
            output.flush()?;
        } else if pending.len() >= OUT_BLOCK {
            write_pending(output, &mut pending)?;
        }
        Ok(())
    })?;
    write_pending(output, &mut pending)?;
    output.flush()?;
    Ok(StreamStats { lines: n, signatures: tails.len() })
}

/// Bytes of result lines gathered before they are written: one write per block
/// instead of one per line through the layers of the output. As large as the
/// buffer of `tidy_io::cli::stdout`, which then passes a block on without a copy.
const OUT_BLOCK: usize = 1 << 16;

fn write_pending(output: &mut dyn Write, pending: &mut Vec<u8>) -> std::io::Result<()> {
    if !pending.is_empty() {
        output.write_all(pending)?;
        pending.clear();
    }
    Ok(())
}

/// What [`for_each_line`] reports.
enum Event<'a> {
    /// A line, without its `\n` (or `\r\n`).
    Line(&'a str),
    /// A read is next, and it may wait for input.
    Read,
}

/// Calls `each` with every line of `input`, as [`read_line`] reads them, and before
/// every read. The input is read in blocks: a line is borrowed from the reader's
/// buffer, and a block of valid UTF-8 is checked at once, not line by line; only a
/// line that two reads part is copied.
fn for_each_line(
    input: &mut dyn BufRead,
    each: &mut dyn FnMut(Event<'_>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    // The start of a line that the last block ended in the middle of.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        each(Event::Read)?;
        let block = match input.fill_buf() {
            Ok(block) => block,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let len = block.len();
        if len == 0 {
            break;
        }
        let mut start = 0;
        if !carry.is_empty() {
            let Some(nl) = memchr::memchr(b'\n', block) else {
                carry.extend_from_slice(block);
                input.consume(len);
                continue;
            };
            carry.extend_from_slice(&block[..=nl]);
            each(Event::Line(&line_text(&carry)))?;
            carry.clear();
            start = nl + 1;
        }
        let end = memchr::memrchr(b'\n', &block[start..]).map_or(start, |p| start + p + 1);
        let complete = &block[start..end];
        match std::str::from_utf8(complete) {
            Ok(text) => {
                let mut at = 0;
                for nl in memchr::memchr_iter(b'\n', complete) {
                    let line = &text[at..nl];
                    // One `\r` before the `\n` goes too, as `read_line` takes it.
                    each(Event::Line(line.strip_suffix('\r').unwrap_or(line)))?;
                    at = nl + 1;
                }
            }
            Err(_) => {
                for raw in complete.split_inclusive(|&c| c == b'\n') {
                    each(Event::Line(&line_text(raw)))?;
                }
            }
        }
        carry.extend_from_slice(&block[end..]);
        input.consume(len);
    }
    if !carry.is_empty() {
        each(Event::Line(&line_text(&carry)))?;
    }
    Ok(())
}

/// One line as [`read_line`] makes it of the bytes it read (`\n` included, if any).
fn line_text(raw: &[u8]) -> std::borrow::Cow<'_, str> {
    let mut raw = raw;
    if let Some(line) = raw.strip_suffix(b"\n") {
        raw = line.strip_suffix(b"\r").unwrap_or(line);
    }
    String::from_utf8_lossy(raw)
}

fn mined(
    input: &mut dyn BufRead,
    output: &mut dyn Write,
    format: LineFormat,
    options: &StreamOptions,
) -> std::io::Result<StreamStats> {
    let mut signer = Signer::default();
    let mut index: HashMap<Box<str>, u32, FastHash> = HashMap::default();
    let mut distinct: Vec<Parts> = Vec::new();
    let mut lines: Vec<u32> = Vec::new();
    let mut raw = Vec::new();
    let mut sig = String::new();
    let (headers, first) = learn_headers(input, options)?;
    let mut first = first.into_iter();
    while let Some(line) = next_line(&mut first, input, &mut raw)? {
        let ty = stateless_signature(&mut signer, &line, options, &headers, &mut sig);
        let i = match index.get(sig.as_str()) {
            Some(&i) => i,
            None => {
                let i = distinct.len() as u32;
                let body = sig[if ty.is_empty() { 0 } else { ty.len() + 2 }..].to_owned();
                distinct.push(Parts { ty: ty.to_owned(), body, frames: String::new() });
                index.insert(sig.as_str().into(), i);
                i
            }
        };
        lines.push(i);
    }
    drop(index);
    let set: BTreeSet<Parts> = distinct.iter().cloned().collect();
    let templates = mine(&set);
    drop(set);
    // Render each distinct template and its id once.
    let mut rendered: HashMap<String, usize> = HashMap::new();
    let mut outputs: Vec<(String, String)> = Vec::new();
    let per_distinct: Vec<usize> = distinct
        .iter()
        .map(|p| {
            let sig = templates[p].render();
            let next = outputs.len();
            *rendered.entry(sig.clone()).or_insert_with(|| {
                let id = rule_id(&sig);
                outputs.push((sig, id));
                next
            })
        })
        .collect();
    let mut out_line = Vec::new();
    for (n, &i) in lines.iter().enumerate() {
        let (sig, id) = &outputs[per_distinct[i as usize]];
        write_result(output, &mut out_line, format, n as u64 + 1, sig, id)?;
    }
    output.flush()?;
    Ok(StreamStats { lines: lines.len() as u64, signatures: outputs.len() })
}

/// Whether JSON needs escapes for `bytes`: a control byte, `"` or `\`. Eight bytes
/// at a time, since it runs over every signature printed.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Bytes below 0x20 (bytes of 0x80 and above are masked out by `!x`).
        let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
        if control
            | has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            != 0
        {
            return true;
        }
    }
    chunks.remainder().iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// FxHash (rustc's hasher): the id cache is keyed by signatures we made ourselves,
/// so no flooding defence is needed and SipHash's cost is not worth paying per line.
#[derive(Default, Clone, Copy)]
struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FxHasher;
    fn build_hasher(&self) -> FxHasher {
        FxHasher(0)
    }
}

struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Writes one result line, assembled in `line` (cleared first; reused across lines,
/// so that no line costs an allocation) and written at once.
fn write_result(
    output: &mut dyn Write,
    line: &mut Vec<u8>,
    format: LineFormat,
    n: u64,
    sig: &str,
    id: &str,
) -> std::io::Result<()> {
    let mut tail = Vec::with_capacity(sig.len() + id.len() + 32);
    result_tail(&mut tail, format, sig, id)?;
    line.clear();
    push_numbered(line, format, decimal(n, &mut [0; 20]), &tail);
    output.write_all(line)
}

/// What follows the line number in a result line: the same for every line of one
/// signature, so the stateless path renders it once per signature.
fn result_tail(tail: &mut Vec<u8>, format: LineFormat, sig: &str, id: &str) -> std::io::Result<()> {
    match format {
        LineFormat::Jsonl => {
            tail.extend_from_slice(b",\"signature\":");
            if !needs_escape(sig.as_bytes()) {
                tail.push(b'"');
                tail.extend_from_slice(sig.as_bytes());
                tail.push(b'"');
            } else {
                serde_json::to_writer(&mut *tail, sig)?;
            }
            tail.extend_from_slice(b",\"id\":\"");
            tail.extend_from_slice(id.as_bytes());
            tail.extend_from_slice(b"\"}\n");
        }
        LineFormat::Tsv => {
            // Tabs and newlines cannot occur in a signature: the normalizer splits on them.
            tail.push(b'\t');
            tail.extend_from_slice(id.as_bytes());
            tail.push(b'\t');
            tail.extend_from_slice(sig.as_bytes());
            tail.push(b'\n');
        }
    }
    Ok(())
}

/// Appends the result line of the line numbered `number` (its decimal digits) whose
/// [`result_tail`] is `tail` to `line`.
fn push_numbered(line: &mut Vec<u8>, format: LineFormat, number: &[u8], tail: &[u8]) {
    if format == LineFormat::Jsonl {
        line.extend_from_slice(b"{\"line\":");
    }
    line.extend_from_slice(number);
    line.extend_from_slice(tail);
}

/// The decimal digits of `n`, at the end of `digits`.
fn decimal(n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    let mut v = n;
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &digits[i..]
}

/// A line number kept in decimal: counting up changes the last digits only, so a
/// result line costs no division per digit.
struct LineNumber {
    digits: [u8; 20],
    /// Where the number starts in `digits`.
    start: usize,
}

impl LineNumber {
    /// Zero.
    fn new() -> LineNumber {
        LineNumber { digits: [b'0'; 20], start: 19 }
    }

    fn increment(&mut self) {
        let mut i = self.digits.len();
        loop {
            i -= 1;
            if self.digits[i] == b'9' {
                self.digits[i] = b'0';
            } else {
                self.digits[i] += 1;
                break;
            }
        }
        self.start = self.start.min(i);
    }

    fn digits(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::{Event, LineNumber, decimal, for_each_line, needs_escape, read_line};
    use proptest::prelude::*;

    proptest! {
        /// Lines read in blocks (of any size, so that lines straddle reads) are the
        /// lines `read_line` reads one by one, also around `\r`, invalid UTF-8 and a
        /// last line without `\n`.
        #[test]
        fn block_lines_are_read_line_lines(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'a', b' ', b'\n', b'\r', 0xc3, 0xa9, 0xff]),
                0..200,
            ),
            capacity in 1usize..16,
        ) {
            let mut want = Vec::new();
            let mut input = &bytes[..];
            let mut raw = Vec::new();
            while let Some(line) = read_line(&mut input, &mut raw).expect("in memory") {
                want.push(line.into_owned());
            }
            let mut got = Vec::new();
            let mut reads = 0;
            let mut input = std::io::BufReader::with_capacity(capacity, &bytes[..]);
            for_each_line(&mut input, &mut |event| {
                match event {
                    Event::Line(line) => got.push(line.to_owned()),
                    Event::Read => reads += 1,
                }
                Ok(())
            })
            .expect("in memory");
            prop_assert_eq!(got, want);
            prop_assert!(reads > bytes.len() / capacity);
        }
    }

    #[test]
    fn line_numbers_count_in_decimal() {
        let mut number = LineNumber::new();
        for n in 1..=100_001u64 {
            number.increment();
            assert_eq!(number.digits(), decimal(n, &mut [0; 20]), "{n}");
        }
        assert_eq!(decimal(u64::MAX, &mut [0; 20]), u64::MAX.to_string().as_bytes());
    }

    #[test]
    fn escape_check_matches_the_byte_rule() {
        let samples: [&[u8]; 8] = [
            b"plain signature with <NUM> and <*> masks",
            b"a \"quoted\" word in a long enough line",
            b"back\\slash somewhere in the middle of it",
            b"tab\there and more text after the tab",
            b"\x7f delete is fine, \xc3\xa9 too, and long",
            b"short\"",
            b"",
            b"eight!!!\x1f",
        ];
        for s in samples {
            let slow = s.iter().any(|&c| c < 0x20 || c == b'"' || c == b'\\');
            assert_eq!(needs_escape(s), slow, "{s:?}");
        }
    }
}
