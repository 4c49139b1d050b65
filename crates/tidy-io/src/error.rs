//! The one error type of the file layer: every variant names the file at fault and
//! says what is wrong with it in words a user can act on.

use std::path::PathBuf;

/// What went wrong with which file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "create", "rename into place", ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The path names something other than a regular file (a FIFO, a device, a
    /// socket, a directory): reading it could block or never end, replacing it
    /// would destroy it.
    #[error("{} is a {kind}, not a regular file", path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead ("FIFO", "character device", ...).
        kind: &'static str,
    },
    /// A path component that must be a directory is something else.
    #[error("{} is a {kind}, not a directory", path.display())]
    NotADirectory {
        /// The path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// The file holds more bytes than the caller accepts.
    #[error("{} is over the {limit}-byte limit", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The path is a symbolic link where none is allowed.
    #[error("{} is a symbolic link; nothing is read or written through it", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// The path leads out of the root it must stay in (through `..` or a symlink).
    #[error("{} leads outside {} (to {})", path.display(), root.display(), target.display())]
    OutsideRoot {
        /// The path as asked for.
        path: PathBuf,
        /// Where it leads.
        target: PathBuf,
        /// The root it must stay in.
        root: PathBuf,
    },
    /// The file changed between being read and being replaced (another process
    /// edited it); it was left as the other process made it.
    #[error("{} changed since it was read ({what}); left as it is", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
        /// What differs (size, mtime, inode, content).
        what: String,
    },
    /// Another process holds the file open for writing: what it writes after
    /// a replace would go into the old file, which no longer has a name.
    #[error(
        "{} is open for writing in another process; left as it is (what that process writes next would be lost)",
        path.display()
    )]
    OpenForWriting {
        /// The file.
        path: PathBuf,
    },
    /// The file has more than one hard link; replacing it by rename would split
    /// the names (the others would keep the old text).
    #[error(
        "{} has {links} hard links; replacing it would leave the other names with the old text",
        path.display()
    )]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// The replacement could not be given the original's owner, group, mode or
    /// extended attributes.
    #[error("cannot keep the {what} of {}: {source}", path.display())]
    Identity {
        /// The file.
        path: PathBuf,
        /// "owner", "mode" or "extended attribute NAME".
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file that must be new exists already.
    #[error("{} exists already; it is not replaced", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

/// The file layer's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: impl Into<std::io::Error>,
    ) -> Error {
        Error::Io { action, path: path.into(), source: source.into() }
    }

    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. }
            | Error::NotRegular { path, .. }
            | Error::NotADirectory { path, .. }
            | Error::TooLarge { path, .. }
            | Error::Symlink { path }
            | Error::OutsideRoot { path, .. }
            | Error::Changed { path, .. }
            | Error::OpenForWriting { path }
            | Error::HardLinked { path, .. }
            | Error::Identity { path, .. }
            | Error::Exists { path } => path,
        }
    }

    /// Whether the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }

    /// Whether a move failed because source and destination are on different
    /// file systems (`EXDEV`): the caller copies instead.
    pub fn is_cross_device(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()))
    }

    /// The error without the path: for callers that name the file themselves.
    pub fn reason(&self) -> String {
        let full = self.to_string();
        let shown = self.path().display().to_string();
        match full.strip_prefix(&shown) {
            Some(rest) => rest.trim_start_matches([':', ' ']).to_owned(),
            None => full,
        }
    }
}
