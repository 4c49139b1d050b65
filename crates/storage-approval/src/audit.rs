//! The audit log: JSON Lines with a hash chain. Each entry carries the hash of the
//! one before it (`prev_hash`) and its own (`entry_hash`, the SHA-256 of the canonical
//! entry without `entry_hash`), so any edited, dropped, inserted or reordered line
//! breaks the chain. Entries are buffered and written with one `fdatasync` per batch
//! (group commit).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tidy_io::Dir;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::report::canonical;

/// The largest audit log read (2 GiB): it is read whole to verify its chain, and at
/// some 600 bytes a line, two lines an action, that is over a million and a half
/// actions. A cap only against a file that never ends.
pub(crate) const AUDIT_LOG_LIMIT: u64 = 2 << 30;

/// `prev_hash` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Where in its life an entry finds its action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// About to act: durable before the action runs.
    Intent,
    /// Done (for a restore: the file is back, or was found in its place).
    Done,
    /// Not done: the file changed since the report (or cannot be restored).
    Skipped,
    /// Tried and failed; the file is where it was.
    Failed,
    /// A torn last line was dropped.
    Repair,
}

impl Phase {
    /// The name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Intent => "intent",
            Phase::Done => "done",
            Phase::Skipped => "skipped",
            Phase::Failed => "failed",
            Phase::Repair => "repair",
        }
    }
}

/// What an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// `execute`: a delete (to the quarantine, or a purge).
    Delete,
    /// `execute`: an archive move.
    Move,
    /// `execute`: a directory its actions emptied, removed.
    Rmdir,
    /// `undo`: a file put back.
    Restore,
    /// `undo`: a directory `execute` removed, made again.
    Mkdir,
    /// The log itself: a torn last line dropped.
    Repair,
}

impl AuditAction {
    /// The name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Delete => "delete",
            AuditAction::Move => "move",
            AuditAction::Rmdir => "rmdir",
            AuditAction::Restore => "restore",
            AuditAction::Mkdir => "mkdir",
            AuditAction::Repair => "repair",
        }
    }

    /// Whether it is about a directory rather than a file.
    pub fn is_dir(self) -> bool {
        matches!(self, AuditAction::Rmdir | AuditAction::Mkdir)
    }
}

impl From<crate::report::ActionKind> for AuditAction {
    fn from(kind: crate::report::ActionKind) -> AuditAction {
        match kind {
            crate::report::ActionKind::Delete => AuditAction::Delete,
            crate::report::ActionKind::Move => AuditAction::Move,
        }
    }
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// 1-based position in the log (equal to the line number).
    pub seq: u64,
    /// `intent`, `done`, `skipped`, `failed`, or `repair` (a torn line was dropped).
    pub phase: Phase,
    /// When the entry was written, RFC 3339.
    pub timestamp: String,
    /// `delete`, `move`, `rmdir` (execute), `restore`, `mkdir` (undo) or `repair`.
    pub action: AuditAction,
    /// The file acted on, relative to `root` (for `restore`: where it returns to).
    pub src: String,
    /// Where it went: archive path relative to `root`, or the absolute quarantine path;
    /// `null` for a purge.
    pub dest: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// The policy rule behind the action.
    pub policy_reason: String,
    /// SHA-256 verified right before the action.
    pub sha256_before: Option<String>,
    /// SHA-256 of the bytes at `dest` after the action (`null` for a purge).
    pub sha256_after: Option<String>,
    /// The approved report this action belongs to.
    pub report_id: String,
    /// The operator of the approval.
    pub operator: String,
    /// Why an action was skipped or failed, or what a repair did.
    pub reason: Option<String>,
    /// The scanned root (absolute), so `undo` needs only the log.
    pub root: String,
    /// `entry_hash` of the previous line ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// SHA-256 of this entry's canonical JSON without `entry_hash`.
    pub entry_hash: String,
}

/// The last entry of a verified chain: its hash and the number of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// `entry_hash` of the last entry ([`GENESIS`] for an empty log).
    pub hash: String,
    /// Number of entries.
    pub entries: u64,
}

impl std::fmt::Display for ChainHead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "audit head: {} ({} entries)", self.hash, self.entries)
    }
}

/// The fields of an entry that the caller chooses; the log fills in the rest.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    pub(crate) phase: Phase,
    pub(crate) action: AuditAction,
    pub(crate) src: String,
    pub(crate) dest: Option<String>,
    pub(crate) bytes: u64,
    pub(crate) policy_reason: String,
    pub(crate) sha256_before: Option<String>,
    pub(crate) sha256_after: Option<String>,
    pub(crate) report_id: String,
    pub(crate) reason: Option<String>,
    /// The root, when it differs from the log's (undo restores under each entry's root).
    pub(crate) root: Option<String>,
}

impl Fields {
    /// An entry of `action` at `phase`, every other field empty.
    pub(crate) fn new(phase: Phase, action: AuditAction) -> Fields {
        Fields {
            phase,
            action,
            src: String::new(),
            dest: None,
            bytes: 0,
            policy_reason: String::new(),
            sha256_before: None,
            sha256_after: None,
            report_id: String::new(),
            reason: None,
            root: None,
        }
    }
}

fn entry_hash_of(value: &serde_json::Value) -> String {
    let mut value = value.clone();
    if let Some(o) = value.as_object_mut() {
        o.remove("entry_hash");
    }
    fsutil::sha256_hex(canonical(&value).as_bytes())
}

/// What reading a log leaves besides its entries: its head and, if the last line
/// was torn by a crash, the byte offset where the good part ends and its length.
pub(crate) struct Tail {
    head: ChainHead,
    torn_at: Option<(u64, usize)>,
}

/// Reads and checks the chain line by line, handing each good entry to `visit`:
/// the log of a large run is never held whole. A last line without its newline is
/// reported as torn (when `allow_torn`) rather than as broken: an append cut short
/// by a crash leaves exactly that. A complete line (with its newline) that is not a
/// valid entry was not torn but edited, and is never repaired away.
fn parse(
    path: &Path,
    mut reader: impl BufRead,
    allow_torn: bool,
    visit: &mut dyn FnMut(AuditEntry),
) -> Result<Tail> {
    let mut prev = GENESIS.to_owned();
    let mut offset = 0u64;
    let mut line_no = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io("cannot read audit log", path, e))?;
        if n == 0 {
            break;
        }
        if offset + n as u64 > AUDIT_LOG_LIMIT {
            let too_large =
                tidy_io::Error::TooLarge { path: path.to_path_buf(), limit: AUDIT_LOG_LIMIT };
            return Err(Error::file("cannot read audit log", too_large));
        }
        line_no += 1;
        if line.last() != Some(&b'\n') {
            // No newline: only the last line can end so (read_until stops at EOF).
            if allow_torn {
                let head = ChainHead { hash: prev, entries: line_no - 1 };
                return Ok(Tail { head, torn_at: Some((offset, line.len())) });
            }
            return Err(Error::chain(
                path,
                line_no,
                "truncated line (no newline): an interrupted write",
            ));
        }
        let text = &line[..line.len() - 1];
        let entry = check_line(path, line_no, text, &prev)?;
        prev.clone_from(&entry.entry_hash);
        visit(entry);
        offset += n as u64;
    }
    Ok(Tail { head: ChainHead { hash: prev, entries: line_no }, torn_at: None })
}

/// Checks one complete line (without its newline) against the chain so far.
fn check_line(path: &Path, line_no: u64, line: &[u8], prev: &str) -> Result<AuditEntry> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(line) else {
        return Err(Error::chain(path, line_no, "not valid JSON"));
    };
    let hash = entry_hash_of(&value);
    let entry: AuditEntry = serde_json::from_value(value)
        .map_err(|e| Error::chain(path, line_no, format!("not an audit entry: {e}")))?;
    if hash != entry.entry_hash {
        return Err(Error::chain(
            path,
            line_no,
            "entry_hash does not match the entry (edited line)",
        ));
    }
    // The hash covers the entry's content; the line must also be byte for byte
    // what this tool writes for it, so that no edit at all goes unnoticed (a
    // space, a reordered key, an escaped letter).
    if serde_json::to_vec(&entry).expect("an audit entry serializes") != line {
        return Err(Error::chain(
            path,
            line_no,
            "the line is not as written (edited formatting or escapes)",
        ));
    }
    if entry.prev_hash != prev {
        return Err(Error::chain(
            path,
            line_no,
            "prev_hash does not match the line before (a line was dropped, inserted or reordered)",
        ));
    }
    if entry.seq != line_no {
        return Err(Error::chain(
            path,
            line_no,
            format!("seq {} where {line_no} was expected", entry.seq),
        ));
    }
    Ok(entry)
}

/// Verifies an audit log's hash chain and returns its head. With `expect_head`, the
/// chain must also contain that entry hash (a log cut short after `execute` printed
/// its head fails here). The error names the first bad line.
pub fn verify_log(path: &Path, expect_head: Option<&str>) -> Result<ChainHead> {
    let mut seen = false;
    let tail = read_each(path, &mut |e| seen |= expect_head == Some(e.entry_hash.as_str()))?;
    let head = tail.head;
    if let Some(expected) = expect_head
        && !seen
    {
        return Err(Error::chain(
            path,
            head.entries + 1,
            format!("the expected head {expected} is not in the log: entries were cut off the end"),
        ));
    }
    Ok(head)
}

/// Reads the entries of a log whose chain holds.
pub fn read_log(path: &Path) -> Result<Vec<AuditEntry>> {
    let mut entries = Vec::new();
    read_each(path, &mut |e| entries.push(e))?;
    Ok(entries)
}

/// Hands each entry of the log `name` in `dir` (opened by the caller below ROOT) to
/// `visit`, checking the chain; a log that does not exist yet has none.
pub(crate) fn read_log_in(
    dir: &Dir,
    name: &OsStr,
    visit: &mut dyn FnMut(AuditEntry),
) -> Result<()> {
    match dir.open_regular(name) {
        Ok((file, _)) => parse(&dir.join(name), BufReader::new(file), false, visit).map(drop),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::file("cannot read audit log", e)),
    }
}

/// [`read_log_in`] for the log at `path`; a log (or a directory of its path) that
/// does not exist yet has no entries.
pub(crate) fn read_log_if_any(path: &Path, visit: &mut dyn FnMut(AuditEntry)) -> Result<()> {
    match fsutil::open_parent(path) {
        Ok((dir, name)) => read_log_in(&dir, name, visit),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(Error::file("cannot read audit log", e)),
    }
}

/// Hands each entry of the log at `path` to `visit`: the tool's own file, so only a
/// regular file and never through a symlink; a FIFO there is refused at once, never
/// waited on.
pub(crate) fn read_each(path: &Path, visit: &mut dyn FnMut(AuditEntry)) -> Result<Tail> {
    let cannot = |e| Error::file("cannot read audit log", e);
    let (dir, name) = fsutil::open_parent(path).map_err(cannot)?;
    let (file, _) = dir.open_regular(name).map_err(cannot)?;
    parse(path, BufReader::new(file), false, visit)
}

/// An audit log open for appending, locked against a second writer.
pub(crate) struct AuditLog {
    file: File,
    path: PathBuf,
    seq: u64,
    head: String,
    buf: Vec<u8>,
    root: String,
    operator: String,
}

impl AuditLog {
    /// Opens (creating it and its directories) the log at a path the user named: see
    /// [`AuditLog::open_in`].
    pub(crate) fn open(
        path: &Path,
        root: &str,
        operator: &str,
        visit: &mut dyn FnMut(AuditEntry),
    ) -> Result<AuditLog> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("cannot create", parent, e))?;
        }
        let (dir, name) =
            fsutil::open_parent(path).map_err(|e| Error::file("cannot open audit log", e))?;
        AuditLog::open_in(&dir, name, root, operator, visit)
    }

    /// Opens (creating) the log `name` in `dir` (a regular file only, never through a
    /// symlink, never waiting on a FIFO), takes an exclusive lock, verifies the
    /// chain while handing each entry to `visit`, and repairs a line torn by a crash
    /// (dropping it and logging the repair).
    pub(crate) fn open_in(
        dir: &Dir,
        name: &OsStr,
        root: &str,
        operator: &str,
        visit: &mut dyn FnMut(AuditEntry),
    ) -> Result<AuditLog> {
        let path = &dir.join(name);
        let (file, _) =
            dir.open_append(name).map_err(|e| Error::file("cannot open audit log", e))?;
        file.try_lock().map_err(|_| {
            Error::refused(format!(
                "{}: the audit log is in use by another execute or undo",
                path.display()
            ))
        })?;
        let tail = parse(path, BufReader::with_capacity(1 << 16, &file), true, visit)?;
        let mut log = AuditLog {
            seq: tail.head.entries,
            head: tail.head.hash,
            file,
            path: path.to_path_buf(),
            buf: Vec::new(),
            root: root.to_owned(),
            operator: operator.to_owned(),
        };
        if let Some((offset, len)) = tail.torn_at {
            log.file.set_len(offset).map_err(|e| Error::io("cannot repair audit log", path, e))?;
            log.file.sync_data().map_err(|e| Error::io("cannot repair audit log", path, e))?;
            log.push(Fields {
                reason: Some(format!(
                    "dropped a torn last line of {len} bytes at byte {offset} (an interrupted write); \
                     the actions it named are re-checked against the files"
                )),
                ..Fields::new(Phase::Repair, AuditAction::Repair)
            });
            log.commit()?;
        }
        Ok(log)
    }

    /// Appends an entry to the batch (not yet durable); returns its entry hash.
    pub(crate) fn push(&mut self, f: Fields) -> String {
        self.seq += 1;
        let mut entry = AuditEntry {
            seq: self.seq,
            phase: f.phase,
            timestamp: fsutil::now_rfc3339(),
            action: f.action,
            src: f.src,
            dest: f.dest,
            bytes: f.bytes,
            policy_reason: f.policy_reason,
            sha256_before: f.sha256_before,
            sha256_after: f.sha256_after,
            report_id: f.report_id,
            operator: self.operator.clone(),
            reason: f.reason,
            root: f.root.unwrap_or_else(|| self.root.clone()),
            prev_hash: self.head.clone(),
            entry_hash: String::new(),
        };
        let value = serde_json::to_value(&entry).expect("an audit entry serializes");
        entry.entry_hash = entry_hash_of(&value);
        self.head = entry.entry_hash.clone();
        serde_json::to_writer(&mut self.buf, &entry).expect("an audit entry serializes");
        self.buf.push(b'\n');
        self.head.clone()
    }

    /// Writes the batch and makes it durable with one `fdatasync`.
    pub(crate) fn commit(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        use std::io::Seek;
        self.file
            .seek(std::io::SeekFrom::End(0))
            .map_err(|e| Error::io("cannot write audit log", &self.path, e))?;
        self.file
            .write_all(&self.buf)
            .map_err(|e| Error::io("cannot write audit log", &self.path, e))?;
        self.file.sync_data().map_err(|e| Error::io("cannot sync audit log", &self.path, e))?;
        self.buf.clear();
        Ok(())
    }

    /// The chain head after everything pushed so far.
    pub(crate) fn head(&self) -> ChainHead {
        ChainHead { hash: self.head.clone(), entries: self.seq }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> PathBuf {
        let path = dir.join("audit.jsonl");
        let mut log = AuditLog::open(&path, "/r", "ana", &mut |_| {}).unwrap();
        for i in 0..4 {
            log.push(Fields {
                src: format!("f{i}"),
                ..Fields::new(Phase::Intent, AuditAction::Delete)
            });
        }
        log.commit().unwrap();
        path
    }

    #[test]
    fn chain_verifies_and_detects_tampering() {
        let tmp = tempfile::tempdir().unwrap();
        let path = sample(tmp.path());
        let head = verify_log(&path, None).unwrap();
        assert_eq!(head.entries, 4);
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let write = |lines: &[&str]| std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let line_of = |e: Error| match e.kind() {
            crate::ErrorKind::Chain { line, .. } => *line,
            other => panic!("{other}"),
        };
        // Edited.
        let edited = lines[1].replace("\"f1\"", "\"f9\"");
        write(&[lines[0], &edited, lines[2], lines[3]]);
        assert_eq!(line_of(verify_log(&path, None).unwrap_err()), 2);
        // Dropped.
        write(&[lines[0], lines[2], lines[3]]);
        assert_eq!(line_of(verify_log(&path, None).unwrap_err()), 2);
        // Reordered.
        write(&[lines[0], lines[2], lines[1], lines[3]]);
        assert_eq!(line_of(verify_log(&path, None).unwrap_err()), 2);
        // Cut-off tail: passes alone, fails with the expected head.
        write(&lines[..3]);
        assert!(verify_log(&path, None).is_ok());
        assert!(verify_log(&path, Some(&head.hash)).is_err());
    }

    #[test]
    fn an_edit_that_keeps_the_content_is_found_too() {
        let tmp = tempfile::tempdir().unwrap();
        let path = sample(tmp.path());
        let text = std::fs::read_to_string(&path).unwrap();
        for (from, to) in [("\"seq\":2,", "\"seq\": 2,"), ("\"f1\"", "\"\\u0066\u{31}\"")] {
            std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
            let err = verify_log(&path, None).unwrap_err();
            assert!(err.to_string().contains(":2: audit chain broken"), "{to}: {err}");
        }
    }

    #[test]
    fn a_complete_last_line_that_is_not_an_entry_is_never_repaired() {
        let tmp = tempfile::tempdir().unwrap();
        let path = sample(tmp.path());
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("not json\n");
        std::fs::write(&path, &text).unwrap();
        assert!(AuditLog::open(&path, "/r", "ana", &mut |_| {}).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "left as found");
    }

    #[test]
    fn torn_last_line_is_repaired_and_logged() {
        let tmp = tempfile::tempdir().unwrap();
        let path = sample(tmp.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 20);
        std::fs::write(&path, &bytes).unwrap();
        assert!(verify_log(&path, None).unwrap_err().to_string().contains("truncated"));
        let log = AuditLog::open(&path, "/r", "ana", &mut |_| {}).unwrap();
        drop(log);
        let entries = read_log(&path).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[3].phase, Phase::Repair);
    }
}
