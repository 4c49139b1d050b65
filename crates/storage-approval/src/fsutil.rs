//! What storage-approval adds to the file layer (`tidy_io`, which holds the one
//! confinement walk, the one atomic write, the append-open of a log and the move
//! between two directory handles): report paths split into plain components,
//! hashing, the mtime format, the quarantine marker, and the verified copy of a move
//! across file systems.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use rustix::fs::Stat;
use sha2::{Digest, Sha256};
use tidy_io::{Dir, Durability, Perms, Place};

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

/// The file layer's word for a file's type, with this tool's word for a link.
pub(crate) fn kind(stat: &Stat) -> &'static str {
    match tidy_io::kind_name(stat) {
        "symbolic link" => "symlink",
        kind => kind,
    }
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

/// A SHA-256 from its lower-case hex form.
pub(crate) fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if !is_sha256(text) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Whether `text` looks like a SHA-256 hex digest.
pub(crate) fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

thread_local! {
    /// One read buffer per thread: zeroing a fresh 256 KiB buffer for each of
    /// 200,000 small files cost more than hashing them.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; BUF]);
}

/// Feeds the rest of `reader` into `hasher`; returns the number of bytes read.
pub(crate) fn hash_into(reader: &mut impl Read, hasher: &mut Sha256) -> io::Result<u64> {
    READ_BUF.with_borrow_mut(|buf| {
        let mut total = 0u64;
        loop {
            let n = match reader.read(buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            hasher.update(&buf[..n]);
            total += n as u64;
        }
    })
}

/// SHA-256 hex and length of everything `reader` yields.
pub(crate) fn hash_reader(reader: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let n = hash_into(reader, &mut hasher)?;
    Ok((hex(&hasher.finalize()), n))
}

/// The directory of a path the user named (opened following symlinks, as named) and
/// the file's name in it, for the `*at` calls that follow.
pub(crate) fn open_parent(path: &Path) -> tidy_io::Result<(Dir, &OsStr)> {
    let Some(name) = path.file_name() else {
        return Err(tidy_io::Error::NotRegular { path: path.to_path_buf(), kind: "directory" });
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Ok((Dir::open(parent)?, name))
}

/// What the marker file of a quarantine says.
const MARKER_TEXT: &[u8] = b"storage-approval quarantine: never scanned\n";

/// Creates the marker file `name` in `dir` unless the name is taken (by anything:
/// it is never replaced), durably.
pub(crate) fn write_marker(dir: &Dir, name: &str) -> tidy_io::Result<()> {
    let name = OsStr::new(name);
    if dir.stat(name)?.is_some() {
        return Ok(());
    }
    match tidy_io::create_new(dir, name, MARKER_TEXT, Perms::Default, Durability::Durable) {
        Err(tidy_io::Error::Exists { .. }) => Ok(()),
        other => other,
    }
}

/// Copies an open file into `to_dir/to` (for a move across file systems): writes a
/// temporary file of its own (`O_EXCL`, never a name derived from `to`, which could
/// be another file's: `to.partial` may be a real file), checks the copied bytes hash
/// to `expect`, keeps the mode and mtime, fsyncs, then gives it its name without
/// replacing anything. On any error the temporary file is removed.
pub(crate) fn copy_into(
    src: &mut File,
    mtime: i128,
    to_dir: &Dir,
    to: &str,
    expect: &str,
) -> Result<(), String> {
    use std::io::Seek;
    use std::os::unix::fs::PermissionsExt;
    let io_err = |e: io::Error| e.to_string();
    let mode = src.metadata().map_err(io_err)?.permissions().mode();
    let mut temp = to_dir
        .temp_file(crate::layout::PARTIAL_HINT, Perms::Exact(mode & 0o7777))
        .map_err(|e| e.to_string())?;
    src.seek(io::SeekFrom::Start(0)).map_err(io_err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err(e)),
        };
        hasher.update(&buf[..n]);
        temp.write_all(&buf[..n]).map_err(|e| e.to_string())?;
    }
    let got = hex(&hasher.finalize());
    if got != expect {
        return Err(format!("content changed while copying (sha256 {got})"));
    }
    temp.file().set_modified(system_time(mtime)).map_err(io_err)?;
    temp.place(OsStr::new(to), Durability::Durable, Place::NoReplace).map_err(|e| e.to_string())
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
        let dir = Dir::open(tmp.path()).unwrap();
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
}
