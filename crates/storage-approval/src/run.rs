//! What `execute` and `undo` share: the outcome of each action and the summary of
//! a run, the checkpoints a crash test stops at, and the run context both drive
//! their batches through (the audit log, the summary, the checkpoint hook).

use std::path::PathBuf;
use std::sync::Arc;

use tidy_io::Dir;

use crate::audit::{AuditLog, ChainHead};
use crate::error::{Error, Result};

/// Actions per group commit: one `fdatasync` for their intents, one for their results.
/// A batch holds about three file descriptors per action, so this stays well inside
/// the usual soft limit of 1,024 open files.
pub const DEFAULT_BATCH: usize = 128;

/// A point of [`execute`](crate::execute()) after which a crash must leave a state that a later
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

/// The result of [`execute`](crate::execute()) or [`undo`](crate::undo()).
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

/// A run of `execute` or `undo`: its log (none in a dry run), the summary it
/// builds, and the hook called at each [`Checkpoint`].
pub(crate) struct Run {
    pub(crate) log: Option<AuditLog>,
    pub(crate) summary: RunSummary,
    checkpoint: Option<CheckpointHook>,
}

impl Run {
    pub(crate) fn new(
        log: Option<AuditLog>,
        summary: RunSummary,
        checkpoint: Option<CheckpointHook>,
    ) -> Run {
        Run { log, summary, checkpoint }
    }

    /// Calls the checkpoint hook, if any.
    pub(crate) fn reached(&self, point: Checkpoint) {
        if let Some(hook) = &self.checkpoint {
            hook(point);
        }
    }

    /// The summary, with the chain head after everything logged.
    pub(crate) fn finish(mut self) -> RunSummary {
        self.summary.head = self.log.as_ref().map(AuditLog::head);
        self.summary
    }
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
