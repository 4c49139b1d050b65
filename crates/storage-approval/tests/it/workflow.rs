//! The whole workflow through the CLI: scan, report ID, template, approve, verify,
//! execute (dry run and real), audit verify, undo; and what the scan proposes.

use crate::util::{
    Dir, check_audit_verifies, execute, path_str, redact, run, snapshot, stderr, stdout,
};

fn sample() -> Dir {
    let d = Dir::new();
    d.file("docs/a.md", "same words\n")
        .file("docs/copy/a.md", "same words\n")
        .file("deep/er/a.md", "same words\n")
        .file("near1.bin", [7u8; 40_000])
        .file("near2.bin", {
            let mut v = vec![7u8; 40_000];
            v[39_999] = 8;
            v
        })
        .file("build/out.tmp", "scratch")
        .file("src/__pycache__/m.cpython-312.pyc", "bytecode")
        .file("logs/2020.log", "old log")
        .file("logs/today.log", "new log")
        .file(".git/objects/x", "same words\n")
        .age("logs/2020.log", 400)
        // One mtime for the three copies: the keep rule decides by folder and depth.
        .mtime("docs/a.md", 1_700_000_000)
        .mtime("docs/copy/a.md", 1_700_000_000)
        .mtime("deep/er/a.md", 1_700_000_000);
    d
}

#[test]
fn scan_proposes_duplicates_junk_and_archive_moves() {
    let d = sample();
    let report = d.out("report.json");
    let out = run(&["scan", path_str(&d.root()), "--report-out", path_str(&report)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    insta::assert_snapshot!("scan_text", redact(&stdout(&out), &d.root()));
    // Content hashes are deterministic and stay; volatile fields, the temp root and
    // mtimes are redacted.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    json["generated_at"] = "[TIME]".into();
    json["runtime_ms"] = 0.into();
    json["host"] = "[HOST]".into();
    json["root"] = "[ROOT]".into();
    for action in json["actions"].as_array_mut().unwrap() {
        action["mtime"] = "[MTIME]".into();
    }
    insta::assert_snapshot!("scan_report", serde_json::to_string_pretty(&json).unwrap());
}

#[test]
fn report_id_is_stable_across_scans_of_the_same_tree() {
    let d = sample();
    let (report, _) = d.scan_and_approve();
    let first = stdout(&run(&["report-id", path_str(&report)]));
    let again = d.out("again.json");
    assert!(
        run(&["scan", path_str(&d.root()), "--report-out", path_str(&again), "--no-cache"])
            .status
            .success()
    );
    assert_eq!(first, stdout(&run(&["report-id", path_str(&again)])));
    assert_eq!(first.trim().len(), 64);
}

#[test]
fn execute_then_undo_restores_the_tree_exactly() {
    let d = sample();
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, approval) = d.scan_and_approve();

    let verify = run(&["verify", "--report", path_str(&report), "--approval", path_str(&approval)]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));

    // Dry run: nothing touched.
    let dry = run(&["execute", "--report", path_str(&report), "--approval", path_str(&approval)]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert!(stdout(&dry).contains("dry run: 5 would be done"), "{}", stdout(&dry));
    assert_eq!(before, snapshot(&d.root(), Some(".tidy-quarantine")));

    let real = execute(&report, &approval, &[]);
    assert_eq!(real.status.code(), Some(0), "{}", stderr(&real));
    insta::assert_snapshot!("execute_text", redact(&stdout(&real), &d.root()));
    let after = snapshot(&d.root(), Some(".tidy-quarantine"));
    assert!(!after.contains_key("docs/copy/a.md") && !after.contains_key("deep/er/a.md"));
    assert!(after.contains_key("docs/a.md"), "the kept copy stays");
    assert!(
        after.contains_key("near1.bin") && after.contains_key("near2.bin"),
        "near duplicates stay"
    );
    assert!(after.contains_key("archive/logs/2020.log") && !after.contains_key("logs/2020.log"));
    assert!(after.contains_key(".git/objects/x"), ".git is never touched");
    // The directories the actions emptied are gone (`src/` held only `__pycache__/`);
    // a directory still holding a file, and the policy's archive dir, stay.
    for gone in ["build", "deep", "docs/copy", "src"] {
        assert!(!after.contains_key(gone), "{gone} is left behind: {after:?}");
    }
    assert!(after.contains_key("docs") && after.contains_key("logs"));
    // Moves keep mtimes.
    let archived =
        std::fs::metadata(d.root().join("archive/logs/2020.log")).unwrap().modified().unwrap();
    assert!(archived.elapsed().unwrap().as_secs() > 399 * 86_400);

    let head = stdout(&real)
        .lines()
        .find_map(|l| l.strip_prefix("audit head: "))
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let log = d.audit_log();
    let ok = run(&["audit", "verify", path_str(&log), "--expect-head", &head]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    // Running again repeats nothing.
    let again = execute(&report, &approval, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert!(stdout(&again).contains("0 done, 5 already done"), "{}", stdout(&again));

    let undo_dry = run(&["undo", "--audit-log", path_str(&log)]);
    assert_eq!(undo_dry.status.code(), Some(0), "{}", stderr(&undo_dry));
    assert_eq!(
        after,
        snapshot(&d.root(), Some(".tidy-quarantine")),
        "an undo dry run touches nothing"
    );
    let undo = run(&["undo", "--audit-log", path_str(&log), "--execute", "--operator", "ana"]);
    assert_eq!(undo.status.code(), Some(0), "{}", stderr(&undo));
    // Same paths, directories included, with the same SHA-256.
    let restored = snapshot(&d.root(), Some(".tidy-quarantine"));
    assert_eq!(before, restored);
    // The archive directories the undo emptied are gone too.
    assert!(!d.root().join("archive").exists());
    check_audit_verifies(&log);
}

#[test]
fn purge_deletes_for_real_and_undo_says_so() {
    let d = Dir::new();
    d.file("a", "x").file("b", "x").file("sub/__pycache__/m.pyc", "bytecode");
    let (report, approval) = d.scan_and_approve();
    let out = execute(&report, &approval, &["--purge"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!d.root().join("b").exists());
    let q = d.root().join(".tidy-quarantine");
    assert!(
        !q.read_dir().unwrap().any(|e| e.unwrap().file_type().unwrap().is_dir()),
        "nothing quarantined"
    );
    assert!(!d.root().join("sub").exists(), "the emptied directories go");
    let undo = run(&["undo", "--audit-log", path_str(&d.audit_log()), "--execute"]);
    assert_eq!(undo.status.code(), Some(3));
    assert!(stdout(&undo).contains("purged"), "{}", stdout(&undo));
    // The purged files cannot come back, but the directories they were in do.
    assert!(d.root().join("sub/__pycache__").is_dir(), "{}", stdout(&undo));
    assert!(stdout(&undo).contains("mkdir   sub/__pycache__/"), "{}", stdout(&undo));
}

#[test]
fn quarantine_on_another_file_system_is_copied_and_undone() {
    // /dev/shm is a tmpfs on Linux: a rename there fails with EXDEV.
    let Some(elsewhere) = crate::util::other_fs() else { return };
    let d = Dir::new();
    d.file("a/one", "dup").file("b/one", "dup").age("a/one", 5).age("b/one", 3);
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, approval) = d.scan_and_approve();
    let out = execute(&report, &approval, &["--quarantine", path_str(elsewhere.path())]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!d.root().join("b/one").exists());
    let copies = crate::util::files(elsewhere.path(), Some(".storage-approval-quarantine"));
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies.keys().next().unwrap().ends_with("/b/one"));
    assert!(!d.root().join("b").exists(), "the emptied directory is gone");
    let undo = run(&["undo", "--audit-log", path_str(&d.audit_log()), "--execute"]);
    assert_eq!(undo.status.code(), Some(0), "{}", stderr(&undo));
    assert_eq!(before, snapshot(&d.root(), Some(".tidy-quarantine")));
    let mtime = std::fs::metadata(d.root().join("b/one")).unwrap().modified().unwrap();
    assert!(mtime.elapsed().unwrap().as_secs() > 2 * 86_400, "the copy kept its mtime");
}

#[test]
fn rescan_of_an_unchanged_tree_uses_the_hash_cache() {
    let d = Dir::new();
    for i in 0..20 {
        d.file(&format!("d{i}/f"), format!("content {}", i % 5));
    }
    let report = d.out("r.json");
    let scan = || {
        let out = run(&[
            "--format",
            "json",
            "scan",
            path_str(&d.root()),
            "--report-out",
            path_str(&report),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let first = scan();
    assert!(first["bytes_hashed"].as_u64().unwrap() > 0);
    let second = scan();
    assert_eq!(second["bytes_hashed"], 0, "{second}");
    assert_eq!(second["cache_hits"], 20);
    assert_eq!(first["report_id"], second["report_id"]);
}

#[test]
fn hard_links_are_not_duplicates_and_symlinks_are_not_followed() {
    let d = Dir::new();
    d.file("a", "same");
    std::fs::hard_link(d.root().join("a"), d.root().join("hard")).unwrap();
    let outside = d.out("outside.tmp");
    std::fs::write(&outside, "same").unwrap();
    std::os::unix::fs::symlink(&outside, d.root().join("link.tmp")).unwrap();
    std::os::unix::fs::symlink(d.path(), d.root().join("loop")).unwrap();
    let report = d.out("r.json");
    let out =
        run(&["--format", "json", "scan", path_str(&d.root()), "--report-out", path_str(&report)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["actions"], 0, "{summary}");
    assert_eq!(summary["symlinks_not_followed"], 2);
}

#[test]
fn protected_globs_are_never_proposed_and_win_the_keep_rule() {
    let d = Dir::new();
    d.file("vault/deep/k", "dup").file("a", "dup").file("vault/x.tmp", "junk");
    std::fs::write(
        d.out("p.toml"),
        "[protect]\nglobs = [\"vault/\"]\n[junk]\npatterns = [\"**/*.tmp\"]\n",
    )
    .unwrap();
    let report = d.out("r.json");
    let out = run(&[
        "scan",
        path_str(&d.root()),
        "--policy",
        path_str(&d.out("p.toml")),
        "--report-out",
        path_str(&report),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let actions = r["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert_eq!(actions[0]["src"], "a");
    assert_eq!(actions[0]["kept"], "vault/deep/k");
    assert_eq!(actions[0]["keep_reason"], "protected by the policy");
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let out = run(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("help", stdout(&out));
    assert_eq!(run(&["scan"]).status.code(), Some(2), "a usage error is exit 2");
}

#[test]
fn template_is_not_enough_to_execute() {
    let d = Dir::new();
    d.file("a.tmp", "x");
    let (report, _) = d.scan_and_approve();
    let template = d.out("template.json");
    let out = run(&["template", path_str(&report), "--out", path_str(&template)]);
    assert!(out.status.success());
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&template).unwrap()).unwrap();
    assert_eq!(
        t["report_id"].as_str().unwrap(),
        stdout(&run(&["report-id", path_str(&report)])).trim()
    );
    let out = execute(&report, &template, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no operator"), "{}", stderr(&out));
    assert!(d.root().join("a.tmp").exists());
}

#[test]
fn the_same_report_can_run_again_after_an_undo() {
    let d = Dir::new();
    d.file("a", "dup").file("b", "dup").file("c.tmp", "junk");
    let before = snapshot(&d.root(), Some(".tidy-quarantine"));
    let (report, approval) = d.scan_and_approve();
    let log = d.audit_log();
    let undo = || run(&["undo", "--audit-log", path_str(&log), "--execute"]);
    for round in 0..2 {
        let out = execute(&report, &approval, &[]);
        assert!(stdout(&out).contains("2 done, 0 already done"), "round {round}: {}", stdout(&out));
        assert!(!d.root().join("b").exists() && !d.root().join("c.tmp").exists());
        let out = undo();
        assert!(stdout(&out).contains("2 done, 0 already done"), "round {round}: {}", stdout(&out));
        assert_eq!(before, snapshot(&d.root(), Some(".tidy-quarantine")));
    }
    // Nothing left to undo.
    assert!(stdout(&undo()).contains("0 done, 2 already done"));
    check_audit_verifies(&log);
}

#[test]
fn a_quarantine_inside_root_is_never_scanned() {
    let d = Dir::new();
    d.file("a", "dup").file("b", "dup");
    let (report, approval) = d.scan_and_approve();
    let trash = d.root().join("trash");
    let out = execute(&report, &approval, &["--quarantine", path_str(&trash)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(trash.join(".storage-approval-quarantine").exists());
    // The quarantined copy of `b` duplicates `a`, but is not proposed again.
    let again = d.out("again.json");
    let out =
        run(&["--format", "json", "scan", path_str(&d.root()), "--report-out", path_str(&again)]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["actions"], 0, "{summary}");
}

#[test]
fn json_output_for_machines() {
    let d = Dir::new();
    d.file("a", "dup").file("b", "dup").file("c.tmp", "junk");
    let (report, approval) = d.scan_and_approve();
    let out = run(&[
        "--format",
        "json",
        "execute",
        "--report",
        path_str(&report),
        "--approval",
        path_str(&approval),
        "--execute",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["done"], 2);
    assert_eq!(v["dry_run"], false);
    assert_eq!(v["outcomes"][0]["src"], "b");
    assert_eq!(v["outcomes"][0]["status"], "done");
    assert_eq!(v["head"]["entries"], 4);
    let head = v["head"]["hash"].as_str().unwrap().to_owned();

    let log = d.audit_log();
    let out = run(&["--format", "json", "audit", "verify", path_str(&log), "--expect-head", &head]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!({ "ok": true, "head": head, "entries": 4 }));

    let text = std::fs::read_to_string(&log).unwrap().replacen(
        "\"phase\":\"done\"",
        "\"phase\":\"skipped\"",
        1,
    );
    std::fs::write(&log, text).unwrap();
    let out = run(&["--format", "json", "audit", "verify", path_str(&log)]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["line"], 3);
}

#[test]
fn the_common_flags_policy_as_json_quiet_notes_and_colour_that_keeps_columns() {
    let out = run(&["--format", "json", "policy"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(policy["archive"]["dest"], "archive");
    assert_eq!(policy["junk"]["patterns"][0], "**/*.tmp");
    assert!(run(&["--format", "human", "policy"]).stdout.starts_with(b"# storage-approval"));

    let d = Dir::new();
    d.file("a", "dup").file("b", "dup").file("c.tmp", "junk");
    let report = d.out("report.json");
    let out = run(&["scan", path_str(&d.root()), "--report-out", path_str(&report)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let approve = ["approve", path_str(&report), "--operator", "ana", "--out"];
    let approval = d.out("approval.json");
    let out = run(&[&approve[..], &[path_str(&approval)]].concat());
    assert!(stderr(&out).starts_with("storage-approval: approved report "), "{}", stderr(&out));
    let out = run(&[&["-q"], &approve[..], &[path_str(&approval)]].concat());
    assert_eq!(stderr(&out), "", "-q leaves only errors");

    // Coloured or not, the columns line up: padding is applied before the colour.
    let dry = ["execute", "--report", path_str(&report), "--approval", path_str(&approval)];
    let plain = String::from_utf8(run(&dry).stdout).unwrap();
    let coloured =
        String::from_utf8(run(&[&["--color", "always"], &dry[..]].concat()).stdout).unwrap();
    assert!(coloured.contains("\x1b["), "{coloured}");
    let strip = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    assert_eq!(strip.replace_all(&coloured, ""), plain);
}
