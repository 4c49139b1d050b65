//! A directory opened once, and every file operation relative to its handle:
//! a path re-resolved on each call can be swapped for a symlink between check
//! and use, an `openat` on the directory already checked cannot.
//!
//! Files created here start as uniquely named temporaries (`O_CREAT|O_EXCL|
//! O_NOFOLLOW`, so creating one never truncates, replaces or writes through
//! anything) and reach their name by one rename.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustix::fs::{AtFlags, CWD, FileType, Mode, OFlags, RenameFlags, Stat};
use rustix::io::Errno;

use crate::error::{Error, Result};

/// The permission bits a new file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perms {
    /// `0666 & !umask`, as for any Unix tool's output.
    Default,
    /// `0600`: for files that are secret by nature (none of tidykit's outputs is;
    /// kept for callers that hold credentials).
    Private,
    /// Exactly these bits (applied with `fchmod`, so the umask does not narrow them):
    /// used to give a replacement the mode of the file it replaces.
    Exact(u32),
}

/// Whether a write must survive a power loss once it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The file and the directory entry are fsynced before the call returns.
    Durable,
    /// No fsync: readers still see the old or the new file whole, but a crash may
    /// lose the change (lock metadata, caches).
    Volatile,
}

/// How a finished temporary file takes its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Atomically replaces whatever regular file has the name.
    Replace,
    /// Fails with [`Error::Exists`] if the name is taken (`RENAME_NOREPLACE`, or a
    /// hard link where the file system lacks it).
    NoReplace,
}

/// A directory handle with the path it was opened by, for messages.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
    path: PathBuf,
    /// Whether the handle's read offset may have moved since it was opened
    /// ([`Dir::list`] read it, or its fd was lent out): a fresh handle is
    /// listed without the `lseek` that rewinds it, one syscall a folder of a
    /// walk.
    read_before: AtomicBool,
}

pub(crate) fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// What a directory entry is, as its listing says ([`Dir::list`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A directory.
    Directory,
    /// A regular file.
    Regular,
    /// A symbolic link (not followed).
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

impl EntryKind {
    fn of(kind: FileType) -> EntryKind {
        match kind {
            FileType::Directory => EntryKind::Directory,
            FileType::RegularFile => EntryKind::Regular,
            FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::Special,
        }
    }
}

/// The word for a file type in messages.
pub fn kind_name(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symbolic link",
        FileType::Fifo => "FIFO",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Socket => "socket",
        FileType::Unknown => "special file",
    }
}

/// Whether `stat` describes a regular file.
pub fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

impl Dir {
    /// Opens a directory the user named, following symlinks in its path.
    pub fn open(path: &Path) -> Result<Dir> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rustix::fs::openat(CWD, path, flags, Mode::empty())
            .map_err(|e| Error::io("open directory", path, e))?;
        Ok(Dir::fresh(fd, path.to_path_buf()))
    }

    /// Opens a directory that must not itself be a symbolic link.
    pub fn open_nofollow(path: &Path) -> Result<Dir> {
        match rustix::fs::openat(CWD, path, dir_flags(), Mode::empty()) {
            Ok(fd) => Ok(Dir::fresh(fd, path.to_path_buf())),
            Err(Errno::LOOP) => Err(Error::Symlink { path: path.to_path_buf() }),
            Err(e) => Err(Error::io("open directory", path, e)),
        }
    }

    /// Wraps an open directory handle.
    pub fn from_fd(fd: OwnedFd, path: PathBuf) -> Dir {
        // Whoever had it may have read it.
        Dir { fd, path, read_before: AtomicBool::new(true) }
    }

    /// A handle just opened: its offset is at the start.
    fn fresh(fd: OwnedFd, path: PathBuf) -> Dir {
        Dir { fd, path, read_before: AtomicBool::new(false) }
    }

    /// The path it was opened by (for messages only; operations use the handle).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The handle, for callers with `*at` calls of their own.
    pub fn fd(&self) -> BorrowedFd<'_> {
        // The borrower may read the listing through it.
        self.read_before.store(true, Ordering::Relaxed);
        self.fd.as_fd()
    }

    /// Another handle on the same directory.
    pub fn try_clone(&self) -> Result<Dir> {
        let fd = rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())
            .map_err(|e| Error::io("open directory", &self.path, e))?;
        Ok(Dir::fresh(fd, self.path.clone()))
    }

    /// The path of `name` in this directory, for messages.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.path.join(name)
    }

    /// Opens the directory `parts` below this one, one component at a time, never
    /// through a symlink; with `create`, missing directories are made (mode 0777
    /// less the umask). This is the workspace's one confinement walk.
    pub fn open_beneath<S: AsRef<OsStr>>(&self, parts: &[S], create: bool) -> Result<Dir> {
        let mut fd = rustix::fs::openat(&self.fd, ".", dir_flags(), Mode::empty())
            .map_err(|e| Error::io("open directory", &self.path, e))?;
        let mut path = self.path.clone();
        for part in parts {
            let part = part.as_ref();
            check_name(part, &path)?;
            path.push(part);
            let next = match rustix::fs::openat(&fd, part, dir_flags(), Mode::empty()) {
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&fd, part, Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(Error::io("create directory", &path, e)),
                    }
                    rustix::fs::openat(&fd, part, dir_flags(), Mode::empty())
                }
                other => other,
            };
            fd = match next {
                Ok(fd) => fd,
                Err(e) => return Err(self.dir_open_error(&fd, part, path, e)),
            };
        }
        Ok(Dir::fresh(fd, path))
    }

    /// Opens the directory `name` of this one (one plain name), never through
    /// a symlink: the one `openat` a walk pays per directory, where
    /// [`Dir::open_beneath`] would first open this directory again.
    pub fn open_subdir(&self, name: &OsStr) -> Result<Dir> {
        check_name(name, &self.path)?;
        match rustix::fs::openat(&self.fd, name, dir_flags(), Mode::empty()) {
            Ok(fd) => Ok(Dir::fresh(fd, self.join(name))),
            Err(e) => Err(self.dir_open_error(&self.fd, name, self.join(name), e)),
        }
    }

    /// Why opening `name` in the directory `fd` as a directory failed with
    /// `errno`: a symlink and a file that is no directory are told apart.
    fn dir_open_error(&self, fd: &OwnedFd, name: &OsStr, path: PathBuf, errno: Errno) -> Error {
        match errno {
            Errno::LOOP => Error::Symlink { path },
            Errno::NOTDIR => match self.kind_at(fd, name) {
                Some("symbolic link") => Error::Symlink { path },
                Some(kind) => Error::NotADirectory { path, kind },
                None => Error::io("open directory", path, Errno::NOTDIR),
            },
            e => Error::io("open directory", path, e),
        }
    }

    /// Calls `each` with the name and kind of every entry of this directory
    /// but `.` and `..`, in the order the file system lists them. The kind is
    /// the listing's own (`d_type`: symlinks not followed, no `stat` per
    /// entry), asked of the file system only where it does not say.
    pub fn list(&self, mut each: impl FnMut(&OsStr, EntryKind)) -> Result<()> {
        let fail = |e| Error::io("read directory", &self.path, e);
        // From the start, whoever read this handle before.
        if self.read_before.swap(true, Ordering::Relaxed) {
            rustix::fs::seek(&self.fd, rustix::fs::SeekFrom::Start(0)).map_err(fail)?;
        }
        // On the stack: a walk lists every folder, and a heap buffer this size
        // was a malloc and a free (with its consolidation) each time. 8 KiB
        // holds ~200 entries a `getdents64`.
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 8 * 1024];
        let mut entries = rustix::fs::RawDir::new(&self.fd, &mut buf);
        while let Some(entry) = entries.next() {
            let entry = entry.map_err(fail)?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(stat) => EntryKind::of(FileType::from_raw_mode(stat.st_mode)),
                        // Gone since it was listed.
                        Err(Errno::NOENT) => continue,
                        Err(e) => return Err(Error::io("stat", self.join(name), e)),
                    }
                }
                known => EntryKind::of(known),
            };
            each(name, kind);
        }
        Ok(())
    }

    fn kind_at(&self, fd: &OwnedFd, name: &OsStr) -> Option<&'static str> {
        rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW).ok().map(|s| kind_name(&s))
    }

    /// `lstat` of `name`; `None` when it does not exist.
    pub fn stat(&self, name: &OsStr) -> Result<Option<Stat>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(Error::io("stat", self.join(name), e)),
        }
    }

    /// Opens `name` for reading: never through a symlink, never blocking on a FIFO,
    /// and only if it is a regular file. Returns the file and its `fstat`.
    pub fn open_regular(&self, name: &OsStr) -> Result<(File, Stat)> {
        self.open_checked(name, OFlags::RDONLY, Mode::empty())
    }

    /// `openat` with `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY|O_CLOEXEC` added, refusing
    /// anything but a regular file; `O_NONBLOCK` is cleared again once `fstat` has
    /// said the file is regular (only FIFOs and devices block), the rest of `flags`
    /// kept.
    fn open_checked(&self, name: &OsStr, flags: OFlags, mode: Mode) -> Result<(File, Stat)> {
        let path = || self.join(name);
        let safety = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags | safety, mode) {
            Ok(fd) => fd,
            Err(Errno::LOOP) => return Err(Error::Symlink { path: path() }),
            // A FIFO opened with O_NONBLOCK succeeds (for reading); a socket gives ENXIO.
            Err(Errno::NXIO) => return Err(Error::NotRegular { path: path(), kind: "socket" }),
            Err(e) => return Err(Error::io("open", path(), e)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat", path(), e))?;
        if !is_regular(&stat) {
            return Err(Error::NotRegular { path: path(), kind: kind_name(&stat) });
        }
        // fcntl(F_SETFL) only changes the status flags among these two.
        let keep = flags & OFlags::APPEND;
        rustix::fs::fcntl_setfl(&fd, keep).map_err(|e| Error::io("open", path(), e))?;
        Ok((File::from(fd), stat))
    }

    /// Reads the regular file `name` whole, at most `limit` bytes
    /// ([`Error::TooLarge`] past it), with the checks of [`Dir::open_regular`].
    pub fn read_regular(&self, name: &OsStr, limit: u64) -> Result<Vec<u8>> {
        let (file, stat) = self.open_regular(name)?;
        crate::read::read_capped(file, &stat, limit, &self.join(name))
    }

    /// Opens (creating with `0666 & !umask`) the file `name` to read and append to,
    /// for an append-only log: never through a symlink (`O_NOFOLLOW`), never
    /// waiting on a FIFO (`O_NONBLOCK`, then `fstat` must say regular).
    pub fn open_append(&self, name: &OsStr) -> Result<(File, Stat)> {
        check_name(name, &self.path)?;
        let flags = OFlags::RDWR | OFlags::CREATE | OFlags::APPEND;
        self.open_checked(name, flags, Mode::from_raw_mode(0o666))
    }

    /// Moves `name` here to `to_name` in `to` without ever replacing anything there
    /// ([`Error::Exists`]). Where the file system lacks `RENAME_NOREPLACE`, a hard
    /// link (which never replaces either) and then an unlink of the old name; a
    /// crash between the two leaves one inode at both names, which the next call
    /// finishes by removing the old name. A move across file systems is an
    /// [`Error::Io`] for which [`Error::is_cross_device`] holds.
    pub fn move_noreplace(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> Result<()> {
        check_name(name, &self.path)?;
        check_name(to_name, &to.path)?;
        let moved = match rustix::fs::renameat_with(
            &self.fd,
            name,
            &to.fd,
            to_name,
            RenameFlags::NOREPLACE,
        ) {
            Err(Errno::INVAL) => self.link_then_unlink(name, to, to_name),
            other => other,
        };
        match moved {
            Ok(()) => Ok(()),
            Err(Errno::EXIST) => Err(Error::Exists { path: to.join(to_name) }),
            Err(e) => Err(Error::io("move", self.join(name), e)),
        }
    }

    fn link_then_unlink(&self, name: &OsStr, to: &Dir, to_name: &OsStr) -> rustix::io::Result<()> {
        match rustix::fs::linkat(&self.fd, name, &to.fd, to_name, AtFlags::empty()) {
            Ok(()) => {}
            Err(Errno::EXIST) if self.same_inode(name, to, to_name) => {}
            Err(e) => return Err(e),
        }
        rustix::fs::unlinkat(&self.fd, name, AtFlags::empty())
    }

    fn same_inode(&self, name: &OsStr, other: &Dir, other_name: &OsStr) -> bool {
        let id = |dir: &Dir, name: &OsStr| {
            rustix::fs::statat(&dir.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                .map(|s| (s.st_dev, s.st_ino))
        };
        matches!((id(self, name), id(other, other_name)), (Ok(a), Ok(b)) if a == b)
    }

    /// Removes the empty directory `name` (gone already is fine).
    pub fn remove_dir(&self, name: &OsStr) -> Result<()> {
        check_name(name, &self.path)?;
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::io("remove directory", self.join(name), e)),
        }
    }

    /// Creates a uniquely named temporary file here, to be written and then
    /// placed with [`TempFile::place`]; dropped unplaced, it is removed.
    pub fn temp_file(&self, hint: &str, perms: Perms) -> Result<TempFile<'_>> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mode = match perms {
            Perms::Default => 0o666,
            Perms::Private | Perms::Exact(_) => 0o600,
        };
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(".{hint}.{}.{n}.tmp", std::process::id());
            match rustix::fs::openat(&self.fd, name.as_str(), flags, Mode::from_raw_mode(mode)) {
                Ok(fd) => {
                    let file = File::from(fd);
                    if let Perms::Exact(bits) = perms {
                        let applied = rustix::fs::fchmod(&file, Mode::from_raw_mode(bits & 0o7777));
                        if let Err(e) = applied {
                            let _ = rustix::fs::unlinkat(&self.fd, name.as_str(), AtFlags::empty());
                            return Err(Error::io("set the mode of", self.join(&name), e));
                        }
                    }
                    return Ok(TempFile {
                        dir: self,
                        name: OsString::from(name),
                        file,
                        placed: false,
                    });
                }
                // Left by a crashed process that had our pid: take the next number.
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(Error::io("create a temporary file in", &self.path, e)),
            }
        }
    }

    /// Writes `bytes` to `name` atomically: a temporary file, then one rename. An
    /// existing `name` that is not a regular file is refused, never replaced.
    pub fn write_atomic(
        &self,
        name: &OsStr,
        bytes: &[u8],
        perms: Perms,
        durability: Durability,
        place: Place,
    ) -> Result<()> {
        check_name(name, &self.path)?;
        if let Some(stat) = self.stat(name)? {
            if !is_regular(&stat) {
                let path = self.join(name);
                return Err(match kind_name(&stat) {
                    "symbolic link" => Error::Symlink { path },
                    kind => Error::NotRegular { path, kind },
                });
            }
            if place == Place::NoReplace {
                return Err(Error::Exists { path: self.join(name) });
            }
        }
        let mut temp = self.temp_file(&hint_of(name), perms)?;
        temp.write_all(bytes)?;
        temp.place(name, durability, place)
    }

    /// fsync of the directory, so that renames in it survive a crash.
    pub fn sync(&self) -> Result<()> {
        rustix::fs::fsync(&self.fd).map_err(|e| Error::io("sync directory", &self.path, e))
    }

    /// Removes the file `name` (gone already is fine).
    pub fn remove_file(&self, name: &OsStr) -> Result<()> {
        match rustix::fs::unlinkat(&self.fd, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(Error::io("remove", self.join(name), e)),
        }
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A short, printable stand-in for a file name in temporary names.
pub(crate) fn hint_of(name: &OsStr) -> String {
    let text = name.to_string_lossy();
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(40)
        .collect();
    if clean.is_empty() { "tidy".to_owned() } else { clean.trim_start_matches('.').to_owned() }
}

/// A single plain file name: not empty, not `.` or `..`, no `/` or NUL.
fn check_name(name: &OsStr, dir: &Path) -> Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty()
        || bytes == b"."
        || bytes == b".."
        || bytes.contains(&b'/')
        || bytes.contains(&0)
    {
        return Err(Error::io(
            "use",
            dir.join(name),
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a plain file name"),
        ));
    }
    Ok(())
}

/// A temporary file in a [`Dir`], written, then placed under its final name.
#[derive(Debug)]
pub struct TempFile<'d> {
    dir: &'d Dir,
    name: OsString,
    file: File,
    placed: bool,
}

impl TempFile<'_> {
    /// The open file, for fchown, xattrs and the like.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Its current (temporary) name in the directory.
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// Keeps the file whatever happens to this value (it was renamed by hand).
    pub(crate) fn forget(&mut self) {
        self.placed = true;
    }

    /// Its path, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// Appends `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.file.write_all(bytes).map_err(|e| Error::io("write", self.dir.join(&self.name), e))
    }

    /// Gives the file the name `name` (fsyncing first when durable). With
    /// [`Place::NoReplace`] an existing name is never replaced.
    pub fn place(mut self, name: &OsStr, durability: Durability, place: Place) -> Result<()> {
        let target = || self.dir.join(name);
        if durability == Durability::Durable {
            self.file.sync_all().map_err(|e| Error::io("sync", target(), e))?;
        }
        let renamed = match place {
            Place::Replace => rustix::fs::renameat(&self.dir.fd, &self.name, &self.dir.fd, name),
            Place::NoReplace => match rustix::fs::renameat_with(
                &self.dir.fd,
                &self.name,
                &self.dir.fd,
                name,
                RenameFlags::NOREPLACE,
            ) {
                // A file system without RENAME_NOREPLACE: a hard link never replaces
                // either; the temporary name is removed on drop.
                Err(Errno::INVAL) => rustix::fs::linkat(
                    &self.dir.fd,
                    &self.name,
                    &self.dir.fd,
                    name,
                    AtFlags::empty(),
                ),
                Ok(()) => {
                    self.placed = true;
                    Ok(())
                }
                Err(e) => Err(e),
            },
        };
        match renamed {
            Ok(()) => {
                if place == Place::Replace {
                    self.placed = true;
                }
            }
            Err(Errno::EXIST) => return Err(Error::Exists { path: target() }),
            Err(e) => return Err(Error::io("rename into place", target(), e)),
        }
        if durability == Durability::Durable {
            self.dir.sync()?;
        }
        Ok(())
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if !self.placed {
            let _ = rustix::fs::unlinkat(&self.dir.fd, &self.name, AtFlags::empty());
        }
    }
}
