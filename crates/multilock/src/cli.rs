//! The command-line interface of `multilock`: argument parsing, the library calls,
//! rendering and the exit code. Public (behind the `cli` feature) so that the binary,
//! the repository-root hook package and `cargo xtask dist` (completions, man pages)
//! share one definition.
//! No locking logic lives here: acquisition and the order rule
//! are `LockSet`'s, the `run` supervisor is `multilock::run`. The glue every tidykit binary
//! shares (clap errors, exit codes, a standard output that ends quietly when
//! its reader goes away, as under `| head`) is `tidy_io::cli`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::subsystem::parse_duration;
use crate::{AcquireOptions, CanonicalOrder, Error, LockSet, LockStatus, command_line};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use tidy_io::cli::{GlobalArgs, exit};

// The shared codes are tidy-io's: `exit::OK` (for `run`, the command's own code
// is passed through), `exit::FINDINGS` for a `status` listing a lock with a
// problem, and `exit::USAGE` for usage or input errors (bad flag, unsafe
// directory, invalid name, lock already held by a parent run, a wait the order
// rule refuses). The three below are multilock's own: 75 is sysexits'
// EX_TEMPFAIL, 126 and 127 are what shells report for a command they cannot
// run or cannot find.

/// Exit code: a lock could not be had in time (`EX_TEMPFAIL`), unless
/// `--conflict-exit-code` says otherwise.
const EXIT_CONFLICT: u8 = exit::LOCKED;
/// Exit code: the command could not be executed (found but not runnable).
const EXIT_CANNOT_EXECUTE: u8 = 126;
/// Exit code: the command was not found.
const EXIT_NOT_FOUND: u8 = 127;

#[derive(Parser, Debug)]
#[command(
    name = "multilock",
    version,
    about = "Named per-subsystem file locks, taken in one canonical order so deadlock is impossible",
    after_help = "\
Examples:
  multilock run --lock docs --lock queue -- make docs
      takes queue, then docs (canonical order), runs `make docs`, releases docs, then queue
  multilock run --lock archive --timeout 30 --conflict-exit-code 3 -- ./archive.sh
      gives up after 30 s with exit code 3 and names the holder
  multilock run --no-wait --lock queue -- ./drain.sh
      takes queue only if it is free right now, else exits 75 naming the holder
  multilock status --all --format json
  multilock --order fetch,build,publish order

Order rule: a run nested in another may wait only for locks after every lock held
(`run --lock docs -- multilock run --lock queue ...` is refused); --no-wait may take any.

Exit codes: `run` exits with the command's code; 75 (or --conflict-exit-code) when a lock
could not be had in time, or at once with --no-wait; 2 for usage errors, unsafe lock
directories or files, and nested runs asking for a lock their parent holds or one before
it in the order; 126/127 when the command cannot be run. `status` exits 1 when a lock has
a problem (shown on its line), 2 when the directory cannot be read."
)]
struct Cli {
    /// Lock directory [default: $MULTILOCK_DIR, else .multilock]
    #[arg(long, global = true, env = "MULTILOCK_DIR", value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Canonical order, comma-separated [default: queue,runs,archive,docs]
    #[arg(long, global = true, value_delimiter = ',', value_name = "A,B,C")]
    order: Option<Vec<String>>,

    #[command(flatten)]
    global: GlobalArgs,

    #[command(subcommand)]
    command: Subcommands,
}

#[derive(Subcommand, Debug)]
enum Subcommands {
    /// Take locks, run a command, release them, exit with the command's code
    Run(RunArgs),
    /// Show held locks (or all known locks with --all)
    Status {
        /// List every known lock, free or held
        #[arg(long)]
        all: bool,
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the canonical order, one name per line
    Order {
        /// Output format
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// A lock to take (repeatable); taken in canonical order whatever the order given
    #[arg(long = "lock", value_name = "NAME")]
    locks: Vec<String>,

    /// Outermost lock taken before every subsystem lock
    #[arg(long, value_name = "NAME")]
    umbrella: Option<String>,

    /// Give up after this long (seconds, or 500ms, 10s, 2m); default: wait as long as it takes
    #[arg(long, value_parser = parse_duration, value_name = "SECS")]
    timeout: Option<Duration>,

    /// Do not wait: exit with the conflict code at once if a lock is busy. Allowed
    /// for locks that come before ones already held, since a try cannot deadlock
    #[arg(long, conflicts_with = "timeout")]
    no_wait: bool,

    /// Lease length; renewed in the background while the command runs
    #[arg(long, value_parser = parse_duration, value_name = "SECS", default_value = "60")]
    ttl: Duration,

    /// Exit code when a lock could not be had in time
    #[arg(long, value_name = "N", default_value_t = EXIT_CONFLICT, value_parser = clap::value_parser!(u8).range(1..))]
    conflict_exit_code: u8,

    /// Take no locks at all (debugging); the command still runs
    #[arg(long)]
    no_subsystem_locks: bool,

    /// The command to run, after `--`
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    // `human` is accepted too, as the other tools spelt it.
    #[value(alias = "human")]
    Text,
    Json,
}

/// The clap definition of the command, for completions and man pages.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// Runs `multilock` on the process's arguments and returns its exit code.
pub fn main() -> ExitCode {
    let cli = match tidy_io::cli::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    cli.global.apply();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(Failure { message, code }) => {
            tidy_io::cli::error(TOOL, &message);
            ExitCode::from(code)
        }
    }
}

/// The name every stderr line starts with.
const TOOL: &str = "multilock";

/// An error on its way to stderr and an exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), code: exit::USAGE }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::usage(e.to_string())
    }
}

fn dispatch(cli: Cli) -> Result<u8, Failure> {
    let dir = cli.dir.unwrap_or_else(|| PathBuf::from(".multilock"));
    let order = cli.order.as_deref().map(CanonicalOrder::new).transpose()?;
    match cli.command {
        Subcommands::Order { format } => {
            // The directory's recorded order wins; looking creates nothing.
            let names = if dir.is_dir() {
                let mut builder = LockSet::builder(&dir).create(false);
                if let Some(order) = order {
                    builder = builder.order(order);
                }
                builder.open()?.order().to_vec()
            } else {
                order.unwrap_or_default().names().to_vec()
            };
            let text: String = match format {
                Format::Text => names.iter().map(|name| format!("{name}\n")).collect(),
                Format::Json => {
                    let json = serde_json::to_string_pretty(&OrderJson { order: &names })
                        .expect("the order serializes");
                    format!("{json}\n")
                }
            };
            print_out(&text)?;
            Ok(exit::OK)
        }
        Subcommands::Status { all, format } => {
            // Status only looks: it neither creates the directory nor any file.
            if !dir.exists() {
                return Err(Failure::usage(format!(
                    "lock directory {} does not exist",
                    dir.display()
                )));
            }
            let mut builder = LockSet::builder(&dir).create(false);
            if let Some(order) = order {
                builder = builder.order(order);
            }
            let set = builder.open()?;
            let statuses = set.status(all)?;
            let rendered = match format {
                Format::Text => render_status_text(&dir, &statuses, all),
                Format::Json => render_status_json(&statuses),
            };
            print_out(&rendered)?;
            // Every lock is listed even when one has a problem; the exit code
            // says that one needs looking at.
            if statuses.iter().any(|s| s.problem.is_some()) {
                Ok(exit::FINDINGS)
            } else {
                Ok(exit::OK)
            }
        }
        Subcommands::Run(args) => run(&dir, order, args),
    }
}

/// Prints a command's output. A reader that went away (`| head -1`) is a normal
/// end, not an error; any other write error is one.
fn print_out(text: &str) -> Result<(), Failure> {
    tidy_io::cli::emit(text)
        .map_err(|e| Failure::usage(format!("cannot write to standard output: {e}")))
}

fn run(dir: &std::path::Path, order: Option<CanonicalOrder>, args: RunArgs) -> Result<u8, Failure> {
    if args.locks.is_empty() && args.umbrella.is_none() {
        return Err(Failure::usage("`run` needs at least one --lock NAME (or --umbrella NAME)"));
    }
    let mut builder = LockSet::builder(dir).disabled(args.no_subsystem_locks);
    if let Some(order) = order {
        builder = builder.order(order);
    }
    if let Some(umbrella) = &args.umbrella {
        builder = builder.umbrella(umbrella);
    }
    let set = builder.open()?;
    if set.is_disabled() {
        tidy_io::cli::note(
            TOOL,
            &"subsystem locks disabled (--no-subsystem-locks): running without locks",
        );
    }
    let plan = set.plan(&args.locks)?;
    for name in &plan.unknown {
        tidy_io::cli::warning(
            TOOL,
            &format_args!(
                "lock `{name}` is not in the canonical order ({}); it is taken after the known locks",
                set.order().join(",")
            ),
        );
    }

    let options = AcquireOptions::new()
        .timeout(args.timeout)
        .ttl(Some(args.ttl))
        .command(command_line(&args.command))
        .on_wait(Duration::from_secs(1), crate::subsystem::wait_notice(TOOL));
    let started = std::time::Instant::now();
    let acquired = if args.no_wait {
        set.try_acquire_with(&args.locks, &options)
    } else {
        set.acquire_with(&args.locks, &options)
    };
    let guard = match acquired {
        Ok(guard) => guard,
        Err(e) if e.is_conflict() => {
            return Err(Failure { message: e.to_string(), code: args.conflict_exit_code });
        }
        Err(e) => return Err(e.into()),
    };
    tidy_io::cli::verbose(
        TOOL,
        1,
        &format_args!(
            "took {} in {:.1?}; running `{}`",
            guard.held().join(", "),
            started.elapsed(),
            command_line(&args.command)
        ),
    );
    let finished = match crate::run::supervise(&set, guard, &args.command, args.ttl) {
        Ok(finished) => finished,
        Err(Error::Command { action: "run", program, source }) => {
            let code = if source.kind() == std::io::ErrorKind::NotFound {
                EXIT_NOT_FOUND
            } else {
                EXIT_CANNOT_EXECUTE
            };
            return Err(Failure { message: format!("cannot run `{program}`: {source}"), code });
        }
        Err(e) => return Err(e.into()),
    };
    for warning in &finished.warnings {
        tidy_io::cli::warning(TOOL, warning);
    }
    tidy_io::cli::verbose(
        TOOL,
        1,
        &format_args!("released the locks; the command exited with {}", finished.exit_code()),
    );
    Ok(finished.exit_code())
}

fn render_status_text(dir: &std::path::Path, statuses: &[LockStatus], all: bool) -> String {
    if statuses.is_empty() {
        let what = if all { "no locks known" } else { "no locks held" };
        return format!("{what} in {}\n", dir.display());
    }
    let width = statuses.iter().map(|s| s.name.len()).max().unwrap_or(4).max(4);
    let state_width = statuses.iter().map(|s| s.state.as_str().len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:width$}  {:state_width$}  HOLDER\n", "LOCK", "STATE");
    for status in statuses {
        let mut holder = match (&status.holder, status.lease, status.holder_text()) {
            (Some(holder), Some(lease), Some(text)) => {
                let ttl = holder.ttl_secs.map_or_else(String::new, |t| format!(", ttl {t}s"));
                format!("{text}; lease {}{ttl}", lease.as_str())
            }
            (_, _, Some(text)) => text,
            _ => String::new(),
        };
        if let Some(problem) = &status.problem {
            if !holder.is_empty() {
                holder.push_str("; ");
            }
            holder.push_str(&format!("error: {problem}"));
        }
        let line =
            format!("{:width$}  {:state_width$}  {holder}", status.name, status.state.as_str());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `order --format json`.
#[derive(Serialize)]
struct OrderJson<'a> {
    order: &'a [String],
}

#[derive(Serialize)]
struct StatusJson<'a> {
    locks: Vec<LockJson<'a>>,
}

#[derive(Serialize)]
struct LockJson<'a> {
    name: &'a str,
    path: String,
    state: &'static str,
    holder: Option<HolderJson<'a>>,
    /// Set when the recorded holder no longer holds the lock, or none is recorded.
    holding_processes: Option<&'a [crate::LockProcess]>,
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct HolderJson<'a> {
    pid: u32,
    child_pid: Option<u32>,
    host: &'a str,
    command: &'a str,
    acquired_at: String,
    renewed_at: String,
    ttl_secs: Option<u64>,
    lease: &'static str,
}

fn render_status_json(statuses: &[LockStatus]) -> String {
    let rfc3339 = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
    };
    let locks = statuses
        .iter()
        .map(|s| LockJson {
            name: &s.name,
            path: s.path.display().to_string(),
            state: s.state.as_str(),
            holder: s.holder.as_ref().map(|h| HolderJson {
                pid: h.pid,
                child_pid: h.child_pid,
                host: &h.host,
                command: &h.command,
                acquired_at: rfc3339(h.acquired_at),
                renewed_at: rfc3339(h.renewed_at),
                ttl_secs: h.ttl_secs,
                lease: s.lease.map_or("valid", |l| l.as_str()),
            }),
            holding_processes: s.processes.as_deref(),
            error: s.problem.as_deref(),
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&StatusJson { locks }).expect("status JSON always serializes");
    text.push('\n');
    text
}
