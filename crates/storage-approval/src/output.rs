//! The JSON the `storage-approval` binary prints with `--format json`, one type
//! per output, so the shapes are written down in one place (and in
//! docs/formats.md, whose schemas a test checks against real output). The report,
//! approval and audit log formats are their own types (`Report`, `Approval`,
//! `AuditEntry`); these are the command results.

use std::path::Path;

use serde::Serialize;
use serde::ser::SerializeSeq;

use crate::audit::ChainHead;
use crate::run::{Outcome, RunSummary, Status};

/// `scan --format json`: what the scan did and proposed.
#[derive(Debug, Serialize)]
pub struct ScanJson<'a> {
    /// Where the report was written (`-`: standard output).
    pub report: &'a Path,
    /// The report's ID.
    pub report_id: &'a str,
    /// Proposed actions, and how many of each kind.
    pub actions: usize,
    /// Duplicate deletes.
    pub duplicates: usize,
    /// Junk deletes.
    pub junk: usize,
    /// Archive moves.
    pub moves: usize,
    /// Bytes the actions would free or move.
    pub bytes: u64,
    /// Regular files seen.
    pub files: u64,
    /// Symlinks seen and not followed.
    pub symlinks_not_followed: u64,
    /// Bytes read to hash.
    pub bytes_hashed: u64,
    /// Files whose hash came from the cache.
    pub cache_hits: u64,
    /// What the scan skipped, and why.
    pub warnings: &'a [String],
}

/// `report-id --format json`.
#[derive(Debug, Serialize)]
pub struct ReportIdJson<'a> {
    /// The report's ID.
    pub report_id: &'a str,
}

/// `verify --format json` when the approval matches.
#[derive(Debug, Serialize)]
pub struct VerifyJson<'a> {
    /// Always `true` (a mismatch is an error, exit 1).
    pub ok: bool,
    /// The report approved.
    pub report_id: &'a str,
    /// Who approved it.
    pub operator: &'a str,
}

/// `audit verify --format json`: an intact chain, or the first bad line.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AuditVerifyJson<'a> {
    /// The chain is intact.
    Intact {
        /// `true`.
        ok: bool,
        /// The last entry's hash.
        head: &'a str,
        /// Entries in the log.
        entries: u64,
    },
    /// The chain is broken at `line`.
    Broken {
        /// `false`.
        ok: bool,
        /// The first bad line (1-based).
        line: u64,
        /// What is wrong with it.
        message: &'a str,
    },
}

/// `execute`/`undo --format json`: every outcome, then the totals. Serialized
/// straight to the writer, one outcome at a time: a run of 200,000 actions is
/// never held as one JSON tree.
#[derive(Debug, Serialize)]
pub struct RunJson<'a> {
    /// The report acted on (empty for undo).
    pub report_id: &'a str,
    /// Whether nothing was done.
    pub dry_run: bool,
    /// One per action, in the report's order.
    pub outcomes: Outcomes<'a>,
    /// Outcomes `done`.
    pub done: usize,
    /// Outcomes `would` (a dry run).
    pub would: usize,
    /// Outcomes `already_done` (by an earlier run of the same report).
    pub already_done: usize,
    /// Outcomes `skipped` (the file changed since the report).
    pub skipped: usize,
    /// Outcomes `failed`.
    pub failed: usize,
    /// The audit log written (none for a dry run).
    pub audit_log: Option<&'a Path>,
    /// The quarantine directory of this report.
    pub quarantine: Option<&'a Path>,
    /// Directories removed (execute) or recreated (undo), relative to the root.
    pub dirs: &'a [String],
    /// The audit log's head after the run.
    pub head: Option<HeadJson<'a>>,
}

impl<'a> RunJson<'a> {
    /// The JSON of `summary`.
    pub fn new(summary: &'a RunSummary) -> RunJson<'a> {
        let count = |s: Status| summary.outcomes.iter().filter(|o| o.status == s).count();
        RunJson {
            report_id: &summary.report_id,
            dry_run: summary.dry_run,
            outcomes: Outcomes(&summary.outcomes),
            done: count(Status::Done),
            would: count(Status::WouldDo),
            already_done: count(Status::AlreadyDone),
            skipped: count(Status::Skipped),
            failed: count(Status::Failed),
            audit_log: summary.audit_log.as_deref(),
            quarantine: summary.quarantine.as_deref(),
            dirs: &summary.dirs,
            head: summary.head.as_ref().map(HeadJson::from),
        }
    }
}

/// The outcomes of a run, serialized as an array of [`OutcomeJson`].
#[derive(Debug)]
pub struct Outcomes<'a>(&'a [Outcome]);

impl Serialize for Outcomes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for outcome in self.0 {
            seq.serialize_element(&OutcomeJson::from(outcome))?;
        }
        seq.end()
    }
}

/// One action's outcome.
#[derive(Debug, Serialize)]
pub struct OutcomeJson<'a> {
    /// `delete`, `move`, `restore` or `mkdir`.
    pub action: &'a str,
    /// The file, relative to the root.
    pub src: &'a str,
    /// Where it went or would go.
    pub dest: Option<&'a str>,
    /// Its size.
    pub bytes: u64,
    /// `done`, `would`, `already_done`, `skipped` or `failed`.
    pub status: &'a str,
    /// Why it was skipped or failed.
    pub reason: Option<&'a str>,
    /// For a duplicate delete: the copy that stays.
    pub kept: Option<&'a str>,
    /// Why that copy stays.
    pub keep_reason: Option<&'a str>,
}

impl<'a> From<&'a Outcome> for OutcomeJson<'a> {
    fn from(o: &'a Outcome) -> OutcomeJson<'a> {
        OutcomeJson {
            action: o.action,
            src: &o.src,
            dest: o.dest.as_deref(),
            bytes: o.bytes,
            status: o.status.as_str(),
            reason: o.reason.as_deref(),
            kept: o.kept.as_deref(),
            keep_reason: o.keep_reason.as_deref(),
        }
    }
}

/// An audit log's head.
#[derive(Debug, Serialize)]
pub struct HeadJson<'a> {
    /// The last entry's hash.
    pub hash: &'a str,
    /// Entries in the log.
    pub entries: u64,
}

impl<'a> From<&'a ChainHead> for HeadJson<'a> {
    fn from(head: &'a ChainHead) -> HeadJson<'a> {
        HeadJson { hash: &head.hash, entries: head.entries }
    }
}
