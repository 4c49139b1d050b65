//! The JSON `failure-rules` prints with `--format json`, one type per output, so
//! the shapes are written down in one place (and in docs/formats.md, whose
//! schemas a test checks against real output). `normalize --format jsonl` is
//! written by the streaming path itself (`stream.rs`), one line per input line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::report::Analysis;
use crate::rules::{Proposal, Rule};

/// `analyze --format json`.
#[derive(Debug, Serialize)]
pub struct AnalysisJson<'a> {
    /// What was read and grouped.
    pub summary: SummaryJson,
    /// One per group, the most frequent first.
    pub proposals: Vec<ProposalJson<'a>>,
    /// Inputs that could not be used, and why.
    pub skipped: Vec<SkippedJson<'a>>,
    /// What `--execute` applied (none without it).
    pub applied: Option<AppliedJson<'a>>,
}

/// The counts of an analysis.
#[derive(Debug, Serialize)]
pub struct SummaryJson {
    /// Records read.
    pub records: usize,
    /// Files they came from.
    pub files: usize,
    /// Groups found.
    pub groups: usize,
    /// Inputs skipped.
    pub skipped: usize,
}

/// A group and the rule proposed (or updated) for it.
#[derive(Debug, Serialize)]
pub struct ProposalJson<'a> {
    /// `new`, `update` or `known`.
    pub status: &'a str,
    /// The rule's id.
    pub id: &'a str,
    /// The group's signature (typed masks).
    pub signature: &'a str,
    /// The group's own id.
    pub signature_id: &'a str,
    /// The rule's signature (may be more general than the group's).
    pub rule_signature: &'a str,
    /// The group's error type.
    pub error_type: &'a str,
    /// Records in the group.
    pub count: u64,
    /// The rule's frequency, this group included.
    pub frequency: u64,
    /// `low`, `medium` or `high`.
    pub confidence: &'a str,
    /// The rule's scope.
    pub scope: &'a str,
    /// What to do about it.
    pub recommendation: &'a str,
    /// Records per run id.
    pub runs: &'a BTreeMap<String, u64>,
    /// One message of the group, as recorded.
    pub example: &'a str,
}

impl<'a> From<&'a Proposal> for ProposalJson<'a> {
    fn from(p: &'a Proposal) -> ProposalJson<'a> {
        ProposalJson {
            status: p.status.as_str(),
            id: &p.rule.id,
            signature: &p.group.signature,
            signature_id: &p.group.id,
            rule_signature: &p.rule.signature,
            error_type: &p.group.error_type,
            count: p.group.count,
            frequency: p.rule.frequency,
            confidence: p.rule.confidence.as_str(),
            scope: &p.rule.scope,
            recommendation: &p.rule.recommendation,
            runs: &p.group.runs,
            example: &p.group.example,
        }
    }
}

/// An input that could not be used.
#[derive(Debug, Serialize)]
pub struct SkippedJson<'a> {
    /// The file (and line, where it helps).
    pub source: &'a str,
    /// What is wrong with it.
    pub reason: &'a str,
}

/// What `--execute` changed in the rules file.
#[derive(Debug, Serialize)]
pub struct AppliedJson<'a> {
    /// The rules file.
    pub rules_file: &'a Path,
    /// Rules added.
    pub added: usize,
    /// Rules updated.
    pub updated: usize,
    /// Rules left as they were.
    pub unchanged: usize,
}

impl<'a> AnalysisJson<'a> {
    /// The JSON of `analysis`.
    pub fn new(analysis: &'a Analysis) -> AnalysisJson<'a> {
        AnalysisJson {
            summary: SummaryJson {
                records: analysis.records,
                files: analysis.files,
                groups: analysis.groups,
                skipped: analysis.skipped.len(),
            },
            proposals: analysis.proposals.iter().map(ProposalJson::from).collect(),
            skipped: analysis
                .skipped
                .iter()
                .map(|s| SkippedJson { source: &s.source, reason: &s.reason })
                .collect(),
            applied: analysis.applied.as_ref().map(|(path, m)| AppliedJson {
                rules_file: path,
                added: m.added,
                updated: m.updated,
                unchanged: m.unchanged,
            }),
        }
    }
}

/// `match --format json`: the signature of the error asked about, its id, and
/// the rule that applies (none: `null`).
#[derive(Debug, Serialize)]
pub struct MatchJson<'a> {
    /// The error's signature.
    pub signature: &'a str,
    /// Its id.
    pub id: &'a str,
    /// The rules file's entry that applies.
    pub rule: Option<&'a Rule>,
}
