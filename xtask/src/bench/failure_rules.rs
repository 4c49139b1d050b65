//! `cargo xtask bench failure-rules [--messages N] [--labelled N] [--loghub DIR]
//! [--loghub-only]`: throughput and grouping accuracy of `failure-rules normalize`.
//!
//! With `--loghub DIR` (or `$FAILURE_RULES_LOGHUB`), a directory of human-labelled
//! Loghub-2k systems (`DIR/X/X_2k.log` and `DIR/X/X_2k.log_structured.csv`, for
//! whatever systems X it holds), grouping accuracy is measured on them too: message
//! column and raw lines, stateless and `--mine`, with Drain3 (`pip install drain3`)
//! side by side on the same lines when Python has it. Without the directory, or
//! without Drain3, that part is skipped with a note.
//!
//! Last, `analyze --execute` and `match` against a generated rules file of 200,000
//! rules (`--rules N`; `--rules-only` runs just that).
//!
//! The corpus is generated: log lines of HDFS, Apache, OpenSSH, Spark, Zookeeper and
//! Python/Java exceptions, written from the templates of those systems with realistic
//! variable values (block ids, addresses, ports, user and host names, paths, times…),
//! plus synthetic application events so that there are many distinct templates. Every
//! line carries the id of the event it was written from, so grouping accuracy can be
//! computed: a line counts as right when its predicted group holds exactly the lines
//! of its event. No threshold is asserted: the numbers go to docs/PERFORMANCE.md.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use super::common::{Rng, Sample, read_time, under_time};
use crate::util::Tools;

/// Timed runs of each command; the best is reported.
const RUNS: usize = 3;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let loghub = args
        .iter()
        .position(|a| a == "--loghub")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("FAILURE_RULES_LOGHUB").map(std::path::PathBuf::from));
    if args.iter().any(|a| a == "--loghub-only") {
        let tools = Tools::build("release")?;
        return loghub_accuracy(&tools.path("failure-rules"), loghub.as_deref());
    }
    if args.iter().any(|a| a == "--rules-only") {
        let tools = Tools::build("release")?;
        return rules_scale(&tools.path("failure-rules"), flag(args, "--rules").unwrap_or(200_000));
    }
    let messages = flag(args, "--messages").unwrap_or(1_000_000);
    let labelled = flag(args, "--labelled").unwrap_or(100_000);
    let tools = Tools::build("release")?;
    let bin = tools.path("failure-rules");
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    // `--keep DIR` keeps the corpora and outputs for a closer look.
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(std::path::PathBuf::from);
    if let Some(dir) = &keep {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let dir = keep.as_deref().unwrap_or(tmp.path());

    // Throughput.
    let corpus = dir.join("corpus.log");
    let (lines, _) = corpus_lines(messages, 0x5eed, true);
    write_lines(&corpus, &lines)?;
    let bytes = std::fs::metadata(&corpus).map(|m| m.len()).unwrap_or(0);
    drop(lines);
    println!(
        "corpus: {messages} messages, {:.1} MB, {} event templates",
        bytes as f64 / 1e6,
        event_count(true)
    );
    println!(
        "best of {RUNS} runs (the machine is shared: CPU seconds are the steadier measure)\n\
         {:<18} {:>8} {:>8} {:>14} {:>14} {:>10}",
        "command", "wall s", "CPU s", "msgs/s (wall)", "msgs/s (CPU)", "peak RSS"
    );
    // `< file` lets `--mine` read the input twice (memory per distinct signature only);
    // from a pipe it keeps 4 bytes per line instead.
    for (name, mine, pipe) in [
        ("normalize", false, false),
        ("normalize --mine", true, false),
        ("... --mine | pipe", true, true),
    ] {
        let mut args = vec!["normalize", "--format", "jsonl"];
        if mine {
            args.push("--mine");
        }
        let mut best: Option<Sample> = None;
        for _ in 0..RUNS {
            let sample = timed(&bin, &args, &corpus, Path::new("/dev/null"), pipe)?;
            if best.as_ref().is_none_or(|b| sample.wall < b.wall) {
                best = Some(sample);
            }
        }
        let best = best.expect("RUNS > 0");
        let per_sec = |secs: f64| format!("{:.0}", messages as f64 / secs);
        println!(
            "{:<18} {:>8.3} {:>8} {:>14} {:>14} {:>10}",
            name,
            best.wall,
            best.cpu.map_or("n/a".to_owned(), |c| format!("{c:.3}")),
            per_sec(best.wall),
            best.cpu.map_or("n/a".to_owned(), per_sec),
            best.peak_kb.map_or("n/a".to_owned(), |kb| format!("{:.1} MB", kb as f64 / 1024.0))
        );
    }

    // Grouping accuracy on labelled lines of the real systems' templates.
    let sample = dir.join("labelled.log");
    let (lines, truth) = corpus_lines(labelled, 0xacc, false);
    write_lines(&sample, &lines)?;
    println!(
        "\ngrouping accuracy on {labelled} labelled lines ({} events of 6 systems)",
        event_count(false)
    );
    accuracy_header();
    let labels: Vec<String> = truth.iter().map(|(s, e)| format!("{s}\t{e}")).collect();
    write_lines(&dir.join("labelled.truth"), &labels)?;
    let stateless = predictions(&bin, &sample, false, dir)?;
    let mined = predictions(&bin, &sample, true, dir)?;
    let systems = ["HDFS", "Apache", "OpenSSH", "Spark", "Zookeeper", "Exceptions"];
    let mut avg = [0.0f64; 4];
    for (s, name) in systems.iter().enumerate() {
        let idx: Vec<usize> = (0..truth.len()).filter(|&i| truth[i].0 == s).collect();
        let t: Vec<u32> = idx.iter().map(|&i| truth[i].1).collect();
        let a: Vec<&str> = idx.iter().map(|&i| stateless[i].as_str()).collect();
        let b: Vec<&str> = idx.iter().map(|&i| mined[i].as_str()).collect();
        accuracy_row(name, &t, &a, &b, systems.len(), &mut avg);
    }
    accuracy_average(&avg);
    hand_labelled(&bin, dir)?;
    loghub_accuracy(&bin, loghub.as_deref())?;
    rules_scale(&bin, flag(args, "--rules").unwrap_or(200_000))
}

/// `analyze --execute` and `match` against a rules file of `n` rules (about 590
/// bytes each, like a rules file grown over years), in a fresh repository: the
/// first `--execute` adds a rule and updates one (and, the file being of an older
/// format, migrates every id), the second changes nothing.
fn rules_scale(bin: &Path, n: usize) -> Result<(), String> {
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let repo = tmp.path();
    for dir in [".git", "docs", ".autonomous_runs/run-new/errors"] {
        std::fs::create_dir_all(repo.join(dir)).map_err(|e| format!("cannot create {dir}: {e}"))?;
    }
    let rules_file = repo.join("docs/LEARNED_ERROR_MITIGATIONS.json");
    let words = ["loading", "saving", "syncing", "parsing", "indexing", "evicting"];
    let rules: Vec<serde_json::Value> = (0..n)
        .map(|k| {
            serde_json::json!({
                // Not the id of its signature: every rule costs the migration check.
                "id": format!("rule_{:064x}", k * 7919 + 12345),
                "created_at": "2026-11-01T00:00:00Z",
                "signature": format!("Gen{k}Error: {} item <NUM> of batch_<*> failed at stage <*> after <DUR>", words[k % 6]),
                "recommendation": "Investigate recurring failures of this kind; add a targeted mitigation once the cause is known, and link the incident report here.",
                "confidence": "medium",
                "evidence": [format!("run-{}-nightly", k % 97), format!("run-{}-tidy", k % 89), format!("run-{}-ci", k % 83), format!("run-{}-release", k % 79)],
                "frequency": 5 + k % 20,
                "scope": "general",
                "enforcement": "guidance",
            })
        })
        .collect();
    let text = serde_json::to_vec_pretty(&serde_json::json!({"version": 1, "rules": rules}))
        .map_err(|e| e.to_string())?;
    drop(rules);
    std::fs::write(&rules_file, &text)
        .map_err(|e| format!("cannot write {}: {e}", rules_file.display()))?;
    for (i, message) in ["loading item 3 of batch_3x failed at stage s7 after 3s", "never seen 1"]
        .iter()
        .enumerate()
    {
        let record = serde_json::json!({"type": if i == 0 { "Gen7Error" } else { "BrandNewError" }, "message": message, "run_id": "run-new"});
        let path = repo.join(format!(".autonomous_runs/run-new/errors/e{i}.json"));
        std::fs::write(&path, record.to_string())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!(
        "\nrules file of {n} rules ({:.1} MB), one run each, in order (the first changes the file)",
        text.len() as f64 / 1e6
    );
    println!("{:<34} {:>8} {:>8} {:>10}", "command", "wall s", "CPU s", "peak RSS");
    let empty = repo.join("empty.txt");
    std::fs::write(&empty, "").map_err(|e| e.to_string())?;
    let row = |name: &str, args: &[&str]| -> Result<(), String> {
        let sample = timed_in(bin, args, &empty, repo)?;
        println!(
            "{name:<34} {:>8.3} {:>8} {:>10}",
            sample.wall,
            sample.cpu.map_or("n/a".to_owned(), |c| format!("{c:.3}")),
            sample.peak_kb.map_or("n/a".to_owned(), |kb| format!("{:.0} MB", kb as f64 / 1024.0))
        );
        Ok(())
    };
    row("analyze --execute (migrates, writes)", &["analyze", "--execute"])?;
    row("analyze --execute (no change)", &["analyze", "--execute"])?;
    row(
        "match (a rule applies)",
        &[
            "match",
            "--type",
            "Gen7Error",
            "--message",
            "loading item 3 of batch_3x failed at stage s7 after 3s",
        ],
    )?;
    Ok(())
}

/// Like [`timed`], in `dir`, accepting exit 1 (`match` finding no rule).
fn timed_in(bin: &Path, args: &[&str], input: &Path, dir: &Path) -> Result<Sample, String> {
    let stats = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut plain = Command::new(bin);
    plain.args(args).current_dir(dir).env_remove("MULTILOCK_DIR");
    let mut command = under_time(plain, stats.path());
    command
        .stdin(File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = command.output().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let secs = start.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!(
            "{} {} failed: {}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(read_time(stats.path(), secs))
}

/// One labelled system of the Loghub-2k set: its event ids, message column and raw
/// lines, in line order.
struct Labelled {
    name: String,
    events: Vec<String>,
    messages: Vec<String>,
    raw: Vec<String>,
}

/// Grouping accuracy on the labelled systems under `dir`, per system and on
/// average, for the message column and the raw lines: stateless, `--mine` and
/// Drain3 (default settings).
fn loghub_accuracy(bin: &Path, dir: Option<&Path>) -> Result<(), String> {
    let Some(dir) = dir.filter(|d| d.is_dir()) else {
        println!(
            "\nLoghub-2k accuracy skipped: no corpus (pass --loghub DIR or set FAILURE_RULES_LOGHUB)"
        );
        return Ok(());
    };
    let systems = load_loghub(dir)?;
    if systems.is_empty() {
        println!(
            "\nLoghub-2k accuracy skipped: no X/X_2k.log_structured.csv under {}",
            dir.display()
        );
        return Ok(());
    }
    let drain = drain3_available();
    if !drain {
        println!(
            "\nDrain3 columns skipped: `python3 -c 'import drain3'` failed (pip install drain3)"
        );
    }
    let tmp =
        tempfile::tempdir().map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    for (input, label) in [(false, "message column"), (true, "raw lines, headers included")] {
        println!(
            "\nLoghub-2k grouping accuracy, {label} ({} systems, {} lines each; GA / share of lines in mixed groups)",
            systems.len(),
            systems.first().map_or(0, |s| s.events.len())
        );
        println!(
            "{:<12} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7}",
            "system", "stateless", "mixed", "--mine", "mixed", "Drain3", "mixed"
        );
        let mut avg = [0.0f64; 6];
        for system in &systems {
            let lines = if input { &system.raw } else { &system.messages };
            let path =
                tmp.path().join(format!("{}.{}", system.name, if input { "raw" } else { "msg" }));
            write_lines(&path, lines)?;
            let mut ids: HashMap<&str, u32> = HashMap::new();
            let truth: Vec<u32> = system
                .events
                .iter()
                .map(|e| {
                    let next = ids.len() as u32;
                    *ids.entry(e.as_str()).or_insert(next)
                })
                .collect();
            let a = predictions(bin, &path, false, tmp.path())?;
            let b = predictions(bin, &path, true, tmp.path())?;
            let c = if drain { Some(drain3_clusters(&path)?) } else { None };
            let score = |p: &[String]| {
                let p: Vec<&str> = p.iter().map(String::as_str).collect();
                accuracy(&truth, &p)
            };
            let (ga_a, mix_a) = score(&a);
            let (ga_b, mix_b) = score(&b);
            let (ga_c, mix_c) = c.as_deref().map_or((f64::NAN, f64::NAN), score);
            let n = systems.len() as f64;
            for (k, v) in [ga_a, mix_a, ga_b, mix_b, ga_c, mix_c].into_iter().enumerate() {
                avg[k] += v / n;
            }
            println!(
                "{:<12} {ga_a:>10.3} {:>6.1}% {ga_b:>10.3} {:>6.1}% {ga_c:>10.3} {:>6.1}%",
                system.name,
                mix_a * 100.0,
                mix_b * 100.0,
                mix_c * 100.0
            );
        }
        println!(
            "{:<12} {:>10.3} {:>6.1}% {:>10.3} {:>6.1}% {:>10.3} {:>6.1}%",
            "average",
            avg[0],
            avg[1] * 100.0,
            avg[2],
            avg[3] * 100.0,
            avg[4],
            avg[5] * 100.0
        );
    }
    Ok(())
}

/// Every `X/X_2k.log_structured.csv` (with `X/X_2k.log`) under `dir`, by name.
fn load_loghub(dir: &Path) -> Result<Vec<Labelled>, String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut systems = Vec::new();
    for name in names {
        let csv = dir.join(&name).join(format!("{name}_2k.log_structured.csv"));
        let log = dir.join(&name).join(format!("{name}_2k.log"));
        if !csv.is_file() || !log.is_file() {
            continue;
        }
        let text =
            std::fs::read(&csv).map_err(|e| format!("cannot read {}: {e}", csv.display()))?;
        let rows = parse_csv(&String::from_utf8_lossy(&text));
        let header = rows.first().ok_or_else(|| format!("{}: empty", csv.display()))?;
        let column = |name: &str| {
            header
                .iter()
                .position(|h| h == name)
                .ok_or_else(|| format!("{}: no `{name}` column", csv.display()))
        };
        let (content, event) = (column("Content")?, column("EventId")?);
        let mut events = Vec::new();
        let mut messages = Vec::new();
        for (i, row) in rows.iter().enumerate().skip(1) {
            let field = |k: usize| {
                row.get(k).cloned().ok_or_else(|| format!("{}:{}: short row", csv.display(), i + 1))
            };
            messages.push(field(content)?);
            events.push(field(event)?);
        }
        let raw_bytes =
            std::fs::read(&log).map_err(|e| format!("cannot read {}: {e}", log.display()))?;
        let raw: Vec<String> =
            String::from_utf8_lossy(&raw_bytes).lines().map(str::to_owned).collect();
        if raw.len() != events.len() {
            return Err(format!(
                "{}: {} lines, but {} labelled rows in {}",
                log.display(),
                raw.len(),
                events.len(),
                csv.display()
            ));
        }
        systems.push(Labelled { name, events, messages, raw });
    }
    Ok(systems)
}

/// Rows of a CSV document (RFC 4180: quoted fields, `""` for a quote inside one).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

fn drain3_available() -> bool {
    Command::new("python3")
        .args(["-c", "import drain3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Drain3's cluster id for each line of `input`, with its default settings.
fn drain3_clusters(input: &Path) -> Result<Vec<String>, String> {
    const SCRIPT: &str = "import sys, logging\nlogging.disable(logging.CRITICAL)\nfrom drain3 import TemplateMiner\nminer = TemplateMiner()\nids = [str(miner.add_log_message(line.rstrip('\\n'))['cluster_id']) for line in open(sys.argv[1], encoding='utf-8', errors='replace')]\nprint('\\n'.join(ids))\n";
    let out = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(input)
        .output()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !out.status.success() {
        return Err(format!("Drain3 failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect())
}

/// Grouping accuracy on the hand-written raw log lines of 16 systems that the
/// integration tests also score (`crates/failure-rules/tests/data/loghub-mini.tsv`),
/// one `normalize` run per system as a judge feeds one log at a time.
fn hand_labelled(bin: &Path, dir: &Path) -> Result<(), String> {
    let path = crate::util::project_root().join("crates/failure-rules/tests/data/loghub-mini.tsv");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    // System → (event labels, raw lines), in file order.
    let mut systems: Vec<(&str, Vec<&str>, Vec<String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (label, raw) = line
            .split_once('\t')
            .ok_or_else(|| format!("{}: a line without a TAB", path.display()))?;
        let system = label.rsplit_once('-').map_or(label, |(s, _)| s);
        match systems.iter_mut().find(|(s, ..)| *s == system) {
            Some((_, labels, lines)) => {
                labels.push(label);
                lines.push(raw.to_owned());
            }
            None => systems.push((system, vec![label], vec![raw.to_owned()])),
        }
    }
    println!(
        "\ngrouping accuracy on {} hand-labelled raw lines of {} systems (tests/data/loghub-mini.tsv)",
        systems.iter().map(|(_, l, _)| l.len()).sum::<usize>(),
        systems.len(),
    );
    accuracy_header();
    let mut avg = [0.0f64; 4];
    for (system, labels, lines) in &systems {
        let input = dir.join(format!("hand-{system}.log"));
        write_lines(&input, lines)?;
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let truth: Vec<u32> = labels
            .iter()
            .map(|l| {
                let next = ids.len() as u32;
                *ids.entry(l).or_insert(next)
            })
            .collect();
        let a = predictions(bin, &input, false, dir)?;
        let b = predictions(bin, &input, true, dir)?;
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let b: Vec<&str> = b.iter().map(String::as_str).collect();
        accuracy_row(system, &truth, &a, &b, systems.len(), &mut avg);
    }
    accuracy_average(&avg);
    Ok(())
}

/// The header of a grouping-accuracy table: per system, stateless then `--mine`.
fn accuracy_header() {
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10}",
        "system", "stateless", "mixed", "--mine", "mixed"
    );
}

/// Scores one system's stateless (`a`) and `--mine` (`b`) groups against `truth`,
/// prints its row and adds its share (one of `systems`) to the average `avg`.
fn accuracy_row(
    name: &str,
    truth: &[u32],
    a: &[&str],
    b: &[&str],
    systems: usize,
    avg: &mut [f64; 4],
) {
    let (ga_a, mix_a) = accuracy(truth, a);
    let (ga_b, mix_b) = accuracy(truth, b);
    for (k, v) in [ga_a, mix_a, ga_b, mix_b].into_iter().enumerate() {
        avg[k] += v / systems as f64;
    }
    println!(
        "{name:<12} {ga_a:>10.3} {:>9.1}% {ga_b:>10.3} {:>9.1}%",
        mix_a * 100.0,
        mix_b * 100.0
    );
}

/// The last row of a grouping-accuracy table: the average over the systems.
fn accuracy_average(avg: &[f64; 4]) {
    println!(
        "{:<12} {:>10.3} {:>9.1}% {:>10.3} {:>9.1}%",
        "average",
        avg[0],
        avg[1] * 100.0,
        avg[2],
        avg[3] * 100.0
    );
}

fn flag(args: &[String], name: &str) -> Option<usize> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.replace('_', "").parse().ok())
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), String> {
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    for line in lines {
        writeln!(out, "{line}").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    out.flush().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Runs `bin args < input > output`; wall seconds and peak RSS in KiB (from
/// `/usr/bin/time -v` when it exists).
fn timed(
    bin: &Path,
    args: &[&str],
    input: &Path,
    output: &Path,
    pipe: bool,
) -> Result<Sample, String> {
    let stats = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut plain = Command::new(bin);
    plain.args(args);
    let mut command = under_time(plain, stats.path());
    command
        .stdin(if pipe {
            Stdio::piped()
        } else {
            File::open(input).map_err(|e| format!("cannot open {}: {e}", input.display()))?.into()
        })
        .stdout(
            File::create(output).map_err(|e| format!("cannot create {}: {e}", output.display()))?,
        )
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = command.spawn().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let feeder = child.stdin.take().map(|mut stdin| {
        let input = input.to_path_buf();
        std::thread::spawn(move || {
            let mut file = File::open(input)?;
            std::io::copy(&mut file, &mut stdin).map(drop)
        })
    });
    let out = child.wait_with_output().map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if let Some(feeder) = feeder {
        feeder
            .join()
            .map_err(|_| "the stdin feeder panicked".to_owned())?
            .map_err(|e| format!("cannot feed {}: {e}", input.display()))?;
    }
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "{} {} failed: {}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(read_time(stats.path(), secs))
}

/// The signature `normalize` gives each line of `input`.
fn predictions(bin: &Path, input: &Path, mine: bool, dir: &Path) -> Result<Vec<String>, String> {
    let output = dir.join(if mine { "mined.tsv" } else { "stateless.tsv" });
    let mut args = vec!["normalize", "--format", "tsv"];
    if mine {
        args.push("--mine");
    }
    timed(bin, &args, input, &output, false)?;
    let text = std::fs::read_to_string(&output)
        .map_err(|e| format!("cannot read {}: {e}", output.display()))?;
    Ok(text.lines().map(|l| l.split('\t').nth(1).unwrap_or("").to_owned()).collect())
}

/// Grouping accuracy (share of lines whose predicted group is exactly their event's
/// lines) and the share of lines in a predicted group that mixes events.
fn accuracy(truth: &[u32], predicted: &[&str]) -> (f64, f64) {
    let mut pred_groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in predicted.iter().enumerate() {
        pred_groups.entry(p).or_default().push(i);
    }
    let mut true_sizes: HashMap<u32, usize> = HashMap::new();
    for t in truth {
        *true_sizes.entry(*t).or_default() += 1;
    }
    let (mut right, mut mixed) = (0usize, 0usize);
    for members in pred_groups.values() {
        let first = truth[members[0]];
        if members.iter().all(|&i| truth[i] == first) {
            if true_sizes[&first] == members.len() {
                right += members.len();
            }
        } else {
            mixed += members.len();
        }
    }
    let n = truth.len().max(1) as f64;
    (right as f64 / n, mixed as f64 / n)
}

const USERS: &[&str] = &[
    "root", "admin", "oracle", "test", "guest", "ubuntu", "postgres", "ftpuser", "nagios",
    "support", "git", "alice", "bob", "mysql", "user", "pi", "deploy", "jenkins", "hadoop", "www",
    "operator", "backup", "yarn", "zabbix",
];
const HOSTS: &[&str] = &[
    "node-12.cluster.local",
    "worker7.example.com",
    "ip-10-0-3-17.ec2.internal",
    "db-3.prod.internal",
    "cache01.dc2.example.net",
    "static.vnpt.vn",
    "host-219-150-161-20.ctc.example.org",
    "api.example.com",
];
const WORDS: &[&str] =
    &["abc", "none", "yes", "N/A", "twelve", "", "null", "x", "true", "0x", "ten"];
const ATTRS: &[&str] =
    &["get", "items", "id", "split", "read", "close", "keys", "name", "value", "append"];
const DIRS: &[&str] = &["user", "tmp", "srv", "var", "home", "data", "opt"];
const NAMES: &[&str] =
    &["part", "job", "events", "report", "blk", "index", "state", "cache", "model", "batch"];
const EXTS: &[&str] = &["log", "json", "csv", "tmp", "parquet", "txt", ""];

/// Expands `{slot}`s with values of their kind.
fn fill(template: &str, rng: &mut Rng) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let slot = &rest[open + 1..close];
        value(slot, rng, &mut out);
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
    out
}

fn value(slot: &str, r: &mut Rng, out: &mut String) {
    use std::fmt::Write as _;
    let _ = match slot {
        "ip" => write!(out, "10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254)),
        "port" => write!(out, "{}", 1024 + r.below(64000)),
        "ipport" => write!(
            out,
            "10.{}.{}.{}:{}",
            r.below(256),
            r.below(256),
            1 + r.below(254),
            1024 + r.below(64000)
        ),
        "blk" => {
            let n = r.next_u64() >> 1;
            if r.below(2) == 0 { write!(out, "blk_-{n}") } else { write!(out, "blk_{n}") }
        }
        "num" => {
            let digits = 1 + r.below(8) as u32;
            write!(out, "{}", r.below(10u64.pow(digits)))
        }
        "n1" => write!(out, "{}", r.below(10)),
        "n2" => write!(out, "{}", r.below(100)),
        "n3" => write!(out, "{}", 100 + r.below(60000)),
        "n5" => write!(out, "{}", 1000 + r.below(40000)),
        "negn" => write!(out, "-{}", 1 + r.below(3)),
        "pid" => write!(out, "{}", 100 + r.below(40000)),
        "user" => write!(out, "{}", r.pick(USERS)),
        "host" => write!(out, "{}", r.pick(HOSTS)),
        "word" => write!(out, "{}", r.pick(WORDS)),
        "attr" => write!(out, "{}", r.pick(ATTRS)),
        "path" => {
            let depth = 1 + r.below(4);
            for _ in 0..depth {
                let _ = write!(out, "/{}", r.pick(DIRS));
            }
            let ext = r.pick(EXTS);
            let _ = write!(out, "/{}_{}", r.pick(NAMES), r.below(100_000));
            if ext.is_empty() { Ok(()) } else { write!(out, ".{ext}") }
        }
        "dur" => match r.below(3) {
            0 => write!(out, "{}s", 1 + r.below(120)),
            1 => write!(out, "{}ms", r.below(5000)),
            _ => write!(out, "{}.{} seconds", r.below(60), r.below(10)),
        },
        "sizeb" => {
            let units = ["B", "KB", "MB", "GB"];
            write!(out, "{}.{} {}", 1 + r.below(900), r.below(10), units[r.below(4) as usize])
        }
        "taskf" => write!(out, "{}.{}", r.below(400), r.below(2)),
        "stagef" => write!(out, "{}.0", r.below(60)),
        "sid" => write!(out, "0x{:x}", r.next_u64() >> 8),
        "uuid" => write!(
            out,
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            r.next_u64() as u32,
            r.next_u64() as u16,
            r.below(4096),
            r.below(4096),
            r.next_u64() >> 16
        ),
        "url" => write!(
            out,
            "https://{}/v1/runs/{}?page={}",
            r.pick(HOSTS),
            r.below(100_000),
            r.below(50)
        ),
        "urlpath" => write!(out, "/api/v2/items/{}", r.below(100_000)),
        "date" => write!(out, "{:02}{:02}{:02}", 8 + r.below(2), 1 + r.below(12), 1 + r.below(28)),
        "hms" => write!(out, "{:02}:{:02}:{:02}", r.below(24), r.below(60), r.below(60)),
        "hmsc" => write!(out, "{:02}{:02}{:02}", r.below(24), r.below(60), r.below(60)),
        "day" => write!(out, "{:2}", 1 + r.below(28)),
        "mon" => write!(out, "{}", r.pick(&["Jan", "Feb", "Mar", "Jun", "Jul", "Nov", "Dec"])),
        "wday" => write!(out, "{}", r.pick(&["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
        "year" => write!(out, "{}", 2005 + r.below(20)),
        "ms3" => write!(out, "{:03}", r.below(1000)),
        "state" => write!(out, "{}", r.pick(&["LOOKING", "FOLLOWING", "LEADING"])),
        "cmd" => write!(
            out,
            "{}",
            r.pick(&[
                "git fetch origin",
                "make test",
                "cargo build --release",
                "npm ci",
                "pytest -x"
            ])
        ),
        "iso" => write!(out, "2026-{:02}-{:02}", 1 + r.below(12), 1 + r.below(28)),
        "ymd2" => {
            write!(out, "{:02}/{:02}/{:02}", 15 + r.below(3), 1 + r.below(12), 1 + r.below(28))
        }
        other => write!(out, "{{{other}}}"),
    };
}

/// A system of the generated corpus: the header its lines start with and its
/// message templates with their weights (xtask/data/failure-rules-templates.json).
struct System {
    header: String,
    events: Vec<Event>,
}

struct Event {
    template: String,
    weight: u64,
}

/// The systems of the generated corpus, read once from the data file.
fn systems() -> &'static [System] {
    static SYSTEMS: std::sync::OnceLock<Vec<System>> = std::sync::OnceLock::new();
    SYSTEMS.get_or_init(|| {
        let text = include_str!("../../data/failure-rules-templates.json");
        let doc: serde_json::Value =
            serde_json::from_str(text).expect("xtask/data/failure-rules-templates.json is JSON");
        let text_of =
            |v: &serde_json::Value| v.as_str().expect("a template file string").to_owned();
        doc["systems"]
            .as_array()
            .expect("the template file lists systems")
            .iter()
            .map(|system| System {
                header: text_of(&system["header"]),
                events: system["events"]
                    .as_array()
                    .expect("a system lists events")
                    .iter()
                    .map(|event| Event {
                        template: text_of(&event["template"]),
                        weight: event["weight"].as_u64().expect("an event has a weight"),
                    })
                    .collect(),
            })
            .collect()
    })
}

/// Synthetic application events, many distinct templates of constant words.
const VERBS: &[&str] =
    &["loading", "saving", "syncing", "parsing", "indexing", "evicting", "scheduling", "merging"];
const NOUNS: &[&str] = &[
    "segment",
    "manifest",
    "partition",
    "snapshot",
    "queue",
    "ledger",
    "bucket",
    "shard",
    "table",
];
const OUTCOMES: &[&str] = &["failed", "retried", "skipped", "completed", "stalled", "aborted"];
const SYNTHETIC: usize = 400;

fn event_count(synthetic: bool) -> usize {
    systems().iter().map(|system| system.events.len()).sum::<usize>()
        + if synthetic { SYNTHETIC } else { 0 }
}

/// `n` lines and, for each, (system index, event id).
fn corpus_lines(n: usize, seed: u64, synthetic: bool) -> (Vec<String>, Vec<(usize, u32)>) {
    let mut rng = Rng::new(seed | 1);
    let mut lines = Vec::with_capacity(n);
    let mut truth = Vec::with_capacity(n);
    let system_count = systems().len() as u64;
    for i in 0..n {
        // One line in three of the throughput corpus is a synthetic event.
        if synthetic && i % 3 == 2 {
            let t = rng.below(SYNTHETIC as u64) as usize;
            let (v, o, a, b) =
                (VERBS[t % 8], OUTCOMES[(t / 8) % 6], NOUNS[(t / 48) % 9], NOUNS[t % 9]);
            let line = fill(
                &format!(
                    "{{iso}}T{{hms}}Z WARN app.{a}: {v} {b} {{num}} {o} on {{host}} after {{dur}} (request {{uuid}})"
                ),
                &mut rng,
            );
            lines.push(line);
            truth.push((system_count as usize, 1000 + t as u32));
            continue;
        }
        let s = rng.below(system_count) as usize;
        let System { header, events } = &systems()[s];
        let total: u64 = events.iter().map(|event| event.weight).sum();
        let mut pick = rng.below(total);
        let mut e = 0;
        while pick >= events[e].weight {
            pick -= events[e].weight;
            e += 1;
        }
        let line = fill(&format!("{header}{}", events[e].template), &mut rng);
        lines.push(line);
        truth.push((s, (s * 100 + e) as u32));
    }
    (lines, truth)
}
