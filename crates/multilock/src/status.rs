//! Status: is a lock held, and by whom? "Held" is decided by a non-blocking
//! lock probe, never by the metadata alone: a killed holder leaves its metadata
//! behind while the kernel has already freed its lock.

use std::fs::TryLockError;
use std::path::PathBuf;

use crate::dir::LockDir;
use crate::error::{Error, Result};
use crate::holder::{Holder, Lease, now};

/// Free or held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// Nobody holds it.
    Free,
    /// Some process holds it.
    Held,
}

impl LockState {
    /// `free` or `held`, as in the status JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Free => "free",
            LockState::Held => "held",
        }
    }
}

/// The state of one lock.
#[derive(Debug, Clone)]
pub struct LockStatus {
    /// The lock's name.
    pub name: String,
    /// Its lock file.
    pub path: PathBuf,
    /// Free or held.
    pub state: LockState,
    /// The holder, when held and its metadata is there (a holder that has just
    /// taken the lock may not have written it yet).
    pub holder: Option<Holder>,
    /// The holder's lease, when there is a holder.
    pub lease: Option<Lease>,
}

impl LockStatus {
    /// Whether the lock is held.
    pub fn is_held(&self) -> bool {
        self.state == LockState::Held
    }
}

pub(crate) fn probe(dir: &LockDir, name: &str) -> Result<LockStatus> {
    let path = dir.lock_path(name);
    let state = match dir.open_existing_lock_file(name)? {
        None => LockState::Free,
        Some((file, _)) => match file.try_lock() {
            Ok(()) => {
                let _ = file.unlock();
                LockState::Free
            }
            Err(TryLockError::WouldBlock) => LockState::Held,
            Err(TryLockError::Error(e)) => return Err(Error::io("probe", path, e)),
        },
    };
    // Read (and so validate) the metadata even of a free lock: a corrupt or
    // foreign file in the lock directory is worth an error either way.
    let holder = match dir.read_meta(name)? {
        Some(bytes) => Some(Holder::parse(&bytes, &dir.meta_path(name))?),
        None => None,
    };
    let holder = holder.filter(|_| state == LockState::Held);
    let lease = holder.as_ref().map(|h| h.lease_at(now()));
    Ok(LockStatus { name: name.to_owned(), path, state, holder, lease })
}
