//! The `storage-approval` binary: arguments in, library call, rendering, exit code out.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a CLI: printing is its job")]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;
use storage_approval::{
    Approval, Error, ExecuteOptions, Policy, RunSummary, ScanOptions, ScanProgress, Status,
    UndoOptions,
};

/// Exit code: success, nothing refused, nothing skipped.
const EXIT_OK: u8 = 0;
/// Exit code: refused (no or wrong approval, unsafe report, broken audit chain); nothing touched.
const EXIT_REFUSED: u8 = 1;
/// Exit code: usage or input error (bad flag, unreadable or malformed file).
const EXIT_INPUT: u8 = 2;
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
nothing touched; 2 usage or input error; 3 execute/undo finished but skipped some actions.";

/// Scan → report → human approval → verified execution with a tamper-evident audit
/// trail and undo.
#[derive(Debug, Parser)]
#[command(name = "storage-approval", version, after_help = EXAMPLES)]
struct Cli {
    /// Output format: human text, or JSON for machines.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
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
    },
    /// Print the embedded default policy.
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
        #[arg(long, default_value_t = storage_approval::DEFAULT_BATCH, hide = true)]
        batch: usize,
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
        #[arg(long, default_value_t = storage_approval::DEFAULT_BATCH, hide = true)]
        batch: usize,
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

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_INPUT } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("storage-approval: {e}");
            ExitCode::from(if e.is_refusal() { EXIT_REFUSED } else { EXIT_INPUT })
        }
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON serializes"));
}

fn write_out(out: Option<&Path>, text: &str) -> Result<(), Error> {
    match out {
        Some(path) => storage_approval::write_file_atomic(path, text.as_bytes()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn run(cli: &Cli) -> Result<u8, Error> {
    let json = cli.format == Format::Json;
    match &cli.command {
        Command::Scan { root, policy, report_out, no_cache } => {
            let policy = match policy {
                Some(path) => Policy::load(path)?,
                None => Policy::default_policy(),
            };
            let bar = progress_bar();
            let progress = |p: ScanProgress| {
                if let Some(bar) = &bar {
                    bar.set_message(p.phase);
                    bar.set_length(p.total);
                    bar.set_position(p.done);
                }
            };
            let options = ScanOptions { use_cache: !no_cache, now_unix: None };
            let (report, stats) = storage_approval::scan(root, &policy, &options, &progress)?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            storage_approval::write_file_atomic(report_out, report.to_json().as_bytes())?;
            for warning in &stats.warnings {
                eprintln!("warning: {warning}");
            }
            let id = report.id();
            let count = |f: &dyn Fn(&storage_approval::Action) -> bool| {
                report.actions.iter().filter(|a| f(a)).count()
            };
            let dups = count(&|a| a.group.is_some());
            let moves = count(&|a| a.action == storage_approval::ActionKind::Move);
            let junk = report.actions.len() - dups - moves;
            if json {
                print_json(&json!({
                    "report": report_out, "report_id": id, "actions": report.actions.len(),
                    "duplicates": dups, "junk": junk, "moves": moves, "bytes": report.total_bytes(),
                    "files": stats.files, "symlinks_not_followed": stats.symlinks,
                    "bytes_hashed": stats.bytes_hashed, "cache_hits": stats.cache_hits,
                    "warnings": stats.warnings,
                }));
            } else {
                println!(
                    "scanned {} files ({} symlinks not followed), hashed {}, {} from the hash cache",
                    stats.files,
                    stats.symlinks,
                    human_bytes(stats.bytes_hashed),
                    stats.cache_hits
                );
                println!(
                    "proposed {} actions ({dups} duplicate deletes, {junk} junk deletes, {moves} archive moves), {}",
                    report.actions.len(),
                    human_bytes(report.total_bytes())
                );
                println!("report: {}", report_out.display());
                println!("report id: {id}");
            }
            Ok(EXIT_OK)
        }
        Command::Policy => {
            print!("{}", storage_approval::DEFAULT_POLICY);
            Ok(EXIT_OK)
        }
        Command::ReportId { report } => {
            let loaded = storage_approval::load_report(report)?;
            if json {
                print_json(&json!({ "report_id": loaded.id() }));
            } else {
                println!("{}", loaded.id());
            }
            Ok(EXIT_OK)
        }
        Command::Template { report, out } => {
            let loaded = storage_approval::load_report(report)?;
            write_out(out.as_deref(), &Approval::template(loaded.id()).to_json())?;
            if let Some(out) = out {
                eprintln!(
                    "wrote an approval template to {}: fill in operator and timestamp",
                    out.display()
                );
            }
            Ok(EXIT_OK)
        }
        Command::Approve { report, operator, notes, out } => {
            let loaded = storage_approval::load_report(report)?;
            let approval = Approval::new(loaded.id(), operator, notes)?;
            write_out(out.as_deref(), &approval.to_json())?;
            if let Some(out) = out {
                eprintln!("approved report {} as {operator}: {}", loaded.id(), out.display());
            }
            Ok(EXIT_OK)
        }
        Command::Verify { report, approval } => {
            let loaded = storage_approval::load_report(report)?;
            let approval = Approval::load(approval)?;
            approval.check(loaded.id())?;
            if json {
                print_json(
                    &json!({ "ok": true, "report_id": loaded.id(), "operator": approval.operator }),
                );
            } else {
                println!("ok: approval by {} matches report {}", approval.operator, loaded.id());
            }
            Ok(EXIT_OK)
        }
        Command::Execute { report, approval, execute, audit_log, quarantine, purge, batch } => {
            let loaded = storage_approval::load_report(report)?;
            let approval = Approval::load_for_execute(approval)?;
            let options = ExecuteOptions {
                execute: *execute,
                audit_log: audit_log.clone(),
                quarantine: quarantine.clone(),
                purge: *purge,
                batch: *batch,
            };
            let summary = storage_approval::execute(&loaded, &approval, &options)?;
            render_run(&summary, json, "execute");
            Ok(if summary.complete() { EXIT_OK } else { EXIT_SKIPPED })
        }
        Command::Audit { command: AuditCommand::Verify { file, expect_head } } => {
            match storage_approval::verify_log(file, expect_head.as_deref()) {
                Ok(head) => {
                    if json {
                        print_json(
                            &json!({ "ok": true, "head": head.hash, "entries": head.entries }),
                        );
                    } else {
                        println!("ok: {} entries, chain intact", head.entries);
                        println!("{head}");
                    }
                    Ok(EXIT_OK)
                }
                Err(e) => {
                    if json
                        && let storage_approval::ErrorKind::Chain { line, message, .. } = e.kind()
                    {
                        print_json(&json!({ "ok": false, "line": line, "message": message }));
                    }
                    Err(e)
                }
            }
        }
        Command::Undo { audit_log, execute, operator, batch } => {
            let operator = operator
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "unknown".into());
            let summary = storage_approval::undo(
                audit_log,
                &UndoOptions { execute: *execute, operator, batch: *batch },
            )?;
            render_run(&summary, json, "undo");
            Ok(if summary.complete() { EXIT_OK } else { EXIT_SKIPPED })
        }
    }
}

fn progress_bar() -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:>5} [{bar:30}] {pos}/{len}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    Some(bar)
}

fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn paint(text: &str, status: Status) -> String {
    if !color() {
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

fn render_run(summary: &RunSummary, json: bool, what: &str) {
    let count = |s: Status| summary.outcomes.iter().filter(|o| o.status == s).count();
    if json {
        let outcomes: Vec<serde_json::Value> = summary
            .outcomes
            .iter()
            .map(|o| {
                json!({ "action": o.action, "src": o.src, "dest": o.dest, "bytes": o.bytes,
                        "status": o.status.as_str(), "reason": o.reason })
            })
            .collect();
        print_json(&json!({
            "report_id": summary.report_id, "dry_run": summary.dry_run, "outcomes": outcomes,
            "done": count(Status::Done), "would": count(Status::WouldDo),
            "already_done": count(Status::AlreadyDone), "skipped": count(Status::Skipped),
            "failed": count(Status::Failed), "audit_log": summary.audit_log,
            "quarantine": summary.quarantine, "dirs": summary.dirs,
            "head": summary.head.as_ref().map(|h| json!({ "hash": h.hash, "entries": h.entries })),
        }));
        return;
    }
    // Directories execute removed because it emptied them (after its actions), or
    // undo recreated (before its restores), in the order they happened.
    let (dir_status, dir_action) = match (summary.dry_run, what) {
        (true, _) => (Status::WouldDo, "mkdir"),
        (false, "undo") => (Status::Done, "mkdir"),
        (false, _) => (Status::Done, "rmdir"),
    };
    let dirs = || {
        for dir in &summary.dirs {
            println!("{:<12} {dir_action:<7} {dir}/", paint(dir_status.as_str(), dir_status));
        }
    };
    if dir_action == "mkdir" {
        dirs();
    }
    for o in &summary.outcomes {
        let dest = o.dest.as_deref().map(|d| format!(" -> {d}")).unwrap_or_default();
        let reason = o.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default();
        println!(
            "{:<12} {:<7} {}{dest}{reason}",
            paint(o.status.as_str(), o.status),
            o.action,
            o.src
        );
    }
    if dir_action == "rmdir" {
        dirs();
    }
    if summary.dry_run {
        println!(
            "dry run: {} would be done, {} already done, {} skipped; nothing was touched (add --execute)",
            count(Status::WouldDo),
            count(Status::AlreadyDone),
            count(Status::Skipped)
        );
    } else {
        println!(
            "{what}: {} done, {} already done, {} skipped, {} failed",
            count(Status::Done),
            count(Status::AlreadyDone),
            count(Status::Skipped),
            count(Status::Failed)
        );
    }
    if let Some(q) = &summary.quarantine
        && !summary.dry_run
    {
        println!("quarantine: {}", q.display());
    }
    if let Some(log) = &summary.audit_log {
        println!("audit log: {}", log.display());
    }
    if let Some(head) = &summary.head {
        println!("{head}");
    }
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
