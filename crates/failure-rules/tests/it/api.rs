//! The library API: signatures of tracebacks, lookup, grouping and merging.

use failure_rules::{
    AnalyzeOptions, Record, Rules, Status, analyze, bootstrap_rules, group_records, parse,
    signature,
};

fn record(error_type: &str, message: &str, run: &str) -> Record {
    Record {
        error_type: error_type.into(),
        message: message.into(),
        traceback: None,
        timestamp: None,
        run_id: run.into(),
        scope: None,
        source: "test".into(),
    }
}

#[test]
fn traceback_signature_is_type_first_line_and_in_app_frames() {
    let traceback = r#"Traceback (most recent call last):
  File "/srv/app/autopack/executor.py", line 88, in run_phase
    rid = payload["run_id"]
  File "/usr/lib/python3.11/site-packages/pydantic/main.py", line 12, in __getitem__
  File "/home/ci/work/autopack/store/__init__.py", line 7, in load
KeyError: 'run_id'"#;
    let sig = signature("KeyError", "'run_id'\nwhile loading run 42", Some(traceback));
    assert_eq!(sig, "KeyError: 'run_id' @ executor:run_phase > store:load");
    // Another machine, other line numbers: the same signature.
    let moved = traceback.replace("/srv/app", "/opt/build").replace("line 88", "line 91");
    assert_eq!(signature("KeyError", "'run_id'", Some(&moved)), sig);
    let java = "java.lang.IllegalStateException: closed\n\tat com.acme.Pool.take(Pool.java:41)\n\tat java.util.concurrent.FutureTask.run(FutureTask.java:266)";
    assert_eq!(
        signature("java.lang.IllegalStateException", "closed", Some(java)),
        "java.lang.IllegalStateException: closed @ com.acme.Pool:take"
    );
}

#[test]
fn bootstrap_rules_cover_the_common_errors() {
    let rules = Rules::bootstrap();
    assert_eq!(rules.rules().len(), 8);
    let cases = [
        ("PermissionError", "[Errno 13] Permission denied: '/x'", "PermissionError: <*>"),
        (
            "FileNotFoundError",
            "[Errno 2] No such file or directory: 'a.txt'",
            "FileNotFoundError: <*>",
        ),
        ("TimeoutError", "timed out", "TimeoutError: <*>"),
        (
            "requests.exceptions.HTTPError",
            "429 Client Error: Too Many Requests for url: https://x.io/a",
            "<*>: <*> 429 <*> Too Many Requests <*>",
        ),
        ("RateLimitError", "got 429 Too Many Requests", "<*>: <*> 429 <*> Too Many Requests <*>"),
        (
            "sqlite3.OperationalError",
            "database is locked",
            "sqlite3.OperationalError: database is locked",
        ),
        (
            "json.decoder.JSONDecodeError",
            "Expecting value: line 1 column 1 (char 0)",
            "<*>JSONDecodeError: <*>",
        ),
        ("ConnectionError", "connection refused", "<*>ConnectionError: <*>"),
        ("UnicodeDecodeError", "'utf-8' codec can't decode byte 0xff", "UnicodeDecodeError: <*>"),
    ];
    for (t, m, expected) in cases {
        let rule = rules.lookup(t, m).unwrap_or_else(|| panic!("no rule for {t}: {m}"));
        assert_eq!(rule.signature, expected, "{t}: {m}");
    }
    assert!(rules.lookup("sqlite3.OperationalError", "no such table: runs").is_none());
    assert!(rules.lookup("KeyError", "'x'").is_none());
    // Matching is by whole tokens from the first to the last, never by substring:
    // a `429` in a name, alone or quoted is no HTTP 429.
    for sig in ["KeyError: 'x' @ mod429:run", "ValueError: 429", "ValueError: '429'"] {
        assert!(rules.lookup_signature(sig).is_none(), "{sig}");
    }
    for (t, m) in [("KeyError", "'x'"), ("ValueError", "429"), ("ValueError", "'429'")] {
        assert!(rules.lookup(t, m).is_none(), "{t}: {m}");
    }
    // A template matches only where its literal tokens stand.
    let mut extra = bootstrap_rules();
    let mut rule = extra[0].clone();
    rule.signature = "OSError: disk <*> full".into();
    rule.id = failure_rules::rule_id(&rule.signature);
    extra.push(rule);
    let rules = Rules::new(extra);
    assert!(rules.lookup_signature("OSError: disk <PATH> full").is_some());
    assert!(rules.lookup_signature("OSError: disk <PATH> full again").is_none());
    assert!(rules.lookup_signature("OSError: the disk <PATH> full").is_none());
}

#[test]
fn the_old_429_rule_is_brought_to_its_anchored_form_on_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.json");
    let old_id = "rule_f058310bf8b612158110f8cb64a33ade74f6dc8f4f2312cf2956ef59db779359";
    let text = serde_json::json!({"version": 1, "rules": [{
        "id": old_id, "created_at": "2026-01-03T00:00:00Z", "signature": "<*>: <*>429<*>",
        "recommendation": "r", "confidence": "high", "evidence": [], "frequency": 0,
        "scope": "api", "enforcement": "guidance"
    }]});
    std::fs::write(&path, text.to_string()).expect("write");
    let rules = Rules::new(failure_rules::load_rules(&path).expect("loads"));
    assert_eq!(rules.rules()[0].signature, "<*>: <*> 429 <*> Too Many Requests <*>");
    assert!(rules.get(old_id).is_some());
    assert!(rules.lookup("ValueError", "429").is_none());
}

#[test]
fn the_most_specific_rule_wins() {
    let mut rules = bootstrap_rules();
    let mut specific = rules[2].clone();
    specific.signature = "TimeoutError: lock <*> not acquired after <DUR>".into();
    specific.id = failure_rules::rule_id(&specific.signature);
    specific.recommendation = "take locks in canonical order".into();
    rules.push(specific);
    let rules = Rules::new(rules);
    let hit = rules.lookup("TimeoutError", "lock 'queue' not acquired after 30s").expect("rule");
    assert_eq!(hit.recommendation, "take locks in canonical order");
    assert_eq!(
        rules.lookup("TimeoutError", "read timed out").expect("rule").signature,
        "TimeoutError: <*>"
    );
}

#[test]
fn groups_are_ranked_by_count_then_signature() {
    let records = vec![
        record("B", "b happened", "r1"),
        record("A", "a happened", "r1"),
        record("C", "c happened", "r1"),
        record("C", "c happened", "r2"),
    ];
    let groups = group_records(&records);
    let order: Vec<(&str, u64)> = groups.iter().map(|g| (g.signature.as_str(), g.count)).collect();
    assert_eq!(order, [("C: c happened", 2), ("A: a happened", 1), ("B: b happened", 1)]);
    assert_eq!(groups[0].runs.len(), 2);
}

#[test]
fn mining_finds_words_that_vary_and_max_limits() {
    let records: Vec<Record> = ["alice", "bob", "carol", "dave"]
        .iter()
        .map(|u| record("AuthError", &format!("login refused for user {u}"), "r"))
        .chain(std::iter::once(record("AuthError", "login refused for service", "r")))
        .collect();
    let groups = group_records(&records);
    assert_eq!(groups[0].signature, "AuthError: login refused for user <*>");
    assert_eq!(groups[0].count, 4);
    let loaded = failure_rules::Loaded { records, ..Default::default() };
    let analysis = analyze(
        &loaded,
        &Rules::bootstrap(),
        &AnalyzeOptions { max: Some(1), ..Default::default() },
    );
    assert_eq!((analysis.groups, analysis.proposals.len()), (2, 1));
    assert_eq!(analysis.proposals[0].status, Status::New);
}

#[test]
fn confidence_thresholds() {
    let t = failure_rules::Thresholds::default();
    assert_eq!(
        [t.confidence(4), t.confidence(5), t.confidence(9), t.confidence(10)].map(|c| c.as_str()),
        ["low", "medium", "medium", "high"]
    );
    let custom = failure_rules::Thresholds { high: 3, medium: 2 };
    assert_eq!(custom.confidence(3).as_str(), "high");
}

#[test]
fn records_parse_from_json_arrays_and_lines() {
    let loaded = parse(br#"[{"type": "A", "message": "x"}, {"error_type": "B", "message": "y", "run_id": "r9"}, 3]"#, "f.json");
    assert_eq!(loaded.records.len(), 2);
    assert_eq!(loaded.records[1].run_id, "r9");
    assert_eq!(loaded.skipped[0].reason, "a record must be a JSON object");
    let loaded =
        parse(b"{\"type\": \"A\", \"message\": \"x\"}\n{\"type\": \"A\"}\n{oops}\n", "f.jsonl");
    assert_eq!(loaded.records.len(), 1);
    let reasons: Vec<(&str, &str)> =
        loaded.skipped.iter().map(|s| (s.source.as_str(), s.reason.as_str())).collect();
    assert_eq!(reasons[0], ("f.jsonl:2", "record has no `message`"));
    assert!(
        reasons[1].0 == "f.jsonl:3" && reasons[1].1.starts_with("malformed JSON"),
        "{reasons:?}"
    );
}

#[test]
fn one_slot_of_different_kinds_is_one_group() {
    // An address in one record, a host name in the next, nothing in a third: one
    // event, one group, one id; the group's signature is the one most records have.
    let records = [
        record("ConnectionError", "connect to 10.0.0.1 (db) failed after 3 tries", "a"),
        record("ConnectionError", "connect to 10.0.0.2 (db) failed after 0x1f tries", "b"),
        record("ConnectionError", "connect to db.example.com (db) failed after 3 tries", "c"),
        record("ConnectionError", "connect to 10.0.0.9 (db) failed after 4 tries", "d"),
    ];
    let groups = group_records(&records);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].count, 4);
    assert_eq!(groups[0].id, failure_rules::rule_id(&groups[0].signature));
    assert_eq!(
        failure_rules::shape(&groups[0].signature),
        "ConnectionError: connect to <*> (db) failed after <*> tries"
    );
}

#[test]
fn rules_of_an_older_normalizer_keep_their_ids_as_aliases() {
    // A rule written by `fr-norm-2`, whose id hashed the printed signature.
    let old_id = "rule_fee1b172d3365eee78b30873141f6472717b3445d9d6f7dfe78e1e17e0f5297f";
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rules.json");
    let text = serde_json::json!({"version": 1, "rules": [{
        "id": old_id, "created_at": "2026-01-03T00:00:00Z",
        "signature": "sqlite3.OperationalError: database is locked",
        "recommendation": "r", "confidence": "high", "evidence": ["run-1"], "frequency": 9,
        "scope": "database", "enforcement": "guidance"
    }, {
        "id": "rule_hand_written", "created_at": "2026-01-03T00:00:00Z",
        "signature": "KeyError: <*>", "recommendation": "r", "confidence": "low",
        "scope": "general", "enforcement": "guidance"
    }]});
    std::fs::write(&path, text.to_string()).expect("write");
    let rules = Rules::new(failure_rules::load_rules(&path).expect("loads"));
    let rule = rules.get(old_id).expect("found by its old id");
    assert_eq!(rule.id, failure_rules::rule_id("sqlite3.OperationalError: database is locked"));
    assert_eq!(rule.aliases, [old_id]);
    assert_eq!(rules.get(&rule.id).map(|r| r.frequency), Some(9));
    // An id that no version derived from its signature is left as it is.
    assert!(rules.get("rule_hand_written").is_some_and(|r| r.aliases.is_empty()));
}

#[test]
fn a_rule_with_frames_applies_to_the_same_frames_or_unknown_ones() {
    let mut rules = bootstrap_rules();
    let mut rule = rules[0].clone();
    rule.signature = "KeyError: 'run_id' @ jobs:run > store:load".into();
    rule.id = failure_rules::rule_id(&rule.signature);
    rules.push(rule);
    let rules = Rules::new(rules);
    assert!(rules.lookup_signature("KeyError: 'run_id' @ jobs:run > store:load").is_some());
    // Without a traceback the frames are unknown: the rule applies.
    assert!(rules.lookup("KeyError", "'run_id'").is_some());
    // Other frames are another failure.
    assert!(
        rules.lookup_signature("KeyError: 'run_id' @ test_store:test_load > store:load").is_none()
    );
    // A rule without frames applies whatever the frames are.
    assert_eq!(
        rules.lookup_signature("PermissionError: denied @ a:b").map(|r| r.signature.as_str()),
        Some("PermissionError: <*>")
    );
}

#[test]
fn one_lookup_without_an_index_finds_what_the_index_finds() {
    let mut rules = bootstrap_rules();
    for (k, sig) in [
        "TimeoutError: lock <*> not acquired after <DUR>",
        "KeyError: 'run_id' @ jobs:run > store:load",
        "<*>Error: disk <*> full",
        "ValueError: bad id <NUM>",
    ]
    .iter()
    .enumerate()
    {
        let mut rule = rules[0].clone();
        rule.signature = (*sig).into();
        rule.id = format!("rule_extra_{k}");
        rules.push(rule);
    }
    let index = Rules::new(rules.clone());
    for sig in [
        "TimeoutError: lock 'q' not acquired after <DUR>",
        "TimeoutError: read timed out",
        "KeyError: 'run_id' @ jobs:run > store:load",
        "KeyError: 'run_id'",
        "KeyError: 'run_id' @ other:frame",
        "OSError: disk <PATH> full",
        "ValueError: bad id <HEX>",
        "HTTPError: 429 Client Error: Too Many Requests for url: <URL>",
        "ValueError: 429",
        "NothingError: at all",
    ] {
        let a = index.lookup_signature(sig).map(|r| r.id.clone());
        let b = failure_rules::find_rule(&rules, sig).map(|r| r.id.clone());
        assert_eq!(a, b, "{sig}");
    }
}
