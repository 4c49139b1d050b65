//! Finding the header of a raw log line (timestamp, level, host, component, pid,
//! thread) without configuration, so that lines are grouped by the message after it.
//!
//! A log line of any common shape is a run of header fields and then the message:
//!
//! | shape | example |
//! |---|---|
//! | syslog | `Jun 14 15:16:01 combo sshd(pam_unix)[19939]: message` |
//! | ISO / log4j | `2015-10-18 18:01:47,978 INFO [main] org.example.App: message` |
//! | compact date | `081109 203615 148 INFO dfs.DataNode$PacketResponder: message` |
//! | bracketed | `[Sun Dec 04 04:47:44 2005] [notice] message` |
//! | logcat | `03-17 16:13:38.811  1702  2395 D WindowManager: message` |
//! | Windows CBS | `2016-09-28 04:30:30, Info  CBS  message` |
//! | access log | `10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326` |
//! | pipes | `20171223-22:15:29:606\|Step_LSC\|30002312\|message` |
//! | epoch columns | `134681 node-246 unix.hw state_change.unavailable 1077804742 1 message` |
//!
//! The fields are classified by shape alone (a date, a time, a number, a level word,
//! a bracketed token, a word ending in `:`), never by the name of a system or a
//! component. A header must start with a date, a number, `-`, a bracket or an
//! address, so a bare message (the message column of a log) keeps all its words.
//! The header ends, in this order of preference, after: a level word (and the
//! thread, logger and ` - ` that follow it); a `component:` after a date and at most
//! three other words (host, process); a ` - ` after a date and at most two words; an
//! epoch time among the first columns.
//!
//! With mining, the stream's header shape is learnt from its first lines
//! ([`Learner`]): the number of header fields most of them have is then used for the
//! lines whose own header could not be told.

use std::fmt;

use crate::normalize::{WHITESPACE, next_in};

/// How the header of a line is found.
#[derive(Debug, Clone, Default)]
pub enum HeaderMode {
    /// By shape (the default for raw lines): see the module documentation.
    #[default]
    Auto,
    /// Every line is a message; nothing is stripped.
    None,
    /// A regular expression matched at the start of each line: the message is its
    /// `message` group if it has one, else what follows the match. A line it does not
    /// match is a message as a whole.
    Pattern(HeaderPattern),
}

/// A compiled `--header REGEX`.
#[derive(Clone)]
pub struct HeaderPattern {
    regex: regex::Regex,
    message_group: Option<usize>,
}

impl fmt::Debug for HeaderPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HeaderPattern").field(&self.regex.as_str()).finish()
    }
}

impl HeaderMode {
    /// Parses `auto`, `none` or a regular expression; the error says what is wrong
    /// with the expression.
    pub fn parse(text: &str) -> Result<HeaderMode, String> {
        match text {
            "auto" => Ok(HeaderMode::Auto),
            "none" => Ok(HeaderMode::None),
            pattern => {
                // Anchored: a header is at the start of the line.
                let regex = regex::Regex::new(&format!("^(?:{pattern})")).map_err(|e| {
                    // The parser's message draws the pattern over several lines; its
                    // last line says what is wrong, and one line is what stderr gets.
                    let text = e.to_string();
                    let reason = text.lines().last().unwrap_or(&text).trim();
                    let reason = reason.strip_prefix("error: ").unwrap_or(reason);
                    format!("invalid --header expression `{pattern}`: {reason}")
                })?;
                let message_group = regex.capture_names().position(|n| n == Some("message"));
                Ok(HeaderMode::Pattern(HeaderPattern { regex, message_group }))
            }
        }
    }
}

/// The byte offset where the message of `line` starts under `mode`.
pub(crate) fn message_start(line: &str, mode: &HeaderMode) -> usize {
    match mode {
        HeaderMode::None => 0,
        HeaderMode::Auto => auto(line).map_or(0, |h| h.end),
        HeaderMode::Pattern(p) => match p.message_group {
            Some(g) => p.regex.captures(line).and_then(|c| c.get(g)).map_or(0, |m| m.start()),
            None => p.regex.find(line).map_or(0, |m| m.end()),
        },
    }
}

/// What a header field looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    /// A date, a time or a part of one (month, weekday, day, year).
    Date,
    /// Digits only.
    Num,
    /// A log level.
    Level,
    /// `-` on its own.
    Dash,
    /// A token ending in `:` (a component, a process with its pid).
    Comp,
    /// A bracketed token, `[main]`.
    Bracket,
    /// An IPv4 address or a host name.
    Addr,
    /// Any other word.
    Word,
}

/// A header found in a line: where the message starts and how many fields it had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// Byte offset of the message.
    pub(crate) end: usize,
    /// Header fields (whitespace-separated tokens, or `|` fields).
    pub(crate) fields: usize,
    /// The kinds of the first fields (of at most [`MAX_FIELDS`]).
    pub(crate) kinds: [Kind; MAX_FIELDS],
}

/// The most fields looked at for a header.
const MAX_FIELDS: usize = 14;

/// Headers are short; a header field longer than this is a message word.
const MAX_FIELD_BYTES: usize = 160;

/// Finds the header of `line` by shape, if it has one.
pub(crate) fn auto(line: &str) -> Option<Found> {
    let b = line.as_bytes();
    let start = b.iter().position(|c| !c.is_ascii_whitespace())?;
    let first = b[start];
    // Most message lines start with a letter that is no month or weekday: one cheap
    // test rules them out before any token is classified.
    if first.is_ascii_alphabetic() {
        // `file.log.1.2017-05-16_13:53:08 2017-05-16 …`: a word, then a date.
        if !starts_like_date_word(&line[start..]) {
            let second = second_word(line, start)?;
            // The digit test first: it is the cheaper, and most second words fail it.
            if !has_digit(second) || kind_of(second, None) != Kind::Date {
                return None;
            }
        }
    } else if !(first.is_ascii_digit() || matches!(first, b'[' | b'-' | b'(')) {
        return None;
    }
    if let Some(found) = pipes(line, start) {
        return Some(found);
    }
    decide(&mut Toks::new(line))
}

/// The second word of `line`, whose first starts at `start`, as
/// `split_ascii_whitespace` splits: eight bytes at a time.
fn second_word(line: &str, start: usize) -> Option<&str> {
    let b = line.as_bytes();
    let after_first = next_in(b, start, &WHITESPACE);
    let second =
        after_first + b[after_first..].iter().take_while(|c| c.is_ascii_whitespace()).count();
    (second < b.len()).then(|| &line[second..next_in(b, second, &WHITESPACE)])
}

/// The leading tokens of a line, split and classified only as far as they are
/// looked at: most headers end after four or five of them.
struct Toks<'a> {
    line: &'a str,
    at: usize,
    toks: [(usize, usize, Kind); MAX_FIELDS],
    /// The [`field_mask`] of each token.
    masks: [u16; MAX_FIELDS],
    n: usize,
    done: bool,
    /// A bracket opened by a field and not closed yet: `[Sun Dec 04 04:47:44 2005]`.
    open_bracket: bool,
}

impl<'a> Toks<'a> {
    fn new(line: &'a str) -> Toks<'a> {
        Toks {
            line,
            at: 0,
            toks: [(0, 0, Kind::Word); MAX_FIELDS],
            masks: [0; MAX_FIELDS],
            n: 0,
            done: false,
            open_bracket: false,
        }
    }

    /// Token `k`: (start, end, kind). The second is read with the first, since the
    /// kind of the first depends on it; no other kind depends on a later token.
    // Inlined: `decide` asks for tokens a dozen times a line, most of them loaded
    // already; loading stays a call of its own.
    #[inline]
    fn get(&mut self, k: usize) -> Option<(usize, usize, Kind)> {
        while (self.n <= k || self.n < 2) && !self.done {
            self.load();
        }
        (k < self.n).then(|| self.toks[k])
    }

    /// Whether token `k` is a [`Kind::Dash`]: when it is the next one to load, its
    /// bytes say it first, and a token that is no `-` is left unloaded (most
    /// headers end before it, so it is never classed).
    fn is_dash(&mut self, k: usize) -> bool {
        if k == self.n && self.n >= 2 && !self.done {
            let b = self.line.as_bytes();
            let mut i = self.at;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if b.get(i) != Some(&b'-') || b.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                return false;
            }
        }
        matches!(self.get(k), Some((_, _, Kind::Dash)))
    }

    fn text(&self, k: usize) -> &'a str {
        &self.line[self.toks[k].0..self.toks[k].1]
    }

    #[inline(never)]
    fn load(&mut self) {
        let b = self.line.as_bytes();
        let mut i = self.at;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() || self.n == MAX_FIELDS {
            self.done = true;
            return;
        }
        let start = i;
        let (end, mask) = scan_field(b, start);
        i = end;
        self.at = i;
        let tok = &self.line[start..i];
        if tok.len() > MAX_FIELD_BYTES {
            self.done = true;
            return;
        }
        let prev = self.n.checked_sub(1).map(|p| self.toks[p].2);
        let mut kind = kind_with(tok, mask, prev);
        if self.open_bracket && kind != Kind::Date && kind != Kind::Num {
            // Inside `[…]` whatever is no date ends the header's bracket: not a header.
            kind = Kind::Word;
        }
        if b[start] == b'[' && mask & RBRACKET == 0 {
            self.open_bracket = true;
        }
        if b[i - 1] == b']' && mask & LBRACKET == 0 {
            self.open_bracket = false;
        }
        self.toks[self.n] = (start, i, kind);
        self.masks[self.n] = mask;
        self.n += 1;
        // `081109 203615`: six digits are a date only when a time of six digits follows.
        if self.n == 2 {
            let six = |k: usize| self.toks[k].1 - self.toks[k].0 == 6 && self.masks[k] == DIGIT;
            if self.toks[0].2 == Kind::Date && six(0) && !six(1) {
                self.toks[0].2 = Kind::Num;
            }
        }
    }
}

/// Chooses where the header ends among the classified leading tokens.
fn decide(toks: &mut Toks<'_>) -> Option<Found> {
    let line = toks.line;
    let found = |toks: &Toks<'_>, k: usize| {
        let mut kinds = [Kind::Word; MAX_FIELDS];
        for (slot, t) in kinds.iter_mut().zip(&toks.toks[..=k]) {
            *slot = t.2;
        }
        Some(Found { end: start_after(line, toks.toks[k].1), fields: k + 1, kinds })
    };
    let first = toks.get(0)?.2;
    // Fields before a level: dates, numbers, dashes, brackets, addresses, and (after
    // a date) a few words: `- 1117838570 2005.06.03 R02-M1 … RAS KERNEL INFO`.
    let mut dates = 0;
    let mut saw_time = false;
    let mut words = 0;
    let mut k = 0;
    while let Some((_, _, kind)) = toks.get(k) {
        // A date with a time, or two date parts (`Jun 14`): a word before a `:` or a
        // month name alone (`Mon key pressed:`) is no date.
        let real_date = saw_time || dates >= 2;
        match kind {
            Kind::Date => {
                dates += 1;
                saw_time |= toks.text(k).len() >= 8 || toks.text(k).bytes().any(|c| c == b':');
            }
            Kind::Num | Kind::Dash | Kind::Bracket | Kind::Addr => {}
            Kind::Level => {
                // A level ends the header; a message word that is a level (`error`)
                // needs a real header before it.
                if k == 0 || !(real_date || words == 0) || words > 4 {
                    break;
                }
                let mut end = k;
                // `[main]`, `[IPC Server handler 3 on 80]`: the thread, after a bare
                // level (after `[error]` a bracket is the message's: `[client …]`).
                if !toks.text(k).starts_with('[')
                    && let Some(close) = bracket_group(toks, end + 1)
                {
                    end = close;
                }
                // `org.example.App:` or `dfs.DataNode$PacketResponder:`: the logger.
                match toks.get(end + 1) {
                    Some((_, _, Kind::Comp)) => end += 1,
                    Some(_) if is_logger(toks.text(end + 1)) => {
                        end += 1;
                        // `[req-… - - -]` after a logger: its request context.
                        if let Some(close) = bracket_group(toks, end + 1) {
                            end = close;
                        }
                    }
                    _ => {}
                }
                if toks.is_dash(end + 1) {
                    end += 1;
                }
                return found(toks, end);
            }
            Kind::Comp => {
                // `combo sshd(pam_unix)[19939]:` after a syslog date.
                if real_date && words <= 3 {
                    return found(toks, k);
                }
                break;
            }
            Kind::Word => words += 1,
        }
        if words > 4 {
            break;
        }
        k += 1;
    }
    let mut dates = 0;
    let mut words = 0;
    let mut k = 0;
    while let Some((_, _, kind)) = toks.get(k) {
        // An access log: `10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET …"`.
        if first == Kind::Addr && k >= 3 && dates > 0 && toks.text(k).ends_with(']') {
            return found(toks, k);
        }
        match kind {
            Kind::Date => dates += 1,
            // `[10.30 16:49:06] chrome.exe - message`: a dash after a date and a program.
            Kind::Dash if dates >= 2 && words > 0 && toks.get(k + 1).is_some() => {
                return found(toks, k);
            }
            Kind::Word | Kind::Comp | Kind::Level | Kind::Addr | Kind::Bracket => {
                words += 1;
                if words > 3 {
                    break;
                }
            }
            _ => {}
        }
        k += 1;
    }
    // Columns ending in an epoch time: `134681 node-246 unix.hw x.y 1077804742 1 …`.
    if matches!(first, Kind::Num | Kind::Dash) {
        for k in 1..8 {
            let Some((_, _, kind)) = toks.get(k) else { break };
            if is_epoch(toks.text(k)) {
                return found(toks, k);
            }
            if kind == Kind::Comp {
                break;
            }
        }
    }
    None
}

/// After the field ending at `end`: the offset of the next non-blank byte.
fn start_after(line: &str, end: usize) -> usize {
    let b = line.as_bytes();
    let mut i = end;
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The token that closes a `[…]` group opened by token `k`, within a few tokens.
fn bracket_group(toks: &mut Toks<'_>, k: usize) -> Option<usize> {
    toks.get(k)?;
    let first = toks.text(k);
    if !first.starts_with('[') {
        return None;
    }
    if first.ends_with(']') {
        return Some(k);
    }
    (k + 1..k + 8).find(|&j| toks.get(j).is_some() && toks.text(j).ends_with(']'))
}

/// `20171223-22:15:29:606|Step_LSC|30002312|message`: `|`-separated fields after a
/// date; the message is what follows the last `|` of the first word, which starts at
/// `line_start`.
fn pipes(line: &str, line_start: usize) -> Option<Found> {
    let (end, mask) = scan_field(line.as_bytes(), line_start);
    // Most first words have no `|`: the mask of the split says so.
    if mask & PIPE == 0 {
        return None;
    }
    let word = &line[line_start..end];
    let first = word.split('|').next()?;
    if kind_of(first, None) != Kind::Date {
        return None;
    }
    let last = word.rfind('|')?;
    let mut kinds = [Kind::Word; MAX_FIELDS];
    kinds[0] = Kind::Date;
    Some(Found { end: line_start + last + 1, fields: word.matches('|').count(), kinds })
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|c| c.is_ascii_digit())
}

fn starts_like_date_word(s: &str) -> bool {
    // The leading ASCII letters (no other character is one, so bytes will do).
    let letters = s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let word = &s[..letters];
    is_month(word) || is_weekday(word)
}

fn is_month(w: &str) -> bool {
    <[u8; 3]>::try_from(w.as_bytes()).is_ok_and(is_month_bytes)
}

/// [`is_month`] of three bytes, compared as one word.
fn is_month_bytes(w: [u8; 3]) -> bool {
    const MONTHS: [[u8; 3]; 12] = [
        *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct",
        *b"Nov", *b"Dec",
    ];
    MONTHS.contains(&w)
}

fn is_weekday(w: &str) -> bool {
    const DAYS: [[u8; 3]; 7] = [*b"Mon", *b"Tue", *b"Wed", *b"Thu", *b"Fri", *b"Sat", *b"Sun"];
    <[u8; 3]>::try_from(w.as_bytes()).is_ok_and(|w| DAYS.contains(&w))
}

/// Log levels, as loggers print them (any case; syslog's and Java's too).
fn is_level(w: &str) -> bool {
    const LEVELS: [u64; 16] = [
        word64(b"TRACE"),
        word64(b"DEBUG"),
        word64(b"INFO"),
        word64(b"NOTICE"),
        word64(b"WARN"),
        word64(b"WARNING"),
        word64(b"ERROR"),
        word64(b"ERR"),
        word64(b"SEVERE"),
        word64(b"CRITICAL"),
        word64(b"CRIT"),
        word64(b"FATAL"),
        word64(b"ALERT"),
        word64(b"EMERG"),
        word64(b"FINE"),
        word64(b"VERBOSE"),
    ];
    let b = w.as_bytes();
    if !(3..=8).contains(&b.len()) || !b[0].is_ascii_alphabetic() {
        return false;
    }
    // The word in one register, upper-cased at once: this runs for most header
    // words. Clearing bit 5 upper-cases a letter and makes no other byte a letter,
    // so the word equals a level (all letters) exactly when it is one in any case;
    // the length check keeps `ERR\0` from being `ERR`.
    let mut bytes = [0u8; 8];
    bytes[..b.len()].copy_from_slice(b);
    let up = u64::from_le_bytes(bytes) & 0xDFDF_DFDF_DFDF_DFDF;
    LEVELS.contains(&up) && (71 - up.leading_zeros() as usize) / 8 == b.len()
}

/// Up to eight bytes as one little-endian word, zero-padded.
const fn word64(w: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let mut i = 0;
    while i < w.len() {
        bytes[i] = w[i];
        i += 1;
    }
    u64::from_le_bytes(bytes)
}

/// A dotted logger name: `nova.osapi_compute.wsgi.server`, `org.example.App`.
fn is_logger(w: &str) -> bool {
    w.contains('.')
        && !w.ends_with('.')
        && w.as_bytes()[0].is_ascii_alphabetic()
        && w.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'$' | b'-'))
}

/// Seconds (or milliseconds) since 1970 between 2001 and 2033.
fn is_epoch(w: &str) -> bool {
    let digits = w.len();
    w.bytes().all(|c| c.is_ascii_digit())
        && ((digits == 10 && w.as_bytes()[0] == b'1') || (digits == 13 && w.as_bytes()[0] == b'1'))
}

/// The kind of one whitespace-separated token; `prev` is the kind before it.
pub(crate) fn kind_of(tok: &str, prev: Option<Kind>) -> Kind {
    kind_with(tok, field_mask(tok.as_bytes()), prev)
}

/// Bits of [`FIELD_CLASS`]. The `KEEP_` classes are bytes that [`kind_with`] never
/// strips from a token, so a token that holds one has it in its core too.
const WS: u16 = 1;
const DIGIT: u16 = 1 << 1;
const LBRACKET: u16 = 1 << 2;
const RBRACKET: u16 = 1 << 3;
/// Neither a digit nor stripped: the core is no number.
const KEEP_NON_DIGIT: u16 = 1 << 4;
/// Neither a digit nor `.` nor stripped: the core is no IPv4 address.
const KEEP_NON_IP: u16 = 1 << 5;
/// None of what [`is_date_or_time`] allows, and not stripped: the core is no date.
const KEEP_NON_DATE: u16 = 1 << 6;
/// Not a letter and not stripped: the core is no level word.
const KEEP_NON_ALPHA: u16 = 1 << 7;
/// `|`: the first word may be `|`-separated fields ([`pipes`]).
const PIPE: u16 = 1 << 9;
/// A byte that may be stripped (`[` `(` `]` `)` `,` `:` `|`): with [`KEEP_NON_DIGIT`],
/// every byte but a digit and whitespace sets a bit that a digit does not.
const STRIPPED: u16 = 1 << 8;

/// The class bits of every byte, for one lookup per byte of a header field.
const FIELD_CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        let stripped = matches!(b, b'[' | b'(' | b']' | b')' | b',' | b':' | b'|');
        let mut bits = 0;
        if WHITESPACE[c] {
            bits |= WS;
        }
        if b.is_ascii_digit() {
            bits |= DIGIT;
        }
        if b == b'[' {
            bits |= LBRACKET;
        }
        if b == b']' {
            bits |= RBRACKET;
        }
        if stripped {
            bits |= STRIPPED;
        }
        if b == b'|' {
            bits |= PIPE;
        }
        if !stripped && !b.is_ascii_digit() {
            bits |= KEEP_NON_DIGIT;
            if b != b'.' {
                bits |= KEEP_NON_IP;
            }
            if !b.is_ascii_alphabetic() {
                bits |= KEEP_NON_ALPHA;
                if !matches!(b, b':' | b'-' | b'/' | b'.' | b',' | b'_') {
                    bits |= KEEP_NON_DATE;
                }
            }
        }
        t[c] = bits;
        c += 1;
    }
    t
};

/// The end of the field starting at `start` (the next whitespace, or the end) and
/// its [`field_mask`], in one pass over its bytes.
fn scan_field(b: &[u8], start: usize) -> (usize, u16) {
    let mut i = start;
    let mut mask = 0;
    while let Some(&c) = b.get(i) {
        let class = FIELD_CLASS[c as usize];
        if class & WS != 0 {
            break;
        }
        mask |= class;
        i += 1;
    }
    (i, mask)
}

/// The class bits of a field's bytes, ORed: what [`Toks`] gathers while it splits.
fn field_mask(b: &[u8]) -> u16 {
    b.iter().fold(0, |mask, &c| mask | FIELD_CLASS[c as usize])
}

/// [`kind_of`] for a token whose [`field_mask`] is known: the mask answers at once
/// what would take a loop over the bytes (is there a digit, a byte no date holds).
fn kind_with(tok: &str, mask: u16, prev: Option<Kind>) -> Kind {
    let t = tok.as_bytes();
    if t == b"-" {
        return Kind::Dash;
    }
    // The core without brackets and trailing separators, by bytes: this runs for
    // every header field of every line.
    let (mut s, mut e) = (0, t.len());
    while s < e && matches!(t[s], b'[' | b'(') {
        s += 1;
    }
    while e > s && matches!(t[e - 1], b']' | b')' | b',' | b':' | b'|') {
        e -= 1;
    }
    if s == e {
        return Kind::Word;
    }
    let core = &tok[s..e];
    let b = core.as_bytes();
    // `([31211]):`, a process id in brackets before the message: a component.
    if t[t.len() - 1] == b':' && s > 0 && t.len() > 2 {
        return Kind::Comp;
    }
    // Digits are never stripped: the token's digits are the core's.
    let has_digit = mask & DIGIT != 0;
    let all_digits = has_digit
        && (mask == DIGIT || (mask & KEEP_NON_DIGIT == 0 && b.iter().all(u8::is_ascii_digit)));
    if all_digits {
        // A day or a year after a month, or a yymmdd / hhmmss pair.
        if prev == Some(Kind::Date) && (b.len() <= 2 || b.len() == 4) {
            return Kind::Date;
        }
        if b.len() == 6 && prev.is_none_or(|p| p == Kind::Date) {
            return Kind::Date;
        }
        return Kind::Num;
    }
    if b.len() == 3 && b[0].is_ascii_uppercase() && (is_month(core) || is_weekday(core)) {
        return Kind::Date;
    }
    if has_digit {
        if b[0].is_ascii_digit() && mask & KEEP_NON_IP == 0 && is_ipv4(core) {
            return Kind::Addr;
        }
        if mask & KEEP_NON_DATE == 0 && is_date_or_time(b) {
            return Kind::Date;
        }
    }
    // Only letters make a level word: a token with a kept byte of another kind is none.
    let may_be_level = !has_digit && mask & KEEP_NON_ALPHA == 0;
    let last = t[t.len() - 1];
    if t[0] == b'[' && last == b']' && t.len() > 2 {
        if may_be_level && is_level(&tok[1..tok.len() - 1]) {
            return Kind::Level;
        }
        return Kind::Bracket;
    }
    if last == b':' && t.len() > 1 && !tok.ends_with("::") {
        if may_be_level && is_level(core) {
            return Kind::Level;
        }
        return Kind::Comp;
    }
    if may_be_level && is_level(core) {
        return Kind::Level;
    }
    // logcat: `1702  2395 D WindowManager:` — one letter after the thread id.
    if b.len() == 1
        && matches!(b[0], b'V' | b'D' | b'I' | b'W' | b'E' | b'F')
        && prev == Some(Kind::Num)
    {
        return Kind::Level;
    }
    Kind::Word
}

/// Four groups of one to three digits, parted by dots.
fn is_ipv4(b: &str) -> bool {
    crate::normalize::is_ipv4(b.as_bytes())
}

/// Dates and times in one token, as headers print them: ISO dates with `-`, `/` or
/// `.`, times with an optional fraction, `yyyymmdd-hh:mm:ss`, `dd/Mon/yyyy:hh:mm:ss`,
/// `mm-dd`, `mm.dd`, `yy/mm/dd`. One pass, no allocation: it runs on every field
/// of every header.
fn is_date_or_time(b: &[u8]) -> bool {
    let (mut digits, mut letters) = (0, 0);
    // Letters, as a month name (three) or `T`/`Z`.
    let mut alpha = [0u8; 3];
    let (mut groups, mut group_len, mut bad_group) = (0, 0, false);
    let mut first_group = 0;
    let (mut time, mut date) = (false, false);
    for &c in b {
        if c.is_ascii_digit() {
            digits += 1;
            group_len += 1;
            continue;
        }
        if group_len == 0 || group_len > 8 {
            bad_group = true;
        }
        if groups == 0 {
            first_group = group_len;
        }
        groups += 1;
        group_len = 0;
        match c {
            b':' => time = true,
            b'-' | b'/' | b'.' => date = true,
            b',' | b'_' => {}
            c if c.is_ascii_alphabetic() => {
                if letters < 3 {
                    alpha[letters] = c;
                }
                letters += 1;
            }
            _ => return false,
        }
    }
    if group_len == 0 || group_len > 8 {
        bad_group = true;
    }
    if groups == 0 {
        first_group = group_len;
    }
    groups += 1;
    if digits < 3 {
        return false;
    }
    // `25/Nov/2026:08:33:06`, `2026-11-25T08:00:01Z`: a month name or `T`/`Z`.
    if letters > 0 {
        return (letters == 3 && is_month_bytes(alpha))
            || (letters <= 2 && alpha[..letters].iter().all(|c| matches!(c, b'T' | b'Z')));
    }
    if bad_group || groups < 2 {
        return false;
    }
    // `10.30`, `03-17`: a month and day only when short.
    if groups == 2 && !time {
        return first_group == 2 && group_len == 2;
    }
    time || (date && groups >= 3 && first_group <= 4)
}

/// The stream's header shape, learnt from its first lines (`normalize --mine`).
#[derive(Debug, Default)]
pub(crate) struct Learner {
    /// How many of the sampled lines had a header of each shape (its field kinds).
    counts: Vec<(Vec<Kind>, usize)>,
    sampled: usize,
}

/// Lines sampled to learn the header shape.
pub(crate) const SAMPLE_LINES: usize = 200;

impl Learner {
    /// Records the header of one sampled line.
    pub(crate) fn sample(&mut self, line: &str) {
        self.sampled += 1;
        let shape: Vec<Kind> =
            auto(line).map_or(Vec::new(), |f| f.kinds[..f.fields.min(MAX_FIELDS)].to_vec());
        match self.counts.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, n)) => *n += 1,
            None => self.counts.push((shape, 1)),
        }
    }

    /// The header shape four in five sampled lines share, if they do.
    pub(crate) fn learnt(&self) -> Option<Vec<Kind>> {
        let (shape, n) = self.counts.iter().max_by_key(|(s, n)| (*n, s.len()))?;
        (!shape.is_empty() && n * 5 >= self.sampled * 4).then(|| shape.clone())
    }
}

/// The message start of `line` in a stream whose headers have the field kinds
/// `shape`: its own header when one is found, else the first `shape.len()` tokens
/// when their dates, numbers and dashes stand where the shape has them (a line of a
/// traceback or a bare message keeps its words).
pub(crate) fn learnt_start(line: &str, shape: &[Kind]) -> usize {
    if let Some(found) = auto(line) {
        return found.end;
    }
    let b = line.as_bytes();
    let mut i = 0;
    let mut prev = None;
    for &want in shape {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i || i - start > MAX_FIELD_BYTES {
            return 0;
        }
        let got = kind_of(&line[start..i], prev);
        let fixed = |k: Kind| matches!(k, Kind::Date | Kind::Num | Kind::Dash);
        if (fixed(want) || fixed(got)) && want != got {
            return 0;
        }
        prev = Some(got);
    }
    start_after(line, i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message(line: &str) -> &str {
        &line[message_start(line, &HeaderMode::Auto)..]
    }

    #[test]
    fn common_shapes() {
        let cases = [
            (
                "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; user unknown",
                "check pass; user unknown",
            ),
            (
                "Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: ARPT: 620701.011328: x",
                "ARPT: 620701.011328: x",
            ),
            ("2015-10-18 18:01:47,978 INFO [main] org.example.App: Created x", "Created x"),
            (
                "2015-10-18 18:01:47,978 INFO [IPC Server handler 3 on 80] org.example.App: Got x",
                "Got x",
            ),
            (
                "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for",
                "PacketResponder 1 for",
            ),
            ("[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok", "workerEnv.init() ok"),
            (
                "[Sun Dec 04 04:47:44 2005] [error] [client 1.2.3.4] Directory index",
                "[client 1.2.3.4] Directory index",
            ),
            (
                "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
                "printFreezingDisplayLogs",
            ),
            (
                "2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack",
                "CBS    Loaded Servicing Stack",
            ),
            (
                "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
                "onStandStepChanged 3579",
            ),
            (
                "134681 node-246 unix.hw state_change.unavailable 1077804742 1 Component State",
                "1 Component State",
            ),
            (
                "- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache",
                "instruction cache",
            ),
            ("17/06/09 20:10:40 INFO executor.Executor: Running task 0.0", "Running task 0.0"),
            (
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
                "Notification time out: 3200",
            ),
            (
                "[10.30 16:49:06] chrome.exe - proxy.example.com:5070 open through proxy",
                "proxy.example.com:5070 open through proxy",
            ),
            (
                "10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET /a.gif HTTP/1.0\" 200 2326",
                "\"GET /a.gif HTTP/1.0\" 200 2326",
            ),
            (
                "nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38 113d - - -] 10.11.10.1 \"GET /v2\"",
                "10.11.10.1 \"GET /v2\"",
            ),
            (
                "- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
                "session closed for user root",
            ),
            (
                "Jul  1 09:29:02 host-1 sandboxd[129] ([31211]): app(31211) deny network-outbound",
                "app(31211) deny network-outbound",
            ),
        ];
        for (line, want) in cases {
            assert_eq!(message(line), want, "{line}");
        }
    }

    #[test]
    fn bare_messages_keep_every_word() {
        for line in [
            "PacketResponder 1 for block blk_38865049064139660 terminating",
            "authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
            "1 ddr errors(s) detected and corrected on rank 0, symbol 20, bit 0",
            "ValueError: invalid literal for int() with base 10: 'x'",
            "error: cannot open file",
            "- leading dash in a message: not a header",
            "42 items left in queue ERROR state",
            "Mon key pressed: F1",
            "[client 10.0.0.1] File does not exist: /var/www/x",
        ] {
            assert_eq!(message(line), line, "{line}");
        }
    }

    #[test]
    fn pattern_and_none() {
        let mode = HeaderMode::parse(r"\S+ \S+ ").expect("valid");
        assert_eq!(message_start("a b rest of it", &mode), 4);
        let mode = HeaderMode::parse(r"\[(?<level>\w+)\] (?<message>.*)").expect("valid");
        assert_eq!(message_start("[warn] disk low", &mode), 7);
        assert_eq!(message_start("no match here", &mode), 0);
        assert_eq!(message_start("Jun 14 15:16:01 h p: m", &HeaderMode::None), 0);
        let err = HeaderMode::parse("(unclosed").expect_err("invalid");
        assert!(err.contains("invalid --header expression `(unclosed`"), "{err}");
    }

    #[test]
    fn field_words_by_bytes() {
        for level in ["INFO", "info", "Warning", "eRr", "CRITICAL", "verbose"] {
            assert!(is_level(level), "{level}");
        }
        // Clearing bit 5 makes no letter of `{`, `@` or a NUL; lengths must agree.
        for word in ["INF", "INFOS", "{NFO", "ERR\0", "ERROR\0", "IN\u{c9}O", "", "WARNINGS"] {
            assert!(!is_level(word), "{word:?}");
        }
        for ip in ["1.2.3.4", "10.100.200.255", "999.0.0.1"] {
            assert!(is_ipv4(ip), "{ip}");
        }
        for not in ["1.2.3", "1.2.3.4.5", ".1.2.3", "1.2.3.", "1..2.3", "1234.1.1.1", "1.2.3.a"] {
            assert!(!is_ipv4(not), "{not}");
        }
        assert!(is_month("Dec") && !is_month("Dece") && !is_month("dec"));
        assert!(is_weekday("Sun") && !is_weekday("Su"));
        assert!(starts_like_date_word("Jun14 x") && !starts_like_date_word("June x"));
    }

    proptest! {
        /// The one-pass split ends a field where the whitespace scan does, with the
        /// mask of its bytes; and what [`kind_with`] concludes from a mask without
        /// looking at the bytes is what the byte loops find.
        #[test]
        fn mask_shortcuts_agree_with_the_byte_loops(
            bytes in prop::collection::vec(
                prop::sample::select(b"09az.:-/,_[]()|=@ \t\x0b\xc3".to_vec()),
                0..24,
            ),
        ) {
            let (end, mask) = scan_field(&bytes, 0);
            prop_assert_eq!(end, crate::normalize::next_in(&bytes, 0, &WHITESPACE));
            prop_assert_eq!(mask, field_mask(&bytes[..end]));
            let field = &bytes[..end];
            // Every core that stripping can leave (it takes no byte but those).
            let strippable = |c: &u8| FIELD_CLASS[*c as usize] & STRIPPED != 0;
            let lead = field.iter().take_while(|c| strippable(c)).count();
            let trail = field.iter().rev().take_while(|c| strippable(c)).count();
            for s in 0..=lead {
                for e in (field.len() - trail).max(s)..=field.len() {
                    let core = &field[s..e];
                    let Ok(text) = std::str::from_utf8(core) else { continue };
                    if mask & KEEP_NON_DIGIT != 0 && !core.is_empty() {
                        prop_assert!(!core.iter().all(u8::is_ascii_digit));
                    }
                    if mask == DIGIT {
                        prop_assert!(core.iter().all(u8::is_ascii_digit));
                    }
                    prop_assert_eq!(mask & DIGIT != 0, core.iter().any(u8::is_ascii_digit));
                    if mask & KEEP_NON_IP != 0 {
                        prop_assert!(!is_ipv4(text));
                    }
                    if mask & KEEP_NON_DATE != 0 {
                        prop_assert!(!is_date_or_time(core));
                    }
                    if mask & KEEP_NON_ALPHA != 0 || mask & DIGIT != 0 {
                        prop_assert!(!is_level(text));
                    }
                }
            }
        }
    }

    proptest! {
        /// The second word is the one `split_ascii_whitespace` gives.
        #[test]
        fn second_word_is_the_split_one(line in "[ \t\x0ba1é]{0,20}") {
            if let Some(start) = line.bytes().position(|c| !c.is_ascii_whitespace()) {
                prop_assert_eq!(second_word(&line, start), line.split_ascii_whitespace().nth(1));
            }
        }

        /// The dash test that reads a token's bytes before loading it says what
        /// loading it and reading its kind says, also inside brackets.
        #[test]
        fn dash_test_is_the_loaded_kind(
            words in prop::collection::vec(
                prop::sample::select(vec!["-", "--", "-x", "[", "[a", "b]", "2026-11-25", "INFO", "a:", "[-]", "x"]),
                0..8,
            ),
            glue in prop::sample::select(vec![" ", "  ", "\t", " \x0c"]),
            upto in 0usize..8,
        ) {
            let line = words.join(glue);
            let mut peeked = Toks::new(&line);
            let mut loaded = Toks::new(&line);
            for k in 0..upto {
                peeked.get(k);
                loaded.get(k);
            }
            for k in upto..upto + 2 {
                prop_assert_eq!(
                    peeked.is_dash(k),
                    matches!(loaded.get(k), Some((_, _, Kind::Dash))),
                    "{:?} {}", line, k
                );
            }
        }
    }

    #[test]
    fn learner_takes_the_shape_four_in_five_lines_share() {
        let mut learner = Learner::default();
        for _ in 0..9 {
            learner.sample("Jun 14 15:16:01 combo sshd[1]: x");
        }
        learner.sample("free text");
        let shape = learner.learnt().expect("a shape");
        assert_eq!(shape.len(), 5);
        assert_eq!(
            learnt_start("Jun 14 15:16:01 combo no colon here", &shape),
            "Jun 14 15:16:01 combo no ".len()
        );
        // A line of a traceback has no date where the shape has one.
        assert_eq!(learnt_start("  at com.example.Main.run(Main.java:3)", &shape), 0);
        let mut mixed = Learner::default();
        mixed.sample("free text");
        mixed.sample("Jun 14 15:16:01 combo sshd[1]: x");
        assert_eq!(mixed.learnt(), None);
    }
}
