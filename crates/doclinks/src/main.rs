//! The `doclinks` command: arguments in, a library call, rendering, an exit code out.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "the binary reports to the terminal")]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use clap::{Parser, Subcommand, ValueEnum};
use doclinks::{CheckOptions, Confidence, Config, FixOptions, Format, Report, Style};

/// Exit codes, a stable contract for scripts and CI.
mod exit {
    /// No broken links; the operation succeeded.
    pub(crate) const OK: u8 = 0;
    /// Broken links found (or left after `fix`).
    pub(crate) const FINDINGS: u8 = 1;
    /// Usage or input error: bad flag, unreadable or malformed file.
    pub(crate) const ERROR: u8 = 2;
}

const EXAMPLES: &str = "\
Examples:
  doclinks check                          check every Markdown file under .
  doclinks check --nav-only               only pages reachable from README/SUMMARY/mkdocs/toc.yml
  doclinks check --changed-since origin/main --format github
  doclinks fix --dry-run --plan-out plan.md
  doclinks fix --min-confidence high      apply the unambiguous fixes, with a zip backup
  doclinks restore .doclinks/backups/doclinks-backup-20250101T120000Z.zip
  doclinks stub docs/old.md docs/new.md   keep an old page as a redirect stub

Exit codes: 0 no broken links, 1 broken links found, 2 usage or input error.";

#[derive(Parser)]
#[command(
    name = "doclinks",
    version,
    about = "Find broken local links in Markdown trees and repair them safely"
)]
#[command(after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report broken links and anchors.
    #[command(after_help = "\
Examples:
  doclinks check docs/ --format json
  doclinks check --nav-only                  blocking CI check
  doclinks check --report-only --format markdown > report.md
  doclinks check --changed-since origin/main --format github

Exit codes: 0 no broken links (or --report-only), 1 broken links, 2 usage or input error.")]
    Check {
        #[command(flatten)]
        scan: Scan,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
        /// Only check pages reachable from navigation files; list the pages none reaches.
        #[arg(long)]
        nav_only: bool,
        /// Check files changed since REV and every file linking to a changed, renamed or deleted file.
        #[arg(long, value_name = "REV", conflicts_with = "nav_only")]
        changed_since: Option<String>,
        /// Exit 0 even when broken links are found.
        #[arg(long)]
        report_only: bool,
    },
    /// Apply fix proposals at or above a confidence, with a zip backup first.
    #[command(after_help = "\
Examples:
  doclinks fix --dry-run                     show what would change
  doclinks fix --plan-out plan.json          write the plan for every finding, then fix the sure ones
  doclinks fix --min-confidence medium --backup-dir /tmp/doclinks

Exit codes: 0 no broken links left, 1 broken links left for triage, 2 usage or input error.")]
    Fix {
        #[command(flatten)]
        scan: Scan,
        /// Apply fixes at or above this confidence.
        #[arg(long, value_enum, default_value_t = MinConfidence::High)]
        min_confidence: MinConfidence,
        /// Show what would change; write nothing (not even the backup).
        #[arg(long)]
        dry_run: bool,
        /// Where to write the backup archive [default: ROOT/.doclinks/backups].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
        /// Write the fix plan for every finding (Markdown, or JSON for a .json file).
        #[arg(long, value_name = "FILE")]
        plan_out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Human)]
        format: FixFormat,
    },
    /// Put back the files of a backup archive written by `fix`, inside the root only.
    #[command(after_help = "\
Example:
  doclinks restore .doclinks/backups/doclinks-backup-20250101T120000Z.zip

A backup made from another root is refused, and so is an archive listing anything
but Markdown pages below the root or bytes other than those it records. A page
edited since the backup is left as it is (exit 1) unless --force is given.

Exit codes: 0 restored, 1 pages skipped (changed since the backup), 2 usage or input error.")]
    Restore {
        /// The backup archive.
        backup: PathBuf,
        /// The tree to restore into; it must be the one the backup was made from.
        #[arg(long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Also overwrite pages edited since the backup.
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Human)]
        format: FixFormat,
    },
    /// Write a redirect stub at OLD_PATH that points to NEW_PATH.
    #[command(
        after_help = "Example:\n  git mv docs/setup.md docs/install.md && doclinks stub docs/setup.md docs/install.md"
    )]
    Stub {
        /// Where the page used to be (must not exist).
        old_path: PathBuf,
        /// Where the page is now.
        new_path: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Human)]
        format: FixFormat,
    },
}

#[derive(clap::Args)]
struct Scan {
    /// Files or directories to check (default: the whole root).
    paths: Vec<PathBuf>,
    /// The root of the documentation tree; `/x.md` links resolve against it.
    #[arg(long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// Do not check #fragments against headings and anchors.
    #[arg(long)]
    no_fragments: bool,
    /// Configuration file [default: ROOT/doclinks.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Human,
    Json,
    Sarif,
    Github,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FixFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum MinConfidence {
    High,
    Medium,
    Low,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { exit::ERROR } else { exit::OK });
        }
    };
    let mut out = String::new();
    match run(cli, &mut out) {
        Ok(code) => ExitCode::from(emit(&out).map_or(exit::ERROR, |()| code)),
        Err(err) => {
            eprintln!("doclinks: error: {err}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// Writes the command's output to stdout. A reader that went away (`| head`)
/// is not an error, as in ripgrep; any other write error is.
fn emit(out: &str) -> Result<(), ()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("doclinks: error: cannot write output: {e}");
            Err(())
        }
    }
}

/// Runs one command; what it prints to stdout goes to `out`.
fn run(cli: Cli, out: &mut String) -> Result<u8, doclinks::Error> {
    match cli.command {
        Command::Check { scan, format, nav_only, changed_since, report_only } => {
            let style = Style::new(&scan.root.to_string_lossy(), color());
            let report = scan_tree(&scan, |o| o.nav_only(nav_only).changed_since(changed_since))?;
            let format = match format {
                OutputFormat::Human => Format::Human,
                OutputFormat::Json => Format::Json,
                OutputFormat::Sarif => Format::Sarif,
                OutputFormat::Github => Format::Github,
                OutputFormat::Markdown => Format::Markdown,
            };
            out.push_str(&doclinks::render_report(&report, format, &style));
            let broken = !report.findings.is_empty();
            Ok(if broken && !report_only { exit::FINDINGS } else { exit::OK })
        }
        Command::Fix { scan, min_confidence, dry_run, backup_dir, plan_out, format } => {
            let style = Style::new(&scan.root.to_string_lossy(), false);
            let min = match min_confidence {
                MinConfidence::High => Confidence::High,
                MinConfidence::Medium => Confidence::Medium,
                MinConfidence::Low => Confidence::Low,
            };
            let report = scan_tree(&scan, |o| o)?;
            if let Some(plan) = &plan_out {
                doclinks::write_plan(&report, min, plan, &style)?;
                eprintln!("doclinks: wrote the fix plan to {}", plan.display());
            }
            let options =
                FixOptions::new().min_confidence(min).dry_run(dry_run).backup_dir(backup_dir);
            let applied = doclinks::apply(&report, &options)?;
            let remaining = report.findings.len() - applied.changes.len();
            let json = matches!(format, FixFormat::Json);
            out.push_str(&doclinks::render_applied(&applied, remaining, dry_run, json, &style));
            if let Some(backup) = &applied.backup
                && !json
            {
                eprintln!("doclinks: undo with: doclinks restore {}", backup.display());
            }
            Ok(if remaining > 0 { exit::FINDINGS } else { exit::OK })
        }
        Command::Restore { backup, root, force, format } => {
            let options = doclinks::RestoreOptions::new().force(force);
            let done = doclinks::restore(&backup, &root, &options)?;
            let path = |file: &String| done.root.join(file).display().to_string();
            if matches!(format, FixFormat::Json) {
                let skipped: Vec<_> = done
                    .skipped
                    .iter()
                    .map(|s| serde_json::json!({ "file": path(&s.file), "reason": s.reason }))
                    .collect();
                let json = serde_json::json!({
                    "backup": backup.display().to_string(),
                    "root": done.root.display().to_string(),
                    "restored": done.restored.iter().map(path).collect::<Vec<_>>(),
                    "unchanged": done.unchanged.iter().map(path).collect::<Vec<_>>(),
                    "skipped": skipped,
                });
                out.push_str(&format!("{json:#}\n"));
            } else {
                for file in &done.restored {
                    out.push_str(&format!("restored {}\n", path(file)));
                }
                for file in &done.unchanged {
                    out.push_str(&format!("unchanged {}\n", path(file)));
                }
                for skipped in &done.skipped {
                    let hint = if skipped.changed { "; --force overwrites it" } else { "" };
                    out.push_str(&format!(
                        "skipped {}: {}{hint}\n",
                        path(&skipped.file),
                        skipped.reason
                    ));
                }
                out.push_str(&format!(
                    "restored {} files from {} ({} unchanged, {} skipped)\n",
                    done.restored.len(),
                    backup.display(),
                    done.unchanged.len(),
                    done.skipped.len()
                ));
            }
            Ok(if done.skipped.is_empty() { exit::OK } else { exit::FINDINGS })
        }
        Command::Stub { old_path, new_path, format } => {
            doclinks::write_stub(&old_path, &new_path)?;
            if matches!(format, FixFormat::Json) {
                let json = serde_json::json!({
                    "stub": old_path.display().to_string(),
                    "target": new_path.display().to_string(),
                });
                out.push_str(&format!("{json:#}\n"));
            } else {
                out.push_str(&format!(
                    "wrote a redirect stub at {} pointing to {}\n",
                    old_path.display(),
                    new_path.display()
                ));
            }
            Ok(exit::OK)
        }
    }
}

/// Runs a check with the shared scan options, a progress bar when stderr is a
/// terminal and the tree is large, and warnings on stderr.
fn scan_tree(
    scan: &Scan,
    extra: impl FnOnce(CheckOptions) -> CheckOptions,
) -> Result<Report, doclinks::Error> {
    let mut options =
        CheckOptions::new(&scan.root).paths(scan.paths.clone()).fragments(!scan.no_fragments);
    if let Some(path) = &scan.config {
        options = options.config(Config::load(path)?);
    }
    let bar: Arc<OnceLock<indicatif::ProgressBar>> = Arc::new(OnceLock::new());
    if std::io::stderr().is_terminal() {
        let shared = Arc::clone(&bar);
        options = options.progress(move |p| {
            // Small trees finish before a bar would be readable.
            if p.total < 2000 && shared.get().is_none() {
                return;
            }
            let bar = shared.get_or_init(|| {
                let bar = indicatif::ProgressBar::new(p.total as u64);
                let style =
                    indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
                bar.set_style(style);
                bar
            });
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
        });
    }
    let report = doclinks::check(&extra(options));
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let report = report?;
    for warning in &report.warnings {
        eprintln!("doclinks: warning: {}: {}", warning.path.display(), warning.message);
    }
    Ok(report)
}

/// Colour only on a terminal, and never when `NO_COLOR` is set (no-color.org).
fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
