//! Failure records from the reports tools already write: JUnit XML test reports and
//! raw log files with multi-line tracebacks, beside the JSON records of `record.rs`.
//!
//! An input's format is told by its content ([`detect`]): `<` starts XML, `{` or `[`
//! JSON, anything else is a log. In a log, a record is a traceback — Python
//! (`Traceback (most recent call last):` to the `Type: message` line, chained ones
//! included), Java (`Exception in thread "…" Type: message` or `Type: message`
//! followed by `at` frames, `Caused by:` and `... N more`), Rust (`thread '…'
//! panicked at` with its message and backtrace) and Go (`panic:` with its goroutine
//! stacks) — or a line whose message reads `SomeError: message`. Every record
//! remembers the line it starts on.

use quick_xml::events::Event;

use crate::header::{HeaderMode, message_start};
use crate::signature::split_type;

/// The format of an input file or of stdin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Told by the content: XML is JUnit, `{`/`[` is JSON (or JSON Lines), else a log.
    #[default]
    Auto,
    /// A JSON record or an array of records.
    Json,
    /// One JSON record per line.
    Jsonl,
    /// A JUnit XML report (`<testsuites>`/`<testsuite>` with `<testcase>`s).
    Junit,
    /// A log file: tracebacks and `SomeError: message` lines.
    Log,
}

impl InputFormat {
    /// `auto`, `json`, `jsonl`, `junit` or `log`.
    pub fn parse(text: &str) -> Option<InputFormat> {
        Some(match text {
            "auto" => InputFormat::Auto,
            "json" => InputFormat::Json,
            "jsonl" => InputFormat::Jsonl,
            "junit" => InputFormat::Junit,
            "log" => InputFormat::Log,
            _ => return None,
        })
    }
}

/// The format of `bytes` by their first non-blank byte.
pub(crate) fn detect(bytes: &[u8]) -> InputFormat {
    match bytes.trim_ascii_start().first() {
        Some(b'<') => InputFormat::Junit,
        Some(b'{' | b'[') => InputFormat::Json,
        _ => InputFormat::Log,
    }
}

/// One failure found in a report or a log, before it becomes a [`crate::Record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) error_type: String,
    pub(crate) message: String,
    pub(crate) traceback: Option<String>,
    /// 1-based line of the input where it starts.
    pub(crate) line: usize,
}

/// The 1-based line of byte offset `at`.
fn line_at(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at.min(bytes.len())].iter().filter(|&&c| c == b'\n').count()
}

/// The failures and errors of a JUnit XML report. `Err` names the line and what is
/// wrong when the XML is malformed.
pub(crate) fn junit(bytes: &[u8]) -> Result<Vec<Found>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("invalid UTF-8 at line {}", line_at(bytes, e.valid_up_to())))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut found = Vec::new();
    // The open `<failure>`/`<error>`: (kind, type, message, line, text so far).
    let mut open: Option<(&'static str, String, String, usize, String)> = None;
    let mut saw_testcase = false;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| format!("malformed XML at line {} ({e})", line_at(bytes, at)))?;
        match event {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == b"testcase" => {
                saw_testcase = true;
            }
            Event::Start(ref e) | Event::Empty(ref e)
                if matches!(e.local_name().as_ref(), b"failure" | b"error") =>
            {
                let kind = if e.local_name().as_ref() == b"failure" { "failure" } else { "error" };
                let mut ty = String::new();
                let mut message = String::new();
                for attr in e.attributes().flatten() {
                    let value = attr.unescape_value().map_err(|err| {
                        format!("malformed XML at line {} ({err})", line_at(bytes, at))
                    })?;
                    match attr.key.local_name().as_ref() {
                        b"type" => ty = value.into_owned(),
                        b"message" => message = value.into_owned(),
                        _ => {}
                    }
                }
                let line = line_at(bytes, at);
                if matches!(event, Event::Empty(_)) {
                    found.push(failure(kind, ty, message, String::new(), line));
                } else {
                    open = Some((kind, ty, message, line, String::new()));
                }
            }
            Event::Text(t) => {
                if let Some(open) = open.as_mut() {
                    let piece = t.xml_content().map_err(|e| {
                        format!("malformed XML at line {} ({e})", line_at(bytes, at))
                    })?;
                    open.4.push_str(&piece);
                }
            }
            Event::CData(t) => {
                if let Some(open) = open.as_mut() {
                    open.4.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(open) = open.as_mut() {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => open.4.push(c),
                        _ => match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => open.4.push_str(s),
                            None => {
                                return Err(format!(
                                    "malformed XML at line {} (unknown entity `&{name};`)",
                                    line_at(bytes, at)
                                ));
                            }
                        },
                    }
                }
            }
            Event::End(e) if matches!(e.local_name().as_ref(), b"failure" | b"error") => {
                if let Some((kind, ty, message, line, text)) = open.take() {
                    found.push(failure(kind, ty, message, text, line));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_testcase {
        return Err("XML without <testcase>: not a JUnit report".into());
    }
    Ok(found)
}

/// A JUnit `<failure>` or `<error>` as a record: its `type`, else the type its
/// message or text starts with, else `AssertionError` for a failure (an assertion
/// that did not hold) and `Error` for an error.
fn failure(kind: &str, ty: String, message: String, text: String, line: usize) -> Found {
    let text = text.trim_matches('\n').to_owned();
    let mut message = if message.trim().is_empty() {
        text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_owned()
    } else {
        message
    };
    let mut error_type = ty.trim().to_owned();
    if let Some((t, rest)) = split_type(&message) {
        // `message="AssertionError: assert 1 == 2"`: the type is not part of it.
        if error_type.is_empty() || error_type == t {
            error_type = t.to_owned();
            message = rest.to_owned();
        }
    }
    if error_type.is_empty() {
        error_type = if kind == "failure" { "AssertionError" } else { "Error" }.to_owned();
    }
    Found { error_type, message, traceback: (!text.is_empty()).then_some(text), line }
}

/// The failures of a raw log: its tracebacks and its `SomeError: message` lines.
pub(crate) fn log(text: &str) -> Vec<Found> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let message = after_header(lines[i]);
        let (end, record) = if message.contains("Traceback (most recent call last):") {
            python(&lines, i)
        } else if let Some(r) = rust(&lines, i, message) {
            r
        } else if let Some(r) = go(&lines, i, message) {
            r
        } else if let Some(r) = java(&lines, i, message) {
            r
        } else if let Some((ty, rest)) = split_type(message) {
            let found = Found {
                error_type: ty.to_owned(),
                message: rest.to_owned(),
                traceback: None,
                line: i + 1,
            };
            (i + 1, Some(found))
        } else {
            (i + 1, None)
        };
        found.extend(record);
        i = end.max(i + 1);
    }
    found
}

/// The message of a log line: what follows its header (time, level, logger).
fn after_header(line: &str) -> &str {
    &line[message_start(line, &HeaderMode::Auto)..]
}

fn joined(lines: &[&str]) -> String {
    lines.join("\n")
}

/// A Python traceback from line `start`: frames, then `Type: message`; chained
/// tracebacks ("During handling of the above exception…") belong to it.
fn python(lines: &[&str], start: usize) -> (usize, Option<Found>) {
    let mut i = start + 1;
    let mut error: Option<(String, String)> = None;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with([' ', '\t']) || (line.is_empty() && error.is_none()) {
            i += 1;
            continue;
        }
        let trimmed = line.trim();
        if trimmed.starts_with("Traceback (most recent call last):")
            || trimmed.starts_with("During handling of the above exception")
            || trimmed.starts_with("The above exception was the direct cause")
        {
            error = None;
            i += 1;
            continue;
        }
        if error.is_some() {
            // A blank line between chained tracebacks; anything else ends it.
            if trimmed.is_empty()
                && lines.get(i + 1).is_some_and(|n| {
                    n.trim().starts_with("During handling")
                        || n.trim().starts_with("The above exception")
                })
            {
                i += 1;
                continue;
            }
            break;
        }
        match split_type(trimmed) {
            Some((ty, message)) => error = Some((ty.to_owned(), message.to_owned())),
            // `KeyboardInterrupt`, a bare type on its own line.
            None if is_bare_type(trimmed) => error = Some((trimmed.to_owned(), String::new())),
            None => break,
        }
        i += 1;
    }
    let record = error.map(|(error_type, message)| Found {
        error_type,
        message,
        traceback: Some(joined(&lines[start..i])),
        line: start + 1,
    });
    (i, record)
}

fn is_bare_type(s: &str) -> bool {
    ["Error", "Exception", "Interrupt", "Exit"].iter().any(|e| s.ends_with(e))
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_'))
}

/// A Java stack trace: `Exception in thread "main" Type: message` or a
/// `Type: message` line followed by `at` frames, with `Caused by:`, `Suppressed:`
/// and `... N more` lines. The record is the exception thrown (the first line).
fn java(lines: &[&str], start: usize, message: &str) -> Option<(usize, Option<Found>)> {
    let head = message
        .strip_prefix("Exception in thread \"")
        .and_then(|r| r.split_once("\" "))
        .map_or(message, |(_, rest)| rest);
    let (ty, msg) = split_type(head)?;
    let is_frame = |l: &str| {
        let t = l.trim_start();
        t.starts_with("at ")
            || t.starts_with("Caused by:")
            || t.starts_with("Suppressed:")
            || (t.starts_with("... ") && t.ends_with(" more"))
    };
    if !lines.get(start + 1).is_some_and(|l| is_frame(l)) {
        return None;
    }
    let mut i = start + 1;
    while i < lines.len() && is_frame(lines[i]) {
        i += 1;
    }
    let found = Found {
        error_type: ty.to_owned(),
        message: msg.to_owned(),
        traceback: Some(joined(&lines[start..i])),
        line: start + 1,
    };
    Some((i, Some(found)))
}

/// A Rust panic: `thread 'main' panicked at src/x.rs:3:5:`, the message on the next
/// line (or quoted on the same line before Rust 1.73), then `note:` lines and an
/// optional `stack backtrace:` of numbered frames and `at` lines.
fn rust(lines: &[&str], start: usize, message: &str) -> Option<(usize, Option<Found>)> {
    if !(message.starts_with("thread '") && message.contains("' panicked at ")) {
        return None;
    }
    let quoted = message.split_once("' panicked at ").is_some_and(|(_, a)| a.starts_with('\''));
    let mut i = start + 1;
    if !quoted && i < lines.len() {
        // The message, which may run over several lines until a note or backtrace.
        while i < lines.len()
            && !lines[i].starts_with("note:")
            && !lines[i].starts_with("stack backtrace:")
            && !lines[i].trim().is_empty()
            && i < start + 20
        {
            i += 1;
        }
    }
    while i < lines.len() {
        let t = lines[i].trim_start();
        let frame = t.starts_with("note:")
            || t.starts_with("stack backtrace:")
            || t.starts_with("at ")
            || t.split_once(": ")
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
        if !frame {
            break;
        }
        i += 1;
    }
    let text = joined(&lines[start..i]);
    let (error_type, message) = crate::signature::error_of_traceback(&text)?;
    Some((i, Some(Found { error_type, message, traceback: Some(text), line: start + 1 })))
}

/// A Go panic: `panic: message`, then goroutine stacks (`goroutine 1 [running]:`,
/// function lines, tab-indented file lines, `created by`), up to `exit status N`.
fn go(lines: &[&str], start: usize, message: &str) -> Option<(usize, Option<Found>)> {
    let rest = message.strip_prefix("panic: ")?;
    let mut i = start + 1;
    let mut saw_goroutine = false;
    while i < lines.len() {
        let l = lines[i];
        let t = l.trim();
        let part = t.is_empty()
            || t.starts_with("goroutine ")
            || l.starts_with('\t')
            || t.starts_with("created by ")
            || t.starts_with("exit status ")
            || t.starts_with("panic: ")
            || t.starts_with("[recovered]")
            || (saw_goroutine && t.ends_with(')'));
        if !part {
            break;
        }
        saw_goroutine |= t.starts_with("goroutine ");
        i += 1;
    }
    // Trailing blank lines are not part of it.
    while i > start + 1 && lines[i - 1].trim().is_empty() {
        i -= 1;
    }
    let message = rest.strip_suffix(" [recovered]").unwrap_or(rest).to_owned();
    let found = Found {
        error_type: "panic".into(),
        message,
        traceback: saw_goroutine.then(|| joined(&lines[start..i])),
        line: start + 1,
    };
    Some((i, Some(found)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_content() {
        assert_eq!(detect(b"  <?xml version=\"1.0\"?><testsuite/>"), InputFormat::Junit);
        assert_eq!(detect(b"\n{\"type\":\"E\"}"), InputFormat::Json);
        assert_eq!(detect(b"[]"), InputFormat::Json);
        assert_eq!(detect(b"2026-01-01 ERROR x"), InputFormat::Log);
    }

    #[test]
    fn junit_failures_and_errors() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="pytest" tests="3">
    <testcase classname="tests.test_io" name="test_read" time="0.1">
      <failure message="AssertionError: assert 1 == 2">def test_read():
&gt;       assert 1 == 2
E       assert 1 == 2</failure>
    </testcase>
    <testcase classname="com.acme.PoolTest" name="take">
      <error type="java.lang.IllegalStateException" message="closed"><![CDATA[java.lang.IllegalStateException: closed
	at com.acme.Pool.take(Pool.java:41)]]></error>
    </testcase>
    <testcase classname="t" name="ok"/>
    <testcase classname="t" name="bare"><failure/></testcase>
  </testsuite>
</testsuites>"#;
        let got = junit(xml.as_bytes()).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].error_type, "AssertionError");
        assert_eq!(got[0].message, "assert 1 == 2");
        assert_eq!(got[0].line, 5);
        assert!(got[0].traceback.as_deref().is_some_and(|t| t.contains(">       assert 1 == 2")));
        assert_eq!(got[1].error_type, "java.lang.IllegalStateException");
        assert_eq!(got[1].message, "closed");
        assert_eq!(got[1].line, 10);
        assert!(got[1].traceback.as_deref().is_some_and(|t| t.contains("at com.acme.Pool.take")));
        assert_eq!((got[2].error_type.as_str(), got[2].line), ("AssertionError", 14));
        let err =
            junit(b"<testsuite>\n<testcase>\n<failure message=\"x\">\n</error>").expect_err("bad");
        assert!(err.starts_with("malformed XML at line 4"), "{err}");
        assert!(junit(b"<html><body/></html>").is_err());
    }

    #[test]
    fn log_tracebacks_of_four_languages() {
        let log_text = "2026-11-25 10:00:00,001 INFO [main] app.Server: started
2026-11-25 10:00:01,002 ERROR [main] app.Jobs: job failed
Traceback (most recent call last):
  File \"/srv/app/jobs.py\", line 88, in run
    load(x)
  File \"/srv/app/store.py\", line 7, in load
    raise KeyError(k)
KeyError: 'run_id'
Exception in thread \"main\" java.lang.IllegalStateException: pool closed
\tat com.acme.Pool.take(Pool.java:41)
\tat java.util.concurrent.FutureTask.run(FutureTask.java:266)
Caused by: java.io.IOException: broken pipe
\tat com.acme.Conn.write(Conn.java:9)
\t... 3 more
thread 'main' panicked at src/main.rs:10:5:
index out of bounds: the len is 3 but the index is 7
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
panic: runtime error: invalid memory address or nil pointer dereference

goroutine 1 [running]:
main.handle(0x0)
\t/srv/app/main.go:12 +0x1d
main.main()
\t/srv/app/main.go:20 +0x25
exit status 2
2026-11-25 10:00:09,000 WARN [main] app.Jobs: ValueError: bad id 42
2026-11-25 10:00:10,000 INFO [main] app.Jobs: done
";
        let got = log(log_text);
        let summary: Vec<(&str, &str, usize)> =
            got.iter().map(|f| (f.error_type.as_str(), f.message.as_str(), f.line)).collect();
        assert_eq!(
            summary,
            [
                ("KeyError", "'run_id'", 3),
                ("java.lang.IllegalStateException", "pool closed", 9),
                ("panic", "index out of bounds: the len is 3 but the index is 7", 15),
                ("panic", "runtime error: invalid memory address or nil pointer dereference", 18),
                ("ValueError", "bad id 42", 26),
            ]
        );
        assert!(got[0].traceback.as_deref().is_some_and(|t| t.ends_with("KeyError: 'run_id'")));
        assert!(
            got[1]
                .traceback
                .as_deref()
                .is_some_and(|t| t.contains("Caused by: java.io.IOException"))
        );
        assert!(got[3].traceback.as_deref().is_some_and(|t| t.ends_with("exit status 2")));
    }

    #[test]
    fn chained_python_tracebacks_are_one_record() {
        let text = "Traceback (most recent call last):
  File \"/a.py\", line 1, in f
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/a.py\", line 3, in g
ValueError: bad
next line";
        let got = log(text);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].error_type.as_str(), got[0].message.as_str()), ("ValueError", "bad"));
    }
}
