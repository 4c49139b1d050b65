//! Status: is a lock held, and by whom? "Held" is decided by a non-blocking
//! lock probe, never by the metadata alone: a killed holder leaves its metadata
//! behind while the kernel has already freed its lock.
//!
//! A probe never fails as a whole: whatever is wrong with one lock (a FIFO at
//! its path, foreign metadata beside it) is that lock's [`LockStatus::problem`],
//! so one bad file cannot hide the state of every other lock.

use std::fs::TryLockError;
use std::path::PathBuf;

use crate::dir::LockDir;
use crate::error::{Error, describe_holder};
use crate::holder::{Holder, Lease, now};
use crate::procs::{LockProcess, real_holders};

/// Free, held, or not known because the lock file cannot be probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LockState {
    /// Nobody holds it.
    Free,
    /// Some process holds it.
    Held,
    /// The lock file could not be probed (see [`LockStatus::problem`]).
    Unknown,
}

impl LockState {
    /// `free`, `held` or `unknown`, as in the status JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LockState::Free => "free",
            LockState::Held => "held",
            LockState::Unknown => "unknown",
        }
    }
}

/// The state of one lock.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LockStatus {
    /// The lock's name.
    pub name: String,
    /// Its lock file.
    pub path: PathBuf,
    /// Free, held or unknown.
    pub state: LockState,
    /// The holder, when held and its metadata is there (a holder that has just
    /// taken the lock may not have written it yet).
    pub holder: Option<Holder>,
    /// The holder's lease, when there is a holder.
    pub lease: Option<Lease>,
    /// When the lock is held but the recorded holder no longer holds it (it is
    /// gone, and processes that inherited its lock file keep the lock), or no
    /// holder is recorded: the processes found holding it, through `/proc`.
    /// Empty when none can be seen (other users' processes are not visible).
    pub processes: Option<Vec<LockProcess>>,
    /// What is wrong with this lock's files, if anything: an unsafe lock file,
    /// corrupt or foreign metadata, a probe that failed.
    pub problem: Option<String>,
}

impl LockStatus {
    /// Whether the lock is held.
    pub fn is_held(&self) -> bool {
        self.state == LockState::Held
    }

    /// Who holds it, in words, as status and timeout messages say it; `None`
    /// when it is not held.
    pub fn holder_text(&self) -> Option<String> {
        self.is_held().then(|| describe_holder(self.holder.as_ref(), self.processes.as_deref()))
    }
}

pub(crate) fn probe(dir: &LockDir, name: &str) -> LockStatus {
    let path = dir.lock_path(name);
    let mut status = LockStatus {
        name: name.to_owned(),
        path: path.clone(),
        state: LockState::Unknown,
        holder: None,
        lease: None,
        processes: None,
        problem: None,
    };
    let key = match dir.open_existing_lock_file(name) {
        Ok(None) => {
            status.state = LockState::Free;
            None
        }
        Ok(Some((file, key))) => {
            match file.try_lock() {
                Ok(()) => {
                    let _ = file.unlock();
                    status.state = LockState::Free;
                }
                Err(TryLockError::WouldBlock) => status.state = LockState::Held,
                Err(TryLockError::Error(e)) => {
                    status.problem = Some(Error::io("probe", path, e).to_string());
                }
            }
            Some(key)
        }
        Err(e) => {
            status.problem = Some(e.to_string());
            None
        }
    };
    // Read (and so validate) the metadata even of a free lock: a corrupt or
    // foreign file in the lock directory is worth reporting either way.
    let holder = dir.read_meta(name).and_then(|bytes| match bytes {
        Some(bytes) => Holder::parse(&bytes, &dir.meta_path(name)).map(Some),
        None => Ok(None),
    });
    match holder {
        // A free lock's leftover metadata is a killed holder's, not a holder.
        Ok(holder) => status.holder = holder.filter(|_| status.is_held()),
        // The lock file's own problem comes first; it says more.
        Err(e) => {
            status.problem.get_or_insert_with(|| e.to_string());
        }
    }
    status.lease = status.holder.as_ref().map(|h| h.lease_at(now()));
    if let (LockState::Held, Some(key)) = (status.state, key) {
        status.processes = real_holders(status.holder.as_ref(), key);
    }
    status
}
