//! The rules file: its format, the bootstrap rules, merging proposals into it, and
//! matching an error against its rules.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::group::{Confidence, Group, Thresholds, recommendation};
use crate::signature::{Signer, rule_id, shape};

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
    /// The normalizer version the ids were computed with; absent in files written
    /// before `fr-norm-3`, whose rules are then migrated on load.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) normalizer: Option<String>,
    pub(crate) rules: Vec<Rule>,
}

fn one() -> u64 {
    1
}

const BOOTSTRAP_TIME: &str = "2026-01-03T00:00:00Z";

/// The bootstrap rule for HTTP 429: the code before its reason phrase, anchored as
/// whole tokens (a `429` inside a name or alone is something else).
pub(crate) const HTTP_429: &str = "<*>: <*> 429 <*> Too Many Requests <*>";

/// What the HTTP 429 rule was before `fr-norm-3`: a substring match that also took
/// `ValueError: 429` and `mod429`. Rules files holding it get [`HTTP_429`] on load.
pub(crate) const OLD_HTTP_429: &str = "<*>: <*>429<*>";

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
            HTTP_429,
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
///
/// A rule applies to an error when the error's signature has the rule's shape (see
/// [`crate::shape`]: the same tokens, any mask standing for any other), looked up
/// by hash; else when the rule's signature, as a pattern of whole tokens, matches
/// the error's signature from its first token to its last: a token `<*>` stands for
/// any number of tokens, a `<*>` inside a token for any characters of one token,
/// and every other token must be equal. So `<*>: <*> 429 <*> Too Many Requests <*>`
/// matches `HTTPError: 429 Client Error: Too Many Requests for url: <URL>` but not
/// `ValueError: 429` or `KeyError: 'x' @ mod429:run`. Of several matching patterns
/// the most specific (most literal text; ties by id) wins.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Hash of a signature's shape → rule indices.
    exact: HashMap<u64, Slots>,
    /// Hash of the shape without frames of a rule with frames → rule indices: what
    /// an error known without its traceback matches.
    exact_short: HashMap<u64, Slots>,
    /// Rules whose signature holds `<*>`, in the order they were added.
    patterns: Vec<Pattern>,
    /// (hash of the first token, pattern) for patterns whose first token is literal
    /// (`ValueError:`), sorted by hash and then most specific first. One sorted list
    /// instead of a map of lists: 200,000 rules are 200,000 allocations fewer.
    by_head: Vec<(u64, u32)>,
    /// Patterns whose first token holds `<*>`, most specific first.
    wild_head: Vec<u32>,
    /// Hash of a rule id or alias → rule indices.
    by_id: HashMap<u64, Slots>,
}

/// The rules under one hash key: nearly always one, so no list is allocated for it.
#[derive(Debug, Clone)]
enum Slots {
    One(u32),
    Many(Vec<u32>),
}

impl Slots {
    fn add(slot: Option<&mut Slots>, i: u32) -> Option<Slots> {
        match slot {
            None => Some(Slots::One(i)),
            Some(Slots::One(j)) if *j == i => None,
            Some(slot @ Slots::One(_)) => {
                let Slots::One(j) = *slot else { return None };
                *slot = Slots::Many(vec![j, i]);
                None
            }
            Some(Slots::Many(list)) => {
                if !list.contains(&i) {
                    list.push(i);
                }
                None
            }
        }
    }

    fn as_slice(&self) -> &[u32] {
        match self {
            Slots::One(i) => std::slice::from_ref(i),
            Slots::Many(list) => list,
        }
    }
}

fn insert(map: &mut HashMap<u64, Slots>, key: u64, i: u32) {
    if let Some(new) = Slots::add(map.get_mut(&key), i) {
        map.insert(key, new);
    }
}

/// A rule signature as a pattern of tokens.
#[derive(Debug, Clone)]
struct Pattern {
    /// The shape of the signature (or of it without its frames).
    shape: String,
    /// Literal bytes: the more, the more specific.
    literal: usize,
    rule: u32,
    /// The signature of a rule with frames, without them: it applies only to errors
    /// whose frames are unknown.
    short: bool,
}

impl Rules {
    /// Indexes `rules`.
    pub fn new(rules: Vec<Rule>) -> Rules {
        let mut index = Rules {
            rules: Vec::with_capacity(rules.len()),
            exact: HashMap::with_capacity(rules.len()),
            exact_short: HashMap::new(),
            patterns: Vec::new(),
            by_head: Vec::new(),
            wild_head: Vec::new(),
            by_id: HashMap::with_capacity(rules.len()),
        };
        for rule in rules {
            index.add(rule, false);
        }
        // Sorted once at the end: inserting each in order would move every later
        // entry for every rule (200,000 rules took seconds).
        let mut by_head = std::mem::take(&mut index.by_head);
        by_head.sort_by(|a, b| {
            a.0.cmp(&b.0).then_with(|| index.specificity(a.1).cmp(&index.specificity(b.1)))
        });
        let mut wild = std::mem::take(&mut index.wild_head);
        wild.sort_by(|a, b| index.specificity(*a).cmp(&index.specificity(*b)));
        index.by_head = by_head;
        index.wild_head = wild;
        index
    }

    /// The sort key of a pattern: most literal text first, ties by rule id.
    fn specificity(&self, p: u32) -> (std::cmp::Reverse<usize>, &str) {
        let pattern = &self.patterns[p as usize];
        (std::cmp::Reverse(pattern.literal), self.rules[pattern.rule as usize].id.as_str())
    }

    /// Appends a rule and indexes it; `sorted` keeps the pattern lists in order
    /// (else [`Rules::new`] sorts them once at the end).
    fn add(&mut self, rule: Rule, sorted: bool) {
        let i = self.rules.len() as u32;
        insert(&mut self.by_id, hash(&rule.id), i);
        for alias in &rule.aliases {
            insert(&mut self.by_id, hash(alias), i);
        }
        let full = rule.signature.as_str();
        let short = without_frames(full);
        let mut new_patterns = Vec::new();
        // The signature, and without its frames if it has some.
        for sig in std::iter::once(full).chain((short.len() < full.len()).then_some(short)) {
            let is_short = sig.len() < full.len();
            let shape = shape(sig);
            insert(if is_short { &mut self.exact_short } else { &mut self.exact }, hash(&shape), i);
            if sig.contains("<*>") {
                new_patterns.push((shape, is_short));
            }
        }
        self.rules.push(rule);
        for (shape, short) in new_patterns {
            // Literal bytes: all but the `<*>`s and the spaces between tokens.
            let wild = shape.matches("<*>").count();
            let spaces = shape.bytes().filter(|&c| c == b' ').count();
            let literal = shape.len() - 3 * wild - spaces;
            let p = self.patterns.len() as u32;
            self.patterns.push(Pattern { shape, literal, rule: i, short });
            self.file_pattern(p, sorted);
        }
    }

    /// Puts pattern `p` in the list of its first token.
    fn file_pattern(&mut self, p: u32, sorted: bool) {
        let head = self.patterns[p as usize].shape.split(' ').next().unwrap_or("");
        if head.contains("<*>") {
            if sorted {
                let at =
                    self.wild_head.partition_point(|&q| self.specificity(q) < self.specificity(p));
                self.wild_head.insert(at, p);
            } else {
                self.wild_head.push(p);
            }
            return;
        }
        let key = hash(head);
        if sorted {
            let at = self.by_head.partition_point(|&(k, q)| {
                k < key || (k == key && self.specificity(q) < self.specificity(p))
            });
            self.by_head.insert(at, (key, p));
        } else {
            self.by_head.push((key, p));
        }
    }

    /// The patterns whose first token is `head`, most specific first.
    fn with_head(&self, head: &str) -> impl Iterator<Item = u32> + '_ {
        let key = hash(head);
        let start = self.by_head.partition_point(|&(k, _)| k < key);
        self.by_head[start..].iter().take_while(move |&&(k, _)| k == key).map(|&(_, p)| p)
    }

    /// The rule with this id, or that had it under an older normalizer version.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        let slots = self.by_id.get(&hash(id))?;
        slots
            .as_slice()
            .iter()
            .map(|&i| &self.rules[i as usize])
            .find(|r| r.id == id || r.aliases.iter().any(|a| a == id))
    }

    /// The bootstrap rules only.
    pub fn bootstrap() -> Rules {
        Rules::new(bootstrap_rules())
    }

    /// All rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that applies to an error: one with its signature's shape, else the
    /// most specific pattern that matches it.
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

    /// The rule that applies to a signature. A rule with frames applies to an error
    /// with the same frames, or to one whose frames are unknown (a signature without
    /// ` @ `); a rule without frames applies whatever the error's frames are.
    pub fn lookup_signature(&self, signature: &str) -> Option<&Rule> {
        self.lookup_index(signature).map(|i| &self.rules[i])
    }

    /// The index of the rule [`Rules::lookup_signature`] finds.
    fn lookup_index(&self, signature: &str) -> Option<usize> {
        let full = shape(signature);
        let frameless = without_frames(signature);
        let has_frames = frameless.len() < signature.len();
        let short = shape(frameless);
        let found = |map: &HashMap<u64, Slots>, s: &str, frames: bool| {
            // The first rule (in file order) with that shape; a hash collision is
            // ruled out by comparing the shapes.
            map.get(&hash(s))?.as_slice().iter().copied().find(|&i| {
                let sig = self.rules[i as usize].signature.as_str();
                shape(if frames { sig } else { without_frames(sig) }) == s
            })
        };
        let hit = found(&self.exact, &full, true)
            .or_else(|| if has_frames { found(&self.exact, &short, true) } else { None })
            .or_else(|| if has_frames { None } else { found(&self.exact_short, &full, false) });
        if let Some(i) = hit {
            return Some(i as usize);
        }
        let mut best: Option<u32> = None;
        let texts: &[&str] = if has_frames { &[&full, &short] } else { &[&full] };
        for s in texts {
            let tokens: Vec<&str> = s.split(' ').collect();
            let head = tokens.first().copied().unwrap_or("");
            let matches = |&p: &u32| {
                let pattern = &self.patterns[p as usize];
                if has_frames && pattern.short {
                    return false;
                }
                let pattern: Vec<&str> = pattern.shape.split(' ').collect();
                tokens_match(&pattern, &tokens)
            };
            // Both lists are most specific first: the first match of each is its best.
            let candidates =
                [self.with_head(head).find(matches), self.wild_head.iter().copied().find(matches)];
            for p in candidates.into_iter().flatten() {
                if best.is_none_or(|b| self.specificity(p) < self.specificity(b)) {
                    best = Some(p);
                }
            }
        }
        best.map(|p| self.patterns[p as usize].rule as usize)
    }

    /// Appends a rule (after a merge decided it is new), keeping the index sorted.
    fn push(&mut self, rule: Rule) {
        self.add(rule, true);
    }

    /// The index of the rule with this id.
    fn position(&self, id: &str) -> Option<usize> {
        let slots = self.by_id.get(&hash(id))?;
        slots.as_slice().iter().map(|&i| i as usize).find(|&i| self.rules[i].id == id)
    }
}

/// The rule of `rules` that applies to `signature`, as [`Rules::lookup_signature`]
/// finds it, without indexing every rule: only those whose first token could match
/// are indexed. For one lookup in a large rules file (`failure-rules match`).
pub fn find_rule<'a>(rules: &'a [Rule], signature: &str) -> Option<&'a Rule> {
    let heads = [first_token(&shape(signature)).to_owned()];
    let candidates = candidates(rules, &heads);
    let index = Rules::new(candidates.iter().map(|&i| rules[i].clone()).collect());
    index.lookup_index(signature).map(|k| &rules[candidates[k]])
}

/// The first token of a signature or shape.
fn first_token(s: &str) -> &str {
    s.split(' ').next().unwrap_or("")
}

/// Indices of the rules that could apply to a signature whose shape starts with one
/// of `heads`: a literal first token must be equal; one holding a mask (`<*>:`,
/// `<*>JSONDecodeError:`) could match anything. Comparing first tokens costs no
/// shape, so a file of 200,000 rules is filtered in milliseconds.
fn candidates(rules: &[Rule], heads: &[String]) -> Vec<usize> {
    rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let head = first_token(&r.signature);
            head.contains('<') || heads.iter().any(|h| h == head)
        })
        .map(|(i, _)| i)
        .collect()
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

fn without_frames(signature: &str) -> &str {
    signature.rsplit_once(" @ ").map_or(signature, |(head, _)| head)
}

/// Whether the pattern tokens match the text tokens from first to last: a token
/// `<*>` matches any number of tokens, a token holding `<*>` one token by
/// [`token_match`], any other token one equal token.
pub(crate) fn tokens_match(pattern: &[&str], text: &[&str]) -> bool {
    // Iterative wildcard matching with one backtrack point (the last `<*>`).
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == "<*>" {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && token_match(pattern[p], text[t]) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&x| x == "<*>")
}

/// One pattern token against one text token: `<*>` inside the pattern matches any
/// characters (also none); the rest must be equal.
fn token_match(pattern: &str, text: &str) -> bool {
    if !pattern.contains("<*>") {
        return pattern == text;
    }
    let parts: Vec<&str> = pattern.split("<*>").collect();
    let (first, rest) = parts.split_first().expect("split yields one part");
    let Some(mut remaining) = text.strip_prefix(first) else { return false };
    let Some((last, middle)) = rest.split_last() else { return remaining.is_empty() };
    for part in middle {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
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
/// have changed since the proposals were made). Returns the counts and the
/// proposals as decided.
pub(crate) fn merge(
    rules: &mut Vec<Rule>,
    groups: &[Group],
    thresholds: &Thresholds,
    now: &str,
) -> (Merge, Vec<Proposal>) {
    let mut counts = Merge::default();
    let mut decided = Vec::with_capacity(groups.len());
    // Only the rules that could apply to these groups are indexed; the rest are
    // carried over untouched.
    let heads: Vec<String> =
        groups.iter().map(|g| first_token(&shape(&g.signature)).to_owned()).collect();
    let mut positions = candidates(rules, &heads);
    let mut index = Rules::new(positions.iter().map(|&i| rules[i].clone()).collect());
    for group in groups {
        let proposal = propose(&index, std::slice::from_ref(group), thresholds, now).remove(0);
        match proposal.status {
            Status::Known => counts.unchanged += 1,
            Status::Update => {
                // The signature is unchanged, so the index stays valid.
                if let Some(k) = index.position(&proposal.rule.id) {
                    index.rules[k] = proposal.rule.clone();
                    rules[positions[k]] = proposal.rule.clone();
                }
                counts.updated += 1;
            }
            Status::New => {
                index.push(proposal.rule.clone());
                rules.push(proposal.rule.clone());
                positions.push(rules.len() - 1);
                counts.added += 1;
            }
        }
        decided.push(proposal);
    }
    (counts, decided)
}
