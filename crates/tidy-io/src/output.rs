//! Writing a tool's own outputs (reports, approvals, plans, rules, logs) to a
//! path the user named: `-` is standard output; an existing path that is not a
//! regular file (a device, a FIFO, `/dev/stdout`, a symlink to either) is refused,
//! never replaced; a symlink to a regular file is written through and stays a
//! link; a new file gets `0666 & !umask`, an existing one keeps its mode; the
//! write is atomic (temporary file and rename), durable when asked.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::dir::{Dir, Durability, Perms, Place, is_regular, kind_name};
use crate::error::{Error, Result};

/// Whether an output path argument means standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Writes `bytes` to standard output; a reader that went away (`| head`) is a
/// normal end, not an error.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Where an output path really leads: the directory and the name to write.
fn target(path: &Path) -> Result<(PathBuf, OsString, Option<u32>)> {
    let split = |p: &Path| -> Result<(PathBuf, OsString)> {
        let name = p
            .file_name()
            .ok_or_else(|| Error::NotRegular { path: p.to_path_buf(), kind: "directory" })?;
        let parent = match p.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok((parent, name.to_os_string()))
    };
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (dir, name) = split(path)?;
            return Ok((dir, name, None));
        }
        Err(e) => return Err(Error::io("stat", path, e)),
    };
    let (real, meta) = if meta.file_type().is_symlink() {
        let real = match std::fs::canonicalize(path) {
            Ok(real) => real,
            // `/dev/stdout` -> `/proc/self/fd/1` -> `pipe:[…]`: no path, but an
            // open pipe or socket that stat can still name.
            Err(_) if rustix::fs::stat(path).is_ok_and(|s| !is_regular(&s)) => {
                let stat = rustix::fs::stat(path).map_err(|e| Error::io("stat", path, e))?;
                return Err(Error::NotRegular { path: path.to_path_buf(), kind: kind_name(&stat) });
            }
            // A dangling link: creating its target would write who knows where.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Symlink { path: path.to_path_buf() });
            }
            Err(e) => return Err(Error::io("resolve", path, e)),
        };
        let meta = std::fs::metadata(&real).map_err(|e| Error::io("stat", &real, e))?;
        (real, meta)
    } else {
        (path.to_path_buf(), meta)
    };
    if !meta.file_type().is_file() {
        let stat = rustix::fs::stat(&real).map_err(|e| Error::io("stat", &real, e))?;
        return Err(Error::NotRegular { path: path.to_path_buf(), kind: kind_name(&stat) });
    }
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, name) = split(&real)?;
    Ok((dir, name, Some(meta.permissions().mode() & 0o7777)))
}

/// Writes `bytes` to the output `path` (`-`: standard output), as the module says.
/// `perms` is for a new file; an existing one keeps its mode.
pub fn write_output(path: &Path, bytes: &[u8], perms: Perms, durability: Durability) -> Result<()> {
    if is_stdout(path) {
        return write_stdout(bytes).map_err(|e| Error::io("write", "standard output", e));
    }
    let (dir, name, existing) = target(path)?;
    let dir = Dir::open(&dir)?;
    let perms = existing.map_or(perms, Perms::Exact);
    match dir.write_atomic(&name, bytes, perms, durability, Place::Replace) {
        // Lost a race with something that put a special file there.
        Err(Error::NotRegular { kind, .. }) => {
            Err(Error::NotRegular { path: path.to_path_buf(), kind })
        }
        other => other,
    }
}

/// Creates the new file `name` in the directory `dir` with `bytes`, atomically;
/// never replaces anything ([`Error::Exists`]).
pub fn create_new(
    dir: &Dir,
    name: &std::ffi::OsStr,
    bytes: &[u8],
    perms: Perms,
    durability: Durability,
) -> Result<()> {
    dir.write_atomic(name, bytes, perms, durability, Place::NoReplace)
}

/// Whether `path` exists and is a regular file (symlinks followed).
pub fn is_regular_file(path: &Path) -> bool {
    rustix::fs::stat(path).is_ok_and(|s| is_regular(&s))
}
