//! storage-approval end to end: scan → approve → execute → audit verify → undo on a
//! generated tree, checking every byte; the keep rule on a documentation tree
//! duplicated into `backup/` (checked with the real `doclinks` binary); and the demo
//! on the example repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::e2e::ensure;
use crate::util::{Tools, show};

/// Every regular file below `dir` (relative path → contents), skipping `skip`.
pub(crate) fn contents(dir: &Path, skip: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    fn walk(
        root: &Path,
        dir: &Path,
        skip: &str,
        out: &mut BTreeMap<String, Vec<u8>>,
    ) -> Result<(), String> {
        for entry in
            std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            let rel =
                path.strip_prefix(root).map_err(|e| e.to_string())?.to_string_lossy().into_owned();
            let ft = entry.file_type().map_err(|e| e.to_string())?;
            if rel == skip {
                continue;
            } else if ft.is_dir() {
                walk(root, &path, skip, out)?;
            } else if ft.is_file() {
                out.insert(rel, std::fs::read(&path).map_err(|e| e.to_string())?);
            }
        }
        Ok(())
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out)?;
    Ok(out)
}

fn run(tools: &Tools, args: &[&str]) -> Result<Output, String> {
    tools
        .command("storage-approval")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| e.to_string())
}

fn expect_code(out: &Output, code: i32, what: &str) -> Result<String, String> {
    ensure(out.status.code() == Some(code), || {
        format!(
            "{what}: exit {:?}, expected {code}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(path.parent().expect("a file has a parent"))
        .map_err(|e| e.to_string())?;
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

pub(crate) fn make_old(path: &Path, days: u64) -> Result<(), String> {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .map_err(|e| format!("cannot set the mtime of {}: {e}", path.display()))
}

fn head_of(stdout: &str) -> Result<String, String> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("audit head: "))
        .and_then(|l| l.split(' ').next())
        .map(str::to_owned)
        .ok_or_else(|| format!("execute printed no audit head:\n{stdout}"))
}

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = tmp.path().join("tree");
    // 30 duplicate groups of three, near-duplicates that differ in one byte, junk,
    // old logs, a protected dir and a symlink out of the tree.
    for g in 0..30 {
        let body: Vec<u8> = (0..(1000 + g * 37)).map(|i| (i * 7 + g) as u8).collect();
        for copy in ["a", "b/c", "d/e/f"] {
            write(&root.join(format!("{copy}/g{g}.bin")), &body)?;
        }
        let mut near = body.clone();
        near[g] ^= 1;
        write(&root.join(format!("near/g{g}.bin")), &near)?;
        write(&root.join(format!("tmp/{g}.tmp")), format!("junk {g}").as_bytes())?;
    }
    for day in 0..10 {
        let log = root.join(format!("logs/day{day}.log"));
        write(&log, format!("log of day {day}").as_bytes())?;
        make_old(&log, if day < 5 { 400 } else { 1 })?;
    }
    write(
        &root.join("vault/g0.bin"),
        &std::fs::read(root.join("a/g0.bin")).map_err(|e| e.to_string())?,
    )?;
    write(&tmp.path().join("outside.tmp"), b"outside")?;
    std::os::unix::fs::symlink(tmp.path().join("outside.tmp"), root.join("link.tmp"))
        .map_err(|e| e.to_string())?;
    write(&tmp.path().join("policy.toml"), b"[junk]\npatterns = [\"**/*.tmp\"]\n[archive]\nolder_than_days = 30\ndirs = [\"logs\"]\ndest = \"archive\"\n[protect]\nglobs = [\"vault/\"]\n")?;
    let before = contents(&root, ".tidy-quarantine")?;

    let path = |p: &PathBuf| p.to_string_lossy().into_owned();
    let (report, approval) = (tmp.path().join("report.json"), tmp.path().join("approval.json"));
    let policy = tmp.path().join("policy.toml");
    let scan = run(
        tools,
        &[
            "--format",
            "json",
            "scan",
            &path(&root),
            "--policy",
            &path(&policy),
            "--report-out",
            &path(&report),
        ],
    )?;
    let scan: serde_json::Value = serde_json::from_str(&expect_code(&scan, 0, "scan")?)
        .map_err(|e| format!("scan JSON: {e}"))?;
    // Per group: the protected vault copy (group 0) or `a/` is kept, the rest go.
    ensure(scan["duplicates"] == 61 && scan["junk"] == 30 && scan["moves"] == 5, || {
        format!("scan proposed {scan}")
    })?;
    ensure(scan["symlinks_not_followed"] == 1, || format!("symlinks: {scan}"))?;

    // A template is not an approval.
    let template = tmp.path().join("template.json");
    expect_code(
        &run(tools, &["template", &path(&report), "--out", &path(&template)])?,
        0,
        "template",
    )?;
    let refused = run(
        tools,
        &["execute", "--report", &path(&report), "--approval", &path(&template), "--execute"],
    )?;
    expect_code(&refused, 1, "execute with a template")?;
    ensure(contents(&root, ".tidy-quarantine")? == before, || {
        "a refused execute touched the tree".to_owned()
    })?;

    expect_code(
        &run(tools, &["approve", &path(&report), "--operator", "e2e", "--out", &path(&approval)])?,
        0,
        "approve",
    )?;
    expect_code(
        &run(tools, &["verify", "--report", &path(&report), "--approval", &path(&approval)])?,
        0,
        "verify",
    )?;
    let dry = expect_code(
        &run(tools, &["execute", "--report", &path(&report), "--approval", &path(&approval)])?,
        0,
        "dry run",
    )?;
    ensure(dry.contains("96 would be done"), || format!("dry run said:\n{dry}"))?;
    ensure(contents(&root, ".tidy-quarantine")? == before, || {
        "the dry run touched the tree".to_owned()
    })?;

    let done = expect_code(
        &run(
            tools,
            &["execute", "--report", &path(&report), "--approval", &path(&approval), "--execute"],
        )?,
        0,
        "execute",
    )?;
    let head = head_of(&done)?;
    let after = contents(&root, ".tidy-quarantine")?;
    ensure(after.len() == before.len() - 91, || {
        format!("{} files left of {}", after.len(), before.len())
    })?;
    ensure(
        after
            .keys()
            .all(|k| !k.starts_with("b/") && !k.starts_with("d/") && !k.starts_with("tmp/")),
        || "duplicates or junk left behind".to_owned(),
    )?;
    // The directories the actions emptied are gone; undo brings them back below.
    let emptied = ["b", "d", "tmp"];
    ensure(emptied.iter().all(|d| !root.join(d).exists()), || {
        "execute left emptied directories behind".to_owned()
    })?;
    ensure(
        std::fs::read(tmp.path().join("outside.tmp")).ok().as_deref() == Some(b"outside"),
        || "the symlink target outside ROOT was touched".to_owned(),
    )?;
    // Every original byte is in place, in the quarantine or in the archive.
    let quarantine = contents(&root.join(".tidy-quarantine"), "audit.jsonl")?;
    for (rel, bytes) in &before {
        let somewhere = after.get(rel) == Some(bytes)
            || after.get(&format!("archive/{rel}")) == Some(bytes)
            || quarantine.iter().any(|(q, b)| q.ends_with(&format!("/{rel}")) && b == bytes);
        ensure(somewhere, || format!("the bytes of {rel} are nowhere"))?;
    }

    let log = root.join(".tidy-quarantine/audit.jsonl");
    expect_code(
        &run(tools, &["audit", "verify", &path(&log), "--expect-head", &head])?,
        0,
        "audit verify",
    )?;
    // A tampered copy fails and names the line.
    let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    let tampered = tmp.path().join("tampered.jsonl");
    write(&tampered, text.replacen("\"bytes\":", "\"bytes\":9", 3).as_bytes())?;
    let bad = run(tools, &["audit", "verify", &path(&tampered)])?;
    expect_code(&bad, 1, "audit verify of a tampered log")?;
    let err = String::from_utf8_lossy(&bad.stderr);
    ensure(err.contains(":1: audit chain broken"), || format!("tamper message: {err}"))?;

    expect_code(&run(tools, &["undo", "--audit-log", &path(&log), "--execute"])?, 0, "undo")?;
    let restored = contents(&root, ".tidy-quarantine")?;
    ensure(restored == before, || "undo did not restore the tree byte for byte".to_owned())?;
    ensure(emptied.iter().all(|d| root.join(d).is_dir()), || {
        "undo did not recreate the directories execute removed".to_owned()
    })?;
    expect_code(&run(tools, &["audit", "verify", &path(&log)])?, 0, "audit verify after undo")?;
    keeps_what_pages_link_to(tools)
}

/// The broken links `doclinks check` reports below `root`, as (page, destination).
fn broken_links(tools: &Tools, root: &Path) -> Result<BTreeSet<(String, String)>, String> {
    // Run in ROOT, so that the pages are named relative to it.
    let out = tools
        .command("doclinks")
        .args(["check", "--format", "json", "."])
        .current_dir(root)
        .output()
        .map_err(|e| e.to_string())?;
    // Exit 1 means "broken links found"; anything else but 0 is a failure.
    ensure(matches!(out.status.code(), Some(0 | 1)), || {
        format!("doclinks check failed: {}", String::from_utf8_lossy(&out.stderr))
    })?;
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("doclinks JSON: {e}"))?;
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    Ok(findings
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
            (text("file"), text("target"))
        })
        .collect())
}

/// The issue-12 scenario: a documentation tree whose images and pages are
/// duplicated into `backup/`, with a ` (copy)` of the README and a copy (with a
/// copy marker) that a page really links to. After scan → approve → execute every
/// original and every linked copy is in place, the backup is gone, and `doclinks
/// check` finds no broken link that was not there before.
fn keeps_what_pages_link_to(tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = tmp.path().join("docs-tree");
    let pages = [
        (
            "README.md",
            "# Project\n\nSee [the docs](docs/index.md).\n\n![logo](docs/img/logo.png)\n",
        ),
        (
            "docs/index.md",
            "# Docs\n\n![logo](img/logo.png)\n\n[Guide](guide.md#setup)\n\n\
             <img src=\"img/diagram.png\" alt=\"diagram\">\n\n[gone](missing.png)\n",
        ),
        ("docs/guide.md", "# Guide\n\n## Setup\n\n![diagram](./img/diagram.png)\n"),
        ("docs/news.md", "# News\n\n![banner](img/banner%20(copy).png)\n"),
    ];
    for (rel, text) in pages {
        write(&root.join(rel), text.as_bytes())?;
        write(&root.join("backup").join(rel), text.as_bytes())?;
    }
    write(&root.join("README (copy).md"), pages[0].1.as_bytes())?;
    let images: [(&str, Vec<u8>); 3] = [
        ("docs/img/logo.png", vec![1; 3000]),
        ("docs/img/diagram.png", vec![2; 5000]),
        ("docs/img/banner.png", vec![3; 700]),
    ];
    for (rel, bytes) in &images {
        write(&root.join(rel), bytes)?;
        write(&root.join("backup").join(rel), bytes)?;
    }
    write(&root.join("docs/img/banner (copy).png"), &images[2].1)?;
    // The originals are older than the copies made from them.
    for (rel, _) in pages {
        make_old(&root.join(rel), 30)?;
    }
    let broken_before = broken_links(tools, &root)?;
    ensure(
        broken_before.contains(&("docs/index.md".to_owned(), "missing.png".to_owned())),
        || format!("doclinks did not see the broken link it should: {broken_before:?}"),
    )?;

    let path = |p: &Path| p.to_string_lossy().into_owned();
    let (report, approval) = (tmp.path().join("report.json"), tmp.path().join("approval.json"));
    expect_code(
        &run(tools, &["scan", &path(&root), "--report-out", &path(&report)])?,
        0,
        "scan of the docs tree",
    )?;
    expect_code(
        &run(tools, &["approve", &path(&report), "--operator", "e2e", "--out", &path(&approval)])?,
        0,
        "approve",
    )?;
    let dry = expect_code(
        &run(tools, &["execute", "--report", &path(&report), "--approval", &path(&approval)])?,
        0,
        "dry run of the docs tree",
    )?;
    ensure(dry.contains(", keep README.md (its name has no copy marker"), || {
        format!("the dry run does not say which README stays:\n{dry}")
    })?;
    let done = expect_code(
        &run(
            tools,
            &["execute", "--report", &path(&report), "--approval", &path(&approval), "--execute"],
        )?,
        0,
        "execute of the docs tree",
    )?;
    for kept in [
        "README.md",
        "docs/index.md",
        "docs/guide.md",
        "docs/news.md",
        "docs/img/logo.png",
        "docs/img/diagram.png",
        "docs/img/banner (copy).png",
    ] {
        ensure(root.join(kept).is_file(), || format!("{kept} was removed:\n{done}"))?;
    }
    ensure(!root.join("backup").exists() && !root.join("README (copy).md").exists(), || {
        format!("the copies stayed:\n{done}")
    })?;
    let broken_after = broken_links(tools, &root)?;
    ensure(broken_after.is_subset(&broken_before), || {
        format!(
            "new broken links: {:?}",
            broken_after.difference(&broken_before).collect::<Vec<_>>()
        )
    })?;
    Ok(())
}

pub(crate) fn demo(tools: &Tools, repo: &Path) -> Result<(), String> {
    let data = repo.join("data");
    // A checkout gives every file today's mtime: age the logs the way a real
    // repository would have them.
    for log in ["run-2024-01.log", "run-2024-02.log"] {
        make_old(&data.join("logs").join(log), 400)?;
    }
    println!("(data/logs/run-2024-*.log aged to 400 days, as in a long-lived repository)");
    let sa = || {
        let mut command = tools.command("storage-approval");
        command.env("NO_COLOR", "1");
        command
    };
    let expect =
        |code: i32, want: i32, what: &str| ensure(code == want, || format!("{what} exited {code}"));
    expect(
        show(
            sa().args([
                "scan",
                "data",
                "--policy",
                "storage-policy.toml",
                "--report-out",
                "report.json",
            ]),
            repo,
        )?,
        0,
        "scan",
    )?;
    expect(
        show(
            sa().args(["approve", "report.json", "--operator", "demo", "--out", "approval.json"]),
            repo,
        )?,
        0,
        "approve",
    )?;
    expect(
        show(
            sa().args(["execute", "--report", "report.json", "--approval", "approval.json"]),
            repo,
        )?,
        0,
        "dry run",
    )?;
    let out = sa()
        .args(["execute", "--report", "report.json", "--approval", "approval.json", "--execute"])
        .current_dir(repo)
        .output()
        .map_err(|e| e.to_string())?;
    println!(
        "\n$ storage-approval execute --report report.json --approval approval.json --execute"
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
    expect(out.status.code().unwrap_or(-1), 0, "execute")?;
    let head = head_of(&String::from_utf8_lossy(&out.stdout))?;
    let log = "data/.tidy-quarantine/audit.jsonl";
    expect(
        show(sa().args(["audit", "verify", log, "--expect-head", &head]), repo)?,
        0,
        "audit verify",
    )?;
    expect(show(sa().args(["undo", "--audit-log", log]), repo)?, 0, "undo dry run")?;
    expect(show(sa().args(["undo", "--audit-log", log, "--execute"]), repo)?, 0, "undo")?;
    // Undo is logged in the same chain; it still verifies.
    expect(show(sa().args(["audit", "verify", log]), repo)?, 0, "audit verify after undo")?;
    Ok(())
}
