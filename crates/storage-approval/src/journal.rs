//! What the audit log already says about a report, and the log a real run appends
//! to: read (and its chain verified) before anything is touched, so that a second
//! run finishes exactly what the first left and repeats nothing.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::Path;

use tidy_io::Dir;

use crate::audit::{AuditAction, AuditEntry, AuditLog, Phase};
use crate::error::{Error, Result};
use crate::layout::{AUDIT_LOG, QUARANTINE_DIR};
use crate::report::Action;
use crate::run::Status;

/// The state of an action according to the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logged {
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
pub(crate) struct Ledger {
    report_id: String,
    pub(crate) states: HashMap<String, Logged>,
    pub(crate) pending: HashMap<String, Option<String>>,
}

impl Ledger {
    pub(crate) fn new(report_id: &str) -> Ledger {
        Ledger { report_id: report_id.to_owned(), states: HashMap::new(), pending: HashMap::new() }
    }

    fn see(&mut self, e: AuditEntry) {
        if e.report_id != self.report_id {
            return;
        }
        match (e.action, e.phase) {
            (AuditAction::Delete | AuditAction::Move, Phase::Intent) => {
                self.pending.insert(e.src.clone(), e.dest);
                self.states.insert(e.src, Logged::Pending);
            }
            (AuditAction::Delete | AuditAction::Move, phase) => {
                self.pending.remove(&e.src);
                match phase {
                    Phase::Done => {
                        self.states.insert(e.src, Logged::Finished(Status::Done));
                    }
                    Phase::Skipped => {
                        self.states.insert(e.src, Logged::Finished(Status::Skipped));
                    }
                    // A failed action did not happen (the file is where it was): a
                    // later run tries it again, e.g. once a full disk has room.
                    Phase::Failed => {
                        self.states.remove(&e.src);
                    }
                    Phase::Intent | Phase::Repair => {}
                }
            }
            (AuditAction::Restore, Phase::Done) => {
                self.states.remove(&e.src);
                self.pending.remove(&e.src);
            }
            _ => {}
        }
    }
}

/// The ledger of `report_id` in the log a dry run would append to (the default
/// log read through ROOT's handle); a log that is not there yet has nothing logged.
pub(crate) fn read(root: &Dir, audit_log: Option<&Path>, report_id: &str) -> Result<Ledger> {
    let mut ledger = Ledger::new(report_id);
    let mut see = |e| ledger.see(e);
    match audit_log {
        Some(path) => crate::audit::read_log_if_any(path, &mut see)?,
        None => match root.open_beneath(&[QUARANTINE_DIR], false) {
            Ok(dir) => crate::audit::read_log_in(&dir, OsStr::new(AUDIT_LOG), &mut see)?,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(Error::file("cannot read audit log", e)),
        },
    }
    Ok(ledger)
}

/// Opens (locks, verifies, repairs) the log a real run appends to, with the ledger
/// of `report_id` in it. The default log's folder is made through ROOT's handle,
/// never through a symlink.
pub(crate) fn open(
    root: &Dir,
    root_text: &str,
    audit_log: Option<&Path>,
    operator: &str,
    report_id: &str,
) -> Result<(AuditLog, Ledger)> {
    let mut ledger = Ledger::new(report_id);
    let mut see = |e| ledger.see(e);
    let log = match audit_log {
        Some(path) => AuditLog::open(path, root_text, operator, &mut see)?,
        None => {
            let dir = root
                .open_beneath(&[QUARANTINE_DIR], true)
                .map_err(|e| Error::file("cannot open audit log", e))?;
            AuditLog::open_in(&dir, OsStr::new(AUDIT_LOG), root_text, operator, &mut see)?
        }
    };
    Ok((log, ledger))
}

/// An interrupted action is finished where its logged intent said it would go:
/// with another quarantine (or `--purge`) this run would look for it in the wrong
/// place, and log a result the files do not show. Refuses such a run.
pub(crate) fn check_pending(
    ledger: &Ledger,
    actions: &[Action],
    dest_of: &dyn Fn(&Action) -> Option<String>,
) -> Result<()> {
    let by_src: HashMap<&str, &Action> = actions.iter().map(|a| (&*a.src, a)).collect();
    for (src, logged_dest) in &ledger.pending {
        if let Some(a) = by_src.get(src.as_str())
            && dest_of(a) != *logged_dest
        {
            let place = |d: &Option<String>| match d {
                Some(d) => format!("to `{d}`"),
                None => "by a purge".to_owned(),
            };
            return Err(Error::refused(format!(
                "`{src}` was interrupted on its way {} but this run would move it {}: \
                 run again with the same --quarantine or --purge; nothing was touched",
                place(logged_dest),
                place(&dest_of(a))
            )));
        }
    }
    Ok(())
}
