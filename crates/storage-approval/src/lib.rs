//! storage-approval is a destructive storage clean-up that cannot run without a human
//! approving exactly the report that was reviewed, and whose every action can be
//! verified afterwards and undone.
//!
//! The workflow is `scan` → report (with a deterministic ID) → approval of that ID →
//! `execute` (re-checks every file, acts through directory handles that never follow
//! symlinks, and writes a hash-chained audit log with group commit) → `verify_log` →
//! `undo`.
//!
//! # Example
//!
//! ```
//! use storage_approval::{Approval, ExecuteOptions, Policy, ScanOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("a.txt"), "same bytes")?;
//! std::fs::write(dir.path().join("b.txt"), "same bytes")?;
//! std::fs::write(dir.path().join("notes.tmp"), "junk")?;
//!
//! let (report, _stats) =
//!     storage_approval::scan(dir.path(), &Policy::default_policy(), &ScanOptions::default(), &|_| {})?;
//! assert_eq!(report.actions.len(), 2); // b.txt duplicates a.txt; notes.tmp is junk
//!
//! let path = dir.path().join("report.json");
//! std::fs::write(&path, report.to_json())?;
//! let loaded = storage_approval::load_report(&path)?;
//! let approval = Approval::new(loaded.id(), "ana", "reviewed")?;
//!
//! let options = ExecuteOptions { execute: true, ..ExecuteOptions::default() };
//! let summary = storage_approval::execute(&loaded, &approval, &options)?;
//! assert!(summary.complete());
//! assert!(!dir.path().join("b.txt").exists() && dir.path().join("a.txt").exists());
//!
//! let log = summary.audit_log.expect("a real run writes an audit log");
//! storage_approval::verify_log(&log, Some(&summary.head.expect("and has a head").hash))?;
//! # Ok(())
//! # }
//! ```

mod approval;
mod audit;
mod batch;
#[cfg(feature = "cli")]
pub mod cli;
mod dirs;
mod error;
mod execute;
mod fsutil;
mod journal;
mod keep;
mod layout;
mod links;
pub mod output;
mod policy;
mod preflight;
mod recheck;
mod report;
mod run;
mod scan;
mod undo;

pub use crate::approval::Approval;
pub use crate::audit::{AuditAction, AuditEntry, ChainHead, GENESIS, Phase, read_log, verify_log};
pub use crate::error::{Error, ErrorKind, Result};
pub use crate::execute::{ExecuteOptions, execute};
pub use crate::layout::QUARANTINE_DIR;
pub use crate::policy::{ARCHIVE_LOCK, DEFAULT_POLICY, Policy};
pub use crate::report::{
    Action, ActionKind, LoadedReport, REPORT_VERSION, Report, load_report, report_id_of_json,
};
pub use crate::run::{Checkpoint, CheckpointHook, DEFAULT_BATCH, Outcome, RunSummary, Status};
pub use crate::scan::{ScanOptions, ScanProgress, ScanStats, scan};
pub use crate::undo::{UndoOptions, undo};

/// Writes one of the tool's outputs (a report, an approval) to `path` the way the
/// file layer writes every output: `-` is standard output; otherwise atomically and
/// durably, an existing path that is not a regular file (a device, a FIFO,
/// `/dev/stdout`) is refused and never replaced, a symlink to a regular file is
/// written through, and a new file gets `0666 & !umask`: reports and approvals hold
/// paths, sizes and hashes, nothing secret.
pub fn write_output(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    tidy_io::write_output(path, bytes, tidy_io::Perms::Default, tidy_io::Durability::Durable)
        .map_err(|e| Error::file("cannot write", e))
}
