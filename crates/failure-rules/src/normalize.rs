//! The normalizer: one error message in, its variable parts masked out.
//!
//! It is a single pass over the bytes of the message, not a regular expression per
//! mask: the message is cut into whitespace-separated chunks (a quoted string is one
//! chunk even when it holds spaces), each chunk is classified once by looking at its
//! bytes, and a second pass over the short token list joins the masks that span
//! several tokens (`Jan  2 15:04:05`, `30 ms`, `line 12`).
//!
//! # Mask order
//!
//! A chunk gets the first mask that applies, in this order (the order is part of
//! [`NORMALIZER_VERSION`]):
//!
//! 1. an existing placeholder such as `<NUM>` stays (normalizing twice changes nothing);
//! 2. an exception type (`ValueError`, `java.io.IOException`) stays as it is;
//! 3. quoted strings: the content is normalized; where the string is a value (after
//!    `=` or `:`) it becomes `'<*>'`, elsewhere its words stay, so `"GET"` and `"POST"`
//!    remain different;
//! 4. `<URL>` (`scheme://…`), 5. `<EMAIL>`, 6. `<UUID>`, 7. `<ADDR>` (`0x…`),
//! 8. `<MAC>`, 9. `<IP>` (IPv4 and IPv6, with port, also `/10.0.0.1:50010`),
//! 10. `<TS>` (ISO 8601/RFC 3339 dates and times, `2026/11/25`, Apache
//!     `25/Nov/2026:08:33:06`; epoch seconds and milliseconds are numbers, `<NUM>`,
//!     since a 10-digit integer is as often an id as a time),
//! 11. reverse-DNS names of three labels or more under `com.`, `org.`, `net.`,
//!     `io.`, `edu.`, `gov.` (a bundle, package or class) become `<*>`,
//! 12. `<PATH>` (Windows, UNC, POSIX, `~/`, `./`, relative paths and file names with
//!     an extension; a `:LINE` suffix is part of the path),
//! 13. `<HOST>` (dotted names with a digit or a well-known top-level domain),
//! 14. `<DUR>` and `<SIZE>` (`30ms`, `1.5GiB`), 15. `<NUM>` (integers, floats,
//!     signed, with exponent, `50%`), 16. `<HEX>` (hex ids and hashes of 8+
//!     characters holding a digit), 17. `name[1234]` → `name[<PID>]`,
//! 18. `key=value` keeps the key; a value of letters only stays (`user=root`,
//!     `tty=ssh`: it names a kind), any other value is `<*>` whatever its shape
//!     (`rhost=10.0.0.1` and `rhost=host.example.net` are one event; `pid=` and
//!     `line=` values of digits are `<PID>` and `<LINE>`),
//! 19. letters and one trailing digit stay (`eth0`, `sda1`, `IPV4`: a device, an
//!     interface, a protocol),
//! 20. identifiers holding a digit: each segment with a digit (and hex letters right
//!     after one) is masked and neighbouring masks join: `blk_-1608999687919862906` →
//!     `blk_<*>`, `core.12` → `core.<*>`, `user42` → `<*>`, `a_1|Step|2|onStep` →
//!     `a_<*>|Step|<*>|onStep`.
//!
//! The second pass then joins, in this order: weekday and month names, day and year
//! numbers, time zones and times around them into one `<TS>`; `<NUM>` followed by a
//! unit word into `<DUR>` or `<SIZE>`; `<NUM>` after `line` into `<LINE>` and after
//! `pid` into `<PID>`; the word after `user` (a user name, also one of digits)
//! becomes `<*>`; and finally adjacent equal masks (`<IP> <IP>`), also a comma-separated
//! list of them (`<IP>, <IP>`), into one.
//! An HTTP status code before a reason phrase (`429 Too Many Requests`,
//! `503 Server Error`, `429 error responses`) stays literal: there it names the event;
//! elsewhere (`status: 200 len: 1893`) it is a number like any other.
//!
//! A message is never reduced to masks alone: if no word survives, it is normalized
//! again without the value masks (quoted values, `key=value`, identifiers), and if
//! still no word survives the message is kept as it is. Only the first
//! [`MAX_MESSAGE_BYTES`] bytes of a message are read.

/// Version of the normalization rules. It is hashed into every rule id, so a change
/// of the rules yields new ids instead of silently regrouping old errors.
pub const NORMALIZER_VERSION: &str = "fr-norm-3";

/// Bytes of a message that are normalized; the rest is ignored, so a 10 MB message
/// costs no more than a short one.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// A quoted string longer than this is not treated as one chunk.
const MAX_QUOTED_BYTES: usize = 512;

/// The masks, as they appear in signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ph {
    Ts,
    Uuid,
    Addr,
    Url,
    Email,
    Ip,
    Mac,
    Host,
    Path,
    Line,
    Pid,
    Hex,
    Dur,
    Size,
    Num,
    Any,
}

impl Ph {
    pub(crate) fn text(self) -> &'static str {
        match self {
            Ph::Ts => "<TS>",
            Ph::Uuid => "<UUID>",
            Ph::Addr => "<ADDR>",
            Ph::Url => "<URL>",
            Ph::Email => "<EMAIL>",
            Ph::Ip => "<IP>",
            Ph::Mac => "<MAC>",
            Ph::Host => "<HOST>",
            Ph::Path => "<PATH>",
            Ph::Line => "<LINE>",
            Ph::Pid => "<PID>",
            Ph::Hex => "<HEX>",
            Ph::Dur => "<DUR>",
            Ph::Size => "<SIZE>",
            Ph::Num => "<NUM>",
            Ph::Any => "<*>",
        }
    }

    fn parse(s: &str) -> Option<Ph> {
        Some(match s {
            "<TS>" => Ph::Ts,
            "<UUID>" => Ph::Uuid,
            "<ADDR>" => Ph::Addr,
            "<URL>" => Ph::Url,
            "<EMAIL>" => Ph::Email,
            "<IP>" => Ph::Ip,
            "<MAC>" => Ph::Mac,
            "<HOST>" => Ph::Host,
            "<PATH>" => Ph::Path,
            "<LINE>" => Ph::Line,
            "<PID>" => Ph::Pid,
            "<HEX>" => Ph::Hex,
            "<DUR>" => Ph::Dur,
            "<SIZE>" => Ph::Size,
            "<NUM>" => Ph::Num,
            "<*>" => Ph::Any,
            _ => return None,
        })
    }
}

/// Whether `s` is one of the masks.
pub(crate) fn is_placeholder(s: &str) -> bool {
    Ph::parse(s).is_some()
}

/// What a literal token may become in the second pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hint {
    None,
    Month,
    Weekday,
    Zone,
    AmPm,
    /// A plain integer of at most four digits: a day or a year next to a month.
    Small,
    DurUnit,
    SizeUnit,
    LineWord,
    PidWord,
    Reason,
    /// `user`: the word after it is a user name.
    UserWord,
}

#[derive(Debug, Clone, Copy)]
enum Core {
    /// Text in the scratch buffer (which starts with the message itself).
    Text(u32, u32),
    Ph(Ph),
    /// Returned by classification only: the chunk's core, unchanged.
    Same,
}

impl Core {
    /// The end of a text core (0 for a mask).
    fn text_end(self) -> u32 {
        match self {
            Core::Text(_, b) => b,
            Core::Ph(_) | Core::Same => 0,
        }
    }
}

/// `orig` of a [`Tok`] that has none.
const NO_ORIG: (u32, u32) = (0, 0);

#[derive(Debug, Clone, Copy)]
struct Tok {
    /// Leading punctuation, in the scratch buffer.
    lead: (u32, u32),
    core: Core,
    trail: (u32, u32),
    hint: Hint,
    /// For a `<NUM>`: the original digits, in the scratch buffer, so that an HTTP
    /// status code can be put back.
    orig: (u32, u32),
}

/// Reusable buffers; one per thread of normalization.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    buf: String,
    toks: Vec<Tok>,
    inner: String,
    cache: ChunkCache,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    /// No value masks: quoted values, `key=value` and identifiers stay.
    Conservative,
}

/// Normalizes one message into `out` (cleared first).
pub(crate) fn normalize_into(message: &str, out: &mut String, scratch: &mut Scratch) {
    out.clear();
    let message = truncate(message, MAX_MESSAGE_BYTES);
    run(message, Mode::Full, out, scratch);
    if has_word(out) {
        return;
    }
    run(message, Mode::Conservative, out, scratch);
    if has_word(out) {
        return;
    }
    out.clear();
    for (i, word) in message.split_ascii_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Normalizes one message (see the module documentation for the rules).
pub fn normalize_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MAX_MESSAGE_BYTES));
    normalize_into(message, &mut out, &mut Scratch::default());
    out
}

pub(crate) fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Whether some letter survives outside the masks.
fn has_word(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'<'
            && let Some(end) = s[i..].find('>')
            && is_placeholder(&s[i..i + end + 1])
        {
            i += end + 1;
            continue;
        }
        if b[i].is_ascii_alphabetic() || b[i] >= 0x80 {
            return true;
        }
        i += 1;
    }
    false
}

fn run(message: &str, mode: Mode, out: &mut String, scratch: &mut Scratch) {
    out.clear();
    scratch.buf.clear();
    // Ranges into the message are ranges into the buffer: no copy per token.
    scratch.buf.push_str(message);
    scratch.toks.clear();
    let bytes = message.as_bytes();
    let mut i = 0;
    let mut value_pos = false;
    // The last token is plain text that the next plain token may join.
    let mut joinable = false;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let end = chunk_end(bytes, i);
        let chunk = &message[i..end];
        classify_chunk(chunk, &bytes[i..], i as u32, value_pos, mode, scratch);
        joinable = join_plain(&mut scratch.toks, bytes, joinable);
        value_pos = chunk.ends_with(':') || chunk.ends_with('=');
        i = end;
    }
    second_pass(scratch);
    render(scratch, out);
}

/// Joins the token just pushed to the one before it when both are plain text (a
/// word of the message with its punctuation, no hint) one space apart, so that a
/// run of plain words is one token: the second pass and [`render`] then see it
/// once. Nothing tells a run of plain tokens from one: the second pass changes
/// no plain token but the one after `user` (which therefore starts no run), and
/// rendering prints each as its bytes, one space between tokens. Returns whether
/// the last token may be joined by the next.
fn join_plain(toks: &mut Vec<Tok>, message: &[u8], joinable: bool) -> bool {
    let n = toks.len();
    let t = toks[n - 1];
    let plain = match t.core {
        Core::Text(a, b) => {
            a < b && t.lead.1 == a && t.trail.0 == b && (t.trail.1 as usize) <= message.len()
        }
        _ => false,
    } && t.hint == Hint::None;
    if !plain {
        return false;
    }
    if n < 2 {
        return true;
    }
    let prev = &mut toks[n - 2];
    if joinable && prev.trail.1 + 1 == t.lead.0 && message[prev.trail.1 as usize] == b' ' {
        if let Core::Text(a, _) = prev.core {
            prev.core = Core::Text(a, t.core.text_end());
        }
        prev.trail = t.trail;
        toks.pop();
        return true;
    }
    prev.hint != Hint::UserWord
}

/// End of the chunk starting at `start`: the next whitespace, except that a quoted
/// string at the start of the chunk (after brackets) or right after `=` runs to its
/// closing quote.
fn chunk_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < b.len() && matches!(b[i], b'(' | b'[' | b'{') {
        i += 1;
    }
    loop {
        if i < b.len() && matches!(b[i], b'"' | b'\'' | b'`') {
            if let Some(close) = closing_quote(b, i) {
                i = close + 1;
            } else {
                i += 1;
            }
        }
        loop {
            i = next_stop(b, i);
            if i == b.len() || b[i] != b'=' {
                break;
            }
            i += 1;
            if i - 1 > start
                && b[start..i - 1]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
                && i < b.len()
                && matches!(b[i], b'"' | b'\'')
            {
                break;
            }
        }
        if i < b.len() && matches!(b[i], b'"' | b'\'') {
            continue;
        }
        return i;
    }
}

/// The first byte from `i` on that is whitespace or `=` ([`STOP`]), or the end.
fn next_stop(b: &[u8], i: usize) -> usize {
    next_in(b, i, &STOP)
}

/// The first byte from `i` on that is in `set`, or the end; `set` holds no byte
/// but whitespace, other bytes below 0x21, and `=`. Eight bytes at a time: this
/// runs over every byte of every message.
pub(crate) fn next_in(b: &[u8], mut i: usize, set: &[bool; 256]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Bytes below 0x21 (whitespace among them) and `=` are flagged. A borrow can
        // flag a byte above a flagged one, never below: the lowest flag is exact.
        let low = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        let y = x ^ (ONES * u64::from(b'='));
        let flags = low | (y.wrapping_sub(ONES) & !y & HIGH);
        if flags == 0 {
            i += 8;
            continue;
        }
        let at = i + (flags.trailing_zeros() / 8) as usize;
        if set[b[at] as usize] {
            return at;
        }
        // A flagged byte not in the set (a control byte that is no whitespace).
        i = at + 1;
    }
    while i < b.len() && !set[b[i] as usize] {
        i += 1;
    }
    i
}

/// The closing quote for the quote at `open`: the same character followed by the end,
/// whitespace or punctuation, within [`MAX_QUOTED_BYTES`].
fn closing_quote(b: &[u8], open: usize) -> Option<usize> {
    let q = b[open];
    let limit = (open + MAX_QUOTED_BYTES).min(b.len());
    let mut j = open + 1;
    while j < limit {
        if b[j] == q {
            let next = b.get(j + 1).copied();
            match next {
                None => return Some(j),
                Some(c) if c.is_ascii_whitespace() || b",.;:)]}!?".contains(&c) => return Some(j),
                _ => {}
            }
        }
        j += 1;
    }
    None
}

fn push(buf: &mut String, s: &str) -> (u32, u32) {
    let start = buf.len() as u32;
    buf.push_str(s);
    (start, buf.len() as u32)
}

/// `rest` is the message from the chunk on (the chunk and what follows it), so that
/// its letters can be counted eight bytes at a time past the chunk's end.
fn classify_chunk(
    chunk: &str,
    rest: &[u8],
    base: u32,
    value_pos: bool,
    mode: Mode,
    scratch: &mut Scratch,
) {
    // The range of `chunk[a..b]` in the buffer.
    let at = |a: usize, b: usize| (base + a as u32, base + b as u32);
    let b = chunk.as_bytes();
    // Fast path, about half of all chunks: a plain word, maybe after opening
    // brackets, maybe with one `:` `,` `.` `;` `!` `?` or closing bracket after it.
    // No mask applies to it (the general path below keeps it as it is, brackets and
    // punctuation around it); only the second pass may join it.
    let open = if matches!(b[0], b'(' | b'[' | b'{') {
        b.iter().position(|c| !matches!(c, b'(' | b'[' | b'{')).unwrap_or(b.len())
    } else {
        0
    };
    let run_of_letters = leading_letters(&rest[open..]).min(b.len() - open);
    let end = open + run_of_letters;
    let letters = if run_of_letters == 0 {
        0
    } else if end == b.len()
        || (end + 1 == b.len()
            && matches!(b[end], b':' | b',' | b'.' | b';' | b'!' | b'?' | b')' | b']' | b'}'))
    {
        run_of_letters
    } else {
        0
    };
    if letters > 0 {
        let core = at(open, end);
        let trail = at(end, b.len());
        let hint = word_hint(&chunk[open..end]);
        scratch.toks.push(Tok {
            lead: at(0, open),
            core: Core::Text(core.0, core.1),
            trail,
            hint,
            orig: (0, 0),
        });
        return;
    }
    // Fast path, most of the other chunks: an unsigned integer, maybe with one of
    // `,` `;` `:` `.` `)` `]` after it. The general path below makes a `<NUM>` of it
    // (a possible day or year when short) and keeps its digits for a status code.
    if b[0].is_ascii_digit() {
        let digits = b.iter().position(|c| !c.is_ascii_digit()).unwrap_or(b.len());
        if digits == b.len()
            || (digits + 1 == b.len()
                && matches!(b[digits], b',' | b';' | b':' | b'.' | b')' | b']'))
        {
            let core = at(0, digits);
            scratch.toks.push(Tok {
                lead: (core.0, core.0),
                core: Core::Ph(Ph::Num),
                trail: at(digits, b.len()),
                hint: if digits <= 4 { Hint::Small } else { Hint::None },
                orig: core,
            });
            return;
        }
    }
    cached_general(chunk, base, value_pos, mode, scratch);
}

/// Chunks that take the general path are remembered with the token they gave, in
/// a table of [`CACHE_SLOTS`] slots (one per hash, the newest wins): the same host,
/// component, path or bracketed thread comes back line after line in a log, and a
/// hit costs a hash and a comparison instead of the classifiers. The token is a
/// function of the chunk's bytes, `value_pos` and the mode alone (the general path
/// reads nothing else), so a hit gives what classifying again would.
#[derive(Debug, Default)]
struct ChunkCache {
    /// Empty until [`CACHE_AFTER`] general chunks were classified: one message
    /// (`normalize_message`) does not pay for the table.
    slots: Vec<Slot>,
    misses: u32,
}

/// Slots of a [`ChunkCache`]: a power of two.
const CACHE_SLOTS: usize = 2048;

/// General chunks classified before the [`ChunkCache`] is made.
const CACHE_AFTER: u32 = 512;

/// Chunks longer than this are not cached: few repeat, and the key would be long.
const CACHE_MAX_CHUNK: usize = 64;

/// One remembered chunk: its bytes and context, and its token with each range told
/// apart as a range of the chunk, of the text the general path wrote to the buffer
/// (kept here), or a fixed range.
#[derive(Debug, Default)]
struct Slot {
    /// The chunk; empty for a slot not used yet (an empty chunk never comes).
    key: Vec<u8>,
    /// `value_pos` and the mode.
    context: u8,
    /// What the general path appended to the buffer.
    written: String,
    lead: Range,
    core: CachedCore,
    trail: Range,
    orig: Range,
    hint: Option<Hint>,
}

#[derive(Debug, Default, Clone, Copy)]
enum Range {
    #[default]
    Fixed0,
    /// Offsets into the chunk.
    Chunk(u32, u32),
    /// Offsets into the text written.
    Written(u32, u32),
    Fixed(u32, u32),
}

#[derive(Debug, Default, Clone, Copy)]
enum CachedCore {
    #[default]
    Same,
    Text(Range),
    Ph(Ph),
}

impl Range {
    /// `r`, of a token of the chunk at `base` of `len` bytes whose text written
    /// starts at `written`.
    fn of(r: (u32, u32), base: u32, len: u32, written: u32) -> Range {
        if r.0 >= base && r.1 <= base + len {
            Range::Chunk(r.0 - base, r.1 - base)
        } else if r.0 >= written {
            Range::Written(r.0 - written, r.1 - written)
        } else if r == (0, 0) {
            Range::Fixed0
        } else {
            Range::Fixed(r.0, r.1)
        }
    }

    fn at(self, base: u32, written: u32) -> (u32, u32) {
        match self {
            Range::Fixed0 => (0, 0),
            Range::Chunk(a, b) => (base + a, base + b),
            Range::Written(a, b) => (written + a, written + b),
            Range::Fixed(a, b) => (a, b),
        }
    }
}

fn chunk_hash(b: &[u8]) -> usize {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = b.len() as u64;
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w.try_into().expect("8 bytes"))).wrapping_mul(K);
    }
    let mut last = [0u8; 8];
    last[..words.remainder().len()].copy_from_slice(words.remainder());
    h = (h.rotate_left(5) ^ u64::from_le_bytes(last)).wrapping_mul(K);
    (h >> 40) as usize & (CACHE_SLOTS - 1)
}

/// The token [`classify_general`] makes of a chunk of one of the shapes that vary
/// from line to line, found by a look at its bytes: an integer with a unit (`85s`,
/// `4307ms`, `2GiB`), a decimal (`42.8`), an IPv4 address (`10.0.0.1`, `/10.0.0.1:50010`)
/// and a UUID, each maybe before closing punctuation. `None` for any other chunk
/// (then the general path decides). What the general path asks first (a quote, a
/// bracket, an exception type, a URL, a timestamp, a hex address) cannot hold for
/// these shapes, so the answer is the one it reaches.
fn varying_shape(b: &[u8], base: u32) -> Option<Tok> {
    // Trailing punctuation that the general path strips, without the bytes it may
    // keep (quotes and `=`) or keep for a bracket the core opens (none of these
    // shapes opens one).
    let mut e = b.len();
    while e > 0 && matches!(b[e - 1], b')' | b']' | b'}' | b',' | b';' | b':' | b'.' | b'!' | b'?')
    {
        e -= 1;
    }
    let core = &b[..e];
    let first = *core.first()?;
    let tok = |core: Core, orig: (u32, u32)| Tok {
        lead: (base, base),
        core,
        trail: (base + e as u32, base + b.len() as u32),
        hint: Hint::None,
        orig,
    };
    if first.is_ascii_digit() {
        let digits = core.iter().position(|c| !c.is_ascii_digit())?;
        let rest = &core[digits..];
        // `85s`, `4307ms`, `2GiB` (not `0x1f`).
        if rest[0].is_ascii_alphabetic()
            && rest.iter().all(u8::is_ascii_alphabetic)
            && !(first == b'0' && digits == 1 && matches!(rest[0], b'x' | b'X'))
        {
            return number_with_unit(core).map(|ph| tok(Core::Ph(ph), NO_ORIG));
        }
        // `42.8`
        if rest[0] == b'.' && rest.len() > 1 && rest[1..].iter().all(u8::is_ascii_digit) {
            return Some(tok(Core::Ph(Ph::Num), (base, base + e as u32)));
        }
    }
    // `10.0.0.1`, `/10.0.0.1`, `10.0.0.1:50010`, `/10.0.0.1:50010`.
    let ip = core.strip_prefix(b"/").unwrap_or(core);
    if ip.first().is_some_and(u8::is_ascii_digit) {
        return ipv4_and_port(ip).then(|| tok(Core::Ph(Ph::Ip), NO_ORIG));
    }
    if uuid_classes(core) == Some((true, true)) {
        return Some(tok(Core::Ph(Ph::Uuid), NO_ORIG));
    }
    None
}

/// [`classify_general`], through the scratch's [`ChunkCache`].
fn cached_general(chunk: &str, base: u32, value_pos: bool, mode: Mode, scratch: &mut Scratch) {
    let b = chunk.as_bytes();
    // Shapes that rarely repeat: not worth a slot, and cheap to class.
    if let Some(tok) = varying_shape(b, base) {
        scratch.toks.push(tok);
        return;
    }
    if b.len() > CACHE_MAX_CHUNK || scratch.cache.slots.is_empty() {
        if scratch.cache.slots.is_empty() {
            scratch.cache.misses += 1;
            if scratch.cache.misses >= CACHE_AFTER {
                scratch.cache.slots.resize_with(CACHE_SLOTS, Slot::default);
            }
        }
        classify_general(chunk, base, value_pos, mode, scratch);
        return;
    }
    let context = u8::from(value_pos) | if mode == Mode::Full { 2 } else { 0 };
    let slot = &mut scratch.cache.slots[chunk_hash(b)];
    if slot.context == context && slot.key == b {
        let written = scratch.buf.len() as u32;
        scratch.buf.push_str(&slot.written);
        let core = match slot.core {
            CachedCore::Same => Core::Same,
            CachedCore::Text(r) => {
                let (a, b) = r.at(base, written);
                Core::Text(a, b)
            }
            CachedCore::Ph(ph) => Core::Ph(ph),
        };
        scratch.toks.push(Tok {
            lead: slot.lead.at(base, written),
            core,
            trail: slot.trail.at(base, written),
            hint: slot.hint.unwrap_or(Hint::None),
            orig: slot.orig.at(base, written),
        });
        return;
    }
    let written = scratch.buf.len();
    classify_general(chunk, base, value_pos, mode, scratch);
    let t = *scratch.toks.last().expect("the general path pushes one token");
    let slot = &mut scratch.cache.slots[chunk_hash(b)];
    let (len, w) = (b.len() as u32, written as u32);
    slot.key.clear();
    slot.key.extend_from_slice(b);
    slot.context = context;
    slot.written.clear();
    slot.written.push_str(&scratch.buf[written..]);
    slot.lead = Range::of(t.lead, base, len, w);
    slot.core = match t.core {
        Core::Same => CachedCore::Same,
        Core::Text(a, b) => CachedCore::Text(Range::of((a, b), base, len, w)),
        Core::Ph(ph) => CachedCore::Ph(ph),
    };
    slot.trail = Range::of(t.trail, base, len, w);
    slot.orig = Range::of(t.orig, base, len, w);
    slot.hint = Some(t.hint);
}

/// How many ASCII letters `b` starts with: eight bytes at a time, since it runs
/// over every word of every message.
fn leading_letters(b: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
        // Each byte lower-cased and without its high bit, so that adding to it
        // carries into no other byte: its high bit is then set from `a` on, and
        // past `z`. A letter is in between, and ASCII.
        let low = (x | (ONES * 0x20)) & !HIGH;
        let from_a = low + ONES * (0x80 - u64::from(b'a'));
        let past_z = low + ONES * (0x80 - u64::from(b'z') - 1);
        let letters = from_a & !past_z & !x & HIGH;
        if letters != HIGH {
            return i + ((!letters & HIGH).trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i + b[i..].iter().take_while(|c| c.is_ascii_alphabetic()).count()
}

/// [`classify_chunk`] without its fast paths (which must give what this gives).
fn classify_general(chunk: &str, base: u32, value_pos: bool, mode: Mode, scratch: &mut Scratch) {
    let at = |a: usize, b: usize| (base + a as u32, base + b as u32);
    let b = chunk.as_bytes();
    // One pass over the bytes; the core's shape is this minus the stripped punctuation.
    let full = shape(b);
    // Leading brackets.
    let mut s = 0;
    while s < b.len() && matches!(b[s], b'(' | b'[' | b'{') {
        s += 1;
    }
    // A quoted string.
    if s < b.len()
        && matches!(b[s], b'"' | b'\'' | b'`')
        && let Some(close) = closing_quote(b, s)
        && close < b.len()
        && (close + 1 == b.len() || !b[close + 1].is_ascii_alphanumeric())
    {
        let content = &chunk[s + 1..close];
        let lead = at(0, s + 1);
        let core = quoted_core(content, value_pos, mode, scratch);
        let trail = at(close, b.len());
        scratch.toks.push(Tok { lead, core, trail, hint: Hint::None, orig: (0, 0) });
        return;
    }
    // `[::1]:8080`: the bracket belongs to the address.
    if b.first() == Some(&b'[') && b.len() > 4 && chunk.contains("]:") {
        let core = chunk.trim_end_matches([',', ';', '.', ')']);
        if is_ip(core.as_bytes(), &shape(core.as_bytes())) {
            let trail = at(core.len(), b.len());
            scratch.toks.push(Tok {
                lead: (0, 0),
                core: Core::Ph(Ph::Ip),
                trail,
                hint: Hint::None,
                orig: (0, 0),
            });
            return;
        }
    }
    // Trailing punctuation, not eating a placeholder's `>` or a path's `/`.
    let mut e = b.len();
    while e > s
        && matches!(
            b[e - 1],
            b')' | b']'
                | b'}'
                | b','
                | b';'
                | b':'
                | b'.'
                | b'!'
                | b'?'
                | b'"'
                | b'\''
                | b'`'
                | b'='
        )
    {
        if b[e - 1] == b']' && chunk[s..e - 1].contains('[') {
            break;
        }
        if b[e - 1] == b')' && chunk[s..e - 1].contains('(') {
            break;
        }
        if b[e - 1] == b'}' && chunk[s..e - 1].contains('{') {
            break;
        }
        // The closing quote of `key="value"`.
        if matches!(b[e - 1], b'"' | b'\'')
            && chunk[s..e - 1].contains(&format!("={}", b[e - 1] as char))
        {
            break;
        }
        e -= 1;
    }
    if s == e {
        let lead = at(0, b.len());
        scratch.toks.push(Tok {
            lead,
            core: Core::Text(lead.1, lead.1),
            trail: (0, 0),
            hint: Hint::None,
            orig: (0, 0),
        });
        return;
    }
    let core_str = &chunk[s..e];
    let lead = at(0, s);
    let mut sh = full;
    for &c in b[..s].iter().chain(&b[e..]) {
        sh.remove(c);
    }
    if sh.eq.is_some() {
        sh.eq = core_str.bytes().position(|c| c == b'=');
    }
    let (core, hint, keep_orig) = classify_shaped(core_str, sh, mode, scratch);
    let core = match core {
        Core::Same => {
            let r = at(s, e);
            Core::Text(r.0, r.1)
        }
        other => other,
    };
    let orig = if keep_orig { at(s, e) } else { NO_ORIG };
    let trail = at(e, b.len());
    scratch.toks.push(Tok { lead, core, trail, hint, orig });
}

fn quoted_core(content: &str, value_pos: bool, mode: Mode, scratch: &mut Scratch) -> Core {
    if value_pos && mode == Mode::Full {
        // A typed mask says more than `<*>` when the whole value has one.
        if !content.contains(' ')
            && let (Core::Ph(ph), _, _) = classify_core(content, mode, scratch)
        {
            let r = push(&mut scratch.buf, ph.text());
            return Core::Text(r.0, r.1);
        }
        let r = push(&mut scratch.buf, Ph::Any.text());
        return Core::Text(r.0, r.1);
    }
    // Normalize the content on its own; its words stay.
    let mut inner = std::mem::take(&mut scratch.inner);
    let mut sub = Scratch::default();
    inner.clear();
    run(content, mode, &mut inner, &mut sub);
    let r = push(&mut scratch.buf, &inner);
    scratch.inner = inner;
    Core::Text(r.0, r.1)
}

/// Facts about a chunk gathered in one pass over its bytes.
#[derive(Default, Clone, Copy)]
struct Shape {
    digits: usize,
    alpha: usize,
    hex_letters: usize,
    non_hex_alpha: usize,
    dots: usize,
    colons: usize,
    slashes: usize,
    backslashes: usize,
    dashes: usize,
    at: usize,
    eq: Option<usize>,
    other: usize,
    underscores: usize,
}

impl Shape {
    /// Takes one byte out of the counts (`eq` is left for the caller to redo).
    fn remove(&mut self, c: u8) {
        let field = match CLASS[c as usize] {
            0 => &mut self.digits,
            1 => {
                self.alpha -= 1;
                &mut self.hex_letters
            }
            2 => {
                self.alpha -= 1;
                &mut self.non_hex_alpha
            }
            3 => &mut self.dots,
            4 => &mut self.colons,
            5 => &mut self.slashes,
            6 => &mut self.backslashes,
            7 => &mut self.dashes,
            8 => &mut self.underscores,
            9 => &mut self.at,
            10 => return,
            _ => &mut self.other,
        };
        *field -= 1;
    }
}

/// ASCII whitespace (`u8::is_ascii_whitespace`), as a table for [`next_in`].
pub(crate) const WHITESPACE: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[0x0c] = true;
    t
};

/// Bytes that end a run in [`chunk_end`]: whitespace and `=`.
const STOP: [bool; 256] = {
    let mut t = WHITESPACE;
    t[b'=' as usize] = true;
    t
};

/// Byte classes for [`shape`]: one table lookup and one increment per byte.
const CLASS: [u8; 256] = {
    let mut t = [12u8; 256];
    let mut c = b'0';
    while c <= b'9' {
        t[c as usize] = 0;
        c += 1;
    }
    let mut c = b'a';
    while c <= b'z' {
        t[c as usize] = if c <= b'f' { 1 } else { 2 };
        t[(c - 32) as usize] = if c <= b'f' { 1 } else { 2 };
        c += 1;
    }
    t[b'.' as usize] = 3;
    t[b':' as usize] = 4;
    t[b'/' as usize] = 5;
    t[b'\\' as usize] = 6;
    t[b'-' as usize] = 7;
    t[b'_' as usize] = 8;
    t[b'@' as usize] = 9;
    t[b'=' as usize] = 10;
    t
};

fn shape(b: &[u8]) -> Shape {
    // Two tables, alternating, so that a run of one class is not one long chain of
    // dependent increments.
    // 16 slots and `& 15`: the index is provably in bounds, so no check per byte.
    let mut even = [0u32; 16];
    let mut odd = [0u32; 16];
    let mut pairs = b.chunks_exact(2);
    for pair in &mut pairs {
        even[(CLASS[pair[0] as usize] & 15) as usize] += 1;
        odd[(CLASS[pair[1] as usize] & 15) as usize] += 1;
    }
    for &c in pairs.remainder() {
        even[(CLASS[c as usize] & 15) as usize] += 1;
    }
    let c = |i: usize| (even[i] + odd[i]) as usize;
    Shape {
        digits: c(0),
        alpha: c(1) + c(2),
        hex_letters: c(1),
        non_hex_alpha: c(2),
        dots: c(3),
        colons: c(4),
        slashes: c(5),
        backslashes: c(6),
        dashes: c(7),
        underscores: c(8),
        at: c(9),
        eq: if c(10) > 0 { b.iter().position(|&x| x == b'=') } else { None },
        other: c(11) + c(12),
    }
}

fn text(scratch: &mut Scratch, s: &str) -> Core {
    let r = push(&mut scratch.buf, s);
    Core::Text(r.0, r.1)
}

fn classify_core(core: &str, mode: Mode, scratch: &mut Scratch) -> (Core, Hint, bool) {
    classify_shaped(core, shape(core.as_bytes()), mode, scratch)
}

fn classify_shaped(core: &str, sh: Shape, mode: Mode, scratch: &mut Scratch) -> (Core, Hint, bool) {
    let none = false;
    if core.starts_with('<')
        && let Some(ph) = Ph::parse(core)
    {
        return (Core::Ph(ph), Hint::None, none);
    }
    let b = core.as_bytes();
    if sh.digits == 0 {
        // Words: the common case, checked cheaply.
        if sh.colons == 0 && sh.slashes == 0 && sh.backslashes == 0 && sh.at == 0 && sh.eq.is_none()
        {
            if sh.dots == 0 || is_exception_type(b) {
                return (Core::Same, word_hint(core), none);
            }
            if is_reverse_dns(b, &sh) {
                return (Core::Ph(Ph::Any), Hint::None, none);
            }
            if is_host(b, &sh) {
                return (Core::Ph(Ph::Host), Hint::None, none);
            }
            if is_file_name(b) {
                return (Core::Ph(Ph::Path), Hint::None, none);
            }
            return (Core::Same, Hint::None, none);
        }
    } else if sh.alpha == 0 && sh.other == 0 && sh.colons == 0 && sh.slashes == 0 && sh.eq.is_none()
    {
        // Digits with dots and dashes only.
        if sh.dots == 3 && is_ip(b, &sh) {
            return (Core::Ph(Ph::Ip), Hint::None, none);
        }
        if let Some(ph) = numeric(b, &sh) {
            let orig = true;
            let hint = if ph == Ph::Num && sh.dots == 0 && sh.dashes == 0 && b.len() <= 4 {
                Hint::Small
            } else if b.len() == 5 && matches!(b[0], b'+' | b'-') && sh.dots == 0 {
                Hint::Zone
            } else {
                Hint::None
            };
            return (Core::Ph(ph), hint, orig);
        }
    }
    if is_exception_type(b) {
        return (Core::Same, Hint::None, none);
    }
    if sh.colons > 0
        && sh.slashes >= 2
        && let Some(p) = core.find("://")
        && p > 0
        && p + 3 < b.len()
        && b[..p].iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return (Core::Ph(Ph::Url), Hint::None, none);
    }
    if sh.at == 1 && is_email(b) {
        return (Core::Ph(Ph::Email), Hint::None, none);
    }
    if sh.digits > 0 || sh.hex_letters > 0 {
        if is_uuid(b) {
            return (Core::Ph(Ph::Uuid), Hint::None, none);
        }
        if b.len() > 2
            && b[0] == b'0'
            && (b[1] == b'x' || b[1] == b'X')
            && b[2..].iter().all(u8::is_ascii_hexdigit)
        {
            return (Core::Ph(Ph::Addr), Hint::None, none);
        }
        if is_mac(b) {
            return (Core::Ph(Ph::Mac), Hint::None, none);
        }
        if (sh.dots == 3 || sh.colons >= 2) && is_ip(b, &sh) {
            return (Core::Ph(Ph::Ip), Hint::None, none);
        }
    }
    if sh.digits > 0 && is_timestamp(b) {
        return (Core::Ph(Ph::Ts), Hint::None, none);
    }
    if mode == Mode::Full && is_reverse_dns(b, &sh) {
        return (Core::Ph(Ph::Any), Hint::None, none);
    }
    if is_path(b, &sh) {
        return (Core::Ph(Ph::Path), Hint::None, none);
    }
    // host:port
    if sh.dots > 0
        && sh.colons == 1
        && sh.slashes == 0
        && let Some(colon) = core.find(':')
        && colon + 1 < b.len()
        && b[colon + 1..].iter().all(u8::is_ascii_digit)
        && is_host(&b[..colon], &shape(&b[..colon]))
    {
        return (Core::Ph(Ph::Host), Hint::None, none);
    }
    if sh.dots > 0 && sh.colons == 0 && sh.slashes == 0 && sh.eq.is_none() && sh.at == 0 {
        if is_host(b, &sh) {
            return (Core::Ph(Ph::Host), Hint::None, none);
        }
        if is_file_name(b) {
            return (Core::Ph(Ph::Path), Hint::None, none);
        }
    }
    if sh.digits > 0 {
        if let Some(ph) = number_with_unit(b) {
            let zone = b.len() == 5
                && matches!(b[0], b'+' | b'-')
                && b[1..].iter().all(u8::is_ascii_digit);
            return (Core::Ph(ph), if zone { Hint::Zone } else { Hint::None }, none);
        }
        if b.len() >= 8 && sh.non_hex_alpha == 0 && b.iter().all(u8::is_ascii_hexdigit) {
            return (Core::Ph(Ph::Hex), Hint::None, none);
        }
        if let Some(open) = core.find('[')
            && core.ends_with(']')
            && open > 0
            && b[open + 1..b.len() - 1].iter().all(u8::is_ascii_digit)
            && open + 2 < b.len()
        {
            let mut s = String::with_capacity(open + 7);
            s.push_str(&core[..open]);
            s.push_str("[<PID>]");
            return (text(scratch, &s), Hint::None, none);
        }
    }
    if let Some(eq) = sh.eq
        && eq > 0
        && mode == Mode::Full
    {
        return (key_value(core, eq, scratch), Hint::None, none);
    }
    // `eth0`, `ee0`, `IPV4`, `sda1`: letters and one digit name a device, an
    // interface or a protocol, and which one is part of the event.
    if sh.digits == 1
        && b.len() >= 3
        && b[b.len() - 1].is_ascii_digit()
        && b[..b.len() - 1].iter().all(u8::is_ascii_alphabetic)
    {
        return (Core::Same, Hint::None, none);
    }
    if sh.digits > 0 && mode == Mode::Full {
        return (identifier(core, scratch), Hint::None, none);
    }
    (Core::Same, word_hint(core), none)
}

/// The words that may join a mask in the second pass, by what they may become: one
/// list gives both the exact match ([`listed_hint`]) and the filter before it
/// ([`HINT_FIRST`]).
macro_rules! hint_words {
    ($($hint:ident: $($word:literal)|+;)*) => {
        const HINT_WORDS: &[&[u8]] = &[$($($word.as_bytes()),+),*];

        /// Bit `n` of entry `c`: some listed word is `n` bytes long and starts with
        /// byte `c`. Most words of a message are none of them, and one lookup says so.
        const HINT_FIRST: [u16; 256] = lengths_by_byte(HINT_WORDS, false);

        /// The same of the last byte: words that pass both filters are few.
        const HINT_LAST: [u16; 256] = lengths_by_byte(HINT_WORDS, true);

        // Out of line: the filter in `word_hint` (inlined) sends few words here.
        #[inline(never)]
        fn listed_hint(w: &str) -> Hint {
            match w {
                $($($word)|+ => Hint::$hint,)*
                _ => Hint::None,
            }
        }
    };
}

hint_words! {
    Month: "Jan" | "Feb" | "Mar" | "Apr" | "May" | "Jun" | "Jul" | "Aug" | "Sep" | "Sept" | "Oct" | "Nov" | "Dec" | "January" | "February" | "March" | "April" | "June" | "July" | "August" | "September" | "October" | "November" | "December";
    Weekday: "Mon" | "Tue" | "Wed" | "Thu" | "Fri" | "Sat" | "Sun" | "Monday" | "Tuesday" | "Wednesday" | "Thursday" | "Friday" | "Saturday" | "Sunday";
    Zone: "UTC" | "GMT" | "Z" | "CET" | "CEST" | "EST" | "EDT" | "PST" | "PDT";
    AmPm: "AM" | "PM" | "am" | "pm";
    DurUnit: "ms" | "s" | "sec" | "secs" | "second" | "seconds" | "min" | "mins" | "minute" | "minutes" | "h" | "hr" | "hrs" | "hour" | "hours" | "day" | "days" | "us" | "µs" | "ns" | "millis" | "milliseconds";
    SizeUnit: "B" | "KB" | "MB" | "GB" | "TB" | "KiB" | "MiB" | "GiB" | "TiB" | "kB" | "bytes" | "byte";
    LineWord: "line" | "Line" | "lineno";
    UserWord: "user" | "User" | "username";
    PidWord: "pid" | "PID" | "Pid";
    Reason: "Too" | "Client" | "Server" | "Not" | "Internal" | "Bad" | "Service" | "Gateway" | "Unauthorized" | "Forbidden" | "Conflict" | "Request" | "Payment" | "Precondition" | "Unprocessable" | "Error" | "error" | "errors";
}

#[inline]
fn word_hint(w: &str) -> Hint {
    let b = w.as_bytes();
    if let Some(&first) = b.first()
        && b.len() < 16
        && (HINT_FIRST[first as usize] & HINT_LAST[b[b.len() - 1] as usize]) >> b.len() & 1 == 1
    {
        return listed_hint(w);
    }
    if b.len() == 5 && matches!(b[0], b'+' | b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        return Hint::Zone;
    }
    Hint::None
}

/// `ValueError`, `sqlite3.OperationalError`, `java.io.IOException`: never masked.
fn is_exception_type(b: &[u8]) -> bool {
    const ENDS: [&[u8]; 7] =
        [b"Error", b"Exception", b"Warning", b"Exit", b"Interrupt", b"Fault", b"Failure"];
    /// The last bytes of the endings: tested first, since most tokens end in none.
    const LAST: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < ENDS.len() {
            t[ENDS[i][ENDS[i].len() - 1] as usize] = true;
            i += 1;
        }
        t
    };
    b.last().is_some_and(|&c| LAST[c as usize])
        && ENDS.iter().any(|end| b.len() > end.len() && b.ends_with(end))
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$'))
}

fn numeric(b: &[u8], sh: &Shape) -> Option<Ph> {
    // Epoch seconds and milliseconds stay `<NUM>`: a 10-digit integer is as often an id
    // as a time, and typing it apart would split one event in two.
    // 2026-11-25, 2005.06.03, 2005-06-03-15.42.50.675872
    if sh.dashes + sh.dots >= 2 && is_iso_date(b) && is_timestamp(b) {
        return Some(Ph::Ts);
    }
    let mut i = 0;
    if b[0] == b'-' || b[0] == b'+' {
        i = 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i == b.len() {
        return Some(Ph::Num);
    }
    // Versions like 1.2.3 and dotted or dashed digit groups: still a number.
    if b[i..].iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-')) {
        return Some(Ph::Num);
    }
    None
}

fn number_with_unit(b: &[u8]) -> Option<Ph> {
    let mut i = 0;
    if b[0] == b'-' || b[0] == b'+' {
        i = 1;
    }
    let start = i;
    while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b',') {
        i += 1;
    }
    if i == start || !b[start].is_ascii_digit() {
        return None;
    }
    let mut unit = &b[i..];
    // An exponent: 1e9, -12.5e-3.
    if let [b'e' | b'E', rest @ ..] = unit {
        let digits = rest.strip_prefix(b"-").or_else(|| rest.strip_prefix(b"+")).unwrap_or(rest);
        if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
            unit = &[];
        }
    }
    // Several units in a row: 2m30s, 1h5m.
    let is_dur = |u: &[u8]| {
        matches!(
            u,
            b"ms"
                | b"s"
                | b"sec"
                | b"secs"
                | b"m"
                | b"min"
                | b"mins"
                | b"h"
                | b"hr"
                | b"d"
                | b"us"
                | b"ns"
        )
    };
    let is_size = |u: &[u8]| {
        matches!(
            u,
            b"B" | b"b"
                | b"K"
                | b"k"
                | b"KB"
                | b"kB"
                | b"kb"
                | b"M"
                | b"MB"
                | b"mb"
                | b"G"
                | b"GB"
                | b"gb"
                | b"TB"
                | b"KiB"
                | b"MiB"
                | b"GiB"
                | b"TiB"
                | b"bytes"
        )
    };
    if unit == b"%" || unit.is_empty() {
        return Some(Ph::Num);
    }
    if is_size(unit) {
        return Some(Ph::Size);
    }
    // Alternating number and unit groups; more than six is no duration.
    let mut groups = 0;
    let mut any = false;
    let mut u = unit;
    while !u.is_empty() {
        let alpha_end = u.iter().position(|c| c.is_ascii_digit() || *c == b'.').unwrap_or(u.len());
        if alpha_end == 0 || !is_dur(&u[..alpha_end]) {
            return None;
        }
        any = true;
        u = &u[alpha_end..];
        let digit_end =
            u.iter().position(|c| !(c.is_ascii_digit() || *c == b'.')).unwrap_or(u.len());
        if digit_end == 0 && !u.is_empty() {
            return None;
        }
        u = &u[digit_end..];
        groups += 1;
        if groups > 6 {
            return None;
        }
    }
    any.then_some(Ph::Dur)
}

fn is_iso_date(b: &[u8]) -> bool {
    b.len() >= 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && matches!(b[4], b'-' | b'/' | b'.')
        && b[5].is_ascii_digit()
        && b[6].is_ascii_digit()
        && b[7] == b[4]
        && b.get(8).is_some_and(u8::is_ascii_digit)
}

/// Dates and times in one token: `2026-11-25`, `2026-11-25T08:33:06.123Z`,
/// `08:33:06,123`, `25/Nov/2026:08:33:06`, `11/25/2026`, `2026/11/25`.
fn is_timestamp(b: &[u8]) -> bool {
    if is_iso_date(b) {
        // The rest must look like a time or zone.
        return b[8..].iter().all(|c| {
            c.is_ascii_digit() || matches!(c, b'T' | b':' | b'.' | b',' | b'Z' | b'+' | b'-' | b'_')
        });
    }
    // dd/Mon/yyyy[:hh:mm:ss]
    if b.len() >= 11 && b[2] == b'/' && b[6] == b'/' && b[3].is_ascii_uppercase() {
        return b[..2].iter().all(u8::is_ascii_digit) && b[7..11].iter().all(u8::is_ascii_digit);
    }
    // mm/dd/yyyy, dd.mm.yyyy and yy/mm/dd (not yy.mm.dd: that is as often a version)
    if (b.len() == 10 && (b[2] == b'/' || b[2] == b'.') || b.len() == 8 && b[2] == b'/')
        && b[5] == b[2]
    {
        return b.iter().enumerate().all(|(i, c)| i == 2 || i == 5 || c.is_ascii_digit());
    }
    // hh:mm[:ss[.frac]][Z|+hh:mm]
    let mut i = 0;
    let mut groups = 0;
    loop {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let n = i - s;
        if n == 0 || n > 2 {
            return false;
        }
        groups += 1;
        if i < b.len() && b[i] == b':' && groups < 3 {
            i += 1;
            continue;
        }
        break;
    }
    if groups < 2 {
        return false;
    }
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    let rest = &b[i..];
    rest.is_empty()
        || rest == b"Z"
        || (rest.len() >= 3
            && matches!(rest[0], b'+' | b'-')
            && rest[1..].iter().all(|c| c.is_ascii_digit() || *c == b':'))
}

fn is_uuid(b: &[u8]) -> bool {
    uuid_classes(b).is_some()
}

/// For a UUID (hex digits in groups of 8-4-4-4-12 parted by `-`): whether it holds
/// a digit and whether it holds a letter. The dashes are tested first, so most
/// other chunks of 36 bytes are ruled out at once.
fn uuid_classes(b: &[u8]) -> Option<(bool, bool)> {
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    let (mut digit, mut letter) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            digit = true;
        } else if matches!(c, b'a'..=b'f' | b'A'..=b'F') {
            letter = true;
        } else if !matches!(i, 8 | 13 | 18 | 23) {
            return None;
        }
    }
    Some((digit, letter))
}

fn is_mac(b: &[u8]) -> bool {
    b.len() == 17
        && b.iter()
            .enumerate()
            .all(|(i, c)| if i % 3 == 2 { *c == b':' || *c == b'-' } else { c.is_ascii_hexdigit() })
        && (b[2] == b[5])
}

/// An IPv4 address, maybe with `:` and a port of digits.
fn ipv4_and_port(b: &[u8]) -> bool {
    match ipv4_end(b) {
        Some(end) if end == b.len() => true,
        Some(end) => end + 1 < b.len() && b[end + 1..].iter().all(u8::is_ascii_digit),
        None => false,
    }
}

/// Four groups of one to three digits, parted by dots: one pass over the bytes
/// (it runs on many header fields and tokens).
pub(crate) fn is_ipv4(b: &[u8]) -> bool {
    ipv4_end(b) == Some(b.len())
}

/// Where an IPv4 address that `b` starts with ends: at the end of `b` or at a `:`
/// after it; `None` if `b` starts with none, or holds another byte after it.
fn ipv4_end(b: &[u8]) -> Option<usize> {
    let (mut dots, mut run) = (0, 0);
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            run += 1;
            if run > 3 {
                return None;
            }
        } else if c == b'.' && run > 0 {
            dots += 1;
            run = 0;
        } else if c == b':' && dots == 3 && run > 0 {
            return Some(i);
        } else {
            return None;
        }
    }
    (dots == 3 && run > 0).then_some(b.len())
}

fn is_ip(b: &[u8], sh: &Shape) -> bool {
    let b = b.strip_prefix(b"/").unwrap_or(b);
    if sh.dots == 3 && sh.alpha == 0 {
        let host = match b.iter().position(|&c| c == b':') {
            Some(p) => {
                if !b[p + 1..].iter().all(u8::is_ascii_digit) || p + 1 == b.len() {
                    return false;
                }
                &b[..p]
            }
            None => b,
        };
        return is_ipv4(host);
    }
    // IPv6: [addr]:port, addr%zone, with `::` or seven colons.
    let mut b = b;
    if b.first() == Some(&b'[') {
        match b.iter().position(|&c| c == b']') {
            Some(p) => {
                let rest = &b[p + 1..];
                if !(rest.is_empty()
                    || (rest[0] == b':'
                        && rest.len() > 1
                        && rest[1..].iter().all(u8::is_ascii_digit)))
                {
                    return false;
                }
                b = &b[1..p];
            }
            None => return false,
        }
    }
    if let Some(p) = b.iter().position(|&c| c == b'%') {
        b = &b[..p];
    }
    let colons = b.iter().filter(|&&c| c == b':').count();
    if !(2..=7).contains(&colons) {
        return false;
    }
    let double = b.windows(2).any(|w| w == b"::");
    if !double && colons != 7 {
        return false;
    }
    // An embedded IPv4 tail (::ffff:10.0.0.1).
    let (head, v4) = match b.iter().rposition(|&c| c == b':') {
        Some(p) if b[p + 1..].contains(&b'.') => (&b[..=p], Some(&b[p + 1..])),
        _ => (b, None),
    };
    if let Some(v4) = v4
        && !is_ipv4(v4)
    {
        return false;
    }
    head.split(|&c| c == b':').all(|g| g.len() <= 4 && g.iter().all(u8::is_ascii_hexdigit))
}

fn is_email(b: &[u8]) -> bool {
    let at = match b.iter().position(|&c| c == b'@') {
        Some(p) if p > 0 => p,
        _ => return false,
    };
    let (local, domain) = (&b[..at], &b[at + 1..]);
    local.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-'))
        && domain.contains(&b'.')
        && !domain.ends_with(b".")
        && domain.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
}

const TLDS: [&[u8]; 18] = [
    b"com",
    b"net",
    b"org",
    b"io",
    b"local",
    b"internal",
    b"lan",
    b"dev",
    b"edu",
    b"gov",
    b"cloud",
    b"localdomain",
    b"corp",
    b"example",
    b"invalid",
    b"test",
    b"de",
    b"uk",
];

/// `com.apple.icloud.fmfd.heartbeat`, `org.example.jobs.EventType`: a reverse-DNS
/// name (a bundle, package or class) of three labels or more under a common
/// top-level domain. Which one is a value of the event, like a path; exception
/// types (`java.io.IOException`) were kept before this is asked.
fn is_reverse_dns(b: &[u8], sh: &Shape) -> bool {
    const ROOTS: [&[u8]; 6] = [b"com.", b"org.", b"net.", b"io.", b"edu.", b"gov."];
    sh.dots >= 2
        && sh.slashes == 0
        && sh.colons == 0
        && ROOTS.iter().any(|r| b.starts_with(r))
        && !b.ends_with(b".")
        && !b.windows(2).any(|w| w == b"..")
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$' | b'-'))
}

fn is_host(b: &[u8], sh: &Shape) -> bool {
    // Letters, digits, `.` and `-` only: the shape says it without a loop.
    if sh.dots == 0
        || sh.underscores > 0
        || sh.colons > 0
        || sh.slashes > 0
        || sh.backslashes > 0
        || sh.at > 0
        || sh.other > 0
        || sh.eq.is_some()
        || b[0] == b'.'
        || b[b.len() - 1] == b'.'
    {
        return false;
    }
    // One pass: label lengths (none empty, none over 63), the last label, and
    // whether any letter is upper or lower case.
    let (mut label, mut last_start) = (0usize, 0usize);
    let (mut upper, mut lower) = (false, false);
    for (i, &c) in b.iter().enumerate() {
        if c == b'.' {
            if label == 0 || label > 63 {
                return false;
            }
            label = 0;
            last_start = i + 1;
        } else {
            label += 1;
            upper |= c.is_ascii_uppercase();
            lower |= c.is_ascii_lowercase();
        }
    }
    if label > 63 {
        return false;
    }
    let last = &b[last_start..];
    if last.len() < 2 || !last.iter().all(u8::is_ascii_lowercase) {
        return false;
    }
    listed(last, &TLDS, &TLD_FILTER)
        || (sh.digits > 0 && !is_file_name(b) && lower)
        // A country-code domain (`static.vnpt.vn`): three labels or more, all lowercase,
        // two letters last, and no file extension (`setup.py`).
        || (last.len() == 2 && sh.dots >= 2 && !upper && !listed(last, &EXTENSIONS, &EXTENSION_FILTER))
}

/// Bit `n` of entry `c`: some word of `words` is `n` bytes long (under 16) and
/// starts (or with `last`, ends) with byte `c`; one lookup rules out most words
/// before any comparison.
const fn lengths_by_byte(words: &[&[u8]], last: bool) -> [u16; 256] {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let byte = if last { w[w.len() - 1] } else { w[0] };
        t[byte as usize] |= 1 << w.len();
        i += 1;
    }
    t
}

const TLD_FILTER: [u16; 256] = lengths_by_byte(&TLDS, false);
const EXTENSION_FILTER: [u16; 256] = lengths_by_byte(&EXTENSIONS, false);

/// `words.contains(&w)`, with `filter` (made by [`lengths_by_byte`] of `words`)
/// asked first.
fn listed(w: &[u8], words: &[&[u8]], filter: &[u16; 256]) -> bool {
    match w.first() {
        Some(&c) if w.len() < 16 && filter[c as usize] >> w.len() & 1 == 1 => words.contains(&w),
        _ => false,
    }
}

const EXTENSIONS: [&[u8]; 44] = [
    b"py", b"pyc", b"rs", b"json", b"jsonl", b"txt", b"log", b"csv", b"md", b"yaml", b"yml",
    b"toml", b"js", b"ts", b"html", b"xml", b"conf", b"cfg", b"ini", b"sh", b"so", b"dll", b"exe",
    b"jar", b"class", b"go", b"java", b"c", b"h", b"cpp", b"db", b"sqlite", b"lock", b"tmp", b"gz",
    b"zip", b"tar", b"pid", b"sock", b"bin", b"dat", b"parquet", b"pdf", b"png",
];

/// `report_2023.csv`, `config.json`: a file name with a known extension.
fn is_file_name(b: &[u8]) -> bool {
    match b.iter().rposition(|&c| c == b'.') {
        Some(p) if p > 0 => {
            let ext = &b[p + 1..];
            listed(ext, &EXTENSIONS, &EXTENSION_FILTER)
                && b[..p]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        }
        _ => false,
    }
}

fn is_path(b: &[u8], sh: &Shape) -> bool {
    if b.len() > 1 && b[0] == b'/' && b[1] != b'/' {
        return true;
    }
    if sh.backslashes > 0 {
        // C:\x, \\server\share, relative\win\path
        if b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\' {
            return true;
        }
        if b.starts_with(b"\\\\") {
            return true;
        }
        return sh.backslashes >= 2;
    }
    if sh.slashes == 0 {
        return false;
    }
    if b.len() > 1 && b[0] == b'/' && b[1] != b'/' {
        return true;
    }
    if b.starts_with(b"~/") || b.starts_with(b"./") || b.starts_with(b"../") {
        return true;
    }
    if b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return true;
    }
    // Relative: a/b/c, or dir/file.ext (not HTTP/1.1, and/or).
    let without_line = match b.iter().position(|&c| c == b':') {
        Some(p) if b[p + 1..].iter().all(|c| c.is_ascii_digit() || *c == b':') => &b[..p],
        Some(_) => return false,
        None => b,
    };
    if !without_line
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'.' | b'_' | b'-' | b'+' | b'@'))
    {
        return false;
    }
    if sh.slashes >= 2 && !without_line.ends_with(b"/") {
        return true;
    }
    let last = without_line.rsplit(|&c| c == b'/').next().unwrap_or_default();
    is_file_name(last)
}

fn key_value(core: &str, eq: usize, scratch: &mut Scratch) -> Core {
    let key = &core[..eq];
    let value = &core[eq + 1..];
    // `QuorumPeer[myid=1]/0:0:2181:FastLeaderElection@774]`: the value ends at the
    // bracket the key opened; what follows is normalized on its own.
    let (value, rest) = match key.bytes().rposition(|c| matches!(c, b'[' | b'(' | b'{')) {
        Some(open) => {
            let close = match key.as_bytes()[open] {
                b'[' => b']',
                b'(' => b')',
                _ => b'}',
            };
            match value.bytes().position(|c| c == close) {
                Some(p) if !key.as_bytes()[open..].contains(&close) => (&value[..p], &value[p..]),
                _ => (value, ""),
            }
        }
        None => (value, ""),
    };
    let rest = if rest.bytes().any(|c| c.is_ascii_digit()) {
        match identifier(rest, scratch) {
            Core::Ph(ph) => ph.text().to_owned(),
            Core::Text(a, b) => scratch.buf[a as usize..b as usize].to_owned(),
            Core::Same => rest.to_owned(),
        }
    } else {
        rest.to_owned()
    };
    let mut s = String::with_capacity(key.len() + 8 + rest.len());
    s.push_str(key);
    s.push('=');
    if value.is_empty() {
        s.push_str(&rest);
        return text(scratch, &s);
    }
    let key_lower = key.rsplit(['.', '_']).next().unwrap_or(key);
    let (q, inner) = match value.as_bytes()[0] {
        b'"' | b'\'' if value.len() >= 2 && value.ends_with(&value[..1]) => {
            (&value[..1], &value[1..value.len() - 1])
        }
        _ => ("", value),
    };
    let ph = if Ph::parse(inner).is_some()
        || (inner.contains("<*>") && !inner.bytes().any(|c| c.is_ascii_digit()))
    {
        inner
    } else if inner.is_empty() {
        ""
    } else if key_lower.eq_ignore_ascii_case("pid") && inner.bytes().all(|c| c.is_ascii_digit()) {
        Ph::Pid.text()
    } else if matches!(key_lower, "line" | "lineno") && inner.bytes().all(|c| c.is_ascii_digit()) {
        Ph::Line.text()
    } else if inner.len() <= 24 && inner.bytes().all(|c| c.is_ascii_alphabetic()) {
        // A plain word names a kind, not an instance: `user=root` and `user=guest`
        // are logged as different events as often as not, `tty=ssh` is constant;
        // mining joins the words of a key that varies much.
        inner
    } else {
        // Any other shape: one key's values are one variable, and the shape of a
        // value varies between occurrences of one event (`rhost=10.0.0.1`,
        // `rhost=host.example.com`, `ws=WorkSource{10113}`).
        Ph::Any.text()
    };
    s.push_str(q);
    s.push_str(ph);
    s.push_str(q);
    s.push_str(&rest);
    settle(&s, scratch)
}

/// Masks every segment of an identifier that holds a digit (and hex letters right after
/// one), and joins masked segments that only separators part: `blk_-42` → `blk_<*>`,
/// `job_20231101_7f3a` and `job_20231101_ab` → `job_<*>`,
/// `20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged` →
/// `<*>|Step_LSC|<*>|onStandStepChanged`.
fn identifier(core: &str, scratch: &mut Scratch) -> Core {
    let b = core.as_bytes();
    // `/0\`, `\x1`: whatever starts like an absolute path is one.
    if matches!(b[0], b'/' | b'\\') {
        return Core::Ph(Ph::Path);
    }
    let is_sep = |c: u8| {
        matches!(
            c,
            b'_' | b'-'
                | b'.'
                | b':'
                | b'/'
                | b'#'
                | b'@'
                | b'('
                | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b','
                | b'|'
                | b';'
                | b'='
                | b'+'
                | b'~'
        )
    };
    // A `-` or `+` before a digit, at the start or after a separator, is a sign.
    let is_sign = |i: usize| {
        matches!(b[i], b'-' | b'+')
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && (i == 0 || is_sep(b[i - 1]))
    };
    let mut out = String::with_capacity(core.len());
    // Where the last `<*>` ends, while only separators followed it.
    let mut open_mask: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && is_sep(b[i]) && !is_sign(i) {
            i += 1;
        }
        out.push_str(&core[start..i]);
        let seg = i;
        if i < b.len() && is_sign(i) {
            i += 1;
        }
        while i < b.len() && !is_sep(b[i]) {
            i += 1;
        }
        if i == seg {
            continue;
        }
        let segment = &core[seg..i];
        // Hex digits or one or two letters right after a mask continue it: `job_17_ab`
        // like `job_17_a3`, `attempt_1445_0020_m_000002_0` like `…_r_…`.
        let hex_tail = open_mask.is_some()
            && (segment.bytes().all(|c| c.is_ascii_hexdigit())
                || (segment.len() <= 2 && segment.bytes().all(|c| c.is_ascii_alphabetic())));
        if hex_tail || segment.bytes().any(|c| c.is_ascii_digit()) {
            match open_mask {
                // `<*>-<*>` is one variable: drop the separators, keep one mask.
                Some(end) => out.truncate(end),
                None => out.push_str(Ph::Any.text()),
            }
            open_mask = Some(out.len());
        } else {
            out.push_str(segment);
            open_mask = None;
        }
    }
    if out == Ph::Any.text() {
        return Core::Ph(Ph::Any);
    }
    settle(&out, scratch)
}

/// The core for a rewritten token. What is left may look like something else now
/// (`./0\` → `./<*>`, a path): then it is that, so that normalizing again changes
/// nothing.
fn settle(rewritten: &str, scratch: &mut Scratch) -> Core {
    // Only path-like leftovers can change class; the others skip the check.
    if rewritten.contains(['/', '\\', '~'])
        && let (Core::Ph(ph), _, _) = classify_core(rewritten, Mode::Conservative, scratch)
    {
        return Core::Ph(ph);
    }
    text(scratch, rewritten)
}

fn core_str(buf: &str, core: Core) -> &str {
    match core {
        Core::Text(a, b) => &buf[a as usize..b as usize],
        Core::Ph(ph) => ph.text(),
        Core::Same => "",
    }
}

fn is_empty(r: (u32, u32)) -> bool {
    r.0 == r.1
}

fn second_pass(scratch: &mut Scratch) {
    let toks = &mut scratch.toks;
    let n = toks.len();
    if n == 0 {
        return;
    }
    // Timestamps over several tokens.
    let is_anchor = |t: &Tok| matches!(t.core, Core::Ph(Ph::Ts));
    let is_part = |t: &Tok| {
        is_anchor(t)
            || matches!(t.hint, Hint::Month | Hint::Weekday | Hint::Zone | Hint::AmPm | Hint::Small)
    };
    // Most messages hold no time at all: skip the loop then.
    let mut i = if toks.iter().any(is_part) { 0 } else { n };
    while i < n {
        if !is_part(&toks[i]) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < n
            && is_part(&toks[j])
            && is_empty(toks[j].lead)
            && !ends_sentence(&scratch.buf, toks[j - 1].trail)
        {
            j += 1;
        }
        // [i, j) is a candidate run: trim numbers and zones at the edges that do not
        // touch a month, and accept it if it holds a time or a month with a day.
        let mut a = i;
        let mut z = j;
        while a < z && !edge_ok(a, a, z, toks, &scratch.buf) {
            a += 1;
        }
        while z > a && !edge_ok(z - 1, a, z, toks, &scratch.buf) {
            z -= 1;
        }
        let has_anchor = (a..z).any(|k| is_anchor(&toks[k]));
        let has_month_day = (a..z).any(|k| toks[k].hint == Hint::Month)
            && (a..z).any(|k| toks[k].hint == Hint::Small);
        if z > a && (has_anchor || has_month_day) && (z - a > 1 || has_anchor) {
            let trail = toks[z - 1].trail;
            toks[a].core = Core::Ph(Ph::Ts);
            toks[a].hint = Hint::None;
            toks[a].trail = trail;
            for t in &mut toks[a + 1..z] {
                t.core = Core::Text(0, 0);
                t.lead = (0, 0);
                t.trail = (0, 0);
                t.hint = Hint::None;
            }
        }
        i = j.max(i + 1);
    }
    // The word after `user` is a user name.
    for k in 1..n {
        if toks[k - 1].hint == Hint::UserWord
            && is_empty(toks[k - 1].trail)
            && is_empty(toks[k].lead)
            // A zone-like `+0000` that joined no time is a number like any other name.
            && matches!(toks[k].hint, Hint::None | Hint::UserWord | Hint::Small | Hint::Zone)
            && match toks[k].core {
                // `Invalid user 0 from …`: a name of digits is a name too.
                Core::Ph(ph) => matches!(ph, Ph::Num | Ph::Hex),
                Core::Text(a, b) => {
                    b > a
                        && scratch.buf.as_bytes()[a as usize..b as usize]
                            .iter()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
                        // `for user from 10.0.0.1`: the name was `user`; a preposition
                        // is no name.
                        && !matches!(
                            &scratch.buf[a as usize..b as usize],
                            "from" | "by" | "for" | "on" | "in" | "at" | "to" | "with" | "is"
                                | "was" | "not"
                        )
                }
                Core::Same => false,
            }
        {
            toks[k].core = Core::Ph(Ph::Any);
            // `user user from`: the masked name is no keyword.
            toks[k].hint = Hint::None;
        }
    }
    // Units, line numbers, pids and status codes.
    for k in 0..n {
        if !matches!(toks[k].core, Core::Ph(Ph::Num)) {
            continue;
        }
        let next_hint =
            if k + 1 < n && is_empty(toks[k].trail) { toks[k + 1].hint } else { Hint::None };
        let prev_hint = if k > 0
            && is_empty(toks[k].lead)
            && is_empty_or_colon(&scratch.buf, toks[k - 1].trail)
        {
            toks[k - 1].hint
        } else {
            Hint::None
        };
        let orig = &scratch.buf[toks[k].orig.0 as usize..toks[k].orig.1 as usize];
        let status = orig.len() == 3 && (b'1'..=b'5').contains(&orig.as_bytes()[0]);
        if status && next_hint == Hint::Reason {
            let r = toks[k].orig;
            toks[k].core = Core::Text(r.0, r.1);
            continue;
        }
        match next_hint {
            Hint::DurUnit | Hint::SizeUnit => {
                toks[k].core =
                    Core::Ph(if next_hint == Hint::DurUnit { Ph::Dur } else { Ph::Size });
                toks[k].trail = toks[k + 1].trail;
                toks[k + 1].core = Core::Text(0, 0);
                toks[k + 1].trail = (0, 0);
                toks[k + 1].hint = Hint::None;
                continue;
            }
            _ => {}
        }
        match prev_hint {
            Hint::LineWord => toks[k].core = Core::Ph(Ph::Line),
            Hint::PidWord => toks[k].core = Core::Ph(Ph::Pid),
            _ => {}
        }
    }
}

/// Whether token `k` may stay at an edge of the timestamp run `[a, z)`.
fn edge_ok(k: usize, a: usize, z: usize, toks: &[Tok], buf: &str) -> bool {
    let month_at = |k: usize| toks[k].hint == Hint::Month;
    let is_anchor = |t: &Tok| matches!(t.core, Core::Ph(Ph::Ts));
    match toks[k].hint {
        Hint::Small => {
            (k > a && month_at(k - 1))
                || (k + 1 < z && month_at(k + 1))
                || (k > a
                    && (toks[k - 1].hint == Hint::Zone || is_anchor(&toks[k - 1]))
                    && is_year(buf, toks[k].orig))
        }
        Hint::Zone | Hint::AmPm => k > a,
        Hint::Month | Hint::Weekday => k + 1 < z || (k > a && toks[k - 1].hint == Hint::Small),
        _ => true,
    }
}

fn ends_sentence(buf: &str, trail: (u32, u32)) -> bool {
    let t = &buf[trail.0 as usize..trail.1 as usize];
    t.contains(['.', ';', ')', ']', '"', '\''])
}

fn is_empty_or_colon(buf: &str, r: (u32, u32)) -> bool {
    let t = &buf[r.0 as usize..r.1 as usize];
    t.is_empty() || t == ":"
}

fn is_year(buf: &str, r: (u32, u32)) -> bool {
    r.1 - r.0 == 4 && matches!(buf.as_bytes()[r.0 as usize], b'1' | b'2')
}

fn render(scratch: &Scratch, out: &mut String) {
    let buf = scratch.buf.as_str();
    let bytes = buf.as_bytes();
    out.reserve(buf.len());
    let mut last_ph: Option<Ph> = None;
    let mut last_trail_empty = false;
    let mut last_trail_comma = false;
    let mut first = true;
    for t in &scratch.toks {
        let core_empty = match t.core {
            Core::Text(a, b) => a == b,
            Core::Ph(_) => false,
            Core::Same => true,
        };
        if is_empty(t.lead) && core_empty && is_empty(t.trail) {
            continue;
        }
        // What the trail is, read off its range: the text is sliced only when it
        // is printed on its own.
        let (trail_empty, trail_comma) =
            (is_empty(t.trail), t.trail.1 == t.trail.0 + 1 && bytes[t.trail.0 as usize] == b',');
        let trail = || &buf[t.trail.0 as usize..t.trail.1 as usize];
        if let (Core::Ph(ph), Some(prev)) = (t.core, last_ph)
            && ph == prev
            && is_empty(t.lead)
            && (last_trail_empty || last_trail_comma)
        {
            // The same mask again: one variable spanning several tokens, or a list
            // (`to 10.0.0.1:50010, 10.0.0.2:50010`) of any length.
            if last_trail_comma {
                out.pop();
            }
            out.push_str(trail());
            last_trail_empty = trail_empty;
            last_trail_comma = trail_comma;
            continue;
        }
        if !first {
            out.push(' ');
        }
        first = false;
        match t.core {
            // Most tokens are a word of the message with its punctuation, side by
            // side in the buffer: one copy.
            Core::Text(a, b) if t.lead.1 == a && t.trail.0 == b => {
                out.push_str(&buf[t.lead.0 as usize..t.trail.1 as usize]);
            }
            core => {
                out.push_str(&buf[t.lead.0 as usize..t.lead.1 as usize]);
                out.push_str(core_str(buf, core));
                out.push_str(trail());
            }
        }
        last_ph = match t.core {
            Core::Ph(ph) => Some(ph),
            Core::Text(..) | Core::Same => None,
        };
        last_trail_empty = trail_empty;
        last_trail_comma = trail_comma;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The eight-bytes-at-a-time scan finds what a byte loop finds, also among
        /// control bytes that are no whitespace and bytes of 0x80 and above.
        #[test]
        fn next_in_is_the_byte_loop(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'a', b'=', b' ', b'\t', b'\n', b'\r', 0x0b, 0x0c, 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xff]),
                0..40,
            ),
            start in 0usize..40,
        ) {
            let start = start.min(bytes.len());
            for set in [&STOP, &WHITESPACE] {
                let slow = (start..bytes.len()).find(|&i| set[bytes[i] as usize]).unwrap_or(bytes.len());
                prop_assert_eq!(next_in(&bytes, start, set), slow);
            }
        }
    }

    proptest! {
        /// Letters counted eight bytes at a time are the letters a byte loop counts,
        /// next to the bytes around the letter ranges and above 0x7f.
        #[test]
        fn leading_letters_is_the_byte_loop(
            bytes in prop::collection::vec(
                prop::sample::select(vec![b'a', b'z', b'A', b'Z', b'm', b'@', b'[', b'`', b'{', b'0', b' ', 0x00, 0x7f, 0xc1, 0xda, 0xe1, 0xfa, 0xff]),
                0..40,
            ),
        ) {
            let slow = bytes.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            prop_assert_eq!(leading_letters(&bytes), slow);
        }
    }

    proptest! {
        /// The one-pass address checks say what splitting at dots and `:` says.
        #[test]
        fn ipv4_checks_are_the_split_rule(b in "[0-9.:a/]{0,20}") {
            let quad = |h: &str| {
                h.split('.').count() == 4
                    && h.split('.').all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()))
            };
            prop_assert_eq!(is_ipv4(b.as_bytes()), quad(&b));
            let with_port = match b.split_once(':') {
                Some((h, port)) => quad(h) && !port.is_empty() && port.bytes().all(|c| c.is_ascii_digit()),
                None => quad(&b),
            };
            prop_assert_eq!(ipv4_and_port(b.as_bytes()), with_port, "{}", b);
        }
    }

    /// The chunk's token as [`classify_chunk`] and as [`classify_general`] make it,
    /// with the text each wrote.
    fn both_paths(chunk: &str) -> [String; 2] {
        let run = |general: bool| {
            let mut scratch = Scratch::default();
            scratch.buf.push_str(chunk);
            if general {
                classify_general(chunk, 0, false, Mode::Full, &mut scratch);
            } else {
                classify_chunk(chunk, chunk.as_bytes(), 0, false, Mode::Full, &mut scratch);
            }
            format!("{:?} {:?}", scratch.toks, scratch.buf)
        };
        [run(false), run(true)]
    }

    proptest! {
        /// Words (after opening brackets, before one punctuation byte) and integers
        /// take fast paths; the general path makes the same token of them.
        #[test]
        fn fast_paths_give_what_the_general_path_gives(
            open in "[(\\[{]{0,2}",
            body in prop_oneof!["[A-Za-z]{1,12}", "[0-9]{1,12}"],
            close in "[:,.;!?)\\]}]?",
            hint in prop::sample::select(vec!["", "Jan", "ms", "user", "line", "PID", "Error", "Z"]),
        ) {
            for chunk in [format!("{open}{body}{close}"), format!("{open}{hint}{close}")] {
                if !chunk.is_empty() {
                    let [fast, general] = both_paths(&chunk);
                    prop_assert_eq!(fast, general, "{}", chunk);
                }
            }
        }
    }

    proptest! {
        /// A scratch whose chunk cache is warm (its table made, full of chunks that
        /// hash alike or not) normalizes every message as a fresh one does: the
        /// cache gives what the general path gives, in every context.
        #[test]
        fn cached_chunks_normalize_as_fresh_ones(
            messages in prop::collection::vec(
                prop::collection::vec(
                    prop::sample::select(vec![
                        "db-3.prod.internal", "cache01.dc2.example.net,", "(request", "85s",
                        "key=value", "rhost=10.0.0.1", "x=\"a b\"", "\"quoted words\"", "'<*>'",
                        "/srv/a_1.json:", "blk_-42", "[pid=7]", "user", "root", "line", "12",
                        "Jan", "2", "15:04:05", "ms", "[::1]:80", "0x1f", "jk2_init()",
                        "java.io.IOException:", "=", ":", "\"\"", "a1b2c3d4e5f6", "eth0",
                        "10.0.0.1:50010,", "é=ü", "<NUM>", "...", "(", "[x]", "429", "Too", "Jan).",
                        "+0100", "2026).", "user),", "ms).", "7);", "Error).",
                    ]),
                    0..12,
                ),
                1..40,
            ),
            glue in prop::sample::select(vec![" ", "  ", "\t", " : "]),
        ) {
            let mut warm = Scratch::default();
            let mut out = String::new();
            // Enough general chunks to make the table, in both modes' contexts.
            for i in 0..CACHE_AFTER + 8 {
                normalize_into(&format!("v={i} w{i}x id {i}.{i}s"), &mut out, &mut warm);
            }
            prop_assert!(!warm.cache.slots.is_empty());
            for words in &messages {
                let message = words.join(glue);
                // Twice: the second time the message's chunks are cached.
                for _ in 0..2 {
                    normalize_into(&message, &mut out, &mut warm);
                    prop_assert_eq!(&out, &normalize_message(&message), "{}", message);
                }
            }
        }
    }

    /// Runs of plain words are one token: the name after `user` is still masked (no
    /// run starts there), and two spaces between words still print as one.
    #[test]
    fn plain_word_runs_normalize_as_words() {
        let mut scratch = Scratch::default();
        let mut out = String::new();
        let message = "Failed password for invalid user admin from 10.0.0.1 port 22 ssh2";
        normalize_into(message, &mut out, &mut scratch);
        assert_eq!(out, "Failed password for invalid user <*> from <IP> port <NUM> ssh2");
        // `Failed password for invalid` is one token, `user`, `<*>`, `from`, ...
        assert_eq!(scratch.toks.len(), 8);
        assert_eq!(
            normalize_message(
                "saving shard 12 completed  on host after 85 ms, at Jan 2 15:04:05 (request x)"
            ),
            "saving shard <NUM> completed on host after <DUR>, at <TS> (request x)"
        );
    }

    proptest! {
        /// Chunks of the shapes that [`varying_shape`] classes, and chunks close to
        /// them: where it gives a token, the general path gives the same one.
        #[test]
        fn varying_shapes_are_classed_as_the_general_path_classes_them(
            core in prop_oneof![
                "[0-9]{1,6}[A-Za-z]{1,5}",
                "0[xX][0-9a-fA-F]{1,6}",
                "[0-9]{1,5}\\.[0-9]{1,5}",
                "/?[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}(:[0-9]{0,6})?",
                "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
                "[0-9.:/a-fx-]{1,40}",
            ],
            close in "[)\\]},;:.!?'\"=]{0,3}",
            base in 0u32..40,
        ) {
            let chunk = format!("{core}{close}");
            if let Some(fast) = varying_shape(chunk.as_bytes(), base) {
                for (value_pos, mode) in [(false, Mode::Full), (true, Mode::Full), (false, Mode::Conservative)] {
                    let mut scratch = Scratch::default();
                    scratch.buf.push_str(&" ".repeat(base as usize));
                    scratch.buf.push_str(&chunk);
                    classify_general(&chunk, base, value_pos, mode, &mut scratch);
                    prop_assert_eq!(format!("{:?}", scratch.toks), format!("{:?}", [fast]), "{}", chunk);
                }
            }
        }
    }

    #[test]
    fn hint_filter_lets_every_listed_word_through() {
        let listed = [
            ("Jan", Hint::Month),
            ("September", Hint::Month),
            ("Sunday", Hint::Weekday),
            ("Z", Hint::Zone),
            ("pm", Hint::AmPm),
            ("µs", Hint::DurUnit),
            ("milliseconds", Hint::DurUnit),
            ("KiB", Hint::SizeUnit),
            ("lineno", Hint::LineWord),
            ("username", Hint::UserWord),
            ("PID", Hint::PidWord),
            ("Unprocessable", Hint::Reason),
            ("+0100", Hint::Zone),
            ("-0800", Hint::Zone),
        ];
        for (word, hint) in listed {
            assert_eq!(word_hint(word), hint, "{word}");
        }
        for word in ["", "jan", "Fr", "Fridays", "+01a0", "0100", "seconds!", "userid"] {
            assert_eq!(word_hint(word), Hint::None, "{word}");
        }
    }
}
