//! failure-rules turns recorded failures into stable error signatures, groups and
//! ranks them, proposes mitigation rules, keeps a rules file, and answers "which rule
//! applies to this error?" at run time.
//!
//! A signature is `Type: normalized message`: the normalizer masks what varies
//! between occurrences of the same error (times, ids, paths, addresses, numbers, …)
//! in one pass over the message. It is a pure function of one error, so the same
//! logical error gets the same id, `rule_` + SHA-256, on every machine and in any
//! input order. Across many records, template mining finds the variable words that
//! masks cannot see.
//!
//! # Example
//!
//! An embedding tool loads the rules once and asks for the rule of each new error:
//!
//! ```
//! use failure_rules::{Rules, signature, rule_id};
//!
//! let rules = Rules::bootstrap(); // or Rules::new(failure_rules::load_rules(path)?)
//! let rule = rules.lookup("sqlite3.OperationalError", "database is locked").unwrap();
//! assert_eq!(rule.scope, "database");
//! assert!(rules.lookup("TimeoutError", "read timed out after 30s").is_some());
//! assert!(rules.lookup("KeyError", "'user_id'").is_none());
//!
//! // Variable parts are masked, so occurrences share one signature and id.
//! let a = signature("TimeoutError", "job 17 timed out after 30s at 2026-11-25T08:00:01Z", None);
//! let b = signature("TimeoutError", "job 9 timed out after 2.5s at 2026-11-26T10:12:44Z", None);
//! assert_eq!(a, "TimeoutError: job <NUM> timed out after <DUR> at <TS>");
//! assert_eq!(a, b);
//! assert!(rule_id(&a).starts_with("rule_"));
//! ```
//!
//! Analysing records and updating a rules file (what `failure-rules analyze
//! --execute` does):
//!
//! ```no_run
//! use std::path::Path;
//! use failure_rules::{AnalyzeOptions, Rules, analyze, execute, load, load_rules};
//!
//! # fn main() -> Result<(), failure_rules::Error> {
//! let loaded = load(&[], Path::new("."), None)?; // .autonomous_runs/**/errors/*.json
//! let rules_file = Path::new("docs/LEARNED_ERROR_MITIGATIONS.json");
//! let rules = Rules::new(load_rules(rules_file)?);
//! let mut analysis = analyze(&loaded, &rules, &AnalyzeOptions::default());
//! // Under `docs` in the lock directory in use, else .multilock in the repository.
//! let locking = multilock::subsystem::Locking::new();
//! execute(&mut analysis, rules_file, &locking, &AnalyzeOptions::default())?;
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "cli")]
pub mod cli;
mod error;
mod group;
mod header;
mod mine;
mod normalize;
pub mod output;
mod record;
mod report;
mod rules;
mod rules_file;
mod signature;
mod source;
mod stream;

use std::path::Path;

use multilock::subsystem::Locking;

use time::format_description::well_known::Rfc3339;

pub use crate::error::{Error, ErrorKind, Result};
pub use crate::group::{Confidence, Group, Thresholds, group_records};
pub use crate::header::{HeaderMode, HeaderPattern};
pub use crate::normalize::{MAX_MESSAGE_BYTES, NORMALIZER_VERSION, normalize_message};
pub use crate::record::{
    DEFAULT_GLOB, Loaded, MAX_INPUT_BYTES, Record, Skipped, load, load_as, parse,
};
pub use crate::report::{
    Analysis, AnalyzeOptions, analyze, render_human, render_json, render_markdown,
};
pub use crate::rules::{
    Merge, Proposal, Rule, Rules, SCHEMA_VERSION, Status, bootstrap_rules, find_rule, propose,
};
pub use crate::rules_file::{
    DEFAULT_RULES_FILE, LOCK_NAME, MAX_RULES_BYTES, default_lock_dir, load_rules, repository_root,
};
pub use crate::signature::{error_of_traceback, rule_id, shape, signature};
pub use crate::source::InputFormat;
pub use crate::stream::{
    LineFormat, StreamOptions, StreamStats, normalize_rewindable, normalize_stream,
};

/// Applies the proposals of `analysis` to `rules_file` under the `docs` lock
/// (in `locking`'s directory, else [`default_lock_dir`]): new rules are appended, rules seen in new runs gain their occurrences
/// and run ids. Proposals are re-decided against the file as it is under the lock,
/// so concurrent runs lose nothing, and running twice on the same input changes
/// nothing the second time.
pub fn execute(
    analysis: &mut Analysis,
    rules_file: &Path,
    locking: &Locking,
    options: &AnalyzeOptions,
) -> Result<Merge> {
    let groups: Vec<Group> = analysis.proposals.iter().map(|p| p.group.clone()).collect();
    let now = options.now.format(&Rfc3339).unwrap_or_default();
    let (merge, proposals) = rules_file::update(rules_file, locking, |rules| {
        let (merge, proposals) = rules::merge(rules, &groups, &options.thresholds, &now);
        ((merge, proposals), merge.added + merge.updated > 0)
    })?;
    // What was decided under the lock is what the report shows.
    analysis.proposals = proposals;
    analysis.applied = Some((rules_file.to_path_buf(), merge));
    Ok(merge)
}

/// Writes the bootstrap rules to `path` if it does not exist (under the lock).
pub fn init_rules_file(path: &Path, locking: &Locking) -> Result<()> {
    rules_file::update(path, locking, |_| ((), false))
}
