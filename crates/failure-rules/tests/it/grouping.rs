//! Grouping accuracy of `failure-rules normalize` on raw log lines of 16 systems.
//!
//! `tests/data/loghub-mini.tsv` holds hand-written lines in the shape of the Loghub-2k
//! samples (header included: date, time, level, component, pid…), each labelled with
//! the event it belongs to. A line counts as right when its predicted group holds
//! exactly the lines of its event (the "grouping accuracy" of the log-parsing
//! literature); a line is "mixed" when its predicted group holds lines of more than
//! one event. The floors below are the measured values minus a little slack: they
//! catch a rule change that over-merges or over-splits, without per-source tuning.
//!
//! Run with `-- --nocapture` to see the per-system table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write as _;
use std::process::{Command, Stdio};

use assert_cmd::cargo::CommandCargoExt as _;

const DATA: &str = include_str!("../data/loghub-mini.tsv");

/// (label, raw line) of every fixture line.
fn labelled() -> Vec<(&'static str, &'static str)> {
    DATA.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once('\t').expect("label TAB line"))
        .collect()
}

/// The ids `normalize --format jsonl` gives the lines, in order (a group is an id:
/// signatures that differ only in the kinds of their masks share one).
fn predict(lines: &[&str], mine: bool) -> Vec<String> {
    let mut c = Command::cargo_bin("failure-rules").expect("the failure-rules binary is built");
    c.args(["normalize", "--format", "jsonl"]);
    if mine {
        c.arg("--mine");
    }
    let mut child =
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("failure-rules runs");
    let mut input = lines.join("\n");
    input.push('\n');
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("failure-rules exits");
    assert!(out.status.success(), "normalize failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["id"].as_str().expect("id").to_owned()
        })
        .collect()
}

/// (grouping accuracy, share of lines in mixed groups) of each system and overall,
/// and the signatures of the wrongly grouped lines.
struct Score {
    per_system: BTreeMap<String, (usize, usize, usize)>,
    wrong: Vec<(String, String)>,
}

fn score(labels: &[&str], predicted: &[String]) -> Score {
    let mut truth: HashMap<&str, HashSet<usize>> = HashMap::new();
    let mut groups: HashMap<&str, HashSet<usize>> = HashMap::new();
    for (i, (l, p)) in labels.iter().zip(predicted).enumerate() {
        truth.entry(l).or_default().insert(i);
        groups.entry(p.as_str()).or_default().insert(i);
    }
    let mut per_system: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut wrong = Vec::new();
    for (l, p) in labels.iter().zip(predicted) {
        let system = system_of(l).to_owned();
        let e = per_system.entry(system).or_default();
        e.0 += 1;
        let group = &groups[p.as_str()];
        if *group == truth[l] {
            e.1 += 1;
        } else {
            wrong.push(((*l).to_owned(), p.clone()));
        }
        if group.iter().any(|&j| labels[j] != *l) {
            e.2 += 1;
        }
    }
    Score { per_system, wrong }
}

#[expect(clippy::print_stdout, reason = "the per-system table is what `--nocapture` shows")]
fn report(name: &str, s: &Score) -> (f64, f64) {
    println!("{name}: system  accuracy  mixed");
    let (mut acc, mut mixed) = (0.0, 0.0);
    for (system, (n, right, mix)) in &s.per_system {
        let a = *right as f64 / *n as f64;
        let m = *mix as f64 / *n as f64;
        println!("  {system:<12} {a:.3}  {:.1}%", m * 100.0);
        acc += a;
        mixed += m;
    }
    let k = s.per_system.len() as f64;
    let (acc, mixed) = (acc / k, mixed / k);
    println!("  {:<12} {acc:.3}  {:.1}%", "mean", mixed * 100.0);
    for (label, sig) in &s.wrong {
        println!("  wrong {label}: {sig}");
    }
    (acc, mixed)
}

fn system_of(label: &str) -> &str {
    label.rsplit_once('-').map_or(label, |(s, _)| s)
}

/// Scores every system's lines on their own, one `normalize` run per system, as a
/// judge feeds one log at a time (mining then sees one system's lines only).
fn check(mine: bool, min_accuracy: f64, max_mixed: f64) {
    let data = labelled();
    let mut systems: Vec<&str> = data.iter().map(|(l, _)| system_of(l)).collect();
    systems.dedup();
    assert_eq!(systems.len(), 16, "the fixture covers 16 systems, each in one block");
    let mut labels: Vec<&str> = Vec::new();
    let mut predicted: Vec<String> = Vec::new();
    for system in systems {
        let part: Vec<&(&str, &str)> =
            data.iter().filter(|(l, _)| system_of(l) == system).collect();
        let lines: Vec<&str> = part.iter().map(|(_, m)| *m).collect();
        let got = predict(&lines, mine);
        assert_eq!(got.len(), lines.len(), "one output line per input line");
        labels.extend(part.iter().map(|(l, _)| *l));
        // Signatures of different systems never share a group.
        predicted.extend(got.into_iter().map(|sig| format!("{system}\t{sig}")));
    }
    let s = score(&labels, &predicted);
    let (acc, mixed) = report(if mine { "--mine" } else { "stateless" }, &s);
    assert!(acc >= min_accuracy, "mean grouping accuracy {acc:.3} < {min_accuracy}");
    assert!(mixed <= max_mixed, "mean share in mixed groups {mixed:.3} > {max_mixed}");
}

#[test]
fn stateless_grouping_accuracy() {
    check(false, 0.92, 0.01);
}

#[test]
fn mined_grouping_accuracy() {
    check(true, 0.92, 0.01);
}
