//! The command-line interface of `storage-approval`: arguments in, library call,
//! rendering, exit code out. Public (behind the `cli` feature) so that the binary,
//! the repository-root hook package and `cargo xtask dist` (completions, man pages)
//! share one definition.
//! Command output goes through the pipe-safe standard output of `tidy_io::cli`, so
//! `| head` ends it quietly; messages and warnings go to standard error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::output;
use crate::{
    Approval, Error, ExecuteOptions, Policy, RunSummary, ScanOptions, ScanProgress, Status,
    UndoOptions,
};
use clap::{Parser, Subcommand, ValueEnum};
use multilock::subsystem::{LockArgs, SubsystemLock};
use tidy_io::cli::{self, PipeOut, exit};

// Exit codes: `exit::OK` success, nothing refused, nothing skipped;
// `exit::FINDINGS` (1) refused (no or wrong approval, unsafe report, broken audit
// chain), nothing touched; `exit::USAGE` (2) usage or input error (bad flag,
// unreadable, special or malformed file).

/// Exit code: `execute`/`undo` finished, but some actions were skipped or failed.
const EXIT_SKIPPED: u8 = 3;

const EXAMPLES: &str = "\
Examples:
  storage-approval scan . --report-out report.json
  storage-approval approve report.json --operator ana --notes 'reviewed' --out approval.json
  storage-approval execute --report report.json --approval approval.json            # dry run
  storage-approval execute --report report.json --approval approval.json --execute
  storage-approval audit verify .tidy-quarantine/audit.jsonl --expect-head HASH
  storage-approval undo --audit-log .tidy-quarantine/audit.jsonl --execute

Exit codes: 0 success; 1 refused (approval mismatch, unsafe report, audit chain broken),
nothing touched; 2 usage or input error (and asking for a lock before one a parent
`multilock run` holds); 3 execute/undo finished but skipped some actions; 75 a lock
stayed busy past --lock-timeout.

With a lock directory in use (--lock-dir, $MULTILOCK_DIR, or .multilock at the
repository root), `execute --execute` and `undo --execute` work under the multilock
lock `archive` (and those the report's policy names in `locks.also`); inside a
`multilock run` holding them they use its hold.";

/// Scan → report → human approval → verified execution with a tamper-evident audit
/// trail and undo.
#[derive(Debug, Parser)]
#[command(name = "storage-approval", version, after_help = EXAMPLES)]
struct Cli {
    /// Output format: text for people, or JSON for machines.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    global: cli::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    // `human` is accepted too, as the other tools spelt it.
    #[value(alias = "human")]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan ROOT under a policy and write a report of proposed actions.
    #[command(
        after_help = "Example:\n  storage-approval scan ~/project --policy storage-policy.toml --report-out report.json"
    )]
    Scan {
        /// The tree to scan.
        root: PathBuf,
        /// Policy TOML (default: the embedded policy, see `storage-approval policy`).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Where to write the report.
        #[arg(long)]
        report_out: PathBuf,
        /// Do not read or update the hash cache (ROOT/.tidy-quarantine/hash-cache.v1).
        #[arg(long)]
        no_cache: bool,
        /// Copies matching GLOB (relative to ROOT) always stay; added to the
        /// policy's `duplicates.keep` and recorded in the report. Repeatable.
        #[arg(long, value_name = "GLOB")]
        keep_path: Vec<String>,
    },
    /// Print the embedded default policy (TOML with its comments; --format json: as JSON).
    Policy,
    /// Print a report's ID (SHA-256 of its canonical content, volatile fields excluded).
    ReportId {
        /// The report.
        report: PathBuf,
    },
    /// Write an approval template for a report (operator and timestamp left to fill in).
    Template {
        /// The report.
        report: PathBuf,
        /// Where to write it (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write a complete approval of a report.
    Approve {
        /// The report.
        report: PathBuf,
        /// Who approves.
        #[arg(long)]
        operator: String,
        /// Free text.
        #[arg(long, default_value = "")]
        notes: String,
        /// Where to write it (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check that an approval approves exactly this report.
    Verify {
        /// The report.
        #[arg(long)]
        report: PathBuf,
        /// The approval.
        #[arg(long)]
        approval: PathBuf,
    },
    /// Run an approved report (a dry run unless --execute).
    #[command(
        after_help = "Example:\n  storage-approval execute --report report.json --approval approval.json --execute"
    )]
    Execute {
        /// The report.
        #[arg(long)]
        report: PathBuf,
        /// The approval of exactly that report.
        #[arg(long)]
        approval: PathBuf,
        /// Act for real (default: dry run).
        #[arg(long)]
        execute: bool,
        /// Audit log (default: ROOT/.tidy-quarantine/audit.jsonl).
        #[arg(long)]
        audit_log: Option<PathBuf>,
        /// Quarantine base (default: ROOT/.tidy-quarantine); files go to DIR/REPORT_ID/.
        #[arg(long, conflicts_with = "purge")]
        quarantine: Option<PathBuf>,
        /// Delete for real instead of quarantining (cannot be undone).
        #[arg(long)]
        purge: bool,
        /// Actions per group commit of the audit log.
        #[arg(long, default_value_t = crate::DEFAULT_BATCH, hide = true)]
        batch: usize,
        #[command(flatten)]
        locks: LockArgs,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Restore everything an audit log recorded as done (a dry run unless --execute).
    Undo {
        /// The audit log.
        #[arg(long)]
        audit_log: PathBuf,
        /// Restore for real.
        #[arg(long)]
        execute: bool,
        /// Recorded as the operator of the restores (default: $USER).
        #[arg(long)]
        operator: Option<String>,
        /// Restores per group commit of the audit log.
        #[arg(long, default_value_t = crate::DEFAULT_BATCH, hide = true)]
        batch: usize,
        #[command(flatten)]
        locks: LockArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; names the first bad line.
    Verify {
        /// The audit log.
        file: PathBuf,
        /// The head `execute` printed: also catches a cut-off tail.
        #[arg(long)]
        expect_head: Option<String>,
    },
}

/// The clap definition of the command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs `storage-approval` on the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match cli::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.global.apply();
    let mut out = cli::stdout();
    let result = run(&cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(Failure::Tool(e)) => {
            cli::error(TOOL, &escape(&e.to_string()));
            ExitCode::from(if e.is_refusal() { exit::FINDINGS } else { exit::USAGE })
        }
        Err(Failure::Stdout(e)) => {
            cli::error(TOOL, &format_args!("cannot write to standard output: {e}"));
            ExitCode::from(exit::USAGE)
        }
        Err(Failure::Lock(e)) => {
            cli::error(TOOL, &escape(&e.to_string()));
            ExitCode::from(multilock::subsystem::exit_code(&e))
        }
    }
}

/// The name every stderr line starts with.
const TOOL: &str = "storage-approval";

/// Standard output: a reader that goes away (`| head`) ends the printing quietly.
type Out = PipeOut<Box<dyn Write>>;

/// Why a command failed: the library said so, or standard output failed (a full
/// disk behind `> file`; a closed pipe is not a failure).
#[derive(Debug)]
enum Failure {
    Tool(Error),
    Stdout(std::io::Error),
    /// A subsystem lock could not be had (busy past the timeout, the order rule).
    Lock(multilock::Error),
}

impl From<multilock::Error> for Failure {
    fn from(e: multilock::Error) -> Failure {
        Failure::Lock(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Tool(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Stdout(e)
    }
}

/// Writes `value` as pretty JSON, streamed to standard output.
fn print_json(out: &mut Out, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)
}

/// Writes an output file (`-` or none: standard output).
fn write_out(out: &mut Out, path: Option<&Path>, text: &str) -> Result<(), Failure> {
    match path {
        Some(path) if !tidy_io::is_stdout(path) => Ok(crate::write_output(path, text.as_bytes())?),
        _ => Ok(out.write_all(text.as_bytes())?),
    }
}

/// An output path that names a file, not standard output.
fn named_file(path: Option<&PathBuf>) -> Option<&PathBuf> {
    path.filter(|p| !tidy_io::is_stdout(p))
}

fn run(cli: &Cli, out: &mut Out) -> Result<u8, Failure> {
    let json = cli.format == Format::Json;
    match &cli.command {
        Command::Scan { root, policy, report_out, no_cache, keep_path } => {
            let mut policy = match policy {
                Some(path) => Policy::load(path)?,
                None => Policy::default_policy(),
            };
            if !keep_path.is_empty() {
                policy = policy.with_keep_paths(keep_path)?;
            }
            let bar = Progress::new();
            let progress = |p: ScanProgress| bar.show(&p);
            let options = ScanOptions { use_cache: !no_cache, now_unix: None };
            let (report, stats) = crate::scan(root, &policy, &options, &progress)?;
            bar.finish();
            write_out(out, Some(report_out), &report.to_json())?;
            for warning in &stats.warnings {
                cli::warning(TOOL, &escape(warning));
            }
            cli::verbose(
                TOOL,
                1,
                &format_args!(
                    "scanned {} in {} ms: {} files, {} hashed, {} from the hash cache",
                    escape(&report.root),
                    report.runtime_ms,
                    stats.files,
                    human_bytes(stats.bytes_hashed),
                    stats.cache_hits
                ),
            );
            let summary = scan_summary(&report, &stats, report_out, json);
            // With the report on standard output, the summary goes to standard error
            // so that what a pipe reads is the report alone.
            if tidy_io::is_stdout(report_out) {
                cli::note_block(&summary);
            } else {
                out.write_all(summary.as_bytes())?;
            }
            Ok(exit::OK)
        }
        Command::Policy => {
            if json {
                print_json(out, &Policy::default_policy().to_json())?;
            } else {
                out.write_all(crate::DEFAULT_POLICY.as_bytes())?;
            }
            Ok(exit::OK)
        }
        Command::ReportId { report } => {
            let loaded = crate::load_report(report)?;
            if json {
                print_json(out, &output::ReportIdJson { report_id: loaded.id() })?;
            } else {
                writeln!(out, "{}", loaded.id())?;
            }
            Ok(exit::OK)
        }
        Command::Template { report, out: out_path } => {
            let loaded = crate::load_report(report)?;
            write_out(out, out_path.as_deref(), &Approval::template(loaded.id()).to_json())?;
            if let Some(path) = named_file(out_path.as_ref()) {
                cli::note(
                    TOOL,
                    &format_args!(
                        "wrote an approval template to {}: fill in operator and timestamp",
                        escape(&path.display().to_string())
                    ),
                );
            }
            Ok(exit::OK)
        }
        Command::Approve { report, operator, notes, out: out_path } => {
            let loaded = crate::load_report(report)?;
            let approval = Approval::new(loaded.id(), operator, notes)?;
            write_out(out, out_path.as_deref(), &approval.to_json())?;
            if let Some(path) = named_file(out_path.as_ref()) {
                cli::note(
                    TOOL,
                    &format_args!(
                        "approved report {} as {}: {}",
                        loaded.id(),
                        escape(operator),
                        escape(&path.display().to_string())
                    ),
                );
            }
            Ok(exit::OK)
        }
        Command::Verify { report, approval } => {
            let loaded = crate::load_report(report)?;
            let approval = Approval::load(approval)?;
            approval.check(loaded.id())?;
            if json {
                print_json(
                    out,
                    &output::VerifyJson {
                        ok: true,
                        report_id: loaded.id(),
                        operator: &approval.operator,
                    },
                )?;
            } else {
                writeln!(
                    out,
                    "ok: approval by {} matches report {}",
                    approval.operator,
                    loaded.id()
                )?;
            }
            Ok(exit::OK)
        }
        Command::Execute {
            report,
            approval,
            execute,
            audit_log,
            quarantine,
            purge,
            batch,
            locks,
        } => {
            let loaded = crate::load_report(report)?;
            let approval = Approval::load_for_execute(approval)?;
            // A dry run changes nothing: it takes no lock.
            let lock = if *execute {
                let root = Path::new(&loaded.report().root);
                locks.locking("storage-approval").hold(root, &loaded.lock_names()?)?
            } else {
                None
            };
            let options = ExecuteOptions {
                execute: *execute,
                audit_log: audit_log.clone(),
                quarantine: quarantine.clone(),
                purge: *purge,
                batch: *batch,
                checkpoint: crash_hook(),
            };
            tell_locks(&lock);
            let summary = crate::execute(&loaded, &approval, &options)?;
            release(lock)?;
            render_run(out, &summary, json, "execute")?;
            Ok(if summary.complete() { exit::OK } else { EXIT_SKIPPED })
        }
        Command::Audit { command: AuditCommand::Verify { file, expect_head } } => {
            match crate::verify_log(file, expect_head.as_deref()) {
                Ok(head) => {
                    if json {
                        print_json(
                            out,
                            &output::AuditVerifyJson::Intact {
                                ok: true,
                                head: &head.hash,
                                entries: head.entries,
                            },
                        )?;
                    } else {
                        writeln!(out, "ok: {} entries, chain intact", head.entries)?;
                        writeln!(out, "{head}")?;
                    }
                    Ok(exit::OK)
                }
                Err(e) => {
                    if json && let crate::ErrorKind::Chain { line, message, .. } = e.kind() {
                        let broken =
                            output::AuditVerifyJson::Broken { ok: false, line: *line, message };
                        print_json(out, &broken)?;
                    }
                    Err(e.into())
                }
            }
        }
        Command::Undo { audit_log, execute, operator, batch, locks } => {
            let operator = operator
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            // The log lives in the tree it restores into (or names it with
            // --audit-log): the lock directory is found from there.
            let lock = if *execute {
                let names = [crate::ARCHIVE_LOCK];
                locks.locking("storage-approval").hold(audit_log, &names)?
            } else {
                None
            };
            tell_locks(&lock);
            let summary = crate::undo(
                audit_log,
                &UndoOptions { execute: *execute, operator, batch: *batch },
            )?;
            release(lock)?;
            render_run(out, &summary, json, "undo")?;
            Ok(if summary.complete() { exit::OK } else { EXIT_SKIPPED })
        }
    }
}

/// With `-v`: which subsystem locks the run works under, and whose they are.
fn tell_locks(lock: &Option<SubsystemLock>) {
    let Some(lock) = lock else {
        cli::verbose(TOOL, 1, &"no lock directory in use: working without subsystem locks");
        return;
    };
    let mut parts = Vec::new();
    if !lock.taken().is_empty() {
        parts.push(format!("took {}", lock.taken().join(", ")));
    }
    if !lock.from_parent().is_empty() {
        parts.push(format!("using the parent run's {}", lock.from_parent().join(", ")));
    }
    cli::verbose(TOOL, 1, &format_args!("subsystem locks: {}", parts.join("; ")));
}

/// Releases the subsystem locks taken for a run, if any.
fn release(lock: Option<SubsystemLock>) -> Result<(), Failure> {
    lock.map(SubsystemLock::release).transpose()?;
    Ok(())
}

/// The crash tests' hook: with `STORAGE_APPROVAL_CRASH_AT=N`, `execute` kills
/// itself with SIGKILL at its N-th checkpoint (intents durable, an action done, a
/// directory removed, results durable), a point chosen deterministically rather
/// than by a timer. Not for users; unset, nothing is called.
fn crash_hook() -> Option<crate::CheckpointHook> {
    let at: usize = std::env::var("STORAGE_APPROVAL_CRASH_AT").ok()?.parse().ok()?;
    let seen = std::sync::atomic::AtomicUsize::new(0);
    Some(std::sync::Arc::new(move |_| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == at {
            let _ = rustix::process::kill_process(
                rustix::process::getpid(),
                rustix::process::Signal::KILL,
            );
        }
    }))
}

/// What `scan` says about its run: counts, where the report went, its ID.
fn scan_summary(
    report: &crate::Report,
    stats: &crate::ScanStats,
    report_out: &Path,
    json: bool,
) -> String {
    let id = report.id();
    let count = |f: &dyn Fn(&crate::Action) -> bool| report.actions.iter().filter(|a| f(a)).count();
    let dups = count(&|a| a.group.is_some());
    let moves = count(&|a| a.action == crate::ActionKind::Move);
    let junk = report.actions.len() - dups - moves;
    if json {
        let value = output::ScanJson {
            report: report_out,
            report_id: &id,
            actions: report.actions.len(),
            duplicates: dups,
            junk,
            moves,
            bytes: report.total_bytes(),
            files: stats.files,
            symlinks_not_followed: stats.symlinks,
            bytes_hashed: stats.bytes_hashed,
            cache_hits: stats.cache_hits,
            warnings: &stats.warnings,
        };
        return serde_json::to_string_pretty(&value).expect("JSON serializes") + "\n";
    }
    let warnings = match stats.warnings.len() {
        0 => String::new(),
        1 => ", 1 warning".to_owned(),
        n => format!(", {n} warnings"),
    };
    format!(
        "scanned {} files ({} symlinks not followed), hashed {}, {} from the hash cache{warnings}\n\
         proposed {} actions ({dups} duplicate deletes, {junk} junk deletes, {moves} archive moves), {}\n\
         report: {}\n\
         report id: {id}\n",
        stats.files,
        stats.symlinks,
        human_bytes(stats.bytes_hashed),
        stats.cache_hits,
        report.actions.len(),
        human_bytes(report.total_bytes()),
        escape(&report_out.display().to_string()),
    )
}

/// The scan's progress on stderr (a terminal, no `--no-progress` or `-q`): a
/// count of files while the walk's total is unknown, then a bar of bytes hashed.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    phase: std::sync::Mutex<&'static str>,
}

impl Progress {
    fn new() -> Progress {
        let bar = cli::progress().then(indicatif::ProgressBar::no_length);
        Progress { bar, phase: std::sync::Mutex::new("") }
    }

    fn show(&self, p: &ScanProgress) {
        let Some(bar) = &self.bar else { return };
        let mut phase = self.phase.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if *phase != p.phase {
            *phase = p.phase;
            bar.set_style(progress_style(p.phase, p.total));
            bar.set_message(p.phase);
        }
        if p.total > 0 {
            bar.set_length(p.total);
        }
        bar.set_position(p.done);
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Hashing counts bytes (shown as KiB, MiB, …) against a known total; the walk
/// counts files with no total to measure against.
fn progress_style(phase: &str, total: u64) -> indicatif::ProgressStyle {
    let template = match (phase, total) {
        ("hash", 1..) => {
            "{msg:>5} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec})"
        }
        (_, 0) => "{msg:>5} {spinner} {human_pos} files",
        _ => "{msg:>5} [{bar:30}] {human_pos}/{human_len}",
    };
    indicatif::ProgressStyle::with_template(template)
        .expect("a valid template")
        .progress_chars("=> ")
}

fn paint(text: &str, status: Status) -> String {
    if !cli::color() {
        return text.to_owned();
    }
    let code = match status {
        Status::Done | Status::WouldDo => "32",
        Status::AlreadyDone => "2",
        Status::Skipped => "33",
        _ => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

fn render_run(out: &mut Out, summary: &RunSummary, json: bool, what: &str) -> std::io::Result<()> {
    if json {
        return print_json(out, &output::RunJson::new(summary));
    }
    let count = |s: Status| summary.outcomes.iter().filter(|o| o.status == s).count();
    // Directories execute removed because it emptied them (after its actions), or
    // undo recreated (before its restores), in the order they happened.
    let (dir_status, dir_action) = match (summary.dry_run, what) {
        (true, _) => (Status::WouldDo, "mkdir"),
        (false, "undo") => (Status::Done, "mkdir"),
        (false, _) => (Status::Done, "rmdir"),
    };
    let dirs = |out: &mut Out| -> std::io::Result<()> {
        for dir in &summary.dirs {
            let dir = escape(dir);
            let status = paint(&format!("{:<12}", dir_status.as_str()), dir_status);
            writeln!(out, "{status} {dir_action:<7} {dir}/")?;
        }
        Ok(())
    };
    if dir_action == "mkdir" {
        dirs(out)?;
    }
    for o in &summary.outcomes {
        // The reader went away (`| head`): the run is done, only its listing stops.
        if out.closed() {
            return Ok(());
        }
        // Every name (and every reason, which quotes names) escaped: a name with a
        // newline in it cannot forge a line of this listing.
        let dest = o.dest.as_deref().map(|d| format!(" -> {}", escape(d))).unwrap_or_default();
        let kept = match (&o.kept, &o.keep_reason) {
            (Some(kept), Some(why)) => format!(", keep {} ({})", escape(kept), escape(why)),
            (Some(kept), None) => format!(", keep {}", escape(kept)),
            _ => String::new(),
        };
        let reason = o.reason.as_deref().map(|r| format!(": {}", escape(r))).unwrap_or_default();
        // Padded before painting: the colour's escape codes take no columns.
        let status = paint(&format!("{:<12}", o.status.as_str()), o.status);
        writeln!(out, "{status} {:<7} {}{dest}{kept}{reason}", o.action, escape(&o.src))?;
    }
    if dir_action == "rmdir" {
        dirs(out)?;
    }
    if summary.dry_run {
        writeln!(
            out,
            "dry run: {} would be done, {} already done, {} skipped; nothing was touched (add --execute)",
            count(Status::WouldDo),
            count(Status::AlreadyDone),
            count(Status::Skipped)
        )?;
    } else {
        writeln!(
            out,
            "{what}: {} done, {} already done, {} skipped, {} failed",
            count(Status::Done),
            count(Status::AlreadyDone),
            count(Status::Skipped),
            count(Status::Failed)
        )?;
    }
    if let Some(q) = &summary.quarantine
        && !summary.dry_run
    {
        writeln!(out, "quarantine: {}", escape(&q.display().to_string()))?;
    }
    if let Some(log) = &summary.audit_log {
        writeln!(out, "audit log: {}", escape(&log.display().to_string()))?;
    }
    if let Some(head) = &summary.head {
        writeln!(out, "{head}")?;
    }
    Ok(())
}

/// A name for human output with its control characters escaped the way `ls -b`
/// escapes them: `\n`, `\t` and the other C escapes, `\ooo` (octal, per byte) for
/// the rest, and `\\` for a backslash, so that no name can end a line or move
/// the cursor. JSON output keeps names exact.
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() || c == '\\') {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for byte in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{byte:03o}"));
                }
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}
