//! File-system primitives that never follow a symlink: every path below an anchor
//! directory is opened one component at a time with `O_NOFOLLOW`, so a component
//! swapped for a symlink makes the operation fail instead of redirecting it.
//! Also hashing, atomic writes and the mtime format.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RenameFlags, Stat};
use sha2::{Digest, Sha256};

/// Read buffer size for hashing and copying.
pub(crate) const BUF: usize = 256 * 1024;

/// Splits a report path into its components, or says why it is not a safe path
/// below ROOT (absolute, `..`, `.`, empty component or NUL). A backslash is an
/// ordinary file-name byte on Unix, so it is allowed.
pub(crate) fn components(rel: &str) -> Result<Vec<&str>, String> {
    if rel.is_empty() {
        return Err("empty path".to_owned());
    }
    if rel.starts_with('/') {
        return Err(format!("`{rel}` is absolute; report paths are relative to ROOT"));
    }
    let parts: Vec<&str> = rel.split('/').collect();
    for part in &parts {
        if part.is_empty() || *part == "." || *part == ".." || part.contains('\0') {
            return Err(format!("`{rel}` is not a plain path inside ROOT"));
        }
    }
    Ok(parts)
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
}

/// Opens a directory by an ordinary path (following symlinks): used once for ROOT and
/// the quarantine base, which the user named.
pub(crate) fn open_anchor(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Opens the directory `parts` below `anchor`, refusing symlinks on the way; with
/// `create`, missing directories are made (mode 0755).
pub(crate) fn open_dir(anchor: &OwnedFd, parts: &[&str], create: bool) -> io::Result<OwnedFd> {
    let mut dir = rustix::fs::openat(anchor, ".", dir_flags(), Mode::empty())?;
    for part in parts {
        let next = match rustix::fs::openat(&dir, *part, dir_flags(), Mode::empty()) {
            Err(rustix::io::Errno::NOENT) if create => {
                match rustix::fs::mkdirat(&dir, *part, Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(e.into()),
                }
                rustix::fs::openat(&dir, *part, dir_flags(), Mode::empty())?
            }
            other => other?,
        };
        dir = next;
    }
    Ok(dir)
}

/// Whether an error means "a symlink (or non-directory) was in the way".
pub(crate) fn is_link_error(e: &io::Error) -> bool {
    matches!(
        rustix::io::Errno::from_io_error(e),
        Some(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR)
    )
}

/// `lstat` of `name` in `dir`.
pub(crate) fn stat_at(dir: &OwnedFd, name: &str) -> io::Result<Stat> {
    Ok(rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?)
}

/// Opens a regular file for reading without following a symlink and without blocking
/// on a FIFO.
pub(crate) fn open_file(dir: &OwnedFd, name: &str) -> io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok(File::from(fd))
}

/// The kind of a file as the re-checks describe it.
pub(crate) fn kind(stat: &Stat) -> &'static str {
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => "regular file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        _ => "special file",
    }
}

/// Whether `stat` is of a regular file.
pub(crate) fn is_regular(stat: &Stat) -> bool {
    FileType::from_raw_mode(stat.st_mode) == FileType::RegularFile
}

/// Modification time in nanoseconds since the epoch.
#[allow(clippy::unnecessary_cast, reason = "st_mtime's type differs between targets")]
pub(crate) fn mtime_ns(stat: &Stat) -> i128 {
    stat.st_mtime as i128 * 1_000_000_000 + stat.st_mtime_nsec as i128
}

/// Formats nanoseconds since the epoch as RFC 3339 UTC (sub-seconds only when non-zero).
pub(crate) fn format_ns(ns: i128) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ns)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ns.to_string())
}

/// Parses what [`format_ns`] writes.
pub(crate) fn parse_ns(text: &str) -> Option<i128> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp_nanos())
}

/// The current time as RFC 3339 UTC.
pub(crate) fn now_rfc3339() -> String {
    format_ns(time::OffsetDateTime::now_utc().unix_timestamp_nanos())
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 hex of bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Whether `text` looks like a SHA-256 hex digest.
pub(crate) fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Feeds the rest of `reader` into `hasher`; returns the number of bytes read.
pub(crate) fn hash_into(reader: &mut impl Read, hasher: &mut Sha256) -> io::Result<u64> {
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// SHA-256 hex and length of everything `reader` yields.
pub(crate) fn hash_reader(reader: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let n = hash_into(reader, &mut hasher)?;
    Ok((hex(&hasher.finalize()), n))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory,
/// fsynced, renamed over `path`, then the directory fsynced.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp =
        tempfile::Builder::new().prefix(".storage-approval-").suffix(".tmp").tempfile_in(&dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    File::open(&dir)?.sync_all()?;
    Ok(())
}

/// Creates the marker file `name` in `dir` unless it exists (never through a symlink).
pub(crate) fn write_marker(dir: &OwnedFd, name: &str) -> io::Result<()> {
    let fd = match rustix::fs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::EXIST) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let mut file = File::from(fd);
    file.write_all(b"storage-approval quarantine: never scanned\n")?;
    file.sync_all()?;
    sync_dir(dir)
}

/// Renames `from` (in `from_dir`) to `to` (in `to_dir`) without replacing anything.
pub(crate) fn rename_noreplace(
    from_dir: &OwnedFd,
    from: &str,
    to_dir: &OwnedFd,
    to: &str,
) -> io::Result<()> {
    Ok(rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE)?)
}

/// Prefix of the temporary file a copy across file systems is written to.
pub(crate) const PARTIAL_PREFIX: &str = ".storage-approval-partial-";

/// Creates a temporary file in `dir` under a name no other file has (`O_EXCL`), so
/// that creating it can never truncate or replace an existing file.
fn create_partial(dir: &OwnedFd) -> io::Result<(String, File)> {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("{PARTIAL_PREFIX}{}-{n}", std::process::id());
        match rustix::fs::openat(
            dir,
            name.as_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        ) {
            Ok(fd) => return Ok((name, File::from(fd))),
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Copies an open file into `to_dir/to` (for a move across file systems): writes a
/// temporary file of its own (never a name derived from `to`, which could be another
/// file's: `to.partial` may be a real file), checks the copied bytes hash to `expect`,
/// keeps the mtime, fsyncs, then renames into place without replacing anything.
pub(crate) fn copy_into(
    src: &mut File,
    mtime: i128,
    to_dir: &OwnedFd,
    to: &str,
    expect: &str,
) -> io::Result<()> {
    use std::io::Seek;
    let (partial, mut out) = create_partial(to_dir)?;
    let result = (|| {
        src.seek(io::SeekFrom::Start(0))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])?;
        }
        let got = hex(&hasher.finalize());
        if got != expect {
            return Err(io::Error::other(format!("content changed while copying (sha256 {got})")));
        }
        let perms = src.metadata()?.permissions();
        out.set_permissions(perms)?;
        out.set_modified(system_time(mtime))?;
        out.sync_all()?;
        rename_noreplace(to_dir, &partial, to_dir, to)?;
        rustix::fs::fsync(to_dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(to_dir, partial.as_str(), AtFlags::empty());
    }
    result
}

/// A `SystemTime` from nanoseconds since the epoch.
pub(crate) fn system_time(ns: i128) -> std::time::SystemTime {
    let epoch = std::time::UNIX_EPOCH;
    if ns >= 0 {
        epoch + std::time::Duration::from_nanos(ns as u64)
    } else {
        epoch - std::time::Duration::from_nanos(ns.unsigned_abs() as u64)
    }
}

/// fsync of a directory (so that renames in it survive a crash).
pub(crate) fn sync_dir(dir: &impl AsFd) -> io::Result<()> {
    Ok(rustix::fs::fsync(dir)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_escapes() {
        assert_eq!(components("a/b.txt").unwrap(), vec!["a", "b.txt"]);
        for bad in ["", "/etc/passwd", "../../etc/passwd", "a/../b", "a//b", "./a", "a/."] {
            assert!(components(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn mtime_round_trips() {
        for ns in [0i128, 1_700_000_000_123_456_789, 1_700_000_000_000_000_000, -5] {
            assert_eq!(parse_ns(&format_ns(ns)), Some(ns));
        }
    }

    #[test]
    fn a_copy_never_touches_a_file_named_like_its_temporary() {
        // `video.mp4.partial` is a real file (a browser download, or the quarantined
        // copy of one): copying `video.mp4` next to it must leave it alone.
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("src"), "new bytes").unwrap();
        std::fs::write(tmp.path().join("video.mp4.partial"), "precious").unwrap();
        let dir = open_anchor(tmp.path()).unwrap();
        let mut src = File::open(tmp.path().join("src")).unwrap();
        let expect = sha256_hex(b"new bytes");
        copy_into(&mut src, 0, &dir, "video.mp4", &expect).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("video.mp4")).unwrap(), b"new bytes");
        assert_eq!(std::fs::read(tmp.path().join("video.mp4.partial")).unwrap(), b"precious");
        // A failed copy removes only its own temporary file.
        let mut src = File::open(tmp.path().join("src")).unwrap();
        assert!(copy_into(&mut src, 0, &dir, "other", &"0".repeat(64)).is_err());
        let mut names: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["src", "video.mp4", "video.mp4.partial"]);
    }

    #[test]
    fn open_dir_refuses_symlink_component() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("real")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
        let root = open_anchor(tmp.path()).unwrap();
        assert!(open_dir(&root, &["real"], false).is_ok());
        let err = open_dir(&root, &["link"], false).unwrap_err();
        assert!(is_link_error(&err), "{err}");
    }
}
