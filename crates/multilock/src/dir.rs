//! The lock directory: opened once without following symlinks, checked, and then
//! the only place files are created, always relative to its handle.
//!
//! Why relative to a handle: a path re-resolved on every open can be swapped for
//! a symlink between check and use; an `openat` on the directory we checked cannot.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags};

use crate::error::{Error, Result};
use crate::order::OrderRecord;

/// The file that records a directory's canonical order and umbrella.
const ORDER_FILE: &str = "multilock.order.json";

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
    fd: OwnedFd,
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
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(CWD, path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(errno) => {
                // ELOOP/ENOTDIR say little; name what the path actually is.
                return Err(match std::fs::symlink_metadata(path) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        unsafe_dir("it is a symbolic link")
                    }
                    Ok(meta) if !meta.is_dir() => unsafe_dir("it is not a directory"),
                    _ => Error::io("open lock directory", path, errno),
                });
            }
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat lock directory", path, e))?;
        let mode = stat.st_mode;
        if mode & 0o002 != 0 && mode & 0o1000 == 0 {
            return Err(unsafe_dir("it is world-writable without the sticky bit"));
        }
        if !allow_remote_fs {
            let fs =
                rustix::fs::fstatfs(&fd).map_err(|e| Error::io("stat file system of", path, e))?;
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
        Ok(LockDir { path: path.to_owned(), canonical, id: (stat.st_dev, stat.st_ino), fd })
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
        let fd = match rustix::fs::openat(&self.fd, file_name, flags, mode) {
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

    /// Reads a small file of ours in the directory, never through a link and
    /// never blocking on a FIFO someone put in its place.
    fn read_small_file(&self, file_name: &str) -> Result<Option<Vec<u8>>> {
        let path = || self.path.join(file_name);
        let flags =
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
        let fd = match rustix::fs::openat(&self.fd, file_name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(rustix::io::Errno::LOOP) => {
                return Err(Error::UnsafeLockFile {
                    path: path(),
                    reason: "it is a symbolic link".into(),
                });
            }
            Err(errno) => return Err(Error::io("open", path(), errno)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat", path(), e))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(Error::UnsafeLockFile {
                path: path(),
                reason: "it is not a regular file".into(),
            });
        }
        // Our files are a few hundred bytes; a huge file is not ours.
        let mut bytes = Vec::with_capacity(512);
        File::from(fd)
            .take(64 * 1024)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("read", path(), e))?;
        Ok(Some(bytes))
    }

    /// Writes `bytes` to a new temp file beside `final_name` and returns its name.
    /// With `durable`, the file is fsynced before it is renamed into place.
    fn write_temp(&self, final_name: &str, bytes: &[u8], durable: bool) -> Result<String> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let temp_name = format!(
            ".{final_name}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let temp_path = || self.path.join(&temp_name);
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(0o644);
        let fd = match rustix::fs::openat(&self.fd, &temp_name, flags, mode) {
            // Left by a crashed process that had our pid: the name is ours now.
            // O_EXCL|O_NOFOLLOW on the retry keeps a planted link from being followed.
            Err(rustix::io::Errno::EXIST) => {
                let _ = rustix::fs::unlinkat(&self.fd, &temp_name, AtFlags::empty());
                rustix::fs::openat(&self.fd, &temp_name, flags, mode)
            }
            other => other,
        }
        .map_err(|e| Error::io("create", temp_path(), e))?;
        let mut file = File::from(fd);
        let written =
            file.write_all(bytes).and_then(|()| if durable { file.sync_all() } else { Ok(()) });
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(&self.fd, &temp_name, AtFlags::empty());
            return Err(Error::io("write", temp_path(), e));
        }
        Ok(temp_name)
    }

    /// Replaces the holder metadata of `name` by temp file + rename, so a reader
    /// never sees half a file. No fsync: metadata is a hint, the flock is the truth.
    pub(crate) fn write_meta(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let final_name = meta_file_name(name);
        let final_path = || self.path.join(&final_name);
        match rustix::fs::statat(&self.fd, &final_name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile => {
                return Err(Error::UnsafeLockFile {
                    path: final_path(),
                    reason:
                        "it is not a regular file (a symbolic link?); nothing is written through it"
                            .into(),
                });
            }
            Ok(_) | Err(rustix::io::Errno::NOENT) => {}
            Err(errno) => return Err(Error::io("stat", final_path(), errno)),
        }
        let temp_name = self.write_temp(&final_name, bytes, false)?;
        let renamed = rustix::fs::renameat(&self.fd, &temp_name, &self.fd, &final_name);
        if let Err(errno) = renamed {
            let _ = rustix::fs::unlinkat(&self.fd, &temp_name, AtFlags::empty());
            return Err(Error::io("rename holder metadata into", final_path(), errno));
        }
        Ok(())
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
    /// whole or not at all, and is never replaced.
    pub(crate) fn record_order(&self, wanted: &OrderRecord) -> Result<OrderRecord> {
        // Written once per directory and read by every later user: unlike the
        // holder metadata it must survive a power loss whole, so it is fsynced.
        let temp_name =
            self.write_temp(ORDER_FILE, &wanted.to_json(), true).map_err(|e| match e {
                Error::Io { source, .. } => {
                    Error::io("record the order in", self.order_path(), source)
                }
                other => other,
            })?;
        let placed = match rustix::fs::renameat_with(
            &self.fd,
            &temp_name,
            &self.fd,
            ORDER_FILE,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            // A file system without RENAME_NOREPLACE: a hard link never replaces either.
            Err(rustix::io::Errno::INVAL) => {
                rustix::fs::linkat(&self.fd, &temp_name, &self.fd, ORDER_FILE, AtFlags::empty())
            }
            other => other,
        };
        // Gone already after a rename; left over after a link or a failure.
        let _ = rustix::fs::unlinkat(&self.fd, &temp_name, AtFlags::empty());
        match placed {
            Ok(()) => {
                let _ = rustix::fs::fsync(&self.fd);
                Ok(wanted.clone())
            }
            Err(rustix::io::Errno::EXIST) => self
                .read_order()?
                .ok_or_else(|| Error::io("read", self.order_path(), rustix::io::Errno::NOENT)),
            Err(errno) => Err(Error::io("record the order in", self.order_path(), errno)),
        }
    }

    /// Removes the holder metadata of `name` (gone already is fine).
    pub(crate) fn remove_meta(&self, name: &str) -> Result<()> {
        let file_name = meta_file_name(name);
        match rustix::fs::unlinkat(&self.fd, &file_name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(errno) => {
                Err(Error::io("remove holder metadata", self.path.join(file_name), errno))
            }
        }
    }

    /// Names of the lock files present in the directory, sorted. Read through
    /// the handle we checked, not by path again.
    pub(crate) fn lock_names(&self) -> Result<Vec<String>> {
        let list_error = |e: rustix::io::Errno| Error::io("list", &self.path, e);
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::read_from(&self.fd).map_err(list_error)? {
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
    use std::os::unix::fs::PermissionsExt;

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
    fn temp_files_left_by_a_crashed_process_with_our_pid_do_not_block_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LockDir::open(tmp.path(), true, false).unwrap();
        for n in 0..200 {
            let name = format!(".docs.lock.json.{}.{n}.tmp", std::process::id());
            std::fs::write(tmp.path().join(name), b"stale").unwrap();
        }
        dir.write_meta("docs", b"fresh").unwrap();
        assert_eq!(dir.read_meta("docs").unwrap().as_deref(), Some(&b"fresh"[..]));
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
