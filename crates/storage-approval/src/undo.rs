//! Undo from an audit log: every delete or move that has an intent is undone,
//! whether its result was logged (`done`, `failed`, `skipped`) or not (the run was
//! killed, or stopped on a full disk before it could log it).
//!
//! The log says where the bytes were meant to go, not where they are: so for each
//! action the bytes are looked for at the original place and at the destination,
//! by their SHA-256, and what is found decides what happens:
//!
//! | at the original place | at the destination | undo |
//! |---|---|---|
//! | no | yes | moved back (never over a file that is there again) |
//! | yes | no | nothing to move: in place (the action never ran, or was undone) |
//! | yes | yes | the copy at the destination is removed (a crash between copy and unlink) |
//! | no | no | skipped: purged, or changed or removed since |
//!
//! Every action undo settles gets a `restore` result in the log, so a second undo
//! repeats nothing and the same report can run again. Restores that move a file are
//! group-committed like `execute`'s actions (intents durable first), and an
//! interrupted undo resumes the same way. The temporary files of an interrupted copy
//! across file systems (which only ever hold bytes whose original is intact) and the
//! directories the restores empty are removed, the run's quarantine directory too.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use tidy_io::Dir;

use crate::audit::{AuditAction, AuditEntry, AuditLog, Fields, Phase};
use crate::dirs::{RemovedDir, recreate_dirs, remove_empty_dirs, remove_partials};
use crate::error::Result;
use crate::fsutil;
use crate::recheck::{Checked, Expect, Loc, recheck, relocate, root_still_itself, still_same};
use crate::run::{DEFAULT_BATCH, Outcome, Run, RunSummary, Status, sync_dirs};

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

/// What undo needs of an intent of `execute` (a delete or a move): the log is folded
/// into these as it is read, never held whole.
struct Intent {
    seq: u64,
    /// [`AuditAction::Delete`] or [`AuditAction::Move`].
    action: AuditAction,
    src: String,
    dest: Option<String>,
    bytes: u64,
    sha256_before: Option<String>,
    report_id: Arc<str>,
    root: Arc<str>,
}

/// One delete or move of the log: its latest intent and what followed it.
struct Item {
    intent: Intent,
    /// Its result was logged as `done`.
    done: bool,
    /// A restore of it finished.
    restored: bool,
    /// A restore of it was begun (an intent without a result).
    restore_pending: bool,
}

/// The log folded entry by entry into what undo needs.
#[derive(Default)]
struct Fold {
    items: HashMap<(Arc<str>, String), Item>,
    dirs: HashMap<(Arc<str>, Arc<str>, String), RemovedDir>,
    /// One copy of each report ID and root.
    shared: HashSet<Arc<str>>,
}

impl Fold {
    fn share(&mut self, text: String) -> Arc<str> {
        if let Some(known) = self.shared.get(text.as_str()) {
            return known.clone();
        }
        let text: Arc<str> = Arc::from(text);
        self.shared.insert(text.clone());
        text
    }

    fn see(&mut self, e: AuditEntry) {
        let action = e.action;
        match action {
            AuditAction::Delete | AuditAction::Move | AuditAction::Restore => {}
            AuditAction::Rmdir | AuditAction::Mkdir => return self.see_dir(e),
            AuditAction::Repair => return,
        }
        let report_id = self.share(e.report_id);
        let key = (report_id.clone(), e.src);
        match (action, e.phase) {
            (AuditAction::Restore, phase) => {
                if let Some(item) = self.items.get_mut(&key) {
                    match phase {
                        Phase::Intent => item.restore_pending = true,
                        Phase::Done => {
                            item.restored = true;
                            item.restore_pending = false;
                        }
                        _ => item.restore_pending = false,
                    }
                }
            }
            (_, Phase::Intent) => {
                let root = self.share(e.root);
                let intent = Intent {
                    seq: e.seq,
                    action,
                    src: key.1.clone(),
                    dest: e.dest,
                    bytes: e.bytes,
                    sha256_before: e.sha256_before,
                    report_id,
                    root,
                };
                let fresh = Item { intent, done: false, restored: false, restore_pending: false };
                self.items.insert(key, fresh);
            }
            (_, Phase::Done) => {
                if let Some(item) = self.items.get_mut(&key)
                    && !item.restored
                {
                    item.done = true;
                }
            }
            _ => {}
        }
    }

    fn see_dir(&mut self, e: AuditEntry) {
        if e.phase != Phase::Done {
            return;
        }
        let (report_id, root) = (self.share(e.report_id), self.share(e.root));
        let key = (report_id.clone(), root.clone(), e.src);
        match e.action {
            AuditAction::Rmdir => {
                let src = key.2.clone();
                self.dirs.insert(key, RemovedDir { report_id, root, src, made_again: false });
            }
            _ => {
                if let Some(dir) = self.dirs.get_mut(&key) {
                    dir.made_again = true;
                }
            }
        }
    }

    /// The actions to undo, newest intent first, and the directories to make again.
    fn finish(self) -> (Vec<Item>, Vec<RemovedDir>) {
        let mut items: Vec<Item> = self.items.into_values().collect();
        items.sort_by_key(|item| std::cmp::Reverse(item.intent.seq));
        let dirs = self.dirs.into_values().filter(|d| !d.made_again).collect();
        (items, dirs)
    }
}

/// Where an action's bytes may be: its original place, and its destination when it
/// has one (none for a purge), each as an anchor path and a path below it.
struct Places {
    root: String,
    src: String,
    dest: Option<(String, String)>,
}

/// The places of an intent, or why they cannot be trusted.
fn places(e: &Intent) -> std::result::Result<Places, String> {
    if fsutil::components(&e.src).is_err() {
        return Err("the logged path is not a plain path".to_owned());
    }
    let dest = match &e.dest {
        None => None,
        Some(dest) if fsutil::components(dest.trim_start_matches('/')).is_err() => {
            return Err("the logged destination is not a plain path".to_owned());
        }
        // The quarantine: absolute, `BASE/REPORT_ID/<src>`.
        Some(dest) if Path::new(dest).is_absolute() => {
            let Some(base) = dest.strip_suffix(&format!("/{}", e.src)) else {
                return Err(format!(
                    "the quarantine path `{dest}` does not end with the file's path"
                ));
            };
            Some((base.to_owned(), e.src.clone()))
        }
        // The archive: relative to the root.
        Some(dest) => Some((e.root.to_string(), dest.clone())),
    };
    Ok(Places { root: e.root.to_string(), src: e.src.clone(), dest })
}

/// What undo does for one action, once its bytes are found.
enum Plan {
    /// Move the bytes (checked at the destination) back to the original place.
    MoveBack(Checked),
    /// The bytes are in their place; a second copy at the destination (checked)
    /// is removed.
    InPlace { leftover: Option<Checked> },
    /// Cannot be undone (the reason says why).
    Skip(String),
}

/// Restores, byte for byte, every action of an audit log that has an intent
/// (newest first): quarantined files go back to their place, archived files back
/// from the archive, interrupted actions are finished backwards. Purged files cannot
/// be restored and are reported as skipped.
pub fn undo(audit_path: &Path, options: &UndoOptions) -> Result<RunSummary> {
    let mut fold = Fold::default();
    let mut see = |e| fold.see(e);
    let mut log = if options.execute {
        Some(AuditLog::open(audit_path, "", &options.operator, &mut see)?)
    } else {
        crate::audit::read_each(audit_path, &mut see)?;
        None
    };
    let (items, removed_dirs) = fold.finish();
    let mut summary = RunSummary {
        report_id: String::new(),
        dry_run: !options.execute,
        outcomes: Vec::new(),
        audit_log: options.execute.then(|| audit_path.to_path_buf()),
        head: None,
        quarantine: None,
        dirs: Vec::new(),
    };
    let mut anchors = Anchors::default();
    let mut jobs: Vec<Job<'_>> = Vec::new();
    for item in &items {
        let e = &item.intent;
        let index = summary.outcomes.len();
        summary.outcomes.push(Outcome {
            action: AuditAction::Restore.as_str(),
            src: Arc::from(e.src.as_str()),
            dest: e.dest.as_deref().map(Arc::from),
            bytes: e.bytes,
            status: Status::Skipped,
            reason: None,
            kept: None,
            keep_reason: None,
        });
        if item.restored {
            summary.outcomes[index].status = Status::AlreadyDone;
            continue;
        }
        match places(e) {
            Ok(places) => {
                anchors.open(&places.root, true);
                if let Some((anchor, _)) = &places.dest
                    && *anchor != places.root
                {
                    anchors.open(anchor, false);
                }
                jobs.push(Job { index, item, places });
            }
            Err(why) => summary.outcomes[index].reason = Some(why),
        }
    }

    recreate_dirs(removed_dirs, log.as_mut(), &mut summary)?;
    let mut run = Run::new(log, summary, None);
    let mut quarantines: HashSet<String> = HashSet::new();
    for batch in jobs.chunks(options.batch.max(1)) {
        // 1. Find the bytes of each action of the batch (hashing on all cores).
        let plans: Vec<Plan> =
            batch.par_iter().map(|job| plan(job.item, &job.places, &anchors)).collect();
        let Some(log) = run.log.as_mut() else {
            dry_run(batch, plans, &mut run.summary);
            continue;
        };
        // 2. Intents of the moves back, durable before any of them runs.
        for (job, plan) in batch.iter().zip(&plans) {
            if matches!(plan, Plan::MoveBack(_)) && !job.item.restore_pending {
                log.push(restore_fields(&job.item.intent, Phase::Intent, None));
            }
        }
        log.commit()?;
        // 3. The moves back and the removals of leftover copies.
        let mut touched = Vec::new();
        let mut results = Vec::new();
        for (job, plan) in batch.iter().zip(plans) {
            let (status, reason) = restore(job, plan, &anchors, &mut touched);
            if let Some((anchor, _)) = &job.places.dest
                && *anchor != job.places.root
            {
                quarantines.insert(anchor.clone());
            }
            results.push((job, status, reason));
        }
        sync_dirs(touched)?;
        // 4. What the actions left at their destinations, once a directory.
        clean_destinations(results.iter().map(|(job, status, _)| (*job, *status)), &anchors);
        // 5. The results, durable after the moves they describe.
        for (job, status, reason) in results {
            let phase = match status {
                // An action in its place is settled: logged as restored, so that the
                // next undo repeats nothing and the report can run again.
                Status::Done | Status::AlreadyDone => Phase::Done,
                Status::Failed => Phase::Failed,
                _ => Phase::Skipped,
            };
            log.push(restore_fields(&job.item.intent, phase, reason.clone()));
            let out = &mut run.summary.outcomes[job.index];
            out.status = status;
            out.reason = reason;
        }
        log.commit()?;
    }
    if run.log.is_some() {
        remove_quarantines(quarantines);
    }
    Ok(run.finish())
}

/// One action to undo: its outcome's index, its item and where its bytes may be.
struct Job<'i> {
    index: usize,
    item: &'i Item,
    places: Places,
}

/// Each root and each quarantine directory, opened once; a root that no longer
/// resolves to itself (a symlink put on the way) is not restored into.
#[derive(Default)]
struct Anchors {
    open: HashMap<String, std::result::Result<Dir, String>>,
}

impl Anchors {
    fn open(&mut self, path: &str, is_root: bool) {
        self.open.entry(path.to_owned()).or_insert_with(|| {
            if is_root {
                root_still_itself(path)?;
            }
            Dir::open(Path::new(path)).map_err(|err| err.to_string())
        });
    }

    fn get(&self, path: &str) -> std::result::Result<&Dir, &String> {
        self.open[path].as_ref()
    }
}

/// A dry run's outcomes for one batch: what would be done, nothing touched.
fn dry_run(batch: &[Job<'_>], plans: Vec<Plan>, summary: &mut RunSummary) {
    for (job, plan) in batch.iter().zip(plans) {
        let out = &mut summary.outcomes[job.index];
        (out.status, out.reason) = match plan {
            Plan::MoveBack(_) => (Status::WouldDo, None),
            Plan::InPlace { leftover: None } => {
                (Status::AlreadyDone, Some("in its place".to_owned()))
            }
            Plan::InPlace { leftover: Some(_) } => (
                Status::WouldDo,
                Some("in its place; the copy at the destination would be removed".to_owned()),
            ),
            Plan::Skip(why) => (Status::Skipped, Some(why)),
        };
    }
}

/// Carries out one plan; the directories whose entries changed join `touched`.
fn restore(
    job: &Job<'_>,
    plan: Plan,
    anchors: &Anchors,
    touched: &mut Vec<Dir>,
) -> (Status, Option<String>) {
    let e = &job.item.intent;
    match plan {
        Plan::MoveBack(mut from) => {
            let root = anchors.get(&job.places.root).expect("planned with an open root");
            let to = Loc { anchor: root, rel: job.places.src.clone() };
            let sha = e.sha256_before.as_deref().expect("planned with a hash");
            match relocate(&mut from, &to, sha) {
                Ok(dirs) => {
                    touched.extend(dirs);
                    (Status::Done, None)
                }
                Err(why) => (Status::Failed, Some(why)),
            }
        }
        Plan::InPlace { leftover: Some(copy) } => {
            let removed = still_same(&copy).and_then(|()| {
                copy.dir
                    .remove_file(OsStr::new(&copy.name))
                    .map_err(|err| format!("cannot remove it: {}", err.reason()))
            });
            match removed {
                Ok(()) => {
                    touched.push(copy.dir);
                    let why = "in its place; the copy at the destination was removed";
                    (Status::Done, Some(why.to_owned()))
                }
                Err(why) => (Status::Failed, Some(format!("the copy at the destination: {why}"))),
            }
        }
        Plan::InPlace { leftover: None } => (Status::AlreadyDone, Some("in its place".to_owned())),
        Plan::Skip(why) => (Status::Skipped, Some(why)),
    }
}

/// Removes what the settled actions left at their destinations: the temporary
/// files of an interrupted copy, and the directories now empty. Each directory
/// once, however many of the batch's files it held.
fn clean_destinations<'j>(settled: impl Iterator<Item = (&'j Job<'j>, Status)>, anchors: &Anchors) {
    let mut dirs: HashSet<(&str, &str)> = HashSet::new();
    for (job, status) in settled {
        if let Some((anchor, rel)) = &job.places.dest
            && status != Status::Failed
        {
            dirs.insert((anchor.as_str(), rel.rsplit_once('/').map_or("", |(dir, _)| dir)));
        }
    }
    for (anchor, dir) in dirs {
        if let Ok(anchor) = anchors.get(anchor) {
            remove_partials(anchor, dir);
            remove_empty_dirs(anchor, dir);
        }
    }
}

/// Removes each run's quarantine directory (`BASE/REPORT_ID`) once the restores
/// left it empty.
fn remove_quarantines(quarantines: HashSet<String>) {
    for quarantine in quarantines {
        let path = Path::new(&quarantine);
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name())
            && let Ok(parent) = Dir::open(parent)
            && parent.stat(name).ok().flatten().is_some()
        {
            let _ = parent.remove_dir(name);
        }
    }
}

/// Finds the bytes of one action and decides what to do (see the module's table).
fn plan(item: &Item, places: &Places, anchors: &Anchors) -> Plan {
    let e = &item.intent;
    let root = match anchors.get(&places.root) {
        Ok(root) => root,
        Err(why) => return Plan::Skip(why.clone()),
    };
    let Some(sha) = e.sha256_before.as_deref().filter(|h| fsutil::is_sha256(h)) else {
        return Plan::Skip("no SHA-256 was logged for it".to_owned());
    };
    let expect = Expect { bytes: e.bytes, mtime: None, sha256: sha };
    let at_src = recheck(&Loc { anchor: root, rel: places.src.clone() }, &expect);
    let at_dest = match &places.dest {
        Some((anchor, rel)) => match anchors.get(anchor) {
            Ok(dir) => Some(recheck(&Loc { anchor: dir, rel: rel.clone() }, &expect)),
            Err(why) => Some(Err(why.clone())),
        },
        None => None,
    };
    match (at_src, at_dest) {
        // The same inode at both names (a move without RENAME_NOREPLACE killed
        // between its link and its unlink), or a complete copy across file systems
        // whose original was not yet removed: the original stays, the copy goes.
        (Ok(_), Some(Ok(copy))) => Plan::InPlace { leftover: Some(copy) },
        (Ok(_), _) => Plan::InPlace { leftover: None },
        (Err(_), Some(Ok(from))) => {
            let src = Loc { anchor: root, rel: places.src.clone() };
            let (dirs, name) = src.split();
            let occupied = root
                .open_beneath(&dirs, false)
                .is_ok_and(|d| matches!(d.stat(OsStr::new(name)), Ok(Some(_))));
            if occupied {
                Plan::Skip(format!("`{}` exists again: not overwriting it", places.src))
            } else {
                Plan::MoveBack(from)
            }
        }
        (Err(_), None) if item.done => Plan::Skip("purged: there is no copy to restore".to_owned()),
        (Err(why), None) => Plan::Skip(format!("not in its place ({why}) and purged")),
        (Err(why), Some(Err(_))) => Plan::Skip(format!(
            "not in its place ({why}) nor at its destination: changed or removed since"
        )),
    }
}

/// A `restore` entry of the action `e` (its intent).
fn restore_fields(e: &Intent, phase: Phase, reason: Option<String>) -> Fields {
    Fields {
        src: e.src.clone(),
        dest: e.dest.clone(),
        bytes: e.bytes,
        policy_reason: format!("undo of {}", e.action.as_str()),
        sha256_before: e.sha256_before.clone(),
        sha256_after: (phase == Phase::Done).then(|| e.sha256_before.clone()).flatten(),
        report_id: e.report_id.to_string(),
        reason,
        root: Some(e.root.to_string()),
        ..Fields::new(phase, AuditAction::Restore)
    }
}
