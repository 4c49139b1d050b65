//! Template mining across signatures: what masks cannot see (user names, host
//! names, words that vary) is found by comparing the masked signatures.
//!
//! Signatures with the same type, frames and number of message tokens form a group.
//! In a group, for each token position, the signatures that agree on every *other*
//! position are compared. The position becomes `<*>` for them when one of them is or
//! holds a mask (`<NUM>`, `'<PATH>'`, `calvisitor-<*>`) and another holds none (a
//! value the masks did not recognize), or when they hold at least
//! [`MIN_WORD_VARIANTS`] different tokens (`"GET <PATH>"` and `"POST <PATH>"` are two
//! events, so are `boot` and `wait`). A position never becomes `<*>` when no other
//! token of the template is a plain word (letters only, not a log level): `<*> <NUM>`
//! would merge every two-token event of a log, and `<TS> - INFO [<header with
//! masks>] - <*>` every one-word event. This repeats until nothing changes. The input
//! is a set (sorted, counted once), so the same records give the same templates in
//! any order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::normalize::is_placeholder;
use crate::signature::Parts;

/// Different tokens at one position (no bare mask among them, and not some with a
/// mask and some without) that make it a variable. Two is far too few (`opened`,
/// `closed`); on labelled real logs, three to nine different words or masked tokens
/// at one position of otherwise equal messages were nearly always as many events
/// (daemon names before `startup succeeded`, commands before `(command <NUM>)`,
/// reasons after `reason =`: `AuthFail:sts:<*>`, `AssocFail:sts:<*>`).
pub(crate) const MIN_WORD_VARIANTS: usize = 10;

const ANY: u32 = u32::MAX;

/// Type, frames and number of tokens: signatures that can share a template.
type GroupKey<'a> = (&'a str, &'a str, usize);
/// A signature and its interned message tokens.
type Member<'a> = (&'a Parts, Vec<u32>);

/// Maps every signature of `signatures` to its template (itself when nothing varies).
pub(crate) fn mine(signatures: &BTreeSet<Parts>) -> HashMap<Parts, Parts> {
    // Intern the tokens, so that keys are short vectors of integers.
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut words: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<GroupKey<'_>, Vec<Member<'_>>> = BTreeMap::new();
    for parts in signatures {
        let toks: Vec<u32> = tokens(&parts.body)
            .into_iter()
            .map(|w| {
                if w == "<*>" {
                    return ANY;
                }
                *ids.entry(w).or_insert_with(|| {
                    words.push(w);
                    (words.len() - 1) as u32
                })
            })
            .collect();
        groups
            .entry((parts.ty.as_str(), parts.frames.as_str(), toks.len()))
            .or_default()
            .push((parts, toks));
    }
    // Which interned tokens are masks (`<NUM>`, `'<PATH>'`, …) with no word of their
    // own, and which hold a word (`blk_<*>` and `"GET <PATH>"` do).
    let masks: Vec<bool> = words.iter().map(|w| holds_placeholder(w) && !has_word(w)).collect();
    let wordy: Vec<bool> = words.iter().map(|w| is_plain_word(w)).collect();
    let holds: Vec<bool> = words.iter().map(|w| holds_placeholder(w)).collect();
    let mut result = HashMap::with_capacity(signatures.len());
    for (_, mut members) in groups {
        if members.len() >= 2 {
            generalize(&mut members, &Kinds { masks: &masks, wordy: &wordy, holds: &holds });
        }
        for (parts, toks) in members {
            let body: Vec<&str> =
                toks.iter().map(|&t| if t == ANY { "<*>" } else { words[t as usize] }).collect();
            let template =
                Parts { ty: parts.ty.clone(), body: body.join(" "), frames: parts.frames.clone() };
            result.insert(parts.clone(), template);
        }
    }
    result
}

/// The tokens of a normalized message: words, except that a quoted string with
/// spaces (`'git fetch origin'`) is one token, so that values of different lengths
/// line up.
fn tokens(body: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<(usize, u8)> = None;
    let mut offset = 0;
    for word in body.split(' ') {
        let begin = offset;
        offset += word.len() + 1;
        let b = word.as_bytes();
        match start {
            Some((open, quote)) => {
                let closed = b.iter().rposition(|&c| c == quote).is_some_and(|p| {
                    b[p + 1..].iter().all(|c| matches!(c, b',' | b'.' | b':' | b';' | b')' | b']'))
                });
                if closed {
                    out.push(&body[open..begin + word.len()]);
                    start = None;
                }
            }
            None => {
                let quote = b.first().copied().filter(|c| matches!(c, b'\'' | b'"'));
                match quote {
                    Some(q) if !b[1..].contains(&q) => start = Some((begin, q)),
                    _ => out.push(word),
                }
            }
        }
    }
    // An unclosed quote: its words one by one.
    if let Some((open, _)) = start {
        out.extend(body[open..].split(' '));
    }
    out
}

/// Whether a letter of `token` is outside its masks (`blk_<*>` has one, `'<NUM>'`
/// has none).
fn has_word(token: &str) -> bool {
    let mut rest = token;
    loop {
        let (head, tail) = match rest.find('<') {
            Some(open) => match rest[open..].find('>') {
                Some(close) if is_placeholder(&rest[open..open + close + 1]) => {
                    (&rest[..open], &rest[open + close + 1..])
                }
                _ => (&rest[..open + 1], &rest[open + 1..]),
            },
            None => (rest, ""),
        };
        if head.bytes().any(|c| c.is_ascii_alphabetic() || c >= 0x80) {
            return true;
        }
        if tail.is_empty() {
            return false;
        }
        rest = tail;
    }
}

/// Whether `token` is a plain word of the message: letters only (besides `-`, `_`,
/// `'` and surrounding punctuation), two or more, and no log level. Header tokens
/// (`INFO`, `[QuorumPeer[myid=<*>]/<*>:QuorumPeer@<*>]`) do not count, so that a
/// raw line whose only message word varies (`- LOOKING`, `- FOLLOWING`, `- LEADING`)
/// keeps its events apart.
fn is_plain_word(token: &str) -> bool {
    let core = token
        .trim_start_matches(['(', '[', '{', '\'', '"'])
        .trim_end_matches([')', ']', '}', ':', ',', '.', ';', '\'', '"', '!', '?']);
    core.len() >= 2
        && core.bytes().all(|c| c.is_ascii_alphabetic() || matches!(c, b'-' | b'_' | b'\''))
        && core.bytes().any(|c| c.is_ascii_alphabetic())
        && ![
            "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "SEVERE", "CRITICAL",
            "FATAL", "ALERT", "EMERG",
        ]
        .iter()
        .any(|level| core.eq_ignore_ascii_case(level))
}

/// Whether a token is or holds a mask: `<NUM>`, `'<PATH>'`, `blk_<*>`.
fn holds_placeholder(token: &str) -> bool {
    let mut rest = token;
    while let Some(open) = rest.find('<') {
        match rest[open..].find('>') {
            Some(close) if is_placeholder(&rest[open..open + close + 1]) => return true,
            Some(close) => rest = &rest[open + close + 1..],
            None => return false,
        }
    }
    false
}

/// What each interned token is: a bare mask, a token with a word of its own, a token
/// holding a mask.
struct Kinds<'a> {
    masks: &'a [bool],
    wordy: &'a [bool],
    holds: &'a [bool],
}

fn generalize(members: &mut [Member<'_>], kinds: &Kinds<'_>) {
    let Kinds { masks, wordy, holds } = *kinds;
    let len = members[0].1.len();
    let mut key: Vec<u32> = Vec::with_capacity(len);
    loop {
        let mut changed = false;
        for p in 0..len {
            // Signatures agreeing everywhere but at `p`, and the tokens they hold there.
            let mut buckets: HashMap<Vec<u32>, (BTreeSet<u32>, Vec<usize>)> = HashMap::new();
            for (i, (_, toks)) in members.iter().enumerate() {
                key.clear();
                key.extend_from_slice(toks);
                key[p] = ANY;
                let entry = buckets.entry(key.clone()).or_default();
                entry.0.insert(toks[p]);
                entry.1.push(i);
            }
            for (values, indices) in buckets.into_values() {
                let wild = values.contains(&ANY);
                let literal = values.len() - usize::from(wild);
                // A position where some signature holds a mask and another a plain
                // word is a variable: the word is a value the masks did not recognize.
                let masked = wild
                    || values.iter().any(|&v| v != ANY && masks[v as usize])
                    || (values.iter().any(|&v| v != ANY && holds[v as usize])
                        && values.iter().any(|&v| v != ANY && !holds[v as usize]));
                // Tokens of one kind vary at a position far more often between
                // events than within one (`boot`/`wait`/`halt (command <NUM>)`,
                // `reason = AuthFail:sts:<*>`/`AssocFail:sts:<*>`): it takes many of
                // them to be a variable.
                let needed = if masked { 2 } else { MIN_WORD_VARIANTS };
                if literal == 0 || values.len() < needed {
                    continue;
                }
                // A template keeps a plain word besides the variable: `<*> <NUM>`
                // would merge every two-token event of a log.
                let i0 = indices[0];
                let kept = members[i0]
                    .1
                    .iter()
                    .enumerate()
                    .any(|(q, &t)| q != p && t != ANY && wordy[t as usize]);
                if !kept {
                    continue;
                }
                for i in indices {
                    if members[i].1[p] != ANY {
                        members[i].1[p] = ANY;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &str) -> Parts {
        Parts { ty: String::new(), body: body.into(), frames: String::new() }
    }

    fn templates(bodies: &[&str]) -> Vec<String> {
        let set: BTreeSet<Parts> = bodies.iter().map(|b| parts(b)).collect();
        let mined = mine(&set);
        bodies.iter().map(|b| mined[&parts(b)].body.clone()).collect()
    }

    #[test]
    fn varying_words_become_wildcards() {
        let names = ["alice", "bob", "carol", "dave", "erin", "frank", "gus", "hal", "ida", "jo"];
        let mut bodies: Vec<String> =
            names.iter().map(|n| format!("Failed login for {n} from <IP>")).collect();
        bodies.push("Connection closed by <IP>".into());
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let got = templates(&refs);
        assert_eq!(got[0], "Failed login for <*> from <IP>");
        assert_eq!(got[9], "Failed login for <*> from <IP>");
        assert_eq!(got[10], "Connection closed by <IP>");
        // A few words at one position are as many events: `boot`, `wait`, `halt`.
        let got =
            templates(&["boot (command <NUM>)", "wait (command <NUM>)", "halt (command <NUM>)"]);
        assert_eq!(got, ["boot (command <NUM>)", "wait (command <NUM>)", "halt (command <NUM>)"]);
        // A word beside a mask at one position is a value the masks missed.
        let got = templates(&["Link down on <IP>", "Link down on gateway"]);
        assert_eq!(got, ["Link down on <*>"; 2]);
    }

    #[test]
    fn two_variants_are_two_events() {
        let got = templates(&["session opened for <*>", "session closed for <*>"]);
        assert_eq!(got, ["session opened for <*>", "session closed for <*>"]);
    }

    #[test]
    fn quoted_values_of_any_length_are_one_token() {
        assert_eq!(
            tokens("run 'git fetch origin' failed"),
            ["run", "'git fetch origin'", "failed"]
        );
        assert_eq!(tokens("run 'a b', then"), ["run", "'a b',", "then"]);
        assert_eq!(tokens("it's 'open"), ["it's", "'open"]);
        let commands = [
            "'git fetch origin'",
            "'make test'",
            "'npm ci'",
            "'cargo build --release'",
            "'pytest -x'",
            "'go vet ./...'",
            "'ls -l'",
            "'tar xf a'",
            "'cp a b'",
            "'rm -r x'",
        ];
        let bodies: Vec<String> =
            commands.iter().map(|c| format!("Command {c} returned <NUM>")).collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        assert_eq!(templates(&refs), ["Command <*> returned <NUM>"; 10]);
    }

    #[test]
    fn a_template_keeps_a_word() {
        // Two-token events of one log differ in their only word: not one template.
        let got = templates(&[
            "<*>|Step|<*>|onStandStepChanged <NUM>",
            "<*>|Step|<*>|onExtend:<*> <NUM>",
        ]);
        assert_eq!(
            got,
            ["<*>|Step|<*>|onStandStepChanged <NUM>", "<*>|Step|<*>|onExtend:<*> <NUM>"]
        );
    }

    #[test]
    fn two_tokens_holding_masks_are_two_events() {
        let got =
            templates(&["<IP> \"GET <PATH>\" status <NUM>", "<IP> \"POST <PATH>\" status <NUM>"]);
        assert_eq!(got, ["<IP> \"GET <PATH>\" status <NUM>", "<IP> \"POST <PATH>\" status <NUM>"]);
        // A host name the masks saw and one they did not are one variable.
        let got = templates(&[
            "<TS> host-<*> kernel: link down",
            "<TS> authorMacBook-Pro kernel: link down",
        ]);
        assert_eq!(got, ["<TS> <*> kernel: link down"; 2]);
    }

    #[test]
    fn a_few_tokens_holding_masks_are_as_many_events() {
        let reasons = ["AuthFail", "AssocFail", "RoamFail", "DeauthInd"];
        let bodies: Vec<String> =
            reasons.iter().map(|r| format!("notice id: <NUM>, reason = {r}:sts:<*>")).collect();
        let refs: Vec<&str> = bodies.iter().map(String::as_str).collect();
        assert_eq!(templates(&refs), refs);
    }

    #[test]
    fn header_tokens_are_no_words_to_keep() {
        let got = templates(&[
            "<TS> - INFO [Peer[myid=<*>]/<*>:Peer@<*>] - LOOKING",
            "<TS> - INFO [Peer[myid=<*>]/<*>:Peer@<*>] - FOLLOWING",
            "<TS> - INFO [Peer[myid=<*>]/<*>:Peer@<*>] - LEADING",
        ]);
        assert_eq!(got[2], "<TS> - INFO [Peer[myid=<*>]/<*>:Peer@<*>] - LEADING");
    }

    #[test]
    fn independent_of_order() {
        let a = ["x a 1", "x b 1", "x c 1", "x a 2", "y q z"];
        let mut b = a;
        b.reverse();
        let ta = templates(&a);
        let mut tb = templates(&b);
        tb.reverse();
        assert_eq!(ta, tb);
    }
}
