//! The command-line interface of `failure-rules`: arguments in, a library call,
//! rendering, exit code out. Public (behind the `cli` feature) so that the binary,
//! the repository-root hook package and `cargo xtask dist` (completions, man pages)
//! share one definition.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate as fr;
use clap::{Parser, Subcommand, ValueEnum};
use multilock::subsystem::LockArgs;
use tidy_io::cli::{self, PipeOut, exit};
use tidy_io::{Durability, Perms};

/// The name every stderr line starts with.
const TOOL: &str = "failure-rules";

/// Exit code: success; nothing found is not an error.
const SUCCESS: u8 = exit::OK;
/// Exit code: `match` found no rule.
const NO_MATCH: u8 = exit::FINDINGS;
/// Exit code: usage or input error (bad flag, unreadable or malformed file, a rules
/// file or output path that is not a regular file, corrupt rules file, a lock asked
/// for against the order rule; a lock busy past `--lock-timeout` is 75).
/// `analyze` still analyses the readable inputs and writes its report
/// before exiting 2 for the ones it skipped.
const INPUT_ERROR: u8 = exit::USAGE;

#[derive(Parser)]
#[command(
    name = "failure-rules",
    version,
    about = "Stable error signatures, grouping and a mitigation rules file other tools query",
    after_help = "Examples:
  failure-rules analyze                  # dry run over the recorded runs
  failure-rules analyze --since-days 30 --max 25 --execute
  failure-rules analyze runs.jsonl --format json --output-report top.md
  grep ERROR app.log | failure-rules normalize --format jsonl
  failure-rules normalize --mine --format tsv < app.log
  failure-rules match --type TimeoutError --message 'read timed out after 30s'

`analyze --execute` writes the rules file under the multilock lock `docs`, in the
lock directory in use (--lock-dir, $MULTILOCK_DIR, a parent `multilock run`'s), else
.multilock at the repository root; a parent run's hold is used.

Exit codes: 0 success, 1 no matching rule (match), 2 usage or input error,
75 the docs lock stayed busy past --lock-timeout."
)]
struct Cli {
    #[command(flatten)]
    global: cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Group recorded failures, rank them and propose rules (a dry run without --execute).
    #[command(after_help = "Examples:
  failure-rules analyze
  failure-rules analyze '.autonomous_runs/2026-*/errors/*.json' --max 10
  cat errors.jsonl | failure-rules analyze - --format json
  failure-rules analyze --execute --rules docs/LEARNED_ERROR_MITIGATIONS.json

Inputs are files (.json: a record or an array of records; .jsonl: one per line; JUnit
XML reports; logs, whose tracebacks and `SomeError: message` lines are the records),
directories, glob patterns, or - for stdin. Other files are told by content
(--input-format to force). Malformed inputs are reported and skipped; the exit code is
then 2.")]
    Analyze {
        /// Files, directories, globs or `-` (default: .autonomous_runs/**/errors/*.{json,jsonl}
        /// in the repository).
        inputs: Vec<String>,
        /// Keep records of the last N days (by timestamp, else file mtime).
        #[arg(long, value_name = "N")]
        since_days: Option<u32>,
        /// Show (and apply) at most N groups, the most frequent first.
        #[arg(long, value_name = "N")]
        max: Option<usize>,
        /// The rules file (default: docs/LEARNED_ERROR_MITIGATIONS.json in the repository).
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Append new rules and update existing ones (under the `docs` lock).
        #[arg(long)]
        execute: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        /// Also write the report to FILE (Markdown for .md, JSON for .json, else --format;
        /// - is stdout, where the report is printed anyway).
        #[arg(long, value_name = "FILE")]
        output_report: Option<PathBuf>,
        #[command(flatten)]
        locks: LockArgs,
        /// How inputs are read: by content (`auto`: XML is a JUnit report, `{`/`[` JSON,
        /// else a log with tracebacks), or all as `json`, `jsonl`, `junit` or `log`.
        #[arg(long, value_name = "FORMAT", default_value = "auto")]
        input_format: String,
        /// Occurrences for high confidence.
        #[arg(long, value_name = "N", default_value_t = 10)]
        high: u64,
        /// Occurrences for medium confidence.
        #[arg(long, value_name = "N", default_value_t = 5)]
        medium: u64,
    },
    /// Normalize one message per stdin line into a signature and id, in input order.
    #[command(after_help = "Examples:
  printf 'ValueError: bad id 42\\n' | failure-rules normalize --format jsonl
  failure-rules normalize --mine --type OSError < messages.txt
  tail -f app.log | failure-rules normalize --format jsonl
  failure-rules normalize --header '\\S+ \\S+ (?<message>.*)' < app.log

Output: jsonl {\"line\":N,\"signature\":\"...\",\"id\":\"rule_...\"}; tsv N<TAB>id<TAB>signature.
A line's header (time, level, host, component, pid) is found by shape and left out;
lines whose signatures differ only in the kinds of their variables share an id.
Without --type, a leading `SomeError:` of the message is its type. Each result is
written as soon as it is known (--mine: after the last line).")]
    Normalize {
        /// Mine templates across all lines (words that vary become <*>).
        #[arg(long)]
        mine: bool,
        /// The error type of every line.
        #[arg(long = "type", value_name = "TYPE")]
        error_type: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = LineFormat::Tsv)]
        format: LineFormat,
        /// How a line's header (time, level, host, component, pid) is found: `auto`
        /// (by shape), `none` (the line is the message), or a regular expression
        /// matched at the start of the line (its `message` group, else what follows).
        #[arg(long, value_name = "auto|none|REGEX", default_value = "auto")]
        header: String,
        /// Write each result line at once (the default when stdout is a terminal).
        #[arg(long)]
        line_buffered: bool,
    },
    /// Print the rule that applies to an error; exit 1 if none does.
    #[command(after_help = "Examples:
  failure-rules match --type sqlite3.OperationalError --message 'database is locked'
  failure-rules match --message 'TimeoutError: read timed out after 30s'
  failure-rules match --traceback crash.txt
  failure-rules match --rules rules.json --type KeyError --message \"'user_id'\" --format json

Without --type, a leading `SomeError:` of the message is the type; without --message,
the traceback's error line (Python's last, Java's, Rust's and Go's first) gives both.")]
    Match {
        /// The rules file (missing: the bootstrap rules; default:
        /// docs/LEARNED_ERROR_MITIGATIONS.json in the repository).
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// The error type.
        #[arg(long = "type", value_name = "TYPE")]
        error_type: Option<String>,
        /// The error message.
        #[arg(long, value_name = "TEXT")]
        message: Option<String>,
        /// A file holding the traceback (`-` for stdin): its in-app frames are part of
        /// the signature.
        #[arg(long, value_name = "FILE")]
        traceback: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = MatchFormat::Text)]
        format: MatchFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    // `human` is accepted too, as this tool spelt it before 0.1.
    #[value(alias = "human")]
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum LineFormat {
    Tsv,
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum MatchFormat {
    #[value(alias = "human")]
    Text,
    Json,
}

/// The clap definition of the command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs `failure-rules` on the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match cli::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.global.apply();
    let result = match cli.command {
        Command::Analyze {
            inputs,
            since_days,
            max,
            rules,
            execute,
            format,
            output_report,
            locks,
            input_format,
            high,
            medium,
        } => analyze(AnalyzeArgs {
            input_format,
            inputs,
            since_days,
            max,
            rules,
            execute,
            format,
            output_report,
            locks,
            thresholds: fr::Thresholds { high, medium },
        }),
        Command::Normalize { mine, error_type, format, header, line_buffered } => {
            normalize(mine, error_type, format, &header, line_buffered)
        }
        Command::Match { rules, error_type, message, traceback, format } => {
            match_rule(rules, error_type, message, traceback, format)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            cli::error(TOOL, &message);
            ExitCode::from(INPUT_ERROR)
        }
    }
}

struct AnalyzeArgs {
    input_format: String,
    inputs: Vec<String>,
    since_days: Option<u32>,
    max: Option<usize>,
    rules: Option<PathBuf>,
    execute: bool,
    format: ReportFormat,
    output_report: Option<PathBuf>,
    locks: LockArgs,
    thresholds: fr::Thresholds,
}

fn analyze(args: AnalyzeArgs) -> Result<u8, String> {
    // Whole seconds: `created_at` needs no more, and the file stays readable.
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let since = args.since_days.map(|d| now - time::Duration::days(i64::from(d)));
    // The default inputs are the repository's, wherever in it the command runs; inputs
    // given are relative to the working directory, as on any command line.
    let root = repository();
    let base = if args.inputs.is_empty() { root.as_path() } else { Path::new(".") };
    let format = fr::InputFormat::parse(&args.input_format).ok_or_else(|| {
        format!(
            "invalid --input-format `{}`: expected auto, json, jsonl, junit or log",
            args.input_format
        )
    })?;
    let loaded = fr::load_as(&args.inputs, base, since, format).map_err(|e| e.to_string())?;
    for skipped in &loaded.skipped {
        cli::warning(TOOL, &format_args!("skipped {}: {}", skipped.source, skipped.reason));
    }
    cli::verbose(
        TOOL,
        1,
        &format_args!(
            "read {} records from {} files (below {})",
            loaded.records.len(),
            loaded.files,
            base.display()
        ),
    );
    // A pattern that matched nothing, and nothing else read: an input error, not an
    // empty report (a mistyped glob would look like a clean run).
    if loaded.files == 0
        && loaded.records.is_empty()
        && loaded.skipped.is_empty()
        && let Some(pattern) = loaded.unmatched.first()
    {
        return Err(format!(
            "no input: `{pattern}` matched no file in {}",
            if args.inputs.is_empty() { root.display().to_string() } else { ".".into() }
        ));
    }
    let rules_file = args.rules.clone().unwrap_or_else(|| root.join(fr::DEFAULT_RULES_FILE));
    // With --execute the groups are decided against the file as it is under the lock:
    // reading it beforehand too would parse and index every rule twice.
    let rules = if args.execute {
        // Still refused at once when it is no regular file (a FIFO, a device).
        match tidy_io::open_regular(&rules_file) {
            Err(e) if !e.is_not_found() => return Err(e.to_string()),
            _ => {}
        }
        fr::Rules::new(Vec::new())
    } else {
        fr::Rules::new(fr::load_rules(&rules_file).map_err(|e| e.to_string())?)
    };
    let options = fr::AnalyzeOptions { max: args.max, thresholds: args.thresholds, now };
    let mut analysis = fr::analyze(&loaded, &rules, &options);
    if args.execute {
        // Without a lock directory in use, .multilock in the repository: the rules
        // file is always written under `docs`.
        let locking = args.locks.locking("failure-rules");
        if let Err(e) = fr::execute(&mut analysis, &rules_file, &locking, &options) {
            let Some(lock) = e.lock_error() else { return Err(e.to_string()) };
            cli::error(TOOL, &e);
            return Ok(multilock::subsystem::exit_code(lock));
        }
    }
    let rendered = match args.format {
        ReportFormat::Text => fr::render_human(&analysis, cli::color()),
        ReportFormat::Json => fr::render_json(&analysis),
        ReportFormat::Markdown => fr::render_markdown(&analysis),
    };
    emit(&rendered)?;
    // `-` is standard output, where the report in --format was just printed.
    if let Some(path) = args.output_report.as_deref().filter(|p| !tidy_io::is_stdout(p)) {
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("md" | "markdown") => fr::render_markdown(&analysis),
            Some("json") => fr::render_json(&analysis),
            _ => match args.format {
                ReportFormat::Text => fr::render_human(&analysis, false),
                ReportFormat::Json => fr::render_json(&analysis),
                ReportFormat::Markdown => fr::render_markdown(&analysis),
            },
        };
        write_report(path, &text)?;
    }
    Ok(if analysis.skipped.is_empty() { SUCCESS } else { INPUT_ERROR })
}

/// Writes the report file: its directories are made; an existing FIFO, device or
/// `/dev/stdout` is refused, never replaced; a new file gets `0666 & !umask`.
/// Durable, since a report is often committed right after.
fn write_report(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    tidy_io::write_output(path, text.as_bytes(), Perms::Default, Durability::Durable)
        .map_err(|e| e.to_string())?;
    cli::note(TOOL, &format_args!("report written to {}", path.display()));
    Ok(())
}

fn normalize(
    mine: bool,
    error_type: Option<String>,
    format: LineFormat,
    header: &str,
    line_buffered: bool,
) -> Result<u8, String> {
    use std::io::IsTerminal as _;
    let header = fr::HeaderMode::parse(header)?;
    let stdin = std::io::stdin();
    let format = match format {
        LineFormat::Tsv => fr::LineFormat::Tsv,
        LineFormat::Jsonl => fr::LineFormat::Jsonl,
    };
    // `tail -f app.log | failure-rules normalize` on a terminal shows each line at once.
    let line_buffered = line_buffered || std::io::stdout().is_terminal();
    let options = fr::StreamOptions { mine, error_type, header, line_buffered };
    // Stdin redirected from a file can be read twice: mining then needs no memory per
    // line; and it never waits, so there is nothing to flush early for.
    let file = std::os::fd::AsFd::as_fd(&stdin)
        .try_clone_to_owned()
        .ok()
        .map(std::fs::File::from)
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()));
    let output = std::rc::Rc::new(std::cell::RefCell::new(StopWhenClosed(cli::stdout())));
    let mut writer = SharedOut(std::rc::Rc::clone(&output));
    let result = match file {
        Some(file) if mine => fr::normalize_rewindable(
            &mut std::io::BufReader::with_capacity(1 << 16, file),
            &mut writer,
            format,
            &options,
        ),
        Some(file) => fr::normalize_stream(
            &mut std::io::BufReader::with_capacity(1 << 16, file),
            &mut writer,
            format,
            &options,
        ),
        // A pipe or terminal: what is known is written before waiting for more input.
        None => {
            let reader = FlushWhenIdle::spawn(stdin, std::rc::Rc::clone(&output));
            fr::normalize_stream(
                &mut std::io::BufReader::with_capacity(1 << 16, reader),
                &mut writer,
                format,
                &options,
            )
        }
    };
    match result {
        Ok(_) => {}
        // A closed pipe (`| head`) is a normal end, as for ripgrep.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(e) => return Err(format!("cannot normalize stdin: {e}")),
    }
    let _ = output.borrow_mut().flush();
    Ok(SUCCESS)
}

/// The output shared by the normalizer (which writes) and [`FlushWhenIdle`] (which
/// flushes before it waits for input). One thread: their borrows never overlap.
struct SharedOut<W: Write>(std::rc::Rc<std::cell::RefCell<W>>);

impl<W: Write> Write for SharedOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Standard input read by a helper thread in chunks of what is available; when no
/// chunk is ready, the output is flushed before waiting, so results never sit in a
/// buffer while the input is idle (`tail -f | failure-rules normalize | grep`).
struct FlushWhenIdle<W: Write> {
    chunks: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    output: std::rc::Rc<std::cell::RefCell<W>>,
}

impl<W: Write> FlushWhenIdle<W> {
    fn spawn(stdin: std::io::Stdin, output: std::rc::Rc<std::cell::RefCell<W>>) -> Self {
        // A few chunks in flight: the reader stays ahead without unbounded memory.
        let (send, chunks) = std::sync::mpsc::sync_channel(4);
        std::thread::spawn(move || {
            let mut stdin = stdin.lock();
            loop {
                let mut buf = vec![0u8; 1 << 16];
                match std::io::Read::read(&mut stdin, &mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if send.send(Ok(buf)).is_err() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        let _ = send.send(Err(e));
                        break;
                    }
                }
            }
        });
        FlushWhenIdle { chunks, current: Vec::new(), at: 0, output }
    }
}

impl<W: Write> std::io::Read for FlushWhenIdle<W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.current.len() {
            let next = match self.chunks.try_recv() {
                Ok(chunk) => Some(chunk),
                Err(std::sync::mpsc::TryRecvError::Empty) => {
                    self.output.borrow_mut().flush()?;
                    self.chunks.recv().ok()
                }
                Err(std::sync::mpsc::TryRecvError::Disconnected) => None,
            };
            match next {
                Some(chunk) => {
                    self.current = chunk?;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The repository the working directory is in (the nearest ancestor with `.git`),
/// else the working directory itself.
fn repository() -> PathBuf {
    fr::repository_root(Path::new(".")).unwrap_or_default()
}

fn match_rule(
    rules: Option<PathBuf>,
    error_type: Option<String>,
    message: Option<String>,
    traceback: Option<PathBuf>,
    format: MatchFormat,
) -> Result<u8, String> {
    let traceback = match traceback.as_deref() {
        None => None,
        Some(path) if path == Path::new("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
                .map_err(|e| format!("cannot read the traceback from stdin: {e}"))?;
            Some(text)
        }
        Some(path) => {
            let bytes = tidy_io::read_file(path, fr::MAX_INPUT_BYTES).map_err(|e| e.to_string())?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let from_traceback = traceback.as_deref().and_then(fr::error_of_traceback);
    let (error_type, message) = match (error_type, message) {
        (Some(t), Some(m)) => (t, m),
        (None, Some(m)) => match split_leading_type(&m) {
            Some((t, rest)) => (t, rest),
            None => {
                return Err(format!(
                    "match: no --type, and the message `{m}` does not start with `SomeError:`"
                ));
            }
        },
        (t, None) => match from_traceback {
            Some((tt, m)) => (t.unwrap_or(tt), m),
            None if traceback.is_some() => {
                return Err("match: the traceback has no error line (`SomeError: message`) and no --message was given".into());
            }
            None => return Err("match: give --message (and --type), or --traceback FILE".into()),
        },
    };
    let rules_file = rules.unwrap_or_else(|| repository().join(fr::DEFAULT_RULES_FILE));
    let rules = fr::load_rules(&rules_file).map_err(|e| e.to_string())?;
    let signature = fr::signature(&error_type, &message, traceback.as_deref());
    // One lookup: only the rules that could apply are indexed.
    let rule = fr::find_rule(&rules, &signature);
    match format {
        MatchFormat::Text => match rule {
            Some(rule) => emit(&format!(
                "{} ({}, {}, {})\nsignature: {}\nrecommendation: {}\n",
                rule.id,
                rule.confidence.as_str(),
                rule.scope,
                rule.enforcement,
                rule.signature,
                rule.recommendation
            ))?,
            None => cli::note(TOOL, &format_args!("no rule matches `{signature}`")),
        },
        MatchFormat::Json => {
            let id = fr::rule_id(&signature);
            let value = fr::output::MatchJson { signature: &signature, id: &id, rule };
            let mut text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
            text.push('\n');
            emit(&text)?;
        }
    }
    Ok(if rule.is_some() { SUCCESS } else { NO_MATCH })
}

/// `TimeoutError: read timed out` → (`TimeoutError`, `read timed out`).
fn split_leading_type(message: &str) -> Option<(String, String)> {
    fr::error_of_traceback(message.lines().next().unwrap_or(""))
        .filter(|(t, _)| t != "panic" || message.starts_with("panic: "))
}

/// Writes data to stdout; a closed pipe (`| head`) is a normal end, not an error.
fn emit(text: &str) -> Result<(), String> {
    cli::emit(text).map_err(|e| format!("cannot write to stdout: {e}"))
}

/// Standard output for `normalize`: once its reader went away (`| head`), a write
/// fails with `BrokenPipe`, so that the loop stops reading stdin instead of
/// normalizing the rest for nobody; `normalize` takes that error as the normal end.
struct StopWhenClosed<W: Write>(PipeOut<W>);

impl<W: Write> StopWhenClosed<W> {
    fn check(&self) -> std::io::Result<()> {
        if self.0.closed() { Err(std::io::ErrorKind::BrokenPipe.into()) } else { Ok(()) }
    }
}

impl<W: Write> Write for StopWhenClosed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.0.write(buf)?;
        self.check().map(|()| written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()?;
        self.check()
    }
}
