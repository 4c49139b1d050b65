//! Execution of an approved report, and undo from an audit log.
//!
//! Every action is re-checked right before it runs (type, size, mtime, SHA-256 of the
//! whole file) through directory handles opened below ROOT by the file layer's one
//! confinement walk ([`Dir::open_beneath`], never through a symlink);
//! the intent is made durable before the action and the result after it, in batches
//! (group commit). A second run reads the log and finishes what was left.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use tidy_io::Dir;

use crate::approval::Approval;
use crate::audit::{AuditEntry, AuditLog, ChainHead, Fields};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::policy::Policy;
use crate::report::{Action, ActionKind, LoadedReport, validate};
use crate::scan::{QUARANTINE_DIR, QUARANTINE_MARKER};

/// Actions per group commit: one `fdatasync` for their intents, one for their results.
/// A batch holds about three file descriptors per action, so this stays well inside
/// the usual soft limit of 1,024 open files.
pub const DEFAULT_BATCH: usize = 128;

/// File name of the default audit log in `ROOT/.tidy-quarantine`.
const AUDIT_LOG: &str = "audit.jsonl";

/// Options of [`execute`].
#[derive(Debug, Clone)]
pub struct ExecuteOptions {
    /// Act for real; without it, a dry run that only re-checks.
    pub execute: bool,
    /// The audit log (default `ROOT/.tidy-quarantine/audit.jsonl`).
    pub audit_log: Option<PathBuf>,
    /// The quarantine base (default `ROOT/.tidy-quarantine`); files go to
    /// `BASE/REPORT_ID/<src>`.
    pub quarantine: Option<PathBuf>,
    /// Delete for real instead of quarantining.
    pub purge: bool,
    /// Actions per group commit.
    pub batch: usize,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            execute: false,
            audit_log: None,
            quarantine: None,
            purge: false,
            batch: DEFAULT_BATCH,
        }
    }
}

/// Options of [`undo`].
#[derive(Debug, Clone)]
pub struct UndoOptions {
    /// Restore for real; without it, a dry run.
    pub execute: bool,
    /// Recorded as the operator of the restore entries.
    pub operator: String,
    /// Restores per group commit.
    pub batch: usize,
}

impl Default for UndoOptions {
    fn default() -> Self {
        UndoOptions { execute: false, operator: String::new(), batch: DEFAULT_BATCH }
    }
}

/// What happened to one action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Done now.
    Done,
    /// Dry run: the re-check passed; it would be done.
    WouldDo,
    /// Done by an earlier (possibly interrupted) run; not repeated.
    AlreadyDone,
    /// Not done: the file changed since the report (see the reason).
    Skipped,
    /// Tried and failed; the file is where it was (see the reason).
    Failed,
}

impl Status {
    /// Lowercase name for output.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::WouldDo => "would",
            Status::AlreadyDone => "already done",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// The outcome of one action.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `delete`, `move` or `restore`.
    pub action: String,
    /// The file (relative to ROOT).
    pub src: String,
    /// Where it went or would go.
    pub dest: Option<String>,
    /// Size in bytes.
    pub bytes: u64,
    /// What happened.
    pub status: Status,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// For a duplicate delete: the copy that stays.
    pub kept: Option<String>,
    /// Why that copy stays (the keep rule's deciding criterion).
    pub keep_reason: Option<String>,
}

/// The result of [`execute`] or [`undo`].
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The report acted on (for undo: empty).
    pub report_id: String,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// One outcome per action, in order.
    pub outcomes: Vec<Outcome>,
    /// The audit log written (none for a dry run).
    pub audit_log: Option<PathBuf>,
    /// The audit chain head after the run.
    pub head: Option<ChainHead>,
    /// Where quarantined files went.
    pub quarantine: Option<PathBuf>,
    /// Directories below ROOT: for `execute`, those removed because this run emptied
    /// them (logged as `rmdir`); for `undo`, those recreated (logged as `mkdir`), or
    /// in a dry run, those that would be.
    pub dirs: Vec<String>,
}

impl RunSummary {
    /// Whether no action was skipped or failed.
    pub fn complete(&self) -> bool {
        self.outcomes.iter().all(|o| !matches!(o.status, Status::Skipped | Status::Failed))
    }
}

/// Where a file lives: an anchor directory handle and a path below it.
struct Loc<'a> {
    anchor: &'a Dir,
    rel: String,
}

impl Loc<'_> {
    fn split(&self) -> (Vec<&str>, &str) {
        let parts: Vec<&str> = self.rel.split('/').collect();
        let (name, dirs) = parts.split_last().expect("a checked path has a component");
        (dirs.to_vec(), name)
    }
}

/// What the file must still be.
#[derive(Clone, Copy)]
struct Expect<'a> {
    bytes: u64,
    mtime: Option<i128>,
    sha256: &'a str,
}

/// A file that passed its re-check, held open.
struct Checked {
    dir: Dir,
    name: String,
    file: File,
    stat: rustix::fs::Stat,
}

fn expect(a: &Action) -> Expect<'_> {
    Expect {
        bytes: a.bytes,
        mtime: fsutil::parse_ns(&a.mtime),
        sha256: a.sha256.as_deref().expect("validated: every action has a hash"),
    }
}

/// Re-checks a file: present, a regular file reached without symlinks, same size,
/// mtime and SHA-256 as expected. The error says why not.
fn recheck(loc: &Loc<'_>, expect: &Expect<'_>) -> std::result::Result<Checked, String> {
    let (dirs, name) = loc.split();
    let dir = loc
        .anchor
        .open_beneath(&dirs, false)
        .map_err(|e| describe_open(&e, "a parent directory"))?;
    let lstat = lstat(&dir, name)?;
    if !tidy_io::is_regular(&lstat) {
        return Err(format!("replaced by a {} since the report", fsutil::kind(&lstat)));
    }
    let (mut file, stat) = dir.open_regular(OsStr::new(name)).map_err(|e| match e {
        tidy_io::Error::NotRegular { .. } => "replaced while being checked".to_owned(),
        e => describe_open(&e, "the file"),
    })?;
    if stat.st_ino != lstat.st_ino {
        return Err("replaced while being checked".to_owned());
    }
    if stat.st_size as u64 != expect.bytes {
        return Err(format!(
            "size changed since the report ({} → {} bytes)",
            expect.bytes, stat.st_size
        ));
    }
    if let Some(mtime) = expect.mtime
        && fsutil::mtime_ns(&stat) != mtime
    {
        return Err(format!(
            "mtime changed since the report ({} → {})",
            fsutil::format_ns(mtime),
            fsutil::format_ns(fsutil::mtime_ns(&stat))
        ));
    }
    let (hash, n) = fsutil::hash_reader(&mut file).map_err(|e| format!("cannot read: {e}"))?;
    if hash != expect.sha256 || n != expect.bytes {
        return Err(format!(
            "content changed since the report (sha256 {hash}, expected {})",
            expect.sha256
        ));
    }
    Ok(Checked { dir, name: name.to_owned(), file, stat })
}

/// `lstat` of `name` in `dir`; gone is "deleted since the report".
fn lstat(dir: &Dir, name: &str) -> std::result::Result<rustix::fs::Stat, String> {
    match dir.stat(OsStr::new(name)) {
        Ok(Some(stat)) => Ok(stat),
        Ok(None) => Err("deleted since the report".to_owned()),
        Err(e) => Err(describe_open(&e, "the file")),
    }
}

/// Why a file or directory could not be opened, as a skip reason.
fn describe_open(e: &tidy_io::Error, what: &str) -> String {
    match e {
        tidy_io::Error::Symlink { .. } | tidy_io::Error::NotRegular { .. } => {
            format!("{what} was replaced by a symlink or is not a directory: not followed")
        }
        e if e.is_not_found() => "deleted since the report".to_owned(),
        e => format!("cannot open {what}: {}", e.reason()),
    }
}

/// A kept copy of a duplicate group, hashed and let go of (only its directory stays
/// open), to be looked at again right before each delete of its group.
struct Kept {
    dir: Dir,
    name: String,
    stat: rustix::fs::Stat,
}

impl Kept {
    fn still_same(&self) -> std::result::Result<(), String> {
        same_entry(&self.dir, &self.name, &self.stat)
    }
}

/// Whether the checked file is still the same inode, size and mtime at its name:
/// the last look right before acting.
fn still_same(c: &Checked) -> std::result::Result<(), String> {
    same_entry(&c.dir, &c.name, &c.stat)
}

fn same_entry(dir: &Dir, name: &str, then: &rustix::fs::Stat) -> std::result::Result<(), String> {
    let now = lstat(dir, name)?;
    // The ctime too: a rewrite that puts the size and mtime back (`cp -a` over the
    // file, fclones #84) cannot put the ctime back. Not for a file with several hard
    // links: renaming one of its other names (another action of the same run) moves
    // the shared inode's ctime as well.
    if now.st_ino != then.st_ino
        || now.st_dev != then.st_dev
        || now.st_size != then.st_size
        || fsutil::mtime_ns(&now) != fsutil::mtime_ns(then)
        || (then.st_nlink == 1
            && (now.st_ctime, now.st_ctime_nsec) != (then.st_ctime, then.st_ctime_nsec))
    {
        return Err("changed after it was checked".to_owned());
    }
    Ok(())
}

/// Moves a checked file to `to` (creating directories, never replacing a file):
/// a rename, or a verified copy and unlink across file systems. Returns the
/// directories whose entries changed, to be fsynced with the batch.
fn relocate(c: &mut Checked, to: &Loc<'_>, sha256: &str) -> std::result::Result<Vec<Dir>, String> {
    let (dirs, name) = to.split();
    let to_dir =
        to.anchor.open_beneath(&dirs, true).map_err(|e| describe_open(&e, "the destination"))?;
    still_same(c)?;
    match c.dir.move_noreplace(OsStr::new(&c.name), &to_dir, OsStr::new(name)) {
        Ok(()) => {
            // If the name was swapped between the last look and the rename, the wrong
            // entry moved: put it back and report.
            let moved = match to_dir.stat(OsStr::new(name)) {
                Ok(Some(moved)) => moved,
                Ok(None) => return Err("cannot stat the destination: it is gone".to_owned()),
                Err(e) => return Err(format!("cannot stat the destination: {}", e.reason())),
            };
            if moved.st_ino != c.stat.st_ino || moved.st_dev != c.stat.st_dev {
                let _ = to_dir.move_noreplace(OsStr::new(name), &c.dir, OsStr::new(&c.name));
                return Err("replaced right before the action; put back".to_owned());
            }
        }
        Err(e) if e.is_cross_device() => {
            // A run killed between placing the copy and removing the original left a
            // complete copy: use it instead of failing on the existing name.
            let complete = to_dir
                .open_regular(OsStr::new(name))
                .ok()
                .and_then(|(mut f, _)| fsutil::hash_reader(&mut f).ok())
                .is_some_and(|(h, n)| h == sha256 && n == c.stat.st_size as u64);
            if !complete {
                fsutil::copy_into(&mut c.file, fsutil::mtime_ns(&c.stat), &to_dir, name, sha256)
                    .map_err(|e| {
                        format!("cannot copy to the destination: {e}; the original is untouched")
                    })?;
            }
            still_same(c).map_err(|e| format!("{e}; the copy at the destination is kept"))?;
            c.dir
                .remove_file(OsStr::new(&c.name))
                .map_err(|e| format!("copied, but cannot remove the original: {}", e.reason()))?;
        }
        Err(tidy_io::Error::Exists { .. }) => {
            return Err(format!("`{}` already exists at the destination", to.rel));
        }
        Err(e) => return Err(format!("cannot move: {}; the original is untouched", e.reason())),
    }
    let from_dir = c.dir.try_clone().map_err(|e| e.to_string())?;
    Ok(vec![from_dir, to_dir])
}

/// fsyncs each directory once (several handles may name the same one).
fn sync_dirs(dirs: Vec<Dir>) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for dir in dirs {
        let st = rustix::fs::fstat(&dir)
            .map_err(|e| Error::io("cannot stat directory", dir.path(), e.into()))?;
        if seen.insert((st.st_dev, st.st_ino)) {
            dir.sync().map_err(|e| Error::file("cannot sync", e))?;
        }
    }
    Ok(())
}

/// The state of an action according to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Logged {
    /// Nothing logged: to do.
    New,
    /// An intent without a result: interrupted; reconcile with the files.
    Pending,
    /// A result was logged: never repeated.
    Finished(Status),
}

/// The state of each action of `report_id` according to the log, in log order: an
/// intent makes it pending, `done` or `skipped` finishes it, and a `failed` result or
/// a completed `restore` (undo) makes it new again, so the same report can be executed again after an undo.
fn logged_states(entries: &[AuditEntry], report_id: &str) -> HashMap<String, Logged> {
    let mut states = HashMap::new();
    for e in entries.iter().filter(|e| e.report_id == report_id && !is_dir_entry(e)) {
        let state = match (e.action.as_str(), e.phase.as_str()) {
            ("restore", "done") => {
                states.remove(&e.src);
                continue;
            }
            ("restore", _) => continue,
            (_, "intent") => Logged::Pending,
            (_, "done") => Logged::Finished(Status::Done),
            (_, "skipped") => Logged::Finished(Status::Skipped),
            // A failed action did not happen (the file is where it was): a later
            // run tries it again, e.g. once a full disk has room.
            (_, "failed") => {
                states.remove(&e.src);
                continue;
            }
            _ => continue,
        };
        states.insert(e.src.clone(), state);
    }
    states
}

/// Runs an approved report: refuses (nothing touched) unless `approval` approves
/// exactly this report and every action is safe; then re-checks and acts on each
/// action (or, without `options.execute`, only re-checks).
pub fn execute(
    report: &LoadedReport,
    approval: &Approval,
    options: &ExecuteOptions,
) -> Result<RunSummary> {
    approval.check(report.id())?;
    let policy = Policy::from_report_json(&report.report().policy)?;
    let rep = report.report();
    validate(rep, &|p: &str| {
        policy.is_protected(p) || p == QUARANTINE_DIR || p.starts_with(".tidy-quarantine/")
    })?;
    let root_path = PathBuf::from(&rep.root);
    // The report holds ROOT canonical; if it no longer resolves to itself, a symlink
    // was put on the way since the scan.
    match root_path.canonicalize() {
        Ok(real) if real == root_path => {}
        Ok(real) => {
            return Err(Error::refused(format!(
                "root {} now resolves to {} (a symlink on the way); nothing was touched",
                root_path.display(),
                real.display()
            )));
        }
        Err(e) => return Err(Error::io("cannot open root", &root_path, e)),
    }
    let root = Dir::open(&root_path).map_err(|e| Error::file("cannot open root", e))?;
    // ROOT/.tidy-quarantine holds the default quarantine and audit log: a symlink
    // there would take quarantined files (and the log) out of ROOT.
    match root.stat(OsStr::new(QUARANTINE_DIR)) {
        Ok(None) => {}
        Ok(Some(st)) if fsutil::kind(&st) == "directory" => {}
        Ok(Some(st)) => {
            return Err(Error::refused(format!(
                "{} is a {}, not a directory; remove it or choose --quarantine and \
                 --audit-log elsewhere; nothing was touched",
                root_path.join(QUARANTINE_DIR).display(),
                fsutil::kind(&st)
            )));
        }
        Err(e) => return Err(Error::file("cannot stat", e)),
    }

    // The quarantine: never inside a protected path.
    let quarantine_base = if options.purge {
        None
    } else {
        let base = match &options.quarantine {
            Some(dir) => {
                std::path::absolute(dir).map_err(|e| Error::io("cannot resolve", dir, e))?
            }
            None => root_path.join(QUARANTINE_DIR),
        };
        let resolved = resolve_existing_prefix(&base);
        if let Ok(rel) = resolved.strip_prefix(&root_path)
            && let Some(rel) = rel.to_str()
            && !rel.is_empty()
            && policy.is_protected(rel)
        {
            return Err(Error::usage(format!(
                "quarantine {} is inside a protected path (`{rel}`); choose another --quarantine",
                base.display()
            )));
        }
        Some(resolved)
    };
    let audit_path =
        options.audit_log.clone().unwrap_or_else(|| root_path.join(QUARANTINE_DIR).join(AUDIT_LOG));
    let qdir = quarantine_base.as_ref().map(|b| b.join(report.id()));
    let dest_of = |a: &Action| -> Option<String> {
        match (a.action, &qdir) {
            (ActionKind::Move, _) => a.dest.clone(),
            (ActionKind::Delete, Some(q)) => Some(q.join(&a.src).to_string_lossy().into_owned()),
            (ActionKind::Delete, None) => None,
        }
    };
    let mut summary = RunSummary {
        report_id: report.id().to_owned(),
        dry_run: !options.execute,
        outcomes: Vec::new(),
        audit_log: None,
        head: None,
        quarantine: qdir.clone(),
        dirs: Vec::new(),
    };
    let outcome = |a: &Action, status: Status, reason: Option<String>| Outcome {
        action: a.action.as_str().to_owned(),
        src: a.src.clone(),
        dest: dest_of(a),
        bytes: a.bytes,
        status,
        reason,
        kept: a.kept.clone(),
        keep_reason: a.keep_reason.clone(),
    };
    // Kept copies of duplicate groups: hashed once per batch, then looked at again
    // (same inode, size and mtime) right before each delete.
    let hash_keeps = |actions: &[Action]| -> HashMap<String, std::result::Result<Kept, String>> {
        let mut keeps: Vec<&Action> = actions.iter().filter(|a| a.kept.is_some()).collect();
        keeps.sort_by(|a, b| a.kept.cmp(&b.kept));
        keeps.dedup_by(|a, b| a.kept == b.kept);
        keeps
            .par_iter()
            .map(|a| {
                let keep = a.kept.clone().expect("filtered");
                let checked = recheck(
                    &Loc { anchor: &root, rel: keep.clone() },
                    &Expect { mtime: None, ..expect(a) },
                )
                .map(|c| Kept { dir: c.dir, name: c.name, stat: c.stat });
                (keep, checked)
            })
            .collect()
    };
    let check_keep = |a: &Action, keeps: &HashMap<String, std::result::Result<Kept, String>>| {
        let Some(keep) = &a.kept else { return Ok(()) };
        let state = match keeps.get(keep) {
            Some(Ok(k)) if k.stat.st_size as u64 == a.bytes => k.still_same(),
            Some(Ok(_)) => Err("its size differs".to_owned()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not checked".to_owned()),
        };
        state.map_err(|e| {
            format!("the kept copy `{keep}` is not intact ({e}): not removing the last copy")
        })
    };

    if !options.execute {
        // The default log is read through ROOT's handle; a log that is not there
        // yet has nothing logged.
        let entries = match &options.audit_log {
            Some(path) => crate::audit::read_log_if_any(path)?,
            None => match root.open_beneath(&[QUARANTINE_DIR], false) {
                Ok(dir) => crate::audit::read_log_in(&dir, OsStr::new(AUDIT_LOG))?,
                Err(e) if e.is_not_found() => Vec::new(),
                Err(e) => return Err(Error::file("cannot read audit log", e)),
            },
        };
        let logged = logged_states(&entries, report.id());
        for batch in rep.actions.chunks(options.batch.max(1)) {
            let keeps = hash_keeps(batch);
            let outcomes: Vec<Outcome> = batch
                .par_iter()
                .map(|a| match logged.get(&a.src) {
                    Some(Logged::Finished(_)) => outcome(a, Status::AlreadyDone, None),
                    _ => match recheck(&Loc { anchor: &root, rel: a.src.clone() }, &expect(a))
                        .and_then(|_| check_keep(a, &keeps))
                    {
                        Ok(()) => outcome(a, Status::WouldDo, None),
                        Err(why) => outcome(a, Status::Skipped, Some(why)),
                    },
                })
                .collect();
            summary.outcomes.extend(outcomes);
        }
        return Ok(summary);
    }

    let mut log = match &options.audit_log {
        Some(path) => AuditLog::open(path, &rep.root, &approval.operator)?,
        // The default log: its folder made through ROOT's handle, never through a symlink.
        None => {
            let dir = root
                .open_beneath(&[QUARANTINE_DIR], true)
                .map_err(|e| Error::file("cannot open audit log", e))?;
            AuditLog::open_in(&dir, OsStr::new(AUDIT_LOG), &rep.root, &approval.operator)?
        }
    };
    let logged = logged_states(&log.entries, report.id());
    // An interrupted action is finished where its logged intent said it would go:
    // with another quarantine (or `--purge`) this run would look for it in the wrong
    // place, and log a result the files do not show.
    for (src, logged_dest) in pending_dests(&log.entries, report.id()) {
        if let Some(a) = rep.actions.iter().find(|a| a.src == src)
            && dest_of(a) != logged_dest
        {
            let place = |d: &Option<String>| match d {
                Some(d) => format!("to `{d}`"),
                None => "by a purge".to_owned(),
            };
            return Err(Error::refused(format!(
                "`{src}` was interrupted on its way {} but this run would move it {}: \
                 run again with the same --quarantine or --purge; nothing was touched",
                place(&logged_dest),
                place(&dest_of(a))
            )));
        }
    }
    let qfd = match (&quarantine_base, &qdir) {
        (Some(base), Some(q)) => {
            let cannot = |e| Error::file("cannot create quarantine", e);
            // The default quarantine is created through ROOT's handle, refusing
            // symlinks; a `--quarantine` the user named is taken as named.
            let base_dir = match &options.quarantine {
                None => root.open_beneath(&[QUARANTINE_DIR], true).map_err(cannot)?,
                Some(_) => {
                    std::fs::create_dir_all(base)
                        .map_err(|e| Error::io("cannot create quarantine", q, e))?;
                    Dir::open(base).map_err(cannot)?
                }
            };
            fsutil::write_marker(&base_dir, QUARANTINE_MARKER)
                .map_err(|e| Error::file("cannot write quarantine marker", e))?;
            Some(base_dir.open_beneath(&[report.id()], true).map_err(cannot)?)
        }
        _ => None,
    };
    let fields = |a: &Action, phase: &'static str| Fields {
        phase,
        action: a.action.as_str().to_owned(),
        src: a.src.clone(),
        dest: dest_of(a),
        bytes: a.bytes,
        policy_reason: a.policy_reason.clone(),
        sha256_before: a.sha256.clone(),
        report_id: report.id().to_owned(),
        ..Fields::default()
    };
    let target = |a: &Action| -> Option<Loc<'_>> {
        match a.action {
            ActionKind::Move => {
                Some(Loc { anchor: &root, rel: a.dest.clone().expect("validated") })
            }
            ActionKind::Delete => qfd.as_ref().map(|q| Loc { anchor: q, rel: a.src.clone() }),
        }
    };

    for batch in rep.actions.chunks(options.batch.max(1)) {
        // 1. Re-check every action of the batch (hashing on all cores).
        let keeps = hash_keeps(batch);
        let checked: Vec<(usize, Logged, std::result::Result<Checked, String>)> = batch
            .par_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let state = logged.get(&a.src).copied().unwrap_or(Logged::New);
                if let Logged::Finished(_) = state {
                    return None;
                }
                let result = recheck(&Loc { anchor: &root, rel: a.src.clone() }, &expect(a));
                Some((i, state, result.and_then(|c| check_keep(a, &keeps).map(|()| c))))
            })
            .collect();
        let mut results: Vec<(usize, Status, Option<String>)> = Vec::new();
        let mut ready: Vec<(usize, Checked)> = Vec::new();
        for (i, state, result) in checked {
            let a = &batch[i];
            match (result, state) {
                (Ok(c), _) => ready.push((i, c)),
                // Interrupted after its intent: the file may already be at its target.
                (Err(why), Logged::Pending) => {
                    let src = Loc { anchor: &root, rel: a.src.clone() };
                    match finished_elsewhere(&src, target(a).as_ref(), &expect(a)) {
                        Some(status) => results.push((
                            i,
                            status,
                            Some("completed by an interrupted run".to_owned()),
                        )),
                        None => results.push((i, Status::Skipped, Some(why))),
                    }
                }
                (Err(why), _) => results.push((i, Status::Skipped, Some(why))),
            }
        }
        // 2. Intents, durable before any action of the batch.
        let mut wrote_intent = false;
        for (i, _) in &ready {
            if logged.get(&batch[*i].src) != Some(&Logged::Pending) {
                log.push(fields(&batch[*i], "intent"));
                wrote_intent = true;
            }
        }
        if wrote_intent {
            log.commit()?;
        }
        // 3. The actions.
        let mut touched = Vec::new();
        for (i, mut c) in ready {
            let a = &batch[i];
            let sha = a.sha256.as_deref().expect("validated");
            let result = check_keep(a, &keeps).and_then(|()| match target(a) {
                Some(to) => relocate(&mut c, &to, sha),
                None => still_same(&c).and_then(|()| {
                    c.dir
                        .remove_file(OsStr::new(&c.name))
                        .map_err(|e| format!("cannot delete: {}", e.reason()))?;
                    Ok(vec![c.dir])
                }),
            });
            match result {
                Ok(dirs) => {
                    touched.extend(dirs);
                    results.push((i, Status::Done, None));
                }
                Err(why) => results.push((i, Status::Failed, Some(why))),
            }
        }
        // 4. The directories these actions emptied (`__pycache__/`), deepest first.
        let done_srcs: Vec<&str> = results
            .iter()
            .filter(|r| r.1 == Status::Done)
            .map(|r| batch[r.0].src.as_str())
            .collect();
        let removed = remove_emptied_dirs(&root, &done_srcs, &|dir: &str| {
            policy.is_protected(dir)
                || dir == QUARANTINE_DIR
                || dir == policy.file.archive.dest
                || policy.file.archive.dirs.iter().any(|d| d == dir)
        });
        // 5. Results, durable after the renames they describe.
        let mut removed_dirs = Vec::new();
        for (dir, parent) in removed {
            touched.push(parent);
            removed_dirs.push(dir);
        }
        sync_dirs(touched)?;
        results.sort_by_key(|r| r.0);
        for (i, status, reason) in &results {
            let a = &batch[*i];
            let phase = match status {
                Status::Done => "done",
                Status::Skipped => "skipped",
                _ => "failed",
            };
            let mut f = fields(a, phase);
            f.reason = reason.clone();
            if *status == Status::Done && target(a).is_some() {
                f.sha256_after = a.sha256.clone();
            }
            log.push(f);
        }
        for dir in &removed_dirs {
            log.push(Fields {
                phase: "done",
                action: "rmdir".to_owned(),
                src: dir.clone(),
                policy_reason: "emptied by the actions of this report".to_owned(),
                report_id: report.id().to_owned(),
                ..Fields::default()
            });
        }
        log.commit()?;
        summary.dirs.extend(removed_dirs);
        for (i, status, reason) in results {
            summary.outcomes.push(outcome(&batch[i], status, reason));
        }
    }
    // Actions finished by earlier runs, for a complete picture.
    for a in &rep.actions {
        if let Some(Logged::Finished(status)) = logged.get(&a.src) {
            let status = if *status == Status::Done { Status::AlreadyDone } else { *status };
            let reason =
                (status != Status::AlreadyDone).then(|| "logged by an earlier run".to_owned());
            summary.outcomes.push(outcome(a, status, reason));
        }
    }
    let order: HashMap<&str, usize> =
        rep.actions.iter().enumerate().map(|(i, a)| (a.src.as_str(), i)).collect();
    summary.outcomes.sort_by_key(|o| order.get(o.src.as_str()).copied());
    summary.head = Some(log.head());
    summary.audit_log = Some(audit_path);
    Ok(summary)
}

/// Whether an audit entry is about a directory (`rmdir` by execute, `mkdir` by undo)
/// rather than a file.
fn is_dir_entry(e: &AuditEntry) -> bool {
    matches!(e.action.as_str(), "rmdir" | "mkdir")
}

/// Removes the directories that the actions on `srcs` left empty: each ancestor of a
/// source (never ROOT itself, never one that `keep` names), deepest first, so that a
/// parent emptied by removing its last child goes too. Only an empty directory can
/// be removed (`rmdir`), so no byte is lost, and each is removed through its parent's
/// handle, never through a symlink. Returns each removed directory with its parent's
/// handle (to be fsynced).
fn remove_emptied_dirs(
    root: &Dir,
    srcs: &[&str],
    keep: &dyn Fn(&str) -> bool,
) -> Vec<(String, Dir)> {
    let mut candidates: Vec<&str> = Vec::new();
    for src in srcs {
        let mut end = src.len();
        while let Some(pos) = src[..end].rfind('/') {
            candidates.push(&src[..pos]);
            end = pos;
        }
    }
    candidates.sort_by(|a, b| b.matches('/').count().cmp(&a.matches('/').count()).then(a.cmp(b)));
    candidates.dedup();
    let mut removed = Vec::new();
    for dir in candidates {
        if keep(dir) {
            continue;
        }
        let parts: Vec<&str> = dir.split('/').collect();
        let (name, parents) = parts.split_last().expect("a directory has a name");
        let Ok(parent) = root.open_beneath(parents, false) else { continue };
        // `remove_dir` takes a missing directory for removed: only one that is there
        // now is logged as removed by this run.
        let name = OsStr::new(*name);
        if matches!(parent.stat(name), Ok(Some(_))) && parent.remove_dir(name).is_ok() {
            removed.push((dir.to_owned(), parent));
        }
    }
    removed
}

/// Whether a logged root still resolves to itself (no symlink put on the way since).
fn root_still_itself(root: &str) -> std::result::Result<(), String> {
    match Path::new(root).canonicalize() {
        Ok(real) if real == Path::new(root) => Ok(()),
        Ok(real) => Err(format!(
            "root {root} now resolves to {} (a symlink on the way): not restoring there",
            real.display()
        )),
        Err(err) => Err(format!("cannot open root {root}: {err}")),
    }
}

/// For an interrupted action whose source no longer checks out: is it complete at its
/// target (same bytes)? `None` target means a purge, which is complete only once the
/// source is gone (a source that is still there, changed, was not purged).
fn finished_elsewhere(
    src: &Loc<'_>,
    target: Option<&Loc<'_>>,
    expect: &Expect<'_>,
) -> Option<Status> {
    match target {
        Some(to) => recheck(to, &Expect { mtime: None, ..*expect }).ok().map(|_| Status::Done),
        None => is_gone(src).then_some(Status::Done),
    }
}

/// Whether nothing is at `loc` any more (the file or one of its directories is missing).
fn is_gone(loc: &Loc<'_>) -> bool {
    let (dirs, name) = loc.split();
    match loc.anchor.open_beneath(&dirs, false) {
        Ok(dir) => matches!(dir.stat(OsStr::new(name)), Ok(None)),
        Err(e) => e.is_not_found(),
    }
}

/// The `dest` logged with each pending intent (an intent without a result) of
/// `report_id`.
fn pending_dests(entries: &[AuditEntry], report_id: &str) -> HashMap<String, Option<String>> {
    let mut pending = HashMap::new();
    for e in entries
        .iter()
        .filter(|e| e.report_id == report_id && e.action != "restore" && !is_dir_entry(e))
    {
        if e.phase == "intent" {
            pending.insert(e.src.clone(), e.dest.clone());
        } else {
            pending.remove(&e.src);
        }
    }
    pending
}

/// The longest existing ancestor canonicalized, with the rest appended.
fn resolve_existing_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(c) = cur.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.file_name().map(|n| n.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Restores, byte for byte, every action an audit log records as done (newest first):
/// quarantined files go back to their place, archived files back from the archive.
/// Purged files cannot be restored and are reported as skipped. Restores are
/// logged with the same group commit as `execute` and resume the same way.
pub fn undo(audit_path: &Path, options: &UndoOptions) -> Result<RunSummary> {
    let mut log = if options.execute {
        Some(AuditLog::open(audit_path, "", &options.operator)?)
    } else {
        None
    };
    let entries = match &log {
        Some(l) => l.entries.clone(),
        None => crate::audit::read_log(audit_path)?,
    };
    // The latest delete or move of each (report, src), with the state of its restore.
    let mut latest: HashMap<(String, String), (&AuditEntry, Logged)> = HashMap::new();
    for e in &entries {
        let key = (e.report_id.clone(), e.src.clone());
        match (e.action.as_str(), e.phase.as_str()) {
            ("delete" | "move", "done") => {
                latest.insert(key, (e, Logged::New));
            }
            ("restore", phase) => {
                if let Some(slot) = latest.get_mut(&key) {
                    slot.1 = match phase {
                        "intent" => Logged::Pending,
                        "done" => Logged::Finished(Status::Done),
                        _ => Logged::New,
                    };
                }
            }
            _ => {}
        }
    }
    let mut done: Vec<(&AuditEntry, Logged)> = latest.into_values().collect();
    done.sort_by_key(|(e, _)| std::cmp::Reverse(e.seq));
    let mut summary = RunSummary {
        report_id: String::new(),
        dry_run: !options.execute,
        outcomes: Vec::new(),
        audit_log: options.execute.then(|| audit_path.to_path_buf()),
        head: None,
        quarantine: None,
        dirs: Vec::new(),
    };
    // Anchors: each root and each quarantine base, opened once.
    let mut anchors: HashMap<String, Dir> = HashMap::new();
    let mut jobs: Vec<(usize, &AuditEntry, Logged, String, String)> = Vec::new();
    for (e, state) in done {
        let index = summary.outcomes.len();
        summary.outcomes.push(Outcome {
            action: "restore".to_owned(),
            src: e.src.clone(),
            dest: e.dest.clone(),
            bytes: e.bytes,
            status: Status::Skipped,
            reason: None,
            kept: None,
            keep_reason: None,
        });
        let out = &mut summary.outcomes[index];
        if state == Logged::Finished(Status::Done) {
            out.status = Status::AlreadyDone;
            continue;
        }
        let (Some(dest), Some(_)) = (&e.dest, &e.sha256_after) else {
            out.reason = Some("purged: there is no copy to restore".to_owned());
            continue;
        };
        if fsutil::components(&e.src).is_err()
            || fsutil::components(dest.trim_start_matches('/')).is_err()
        {
            out.reason = Some("the logged path is not a plain path".to_owned());
            continue;
        }
        // Where the file is now: the archive (relative to root) or the quarantine
        // (absolute, `BASE/REPORT_ID/<src>`).
        let (from_anchor, from_rel) = if Path::new(dest).is_absolute() {
            let Some(base) = dest.strip_suffix(&format!("/{}", e.src)) else {
                out.reason =
                    Some(format!("the quarantine path `{dest}` does not end with the file's path"));
                continue;
            };
            (base.to_owned(), e.src.clone())
        } else {
            (e.root.clone(), dest.clone())
        };
        let mut open = |path: &str| -> std::result::Result<(), String> {
            if !anchors.contains_key(path) {
                let fd = Dir::open(Path::new(path)).map_err(|err| err.to_string())?;
                anchors.insert(path.to_owned(), fd);
            }
            Ok(())
        };
        // As in execute: the logged root must still resolve to itself, or a symlink
        // was put on the way and the restore would land elsewhere.
        if let Err(why) = root_still_itself(&e.root)
            .and_then(|()| open(&from_anchor))
            .and_then(|()| open(&e.root))
        {
            out.reason = Some(why);
            continue;
        }
        jobs.push((index, e, state, from_anchor, from_rel));
    }

    recreate_dirs(&entries, log.as_mut(), &mut summary)?;

    for batch in jobs.chunks(options.batch.max(1)) {
        // 1. Check each file in its quarantine or archive place, and that its
        //    original place is free.
        let checked: Vec<std::result::Result<Checked, (Status, String)>> = batch
            .par_iter()
            .map(|(_, e, state, from_anchor, from_rel)| {
                let sha = e.sha256_after.as_deref().expect("filtered above");
                let expect = Expect { bytes: e.bytes, mtime: None, sha256: sha };
                let from = Loc { anchor: &anchors[from_anchor], rel: from_rel.clone() };
                let to = Loc { anchor: &anchors[&e.root], rel: e.src.clone() };
                match recheck(&from, &expect) {
                    Ok(c) => {
                        let (dirs, name) = to.split();
                        let occupied = to
                            .anchor
                            .open_beneath(&dirs, false)
                            .is_ok_and(|d| matches!(d.stat(OsStr::new(name)), Ok(Some(_))));
                        match occupied {
                            true => Err((
                                Status::Skipped,
                                format!("`{}` exists again: not overwriting it", e.src),
                            )),
                            false => Ok(c),
                        }
                    }
                    // Interrupted restore, or restored by hand: is it back in place?
                    Err(why) => match recheck(&to, &expect) {
                        Ok(_) if *state == Logged::Pending => {
                            Err((Status::Done, "completed by an interrupted run".to_owned()))
                        }
                        Ok(_) => Err((Status::AlreadyDone, "already back in place".to_owned())),
                        Err(_) => Err((Status::Skipped, why)),
                    },
                }
            })
            .collect();
        let Some(log) = log.as_mut() else {
            for ((index, ..), result) in batch.iter().zip(checked) {
                let out = &mut summary.outcomes[*index];
                match result {
                    Ok(_) => out.status = Status::WouldDo,
                    Err((status, why)) => {
                        out.status =
                            if status == Status::Done { Status::AlreadyDone } else { status };
                        out.reason = Some(why);
                    }
                }
            }
            continue;
        };
        // 2. Intents, durable before any restore of the batch.
        for ((_, e, state, ..), result) in batch.iter().zip(&checked) {
            if result.is_ok() && *state != Logged::Pending {
                log.push(restore_fields(e, "intent", None));
            }
        }
        log.commit()?;
        // 3. The restores, then their results with one sync.
        let mut touched = Vec::new();
        let mut results = Vec::new();
        for ((index, e, _, from_anchor, from_rel), result) in batch.iter().zip(checked) {
            let sha = e.sha256_after.as_deref().expect("filtered above");
            let to = Loc { anchor: &anchors[&e.root], rel: e.src.clone() };
            let result = match result {
                Ok(mut c) => match relocate(&mut c, &to, sha) {
                    Ok(dirs) => {
                        touched.extend(dirs);
                        remove_empty_parents(&anchors[from_anchor], from_rel);
                        Ok(())
                    }
                    Err(why) => Err((Status::Failed, why)),
                },
                Err(other) => Err(other),
            };
            results.push((*index, *e, result));
        }
        sync_dirs(touched)?;
        for (index, e, result) in results {
            let out = &mut summary.outcomes[index];
            match result {
                Ok(()) => {
                    log.push(restore_fields(e, "done", None));
                    out.status = Status::Done;
                }
                Err((Status::Done, why)) => {
                    log.push(restore_fields(e, "done", Some(why.clone())));
                    out.status = Status::Done;
                    out.reason = Some(why);
                }
                Err((status, why)) => {
                    if status != Status::AlreadyDone {
                        let phase = if status == Status::Failed { "failed" } else { "skipped" };
                        let mut f = restore_fields(e, phase, Some(why.clone()));
                        f.sha256_after = None;
                        log.push(f);
                    }
                    out.status = status;
                    out.reason = Some(why);
                }
            }
        }
        log.commit()?;
    }
    summary.head = log.as_ref().map(AuditLog::head);
    Ok(summary)
}

/// Recreates the directories that execute removed because it emptied them (logged
/// `rmdir`, not yet undone by a logged `mkdir`), shallowest first and before any file
/// goes back, so that a directory whose files were purged comes back too. Each is
/// made through its parent's handle and logged as `mkdir` once it exists; without a
/// log (a dry run) the directories that would be made are only listed.
fn recreate_dirs(
    entries: &[AuditEntry],
    log: Option<&mut AuditLog>,
    summary: &mut RunSummary,
) -> Result<()> {
    let mut removed: HashMap<(&str, &str, &str), (&AuditEntry, bool)> = HashMap::new();
    for e in entries {
        let key = (e.report_id.as_str(), e.root.as_str(), e.src.as_str());
        match (e.action.as_str(), e.phase.as_str()) {
            ("rmdir", "done") => {
                removed.insert(key, (e, false));
            }
            ("mkdir", "done") => {
                if let Some(slot) = removed.get_mut(&key) {
                    slot.1 = true;
                }
            }
            _ => {}
        }
    }
    let mut todo: Vec<&AuditEntry> =
        removed.into_values().filter(|(_, restored)| !restored).map(|(e, _)| e).collect();
    todo.sort_by(|a, b| {
        (&a.root, a.src.matches('/').count(), &a.src).cmp(&(
            &b.root,
            b.src.matches('/').count(),
            &b.src,
        ))
    });
    let mut roots: HashMap<&str, std::result::Result<Dir, String>> = HashMap::new();
    let mut made = Vec::new();
    for e in todo {
        let skip = |status: Status, why: String| Outcome {
            action: "mkdir".to_owned(),
            src: e.src.clone(),
            dest: None,
            bytes: 0,
            status,
            reason: Some(why),
            kept: None,
            keep_reason: None,
        };
        let Ok(parts) = fsutil::components(&e.src) else {
            summary.outcomes.push(skip(Status::Skipped, "the logged path is not plain".into()));
            continue;
        };
        let root = roots.entry(e.root.as_str()).or_insert_with(|| {
            root_still_itself(&e.root)
                .and_then(|()| Dir::open(Path::new(&e.root)).map_err(|err| err.to_string()))
        });
        let root = match root {
            Ok(fd) => &*fd,
            Err(why) => {
                summary.outcomes.push(skip(Status::Skipped, why.clone()));
                continue;
            }
        };
        let (name, parents) = parts.split_last().expect("components are never empty");
        let existing = root
            .open_beneath(parents, false)
            .ok()
            .and_then(|d| d.stat(OsStr::new(name)).ok().flatten())
            .map(|st| fsutil::kind(&st));
        match existing {
            Some("directory") => continue,
            Some(kind) => {
                summary.outcomes.push(skip(
                    Status::Skipped,
                    format!("a {kind} is in the place of the directory: not replacing it"),
                ));
                continue;
            }
            None => {}
        }
        if log.is_none() {
            summary.dirs.push(e.src.clone());
            continue;
        }
        let result = root.open_beneath(parents, true).and_then(|parent| {
            parent.open_beneath(&[*name], true)?;
            parent.sync()
        });
        match result {
            Ok(()) => made.push(e),
            Err(err) => summary
                .outcomes
                .push(skip(Status::Failed, format!("cannot recreate the directory: {err}"))),
        }
    }
    if let Some(log) = log {
        for e in &made {
            log.push(Fields {
                phase: "done",
                action: "mkdir".to_owned(),
                src: e.src.clone(),
                policy_reason: "undo of rmdir".to_owned(),
                report_id: e.report_id.clone(),
                root: Some(e.root.clone()),
                ..Fields::default()
            });
        }
        log.commit()?;
    }
    summary.dirs.extend(made.iter().map(|e| e.src.clone()));
    Ok(())
}

/// Removes the directories of `rel` below `anchor` that a restore left empty
/// (`archive/logs/` once its last file went back), deepest first, stopping at the
/// first one that is not empty. Each is removed through its parent's handle, so no
/// symlink is followed.
fn remove_empty_parents(anchor: &Dir, rel: &str) {
    let parts: Vec<&str> = rel.split('/').collect();
    for depth in (1..parts.len()).rev() {
        let Ok(parent) = anchor.open_beneath(&parts[..depth - 1], false) else { return };
        if parent.remove_dir(OsStr::new(parts[depth - 1])).is_err() {
            return;
        }
    }
}

fn restore_fields(e: &AuditEntry, phase: &'static str, reason: Option<String>) -> Fields {
    Fields {
        phase,
        action: "restore".to_owned(),
        src: e.src.clone(),
        dest: e.dest.clone(),
        bytes: e.bytes,
        policy_reason: format!("undo of {}", e.action),
        sha256_before: e.sha256_after.clone(),
        sha256_after: e.sha256_after.clone(),
        report_id: e.report_id.clone(),
        reason,
        root: Some(e.root.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Dir, Checked, String) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("root/d")).unwrap();
        std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("root/d/f"), "checked").unwrap();
        std::fs::write(tmp.path().join("outside/f"), "checked").unwrap();
        let root = Dir::open(&tmp.path().join("root")).unwrap();
        let sha = fsutil::sha256_hex(b"checked");
        let checked = recheck(
            &Loc { anchor: &root, rel: "d/f".into() },
            &Expect { bytes: 7, mtime: None, sha256: &sha },
        )
        .unwrap();
        (tmp, root, checked, sha)
    }

    #[test]
    fn a_file_swapped_for_a_symlink_after_the_check_is_not_acted_on() {
        let (tmp, root, mut checked, sha) = setup();
        let file = tmp.path().join("root/d/f");
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside/f"), &file).unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("changed after it was checked"), "{err}");
        assert!(file.symlink_metadata().unwrap().file_type().is_symlink(), "the link stays");
        assert_eq!(std::fs::read_to_string(tmp.path().join("outside/f")).unwrap(), "checked");
        assert!(!tmp.path().join("root/q/f").exists());
    }

    #[test]
    fn a_parent_swapped_for_a_symlink_after_the_check_cannot_redirect_the_action() {
        let (tmp, root, mut checked, sha) = setup();
        // The checked directory moves away and a symlink to a look-alike takes its place.
        std::fs::rename(tmp.path().join("root/d"), tmp.path().join("root/moved")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), tmp.path().join("root/d")).unwrap();
        relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap();
        // The action went through the directory handle: it moved the file that was
        // checked, and nothing outside ROOT was touched.
        assert!(tmp.path().join("outside/f").exists());
        assert!(!tmp.path().join("root/moved/f").exists());
        assert_eq!(std::fs::read_to_string(tmp.path().join("root/q/f")).unwrap(), "checked");
    }

    #[test]
    fn a_rewrite_that_keeps_size_and_mtime_after_the_check_is_not_acted_on() {
        use std::os::unix::fs::MetadataExt;
        let (tmp, root, mut checked, sha) = setup();
        let file = tmp.path().join("root/d/f");
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let ctime = |f: &Path| {
            let m = std::fs::metadata(f).unwrap();
            (m.ctime(), m.ctime_nsec())
        };
        let then = ctime(&file);
        // Rewrite until the coarse file-system clock has ticked, so that the rewrite
        // has a ctime of its own (as any later rewrite does).
        loop {
            std::fs::write(&file, "CHECKED").unwrap();
            if ctime(&file) != then {
                break;
            }
        }
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("changed after it was checked"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "CHECKED");
    }

    #[test]
    fn a_destination_that_exists_is_never_overwritten() {
        let (tmp, root, mut checked, sha) = setup();
        std::fs::create_dir_all(tmp.path().join("root/q")).unwrap();
        std::fs::write(tmp.path().join("root/q/f"), "precious").unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(tmp.path().join("root/q/f")).unwrap(), "precious");
        assert!(tmp.path().join("root/d/f").exists());
    }
}
