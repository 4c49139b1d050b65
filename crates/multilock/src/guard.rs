//! `LockGuard`: the locks one acquisition holds. Releases in reverse order of
//! acquisition (LIFO), on `release()` or on drop, and only what it owns.

use std::fs::File;
use std::sync::Arc;

use crate::dir::{FileKey, LockDir};
use crate::error::{Error, Result};
use crate::holder::{Holder, now};
use crate::lockset::unregister;

/// One held lock: the open lock file (closing it frees the flock) and the
/// metadata we wrote for it.
#[derive(Debug)]
pub(crate) struct HeldLock {
    pub(crate) name: String,
    pub(crate) file: File,
    pub(crate) key: FileKey,
    pub(crate) holder: Holder,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        // Closing `file` (right after this) frees the kernel lock; unlock first
        // anyway so the handover does not wait for the close.
        let _ = self.file.unlock();
        unregister(self.key);
    }
}

/// Locks held together; dropping the guard releases them in reverse order.
#[derive(Debug)]
#[must_use = "the locks are released as soon as the guard is dropped"]
pub struct LockGuard {
    dir: Option<Arc<LockDir>>,
    locks: Vec<HeldLock>,
    unknown: Vec<String>,
}

impl LockGuard {
    pub(crate) fn new(dir: Arc<LockDir>, unknown: Vec<String>) -> LockGuard {
        LockGuard { dir: Some(dir), locks: Vec::new(), unknown }
    }

    pub(crate) fn disabled(unknown: Vec<String>) -> LockGuard {
        LockGuard { dir: None, locks: Vec::new(), unknown }
    }

    pub(crate) fn push(&mut self, lock: HeldLock) {
        self.locks.push(lock);
    }

    /// The names held, in the order they were taken.
    pub fn held(&self) -> Vec<&str> {
        self.locks.iter().map(|l| l.name.as_str()).collect()
    }

    /// (directory id, name) of each held lock, for the environment of children.
    pub(crate) fn held_in_dirs(&self) -> impl Iterator<Item = (FileKey, &str)> {
        let dir_id = self.dir.as_ref().map(|dir| dir.id());
        self.locks.iter().filter_map(move |l| Some((dir_id?, l.name.as_str())))
    }

    /// Requested names the canonical order does not know (taken after the known ones).
    pub fn unknown(&self) -> &[String] {
        &self.unknown
    }

    /// Whether this guard came from a disabled set and holds nothing.
    pub fn is_disabled(&self) -> bool {
        self.dir.is_none()
    }

    /// The holder metadata this guard wrote for each lock, in acquisition order.
    pub fn holders(&self) -> impl Iterator<Item = &Holder> {
        self.locks.iter().map(|l| &l.holder)
    }

    /// Lets child processes started from now on inherit the open lock files
    /// (clears close-on-exec). The locks are then held for as long as this
    /// process or any such child lives: if this process dies first, the work it
    /// started keeps them until it exits, as with `flock(1)`. `release` (or
    /// drop) still frees them at once for everyone.
    ///
    /// This is process-wide: a child another thread starts meanwhile inherits
    /// them too, and holds the locks for as long as it runs. `run::supervise`
    /// (feature `cli`) passes them to its one child instead.
    pub fn share_with_children(&self) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        for lock in &self.locks {
            rustix::io::fcntl_setfd(&lock.file, rustix::io::FdFlags::empty())
                .map_err(|e| Error::io("share", dir.lock_path(&lock.name), e))?;
        }
        Ok(())
    }

    /// The raw descriptors of the held lock files, for a child that is to
    /// inherit just these (see `run::supervise`).
    #[cfg(feature = "cli")]
    pub(crate) fn lock_fds(&self) -> Vec<std::os::fd::RawFd> {
        use std::os::fd::AsRawFd;
        self.locks.iter().map(|l| l.file.as_raw_fd()).collect()
    }

    /// Renews the lease of every held lock. Each lock's metadata must still name
    /// this guard's owner token; a mismatch is an error and nothing is written
    /// for that lock.
    pub fn renew(&mut self) -> Result<()> {
        let renewed_at = now();
        self.rewrite(|holder| holder.renewed_at = renewed_at)
    }

    /// Records the command a `multilock run` runs under these locks, so status
    /// and timeout messages name what is really holding them.
    pub fn set_child(&mut self, pid: u32, command: &str) -> Result<()> {
        self.rewrite(|holder| {
            holder.child_pid = Some(pid);
            holder.command = command.to_owned();
        })
    }

    fn rewrite(&mut self, change: impl Fn(&mut Holder)) -> Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let mut first_error = None;
        for lock in &mut self.locks {
            let result = verify_owner(dir, lock).and_then(|()| {
                let mut holder = lock.holder.clone();
                change(&mut holder);
                dir.write_meta(&lock.name, &holder.to_json())?;
                lock.holder = holder;
                Ok(())
            });
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Releases every lock in reverse order of acquisition and returns their
    /// names in the order released. Every lock is released even if an earlier
    /// one fails; the first error is returned. Metadata that names another
    /// owner is left alone (it is somebody else's) and reported as an error.
    pub fn release(mut self) -> Result<Vec<String>> {
        self.release_all()
    }

    fn release_all(&mut self) -> Result<Vec<String>> {
        let mut released = Vec::with_capacity(self.locks.len());
        let mut first_error = None;
        while let Some(lock) = self.locks.pop() {
            if let Some(dir) = &self.dir {
                // The metadata goes first: once the flock is free, the next holder
                // writes its own, and we must not remove that.
                let result = verify_owner(dir, &lock).and_then(|()| dir.remove_meta(&lock.name));
                if let Err(e) = result {
                    first_error.get_or_insert(e);
                }
            }
            released.push(lock.name.clone());
            drop(lock);
        }
        first_error.map_or(Ok(released), Err)
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.release_all();
    }
}

fn verify_owner(dir: &LockDir, lock: &HeldLock) -> Result<()> {
    let found = match dir.read_meta(&lock.name)? {
        Some(bytes) => Holder::parse(&bytes, &dir.meta_path(&lock.name))?.owner,
        None => String::new(),
    };
    if found == lock.holder.owner {
        Ok(())
    } else {
        Err(Error::OwnerMismatch {
            lock: lock.name.clone(),
            expected: lock.holder.owner.clone(),
            found,
        })
    }
}
