//! `cargo xtask bench storage-approval [--small]`: generates a tree (20,000 files in
//! 400 dirs, ~2 GB, 2,000 duplicate groups of 2–5 copies, 1,000 near-duplicates that
//! differ in one byte, sizes 1 KB–4 MB; `--small` is a tenth of that), then times the
//! release binary: `scan` warm and cold, the cached re-scan against the walk itself
//! (`find` stat-ing every file), and `execute` of the ~5,000 duplicate deletes (with
//! a dry run alongside, to separate the re-hash from the cost of acting and
//! logging), then `undo`. A second tree of 200,000 identical tiny files (20,000 with
//! `--small`) measures memory per action: peak RSS of `scan`, of `execute` (dry run
//! and real) and of `undo`, and the report's size. Peak memory comes from
//! `/usr/bin/time -f %M` when present. `fclones group --hash-fn sha256` runs on both
//! trees when it is installed (`cargo install --locked fclones`).
//!
//! The corpora are generated once into the target directory and reused; `execute`
//! is followed by `undo`, which puts the tree back.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::common::{Rng, read_time, under_time};
use crate::util::{Tools, on_path, target_dir};

struct Shape {
    name: &'static str,
    dirs: usize,
    groups: usize,
    near: usize,
    unique: usize,
    /// Files of the identical-files tree (one duplicate group).
    identical: usize,
}

const FULL: Shape = Shape {
    name: "full-v2",
    dirs: 400,
    groups: 2_000,
    near: 1_000,
    unique: 12_000,
    identical: 200_000,
};
const SMALL: Shape =
    Shape { name: "small-v2", dirs: 40, groups: 200, near: 100, unique: 1_200, identical: 20_000 };

/// 90% of sizes log-uniform in 1–64 KiB, 10% in 64 KiB–4 MiB.
fn size(rng: &mut Rng) -> usize {
    let (lo, hi) = if rng.below(10) == 0 { (16.0f64, 22.0) } else { (10.0, 16.0) };
    let exp = lo + (hi - lo) * (rng.below(1_000_000) as f64 / 1_000_000.0);
    exp.exp2() as usize
}

/// `len` bytes of generated content.
fn fill(rng: &mut Rng, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

fn generate(root: &Path, shape: &Shape) -> Result<(usize, u64), String> {
    let marker = root.join(".complete");
    if marker.exists() {
        let text = std::fs::read_to_string(&marker).map_err(|e| e.to_string())?;
        let mut parts = text.split_whitespace().map(|p| p.parse::<u64>().unwrap_or(0));
        return Ok((parts.next().unwrap_or(0) as usize, parts.next().unwrap_or(0)));
    }
    let _ = std::fs::remove_dir_all(root);
    let mut rng = Rng::new(0x5707_a6e0);
    let mut files = 0usize;
    let mut bytes = 0u64;
    let mut put = |rng: &mut Rng, name: &str, data: &[u8]| -> Result<(), String> {
        let dir = root.join(format!("d{:03}/s{}", rng.below(shape.dirs as u64 / 4), rng.below(4)));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(name), data).map_err(|e| e.to_string())?;
        files += 1;
        bytes += data.len() as u64;
        Ok(())
    };
    let mut group_data = Vec::new();
    for g in 0..shape.groups {
        let len = size(&mut rng);
        let data = fill(&mut rng, len);
        // 2–5 copies (3.5 on average): ~5,000 duplicate deletes for 2,000 groups.
        let copies = 2 + rng.below(4) as usize;
        for c in 0..copies {
            put(&mut rng, &format!("g{g}-{c}.bin"), &data)?;
        }
        if g < shape.near {
            group_data.push(data);
        }
    }
    for (n, mut data) in group_data.into_iter().enumerate() {
        // Half flip the last byte (past any prefix hash), half a random one.
        let at = if n % 2 == 0 { data.len() - 1 } else { rng.below(data.len() as u64) as usize };
        data[at] ^= 0x5a;
        put(&mut rng, &format!("near{n}.bin"), &data)?;
    }
    for u in 0..shape.unique {
        let len = size(&mut rng);
        let data = fill(&mut rng, len);
        put(&mut rng, &format!("u{u}.dat"), &data)?;
    }
    std::fs::write(&marker, format!("{files} {bytes}\n")).map_err(|e| e.to_string())?;
    Ok((files, bytes))
}

/// The tree of `count` identical 4-byte files, 500 to a directory: one duplicate
/// group whose every file but one is a delete, so that memory per action shows.
fn generate_identical(root: &Path, count: usize) -> Result<(), String> {
    let marker = root.join(".complete");
    if marker.exists() {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(root);
    for i in 0..count {
        let dir = root.join(format!("d{:03}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(dir.join(format!("f{:03}.dat", i % 500)), b"same")
            .map_err(|e| e.to_string())?;
    }
    std::fs::write(&marker, format!("{count}\n")).map_err(|e| e.to_string())
}

/// Evicts the corpus from the page cache (cold runs) with posix_fadvise(DONTNEED)
/// per file, through python3; only this corpus is dropped, not the machine's cache.
fn evict(root: &Path) -> Result<bool, String> {
    if !on_path("python3") {
        return Ok(false);
    }
    let script = "import os,sys\nos.sync()\nfor d,_,fs in os.walk(sys.argv[1]):\n  for f in fs:\n    p=os.path.join(d,f)\n    try:\n      fd=os.open(p,os.O_RDONLY|os.O_NOFOLLOW)\n    except OSError:\n      continue\n    os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED)\n    os.close(fd)\n";
    let status = Command::new("python3")
        .args(["-c", script])
        .arg(root)
        .status()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    Ok(status.success())
}

/// Runs `command` (stdout discarded), returning wall seconds, peak RSS in MiB
/// and the exit code (0, or 3 for a run that skipped actions).
fn measure(command: Command) -> Result<(f64, Option<f64>, i32), String> {
    let stats = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut cmd = under_time(command, stats.path());
    let start = Instant::now();
    let out = cmd.stdout(std::process::Stdio::null()).output().map_err(|e| e.to_string())?;
    let sample = read_time(stats.path(), start.elapsed().as_secs_f64());
    let code = out.status.code().unwrap_or(-1);
    if !matches!(code, 0 | 3) {
        return Err(format!(
            "{} failed: {}",
            crate::util::describe(&cmd),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok((sample.wall, sample.peak_kb.map(|kb| kb as f64 / 1024.0), code))
}

/// The fastest of `runs` measurements (wall time), with its peak RSS.
fn best_of(
    runs: usize,
    mut run: impl FnMut() -> Result<(f64, Option<f64>, i32), String>,
) -> Result<(f64, Option<f64>, i32), String> {
    let mut best = run()?;
    for _ in 1..runs {
        let next = run()?;
        if next.0 < best.0 {
            best = next;
        }
    }
    Ok(best)
}

/// `find` walking `root` and stat-ing every file, the quarantine folder left out as
/// the scan leaves it out.
fn find_walk(root: &Path) -> Command {
    let mut find = Command::new("find");
    find.arg(root)
        .args(["-path"])
        .arg(root.join(".tidy-quarantine"))
        .args(["-prune", "-o", "-type", "f", "-printf", "%s %T@\n"]);
    find
}

fn row(what: &str, (secs, rss, _): (f64, Option<f64>, i32)) {
    let rss = rss.map(|m| format!("{m:.1} MiB")).unwrap_or_else(|| "n/a".to_owned());
    println!("| {what:<44} | {secs:>8.2} s | {rss:>10} |");
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let shape = if args.iter().any(|a| a == "--small") { &SMALL } else { &FULL };
    let tools = Tools::build("release")?;
    let work: PathBuf = target_dir().join("bench/storage-approval").join(shape.name);
    let root = work.join("tree");
    println!("generating (or reusing) the {} corpus in {}", shape.name, root.display());
    let (files, bytes) = generate(&root, shape)?;
    println!(
        "{files} files, {:.2} GB, {} duplicate groups, {} near-duplicates",
        bytes as f64 / 1e9,
        shape.groups,
        shape.near
    );
    let sa = |args: &[&str]| {
        let mut c = tools.command("storage-approval");
        c.args(args);
        c
    };
    let report = work.join("report.json");
    let approval = work.join("approval.json");
    let (root_s, report_s, approval_s) =
        (root.to_string_lossy(), report.to_string_lossy(), approval.to_string_lossy());
    let scan = ["scan", &root_s, "--report-out", &report_s, "--no-cache"];

    println!("\n| {:<44} | {:>10} | {:>10} |", "run", "wall", "peak RSS");
    println!("|{}|{}|{}|", "-".repeat(46), "-".repeat(12), "-".repeat(12));
    if evict(&root)? {
        row("scan, cold cache (no hash cache)", measure(sa(&scan))?);
    } else {
        println!("| (cold runs skipped: python3 is needed to evict the corpus) | | |");
    }
    measure(sa(&scan))?;
    row("scan, warm cache (no hash cache)", measure(sa(&scan))?);
    if on_path("fclones") {
        let mut fclones = Command::new("fclones");
        fclones.args(["group", "--hash-fn", "sha256"]).arg(&root);
        row("fclones group --hash-fn sha256, warm", measure(fclones)?);
    } else {
        println!("| {:<44} | {:>10} | {:>10} |", "fclones: not installed", "-", "-");
    }
    // Fill the hash cache, then time the re-scan of the unchanged tree against the
    // walk it cannot avoid: `find` stat-ing every file (best of three each).
    measure(sa(&["scan", &root_s, "--report-out", &report_s]))?;
    let rescan = best_of(3, || measure(sa(&["scan", &root_s, "--report-out", &report_s])))?;
    row("re-scan with the hash cache, warm (best of 3)", rescan);
    let walk = best_of(3, || measure(find_walk(&root)))?;
    row("walk and stat every file (`find -printf`), warm", walk);
    println!(
        "| {:<44} | {:>10} | {:>10} |",
        "re-scan / walk",
        format!("{:.2}x", rescan.0 / walk.0.max(1e-9)),
        ""
    );

    crate::util::output(&mut sa(&[
        "approve",
        &report_s,
        "--operator",
        "bench",
        "--out",
        &approval_s,
    ]))?;
    let actions = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["actions"].as_array().map(Vec::len))
        .unwrap_or(0);
    let log = work.join("audit.jsonl");
    let _ = std::fs::remove_file(&log);
    let log_s = log.to_string_lossy();
    let exec = ["execute", "--report", &report_s, "--approval", &approval_s, "--audit-log", &log_s];
    let dry = measure(sa(&exec))?;
    row(&format!("execute dry run ({actions} actions, re-hash only), warm"), dry);
    let mut real_args = exec.to_vec();
    real_args.push("--execute");
    let real = measure(sa(&real_args))?;
    row(&format!("execute --execute ({actions} actions), warm"), real);
    let undo = measure(sa(&["undo", "--audit-log", &log_s, "--execute"]))?;
    row(&format!("undo --execute ({actions} restores)"), undo);
    let per_action = (real.0 - dry.0) / actions.max(1) as f64 * 1000.0;
    println!("\nexecute beyond the re-hash: {per_action:.2} ms per action (execute minus dry run)");

    // Cold execute: a fresh log, the corpus evicted first.
    let _ = std::fs::remove_file(&log);
    if evict(&root)? {
        let cold = measure(sa(&real_args))?;
        row(&format!("execute --execute ({actions} actions), cold"), cold);
        measure(sa(&["undo", "--audit-log", &log_s, "--execute"]))?;
    }
    let _ = std::fs::remove_file(&log);
    identical(&tools, &work, shape.identical)?;
    let mut out = std::io::stdout();
    let _ = out.flush();
    Ok(())
}

/// Memory per action: `count` identical files, one group of `count - 1` deletes.
fn identical(tools: &Tools, work: &Path, count: usize) -> Result<(), String> {
    let root = work.join(format!("identical-{count}"));
    println!("\ngenerating (or reusing) {count} identical files in {}", root.display());
    generate_identical(&root, count)?;
    let sa = |args: &[&str]| {
        let mut c = tools.command("storage-approval");
        c.args(args);
        c
    };
    let (report, approval, log) = (
        work.join("identical-report.json"),
        work.join("identical-approval.json"),
        work.join("identical-audit.jsonl"),
    );
    let (root_s, report_s, approval_s, log_s) = (
        root.to_string_lossy(),
        report.to_string_lossy(),
        approval.to_string_lossy(),
        log.to_string_lossy(),
    );
    let actions = count - 1;
    println!("\n| {:<44} | {:>10} | {:>10} |", "run", "wall", "peak RSS");
    println!("|{}|{}|{}|", "-".repeat(46), "-".repeat(12), "-".repeat(12));
    let scan = measure(sa(&["scan", &root_s, "--report-out", &report_s, "--no-cache"]))?;
    row(&format!("scan, {count} identical files (no hash cache)"), scan);
    let size = std::fs::metadata(&report).map(|m| m.len()).unwrap_or(0);
    println!(
        "| {:<44} | {:>10} | {:>10} |",
        format!("report: {actions} deletes"),
        format!("{:.1} MB", size as f64 / 1e6),
        format!("{} B/act", size / actions.max(1) as u64)
    );
    crate::util::output(&mut sa(&[
        "approve",
        &report_s,
        "--operator",
        "bench",
        "--out",
        &approval_s,
    ]))?;
    let _ = std::fs::remove_file(&log);
    let exec = ["execute", "--report", &report_s, "--approval", &approval_s, "--audit-log", &log_s];
    let dry = measure(sa(&exec))?;
    row(&format!("execute dry run, {actions} deletes"), dry);
    let real = measure(sa(&[&exec[..], &["--execute"]].concat()))?;
    row(&format!("execute --execute, {actions} deletes"), real);
    let undo = measure(sa(&["undo", "--audit-log", &log_s, "--execute"]))?;
    row(&format!("undo --execute, {actions} restores"), undo);
    let _ = std::fs::remove_file(&log);
    if on_path("fclones") {
        let mut fclones = Command::new("fclones");
        fclones.args(["group", "--hash-fn", "sha256"]).arg(&root);
        row(&format!("fclones group --hash-fn sha256, {count} files"), measure(fclones)?);
    }
    let per_action = |rss: Option<f64>| {
        rss.map(|mib| format!("{:.0} B", mib * 1024.0 * 1024.0 / actions.max(1) as f64))
            .unwrap_or_else(|| "n/a".to_owned())
    };
    println!(
        "\npeak RSS per action: scan {}, execute dry run {}, execute {}, undo {} (target: 1 KB)",
        per_action(scan.1),
        per_action(dry.1),
        per_action(real.1),
        per_action(undo.1)
    );
    Ok(())
}
