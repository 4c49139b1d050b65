//! The lock directory: opened once without following symlinks, checked, and then
//! the only place files are created, always relative to its handle.
//!
//! Why relative to a handle: a path re-resolved on every open can be swapped for
//! a symlink between check and use; an `openat` on the directory we checked cannot.
//!
//! The handle is a [`tidy_io::Dir`]: the holder metadata and the order record
//! are read and written through tidy-io (regular files only, never through a
//! link, never blocking on a FIFO; written as a unique temporary file and one
//! rename), so multilock has no atomic-write code of its own. Both get mode
//! `0666 & !umask` ([`Perms::Default`]): they say who holds a lock and in which
//! order, nothing secret. Lock files are opened here directly, `O_CREAT`
//! without truncation: they are never written, renamed or replaced, so they
//! never pass through tidy-io's temporary files.

use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use tidy_io::{Dir, Durability, Perms, Place};

use crate::error::{Error, Result};
use crate::order::OrderRecord;

/// The file that records a directory's canonical order and umbrella.
const ORDER_FILE: &str = "multilock.order.json";

/// The most multilock reads of a metadata file or order record: its own are a
/// few hundred bytes, so anything larger is not one of them.
const SMALL_FILE_LIMIT: u64 = 64 * 1024;

/// The identity of an open lock file: (device, inode).
pub(crate) type FileKey = (u64, u64);

#[derive(Debug)]
pub(crate) struct LockDir {
    /// The path as the user gave it, for messages.
    path: PathBuf,
    /// The resolved path, to compare with a parent run's `MULTILOCK_HELD_DIR`.
    canonical: PathBuf,
    /// (device, inode) of the directory: how nested runs recognise it, whatever
    /// bytes its path holds.
    id: FileKey,
    dir: Dir,
}

/// File systems whose `flock` may hang or silently not exclude across machines.
const REMOTE_FILE_SYSTEMS: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x6573_5546, "FUSE"),
    (0x0102_1997, "9P"),
    (0x00C3_6400, "Ceph"),
    (0x5346_414F, "AFS"),
    (0x7375_7245, "Coda"),
    (0x0BD0_0BD0, "Lustre"),
];

impl LockDir {
    /// Opens (and with `create`, first creates, mode 0755) the lock directory.
    pub(crate) fn open(path: &Path, create: bool, allow_remote_fs: bool) -> Result<LockDir> {
        if create && std::fs::symlink_metadata(path).is_err() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(path)
                .map_err(|e| Error::io("create lock directory", path, e))?;
        }
        let unsafe_dir = |reason: &str| Error::UnsafeDirectory {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let dir = Dir::open_nofollow(path).map_err(|err| {
            // ELOOP/ENOTDIR say little; name what the path actually is.
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => unsafe_dir("it is a symbolic link"),
                Ok(meta) if !meta.is_dir() => unsafe_dir("it is not a directory"),
                _ => match err {
                    tidy_io::Error::Io { source, .. } => {
                        Error::io("open lock directory", path, source)
                    }
                    other => own_file_error(other, "nothing is created in it"),
                },
            }
        })?;
        let fd = dir.fd();
        let stat = rustix::fs::fstat(fd).map_err(|e| Error::io("stat lock directory", path, e))?;
        let mode = stat.st_mode;
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(unsafe_dir("it is world-writable without the sticky bit"));
        }
        if !allow_remote_fs {
            let fs =
                rustix::fs::fstatfs(fd).map_err(|e| Error::io("stat file system of", path, e))?;
            // f_type is i32 or i64 depending on the target; magics are 32-bit.
            #[allow(
                clippy::useless_conversion,
                reason = "a no-op only where f_type is already i64"
            )]
            let magic = i64::from(fs.f_type) & 0xFFFF_FFFF;
            if let Some((_, name)) = REMOTE_FILE_SYSTEMS.iter().find(|(m, _)| *m == magic) {
                return Err(unsafe_dir(&format!(
                    "it is on a {name} file system, where flock may hang or not exclude other machines; \
                     use a local directory (set MULTILOCK_ALLOW_REMOTE_FS=1 to override)"
                )));
            }
        }
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| Error::io("resolve lock directory", path, e))?;
        Ok(LockDir { path: path.to_owned(), canonical, id: (stat.st_dev, stat.st_ino), dir })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn canonical(&self) -> &Path {
        &self.canonical
    }

    pub(crate) fn id(&self) -> FileKey {
        self.id
    }

    pub(crate) fn lock_path(&self, name: &str) -> PathBuf {
        self.path.join(lock_file_name(name))
    }

    pub(crate) fn meta_path(&self, name: &str) -> PathBuf {
        self.path.join(meta_file_name(name))
    }

    /// Opens (creating if needed) the lock file of `name`. Never truncates,
    /// never follows a symlink, and refuses anything but a plain file with one link.
    pub(crate) fn open_lock_file(&self, name: &str) -> Result<(File, FileKey)> {
        // NONBLOCK: a FIFO planted at the lock path must not hang the open; it
        // does not change how flock waits.
        let flags = OFlags::RDONLY
            | OFlags::CREATE
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC
            | OFlags::NONBLOCK
            | OFlags::NOCTTY;
        self.open_checked(&lock_file_name(name), flags, Mode::from_raw_mode(0o644))
            .map(|opened| opened.expect("O_CREAT never reports a missing file"))
    }

    /// Opens the lock file of `name` if it exists, for a status probe that must
    /// not create anything.
    pub(crate) fn open_existing_lock_file(&self, name: &str) -> Result<Option<(File, FileKey)>> {
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        self.open_checked(&lock_file_name(name), flags, Mode::empty())
    }

    fn open_checked(
        &self,
        file_name: &str,
        flags: OFlags,
        mode: Mode,
    ) -> Result<Option<(File, FileKey)>> {
        let path = || self.path.join(file_name);
        let fd = match rustix::fs::openat(self.dir.fd(), file_name, flags, mode) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) if !flags.contains(OFlags::CREATE) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => {
                return Err(Error::UnsafeLockFile {
                    path: path(),
                    reason: "it is a symbolic link".into(),
                });
            }
            Err(errno) => return Err(Error::io("open lock file", path(), errno)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat lock file", path(), e))?;
        check_plain_file(&stat, &path())?;
        Ok(Some((File::from(fd), (stat.st_dev, stat.st_ino))))
    }

    /// Reads the holder metadata of `name`; `None` when there is none.
    pub(crate) fn read_meta(&self, name: &str) -> Result<Option<Vec<u8>>> {
        self.read_small_file(&meta_file_name(name))
    }

    /// Reads a small file of ours in the directory: a regular file only, never
    /// through a link, never blocking on a FIFO someone put in its place, and
    /// never more than [`SMALL_FILE_LIMIT`] bytes.
    fn read_small_file(&self, file_name: &str) -> Result<Option<Vec<u8>>> {
        match self.dir.read_regular(OsStr::new(file_name), SMALL_FILE_LIMIT) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.is_not_found() => Ok(None),
            Err(tidy_io::Error::TooLarge { path, .. }) => Err(Error::UnsafeLockFile {
                path,
                reason: format!(
                    "it is over {SMALL_FILE_LIMIT} bytes, so multilock did not write it \
                     (its own files are a few hundred bytes)"
                ),
            }),
            Err(err) => Err(own_file_error(err, "nothing is read from it")),
        }
    }

    /// Replaces the holder metadata of `name` atomically (temporary file and one
    /// rename, through tidy-io), so a reader never sees half a file; a symlink,
    /// FIFO or device at its path is refused, never replaced or written through.
    /// Mode `0666 & !umask`. No fsync: metadata is a hint, the flock is the truth.
    pub(crate) fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let file_name = meta_file_name(name);
        self.dir
            .write_atomic(
                OsStr::new(&file_name),
                bytes,
                Perms::Default,
                Durability::Volatile,
                Place::Replace,
            )
            .map_err(|err| own_file_error(err, "nothing is written through it"))
    }

    pub(crate) fn order_path(&self) -> PathBuf {
        self.path.join(ORDER_FILE)
    }

    /// The order record of this directory, if one was written.
    pub(crate) fn read_order(&self) -> Result<Option<OrderRecord>> {
        match self.read_small_file(ORDER_FILE)? {
            Some(bytes) => OrderRecord::parse(&bytes, &self.order_path()).map(Some),
            None => Ok(None),
        }
    }

    /// Records `wanted` as this directory's order unless another process got
    /// there first; returns the order that is recorded now. The record appears
    /// whole or not at all, and is never replaced. Mode `0666 & !umask`.
    pub(crate) fn record_order(&self, wanted: &OrderRecord) -> Result<OrderRecord> {
        // Written once per directory and read by every later user: unlike the
        // holder metadata it must survive a power loss whole, so it is fsynced.
        let placed = self.dir.write_atomic(
            OsStr::new(ORDER_FILE),
            &wanted.to_json(),
            Perms::Default,
            Durability::Durable,
            Place::NoReplace,
        );
        match placed {
            Ok(()) => Ok(wanted.clone()),
            Err(tidy_io::Error::Exists { .. }) => self
                .read_order()?
                .ok_or_else(|| Error::io("read", self.order_path(), rustix::io::Errno::NOENT)),
            Err(tidy_io::Error::Io { source, .. }) => {
                Err(Error::io("record the order in", self.order_path(), source))
            }
            Err(err) => Err(own_file_error(err, "nothing is written through it")),
        }
    }

    /// Removes the holder metadata of `name` (gone already is fine).
    pub(crate) fn remove_meta(&self, name: &str) -> Result<()> {
        let file_name = meta_file_name(name);
        self.dir
            .remove_file(OsStr::new(&file_name))
            .map_err(|err| own_file_error(err, "nothing is removed through it"))
    }

    /// Names of the lock files present in the directory, sorted. Read through
    /// the handle we checked, not by path again.
    pub(crate) fn lock_names(&self) -> Result<Vec<String>> {
        let list_error = |e: rustix::io::Errno| Error::io("list", &self.path, e);
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(self.dir.fd()).map_err(list_error)? {
            let entry = entry.map_err(list_error)?;
            let file_name = entry.file_name().to_string_lossy();
            let Some(name) = file_name.strip_suffix(".lock") else { continue };
            if crate::name::validate_name(name).is_ok() {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

fn check_plain_file(stat: &rustix::fs::Stat, path: &Path) -> Result<()> {
    let reason = if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        "it is not a regular file"
    } else if stat.st_nlink != 1 {
        "it has more than one hard link, so another path could write it"
    } else {
        return Ok(());
    };
    Err(Error::UnsafeLockFile { path: path.to_owned(), reason: reason.into() })
}

/// multilock's words for a file-layer error about one of its own files: a
/// symlink, FIFO, device or directory where a file of ours belongs makes it an
/// unsafe lock file; `refusal` says what is not done to it ("nothing is read
/// from it").
fn own_file_error(err: tidy_io::Error, refusal: &str) -> Error {
    let unsafe_file = |path, what: &str| Error::UnsafeLockFile {
        path,
        reason: format!("it is not a regular file but a {what}; {refusal}"),
    };
    match err {
        tidy_io::Error::Symlink { path } => unsafe_file(path, "symbolic link"),
        tidy_io::Error::NotRegular { path, kind } => unsafe_file(path, kind),
        tidy_io::Error::Io { action, path, source } => Error::Io { action, path, source },
        other => {
            let path = other.path().to_owned();
            Error::io("use", path, std::io::Error::other(other.reason()))
        }
    }
}

fn lock_file_name(name: &str) -> String {
    format!("{name}.lock")
}

fn meta_file_name(name: &str) -> String {
    format!("{name}.lock.json")
}

/// Identity of an already open file, for tests and the held-lock registry.
#[cfg(test)]
pub(crate) fn file_key(file: &File) -> std::io::Result<FileKey> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};

    #[test]
    fn creates_a_missing_directory_and_opens_lock_files_inside_it() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::open(&tmp.path().join("a/b"), true, false).unwrap();
        let (file, key) = dir.open_lock_file("queue").unwrap();
        assert_eq!(file_key(&file).unwrap(), key);
        assert!(tmp.path().join("a/b/queue.lock").is_file());
        let mode = std::fs::metadata(tmp.path().join("a/b")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777 & !0o022, 0o755 & !0o022);
    }

    #[test]
    fn refuses_a_symlinked_or_world_writable_directory_and_a_plain_file() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::os::unix::fs::symlink(&real, tmp.path().join("link")).unwrap();
        let err = LockDir::open(&tmp.path().join("link"), true, false).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");

        std::fs::write(tmp.path().join("file"), b"x").unwrap();
        let err = LockDir::open(&tmp.path().join("file"), true, false).unwrap_err();
        assert!(err.to_string().contains("not a directory"), "{err}");

        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = LockDir::open(&real, true, false).unwrap_err();
        assert!(err.to_string().contains("sticky"), "{err}");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(LockDir::open(&real, true, false).is_ok());
    }

    #[test]
    fn never_writes_through_symlinks_or_extra_hard_links() {
        let tmp = tempfile::tempdir().unwrap();
        let dir_path = tmp.path().join("locks");
        let dir = LockDir::open(&dir_path, true, false).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();

        std::os::unix::fs::symlink(&victim, dir_path.join("queue.lock")).unwrap();
        assert!(dir.open_lock_file("queue").unwrap_err().to_string().contains("symbolic link"));

        std::fs::hard_link(&victim, dir_path.join("runs.lock")).unwrap();
        assert!(dir.open_lock_file("runs").unwrap_err().to_string().contains("hard link"));

        std::os::unix::fs::symlink(&victim, dir_path.join("docs.lock.json")).unwrap();
        assert!(
            dir.write_meta("docs", b"{}").unwrap_err().to_string().contains("nothing is written")
        );
        assert!(dir.read_meta("docs").unwrap_err().to_string().contains("symbolic link"));

        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    }

    #[test]
    fn stale_or_planted_temporary_names_neither_block_writes_nor_lead_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let dir_path = tmp.path().join("locks");
        let dir = LockDir::open(&dir_path, true, false).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        // The names tidy-io gives temporary files for our pid, as a crashed
        // process with our pid left them (even n) or someone planted them as
        // links to files yet to be created outside (odd n).
        let pid = std::process::id();
        let mut planted = 0;
        for n in 0..500 {
            for target in ["docs.lock.json", ORDER_FILE] {
                let name = dir_path.join(format!(".{target}.{pid}.{n}.tmp"));
                if n % 2 == 0 {
                    std::fs::write(name, b"stale").unwrap();
                } else {
                    std::os::unix::fs::symlink(outside.join(format!("{target}-{n}")), name)
                        .unwrap();
                }
                planted += 1;
            }
        }
        dir.write_meta("docs", b"fresh").unwrap();
        let order = OrderRecord::new(crate::CanonicalOrder::default(), None).unwrap();
        assert_eq!(dir.record_order(&order).unwrap(), order);
        assert_eq!(dir.read_meta("docs").unwrap().as_deref(), Some(&b"fresh"[..]));
        assert_eq!(dir.read_order().unwrap(), Some(order));
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "created through a link");
        // The planted names are left as they were; only the two files were added.
        assert_eq!(std::fs::read_dir(&dir_path).unwrap().count(), planted + 2);
    }

    #[test]
    fn the_order_record_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::open(tmp.path(), true, false).unwrap();
        let first = OrderRecord::new(crate::CanonicalOrder::default(), None).unwrap();
        let other = OrderRecord::new(crate::CanonicalOrder::new(&["a", "b"]).unwrap(), None);
        assert_eq!(dir.record_order(&first).unwrap(), first);
        // A later writer is told what is recorded instead of replacing it.
        assert_eq!(dir.record_order(&other.unwrap()).unwrap(), first);
        assert_eq!(dir.read_order().unwrap(), Some(first));
    }

    #[test]
    fn a_fifo_or_an_oversized_file_at_a_metadata_path_is_refused_not_read() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::open(tmp.path(), true, false).unwrap();
        let fifo = tmp.path().join("docs.lock.json");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // O_NONBLOCK: with no writer, a blocking open would wait here forever.
        let err = dir.read_meta("docs").unwrap_err().to_string();
        assert!(
            err.ends_with(
                "docs.lock.json: it is not a regular file but a FIFO; nothing is read from it"
            ),
            "{err}"
        );
        let err = dir.write_meta("docs", b"{}").unwrap_err().to_string();
        assert!(err.contains("but a FIFO; nothing is written through it"), "{err}");
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "replaced");

        let huge = usize::try_from(SMALL_FILE_LIMIT).unwrap() + 1;
        std::fs::write(tmp.path().join("runs.lock.json"), vec![b' '; huge]).unwrap();
        let err = dir.read_meta("runs").unwrap_err().to_string();
        assert!(err.contains("runs.lock.json: it is over 65536 bytes"), "{err}");
    }

    #[test]
    fn metadata_round_trips_and_removal_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::open(tmp.path(), true, false).unwrap();
        assert_eq!(dir.read_meta("docs").unwrap(), None);
        dir.write_meta("docs", b"one").unwrap();
        dir.write_meta("docs", b"two").unwrap();
        assert_eq!(dir.read_meta("docs").unwrap().as_deref(), Some(&b"two"[..]));
        dir.remove_meta("docs").unwrap();
        dir.remove_meta("docs").unwrap();
        // Only the metadata file came and went: no temp files are left behind.
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
