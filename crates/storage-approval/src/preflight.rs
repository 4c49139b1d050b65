//! Everything `execute` checks before it touches anything: the approval of exactly
//! this report, every action safe by the policy the report records, ROOT still
//! itself (no symlink put on the way since the scan), `ROOT/.tidy-quarantine` a
//! real directory, and a quarantine outside every protected path. Any problem
//! refuses the whole run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidy_io::Dir;

use crate::approval::Approval;
use crate::error::{Error, Result};
use crate::execute::ExecuteOptions;
use crate::fsutil;
use crate::layout::{AUDIT_LOG, QUARANTINE_DIR, QUARANTINE_MARKER, in_quarantine};
use crate::policy::Policy;
use crate::report::{Action, ActionKind, LoadedReport, validate};
use crate::run::{Outcome, Status};

/// What the checks established, for the run that follows.
pub(crate) struct Preflight {
    /// The policy recorded in the report.
    pub(crate) policy: Policy,
    /// ROOT, opened once.
    pub(crate) root: Dir,
    /// The quarantine base (none with `--purge`), its existing part canonical.
    quarantine_base: Option<PathBuf>,
    /// Where this report's files go: `BASE/REPORT_ID`.
    pub(crate) qdir: Option<PathBuf>,
    /// The audit log.
    pub(crate) audit_path: PathBuf,
    /// The report's ID.
    pub(crate) report_id: String,
}

/// Runs every check; nothing is touched before all have passed.
pub(crate) fn check(
    report: &LoadedReport,
    approval: &Approval,
    options: &ExecuteOptions,
) -> Result<Preflight> {
    approval.check(report.id())?;
    let rep = report.report();
    let policy = Policy::from_report_json(&rep.policy)?;
    validate(rep, &|p: &str| policy.is_protected(p) || in_quarantine(p))?;
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
    Ok(Preflight {
        policy,
        root,
        quarantine_base,
        qdir,
        audit_path,
        report_id: report.id().to_owned(),
    })
}

impl Preflight {
    /// Where `a` puts its file: the archive path (relative to ROOT), the absolute
    /// quarantine path, or nothing (a purge). The intent logs it.
    pub(crate) fn dest_of(&self, a: &Action) -> Option<String> {
        match (a.action, &self.qdir) {
            (ActionKind::Move, _) => a.dest.as_deref().map(str::to_owned),
            (ActionKind::Delete, Some(q)) => Some(q.join(&*a.src).to_string_lossy().into_owned()),
            (ActionKind::Delete, None) => None,
        }
    }

    /// The outcome of `a`.
    pub(crate) fn outcome(&self, a: &Action, status: Status, reason: Option<String>) -> Outcome {
        Outcome {
            action: a.action.as_str(),
            src: a.src.clone(),
            dest: match a.action {
                ActionKind::Move => a.dest.clone(),
                ActionKind::Delete => self.dest_of(a).map(Arc::from),
            },
            bytes: a.bytes,
            status,
            reason,
            kept: a.kept.clone(),
            keep_reason: a.keep_reason.clone(),
        }
    }

    /// Creates the quarantine directory `BASE/REPORT_ID` (none for a purge) with the
    /// marker that keeps every scan out of it. The default quarantine is created
    /// through ROOT's handle, refusing symlinks; a `--quarantine` the user named is
    /// taken as named.
    pub(crate) fn quarantine_dir(&self, named: bool) -> Result<Option<Dir>> {
        let (Some(base), Some(q)) = (&self.quarantine_base, &self.qdir) else { return Ok(None) };
        let cannot = |e| Error::file("cannot create quarantine", e);
        let base_dir = if named {
            std::fs::create_dir_all(base)
                .map_err(|e| Error::io("cannot create quarantine", q, e))?;
            Dir::open(base).map_err(cannot)?
        } else {
            self.root.open_beneath(&[QUARANTINE_DIR], true).map_err(cannot)?
        };
        fsutil::write_marker(&base_dir, QUARANTINE_MARKER)
            .map_err(|e| Error::file("cannot write quarantine marker", e))?;
        Ok(Some(base_dir.open_beneath(&[self.report_id.as_str()], true).map_err(cannot)?))
    }

    /// Whether the directory `dir` stays even when the actions empty it: a protected
    /// path, the quarantine, the archive destination and its source directories.
    pub(crate) fn keeps_dir(&self, dir: &str) -> bool {
        let archive = &self.policy.file.archive;
        self.policy.is_protected(dir)
            || dir == QUARANTINE_DIR
            || dir == archive.dest
            || archive.dirs.iter().any(|d| d == dir)
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
