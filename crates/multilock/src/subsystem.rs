//! Subsystem locks for the tools that write a subsystem's files.
//!
//! doclinks rewrites pages under `docs`, storage-approval moves files into the
//! archive under `archive`, failure-rules writes its rules file under `docs`.
//! They share one way of doing it, so that a composition of tools and `multilock
//! run`s follows one order rule:
//!
//! - [`lock_dir_in_use`] says whether a lock directory is in use for the work,
//!   and which: a tree that never used multilock gets no `.multilock` folder from
//!   a tool that only reads or rewrites it.
//! - [`hold`] takes the locks a parent `multilock run` does not already hold for
//!   this process and waits under the order rule like any other holder, so asking
//!   for an earlier lock than one held is refused at once rather than waited for.
//! - [`Locking`] is what a tool's flags make of the two (`--lock-dir`,
//!   `--lock-timeout`, `--no-subsystem-locks`): built once by the CLI, handed to
//!   the code that writes.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::guard::LockGuard;
use crate::lockset::{AcquireOptions, HELD_DIR_ENV, LockSet};

/// The environment variable naming the lock directory for every tool.
pub const DIR_ENV: &str = "MULTILOCK_DIR";

/// The lock directory's name at a repository's root.
pub const REPOSITORY_DIR: &str = ".multilock";

/// Where a lock directory in use was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockDirFrom {
    /// Named by the tool's `--lock-dir`.
    Flag,
    /// Named by `$MULTILOCK_DIR`.
    Env,
    /// The directory of a parent `multilock run` that holds locks
    /// (`$MULTILOCK_HELD_DIR`), so a tool run under it uses its hold.
    ParentRun,
    /// `.multilock` at the root of the repository the work is in.
    Repository,
}

/// A lock directory in use, and why it is the one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockDirInUse {
    /// The directory.
    pub path: PathBuf,
    /// Where it was found.
    pub from: LockDirFrom,
}

/// The lock directory in use for work on `start` (the file or tree a tool
/// writes), in this order: `flag` (a tool's `--lock-dir`), `$MULTILOCK_DIR`,
/// the directory a parent `multilock run` holds locks in, and `.multilock` at
/// the root of the repository holding `start` (the nearest ancestor with a
/// `.git`; without one, `start` itself when it is a directory) if it exists.
/// `None` when no lock directory is in use: the caller takes no lock.
///
/// An existing `.multilock` that is not a usable directory (a symlink, a file)
/// still counts as in use, so that [`hold`] reports what is wrong with it
/// instead of the tool writing unlocked.
pub fn lock_dir_in_use(start: &Path, flag: Option<&Path>) -> Option<LockDirInUse> {
    let named = |from, value: Option<std::ffi::OsString>| {
        value.filter(|v| !v.is_empty()).map(|v| LockDirInUse { path: PathBuf::from(v), from })
    };
    if let Some(flag) = flag {
        return Some(LockDirInUse { path: flag.to_path_buf(), from: LockDirFrom::Flag });
    }
    named(LockDirFrom::Env, std::env::var_os(DIR_ENV))
        .or_else(|| named(LockDirFrom::ParentRun, std::env::var_os(HELD_DIR_ENV)))
        .or_else(|| {
            let path = repository_root(start)?.join(REPOSITORY_DIR);
            // symlink_metadata: a dangling link there is still "in use" (and refused).
            path.symlink_metadata().ok()?;
            Some(LockDirInUse { path, from: LockDirFrom::Repository })
        })
}

/// The repository holding `start`: the nearest of its ancestors (itself
/// included when it is a directory) holding `.git`; without one, `start` when
/// it is a directory, else its parent.
fn repository_root(start: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(start).ok()?;
    let base = if absolute.is_dir() { absolute.as_path() } else { absolute.parent()? };
    Some(tidy_io::repository_of(base).unwrap_or_else(|| base.to_path_buf()))
}

/// The subsystem locks a tool works under: those it took (released by
/// [`SubsystemLock::release`] or on drop) and those a parent `multilock run`
/// holds for it.
#[derive(Debug)]
#[must_use = "the locks are released as soon as this is dropped"]
pub struct SubsystemLock {
    guard: Option<LockGuard>,
    from_parent: Vec<String>,
    _set: LockSet,
}

impl SubsystemLock {
    /// The locks this process took, in the order they were taken.
    pub fn taken(&self) -> Vec<&str> {
        self.guard.as_ref().map(LockGuard::held).unwrap_or_default()
    }

    /// The locks a parent `multilock run` holds, which the work uses.
    pub fn from_parent(&self) -> &[String] {
        &self.from_parent
    }

    /// Releases the locks this process took, in reverse order.
    pub fn release(self) -> Result<()> {
        match self.guard {
            Some(guard) => guard.release().map(drop),
            None => Ok(()),
        }
    }
}

/// Takes `names` in the lock directory `dir` (created when missing), except
/// those a parent `multilock run` holds for this process, waiting as `options`
/// say. Waiting follows the order rule: with a parent holding `docs`, asking
/// for `archive` is [`Error::OrderViolation`](crate::Error::OrderViolation) at
/// once, never a wait that could close a cycle.
pub fn hold<S: AsRef<str>>(
    dir: &Path,
    names: &[S],
    options: &AcquireOptions,
) -> Result<SubsystemLock> {
    let set = LockSet::open(dir)?;
    let (from_parent, own): (Vec<String>, Vec<String>) =
        names.iter().map(|n| n.as_ref().to_owned()).partition(|n| set.held_by_parent(n));
    let guard = if own.is_empty() { None } else { Some(set.acquire_with(&own, options)?) };
    Ok(SubsystemLock { guard, from_parent, _set: set })
}

/// How a tool takes its subsystem locks: from its flags, used where it writes.
#[derive(Debug, Clone)]
pub struct Locking {
    enabled: bool,
    lock_dir: Option<PathBuf>,
    options: AcquireOptions,
}

impl Default for Locking {
    fn default() -> Self {
        Locking { enabled: true, lock_dir: None, options: AcquireOptions::new() }
    }
}

impl Locking {
    /// Locks taken when a lock directory is in use, waiting as long as it takes.
    pub fn new() -> Self {
        Self::default()
    }

    /// No locks at all (`--no-subsystem-locks`).
    pub fn disabled() -> Self {
        Locking { enabled: false, ..Self::default() }
    }

    /// The lock directory a tool's `--lock-dir` names (`None`: found as
    /// [`lock_dir_in_use`] says).
    pub fn lock_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.lock_dir = dir;
        self
    }

    /// `dir` as the lock directory unless one was named: for a tool that
    /// always locks (failure-rules), creating its default directory.
    pub fn or_lock_dir(mut self, dir: impl FnOnce() -> PathBuf) -> Self {
        if self.lock_dir.is_none() {
            self.lock_dir = Some(dir());
        }
        self
    }

    /// Timeout, recorded command and wait notice for the acquisition.
    pub fn options(mut self, options: AcquireOptions) -> Self {
        self.options = options;
        self
    }

    /// Whether locks are taken at all.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Takes `names` for work on `start` when a lock directory is in use for
    /// it; `None` when none is, or locking is disabled.
    pub fn hold<S: AsRef<str>>(&self, start: &Path, names: &[S]) -> Result<Option<SubsystemLock>> {
        if !self.enabled {
            return Ok(None);
        }
        match lock_dir_in_use(start, self.lock_dir.as_deref()) {
            Some(in_use) => hold(&in_use.path, names, &self.options).map(Some),
            None => Ok(None),
        }
    }
}

/// The lock flags of a tool that writes under a subsystem lock, for its clap
/// definition (`#[command(flatten)]`), so all of them spell them alike.
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LockArgs {
    /// Lock directory (default: $MULTILOCK_DIR, a parent `multilock run`'s, else
    /// .multilock at the repository root if it exists; none: no locks).
    #[arg(long, value_name = "DIR")]
    pub lock_dir: Option<PathBuf>,
    /// Give up waiting for a busy lock after SECS (exit 75; default: wait).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub lock_timeout: Option<std::time::Duration>,
    /// Take no subsystem lock, even when a lock directory is in use.
    #[arg(long, conflicts_with_all = ["lock_dir", "lock_timeout"])]
    pub no_subsystem_locks: bool,
}

#[cfg(feature = "cli")]
impl LockArgs {
    /// The [`Locking`] these flags ask for. `tool` prefixes the line printed
    /// on stderr after a second of waiting, which names the holder.
    pub fn locking(&self, tool: &'static str) -> Locking {
        if self.no_subsystem_locks {
            return Locking::disabled();
        }
        let options = AcquireOptions::new()
            .timeout(self.lock_timeout)
            .on_wait(std::time::Duration::from_secs(1), wait_notice(tool));
        Locking::new().lock_dir(self.lock_dir.clone()).options(options)
    }
}

/// The stderr line a CLI prints after a second of waiting for a busy lock
/// (`TOOL: waiting for lock `docs` (…), held by …`), for `AcquireOptions::on_wait`.
#[cfg(feature = "cli")]
pub fn wait_notice(tool: &'static str) -> impl Fn(&crate::Waiting) + Send + Sync + 'static {
    move |waiting| {
        tidy_io::cli::note(
            tool,
            &format_args!(
                "waiting for lock `{}` ({}), {}",
                waiting.lock,
                waiting.path.display(),
                waiting.holder_text()
            ),
        );
    }
}

/// The exit code for a lock error: 75 (`EX_TEMPFAIL`) when the lock was busy
/// past the timeout, 2 otherwise (the order rule, a bad lock directory).
#[cfg(feature = "cli")]
pub fn exit_code(error: &crate::Error) -> u8 {
    if error.is_conflict() { tidy_io::cli::exit::LOCKED } else { tidy_io::cli::exit::USAGE }
}

/// Seconds (`2`, `0.5`) or a number with a unit (`500ms`, `10s`, `2m`, `1h`):
/// how every tidykit CLI reads a duration.
#[cfg(feature = "cli")]
pub fn parse_duration(text: &str) -> std::result::Result<std::time::Duration, String> {
    let invalid =
        || format!("invalid duration {text:?}: expected seconds like 2.5, or 500ms, 10s, 2m, 1h");
    let trimmed = text.trim();
    let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(invalid()),
    };
    std::time::Duration::try_from_secs_f64(value * scale).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_lock_dir_is_in_use_only_when_it_exists() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path();
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::create_dir_all(repo.join("docs/guide")).unwrap();
        let start = repo.join("docs/guide");
        // The environment may name a directory (a test run under multilock).
        if std::env::var_os(DIR_ENV).is_some() || std::env::var_os(HELD_DIR_ENV).is_some() {
            return;
        }
        assert_eq!(lock_dir_in_use(&start, None), None);
        std::fs::create_dir(repo.join(REPOSITORY_DIR)).unwrap();
        let found = lock_dir_in_use(&start, None).unwrap();
        assert_eq!(found.from, LockDirFrom::Repository);
        assert_eq!(found.path, std::path::absolute(repo.join(REPOSITORY_DIR)).unwrap());
    }

    #[test]
    fn a_flag_wins_over_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let flag = tmp.path().join("locks");
        let found = lock_dir_in_use(tmp.path(), Some(&flag)).unwrap();
        assert_eq!(found, LockDirInUse { path: flag, from: LockDirFrom::Flag });
    }

    #[test]
    fn disabled_locking_takes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("locks");
        let locking = Locking::disabled().lock_dir(Some(dir.clone()));
        assert!(locking.hold(tmp.path(), &["docs"]).unwrap().is_none());
        assert!(!dir.exists());
        let held = Locking::new().lock_dir(Some(dir.clone())).hold(tmp.path(), &["docs"]).unwrap();
        assert_eq!(held.unwrap().taken(), ["docs"]);
    }

    #[test]
    fn hold_takes_and_releases_the_locks() {
        let tmp = tempfile::tempdir().unwrap();
        let lock = hold(tmp.path(), &["docs", "archive"], &AcquireOptions::new()).unwrap();
        assert_eq!(lock.taken(), ["archive", "docs"]);
        assert!(lock.from_parent().is_empty());
        let set = LockSet::open(tmp.path()).unwrap();
        assert!(set.try_acquire(&["docs"]).is_err());
        lock.release().unwrap();
        drop(set.try_acquire(&["docs"]).unwrap());
    }

    #[cfg(feature = "cli")]
    #[test]
    fn durations_accept_seconds_and_units_and_refuse_garbage() {
        assert_eq!(parse_duration("2.5"), Ok(std::time::Duration::from_millis(2500)));
        assert_eq!(parse_duration("500ms"), Ok(std::time::Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(std::time::Duration::from_secs(120)));
        for bad in ["", "abc", "-1", "1x", "1e3", "nan", "1..2"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
