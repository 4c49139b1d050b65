//! Replacing a user's file in place of the old one while keeping what makes it
//! that file: owner and group (when permitted), mode, extended attributes; and
//! never over a concurrent edit.
//!
//! The guard is compare-and-swap: what was read (device, inode, size, mtime,
//! ctime, SHA-256 of the content) is checked again right before the new file
//! takes the name, and the swap itself is an atomic exchange
//! (`RENAME_EXCHANGE`) after which the old file is checked once more: an edit
//! that landed between the check and the swap is detected and the exchange is
//! undone, so the other process's bytes stay under the name. A file with more
//! than one hard link is refused ([`Error::HardLinked`]): a rename would leave
//! the other names with the old text, and writing in place is not atomic.
//!
//! A process that holds the file open to write is the one a rename cannot
//! guard against (editors and git alike): what it writes after the swap goes
//! into the old file, which no longer has a name. On Linux the replace holds a
//! read lease on the file from the final check to the end of the swap
//! (`F_SETLEASE`): the kernel grants it only while no process has the file open
//! for writing, so such a file is refused ([`Error::OpenForWriting`]), and
//! breaks it when one opens the file for writing meanwhile, which swaps back as
//! a late edit does. Where there are no leases (a file system without them,
//! such as NFS; a file of another owner without `CAP_LEASE`, which a replace
//! without the right to keep its owner refuses before) the guard is the
//! checks alone.

use std::ffi::OsStr;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

use rustix::fs::{Gid, RenameFlags, Stat, Uid, XattrFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::dir::{Dir, Durability, Perms, hint_of};
use crate::error::{Error, Result};
use crate::root::Loaded;

/// What a file was when it was read: identity, times and content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    nlink: u64,
    uid: u32,
    gid: u32,
    mode: u32,
    sha256: [u8; 32],
}

#[allow(
    clippy::unnecessary_cast,
    clippy::useless_conversion,
    reason = "stat field types differ between targets"
)]
fn times(stat: &Stat) -> ((i64, i64), (i64, i64)) {
    (
        (stat.st_mtime as i64, stat.st_mtime_nsec as i64),
        (stat.st_ctime as i64, stat.st_ctime_nsec as i64),
    )
}

#[allow(
    clippy::unnecessary_cast,
    clippy::useless_conversion,
    reason = "stat field types differ between targets"
)]
fn nlink(stat: &Stat) -> u64 {
    stat.st_nlink as u64
}

impl Snapshot {
    /// The snapshot of a file whose `fstat` and bytes are these.
    pub fn new(stat: &Stat, bytes: &[u8]) -> Snapshot {
        let (mtime, ctime) = times(stat);
        Snapshot {
            dev: stat.st_dev,
            ino: stat.st_ino,
            size: bytes.len() as u64,
            mtime,
            ctime,
            nlink: nlink(stat),
            uid: stat.st_uid,
            gid: stat.st_gid,
            mode: stat.st_mode & 0o7777,
            sha256: Sha256::digest(bytes).into(),
        }
    }

    /// The SHA-256 of the content, lower-case hex.
    pub fn sha256_hex(&self) -> String {
        use std::fmt::Write as _;
        self.sha256.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// The content's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// How many names the file had.
    pub fn links(&self) -> u64 {
        self.nlink
    }

    /// What differs between this snapshot and a later `stat` of the file, if anything.
    fn differs_from(&self, stat: &Stat) -> Option<String> {
        let (mtime, ctime) = times(stat);
        if (stat.st_dev, stat.st_ino) != (self.dev, self.ino) {
            Some("it was replaced by another file".to_owned())
        } else if u64::try_from(stat.st_size).ok() != Some(self.size) {
            Some(format!("size {} → {}", self.size, stat.st_size))
        } else if mtime != self.mtime {
            Some("modification time changed".to_owned())
        } else if ctime != self.ctime {
            Some("status change time changed".to_owned())
        } else {
            None
        }
    }
}

/// A callback run after the replacement is written and before it is checked and
/// swapped in: the place where a test makes another process's edit land
/// deterministically in the window the guard protects.
pub type Hook<'a> = &'a (dyn Fn(&Path) + Sync);

/// How to replace.
#[derive(Clone, Copy)]
pub struct ReplaceOptions<'a> {
    /// Whether the new file and its directory entry are fsynced.
    pub durability: Durability,
    /// Run right before the final check (tests).
    pub before_commit: Option<Hook<'a>>,
}

impl Default for ReplaceOptions<'_> {
    fn default() -> Self {
        ReplaceOptions { durability: Durability::Durable, before_commit: None }
    }
}

impl std::fmt::Debug for ReplaceOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplaceOptions")
            .field("durability", &self.durability)
            .field("before_commit", &self.before_commit.is_some())
            .finish()
    }
}

/// `F_SETSIG` (`asm-generic/fcntl.h`), which the libc crate does not name.
const F_SETSIG: libc::c_int = 10;

/// A read lease on the file being replaced, released when dropped.
struct Lease<'f> {
    file: &'f std::fs::File,
}

/// `F_SETLEASE`, `F_GETLEASE` and `F_SETSIG` on `file`, with an integer
/// argument: no pointer passes, and the descriptor is borrowed, open.
#[allow(unsafe_code, reason = "fcntl(F_SETLEASE), which rustix does not wrap")]
fn fcntl_int(file: &std::fs::File, command: libc::c_int, arg: libc::c_int) -> Result<i32, Errno> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: fcntl with an integer argument reads and writes no memory of
    // ours; the descriptor stays open for the call (borrowed from `file`).
    let ret = unsafe { libc::fcntl(file.as_raw_fd(), command, arg) };
    if ret == -1 {
        Err(Errno::from_io_error(&std::io::Error::last_os_error()).unwrap_or(Errno::INVAL))
    } else {
        Ok(ret)
    }
}

impl<'f> Lease<'f> {
    /// Takes a read lease on `file` (opened read-only). `Ok(None)` where
    /// there are none to take: the replace goes on guarded by its checks.
    fn take(file: &'f std::fs::File, path: &Path) -> Result<Option<Lease<'f>>> {
        // A lease broken is signalled, SIGIO unless told otherwise, and
        // SIGIO ends a process; SIGURG is ignored unless a handler is set.
        if fcntl_int(file, F_SETSIG, libc::SIGURG).is_err() {
            return Ok(None);
        }
        match fcntl_int(file, libc::F_SETLEASE, libc::F_RDLCK) {
            Ok(_) => Ok(Some(Lease { file })),
            Err(Errno::AGAIN) => Err(Error::OpenForWriting { path: path.to_path_buf() }),
            // Not the owner (no CAP_LEASE), a file system without leases,
            // leases turned off (`fs.leases-enable`).
            Err(_) => Ok(None),
        }
    }

    /// Whether a process opened the file for writing (or truncated it) since
    /// the lease was taken: the kernel is then breaking it.
    fn broken(&self) -> bool {
        fcntl_int(self.file, libc::F_GETLEASE, 0) != Ok(libc::F_RDLCK)
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // A writer the lease held back goes on now.
        let _ = fcntl_int(self.file, libc::F_SETLEASE, libc::F_UNLCK);
    }
}

/// Checks that the file named `name` in `dir` is still what `snapshot` saw, by
/// `stat` and by content; returns its current `stat`.
fn verify(dir: &Dir, name: &OsStr, snapshot: &Snapshot) -> Result<Stat> {
    let path = || dir.join(name);
    let (mut file, stat) = match dir.open_regular(name) {
        Ok(opened) => opened,
        Err(e) if e.is_not_found() => {
            return Err(Error::Changed { path: path(), what: "it was removed".to_owned() });
        }
        Err(Error::Symlink { .. }) => {
            return Err(Error::Changed {
                path: path(),
                what: "it became a symbolic link".to_owned(),
            });
        }
        Err(e) => return Err(e),
    };
    if let Some(what) = snapshot.differs_from(&stat) {
        return Err(Error::Changed { path: path(), what });
    }
    // Times have a coarse tick: an edit of the same size inside one tick keeps
    // them, the hash does not.
    if hash_file(&mut file, &path())? != snapshot.sha256 {
        return Err(Error::Changed { path: path(), what: "its content changed".to_owned() });
    }
    Ok(stat)
}

fn hash_file(file: &mut std::fs::File, path: &Path) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finalize().into()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", path, e)),
        }
    }
}

/// `fstat` and SHA-256 of the regular file `name` in `dir`.
fn hash_of(dir: &Dir, name: &OsStr) -> Result<(Stat, [u8; 32])> {
    let (mut file, stat) = dir.open_regular(name)?;
    let sha = hash_file(&mut file, &dir.join(name))?;
    Ok((stat, sha))
}

/// Gives `temp` the owner, group and extended attributes of `original`.
fn copy_identity(
    original: &std::fs::File,
    snapshot: &Snapshot,
    temp: &std::fs::File,
    path: &Path,
) -> Result<()> {
    let identity = |what: &str, e: Errno| Error::Identity {
        path: path.to_path_buf(),
        what: what.to_owned(),
        source: e.into(),
    };
    let mine = rustix::fs::fstat(temp).map_err(|e| Error::io("stat", path, e))?;
    if (mine.st_uid, mine.st_gid) != (snapshot.uid, snapshot.gid) {
        let owner = (mine.st_uid != snapshot.uid).then(|| Uid::from_raw(snapshot.uid));
        let group = (mine.st_gid != snapshot.gid).then(|| Gid::from_raw(snapshot.gid));
        rustix::fs::fchown(temp, owner, group).map_err(|e| identity("owner and group", e))?;
    }
    copy_xattrs(original, temp, path)?;
    // chown clears set-id bits: the mode goes on last.
    rustix::fs::fchmod(temp, rustix::fs::Mode::from_raw_mode(snapshot.mode))
        .map_err(|e| identity("mode", e))?;
    Ok(())
}

/// Copies every extended attribute; those of the kernel's own namespaces
/// (`security.*`, `trusted.*`) are kept where permitted and otherwise left to the
/// kernel, which sets them for new files itself.
fn copy_xattrs(from: &std::fs::File, to: &std::fs::File, path: &Path) -> Result<()> {
    let identity = |what: String, e: Errno| Error::Identity {
        path: path.to_path_buf(),
        what,
        source: e.into(),
    };
    let size = match rustix::fs::flistxattr_query(from) {
        Ok(0) => return Ok(()),
        Ok(n) => n,
        Err(Errno::NOTSUP | Errno::NOSYS) => return Ok(()),
        Err(e) => return Err(identity("extended attributes".to_owned(), e)),
    };
    let mut names = vec![0u8; size];
    let n = rustix::fs::flistxattr(from, &mut names[..])
        .map_err(|e| identity("extended attributes".to_owned(), e))?;
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let shown = String::from_utf8_lossy(name).into_owned();
        let kernel_owned = name.starts_with(b"security.") || name.starts_with(b"trusted.");
        let name = OsStr::from_bytes(name);
        let value = match rustix::fs::fgetxattr_query(from, name) {
            Ok(len) => {
                let mut value = vec![0u8; len];
                let got = rustix::fs::fgetxattr(from, name, &mut value[..])
                    .map_err(|e| identity(format!("extended attribute {shown}"), e))?;
                value.truncate(got);
                value
            }
            Err(_) if kernel_owned => continue,
            Err(e) => return Err(identity(format!("extended attribute {shown}"), e)),
        };
        match rustix::fs::fsetxattr(to, name, &value, XattrFlags::empty()) {
            Ok(()) => {}
            Err(_) if kernel_owned => {}
            Err(e) => return Err(identity(format!("extended attribute {shown}"), e)),
        }
    }
    Ok(())
}

/// Replaces the file `loaded` was read from with `new`, keeping its identity,
/// unless it changed since it was read ([`Error::Changed`]: the file is left as
/// the other process made it) or has other hard links ([`Error::HardLinked`]).
pub fn replace(loaded: &Loaded, new: &[u8], options: &ReplaceOptions<'_>) -> Result<()> {
    replace_with(loaded, new, options, None)
}

/// [`replace`], with a second hook between the final check and the swap: only
/// tests need to land an edit there.
fn replace_with(
    loaded: &Loaded,
    new: &[u8],
    options: &ReplaceOptions<'_>,
    after_check: Option<Hook<'_>>,
) -> Result<()> {
    let dir = &loaded.located.dir;
    let name = loaded.located.name.as_os_str();
    let path = dir.join(name);
    let snapshot = &loaded.snapshot;
    if snapshot.nlink > 1 {
        return Err(Error::HardLinked { path, links: snapshot.nlink });
    }
    let (original, stat) = dir.open_regular(name)?;
    if let Some(what) = snapshot.differs_from(&stat) {
        return Err(Error::Changed { path, what });
    }
    let mut temp = dir.temp_file(&hint_of(name), Perms::Private)?;
    temp.write_all(new)?;
    copy_identity(&original, snapshot, temp.file(), &path)?;
    if options.durability == Durability::Durable {
        temp.file().sync_all().map_err(|e| Error::io("sync", temp.path(), e))?;
    }
    if let Some(hook) = options.before_commit {
        hook(&path);
    }
    // Held to the end of the swap: a writer opening the file meanwhile waits
    // for its release (or the kernel's lease-break time), and is seen.
    let lease = Lease::take(&original, &path)?;
    let opened_to_write = || lease.as_ref().is_some_and(Lease::broken);
    let checked = verify(dir, name, snapshot)?;
    if let Some(hook) = after_check {
        hook(&path);
    }
    let opened = || Error::Changed {
        path: path.clone(),
        what: "opened for writing by another process while it was being replaced".to_owned(),
    };
    if opened_to_write() {
        return Err(opened());
    }
    let temp_name = temp.name().to_owned();
    match rustix::fs::renameat_with(dir, &temp_name, dir, name, RenameFlags::EXCHANGE) {
        Ok(()) => {
            // The old file now has the temporary name. If anything wrote to it
            // between the check and the exchange, swap back: its bytes win.
            // (A rename changes the moved file's ctime, so ctime is not compared.)
            let late_edit = match hash_of(dir, &temp_name) {
                Ok((after, sha)) => {
                    (after.st_dev, after.st_ino) != (checked.st_dev, checked.st_ino)
                        || after.st_size != checked.st_size
                        || times(&after).0 != times(&checked).0
                        || sha != snapshot.sha256
                }
                Err(_) => true,
            };
            if late_edit || opened_to_write() {
                rustix::fs::renameat_with(dir, &temp_name, dir, name, RenameFlags::EXCHANGE)
                    .map_err(|e| Error::io("swap back", &path, e))?;
                return Err(if late_edit {
                    Error::Changed { path, what: "edited while it was being replaced".to_owned() }
                } else {
                    opened()
                });
            }
            // The temporary name (now the old file) is removed when `temp` drops.
        }
        // No RENAME_EXCHANGE on this file system: a plain rename right after the check.
        Err(Errno::INVAL | Errno::NOSYS) => {
            rustix::fs::renameat(dir, &temp_name, dir, name)
                .map_err(|e| Error::io("rename into place", &path, e))?;
            temp.forget();
        }
        Err(e) => return Err(Error::io("rename into place", &path, e)),
    }
    drop(temp);
    drop(lease);
    if options.durability == Durability::Durable {
        dir.sync()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;

    /// Whether this file system grants leases to this process here.
    fn leases_here(dir: &Path) -> bool {
        let path = dir.join("probe");
        std::fs::write(&path, "x").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let held = matches!(Lease::take(&file, &path), Ok(Some(_)));
        std::fs::remove_file(&path).unwrap();
        held
    }

    /// Opens `path` to append without waiting for a lease to be broken:
    /// `None` when a lease holds it (the break has begun all the same).
    fn open_to_append(path: &Path) -> Option<std::fs::File> {
        match std::fs::OpenOptions::new().append(true).custom_flags(libc::O_NONBLOCK).open(path) {
            Ok(file) => Some(file),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => None,
            Err(e) => panic!("cannot open {}: {e}", path.display()),
        }
    }

    #[test]
    fn an_edit_between_the_check_and_the_swap_is_swapped_back() {
        let dir = tempfile::tempdir().unwrap();
        let leases = leases_here(dir.path());
        std::fs::write(dir.path().join("page.md"), "old\n").unwrap();
        let root = crate::Root::open(dir.path()).unwrap();
        let loaded = root.read(Path::new("page.md"), 1024).unwrap();
        // With a lease, the writer's open is what is seen (it would wait
        // for the swap to end); without, its bytes are.
        let late = |path: &Path| match open_to_append(path) {
            Some(mut file) => file.write_all(b"late\n").unwrap(),
            None => assert!(leases, "only a lease holds an open back"),
        };
        let err =
            replace_with(&loaded, b"new\n", &ReplaceOptions::default(), Some(&late)).unwrap_err();
        assert!(matches!(err, Error::Changed { .. }), "{err}");
        let expected = if leases { "old\n" } else { "old\nlate\n" };
        assert_eq!(std::fs::read_to_string(dir.path().join("page.md")).unwrap(), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the replacement is gone");
    }

    #[test]
    #[expect(clippy::print_stderr, reason = "a part that cannot run says so in the test output")]
    fn a_file_open_for_writing_elsewhere_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        if !leases_here(dir.path()) {
            eprintln!("no leases on this file system: the checks alone guard a replace");
            return;
        }
        let path = dir.path().join("page.md");
        std::fs::write(&path, "old\n").unwrap();
        let root = crate::Root::open(dir.path()).unwrap();
        let loaded = root.read(Path::new("page.md"), 1024).unwrap();
        // A writer that keeps the file open, as a logger or an editor
        // writing in place does; it writes again after the attempt.
        let mut writer = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        let err = replace(&loaded, b"new\n", &ReplaceOptions::default()).unwrap_err();
        assert!(matches!(err, Error::OpenForWriting { .. }), "{err}");
        assert!(err.to_string().contains("is open for writing in another process"), "{err}");
        writer.write_all(b"more\n").unwrap();
        drop(writer);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\nmore\n", "nothing lost");
        // Closed, the file is replaced; a reader open meanwhile is no bar.
        let loaded = root.read(Path::new("page.md"), 1024).unwrap();
        let _reader = std::fs::File::open(&path).unwrap();
        replace(&loaded, b"new\n", &ReplaceOptions::default()).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}
