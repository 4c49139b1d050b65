//! Reading a file only when it is a regular file, with a cap on the bytes
//! actually read (`st_size` is 0 for a device, so a size check alone lets
//! `/dev/zero` through), and without ever blocking on a FIFO.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use rustix::fs::{CWD, Mode, OFlags, Stat};
use rustix::io::Errno;

use crate::dir::{is_regular, kind_name};
use crate::error::{Error, Result};

/// Opens a file the user named (symlinks in its path are followed) for reading,
/// only if it is a regular file; a FIFO, device, socket or directory is
/// [`Error::NotRegular`] at once, never a hang.
pub fn open_regular(path: &Path) -> Result<(File, Stat)> {
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NXIO) => {
            return Err(Error::NotRegular { path: path.to_path_buf(), kind: "socket" });
        }
        Err(e) => return Err(Error::io("open", path, e)),
    };
    let stat = rustix::fs::fstat(&fd).map_err(|e| Error::io("stat", path, e))?;
    if !is_regular(&stat) {
        return Err(Error::NotRegular { path: path.to_path_buf(), kind: kind_name(&stat) });
    }
    let _ = rustix::fs::fcntl_setfl(&fd, OFlags::empty());
    Ok((File::from(fd), stat))
}

/// Reads a whole regular file of at most `limit` bytes (see [`open_regular`]).
pub fn read_file(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let (file, stat) = open_regular(path)?;
    read_capped(file, &stat, limit, path)
}

/// Reads an open file to its end, failing with [`Error::TooLarge`] past `limit`
/// bytes: the cap holds on what is read, whatever `st_size` said.
pub(crate) fn read_capped(file: File, stat: &Stat, limit: u64, path: &Path) -> Result<Vec<u8>> {
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if size > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), limit });
    }
    let capacity = usize::try_from(size).unwrap_or(0).saturating_add(1);
    read_to_end_capped(file, limit, path, capacity)
}

/// Reads `reader` to its end, failing with [`Error::TooLarge`] past `limit` bytes;
/// `path` names it in errors. For a reader already open (a locked log, stdin).
pub fn read_to_end_capped(
    reader: impl Read,
    limit: u64,
    path: &Path,
    capacity: usize,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::with_capacity(capacity);
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Error::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(bytes)
}
