//! The one error type of the crate.

use std::path::PathBuf;

/// An error of failure-rules; the message names the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error {
    kind: ErrorKind,
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `write`, …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not one that may be read or written: not a regular file (a FIFO,
    /// a device), over the size limit, reached through a symlink leading out of the
    /// repository, or changed by another process meanwhile.
    #[error(transparent)]
    File(tidy_io::Error),
    /// The rules file is not valid JSON of the expected shape; it is left untouched.
    #[error("rules file {} is corrupt: {reason}; it was left untouched", path.display())]
    CorruptRules {
        /// The rules file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The rules file was written by a newer failure-rules.
    #[error("rules file {} has schema version {found}, newer than {supported} which this failure-rules reads; it was left untouched", path.display())]
    NewerRules {
        /// The rules file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The newest version understood.
        supported: u64,
    },
    /// An input pattern is not a valid glob.
    #[error("invalid input pattern `{pattern}`: {reason}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        reason: String,
    },
    /// The rules file lock could not be taken.
    #[error("cannot lock rules file {}: {source}", path.display())]
    Lock {
        /// The rules file.
        path: PathBuf,
        /// The lock error (busy past the timeout, the order rule, a bad directory).
        /// Boxed: lock errors carry holder details, every other error is small.
        #[source]
        source: Box<multilock::Error>,
    },
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Error {
        Error { kind: ErrorKind::Io { action, path: path.into(), source } }
    }

    pub(crate) fn file(source: tidy_io::Error) -> Error {
        Error { kind: ErrorKind::File(source) }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Error {
        Error { kind: ErrorKind::CorruptRules { path: path.into(), reason: reason.into() } }
    }

    pub(crate) fn newer(path: impl Into<PathBuf>, found: u64, supported: u64) -> Error {
        Error { kind: ErrorKind::NewerRules { path: path.into(), found, supported } }
    }

    pub(crate) fn pattern(pattern: impl Into<String>, reason: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Pattern { pattern: pattern.into(), reason: reason.into() } }
    }

    pub(crate) fn lock(path: impl Into<PathBuf>, source: multilock::Error) -> Error {
        Error { kind: ErrorKind::Lock { path: path.into(), source: Box::new(source) } }
    }

    /// The lock error, when the rules file's lock could not be had.
    pub fn lock_error(&self) -> Option<&multilock::Error> {
        match &self.kind {
            ErrorKind::Lock { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
