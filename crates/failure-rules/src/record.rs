//! Failure records and reading them from JSON files, JSON Lines and stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSetBuilder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::source::InputFormat;

/// The inputs read when none are given.
pub const DEFAULT_GLOB: &str = ".autonomous_runs/**/errors/*.{json,jsonl}";

/// The most bytes read from one input (a file or stdin). Error records are small; the
/// cap is far above any real input (the tests read a 10 MB message) and bounds the
/// memory a stray disk image or log matched by a glob could take. Larger inputs are
/// skipped with a reason, like malformed ones.
pub const MAX_INPUT_BYTES: u64 = 256 * 1024 * 1024;

/// One recorded failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// `error_type` (or `type`) of the record.
    pub error_type: String,
    /// The error message.
    pub message: String,
    /// A traceback, if recorded.
    pub traceback: Option<String>,
    /// When it happened.
    pub timestamp: Option<OffsetDateTime>,
    /// The evidence key of the record: its `run_id`, else the run directory of its
    /// file (`.autonomous_runs/RUN/errors/…`), else its input (file name or
    /// `<stdin>`) and a digest of its content (`app.jsonl#3f2a9c1b7d0e`), so that
    /// reading the same input again, even shifted by a line, adds no evidence.
    pub run_id: String,
    /// The record's `scope`, if any.
    pub scope: Option<String>,
    /// Where it was read: `file` or `file:line`.
    pub source: String,
}

/// An input that was reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file (and line).
    pub source: String,
    /// Why it was skipped.
    pub reason: String,
}

/// What was read.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The records, in the order of the sorted input files.
    pub records: Vec<Record>,
    /// The inputs reported and skipped.
    pub skipped: Vec<Skipped>,
    /// Number of files read.
    pub files: usize,
    /// Glob patterns (the default one included) that matched no file.
    pub unmatched: Vec<String>,
}

/// Reads records from `inputs` (files, directories, glob patterns relative to `base`,
/// or `-` for stdin); with no inputs, [`DEFAULT_GLOB`] under `base`. Records older
/// than `since` (by `timestamp`, else file modification time) are left out.
pub fn load(inputs: &[String], base: &Path, since: Option<OffsetDateTime>) -> Result<Loaded> {
    load_as(inputs, base, since, InputFormat::Auto)
}

/// Like [`load`], reading every input as `format` (`Auto`: by content, see
/// [`InputFormat`]). Directories contribute their `.json`, `.jsonl`, `.xml` and
/// `.log` files.
pub fn load_as(
    inputs: &[String],
    base: &Path,
    since: Option<OffsetDateTime>,
    format: InputFormat,
) -> Result<Loaded> {
    let mut loaded = Loaded::default();
    let default = [DEFAULT_GLOB.to_owned()];
    let inputs = if inputs.is_empty() { &default[..] } else { inputs };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stdin = false;
    for input in inputs {
        if input == "-" {
            stdin = true;
            continue;
        }
        let path = base.join(input);
        if path.is_dir() {
            walk(&path, &mut |p| {
                if matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("json" | "jsonl" | "xml" | "log")
                ) {
                    files.push(p.to_path_buf());
                }
            });
        } else if std::fs::symlink_metadata(&path).is_ok() {
            // A file, or a FIFO, device or dangling link that reading reports and skips.
            files.push(path);
        } else if input.contains(['*', '?', '[', '{']) {
            let glob = Glob::new(input).map_err(|e| Error::pattern(input, e.to_string()))?;
            let set = GlobSetBuilder::new()
                .add(glob)
                .build()
                .map_err(|e| Error::pattern(input, e.to_string()))?;
            // Walk from the literal directory prefix of the pattern.
            let literal: Vec<&str> =
                input.split('/').take_while(|c| !c.contains(['*', '?', '[', '{'])).collect();
            let root = base.join(literal.join("/"));
            let absolute = Path::new(input).is_absolute();
            let before = files.len();
            walk(&root, &mut |p| {
                // A relative pattern matches paths relative to `base`.
                let candidate = if absolute { Some(p) } else { p.strip_prefix(base).ok() };
                if candidate.is_some_and(|c| set.is_match(c)) {
                    files.push(p.to_path_buf());
                }
            });
            if files.len() == before {
                loaded.unmatched.push(input.clone());
            }
        } else {
            loaded.skipped.push(Skipped {
                source: input.clone(),
                reason: "no such file or directory".into(),
            });
        }
    }
    files.sort();
    files.dedup();
    for file in &files {
        read_file(file, base, since, format, &mut loaded);
    }
    if stdin {
        let mut bytes = Vec::new();
        let read = std::io::stdin().lock().take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes);
        let skip = |reason: String| Skipped { source: "<stdin>".into(), reason };
        match read {
            Ok(_) if bytes.len() as u64 > MAX_INPUT_BYTES => {
                loaded.skipped.push(skip(format!("over the {MAX_INPUT_BYTES}-byte limit")));
            }
            Ok(_) => parse_as(&bytes, "<stdin>", None, since, None, format, &mut loaded),
            Err(e) => loaded.skipped.push(skip(e.to_string())),
        }
    }
    Ok(loaded)
}

/// Parses records from the bytes of one input (a JSON document or JSON Lines).
pub fn parse(bytes: &[u8], source: &str) -> Loaded {
    let mut loaded = Loaded::default();
    parse_bytes(bytes, source, None, None, None, &mut loaded);
    loaded
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
        if meta.is_dir() {
            walk(&path, f);
        } else if !(meta.is_symlink() && path.is_dir()) {
            // Files, and symlinks to files, FIFOs, devices and sockets: reading takes
            // the regular ones and reports the rest. Links to directories are not
            // followed, so a link loop cannot hang the walk.
            f(&path);
        }
    }
}

/// Why a file was not read, without its path (the caller names it).
fn unreadable(error: &tidy_io::Error) -> String {
    match error {
        tidy_io::Error::NotRegular { kind, .. } => format!("a {kind}, not a regular file"),
        tidy_io::Error::TooLarge { limit, .. } => format!("over the {limit}-byte limit"),
        tidy_io::Error::Io { source, .. } => source.to_string(),
        other => other.reason(),
    }
}

fn read_file(
    file: &Path,
    base: &Path,
    since: Option<OffsetDateTime>,
    format: InputFormat,
    loaded: &mut Loaded,
) {
    let shown = file.strip_prefix(base).unwrap_or(file).display().to_string();
    // Only regular files: a FIFO is refused at once instead of waiting for a writer.
    let bytes = match tidy_io::read_file(file, MAX_INPUT_BYTES) {
        Ok(b) => b,
        Err(e) => {
            loaded.skipped.push(Skipped { source: shown, reason: unreadable(&e) });
            return;
        }
    };
    loaded.files += 1;
    let mtime = std::fs::metadata(file).and_then(|m| m.modified()).ok().map(OffsetDateTime::from);
    let run = run_of(&shown);
    // A `.json` or `.jsonl` file is JSON whatever it holds, so that a broken one is
    // reported as such instead of being read as a log.
    let format = match (format, file.extension().and_then(|e| e.to_str())) {
        (InputFormat::Auto, Some("jsonl")) => InputFormat::Jsonl,
        (InputFormat::Auto, Some("json")) => InputFormat::Json,
        (other, _) => other,
    };
    parse_as(&bytes, &shown, mtime, since, run, format, loaded);
}

/// Parses one input as `format` (`Auto`: by its content).
fn parse_as(
    bytes: &[u8],
    source: &str,
    mtime: Option<OffsetDateTime>,
    since: Option<OffsetDateTime>,
    run: Option<&str>,
    format: InputFormat,
    loaded: &mut Loaded,
) {
    // Nothing at all is no records, whatever the format.
    if bytes.trim_ascii().is_empty() {
        return;
    }
    let format = match format {
        InputFormat::Auto => crate::source::detect(bytes),
        other => other,
    };
    let found = match format {
        InputFormat::Auto | InputFormat::Json => {
            return parse_bytes(bytes, source, mtime, since, run, loaded);
        }
        InputFormat::Jsonl => return parse_lines(bytes, source, mtime, since, run, loaded),
        InputFormat::Junit => match crate::source::junit(bytes) {
            Ok(found) => found,
            Err(reason) => {
                loaded.skipped.push(Skipped { source: source.to_owned(), reason });
                return;
            }
        },
        InputFormat::Log => crate::source::log(&String::from_utf8_lossy(bytes)),
    };
    for f in found {
        let at = format!("{source}:{}", f.line);
        let run_id = match run {
            Some(run) => run.to_owned(),
            None => content_key(
                &at,
                [&f.error_type, &f.message, f.traceback.as_deref().unwrap_or(""), ""],
            ),
        };
        if let (Some(since), Some(when)) = (since, mtime)
            && when < since
        {
            continue;
        }
        loaded.records.push(Record {
            error_type: f.error_type,
            message: f.message,
            traceback: f.traceback,
            timestamp: None,
            run_id,
            scope: None,
            source: at,
        });
    }
}

/// `.autonomous_runs/RUN/errors/x.json` → `RUN`; `None` for a file in no run.
fn run_of(shown: &str) -> Option<&str> {
    let parts: Vec<&str> = shown.split(['/', '\\']).collect();
    match parts.iter().position(|p| *p == "errors") {
        Some(i) if i > 0 => Some(parts[i - 1]),
        _ => None,
    }
}

/// The input a source names: `app.jsonl:4` → `app.jsonl`, `a.json[2]` → `a.json`.
fn input_of(source: &str) -> &str {
    if let Some(open) = source.rfind('[')
        && source.ends_with(']')
        && source[open + 1..source.len() - 1].bytes().all(|c| c.is_ascii_digit())
    {
        return &source[..open];
    }
    match source.rsplit_once(':') {
        Some((input, line)) if !line.is_empty() && line.bytes().all(|c| c.is_ascii_digit()) => {
            input
        }
        _ => source,
    }
}

/// The evidence key of a record in no run: its input and a digest of what it says.
fn content_key(source: &str, fields: [&str; 4]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for field in fields {
        hasher.update(field.as_bytes());
        // A separator no field holds, so that ("ab", "c") and ("a", "bc") differ.
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}#{hex}", input_of(source))
}

fn parse_bytes(
    bytes: &[u8],
    source: &str,
    mtime: Option<OffsetDateTime>,
    since: Option<OffsetDateTime>,
    run: Option<&str>,
    loaded: &mut Loaded,
) {
    let trimmed = bytes.trim_ascii_start();
    // Nothing at all (`grep ERROR log | failure-rules analyze -` that matched nothing)
    // is no records, not a malformed input.
    if trimmed.is_empty() {
        return;
    }
    if trimmed.first() == Some(&b'[') || !looks_like_lines(trimmed) {
        match serde_json::from_slice::<serde_json::Value>(bytes) {
            Ok(serde_json::Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    let at = format!("{source}[{i}]");
                    push_record(item, &at, mtime, since, run, loaded);
                }
            }
            Ok(value) => push_record(value, source, mtime, since, run, loaded),
            Err(e) => {
                loaded.skipped.push(Skipped { source: source.to_owned(), reason: json_reason(&e) })
            }
        }
    } else {
        parse_lines(bytes, source, mtime, since, run, loaded);
    }
}

/// More than one line, the first a whole JSON object on one line: JSON Lines. Only
/// the first line decides, so that one malformed line is skipped on its own instead
/// of making the whole input one malformed document.
fn looks_like_lines(bytes: &[u8]) -> bool {
    let mut lines = bytes.split(|&c| c == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty());
    let first_is_object =
        lines.next().is_some_and(|l| l.first() == Some(&b'{') && l.last() == Some(&b'}'));
    first_is_object && lines.next().is_some()
}

fn parse_lines(
    bytes: &[u8],
    source: &str,
    mtime: Option<OffsetDateTime>,
    since: Option<OffsetDateTime>,
    run: Option<&str>,
    loaded: &mut Loaded,
) {
    for (i, line) in bytes.split(|&c| c == b'\n').enumerate() {
        if line.trim_ascii().is_empty() {
            continue;
        }
        let at = format!("{source}:{}", i + 1);
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(value) => push_record(value, &at, mtime, since, run, loaded),
            Err(e) => loaded.skipped.push(Skipped { source: at, reason: json_reason(&e) }),
        }
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.contains("invalid unicode") || msg.contains("UTF-8") || msg.contains("utf-8") {
        format!("invalid UTF-8 ({msg})")
    } else {
        format!("malformed JSON ({msg})")
    }
}

fn push_record(
    value: serde_json::Value,
    source: &str,
    mtime: Option<OffsetDateTime>,
    since: Option<OffsetDateTime>,
    run: Option<&str>,
    loaded: &mut Loaded,
) {
    match record_from(value, source, run) {
        Ok(record) => {
            let when = record.timestamp.or(mtime);
            if let (Some(since), Some(when)) = (since, when)
                && when < since
            {
                return;
            }
            loaded.records.push(record);
        }
        Err(reason) => loaded.skipped.push(Skipped { source: source.to_owned(), reason }),
    }
}

fn record_from(
    value: serde_json::Value,
    source: &str,
    run: Option<&str>,
) -> Result<Record, String> {
    let serde_json::Value::Object(map) = value else {
        return Err("a record must be a JSON object".into());
    };
    let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let error_type = text("error_type")
        .or_else(|| text("type"))
        .filter(|t| !t.trim().is_empty())
        .ok_or("record has no `error_type` or `type`")?;
    let message = text("message").ok_or("record has no `message`")?;
    let timestamp = match map.get("timestamp") {
        Some(serde_json::Value::String(s)) => OffsetDateTime::parse(s, &Rfc3339).ok(),
        // Epoch seconds, or milliseconds when too large to be seconds (after 5138).
        Some(serde_json::Value::Number(n)) => n.as_f64().and_then(|t| {
            let secs = if t > 1e11 { t / 1000.0 } else { t };
            OffsetDateTime::from_unix_timestamp(secs as i64).ok()
        }),
        _ => None,
    };
    let traceback = text("traceback");
    let stamp = map.get("timestamp").map(ToString::to_string).unwrap_or_default();
    let run_id = text("run_id").or_else(|| run.map(str::to_owned)).unwrap_or_else(|| {
        content_key(source, [&error_type, &message, traceback.as_deref().unwrap_or(""), &stamp])
    });
    Ok(Record {
        error_type: error_type.trim().to_owned(),
        message,
        traceback,
        timestamp,
        run_id,
        scope: text("scope"),
        source: source.to_owned(),
    })
}
