//! `--changed-since REV`: only the findings a change introduced.
//!
//! The tree as it was at REV is written to a scratch directory (git's own
//! checkout, through a throwaway index) and checked the same way; a finding of
//! today's tree is new when the tree at REV did not have it. Findings are
//! matched by identity — the file (followed through renames), the destination
//! as written, and its occurrence among that file's findings with that
//! destination — never by line number, so an edit that moves a link, or a
//! blank line added above it, does not make its old breakage new.
//!
//! A link that at REV led into a page deleted or renamed since is reported
//! even when it was already broken there (a missing anchor that is now a
//! missing file): the change is what a reviewer must see.

use std::path::Path;

use crate::check::CheckOptions;
use crate::error::Error;
use crate::fast::{HashMap, HashSet};
use crate::git::{self, Touched};
use crate::report::{Confidence, Finding, Report};

/// What identifies a finding across versions: its list, file and destination.
type Key = (usize, String, String);

/// `report` (of today's tree) reduced to the findings that are new since `rev`.
pub(crate) fn new_only(
    options: &CheckOptions,
    root: &Path,
    rev: &str,
    touched: &Touched,
    mut report: Report,
) -> Result<Report, Error> {
    let old = report_at(options, root, rev)?;
    let follow = |file: &str| touched.renamed.get(file).cloned().unwrap_or_else(|| file.to_owned());
    let mut before: HashMap<Key, usize> = HashMap::default();
    let mut into_gone: HashSet<(String, String)> = HashSet::default();
    if let Some(old) = &old {
        for (list, findings) in lists(old).into_iter().enumerate() {
            for finding in findings {
                *before
                    .entry((list, follow(&finding.file), finding.target.clone()))
                    .or_default() += 1;
            }
        }
        for link in &old.links {
            if link.path.as_ref().is_some_and(|p| touched.gone.contains(p)) {
                into_gone.insert((follow(&link.file), link.target.clone()));
            }
        }
    }
    let total = report.findings.len() + report.site_links.len() + report.redirected.len();
    let keep = |list: usize, findings: &mut Vec<Finding>| {
        let mut seen: HashMap<(String, String), usize> = HashMap::default();
        findings.retain(|f| {
            let pair = (f.file.clone(), f.target.clone());
            let occurrence = seen.entry(pair.clone()).or_default();
            *occurrence += 1;
            let earlier = before.get(&(list, pair.0.clone(), pair.1.clone())).copied();
            *occurrence > earlier.unwrap_or(0) || into_gone.contains(&pair)
        });
    };
    keep(0, &mut report.findings);
    keep(1, &mut report.site_links);
    keep(2, &mut report.redirected);
    let summary = &mut report.summary;
    summary.broken = report.findings.len();
    summary.site_links = report.site_links.len();
    summary.redirected = report.redirected.len();
    summary.fixable_high = report
        .findings
        .iter()
        .filter(|f| f.fix.as_ref().is_some_and(|x| x.confidence == Confidence::High))
        .count();
    let shown = report.findings.len() + report.site_links.len() + report.redirected.len();
    summary.preexisting = Some(total - shown);
    Ok(report)
}

/// The three lists of a report, in the order their list number says.
fn lists(report: &Report) -> [&Vec<Finding>; 3] {
    [&report.findings, &report.site_links, &report.redirected]
}

/// The check of the tree as it was at `rev`, with every link listed; `None`
/// when the root did not exist then.
fn report_at(options: &CheckOptions, root: &Path, rev: &str) -> Result<Option<Report>, Error> {
    let scratch = tempfile::tempdir()
        .map_err(|e| Error::io("cannot create a scratch directory in", &std::env::temp_dir(), e))?;
    let tree = scratch.path().join("tree");
    std::fs::create_dir(&tree).map_err(|e| Error::io("cannot create", &tree, e))?;
    if !git::tree_at(root, rev, scratch.path(), &tree)? {
        return Ok(None);
    }
    let old = options.at_revision(&tree);
    crate::check::check(&old).map(Some)
}
