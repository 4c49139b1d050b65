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
//! # The order rule
//!
//! One acquisition sorts its names, but holders also compose: a thread that
//! holds `docs` and then asks for `queue`, or a `multilock run --lock queue`
//! nested in a `run --lock docs`, would wait for `queue` while holding `docs`,
//! and deadlock with anyone doing the opposite. So a holder may **wait** only
//! for locks that come after every lock it holds (lockdep's rule, enforced
//! instead of detected); anything else is refused at once with
//! [`Error::OrderViolation`], naming what is held, what was asked and the
//! order. Then along any chain of waits the locks waited for rise strictly in
//! the order, and no chain can close into a cycle.
//!
//! - A holder is a thread, with the locks of its process's ancestor `multilock
//!   run`s (passed down in [`HELD_SETS_ENV`] by device and inode; see
//!   [`LockSet::child_env`] and [`LockSet::held_by_parent`]). Locks other
//!   threads hold do not count, nor does a guard sent to another thread: it
//!   counts for the thread that took it.
//! - A try ([`LockSet::try_acquire`], `run --no-wait`) never waits, so it may
//!   take any lock, also one before a lock held; a busy lock is
//!   [`Error::Busy`]. A timeout does not make a wait a try.
//! - The umbrella is taken first by every acquisition in its directory, so it
//!   stays outermost; held, it covers later acquisitions of the same holder.
//! - Locks in different directories have no common order: a holder of locks in
//!   one directory waits in no other (a try there is fine).
//!
//! ```
//! # let tmp = tempfile::tempdir().unwrap();
//! let locks = multilock::LockSet::open(tmp.path())?;
//! let docs = locks.acquire(&["docs"])?;
//! // Waiting for queue while holding docs could close a cycle: refused at once.
//! let err = locks.acquire(&["queue"]).unwrap_err();
//! assert!(matches!(err, multilock::Error::OrderViolation { .. }));
//! // Without waiting it cannot, so it is allowed.
//! let queue = locks.try_acquire(&["queue"])?;
//! assert_eq!(locks.held(), ["queue", "docs"]);
//! # drop((queue, docs));
//! # Ok::<(), multilock::Error>(())
//! ```
//!
//! # Who holds a lock
//!
//! A lock belongs to an open file, and every process that inherited that file
//! holds it too: when a `multilock run` is killed, its command's background
//! jobs keep its locks. [`LockSet::status`], timeouts and [`Error::Busy`] then
//! name the processes really holding the lock, found through `/proc` (see
//! [`LockStatus::processes`]), besides the recorded holder that is gone.
//!
//! # Running a command under locks
//!
//! `run::supervise` (feature `cli`) is what `multilock run` does: it runs a
//! command under a guard's locks, lends them to it and nothing else, forwards
//! termination signals, renews the lease and releases the locks when it exits.
//!
//! # Tools under their subsystem locks
//!
//! [`subsystem`] is how tidykit's tools take the lock of the subsystem they
//! write (doclinks `docs`, storage-approval `archive`, failure-rules `docs`):
//! only when a lock directory is in use, and under a parent `multilock run`'s
//! hold when it has them, waiting by the same order rule.
//!
//! ```
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join(".multilock");
//! use multilock::{AcquireOptions, subsystem};
//!
//! let lock = subsystem::hold(&dir, &["docs"], &AcquireOptions::new())?;
//! // ... rewrite the pages ...
//! lock.release()?;
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
//! - Status never fails because of one lock: an unsafe lock file or foreign
//!   metadata is that lock's [`LockStatus::problem`].

#[cfg(feature = "cli")]
pub mod cli;
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
pub mod subsystem;

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
