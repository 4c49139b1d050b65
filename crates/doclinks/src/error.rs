//! The one error type of the crate: what went wrong, naming the file involved.

use std::path::{Path, PathBuf};

/// An error that stops a doclinks operation.
///
/// Messages are lowercase fragments that name the file (and the line where it
/// helps). Problems with single Markdown files during a scan are not errors but
/// [`Warning`](crate::Warning)s: the scan goes on.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct Error {
    kind: ErrorKind,
}

/// What kind of error happened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, such as "cannot read".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is malformed.
    #[error("invalid config {}: {message}", path.display())]
    Config {
        /// The configuration file.
        path: PathBuf,
        /// What is wrong, naming the key and line.
        message: String,
    },
    /// The input given by the user is unusable (bad root, bad path, bad revision).
    #[error("{0}")]
    Input(String),
    /// A backup archive is malformed or could not be written.
    #[error("backup {}: {message}", path.display())]
    Backup {
        /// The backup archive.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file the operation needs is unusable: not a regular file, outside the
    /// root, changed meanwhile (from the file layer, `tidy_io`).
    #[error(transparent)]
    File(tidy_io::Error),
    /// A git command failed.
    #[error("git {command} failed: {message}")]
    Git {
        /// The git subcommand and arguments.
        command: String,
        /// Git's own message.
        message: String,
    },
}

impl From<tidy_io::Error> for Error {
    fn from(error: tidy_io::Error) -> Error {
        Error { kind: ErrorKind::File(error) }
    }
}

impl Error {
    /// What kind of error this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub(crate) fn io(action: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error { kind: ErrorKind::Io { action, path: path.to_path_buf(), source } }
    }

    pub(crate) fn config(path: &Path, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Config { path: path.to_path_buf(), message: message.into() } }
    }

    pub(crate) fn input(message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Input(message.into()) }
    }

    pub(crate) fn backup(path: &Path, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Backup { path: path.to_path_buf(), message: message.into() } }
    }

    pub(crate) fn git(command: impl Into<String>, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Git { command: command.into(), message: message.into() } }
    }
}
