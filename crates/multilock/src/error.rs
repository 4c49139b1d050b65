//! The one error type of the crate. Messages are lowercase fragments that name
//! the lock, the path and what is wrong.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::holder::Holder;

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
    #[error("timed out after {} waiting for lock `{lock}` ({}); {}", fmt_duration(*waited), path.display(), HolderText(holder.as_deref()))]
    Timeout {
        /// The lock that was busy.
        lock: String,
        /// Its lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
        /// Who held it when we gave up, if its metadata was readable.
        holder: Option<Box<Holder>>,
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

/// Who already holds a lock that was asked for again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeldBy {
    /// A guard of this process.
    ThisProcess,
    /// A parent `multilock run` (seen through `MULTILOCK_HELD`).
    ParentRun,
}

impl fmt::Display for HeldBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HeldBy::ThisProcess => "this process",
            HeldBy::ParentRun => "a parent `multilock run` (MULTILOCK_HELD)",
        })
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

    /// Whether this is a timeout (the CLI maps it to the conflict exit code).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

/// A crate-wide result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

struct HolderText<'a>(Option<&'a Holder>);

impl fmt::Display for HolderText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(holder) => write!(f, "held by {holder}"),
            None => f.write_str("holder unknown (no readable metadata)"),
        }
    }
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
