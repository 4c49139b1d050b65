//! The command-line interface of `doclinks`: arguments in, a library call,
//! rendering, an exit code out. Public (behind the `cli` feature) so that the
//! binary, the repository-root hook package and `cargo xtask dist` (completions,
//! man pages) share one definition.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use crate::{
    CheckOptions, Confidence, Config, ErrorKind, FixOptions, Format, Platform, Report, Style,
};
use clap::{Parser, Subcommand, ValueEnum};
use multilock::subsystem::{LockArgs, SubsystemLock};
// Exit codes, a stable contract for scripts and CI: 0 no broken links (the
// operation succeeded), 1 broken links found or left (or pages skipped), 2
// usage or input error.
use tidy_io::cli::exit;

const EXAMPLES: &str = "\
Examples:
  doclinks check                          check every Markdown file under .
  doclinks check --nav-only               only pages reachable from README/SUMMARY/mkdocs/toc.yml
  doclinks check --changed-since origin/main --format github
  doclinks fix --dry-run --plan-out plan.md
  doclinks fix --min-confidence high      apply the unambiguous fixes, with a zip backup
  doclinks restore .doclinks/backups/doclinks-backup-20250101T120000Z.zip
  doclinks stub docs/old.md docs/new.md   keep an old page as a redirect stub

The root is the nearest directory up from the first PATH (else from here) holding
doclinks.toml or a site configuration (docfx.json, mkdocs.yml, docusaurus.config.*,
hugo.toml, book.toml, conf.py), else the git top level; --root overrides it. Links resolve the way the
detected platform publishes them (--platform overrides it).

fix, triage, restore and stub rewrite pages under the multilock lock `docs` when a
lock directory is in use (--lock-dir, $MULTILOCK_DIR, or .multilock at the repository
root), using a parent `multilock run`'s hold when it has it.

Exit codes: 0 no broken links, 1 broken links found, 2 usage or input error,
75 the docs lock stayed busy past --lock-timeout.";

#[derive(Parser)]
#[command(
    name = "doclinks",
    version,
    about = "Find broken local links in Markdown trees and repair them safely"
)]
#[command(after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: tidy_io::cli::GlobalArgs,
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
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Only check pages reachable from navigation files; list the pages none reaches.
        #[arg(long)]
        nav_only: bool,
        /// Report only findings introduced since REV: those the tree at REV did not have
        /// (matched by file, destination and occurrence, not line), and links into pages
        /// deleted or renamed since.
        #[arg(long, value_name = "REV", conflicts_with = "nav_only")]
        changed_since: Option<String>,
        /// Check files changed since REV and every file linking to a changed, renamed or
        /// deleted file, and report all their findings, old ones included.
        #[arg(long, value_name = "REV", conflicts_with_all = ["nav_only", "changed_since"])]
        affected_since: Option<String>,
        /// Exit 0 even when broken links are found.
        #[arg(long)]
        report_only: bool,
        /// With --format json: also list every link and the file it leads to.
        #[arg(long)]
        list_links: bool,
    },
    /// Apply fix proposals at or above a confidence, with a zip backup first.
    #[command(after_help = "\
Examples:
  doclinks fix --dry-run                     show what would change
  doclinks fix --plan-out plan.json          write the plan for every finding, then fix the sure ones
  doclinks fix --dry-run --plan-out - | less the plan on stdout, the summary on stderr
  doclinks fix --min-confidence medium --backup-dir /tmp/doclinks

Each page is replaced atomically and keeps its owner, group, mode and extended
attributes. A page is skipped, never overwritten, when it changed since the check
or while fix ran (another writer's edit stays), when it is a symlink leading out of
the root, or when it has other hard links (a rename would leave them the old text).

Exit codes: 0 no broken links left, 1 broken links left for triage or pages skipped,
2 usage or input error.")]
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
        /// `-` writes it (as Markdown) to stdout, and the summary then goes to stderr.
        /// An existing FILE that is not a regular file is refused, never replaced.
        #[arg(long, value_name = "FILE")]
        plan_out: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Text)]
        format: FixFormat,
        /// Also rewrite links to redirected pages (they work; by default they are only proposed).
        #[arg(long)]
        redirected: bool,
        /// Apply the decisions of a reviewed plan instead (as `doclinks triage PLAN`).
        #[arg(long, value_name = "PLAN", conflicts_with_all = ["plan_out", "min_confidence"])]
        apply_plan: Option<PathBuf>,
        #[command(flatten)]
        locks: LockArgs,
    },
    /// Apply a reviewed fix plan: each row fix leaves carries a decision and its reason.
    #[command(after_help = "\
Examples:
  doclinks fix --dry-run --plan-out plan.json    write the plan, then review it
  doclinks triage plan.json --dry-run            check every decision, write nothing
  doclinks triage plan.json                      apply them, with one backup

Each row with \"apply\": false needs a \"decision\":
  {\"action\": \"retarget\", \"target\": \"../new.md\", \"rationale\": \"...\"}
  {\"action\": \"stub\", \"target\": \"docs/new.md\", \"rationale\": \"...\"}   redirect stub at the old page
  {\"action\": \"historical_ref\", \"rationale\": \"...\"}   or \"ignore\": appended to doclinks.toml
The plan is refused as a whole (exit 2, nothing written) if any row lacks a decision
or a rationale, no longer matches the tree, or retargets to a destination that does
not resolve.

Exit codes: 0 applied, 1 pages skipped, 2 usage or input error (plan refused).")]
    Triage {
        /// The reviewed plan (JSON, from `fix --plan-out plan.json`).
        plan: PathBuf,
        /// The tree the plan is for [default: the root found from the current directory].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Check every decision and show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where to write the backup archive [default: ROOT/.doclinks/backups].
        #[arg(long, value_name = "DIR")]
        backup_dir: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Text)]
        format: FixFormat,
        #[command(flatten)]
        locks: LockArgs,
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
        /// The tree to restore into; it must be the one the backup was made from
        /// [default: the root found from the current directory].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Also overwrite pages edited since the backup.
        #[arg(long)]
        force: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Text)]
        format: FixFormat,
        #[command(flatten)]
        locks: LockArgs,
    },
    /// Write a redirect stub at OLD_PATH that points to NEW_PATH.
    #[command(
        after_help = "Example:\n  git mv docs/setup.md docs/install.md && doclinks stub docs/setup.md docs/install.md"
    )]
    Stub {
        /// Where the page used to be (must not exist, must be below the root).
        old_path: PathBuf,
        /// Where the page is now.
        new_path: PathBuf,
        /// The documentation tree the stub is written in [default: the root found
        /// from the current directory].
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = FixFormat::Text)]
        format: FixFormat,
        #[command(flatten)]
        locks: LockArgs,
    },
}

#[derive(clap::Args)]
struct Scan {
    /// Files or directories to check (default: the whole root).
    paths: Vec<PathBuf>,
    /// The root of the documentation tree; `/x.md` links resolve against it
    /// [default: the nearest directory up with doclinks.toml or a site
    /// configuration, else the git top level].
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Resolve links as this platform publishes them, instead of detecting it.
    #[arg(long, value_enum, value_name = "NAME")]
    platform: Option<PlatformArg>,
    /// Do not check #fragments against headings and anchors.
    #[arg(long)]
    no_fragments: bool,
    /// Configuration file [default: ROOT/doclinks.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Neither read nor write the page cache in ROOT/.doclinks/cache.
    #[arg(long)]
    no_cache: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlatformArg {
    Github,
    Gitlab,
    Docfx,
    Mkdocs,
    Docusaurus,
    Hugo,
    Mdbook,
    Sphinx,
}

impl PlatformArg {
    fn platform(self) -> Platform {
        match self {
            PlatformArg::Github => Platform::GitHub,
            PlatformArg::Gitlab => Platform::GitLab,
            PlatformArg::Docfx => Platform::DocFx,
            PlatformArg::Mkdocs => Platform::Mkdocs,
            PlatformArg::Docusaurus => Platform::Docusaurus,
            PlatformArg::Hugo => Platform::Hugo,
            PlatformArg::Mdbook => Platform::MdBook,
            PlatformArg::Sphinx => Platform::Sphinx,
        }
    }
}

/// The root a command works on, the paths it checks by default, and how
/// paths under it are shown.
struct Located {
    root: PathBuf,
    /// The current directory when the root was found above it: PATHS default
    /// to it, so that `cd docs && doclinks check` checks docs/ (with links
    /// still resolved from the root).
    here: Option<PathBuf>,
    /// The root as shown before paths (`` for the current directory).
    shown: String,
}

impl Located {
    /// How paths are shown: from the current directory.
    fn style(&self, color: bool) -> Style {
        match self.here.as_deref().and_then(|h| h.strip_prefix(&self.root).ok()) {
            Some(below) => Style::relative_to(&below.to_string_lossy(), color),
            None => Style::new(&self.shown, color),
        }
    }
}

/// The root of the tree to work on: `--root`; else the one found from the
/// first of `paths` by its own `doclinks.toml`, site configuration or git work
/// tree (so `doclinks check ../site/docs` checks that site with its root); else
/// the one found from the current directory. Where neither has such a marker,
/// the directory holding all of `paths`, when it is below the current directory
/// and holds a site configuration of its own, is the tree: `cd /tmp &&
/// doclinks check site` does not read the rest of /tmp.
fn locate(root: Option<&Path>, paths: &[PathBuf]) -> Result<Located, crate::Error> {
    if let Some(root) = root {
        return Ok(Located {
            root: root.to_path_buf(),
            here: None,
            shown: root.to_string_lossy().into_owned(),
        });
    }
    let cwd = Path::new(".");
    let here = std::fs::canonicalize(cwd).map_err(|e| crate::Error::io("cannot open", cwd, e))?;
    let dirs: Vec<PathBuf> = paths.iter().filter_map(|p| directory_of(p)).collect();
    let found = match dirs.first() {
        Some(first) => {
            let from_path = crate::discover_root(first)?;
            if from_path.because != crate::discover::FALLBACK {
                from_path
            } else {
                let from_cwd = crate::discover_root(cwd)?;
                match common_directory(&dirs) {
                    Some(common)
                        if from_cwd.because == crate::discover::FALLBACK
                            && common != here
                            && common.starts_with(&here)
                            && crate::discover::holds_site(&common) =>
                    {
                        crate::Discovered { root: common, ..from_cwd }
                    }
                    _ => from_cwd,
                }
            }
        }
        None => crate::discover_root(cwd)?,
    };
    let here = Some(here).filter(|h| *h != found.root);
    let shown = match &here {
        Some(here) => relative_display(here, &found.root),
        None => String::new(),
    };
    Ok(Located { root: found.root, here, shown })
}

/// The canonical directory a path names or lies in; `None` when it does not
/// exist (the check reports it).
fn directory_of(path: &Path) -> Option<PathBuf> {
    let path = std::fs::canonicalize(path).ok()?;
    if path.is_dir() { Some(path) } else { path.parent().map(Path::to_path_buf) }
}

/// The deepest directory holding all of `dirs` (canonical paths).
fn common_directory(dirs: &[PathBuf]) -> Option<PathBuf> {
    let (first, rest) = dirs.split_first()?;
    let mut common = first.clone();
    for dir in rest {
        while !dir.starts_with(&common) {
            if !common.pop() {
                return None;
            }
        }
    }
    Some(common)
}

/// `root` as a path relative to `from` (`..`, `../..`, `site/docs`,
/// `../site`), for showing paths; absolute when they share no more than `/`.
fn relative_display(from: &Path, root: &Path) -> String {
    let common = from.components().zip(root.components()).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return root.display().to_string();
    }
    let up = from.components().count() - common;
    let down: PathBuf = root.components().skip(common).collect();
    let mut parts = vec![".."; up].join("/");
    if !down.as_os_str().is_empty() {
        if !parts.is_empty() {
            parts.push('/');
        }
        parts.push_str(&down.to_string_lossy());
    }
    parts
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    // `human` is accepted too, as this tool spelt it before 0.1.
    #[value(alias = "human")]
    Text,
    Json,
    Sarif,
    Github,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum FixFormat {
    #[value(alias = "human")]
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum MinConfidence {
    High,
    Medium,
    Low,
}

/// The clap definition of the command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs `doclinks` on the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match tidy_io::cli::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.global.apply();
    let mut out = String::new();
    match run(cli, &mut out) {
        // A reader that went away (`| head`) is not an error; any other write error is.
        Ok(code) => match tidy_io::cli::emit(&out) {
            Ok(()) => ExitCode::from(code),
            Err(e) => {
                tidy_io::cli::error(TOOL, &format_args!("cannot write output: {e}"));
                ExitCode::from(exit::USAGE)
            }
        },
        Err(err) => {
            tidy_io::cli::error(TOOL, &crate::render::shown(&err.to_string()));
            ExitCode::from(exit::USAGE)
        }
    }
}

/// Runs `write` on a buffered standard output; a reader that went away
/// (`| head`) is a normal end, as in [`tidy_io::cli::emit`].
fn write_stdout(
    write: impl FnOnce(&mut std::io::BufWriter<std::io::StdoutLock<'static>>) -> std::io::Result<()>,
) -> Result<(), crate::Error> {
    use std::io::Write as _;
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    match write(&mut stdout).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(crate::Error::io("cannot write output to", Path::new("stdout"), e))
        }
        _ => Ok(()),
    }
}

/// The name every stderr line starts with.
const TOOL: &str = "doclinks";

/// Runs one command; what it prints to stdout goes to `out`.
fn run(cli: Cli, out: &mut String) -> Result<u8, crate::Error> {
    match cli.command {
        Command::Check {
            scan,
            format,
            nav_only,
            changed_since,
            affected_since,
            report_only,
            list_links,
        } => {
            let located = locate(scan.root.as_deref(), &scan.paths)?;
            let style = located.style(tidy_io::cli::color());
            let report = scan_tree(&scan, &located, |o| {
                let o = o.nav_only(nav_only).list_links(list_links);
                match affected_since {
                    Some(rev) => o.affected_since(Some(rev)),
                    None => o.changed_since(changed_since),
                }
            })?;
            let format = match format {
                OutputFormat::Text => Format::Human,
                OutputFormat::Json => Format::Json,
                OutputFormat::Sarif => Format::Sarif,
                OutputFormat::Github => Format::Github,
                OutputFormat::Markdown => Format::Markdown,
            };
            // Written as it is made, not held: a large report's JSON is tens
            // of megabytes. Nothing is in `out` before a check's report.
            debug_assert!(out.is_empty());
            write_stdout(|w| crate::write_report(&report, format, &style, w))?;
            let broken = !report.findings.is_empty();
            crate::check::drop_elsewhere(report);
            Ok(if broken && !report_only { exit::FINDINGS } else { exit::OK })
        }
        Command::Fix {
            scan, dry_run, backup_dir, format, apply_plan: Some(plan), locks, ..
        } => triage(&plan, scan.root.as_deref(), dry_run, backup_dir, format, &locks, out),
        Command::Triage { plan, root, dry_run, backup_dir, format, locks } => {
            triage(&plan, root.as_deref(), dry_run, backup_dir, format, &locks, out)
        }
        Command::Fix {
            scan,
            min_confidence,
            dry_run,
            backup_dir,
            plan_out,
            format,
            redirected,
            locks,
            ..
        } => {
            let located = locate(scan.root.as_deref(), &scan.paths)?;
            // Read, decide and write under `docs`, so no other writer's edit lands
            // between the scan and the rewrite (a dry run writes nothing).
            let _lock = match docs_lock(&locks, &located.root, dry_run) {
                Ok(lock) => lock,
                Err(code) => return Ok(code),
            };
            let style = located.style(false);
            let min = match min_confidence {
                MinConfidence::High => Confidence::High,
                MinConfidence::Medium => Confidence::Medium,
                MinConfidence::Low => Confidence::Low,
            };
            let report = scan_tree(&scan, &located, |o| o)?;
            let plan_on_stdout = plan_out.as_deref().is_some_and(tidy_io::is_stdout);
            if let Some(plan) = &plan_out {
                if let Err(e) = crate::write_plan(&report, min, plan, &style) {
                    return Ok(plan_error(&e));
                }
                if !plan_on_stdout {
                    tidy_io::cli::note(
                        TOOL,
                        &format_args!("wrote the fix plan to {}", plan.display()),
                    );
                }
            }
            let options = FixOptions::new()
                .min_confidence(min)
                .dry_run(dry_run)
                .backup_dir(backup_dir)
                .redirected(redirected);
            let applied = crate::apply(&report, &options)?;
            // Redirected links are fixed too, but they were never broken.
            let fixed_broken = applied
                .changes
                .iter()
                .filter(|c| {
                    report
                        .findings
                        .iter()
                        .any(|f| (&f.file, f.line, f.column) == (&c.file, c.line, c.column))
                })
                .count();
            let remaining = report.findings.len() - fixed_broken;
            let json = matches!(format, FixFormat::Json);
            let summary = crate::render_applied(&applied, remaining, dry_run, json, &style);
            if plan_on_stdout {
                // stdout holds the plan: the summary must not end up inside it.
                tidy_io::cli::note_block(&format!("{}\n", summary.trim_end()));
            } else {
                out.push_str(&summary);
            }
            if let Some(backup) = &applied.backup
                && !json
            {
                tidy_io::cli::note(TOOL, &format_args!("undo with: {}", undo(&located, backup)));
            }
            if !applied.skipped.is_empty() {
                tidy_io::cli::note(
                    TOOL,
                    &format_args!(
                        "{} pages were skipped and left as they are (see the skipped lines); exit 1",
                        applied.skipped.len()
                    ),
                );
            }
            let skipped = !applied.skipped.is_empty();
            Ok(if remaining > 0 || skipped { exit::FINDINGS } else { exit::OK })
        }
        Command::Restore { backup, root, force, format, locks } => {
            let options = crate::RestoreOptions::new().force(force);
            let root = locate(root.as_deref(), &[])?.root;
            let _lock = match docs_lock(&locks, &root, false) {
                Ok(lock) => lock,
                Err(code) => return Ok(code),
            };
            let done = crate::restore(&backup, &root, &options)?;
            let path = |file: &String| done.root.join(file).display().to_string();
            if matches!(format, FixFormat::Json) {
                out.push_str(&crate::render::to_text(&crate::output::RestoredJson::new(
                    &backup, &done,
                )));
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
                        crate::render::shown(&path(&skipped.file)),
                        crate::render::shown(&skipped.reason)
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
        Command::Stub { old_path, new_path, root, format, locks } => {
            let root = locate(root.as_deref(), &[])?.root;
            let _lock = match docs_lock(&locks, &root, false) {
                Ok(lock) => lock,
                Err(code) => return Ok(code),
            };
            crate::write_stub(&root, &old_path, &new_path)?;
            if matches!(format, FixFormat::Json) {
                let (stub, target) =
                    (old_path.display().to_string(), new_path.display().to_string());
                let json = crate::output::StubJson { stub: &stub, target: &target };
                out.push_str(&crate::render::to_text(&json));
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

/// The lock every command that rewrites pages works under.
const DOCS_LOCK: &str = "docs";

/// Takes `docs` for rewriting pages below `root` when a lock directory is in use
/// for it (none for a dry run); on failure says why and gives the exit code:
/// 75 for a lock busy past `--lock-timeout`, 2 for the order rule or a bad
/// lock directory.
fn docs_lock(locks: &LockArgs, root: &Path, dry_run: bool) -> Result<Option<SubsystemLock>, u8> {
    if dry_run {
        return Ok(None);
    }
    locks.locking("doclinks").hold(root, &[DOCS_LOCK]).map_err(|e| {
        tidy_io::cli::error(TOOL, &e);
        multilock::subsystem::exit_code(&e)
    })
}

/// `doclinks triage`: applies a reviewed plan and says what it did.
fn triage(
    plan: &Path,
    root: Option<&Path>,
    dry_run: bool,
    backup_dir: Option<PathBuf>,
    format: FixFormat,
    locks: &LockArgs,
    out: &mut String,
) -> Result<u8, crate::Error> {
    let located = locate(root, &[])?;
    let _lock = match docs_lock(locks, &located.root, dry_run) {
        Ok(lock) => lock,
        Err(code) => return Ok(code),
    };
    let options = crate::TriageOptions::new().dry_run(dry_run).backup_dir(backup_dir);
    let done = crate::triage(plan, &located.root, &options)?;
    if matches!(format, FixFormat::Json) {
        out.push_str(&crate::render::to_text(&crate::output::TriagedJson::new(dry_run, &done)));
    } else {
        let verb = if dry_run { "would " } else { "" };
        for c in &done.changes {
            out.push_str(&format!(
                "{}:{}:{}: {} -> {} ({})\n",
                c.file, c.line, c.column, c.old, c.new, c.reason
            ));
        }
        for (old, new) in &done.stubs {
            out.push_str(&format!("{verb}write a redirect stub at {old} pointing to {new}\n"));
        }
        for entry in &done.entries {
            out.push_str(&format!("{verb}append to doclinks.toml: {entry}\n"));
        }
        for skipped in &done.skipped {
            out.push_str(&format!(
                "skipped {}: {}\n",
                crate::render::shown(&skipped.file),
                crate::render::shown(&skipped.reason)
            ));
        }
        out.push_str(&format!(
            "{}{} links retargeted, {} stubs, {} doclinks.toml entries",
            if dry_run { "would apply: " } else { "applied: " },
            done.changes.len(),
            done.stubs.len(),
            done.entries.len()
        ));
        if let Some(backup) = &done.backup {
            out.push_str(&format!("; backup: {}", backup.display()));
        }
        out.push('\n');
    }
    Ok(if done.skipped.is_empty() { exit::OK } else { exit::FINDINGS })
}

/// Runs a check with the shared scan options, a progress bar when stderr is a
/// terminal and the tree is large, and warnings on stderr.
fn scan_tree(
    scan: &Scan,
    located: &Located,
    extra: impl FnOnce(CheckOptions) -> CheckOptions,
) -> Result<Report, crate::Error> {
    let paths = match (&located.here, scan.paths.is_empty()) {
        (Some(here), true) => vec![here.clone()],
        _ => scan.paths.clone(),
    };
    let mut options = CheckOptions::new(&located.root)
        .paths(paths)
        .fragments(!scan.no_fragments)
        .cache(!scan.no_cache)
        .platform(scan.platform.map(PlatformArg::platform));
    if let Some(path) = &scan.config {
        options = options.config(Config::load(path)?);
    }
    let bar: Arc<OnceLock<indicatif::ProgressBar>> = Arc::new(OnceLock::new());
    if tidy_io::cli::progress() {
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
    let report = crate::check(&extra(options));
    if let Some(bar) = bar.get() {
        bar.finish_and_clear();
    }
    let report = report?;
    for warning in &report.warnings {
        tidy_io::cli::warning(
            TOOL,
            &crate::render::shown(&format!("{}: {}", warning.path.display(), warning.message)),
        );
    }
    let summary = &report.summary;
    tidy_io::cli::verbose(
        TOOL,
        1,
        &format_args!(
            "checked {} files below {} as {} ({}): {} links, {} local, {} external, {} broken",
            summary.files,
            report.root.display(),
            report.platform.platform,
            report.platform.chosen_by,
            summary.links,
            summary.local,
            summary.external,
            summary.broken
        ),
    );
    Ok(report)
}

/// The command that undoes a fix run with `backup`.
fn undo(located: &Located, backup: &Path) -> String {
    if located.shown.is_empty() || located.here.is_some() {
        // Restore finds the same root from here.
        format!("doclinks restore {}", backup.display())
    } else {
        format!("doclinks restore --root {} {}", located.shown, backup.display())
    }
}

/// Says why the plan cannot be written; a path that is not a regular file gets
/// a pointer to the way to print it.
fn plan_error(error: &crate::Error) -> u8 {
    tidy_io::cli::error(TOOL, &crate::render::shown(&error.to_string()));
    if let ErrorKind::File(tidy_io::Error::NotRegular { .. } | tidy_io::Error::Symlink { .. }) =
        error.kind()
    {
        tidy_io::cli::note(TOOL, &"hint: `--plan-out -` writes the plan to standard output");
    }
    exit::USAGE
}
