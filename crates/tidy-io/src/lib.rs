//! tidy-io is the one file layer of tidykit: every tool reads and writes files
//! through it, so that "nothing outside the root is touched, nothing is lost"
//! is kept in one place.
//!
//! - **Reading** ([`read_file`], [`Root::read`]): only regular files; a FIFO,
//!   device or socket is an error at once (opened `O_NONBLOCK`, then `fstat`),
//!   never a hang; the size cap holds on the bytes actually read.
//! - **Confinement** ([`Root`]): a root opened once; a path below it is resolved
//!   by the kernel, must stay inside, and is then opened from the root's handle
//!   component by component with `O_NOFOLLOW` ([`Dir::open_beneath`]), so a
//!   symlink swapped in between can never redirect it.
//! - **Replacing a user's file** ([`replace`]): atomic, keeping owner and group
//!   (when permitted), mode and extended attributes; a compare-and-swap guard
//!   (device, inode, size, times, SHA-256) leaves a file edited meanwhile as the
//!   other process made it; a file with several hard links is refused.
//! - **The tool's own outputs** ([`write_output`]): `-` is standard output; an
//!   existing non-regular path is refused; new files get `0666 & !umask`.
//! - **CLI glue** ([`cli`]): exit codes, colour, a pipe-safe standard output and
//!   (feature `cli`) clap errors mapped to exit 2.
//!
//! # Example
//!
//! ```
//! use std::path::Path;
//! use tidy_io::{ReplaceOptions, Root};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("page.md"), "[a](old.md)\n")?;
//!
//! let root = Root::open(dir.path())?;
//! let page = root.read(Path::new("page.md"), 1 << 20)?;
//! tidy_io::replace(&page, b"[a](new.md)\n", &ReplaceOptions::default())?;
//! assert_eq!(std::fs::read(dir.path().join("page.md"))?, b"[a](new.md)\n");
//!
//! // Another writer got there first: the replace is refused, the edit survives.
//! let page = root.read(Path::new("page.md"), 1 << 20)?;
//! std::fs::write(dir.path().join("page.md"), "edited elsewhere\n")?;
//! let err = tidy_io::replace(&page, b"mine\n", &ReplaceOptions::default()).unwrap_err();
//! assert!(matches!(err, tidy_io::Error::Changed { .. }));
//! assert_eq!(std::fs::read(dir.path().join("page.md"))?, b"edited elsewhere\n");
//!
//! // A FIFO (or /dev/zero) is refused at once, never read.
//! let err = tidy_io::read_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
//! assert!(matches!(err, tidy_io::Error::NotRegular { kind: "character device", .. }));
//! # Ok(())
//! # }
//! ```

pub mod cli;
mod dir;
mod error;
mod output;
mod read;
mod replace;
mod root;

pub use crate::dir::{Dir, Durability, EntryKind, Perms, Place, TempFile, is_regular, kind_name};
pub use crate::error::{Error, Result};
pub use crate::output::{create_new, is_regular_file, is_stdout, write_output, write_stdout};
pub use crate::read::{open_regular, read_file, read_to_end_capped};
pub use crate::replace::{Hook, ReplaceOptions, Snapshot, replace};
pub use crate::root::{Loaded, Located, Root, repository_of};

/// Re-exported so callers can name `fstat` results without depending on rustix.
pub use rustix::fs::Stat;

/// How many files this process may have open at once (the soft
/// `RLIMIT_NOFILE`), `None` when there is no limit: what a tool that keeps
/// files or directories open sizes its budget by.
pub fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}
