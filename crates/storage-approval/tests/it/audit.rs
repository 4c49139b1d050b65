//! `audit verify` on real logs: any edited, dropped, inserted or reordered line is
//! found and named; `--expect-head` catches a cut-off tail; a torn line is an error
//! for verify and is repaired (and logged) by the next execute.

use crate::util::{
    Dir, audit_entries, check_audit_verifies, execute, path_str, run, stderr, stdout,
};

/// A real audit log of several actions, and the head execute printed.
fn real_log() -> (Dir, Vec<String>, String) {
    let d = Dir::new();
    for i in 0..4 {
        d.file(&format!("j{i}.tmp"), format!("junk {i}"));
    }
    let (report, approval) = d.scan_and_approve();
    let out = execute(&report, &approval, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let head =
        stdout(&out).lines().find_map(|l| l.strip_prefix("audit head: ")).unwrap().to_owned();
    let head = head.split(' ').next().unwrap().to_owned();
    let lines =
        std::fs::read_to_string(d.audit_log()).unwrap().lines().map(str::to_owned).collect();
    (d, lines, head)
}

fn verify(d: &Dir, lines: &[String], expect: Option<&str>) -> (Option<i32>, String) {
    let log = d.out("tampered.jsonl");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&log, text).unwrap();
    let mut args = vec!["audit", "verify", path_str(&log)];
    if let Some(h) = expect {
        args.extend(["--expect-head", h]);
    }
    let out = run(&args);
    (out.status.code(), stderr(&out))
}

#[test]
fn intact_log_verifies_with_its_head() {
    let (d, lines, head) = real_log();
    assert_eq!(lines.len(), 8, "an intent and a result per action");
    assert_eq!(verify(&d, &lines, Some(&head)), (Some(0), String::new()));
}

#[test]
fn every_edited_line_is_found() {
    let (d, lines, _) = real_log();
    for i in 0..lines.len() {
        for (from, to) in [
            ("\"bytes\":", "\"bytes\":1"),
            ("\"operator\":\"ana\"", "\"operator\":\"eve\""),
            ("tmp", "tmq"),
        ] {
            let mut edited = lines.clone();
            edited[i] = edited[i].replacen(from, to, 1);
            assert_ne!(edited[i], lines[i]);
            let (code, err) = verify(&d, &edited, None);
            assert_eq!(code, Some(1), "line {} edited with {to}: {err}", i + 1);
            assert!(err.contains(&format!(":{}: audit chain broken", i + 1)), "{err}");
        }
    }
}

#[test]
fn dropped_inserted_and_reordered_lines_are_found() {
    let (d, lines, head) = real_log();
    for i in 0..lines.len() - 1 {
        let mut dropped = lines.clone();
        dropped.remove(i);
        let (code, err) = verify(&d, &dropped, None);
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!(":{}:", i + 1)), "drop {i}: {err}");

        let mut inserted = lines.clone();
        inserted.insert(i + 1, lines[i].clone());
        let (code, err) = verify(&d, &inserted, None);
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!(":{}:", i + 2)), "insert {i}: {err}");

        let mut swapped = lines.clone();
        swapped.swap(i, i + 1);
        let (code, err) = verify(&d, &swapped, None);
        assert_eq!(code, Some(1));
        assert!(err.contains(&format!(":{}:", i + 1)), "swap {i}: {err}");
    }
    // Dropping the last line leaves a valid chain: only the expected head tells.
    let cut = &lines[..lines.len() - 1];
    assert_eq!(verify(&d, cut, None).0, Some(0));
    let (code, err) = verify(&d, cut, Some(&head));
    assert_eq!(code, Some(1));
    assert!(err.contains("cut off"), "{err}");
}

#[test]
fn torn_line_is_an_error_then_repaired_by_execute() {
    let d = Dir::new();
    d.file("a.tmp", "a").file("b.tmp", "b");
    let (report, approval) = d.scan_and_approve();
    assert_eq!(execute(&report, &approval, &[]).status.code(), Some(0));
    let log = d.audit_log();
    // Simulate a crash mid-write: the last result line is cut in half.
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, &text[..text.len() - 40]).unwrap();
    let out = run(&["audit", "verify", path_str(&log)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(":4: audit chain broken: truncated line"), "{}", stderr(&out));
    // The next execute drops the torn line, logs the repair, and finishes the action
    // whose result was lost (the file is in the quarantine already).
    let again = execute(&report, &approval, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    check_audit_verifies(&log);
    let entries = audit_entries(&log);
    assert_eq!(entries[3]["phase"], "repair");
    assert_eq!(entries[4]["phase"], "done");
    assert_eq!(entries[4]["reason"], "completed by an interrupted run");
}
