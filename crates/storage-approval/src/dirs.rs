//! Directories: those `execute` empties are removed (and logged as `rmdir`), those
//! undo needs are made again (logged as `mkdir`), and what a run left at its
//! destinations is cleared away. Only an empty directory is ever removed (`rmdir`),
//! so no byte can be lost, and each through its parent's handle, never through a
//! symlink.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;

use tidy_io::Dir;

use crate::audit::{AuditAction, AuditLog, Fields, Phase};
use crate::error::Result;
use crate::fsutil;
use crate::layout::PARTIAL_HINT;
use crate::recheck::root_still_itself;
use crate::run::{Outcome, RunSummary, Status};

/// Removes the directories that the actions on `srcs` left empty: each ancestor of a
/// source (never ROOT itself, never one that `keep` names), deepest first, so that a
/// parent emptied by removing its last child goes too. Only an empty directory can
/// be removed (`rmdir`), so no byte is lost, and each is removed through its parent's
/// handle, never through a symlink. Returns each removed directory with its parent's
/// handle (to be fsynced).
pub(crate) fn remove_emptied_dirs(
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

/// The `rmdir` entry of the directory `dir` that the actions of `report_id` emptied.
pub(crate) fn rmdir_fields(dir: &str, report_id: &str) -> Fields {
    Fields {
        src: dir.to_owned(),
        policy_reason: "emptied by the actions of this report".to_owned(),
        report_id: report_id.to_owned(),
        ..Fields::new(Phase::Done, AuditAction::Rmdir)
    }
}

/// A directory execute removed (`rmdir`), and whether undo made it again (`mkdir`).
/// Undo folds the log into these as it reads it.
pub(crate) struct RemovedDir {
    pub(crate) report_id: Arc<str>,
    pub(crate) root: Arc<str>,
    pub(crate) src: String,
    pub(crate) made_again: bool,
}

/// Recreates the directories that execute removed because it emptied them (logged
/// `rmdir`, not yet undone by a logged `mkdir`), shallowest first and before any file
/// goes back, so that a directory whose files were purged comes back too. Each is
/// made through its parent's handle and logged as `mkdir` once it exists; without a
/// log (a dry run) the directories that would be made are only listed.
pub(crate) fn recreate_dirs(
    mut todo: Vec<RemovedDir>,
    log: Option<&mut AuditLog>,
    summary: &mut RunSummary,
) -> Result<()> {
    todo.sort_by(|a, b| {
        (&a.root, a.src.matches('/').count(), &a.src).cmp(&(
            &b.root,
            b.src.matches('/').count(),
            &b.src,
        ))
    });
    let mut roots: HashMap<Arc<str>, std::result::Result<Dir, String>> = HashMap::new();
    let mut made = Vec::new();
    for e in &todo {
        let skip = |status: Status, why: String| Outcome {
            action: "mkdir",
            src: Arc::from(e.src.as_str()),
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
        let root = roots.entry(e.root.clone()).or_insert_with(|| {
            root_still_itself(&e.root)
                .and_then(|()| Dir::open(Path::new(&*e.root)).map_err(|err| err.to_string()))
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
                src: e.src.clone(),
                policy_reason: "undo of rmdir".to_owned(),
                report_id: e.report_id.to_string(),
                root: Some(e.root.to_string()),
                ..Fields::new(Phase::Done, AuditAction::Mkdir)
            });
        }
        log.commit()?;
    }
    summary.dirs.extend(made.iter().map(|e| e.src.clone()));
    Ok(())
}

/// Removes the directory `dir` below `anchor` and then its parents, as long as
/// each is empty (`archive/logs/` once its last file went back, then `archive/`),
/// never `anchor` itself. Each is removed through its parent's handle, so no
/// symlink is followed. One that is gone already does not stop the climb: an
/// undo killed after removing `archive/logs/` and before `archive/` leaves the
/// next undo `archive/` to remove.
pub(crate) fn remove_empty_dirs(anchor: &Dir, dir: &str) {
    let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for depth in (1..=parts.len()).rev() {
        let Ok(parent) = anchor.open_beneath(&parts[..depth - 1], false) else { return };
        let name = OsStr::new(parts[depth - 1]);
        match parent.stat(name) {
            Ok(None) => {}
            Ok(Some(_)) if parent.remove_dir(name).is_ok() => {}
            _ => return,
        }
    }
}

/// Removes the temporary files a copy across file systems left in the directory
/// `dir` below `anchor` (`.storage-approval-partial.PID.N.tmp`): a run killed
/// mid-copy leaves one, and it only ever holds bytes whose original is intact.
pub(crate) fn remove_partials(anchor: &Dir, dir: &str) {
    let parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    let Ok(dir) = anchor.open_beneath(&parts, false) else { return };
    let Ok(listing) = rustix::fs::Dir::read_from(dir.fd()) else { return };
    let prefix = format!(".{}.", PARTIAL_HINT);
    for entry in listing.flatten() {
        let name = entry.file_name().to_bytes();
        if name.starts_with(prefix.as_bytes()) && name.ends_with(b".tmp") {
            let name = OsStr::new(std::str::from_utf8(name).unwrap_or_default());
            let _ = dir.remove_file(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parents_go_even_when_the_deepest_folder_went_before() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("archive")).unwrap();
        std::fs::create_dir_all(tmp.path().join("kept/logs")).unwrap();
        std::fs::write(tmp.path().join("kept/file"), "x").unwrap();
        let anchor = Dir::open(tmp.path()).unwrap();
        // `archive/logs/` was removed by a run that was stopped before `archive/`.
        remove_empty_dirs(&anchor, "archive/logs");
        assert!(!tmp.path().join("archive").exists());
        // A folder that is not empty stays, and so does everything above it.
        remove_empty_dirs(&anchor, "kept/logs");
        assert!(!tmp.path().join("kept/logs").exists());
        assert!(tmp.path().join("kept/file").exists());
    }
}
