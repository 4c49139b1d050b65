//! The rules file: its format, the bootstrap rules, merging proposals into it, and
//! matching an error against its rules.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::group::{Confidence, Group, Thresholds, recommendation};
use crate::signature::{Signer, rule_id};

/// The schema version this crate writes and the newest it reads.
pub const SCHEMA_VERSION: u64 = 1;

/// One mitigation rule, as stored in the rules file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// `rule_` + SHA-256 of the normalizer version and the signature.
    pub id: String,
    /// RFC 3339 time of creation.
    pub created_at: String,
    /// The template an error's signature must match; `<*>` matches any text.
    pub signature: String,
    /// What to do about it.
    pub recommendation: String,
    /// From the frequency.
    pub confidence: Confidence,
    /// Run ids in which the error was seen, sorted.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// Occurrences counted so far.
    #[serde(default)]
    pub frequency: u64,
    /// `tidy`, `api`, `database` or `general`.
    pub scope: String,
    /// Always `guidance`: rules advise, they do not block.
    pub enforcement: String,
    /// Ids the rule had under older normalizer versions, so that a tool holding an
    /// old id still finds it ([`Rules::get`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// The rules file as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RulesDoc {
    #[serde(default = "one")]
    pub(crate) version: u64,
    pub(crate) rules: Vec<Rule>,
}

fn one() -> u64 {
    1
}

const BOOTSTRAP_TIME: &str = "2026-01-03T00:00:00Z";

/// The rules every rules file starts with.
pub fn bootstrap_rules() -> Vec<Rule> {
    let rule = |signature: &str, recommendation: &str, scope: &str| Rule {
        id: rule_id(signature),
        created_at: BOOTSTRAP_TIME.to_owned(),
        signature: signature.to_owned(),
        recommendation: recommendation.to_owned(),
        confidence: Confidence::High,
        evidence: Vec::new(),
        frequency: 0,
        scope: scope.to_owned(),
        enforcement: "guidance".to_owned(),
        aliases: Vec::new(),
    };
    vec![
        rule(
            "PermissionError: <*>",
            "Check ownership and mode before writing; never chmod to work around it; skip protected paths and report them.",
            "tidy",
        ),
        rule(
            "FileNotFoundError: <*>",
            "Check that the path exists first; create parent directories; treat a missing optional input as empty.",
            "tidy",
        ),
        rule(
            "TimeoutError: <*>",
            "Retry with exponential backoff within a bounded budget; raise the timeout only for known slow operations.",
            "general",
        ),
        rule(
            "<*>: <*>429<*>",
            "HTTP 429: honour Retry-After, back off exponentially with jitter and lower the request rate.",
            "api",
        ),
        rule(
            "sqlite3.OperationalError: database is locked",
            "Serialize writers (take the `database` lock), set a busy timeout and retry the transaction.",
            "database",
        ),
        rule(
            "<*>JSONDecodeError: <*>",
            "Validate the input before parsing; report the file and position; do not retry the same bytes.",
            "general",
        ),
        rule(
            "<*>ConnectionError: <*>",
            "Retry with backoff after checking the endpoint is reachable; fail fast and report when it stays down.",
            "api",
        ),
        rule(
            "UnicodeDecodeError: <*>",
            "Read bytes and decode with an explicit encoding and error handler; name the file in the report.",
            "general",
        ),
    ]
}

/// A loaded set of rules, indexed for [`Rules::lookup`].
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Exact signatures (and signatures without frames) → rule index.
    exact: HashMap<String, usize>,
    /// Rules with `<*>`, most specific (most literal text) first.
    templates: Vec<(Vec<String>, usize)>,
    /// Rule id → rule index.
    by_id: HashMap<String, usize>,
}

impl Rules {
    /// Indexes `rules`.
    pub fn new(rules: Vec<Rule>) -> Rules {
        let mut index = Rules {
            rules: Vec::with_capacity(rules.len()),
            exact: HashMap::new(),
            templates: Vec::new(),
            by_id: HashMap::new(),
        };
        for rule in rules {
            index.push(rule);
        }
        index
    }

    /// Appends a rule and indexes it.
    fn push(&mut self, rule: Rule) {
        let i = self.rules.len();
        let full = rule.signature.as_str();
        let short = without_frames(full);
        // The signature, and without its frames if it has some.
        for sig in std::iter::once(full).chain((short != full).then_some(short)) {
            if sig.contains("<*>") {
                let parts: Vec<String> = sig.split("<*>").map(str::to_owned).collect();
                // Most literal text first, ties by id.
                let literal: usize = parts.iter().map(String::len).sum();
                let at = self.templates.partition_point(|(p, j)| {
                    let other: usize = p.iter().map(String::len).sum();
                    other > literal || (other == literal && self.rules[*j].id < rule.id)
                });
                self.templates.insert(at, (parts, i));
            } else {
                self.exact.entry(sig.to_owned()).or_insert(i);
            }
        }
        self.by_id.entry(rule.id.clone()).or_insert(i);
        for alias in &rule.aliases {
            self.by_id.entry(alias.clone()).or_insert(i);
        }
        self.rules.push(rule);
    }

    /// The rule with this id, or that had it under an older normalizer version.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.by_id.get(id).map(|&i| &self.rules[i])
    }

    /// The bootstrap rules only.
    pub fn bootstrap() -> Rules {
        Rules::new(bootstrap_rules())
    }

    /// All rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that applies to an error: one with exactly its signature, else the most
    /// specific template that matches it.
    pub fn lookup(&self, error_type: &str, message: &str) -> Option<&Rule> {
        // One signer per thread: lookups in a loop allocate nothing but the signature.
        thread_local! {
            static SIGNER: std::cell::RefCell<Signer> = std::cell::RefCell::new(Signer::default());
        }
        let signature = SIGNER.with(|signer| match signer.try_borrow_mut() {
            Ok(mut signer) => signer.parts(error_type, message, None).render(),
            Err(_) => Signer::default().parts(error_type, message, None).render(),
        });
        self.lookup_signature(&signature)
    }

    /// The rule that applies to a signature.
    pub fn lookup_signature(&self, signature: &str) -> Option<&Rule> {
        if let Some(&i) =
            self.exact.get(signature).or_else(|| self.exact.get(without_frames(signature)))
        {
            return Some(&self.rules[i]);
        }
        let short = without_frames(signature);
        self.templates
            .iter()
            .find(|(parts, _)| glob_match(parts, signature) || glob_match(parts, short))
            .map(|(_, i)| &self.rules[*i])
    }
}

fn without_frames(signature: &str) -> &str {
    signature.rsplit_once(" @ ").map_or(signature, |(head, _)| head)
}

/// Whether `text` matches the pattern `parts[0] * parts[1] * … parts[n]`.
fn glob_match(parts: &[String], text: &str) -> bool {
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first.as_str()) else { return false };
    let Some((last, middle)) = rest.split_last() else { return remaining.is_empty() };
    for part in middle {
        match remaining.find(part.as_str()) {
            Some(p) => remaining = &remaining[p + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last.as_str())
}

/// What `--execute` would do, or did, with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A new rule.
    New,
    /// An existing rule gains occurrences from runs it has not seen.
    Update,
    /// An existing rule has seen every run of the group already.
    Known,
}

impl Status {
    /// The lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Update => "update",
            Status::Known => "known",
        }
    }
}

/// A group with what it means for the rules file.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The group.
    pub group: Group,
    /// New, update or known.
    pub status: Status,
    /// The rule that applies (existing), or the rule that would be added (new).
    pub rule: Rule,
}

/// Counts of a merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Merge {
    /// Rules added.
    pub added: usize,
    /// Rules updated.
    pub updated: usize,
    /// Groups already fully counted.
    pub unchanged: usize,
}

/// Decides, for each group, whether it is new, updates a rule or is known, and
/// builds the resulting rule. Pure: `rules` is not changed.
pub fn propose(
    rules: &Rules,
    groups: &[Group],
    thresholds: &Thresholds,
    now: &str,
) -> Vec<Proposal> {
    groups
        .iter()
        .map(|group| match rules.lookup_signature(&group.signature) {
            Some(existing) => {
                let seen: BTreeSet<&str> = existing.evidence.iter().map(String::as_str).collect();
                let new_runs: Vec<(&String, &u64)> =
                    group.runs.iter().filter(|(r, _)| !seen.contains(r.as_str())).collect();
                if new_runs.is_empty() {
                    return Proposal {
                        group: group.clone(),
                        status: Status::Known,
                        rule: existing.clone(),
                    };
                }
                let mut rule = existing.clone();
                rule.frequency += new_runs.iter().map(|(_, n)| **n).sum::<u64>();
                let mut evidence: BTreeSet<String> = rule.evidence.into_iter().collect();
                evidence.extend(new_runs.iter().map(|(r, _)| (*r).clone()));
                rule.evidence = evidence.into_iter().collect();
                rule.confidence = rule.confidence.max(thresholds.confidence(rule.frequency));
                Proposal { group: group.clone(), status: Status::Update, rule }
            }
            None => Proposal {
                group: group.clone(),
                status: Status::New,
                rule: Rule {
                    id: group.id.clone(),
                    created_at: now.to_owned(),
                    signature: group.signature.clone(),
                    recommendation: recommendation(&group.error_type, &group.signature),
                    confidence: thresholds.confidence(group.count),
                    evidence: group.runs.keys().cloned().collect(),
                    frequency: group.count,
                    scope: group.scope.clone(),
                    enforcement: "guidance".to_owned(),
                    aliases: Vec::new(),
                },
            },
        })
        .collect()
}

/// Applies proposals to a list of rules (re-deciding each against `rules`, which may
/// have changed since the proposals were made). Returns the counts.
pub(crate) fn merge(
    rules: &mut Vec<Rule>,
    groups: &[Group],
    thresholds: &Thresholds,
    now: &str,
) -> Merge {
    let mut counts = Merge::default();
    let mut index = Rules::new(std::mem::take(rules));
    for group in groups {
        let proposal = propose(&index, std::slice::from_ref(group), thresholds, now).remove(0);
        match proposal.status {
            Status::Known => counts.unchanged += 1,
            Status::Update => {
                // The signature is unchanged, so the index stays valid.
                if let Some(&i) = index.by_id.get(&proposal.rule.id) {
                    index.rules[i] = proposal.rule;
                }
                counts.updated += 1;
            }
            Status::New => {
                index.push(proposal.rule);
                counts.added += 1;
            }
        }
    }
    *rules = index.rules;
    counts
}
