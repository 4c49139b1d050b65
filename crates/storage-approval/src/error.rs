//! The crate's one error type: a kind that says what went wrong and names the file.

use std::path::{Path, PathBuf};

/// An error from any storage-approval operation.
///
/// Messages are lowercase fragments that name the file (and the line or key where it
/// helps), so a binary can print `storage-approval: {error}` and nothing more.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error {
    kind: Box<ErrorKind>,
}

/// What kind of error happened. Match on it through [`Error::kind`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An I/O error on a named path.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done ("cannot read", "cannot open").
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file the file layer refused or failed on: a FIFO, device or socket where a
    /// regular file must be, a symlink where none is allowed, a file over its size
    /// limit, or a system call's error. The source names the file.
    #[error("{op}: {source}")]
    File {
        /// What was being done ("cannot read audit log", "cannot write report").
        op: &'static str,
        /// The file layer's error, naming the file.
        #[source]
        source: tidy_io::Error,
    },
    /// A file that exists but cannot be understood (report, approval, policy, audit log).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, naming the key or line.
        message: String,
    },
    /// An operation the tool refuses on purpose: approval mismatch, unsafe report,
    /// broken audit chain. Binaries map this to exit code 1.
    #[error("refused: {0}")]
    Refused(String),
    /// An audit log whose hash chain does not hold; binaries map this to exit code 1.
    #[error("{path}:{line}: audit chain broken: {message}")]
    Chain {
        /// The audit log.
        path: PathBuf,
        /// The first bad line (1-based).
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A bad argument or combination of arguments.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// The kind of this error.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Whether this is a refusal (exit code 1) rather than an input error (exit code 2).
    pub fn is_refusal(&self) -> bool {
        matches!(*self.kind, ErrorKind::Refused(_) | ErrorKind::Chain { .. })
    }

    pub(crate) fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Error {
        ErrorKind::Io { op, path: path.as_ref().to_path_buf(), source }.into()
    }

    pub(crate) fn file(op: &'static str, source: tidy_io::Error) -> Error {
        ErrorKind::File { op, source }.into()
    }

    pub(crate) fn invalid(path: impl AsRef<Path>, message: impl Into<String>) -> Error {
        ErrorKind::Invalid { path: path.as_ref().to_path_buf(), message: message.into() }.into()
    }

    pub(crate) fn refused(message: impl Into<String>) -> Error {
        ErrorKind::Refused(message.into()).into()
    }

    pub(crate) fn chain(path: impl AsRef<Path>, line: u64, message: impl Into<String>) -> Error {
        ErrorKind::Chain { path: path.as_ref().to_path_buf(), line, message: message.into() }.into()
    }

    pub(crate) fn usage(message: impl Into<String>) -> Error {
        ErrorKind::Usage(message.into()).into()
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error { kind: Box::new(kind) }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
