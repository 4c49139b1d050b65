//! Execution of an approved report: the checks before anything is touched
//! ([`preflight`](crate::preflight)), what the log says already
//! ([`journal`](crate::journal)), then the actions in batches with group commit
//! ([`batch`](crate::batch)), each re-checked right before it runs
//! ([`recheck`](crate::recheck)). A second run reads the log and finishes what was
//! left; a dry run re-checks every action and touches nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::approval::Approval;
use crate::batch::{Executor, dry_run};
use crate::error::Result;
use crate::journal::{self, Logged};
use crate::preflight;
use crate::report::LoadedReport;
use crate::run::{CheckpointHook, DEFAULT_BATCH, Run, RunSummary, Status};

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
    /// Called at every [`Checkpoint`](crate::run::Checkpoint) of a real run (none: nothing is called).
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

/// Runs an approved report: refuses (nothing touched) unless `approval` approves
/// exactly this report and every action is safe; then re-checks and acts on each
/// action (or, without `options.execute`, only re-checks).
pub fn execute(
    report: &LoadedReport,
    approval: &Approval,
    options: &ExecuteOptions,
) -> Result<RunSummary> {
    let pre = preflight::check(report, approval, options)?;
    let rep = report.report();
    let mut summary = RunSummary {
        report_id: report.id().to_owned(),
        dry_run: !options.execute,
        outcomes: Vec::new(),
        audit_log: None,
        head: None,
        quarantine: pre.qdir.clone(),
        dirs: Vec::new(),
    };
    let batch = options.batch.max(1);
    if !options.execute {
        let ledger = journal::read(&pre.root, options.audit_log.as_deref(), report.id())?;
        for actions in rep.actions.chunks(batch) {
            summary.outcomes.extend(dry_run(&pre, &ledger, actions));
        }
        return Ok(summary);
    }
    let (log, ledger) = journal::open(
        &pre.root,
        &rep.root,
        options.audit_log.as_deref(),
        &approval.operator,
        report.id(),
    )?;
    journal::check_pending(&ledger, &rep.actions, &|a| pre.dest_of(a))?;
    let quarantine = pre.quarantine_dir(options.quarantine.is_some())?;
    summary.audit_log = Some(pre.audit_path.clone());
    let mut run = Run::new(Some(log), summary, options.checkpoint.clone());
    let executor = Executor::new(&pre, &ledger, quarantine.as_ref());
    for actions in rep.actions.chunks(batch) {
        executor.run(actions, &mut run)?;
    }
    // Actions finished by earlier runs, for a complete picture.
    for a in &rep.actions {
        if let Some(Logged::Finished(status)) = ledger.states.get(&*a.src) {
            let status = if *status == Status::Done { Status::AlreadyDone } else { *status };
            let reason =
                (status != Status::AlreadyDone).then(|| "logged by an earlier run".to_owned());
            run.summary.outcomes.push(pre.outcome(a, status, reason));
        }
    }
    let order: HashMap<&str, usize> =
        rep.actions.iter().enumerate().map(|(i, a)| (&*a.src, i)).collect();
    run.summary.outcomes.sort_by_key(|o| order.get(&*o.src).copied());
    Ok(run.finish())
}
