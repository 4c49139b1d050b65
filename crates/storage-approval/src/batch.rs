//! One batch of `execute`, in its five phases (group commit): re-check every action
//! (hashing on all cores); make the intents durable; act; remove the directories
//! the actions emptied; make the results durable after the renames they describe.
//! A crash anywhere leaves a state the next `execute` or `undo` finishes, and
//! [`Checkpoint`] names each point a crash test stops at.

use std::ffi::OsStr;

use rayon::prelude::*;
use tidy_io::Dir;

use crate::audit::{AuditLog, Fields, Phase};
use crate::dirs::{remove_emptied_dirs, rmdir_fields};
use crate::error::Result;
use crate::journal::{Ledger, Logged};
use crate::preflight::Preflight;
use crate::recheck::{
    Checked, Keeps, Loc, expect, finished_elsewhere, recheck, relocate, still_same,
};
use crate::report::{Action, ActionKind};
use crate::run::{Checkpoint, Outcome, Run, Status, sync_dirs};

/// What a batch needs of its run: the checks made before it, the log's ledger, and
/// the quarantine directory (none for a purge).
pub(crate) struct Executor<'a> {
    pre: &'a Preflight,
    ledger: &'a Ledger,
    quarantine: Option<&'a Dir>,
}

/// An action's index in its batch, what happened to it and why.
type Result1 = (usize, Status, Option<String>);

impl<'a> Executor<'a> {
    pub(crate) fn new(pre: &'a Preflight, ledger: &'a Ledger, quarantine: Option<&'a Dir>) -> Self {
        Executor { pre, ledger, quarantine }
    }

    fn logged(&self, a: &Action) -> Logged {
        self.ledger.states.get(&*a.src).copied().unwrap_or(Logged::New)
    }

    /// Where `a` moves its file (none for a purge).
    fn target(&self, a: &Action) -> Option<Loc<'_>> {
        match a.action {
            ActionKind::Move => Some(Loc {
                anchor: &self.pre.root,
                rel: a.dest.as_deref().expect("validated").to_owned(),
            }),
            ActionKind::Delete => {
                self.quarantine.map(|q| Loc { anchor: q, rel: a.src.to_string() })
            }
        }
    }

    fn fields(&self, a: &Action, phase: Phase) -> Fields {
        Fields {
            src: a.src.to_string(),
            dest: self.pre.dest_of(a),
            bytes: a.bytes,
            policy_reason: a.policy_reason.to_string(),
            sha256_before: a.sha256.as_deref().map(str::to_owned),
            report_id: self.pre.report_id.clone(),
            ..Fields::new(phase, a.action.into())
        }
    }

    /// Runs one batch of a real run through its five phases.
    pub(crate) fn run(&self, batch: &[Action], run: &mut Run) -> Result<()> {
        let keeps = Keeps::check(&self.pre.root, batch);
        let (ready, mut results) = self.check(batch, &keeps);
        let log = run.log.as_mut().expect("a real run has a log");
        self.write_intents(batch, &ready, log)?;
        if ready.iter().any(|(i, _)| self.logged(&batch[*i]) != Logged::Pending) {
            run.reached(Checkpoint::IntentsDurable);
        }
        let mut touched = self.act(batch, ready, &keeps, &mut results, run);
        let removed = self.remove_dirs(batch, &results, run);
        let mut removed_dirs = Vec::new();
        for (dir, parent) in removed {
            touched.push(parent);
            removed_dirs.push(dir);
        }
        sync_dirs(touched)?;
        results.sort_by_key(|r| r.0);
        let log = run.log.as_mut().expect("a real run has a log");
        self.write_results(batch, &results, &removed_dirs, log)?;
        run.reached(Checkpoint::ResultsDurable);
        run.summary.dirs.extend(removed_dirs);
        for (i, status, reason) in results {
            run.summary.outcomes.push(self.pre.outcome(&batch[i], status, reason));
        }
        Ok(())
    }

    /// Phase 1: Re-checks every action the log has not finished; returns the files ready
    /// to act on and the results known already (skipped, or completed by an
    /// interrupted run).
    fn check(&self, batch: &[Action], keeps: &Keeps) -> (Vec<(usize, Checked)>, Vec<Result1>) {
        let root = &self.pre.root;
        let checked: Vec<(usize, Logged, std::result::Result<Checked, String>)> = batch
            .par_iter()
            .enumerate()
            .filter_map(|(i, a)| {
                let state = self.logged(a);
                if let Logged::Finished(_) = state {
                    return None;
                }
                let result = recheck(&Loc { anchor: root, rel: a.src.to_string() }, &expect(a));
                Some((i, state, result.and_then(|c| keeps.intact(a).map(|()| c))))
            })
            .collect();
        let mut results = Vec::new();
        let mut ready = Vec::new();
        for (i, state, result) in checked {
            let a = &batch[i];
            match (result, state) {
                (Ok(c), _) => ready.push((i, c)),
                // Interrupted after its intent: the file may already be at its target.
                (Err(why), Logged::Pending) => {
                    let src = Loc { anchor: root, rel: a.src.to_string() };
                    match finished_elsewhere(&src, self.target(a).as_ref(), &expect(a)) {
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
        (ready, results)
    }

    /// Phase 2: The intents, durable before any action of the batch (one intent an
    /// action: an interrupted one has its intent logged already).
    fn write_intents(
        &self,
        batch: &[Action],
        ready: &[(usize, Checked)],
        log: &mut AuditLog,
    ) -> Result<()> {
        for (i, _) in ready {
            if self.logged(&batch[*i]) != Logged::Pending {
                log.push(self.fields(&batch[*i], Phase::Intent));
            }
        }
        log.commit()
    }

    /// Phase 3: The actions: each kept copy and file looked at once more, then moved (or
    /// purged). Returns the directories whose entries changed.
    fn act(
        &self,
        batch: &[Action],
        ready: Vec<(usize, Checked)>,
        keeps: &Keeps,
        results: &mut Vec<Result1>,
        run: &Run,
    ) -> Vec<Dir> {
        let mut touched = Vec::new();
        for (i, mut c) in ready {
            let a = &batch[i];
            let sha = a.sha256.as_deref().expect("validated");
            let result = keeps.intact(a).and_then(|()| match self.target(a) {
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
                    run.reached(Checkpoint::Acted);
                }
                Err(why) => results.push((i, Status::Failed, Some(why))),
            }
        }
        touched
    }

    /// Phase 4: The directories the done actions emptied (`__pycache__/`), deepest first.
    fn remove_dirs(&self, batch: &[Action], results: &[Result1], run: &Run) -> Vec<(String, Dir)> {
        let done: Vec<&str> =
            results.iter().filter(|r| r.1 == Status::Done).map(|r| &*batch[r.0].src).collect();
        remove_emptied_dirs(&self.pre.root, &done, &|dir| self.pre.keeps_dir(dir), &|| {
            run.reached(Checkpoint::DirRemoved);
        })
    }

    /// Phase 5: The results and the removed directories, durable after the renames they
    /// describe (their directories were fsynced).
    fn write_results(
        &self,
        batch: &[Action],
        results: &[Result1],
        removed_dirs: &[String],
        log: &mut AuditLog,
    ) -> Result<()> {
        for (i, status, reason) in results {
            let a = &batch[*i];
            let phase = match status {
                Status::Done => Phase::Done,
                Status::Skipped => Phase::Skipped,
                _ => Phase::Failed,
            };
            let mut f = self.fields(a, phase);
            f.reason = reason.clone();
            if *status == Status::Done && self.target(a).is_some() {
                f.sha256_after = a.sha256.as_deref().map(str::to_owned);
            }
            log.push(f);
        }
        for dir in removed_dirs {
            log.push(rmdir_fields(dir, &self.pre.report_id));
        }
        log.commit()
    }
}

/// One batch of a dry run: every action re-checked as a real run would, nothing
/// touched, nothing logged.
pub(crate) fn dry_run(pre: &Preflight, ledger: &Ledger, batch: &[Action]) -> Vec<Outcome> {
    let keeps = Keeps::check(&pre.root, batch);
    batch
        .par_iter()
        .map(|a| match ledger.states.get(&*a.src) {
            Some(Logged::Finished(_)) => pre.outcome(a, Status::AlreadyDone, None),
            _ => match recheck(&Loc { anchor: &pre.root, rel: a.src.to_string() }, &expect(a))
                .and_then(|_| keeps.intact(a))
            {
                Ok(()) => pre.outcome(a, Status::WouldDo, None),
                Err(why) => pre.outcome(a, Status::Skipped, Some(why)),
            },
        })
        .collect()
}
