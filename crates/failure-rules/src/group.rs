//! Grouping records by mined template, ranking groups, and the confidence of a group.

use std::collections::{BTreeMap, BTreeSet};

use crate::mine::mine;
use crate::record::Record;
use crate::signature::{Parts, Signer, rule_id};

/// Confidence of a rule, from the number of occurrences.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Fewer than the medium threshold.
    Low,
    /// At least the medium threshold.
    Medium,
    /// At least the high threshold.
    High,
}

impl Confidence {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Occurrences at which a group gets medium and high confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// High confidence from this many occurrences (default 10).
    pub high: u64,
    /// Medium confidence from this many occurrences (default 5).
    pub medium: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { high: 10, medium: 5 }
    }
}

impl Thresholds {
    /// The confidence of `frequency` occurrences.
    pub fn confidence(&self, frequency: u64) -> Confidence {
        if frequency >= self.high {
            Confidence::High
        } else if frequency >= self.medium {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }
}

/// Records that share a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The template: `Type: message with <*> and masks`.
    pub signature: String,
    /// `rule_` + SHA-256 of the normalizer version and the signature.
    pub id: String,
    /// The error type of the records.
    pub error_type: String,
    /// Number of records.
    pub count: u64,
    /// Records per run id.
    pub runs: BTreeMap<String, u64>,
    /// The scope most records name (ties: by name), or one derived from the type.
    pub scope: String,
    /// The first message of the group (in the order records were read).
    pub example: String,
}

/// Groups `records` by the id of their mined template and ranks them by count (ties
/// by signature). Templates that differ only in the kinds of their variables
/// (`<IP>` here, `<HOST>` there) share an id and so a group; its signature is the
/// template most of its records have (ties: the first in sort order).
pub fn group_records(records: &[Record]) -> Vec<Group> {
    let mut signer = Signer::default();
    let parts: Vec<Parts> = records
        .iter()
        .map(|r| signer.parts(&r.error_type, &r.message, r.traceback.as_deref()))
        .collect();
    let distinct: BTreeSet<Parts> = parts.iter().cloned().collect();
    let templates = mine(&distinct);
    // id → (group, scope counts, template counts).
    type Building = (Group, BTreeMap<String, u64>, BTreeMap<String, u64>);
    let mut groups: BTreeMap<String, Building> = BTreeMap::new();
    for (record, parts) in records.iter().zip(&parts) {
        let signature = templates[parts].render();
        let id = rule_id(&signature);
        let (group, scopes, signatures) = groups.entry(id.clone()).or_insert_with(|| {
            (
                Group {
                    id,
                    signature: String::new(),
                    error_type: record.error_type.clone(),
                    count: 0,
                    runs: BTreeMap::new(),
                    scope: String::new(),
                    example: record
                        .message
                        .lines()
                        .next()
                        .unwrap_or("")
                        .chars()
                        .take(300)
                        .collect(),
                },
                BTreeMap::new(),
                BTreeMap::new(),
            )
        });
        group.count += 1;
        *group.runs.entry(record.run_id.clone()).or_default() += 1;
        *signatures.entry(signature).or_default() += 1;
        if let Some(scope) = record.scope.as_deref().filter(|s| SCOPES.contains(s)) {
            *scopes.entry(scope.to_owned()).or_default() += 1;
        }
    }
    let mut out: Vec<Group> = groups
        .into_values()
        .map(|(mut group, scopes, signatures)| {
            group.signature = signatures
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(s, _)| s.clone())
                .unwrap_or_default();
            group.scope = scopes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(s, _)| s.clone())
                .unwrap_or_else(|| scope_of_type(&group.error_type, &group.signature).to_owned());
            group
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.signature.cmp(&b.signature)));
    out
}

/// The scopes of the rules file.
pub(crate) const SCOPES: [&str; 4] = ["tidy", "api", "database", "general"];

fn scope_of_type(error_type: &str, signature: &str) -> &'static str {
    let t = error_type.to_ascii_lowercase();
    if t.contains("sqlite")
        || t.contains("database")
        || t.contains("sql")
        || t.contains("operationalerror")
    {
        "database"
    } else if t.contains("http")
        || t.contains("connection")
        || t.contains("request")
        || signature.contains("429")
    {
        "api"
    } else if t.contains("permission")
        || t.contains("filenotfound")
        || t.contains("oserror")
        || t.contains("ioerror")
    {
        "tidy"
    } else {
        "general"
    }
}

/// A deterministic recommendation for a new rule, from the error type.
pub(crate) fn recommendation(error_type: &str, signature: &str) -> String {
    let t = error_type.to_ascii_lowercase();
    let text = if t.contains("permission") {
        "Check ownership and mode of the path before writing; skip or report paths the run may not touch."
    } else if t.contains("filenotfound") || t.contains("nosuchfile") {
        "Check that the path exists before use; create parent directories or skip missing optional inputs."
    } else if t.contains("timeout") {
        "Retry with exponential backoff and a bounded budget; raise the timeout only for known slow operations."
    } else if signature.contains("429") {
        "Respect Retry-After, back off exponentially and lower the request rate."
    } else if t.contains("operationalerror") && signature.contains("locked") {
        "Serialize writers (take the `database` lock), set a busy timeout and retry."
    } else if t.contains("json") {
        "Validate the input before parsing and report the file and position; do not retry unchanged input."
    } else if t.contains("connection") {
        "Retry with backoff after checking the endpoint is reachable; fail fast when it is down."
    } else if t.contains("unicode") {
        "Read as bytes and decode with an explicit encoding and error handler; report the file."
    } else {
        return format!(
            "Investigate recurring `{error_type}` ({signature}); add a targeted mitigation once the cause is known."
        );
    };
    text.to_owned()
}
