//! Execution of an approved report.
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
use std::sync::Arc;

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

/// A point of [`execute`] after which a crash must leave a state that a later
/// `execute` or `undo` finishes exactly: the intents of a batch are durable; one
/// action is done (its result not yet logged); one emptied directory is removed;
/// the results of a batch are durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Checkpoint {
    /// The intents of a batch were made durable; none of its actions ran yet.
    IntentsDurable,
    /// One action was done; its result is not logged yet.
    Acted,
    /// One directory that the batch emptied was removed; not logged yet.
    DirRemoved,
    /// The results of a batch were made durable.
    ResultsDurable,
}

/// Called at every [`Checkpoint`]: crash tests kill the process there, at a point
/// chosen deterministically instead of by a timer.
pub type CheckpointHook = std::sync::Arc<dyn Fn(Checkpoint) + Send + Sync>;

/// Options of [`execute`].
#[derive(Clone)]
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
    /// Called at every [`Checkpoint`] of a real run (none: nothing is called).
    pub checkpoint: Option<CheckpointHook>,
}

impl Default for ExecuteOptions {
    fn default() -> Self {
        ExecuteOptions {
            execute: false,
            audit_log: None,
            quarantine: None,
            purge: false,
            batch: DEFAULT_BATCH,
            checkpoint: None,
        }
    }
}

impl std::fmt::Debug for ExecuteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecuteOptions")
            .field("execute", &self.execute)
            .field("audit_log", &self.audit_log)
            .field("quarantine", &self.quarantine)
            .field("purge", &self.purge)
            .field("batch", &self.batch)
            .field("checkpoint", &self.checkpoint.is_some())
            .finish()
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
    /// `delete`, `move`, `restore` or `mkdir`.
    pub action: &'static str,
    /// The file (relative to ROOT).
    pub src: Arc<str>,
    /// Where it went or would go.
    pub dest: Option<Arc<str>>,
    /// Size in bytes.
    pub bytes: u64,
    /// What happened.
    pub status: Status,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// For a duplicate delete: the copy that stays.
    pub kept: Option<Arc<str>>,
    /// Why that copy stays (the keep rule's deciding criterion).
    pub keep_reason: Option<Arc<str>>,
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
pub(crate) struct Loc<'a> {
    pub(crate) anchor: &'a Dir,
    pub(crate) rel: String,
}

impl Loc<'_> {
    pub(crate) fn split(&self) -> (Vec<&str>, &str) {
        let parts: Vec<&str> = self.rel.split('/').collect();
        let (name, dirs) = parts.split_last().expect("a checked path has a component");
        (dirs.to_vec(), name)
    }
}

/// What the file must still be.
#[derive(Clone, Copy)]
pub(crate) struct Expect<'a> {
    pub(crate) bytes: u64,
    pub(crate) mtime: Option<i128>,
    pub(crate) sha256: &'a str,
}

/// A file that passed its re-check, held open.
pub(crate) struct Checked {
    pub(crate) dir: Dir,
    pub(crate) name: String,
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
pub(crate) fn recheck(loc: &Loc<'_>, expect: &Expect<'_>) -> std::result::Result<Checked, String> {
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
pub(crate) fn still_same(c: &Checked) -> std::result::Result<(), String> {
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
pub(crate) fn relocate(
    c: &mut Checked,
    to: &Loc<'_>,
    sha256: &str,
) -> std::result::Result<Vec<Dir>, String> {
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
pub(crate) fn sync_dirs(dirs: Vec<Dir>) -> Result<()> {
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

/// What the log says about the actions of one report, folded entry by entry as the
/// log is read (the log of a large run is never held):
///
/// - the state of each action, in log order: an intent makes it pending, `done` or
///   `skipped` finishes it, and a `failed` result or a completed `restore` (undo)
///   makes it new again, so the same report can be executed again after an undo;
/// - the `dest` of each pending intent (an intent without a result), which a
///   resumed run must use; a finished restore settles an intent too.
struct Ledger {
    report_id: String,
    states: HashMap<String, Logged>,
    pending: HashMap<String, Option<String>>,
}

impl Ledger {
    fn new(report_id: &str) -> Ledger {
        Ledger { report_id: report_id.to_owned(), states: HashMap::new(), pending: HashMap::new() }
    }

    fn see(&mut self, e: AuditEntry) {
        if e.report_id != self.report_id || is_dir_entry(&e) {
            return;
        }
        match (e.action.as_str(), e.phase.as_str()) {
            ("restore", "done") => {
                self.states.remove(&e.src);
                self.pending.remove(&e.src);
            }
            ("restore", _) => {}
            (_, "intent") => {
                self.pending.insert(e.src.clone(), e.dest);
                self.states.insert(e.src, Logged::Pending);
            }
            (_, phase) => {
                self.pending.remove(&e.src);
                match phase {
                    "done" => {
                        self.states.insert(e.src, Logged::Finished(Status::Done));
                    }
                    "skipped" => {
                        self.states.insert(e.src, Logged::Finished(Status::Skipped));
                    }
                    // A failed action did not happen (the file is where it was): a
                    // later run tries it again, e.g. once a full disk has room.
                    "failed" => {
                        self.states.remove(&e.src);
                    }
                    _ => {}
                }
            }
        }
    }
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
            (ActionKind::Move, _) => a.dest.as_deref().map(str::to_owned),
            (ActionKind::Delete, Some(q)) => Some(q.join(&*a.src).to_string_lossy().into_owned()),
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
        action: a.action.as_str(),
        src: a.src.clone(),
        dest: match a.action {
            ActionKind::Move => a.dest.clone(),
            ActionKind::Delete => dest_of(a).map(Arc::from),
        },
        bytes: a.bytes,
        status,
        reason,
        kept: a.kept.clone(),
        keep_reason: a.keep_reason.clone(),
    };
    // Kept copies of duplicate groups: hashed once per batch, then looked at again
    // (same inode, size and mtime) right before each delete.
    let hash_keeps = |actions: &[Action]| -> HashMap<Arc<str>, std::result::Result<Kept, String>> {
        let mut keeps: Vec<&Action> = actions.iter().filter(|a| a.kept.is_some()).collect();
        keeps.sort_by(|a, b| a.kept.cmp(&b.kept));
        keeps.dedup_by(|a, b| a.kept == b.kept);
        keeps
            .par_iter()
            .map(|a| {
                let keep = a.kept.clone().expect("filtered");
                let checked = recheck(
                    &Loc { anchor: &root, rel: keep.to_string() },
                    &Expect { mtime: None, ..expect(a) },
                )
                .map(|c| Kept { dir: c.dir, name: c.name, stat: c.stat });
                (keep, checked)
            })
            .collect()
    };
    let check_keep = |a: &Action, keeps: &HashMap<Arc<str>, std::result::Result<Kept, String>>| {
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
        let mut ledger = Ledger::new(report.id());
        let mut see = |e| ledger.see(e);
        match &options.audit_log {
            Some(path) => crate::audit::read_log_if_any(path, &mut see)?,
            None => match root.open_beneath(&[QUARANTINE_DIR], false) {
                Ok(dir) => crate::audit::read_log_in(&dir, OsStr::new(AUDIT_LOG), &mut see)?,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(Error::file("cannot read audit log", e)),
            },
        }
        let logged = ledger.states;
        for batch in rep.actions.chunks(options.batch.max(1)) {
            let keeps = hash_keeps(batch);
            let outcomes: Vec<Outcome> = batch
                .par_iter()
                .map(|a| match logged.get(&*a.src) {
                    Some(Logged::Finished(_)) => outcome(a, Status::AlreadyDone, None),
                    _ => match recheck(&Loc { anchor: &root, rel: a.src.to_string() }, &expect(a))
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

    let mut ledger = Ledger::new(report.id());
    let mut see = |e| ledger.see(e);
    let operator = &approval.operator;
    let mut log = match &options.audit_log {
        Some(path) => AuditLog::open(path, &rep.root, operator, &mut see)?,
        // The default log: its folder made through ROOT's handle, never through a symlink.
        None => {
            let dir = root
                .open_beneath(&[QUARANTINE_DIR], true)
                .map_err(|e| Error::file("cannot open audit log", e))?;
            AuditLog::open_in(&dir, OsStr::new(AUDIT_LOG), &rep.root, operator, &mut see)?
        }
    };
    let Ledger { states: logged, pending, .. } = ledger;
    // An interrupted action is finished where its logged intent said it would go:
    // with another quarantine (or `--purge`) this run would look for it in the wrong
    // place, and log a result the files do not show.
    let by_src: HashMap<&str, &Action> = rep.actions.iter().map(|a| (&*a.src, a)).collect();
    for (src, logged_dest) in pending {
        if let Some(a) = by_src.get(src.as_str())
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
    let reached = |point: Checkpoint| {
        if let Some(hook) = &options.checkpoint {
            hook(point);
        }
    };
    let fields = |a: &Action, phase: &'static str| Fields {
        phase,
        action: a.action.as_str().to_owned(),
        src: a.src.to_string(),
        dest: dest_of(a),
        bytes: a.bytes,
        policy_reason: a.policy_reason.to_string(),
        sha256_before: a.sha256.as_deref().map(str::to_owned),
        report_id: report.id().to_owned(),
        ..Fields::default()
    };
    let target = |a: &Action| -> Option<Loc<'_>> {
        match a.action {
            ActionKind::Move => {
                Some(Loc { anchor: &root, rel: a.dest.as_deref().expect("validated").to_owned() })
            }
            ActionKind::Delete => qfd.as_ref().map(|q| Loc { anchor: q, rel: a.src.to_string() }),
        }
    };

    for batch in rep.actions.chunks(options.batch.max(1)) {
        // 1. Re-check every action of the batch (hashing on all cores).
        let keeps = hash_keeps(batch);
        let checked: Vec<(usize, Logged, std::result::Result<Checked, String>)> = batch
            .par_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let state = logged.get(&*a.src).copied().unwrap_or(Logged::New);
                if let Logged::Finished(_) = state {
                    return None;
                }
                let result = recheck(&Loc { anchor: &root, rel: a.src.to_string() }, &expect(a));
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
                    let src = Loc { anchor: &root, rel: a.src.to_string() };
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
            if logged.get(&*batch[*i].src) != Some(&Logged::Pending) {
                log.push(fields(&batch[*i], "intent"));
                wrote_intent = true;
            }
        }
        if wrote_intent {
            log.commit()?;
            reached(Checkpoint::IntentsDurable);
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
                    reached(Checkpoint::Acted);
                }
                Err(why) => results.push((i, Status::Failed, Some(why))),
            }
        }
        // 4. The directories these actions emptied (`__pycache__/`), deepest first.
        let done_srcs: Vec<&str> =
            results.iter().filter(|r| r.1 == Status::Done).map(|r| &*batch[r.0].src).collect();
        let keep_dir = |dir: &str| {
            policy.is_protected(dir)
                || dir == QUARANTINE_DIR
                || dir == policy.file.archive.dest
                || policy.file.archive.dirs.iter().any(|d| d == dir)
        };
        let removed = remove_emptied_dirs(&root, &done_srcs, &keep_dir, &|| {
            reached(Checkpoint::DirRemoved);
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
                f.sha256_after = a.sha256.as_deref().map(str::to_owned);
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
        reached(Checkpoint::ResultsDurable);
        summary.dirs.extend(removed_dirs);
        for (i, status, reason) in results {
            summary.outcomes.push(outcome(&batch[i], status, reason));
        }
    }
    // Actions finished by earlier runs, for a complete picture.
    for a in &rep.actions {
        if let Some(Logged::Finished(status)) = logged.get(&*a.src) {
            let status = if *status == Status::Done { Status::AlreadyDone } else { *status };
            let reason =
                (status != Status::AlreadyDone).then(|| "logged by an earlier run".to_owned());
            summary.outcomes.push(outcome(a, status, reason));
        }
    }
    let order: HashMap<&str, usize> =
        rep.actions.iter().enumerate().map(|(i, a)| (&*a.src, i)).collect();
    summary.outcomes.sort_by_key(|o| order.get(&*o.src).copied());
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
    removed_one: &dyn Fn(),
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
            removed_one();
        }
    }
    removed
}

/// Whether a logged root still resolves to itself (no symlink put on the way since).
pub(crate) fn root_still_itself(root: &str) -> std::result::Result<(), String> {
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
