//! multilock: named per-subsystem file locks, always taken in one canonical
//! order, so that deadlock is impossible by construction.
//!
//! A [`LockSet`] is a lock directory plus an order (default
//! `queue → runs → archive → docs`). Whatever order you ask for locks in, they are
//! taken in the canonical one and released in reverse. Each lock is an OS file
//! lock (`flock`), so a holder that crashes or is killed loses its locks at once;
//! beside each lock file, a metadata file says who holds it, so a waiter can be
//! told whom it waits for.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use multilock::{AcquireOptions, LockSet};
//!
//! # fn main() -> Result<(), multilock::Error> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join(".multilock");
//! let locks = LockSet::open(&dir)?;
//! let options = AcquireOptions::new().timeout(Some(Duration::from_secs(30)));
//! let guard = locks.acquire_with(&["docs", "queue"], &options)?;
//! assert_eq!(guard.held(), ["queue", "docs"]);
//! assert_eq!(locks.held(), ["queue", "docs"]);
//!
//! // Asking again for a lock this process holds is an error, not a self-deadlock.
//! assert!(locks.acquire(&["docs"]).is_err());
//!
//! assert_eq!(guard.release()?, ["docs", "queue"]);
//! # Ok(())
//! # }
//! ```
//!
//! Status, as `multilock status --all` shows it, probes each lock without taking it:
//!
//! ```
//! # let tmp = tempfile::tempdir().unwrap();
//! let locks = multilock::LockSet::open(tmp.path())?;
//! let _guard = locks.acquire(&["runs"])?;
//! let held: Vec<String> = locks.status(false)?.into_iter().map(|s| s.name).collect();
//! assert_eq!(held, ["runs"]);
//! # Ok::<(), multilock::Error>(())
//! ```
//!
//! # Guarantees
//!
//! - Lock files are never deleted, renamed, truncated or opened through a
//!   symlink; only the metadata file comes and goes, replaced by rename.
//! - Names are `[a-z0-9_-]{1,64}`, so no name reaches outside the directory.
//! - Release and renewal check the owner token; somebody else's lock is never
//!   released.

mod dir;
mod error;
mod guard;
mod holder;
mod lockset;
mod name;
mod order;
mod procs;
#[cfg(feature = "cli")]
pub mod run;
mod status;

pub use crate::error::{Error, HeldBy, HeldName, Result};
pub use crate::guard::LockGuard;
pub use crate::holder::{Holder, Lease, command_line};
pub use crate::lockset::{
    ALLOW_REMOTE_FS_ENV, AcquireOptions, HELD_DIR_ENV, HELD_ENV, HELD_SETS_ENV, LockSet,
    LockSetBuilder, Waiting,
};
pub use crate::name::{MAX_NAME_LEN, validate_name};
pub use crate::order::{CanonicalOrder, DEFAULT_ORDER, OrderedNames};
pub use crate::procs::LockProcess;
pub use crate::status::{LockState, LockStatus};
