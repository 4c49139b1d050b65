//! The one error type of the crate. Messages are lowercase fragments that name
//! the lock, the path and what is wrong.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::holder::Holder;
use crate::procs::LockProcess;

/// Everything that can go wrong while taking, holding or inspecting locks.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lock name outside `[a-z0-9_-]{1,64}`.
    #[error("invalid lock name {name:?}: {reason}")]
    InvalidName {
        /// The name as given.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// The lock directory cannot be used safely (a symlink, not a directory,
    /// world-writable without the sticky bit, or on a network file system).
    #[error("unsafe lock directory {}: {reason}", path.display())]
    UnsafeDirectory {
        /// The lock directory.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },

    /// The order record of a lock directory is unreadable.
    #[error(
        "corrupt order record {}: {reason}; remove it while no lock is held and the next user records the order again",
        path.display()
    )]
    CorruptOrderRecord {
        /// The order record file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// The lock directory records another canonical order or umbrella than the
    /// one asked for: two orders in one directory could deadlock.
    #[error(
        "lock directory order mismatch: {} records {recorded}, but {requested} was asked for; \
         every user of a lock directory must use one order (remove the file while no lock is held to change it)",
        path.display()
    )]
    OrderMismatch {
        /// The order record file.
        path: PathBuf,
        /// The recorded order.
        recorded: String,
        /// The order asked for.
        requested: String,
    },

    /// A lock or metadata file is a symlink, not a regular file, or has extra
    /// hard links: nothing is written through it.
    #[error("unsafe lock file {}: {reason}", path.display())]
    UnsafeLockFile {
        /// The file.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },

    /// A holder metadata file that is not JSON written by multilock.
    #[error("corrupt holder metadata {}: {reason}", path.display())]
    CorruptMetadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// An I/O operation on a lock-directory path failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("open", "create", "lock"…).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// A lock could not be had within the timeout.
    #[error("timed out after {} waiting for lock `{lock}` ({}); {}", fmt_duration(*waited), path.display(), HolderText(holder.as_deref(), processes.as_deref()))]
    Timeout {
        /// The lock that was busy.
        lock: String,
        /// Its lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// Who held it when we gave up, if its metadata was readable.
        holder: Option<Box<Holder>>,
        /// When that recorded holder no longer holds the lock (or none is
        /// recorded): the processes found holding it (see [`LockProcess`]).
        processes: Option<Vec<LockProcess>>,
    },

    /// A lock asked for without waiting ([`LockSet::try_acquire`]) is held by
    /// somebody else.
    ///
    /// [`LockSet::try_acquire`]: crate::LockSet::try_acquire
    #[error("lock `{lock}` ({}) is busy; {}", path.display(), HolderText(holder.as_deref(), processes.as_deref()))]
    Busy {
        /// The busy lock.
        lock: String,
        /// Its lock file.
        path: PathBuf,
        /// Who holds it, if its metadata is readable.
        holder: Option<Box<Holder>>,
        /// As for [`Error::Timeout`].
        processes: Option<Vec<LockProcess>>,
    },

    /// Waiting for this lock could close a wait cycle: the process (or an
    /// ancestor `multilock run`) holds a lock that does not come before it in
    /// the canonical order, or holds locks in another lock directory.
    #[error("{}", OrderText(self))]
    OrderViolation {
        /// The first lock asked for that does not come after every lock held.
        lock: String,
        /// Every lock asked for, in the order they would be taken.
        asked: Vec<String>,
        /// The locks held when it was asked for.
        held: Vec<HeldName>,
        /// The lock directory's order, umbrella first.
        order: Vec<String>,
    },

    /// The command of a `multilock run` could not be started or waited for.
    #[error("cannot {action} `{program}`: {source}")]
    Command {
        /// "run" or "wait for".
        action: &'static str,
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The lock is already held by this process or by a parent `multilock run`:
    /// waiting would deadlock on ourselves.
    #[error("lock `{lock}` is already held by {by}; taking it again would deadlock")]
    AlreadyHeld {
        /// The lock asked for.
        lock: String,
        /// Who holds it.
        by: HeldBy,
    },

    /// The holder metadata names another owner than this guard: somebody else's
    /// lock is never released or renewed.
    #[error("lock `{lock}` is owned by token {found:?}, not by this holder ({expected:?})")]
    OwnerMismatch {
        /// The lock.
        lock: String,
        /// This guard's owner token.
        expected: String,
        /// The token found in the metadata (empty when the metadata is gone).
        found: String,
    },
}

/// A lock held when another was asked for, as an [`Error::OrderViolation`] names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldName {
    /// Its name.
    pub name: String,
    /// Who holds it.
    pub by: HeldBy,
    /// `None` when it is in the lock directory asked in; else that other
    /// directory, as a path or, for an ancestor's, as `device:inode`.
    pub other_dir: Option<String>,
}

/// Who already holds a lock that was asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeldBy {
    /// A guard of this process.
    ThisProcess,
    /// A guard the asking thread took (the order rule is per thread).
    ThisThread,
    /// A parent `multilock run` (seen through `MULTILOCK_HELD`).
    ParentRun,
}

impl fmt::Display for HeldBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeldBy::ThisProcess => "this process",
            HeldBy::ThisThread => "this thread",
            HeldBy::ParentRun => "a parent `multilock run` (MULTILOCK_HELD)",
        })
    }
}

impl HeldBy {
    /// "this process", "this thread" or "a parent `multilock run`", for lists
    /// of held locks.
    pub fn short(self) -> &'static str {
        match self {
            HeldBy::ThisProcess => "this process",
            HeldBy::ThisThread => "this thread",
            HeldBy::ParentRun => "a parent `multilock run`",
        }
    }
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> Error {
        Error::Io { action, path: path.into(), source: source.into() }
    }

    /// Whether this is a timeout.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether somebody else holds the lock: a timeout, or a busy lock asked for
    /// without waiting (the CLI maps both to the conflict exit code).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Timeout { .. } | Error::Busy { .. })
    }
}

/// A crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// "held by …" for a busy lock: the recorded holder, or when it is gone, the
/// processes really holding the lock and whom they got it from.
pub(crate) struct HolderText<'a>(
    pub(crate) Option<&'a Holder>,
    pub(crate) Option<&'a [LockProcess]>,
);

impl fmt::Display for HolderText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("held by ")?;
        f.write_str(&describe_holder(self.0, self.1))
    }
}

/// Who holds a lock, for status lines and messages: the recorded holder while
/// it holds the lock, else the processes found holding it.
pub(crate) fn describe_holder(
    holder: Option<&Holder>,
    processes: Option<&[LockProcess]>,
) -> String {
    let found = |processes: &[LockProcess]| {
        processes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" and ")
    };
    match (holder, processes) {
        (Some(holder), None) => holder.to_string(),
        (Some(holder), Some([])) => format!(
            "{holder}, which is gone; no process holding the lock can be seen \
             (another user's processes are not visible)"
        ),
        (Some(holder), Some(processes)) => {
            format!("{}, which inherited it from {holder}, now gone", found(processes))
        }
        (None, None | Some([])) => "an unknown holder (no readable holder metadata)".to_owned(),
        (None, Some(processes)) => format!("{} (no readable holder metadata)", found(processes)),
    }
}

/// The message of [`Error::OrderViolation`].
struct OrderText<'a>(&'a Error);

impl fmt::Display for OrderText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Error::OrderViolation { lock, asked, held, order } = self.0 else {
            return Ok(());
        };
        write!(f, "cannot wait for lock `{lock}`")?;
        if asked.len() > 1 {
            write!(f, " (asked for {})", quoted(asked.iter()))?;
        }
        let held_text: Vec<String> = held
            .iter()
            .map(|h| match &h.other_dir {
                None => format!("`{}` ({})", h.name, h.by.short()),
                Some(dir) => format!("`{}` in {dir} ({})", h.name, h.by.short()),
            })
            .collect();
        write!(f, " while holding {}: ", held_text.join(", "))?;
        if held.iter().any(|h| h.other_dir.is_some()) {
            f.write_str(
                "locks in different directories have no common order, so a holder waits \
                 only for locks of the directory it holds locks in",
            )?;
        } else {
            write!(
                f,
                "a lock may be waited for only when it comes after every lock held, in the order {}",
                order.join(" → ")
            )?;
        }
        write!(
            f,
            "; ask for all of them in one acquisition (the outermost `multilock run`), \
             or take `{lock}` without waiting (`run --no-wait`, `try_acquire`)"
        )
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Durations as people read them: `250ms`, `2.5s`, `3m05s`.
pub(crate) fn fmt_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if millis < 60_000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        let secs = duration.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(fmt_duration(Duration::from_millis(2500)), "2.5s");
        assert_eq!(fmt_duration(Duration::from_secs(185)), "3m05s");
    }
}
