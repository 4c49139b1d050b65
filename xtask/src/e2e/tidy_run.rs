//! The origin's tidy run for real: `examples/tidy-run/tidy-run.sh` runs its four
//! phases with the real tools inside `multilock run`, several copies at once
//! against one repository, while other processes fix the docs and record new
//! failures on their own (taking their locks themselves). It must end with no
//! deadlock (every process finishes within a bound), every rule recorded once
//! with the frequency its evidence gives, every approved action done once, and
//! docs and data exactly as one run alone leaves them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::e2e::ensure;
use crate::e2e::storage_approval::{contents, make_old};
use crate::util::{Tools, project_root};

/// Copies of the script at once.
const COPIES: usize = 4;
/// Rounds of each of the other processes.
const ROUNDS: usize = 3;
/// Long enough for everything on a loaded 2-core machine; a deadlock would
/// hang for ever, so passing this bound is the failure.
const BOUND: Duration = Duration::from_secs(240);

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let alone = prepare(tools, &tmp.path().join("alone"))?;
    finish_all(vec![spawn_script(tools, &alone)?], "the tidy run alone")?;

    let shared = prepare(tools, &tmp.path().join("shared"))?;
    let mut children = Vec::new();
    for _ in 0..COPIES {
        children.push(spawn_script(tools, &shared)?);
    }
    children.push(spawn_others(tools, &shared, "doclinks fix docs >/dev/null; [ $? -le 1 ]")?);
    let mut record_dirs = Vec::new();
    for round in 0..ROUNDS {
        record_dirs.push(write_extra_records(&shared.repo, round)?);
    }
    let analyze = record_dirs
        .iter()
        .map(|dir| format!("failure-rules analyze --execute '{}' >/dev/null", dir.display()))
        .collect::<Vec<_>>()
        .join(" && ");
    children.push(spawn_others(tools, &shared, &analyze)?);
    finish_all(children, "the tidy runs and the other processes")?;

    // Docs and data: exactly as one run alone leaves them (doclinks' backups and
    // the rules file aside: the extra records add rules).
    let docs = |run: &Run| {
        let mut docs = contents(&run.repo.join("docs"), "")?;
        docs.retain(|path, _| path != "LEARNED_ERROR_MITIGATIONS.json");
        Ok::<_, String>(docs)
    };
    ensure(docs(&alone)? == docs(&shared)?, || {
        "the docs differ from what one tidy run alone leaves".to_owned()
    })?;
    let data = |run: &Run| contents(&run.repo.join("data"), ".tidy-quarantine");
    ensure(data(&alone)? == data(&shared)?, || {
        "the data tree differs from what one tidy run alone leaves".to_owned()
    })?;

    // Every approved action done once.
    for report in ["logs", "moves"] {
        let done = done_actions(&shared, report)?;
        let expected = done_actions(&alone, report)?;
        ensure(done == expected, || {
            format!("{report}: actions done {done:?}, one run alone did {expected:?}")
        })?;
        ensure(done.values().all(|n| *n == 1), || {
            format!("{report}: an approved action was done more than once: {done:?}")
        })?;
    }

    // Every rule recorded, re-analysed evidence counted once.
    let rules_alone = rules(&alone.repo)?;
    let rules_shared = rules(&shared.repo)?;
    for (id, count) in &rules_alone {
        ensure(rules_shared.get(id) == Some(count), || {
            format!("rule {id}: {count}x alone, {:?} with concurrent runs", rules_shared.get(id))
        })?;
    }
    let extra: BTreeSet<_> =
        rules_shared.keys().filter(|id| !rules_alone.contains_key(*id)).collect();
    ensure(extra.len() == ROUNDS, || {
        format!("expected {ROUNDS} rules from the extra records, found {extra:?}")
    })?;

    // Nothing is left held.
    let status = tools
        .command("multilock")
        .current_dir(&shared.repo)
        .args(["--dir", ".multilock", "status", "--format", "json"])
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&status.stdout);
    let held: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    ensure(status.status.success() && held["locks"] == serde_json::json!([]), || {
        format!("locks are still held after the run: {text}")
    })?;
    println!(
        "    {COPIES} tidy runs and 2 other writers at once: no deadlock, {} rules, \
         docs and data as one run alone leaves them",
        rules_shared.len()
    );
    Ok(())
}

/// A repository ready for the tidy run, with its approved reports.
struct Run {
    repo: PathBuf,
    reports: PathBuf,
}

fn prepare(tools: &Tools, dir: &Path) -> Result<Run, String> {
    let repo = dir.join("repo");
    crate::demo::copy_tree(&project_root().join("examples/demo-repo"), &repo)?;
    git(&repo, &["init", "-q"])?;
    std::fs::create_dir(repo.join(".multilock")).map_err(|e| e.to_string())?;
    for log in ["run-2024-01.log", "run-2024-02.log"] {
        make_old(&repo.join("data/logs").join(log), 400)?;
    }
    let reports = dir.join("reports");
    std::fs::create_dir(&reports).map_err(|e| e.to_string())?;
    let policies = project_root().join("examples/tidy-run");
    for name in ["logs", "moves"] {
        let report = reports.join(format!("{name}-report.json"));
        let policy = policies.join(format!("{name}-policy.toml"));
        let mut scan = tools.command("storage-approval");
        scan.current_dir(&repo).arg("scan").arg("data").arg("--policy").arg(&policy);
        expect_success(scan.arg("--report-out").arg(&report), "scan")?;
        let mut approve = tools.command("storage-approval");
        approve.arg("approve").arg(&report).args(["--operator", "e2e", "--out"]);
        expect_success(approve.arg(reports.join(format!("{name}-approval.json"))), "approve")?;
    }
    Ok(Run { repo, reports })
}

fn spawn_script(tools: &Tools, run: &Run) -> Result<Child, String> {
    let script = project_root().join("examples/tidy-run/tidy-run.sh");
    let mut command = Command::new("sh");
    command.arg(script).arg(&run.repo);
    for name in ["logs-report", "logs-approval", "moves-report", "moves-approval"] {
        command.arg(run.reports.join(format!("{name}.json")));
    }
    spawn(tools, command)
}

/// `body` run ROUNDS times outside any `multilock run`: the tools find the
/// repository's `.multilock` and take their locks themselves.
fn spawn_others(tools: &Tools, run: &Run, body: &str) -> Result<Child, String> {
    let mut command = Command::new("sh");
    command
        .current_dir(&run.repo)
        .args(["-c", &format!("for i in $(seq {ROUNDS}); do {body} || exit $?; done")]);
    spawn(tools, command)
}

fn spawn(tools: &Tools, mut command: Command) -> Result<Child, String> {
    command
        .env("PATH", tools.path_env())
        .env("NO_COLOR", "1")
        .env_remove("MULTILOCK_DIR")
        .env_remove("MULTILOCK_HELD")
        .env_remove("MULTILOCK_HELD_DIR")
        .env_remove("MULTILOCK_HELD_SETS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
}

/// Waits for every child, each in its own thread, failing when one fails or
/// when they are not all done within [`BOUND`] (then every child is killed).
fn finish_all(children: Vec<Child>, what: &str) -> Result<(), String> {
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let (tx, rx) = mpsc::channel::<(usize, std::io::Result<Output>)>();
    for (index, child) in children.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send((index, child.wait_with_output()));
        });
    }
    drop(tx);
    let deadline = std::time::Instant::now() + BOUND;
    for _ in 0..pids.len() {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let (index, output) = match rx.recv_timeout(left) {
            Ok(done) => done,
            Err(_) => {
                for pid in &pids {
                    let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
                }
                return Err(format!("{what}: not finished after {BOUND:?}: a deadlock or a hang"));
            }
        };
        let output = output.map_err(|e| e.to_string())?;
        ensure(output.status.success(), || {
            format!(
                "{what}: process {index} exited with {}\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    }
    Ok(())
}

/// Records of one new failure kind per round, in a directory of their own.
fn write_extra_records(repo: &Path, round: usize) -> Result<PathBuf, String> {
    let dir = repo.join(format!(".autonomous_runs/extra-{round}/errors"));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for i in 0..3 {
        let record = serde_json::json!({
            "run_id": format!("extra-{round}"),
            "scope": "tidy",
            "timestamp": format!("2026-11-24T10:0{i}:00Z"),
            "error_type": format!("ExtraError{round}"),
            "message": format!("extra failure {i} in round {round}: resource busy"),
        });
        std::fs::write(dir.join(format!("err_{i}.json")), record.to_string())
            .map_err(|e| e.to_string())?;
    }
    Ok(dir.parent().expect("errors has a parent").to_path_buf())
}

/// How many times each source path of `report` was recorded done in the audit log.
fn done_actions(run: &Run, report: &str) -> Result<BTreeMap<String, usize>, String> {
    let report_text = std::fs::read_to_string(run.reports.join(format!("{report}-report.json")))
        .map_err(|e| e.to_string())?;
    let report: serde_json::Value =
        serde_json::from_str(&report_text).map_err(|e| e.to_string())?;
    let srcs: BTreeSet<&str> = report["actions"]
        .as_array()
        .ok_or("a report without actions")?
        .iter()
        .filter_map(|a| a["src"].as_str())
        .collect();
    ensure(!srcs.is_empty(), || "a report of the tidy run proposes nothing".to_owned())?;
    let log = std::fs::read_to_string(run.repo.join("data/.tidy-quarantine/audit.jsonl"))
        .map_err(|e| format!("cannot read the audit log: {e}"))?;
    let mut done = BTreeMap::new();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if entry["phase"] == "done"
            && let Some(src) = entry["src"].as_str().filter(|s| srcs.contains(s))
        {
            *done.entry(src.to_owned()).or_insert(0) += 1;
        }
    }
    Ok(done)
}

/// Rule id → frequency in the repository's rules file.
fn rules(repo: &Path) -> Result<BTreeMap<String, u64>, String> {
    let path = repo.join("docs/LEARNED_ERROR_MITIGATIONS.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let rules = doc["rules"].as_array().ok_or("a rules file without rules")?;
    Ok(rules
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?.to_owned(), r["frequency"].as_u64()?)))
        .collect())
}

fn git(dir: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("git").current_dir(dir).args(args).status();
    ensure(status.is_ok_and(|s| s.success()), || {
        format!("git {args:?} failed in {}", dir.display())
    })
}

fn expect_success(command: &mut Command, what: &str) -> Result<(), String> {
    let out = command.env("NO_COLOR", "1").output().map_err(|e| e.to_string())?;
    ensure(out.status.success(), || {
        format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr))
    })
}
