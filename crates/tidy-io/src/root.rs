//! Confinement: a root directory opened once, and every path below it resolved
//! so that it never leaves the root, through `..` or through a symlink.
//!
//! A path is first resolved by the kernel (`realpath`, which follows symlinks),
//! the result must lie inside the root, and then that symlink-free path is
//! opened again from the root's handle one component at a time with
//! `O_NOFOLLOW`. A symlink swapped in between the two steps makes the open fail;
//! it can never redirect it. Symlinks whose target stays inside the root are
//! followed, as a site generator or GitHub would; the rest are refused.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use rustix::fs::Stat;

use crate::dir::{Dir, Durability, Perms, Place, is_regular, kind_name};
use crate::error::{Error, Result};
use crate::read::read_capped;
use crate::replace::Snapshot;

/// A directory that paths must stay inside.
#[derive(Debug)]
pub struct Root {
    dir: Dir,
    canonical: PathBuf,
}

/// Where a path below a root really is: the directory holding it (opened without
/// passing a symlink) and its name there.
#[derive(Debug)]
pub struct Located {
    /// The directory that holds the file.
    pub dir: Dir,
    /// The file's name in `dir`.
    pub name: OsString,
    /// The resolved path relative to the root (symlinks followed).
    pub rel: PathBuf,
    /// The path as asked for, for messages.
    pub asked: PathBuf,
}

/// A file read below a root, with what is needed to replace it safely later.
#[derive(Debug)]
pub struct Loaded {
    /// Where it is.
    pub located: Located,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its identity and content hash when read.
    pub snapshot: Snapshot,
}

/// The repository `dir` is in: the nearest of it and its ancestors holding a
/// `.git` (a directory, or the file of a worktree), as an absolute but unresolved
/// path. Every tool finds its defaults (rules file, inputs, lock directory) from
/// there, so a run from a subdirectory uses the same files as one from the top.
pub fn repository_of(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute.ancestors().find(|d| d.join(".git").exists()).map(Path::to_path_buf)
}

impl Root {
    /// Opens the root directory the user named (symlinks in its own path are followed).
    pub fn open(path: &Path) -> Result<Root> {
        let canonical = std::fs::canonicalize(path).map_err(|e| Error::io("open", path, e))?;
        let dir = Dir::open(&canonical)?;
        Ok(Root { dir, canonical })
    }

    /// The root's resolved path.
    pub fn path(&self) -> &Path {
        &self.canonical
    }

    /// The root directory itself.
    pub fn dir(&self) -> &Dir {
        &self.dir
    }

    /// `rel` as a path relative to the root: a relative path is taken as is, an
    /// absolute one must start with the root. `..` and `.` are refused, so that
    /// what a caller validated lexically is what is resolved.
    fn relative<'p>(&self, rel: &'p Path) -> Result<&'p Path> {
        let rel = if rel.is_absolute() {
            rel.strip_prefix(&self.canonical).map_err(|_| self.outside(rel, rel.to_path_buf()))?
        } else {
            rel
        };
        if rel.as_os_str().is_empty()
            || !rel.components().all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(self.outside(rel, self.canonical.join(rel)));
        }
        Ok(rel)
    }

    fn outside(&self, asked: &Path, target: PathBuf) -> Error {
        Error::OutsideRoot {
            path: self.canonical.join(asked),
            target,
            root: self.canonical.clone(),
        }
    }

    /// Resolves `rel` below the root, following symlinks only while they stay
    /// inside it. The file itself need not exist; its directory must.
    pub fn locate(&self, rel: &Path) -> Result<Located> {
        let rel = self.relative(rel)?;
        let full = self.canonical.join(rel);
        let real = match std::fs::canonicalize(&full) {
            Ok(real) => real,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(&full).is_ok() {
                    // A dangling symlink: where it would lead cannot be checked.
                    return Err(Error::Symlink { path: full });
                }
                let (Some(parent), Some(name)) = (full.parent(), full.file_name()) else {
                    return Err(self.outside(rel, full.clone()));
                };
                let parent =
                    std::fs::canonicalize(parent).map_err(|e| Error::io("open", parent, e))?;
                parent.join(name)
            }
            Err(e) => return Err(Error::io("resolve", &full, e)),
        };
        let inside =
            real.strip_prefix(&self.canonical).map_err(|_| self.outside(rel, real.clone()))?;
        let mut parts: Vec<OsString> = inside.iter().map(OsString::from).collect();
        let Some(name) = parts.pop() else {
            return Err(self.outside(rel, real.clone()));
        };
        let dir = self.dir.open_beneath(&parts, false)?;
        Ok(Located { dir, name, rel: inside.to_path_buf(), asked: rel.to_path_buf() })
    }

    /// Reads the regular file at `rel` (at most `limit` bytes), following symlinks
    /// that stay inside the root: a FIFO, device or socket is
    /// [`Error::NotRegular`], a link out of the root [`Error::OutsideRoot`].
    pub fn read(&self, rel: &Path, limit: u64) -> Result<Loaded> {
        let located = self.locate(rel)?;
        let (file, stat) = located.dir.open_regular(&located.name)?;
        let bytes = read_capped(file, &stat, limit, &located.dir.join(&located.name))?;
        let snapshot = Snapshot::new(&stat, &bytes);
        Ok(Loaded { located, bytes, snapshot })
    }

    /// Creates the directories of `rel` below the root (never through a symlink)
    /// and returns the last one.
    pub fn create_dirs(&self, rel: &Path) -> Result<Dir> {
        if rel.as_os_str().is_empty() {
            return self.dir.try_clone();
        }
        let rel = self.relative(rel)?;
        let parts: Vec<&std::ffi::OsStr> = rel.iter().collect();
        self.dir.open_beneath(&parts, true)
    }

    /// Writes `bytes` to `rel` atomically: an existing regular file (also one
    /// reached by a symlink inside the root) is replaced and keeps its mode; a
    /// new file gets `perms`. Anything that is not a regular file is refused.
    pub fn write(
        &self,
        rel: &Path,
        bytes: &[u8],
        perms: Perms,
        durability: Durability,
    ) -> Result<()> {
        let located = self.locate(rel)?;
        let perms = match located.dir.stat(&located.name)? {
            Some(stat) if is_regular(&stat) => Perms::Exact(stat.st_mode & 0o7777),
            Some(stat) => {
                return Err(Error::NotRegular {
                    path: located.dir.join(&located.name),
                    kind: kind_name(&stat),
                });
            }
            None => perms,
        };
        located.dir.write_atomic(&located.name, bytes, perms, durability, Place::Replace)
    }
}

impl Located {
    /// The file's full path, for messages.
    pub fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }

    /// `lstat` of the file; `None` when it does not exist.
    pub fn stat(&self) -> Result<Option<Stat>> {
        self.dir.stat(&self.name)
    }
}
