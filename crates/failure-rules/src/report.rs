//! An analysis and its three renderings: human text, Markdown and JSON.

use std::fmt::Write as _;
use std::path::PathBuf;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::group::{Thresholds, group_records};
use crate::record::{Loaded, Skipped};
use crate::rules::{Merge, Proposal, Rules, propose};

/// Options of [`analyze`].
#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Keep only the first `max` groups of the ranking.
    pub max: Option<usize>,
    /// Confidence thresholds.
    pub thresholds: Thresholds,
    /// The time new rules are created at.
    pub now: OffsetDateTime,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            max: None,
            thresholds: Thresholds::default(),
            now: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// The result of analysing records against a rules file.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// Records analysed.
    pub records: usize,
    /// Files read.
    pub files: usize,
    /// Inputs reported and skipped.
    pub skipped: Vec<Skipped>,
    /// Groups found, before `--max`.
    pub groups: usize,
    /// The ranked proposals, at most `max`.
    pub proposals: Vec<Proposal>,
    /// After `--execute`: the rules file and what changed in it.
    pub applied: Option<(PathBuf, Merge)>,
}

/// Groups the loaded records, ranks the groups and decides what each means for
/// `rules`. Nothing is written.
pub fn analyze(loaded: &Loaded, rules: &Rules, options: &AnalyzeOptions) -> Analysis {
    let mut groups = group_records(&loaded.records);
    let total = groups.len();
    if let Some(max) = options.max {
        groups.truncate(max);
    }
    let now = options.now.format(&Rfc3339).unwrap_or_default();
    Analysis {
        records: loaded.records.len(),
        files: loaded.files,
        skipped: loaded.skipped.clone(),
        groups: total,
        proposals: propose(rules, &groups, &options.thresholds, &now),
        applied: None,
    }
}

/// Plain text for a terminal; `color` adds ANSI colours to the status column.
pub fn render_human(analysis: &Analysis, color: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} records from {} files, {} groups, {} skipped",
        analysis.records,
        analysis.files,
        analysis.groups,
        analysis.skipped.len()
    );
    for (rank, p) in analysis.proposals.iter().enumerate() {
        let status = p.status.as_str();
        let status = if color {
            let code = match p.status {
                crate::rules::Status::New => "32",
                crate::rules::Status::Update => "33",
                crate::rules::Status::Known => "2",
            };
            format!("\x1b[{code}m{status:<6}\x1b[0m")
        } else {
            format!("{status:<6}")
        };
        // The group's count in this analysis, then the rule's total and confidence
        // (after --execute): `update 1x high` read as one occurrence being high.
        let totals = format!("(rule: {}x, {})", p.rule.frequency, p.rule.confidence.as_str());
        let _ = writeln!(
            out,
            "{:>3}. {status} {:>5}x {totals:<18} {}",
            rank + 1,
            p.group.count,
            p.group.signature
        );
        let _ = writeln!(out, "       rule {} ({})", short(&p.rule.id), p.rule.scope);
        let _ = writeln!(out, "       -> {}", p.rule.recommendation);
    }
    match &analysis.applied {
        Some((path, m)) => {
            let _ = writeln!(
                out,
                "{}: {} added, {} updated, {} unchanged",
                path.display(),
                m.added,
                m.updated,
                m.unchanged
            );
        }
        None if !analysis.proposals.is_empty() => {
            let _ =
                writeln!(out, "dry run: nothing written (use --execute to update the rules file)");
        }
        None => {}
    }
    out
}

fn short(id: &str) -> &str {
    &id[..id.len().min(17)]
}

/// A Markdown report (what `--output-report FILE.md` writes).
pub fn render_markdown(analysis: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Top failures\n");
    let _ = writeln!(
        out,
        "{} records from {} files, {} groups, {} inputs skipped.\n",
        analysis.records,
        analysis.files,
        analysis.groups,
        analysis.skipped.len()
    );
    if !analysis.proposals.is_empty() {
        let _ = writeln!(out, "| # | count | confidence | status | scope | signature | rule |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for (rank, p) in analysis.proposals.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | `{}` | `{}` |",
                rank + 1,
                p.group.count,
                p.rule.confidence.as_str(),
                p.status.as_str(),
                p.rule.scope,
                p.group.signature.replace('|', "\\|").replace('`', "'"),
                short(&p.rule.id)
            );
        }
        let _ = writeln!(out, "\n## Recommendations\n");
        for (rank, p) in analysis.proposals.iter().enumerate() {
            let runs: Vec<&str> = p.group.runs.keys().map(String::as_str).take(5).collect();
            let _ = writeln!(
                out,
                "{}. **{}** — {} (example: `{}`; runs: {})",
                rank + 1,
                p.group.error_type,
                p.rule.recommendation,
                p.group.example.replace('`', "'"),
                runs.join(", ")
            );
        }
    }
    if !analysis.skipped.is_empty() {
        let _ = writeln!(out, "\n## Skipped inputs\n");
        for s in &analysis.skipped {
            let _ = writeln!(out, "- `{}`: {}", s.source, s.reason);
        }
    }
    if let Some((path, m)) = &analysis.applied {
        let _ = writeln!(
            out,
            "\nApplied to `{}`: {} added, {} updated, {} unchanged.",
            path.display(),
            m.added,
            m.updated,
            m.unchanged
        );
    }
    out
}

/// The JSON report ([`AnalysisJson`](crate::output::AnalysisJson)).
pub fn render_json(analysis: &Analysis) -> String {
    let json = crate::output::AnalysisJson::new(analysis);
    let mut s = serde_json::to_string_pretty(&json).expect("the analysis serializes");
    s.push('\n');
    s
}
