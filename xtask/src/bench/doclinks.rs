//! `cargo xtask bench doclinks [FILES] [--corpora DIR] [--copies N]`:
//!
//! 1. `doclinks check` and `check --nav-only` on a generated tree of 10,000
//!    Markdown files with about 100,000 local links (relative links with and
//!    without anchors, reference links, raw HTML, images, external URLs, code
//!    blocks), and lychee on the same tree;
//! 2. the real trees of `docs/doclinks.md` found in the corpora folder (`DIR`,
//!    else `$DOCLINKS_CORPORA`, else `../corpora` beside the checkout; each in
//!    `owner+name/`; skipped with a note when absent): doclinks without its
//!    cache (cold), with a warm cache, and lychee `--offline
//!    --include-fragments`, interleaved, with the ratios;
//! 3. `N` (default 10, 0 skips it) copies of the largest of them side by side
//!    (about 100,000 pages from cpp-docs): cold, cache being written, warm, and
//!    warm after a one-page edit; lychee once.
//!
//! lychee is `$LYCHEE` or `lychee` on `PATH`. Wall time, CPU time and peak
//! memory come from `/usr/bin/time` when present (else wall time only). Each
//! measurement is the median of three runs unless the table says otherwise.
//! A real tree whose cold check takes under 0.2 s is also timed finely:
//! 21 interleaved runs each of doclinks cold and lychee, wall by our clock
//! and CPU from `getrusage` of the finished child, to the microsecond
//! (`/usr/bin/time` prints hundredths of a second: a 20 ms check would be
//! two or three ticks).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::common::{Rng, Sample, children_cpu, median, read_time, under_time};
use crate::util::{Tools, describe, on_path, project_root};

const SECTIONS: usize = 100;
const RUNS: usize = 3;
/// Interleaved runs of a small tree timed finely (see [`fine_row`]).
const FINE_RUNS: usize = 21;
/// A tree whose cold check takes less than this is also timed finely.
const FINE_BELOW: f64 = 0.2;

const HEADINGS: &[&str] = &[
    "Overview",
    "Install",
    "Configure the service",
    "Usage",
    "Examples",
    "Troubleshooting",
    "FAQ",
    "See also",
];

fn slug(heading: &str) -> String {
    heading.to_lowercase().replace(' ', "-")
}

/// Writes the corpus; returns (files, local links written).
fn generate(root: &Path, files: usize) -> Result<(usize, usize), String> {
    let per_section = files.div_ceil(SECTIONS);
    let mut rng = Rng::new(0x5eed);
    let mut local_links = 0;
    let write = |path: &Path, text: &str| {
        std::fs::create_dir_all(path.parent().expect("files have parents"))
            .map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    let mut readme = String::from("# Documentation\n\n");
    for s in 0..SECTIONS {
        let _ = writeln!(readme, "- [Section {s}](section-{s:02}/README.md)");
    }
    write(&root.join("README.md"), &readme)?;
    for i in 0..20 {
        write(&root.join(format!("images/fig-{i}.png")), "not really a png")?;
    }
    let mut written = 1;
    for s in 0..SECTIONS {
        let dir = root.join(format!("section-{s:02}"));
        let mut index = format!("# Section {s}\n\n");
        for p in 0..per_section {
            // A few pages per section are orphans: no navigation reaches them.
            if p % 50 != 49 {
                let _ = writeln!(index, "- [Page {p}](page-{p:03}.md)");
            }
        }
        write(&dir.join("README.md"), &index)?;
        written += 1;
        for p in 0..per_section {
            if written >= files {
                break;
            }
            let (text, links) = page(&mut rng, s, p, per_section);
            local_links += links;
            write(&dir.join(format!("page-{p:03}.md")), &text)?;
            written += 1;
        }
    }
    Ok((written, local_links))
}

/// One page: front matter, headings, prose with about ten local links, external
/// links and a code block with link-like text that must not count.
fn page(rng: &mut Rng, section: usize, number: usize, per_section: usize) -> (String, usize) {
    let mut text = format!(
        "---\ntitle: Page {section}-{number}\ntags: [docs]\n---\n\n# Page {section}-{number}\n\n"
    );
    let mut links = 0;
    let same = |rng: &mut Rng| format!("page-{:03}.md", rng.index(per_section));
    let other = |rng: &mut Rng| {
        format!("../section-{:02}/page-{:03}.md", rng.index(SECTIONS), rng.index(per_section))
    };
    for (h, heading) in HEADINGS.iter().enumerate() {
        let _ = writeln!(text, "## {heading}\n");
        let roll = rng.index(100);
        // About 2% of local links are broken, most of them case-only.
        let target = match roll {
            0 => same(rng).replace("page", "Page"),
            1 => format!("{}#no-such-heading", same(rng)),
            2 if h % 2 == 0 => "removed-page.md".to_owned(),
            _ => same(rng),
        };
        if h % 4 == 0 {
            let _ = write!(
                text,
                "This part covers {heading} in detail. See [the related page]({target}) and \
                 [{}]({}#{}) for background, or jump to [the examples](#examples).\n\n",
                HEADINGS[rng.index(HEADINGS.len())],
                other(rng),
                slug(HEADINGS[rng.index(HEADINGS.len())]),
            );
            links += 3;
        } else {
            let _ = write!(
                text,
                "This part covers {heading} in detail, with prose and no links at all.\n\n"
            );
        }
        match h {
            1 => {
                let _ = write!(
                    text,
                    "Reference-style links work too: [the guide][guide].\n\n[guide]: {}\n\n",
                    other(rng)
                );
                links += 1;
            }
            2 => {
                let _ = write!(
                    text,
                    "<p align=\"center\"><a href=\"{}\"><img src=\"../images/fig-{}.png\" alt=\"figure\"></a></p>\n\n",
                    same(rng),
                    rng.index(20)
                );
                links += 2;
            }
            3 => {
                text.push_str(
                    "```bash\n# not a link: [x](missing.md)\ncurl https://example.com/api\n```\n\n\
                     External: <https://example.com/docs> and [the spec](https://spec.example.org/v2#intro).\n\n",
                );
            }
            4 => {
                let _ = write!(text, "![diagram](../images/fig-{}.png)\n\n", rng.index(20));
                links += 1;
            }
            _ => {}
        }
    }
    (text, links)
}

/// Runs `command` once, measured by `/usr/bin/time` when available.
fn measure(command: Command, scratch: &Path) -> Result<Sample, String> {
    let stats = scratch.join("time.txt");
    let _ = std::fs::remove_file(&stats);
    let mut run = under_time(command, &stats);
    let start = Instant::now();
    let out = run.output().map_err(|e| format!("cannot start {}: {e}", describe(&run)))?;
    let wall = start.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0..=2)) {
        return Err(format!("{} exited with {}", describe(&run), out.status));
    }
    Ok(read_time(&stats, wall))
}

fn row(name: &str, sample: &Sample, files: usize, links: usize) -> String {
    let cpu = sample.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    format!(
        "| {name} | {:.3} | {cpu} | {} | {:.0} | {:.0} |",
        sample.wall,
        sample.mib(),
        files as f64 / sample.wall,
        links as f64 / sample.wall
    )
}

/// `wall s / CPU s / MiB` of one sample.
fn cell(sample: &Sample) -> String {
    let cpu = sample.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    format!("{:.2} / {cpu} / {}", sample.wall, sample.mib())
}

/// How many times less wall time and CPU `ours` took than `theirs`.
fn ratio(theirs: &Sample, ours: &Sample) -> String {
    let cpu = match (theirs.cpu, ours.cpu) {
        (Some(t), Some(o)) if o > 0.0 => format!("{:.1}x", t / o),
        _ => "-".to_owned(),
    };
    format!("{:.1}x / {cpu}", theirs.wall / ours.wall.max(0.001))
}

/// The trees of docs/doclinks.md: corpora folder name, repository, commit.
const REAL_TREES: &[(&str, &str, &str)] = &[
    ("MicrosoftDocs+cpp-docs", "MicrosoftDocs/cpp-docs", "a2e592a8"),
    ("MicrosoftDocs+PowerShell-Docs", "MicrosoftDocs/PowerShell-Docs", "27138b21"),
    ("facebook+react-native-website", "facebook/react-native-website", "2f3a5ac1"),
    ("gohugoio+hugoDocs", "gohugoio/hugoDocs", "1c613349"),
    ("squidfunk+mkdocs-material", "squidfunk/mkdocs-material", "5b36f2ac"),
    ("rust-lang+book", "rust-lang/book", "91754488"),
];

struct Options {
    files: usize,
    corpora: PathBuf,
    copies: usize,
}

fn options(args: &[String]) -> Result<Options, String> {
    let default_corpora = std::env::var_os("DOCLINKS_CORPORA").map_or_else(
        || project_root().parent().unwrap_or(Path::new("/")).join("corpora"),
        PathBuf::from,
    );
    let mut options = Options { files: 10_000, corpora: default_corpora, copies: 10 };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value =
            |name: &str| args.next().cloned().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--corpora" => options.corpora = PathBuf::from(value("--corpora")?),
            "--copies" => {
                let n = value("--copies")?;
                options.copies = n.parse().map_err(|_| format!("`{n}` is not a number"))?;
            }
            n => {
                options.files = n.parse().map_err(|_| format!("`{n}` is not a number of files"))?
            }
        }
    }
    Ok(options)
}

/// lychee: `$LYCHEE`, else on `PATH`.
fn lychee() -> Option<PathBuf> {
    match std::env::var_os("LYCHEE") {
        Some(path) => Some(PathBuf::from(path)),
        None => on_path("lychee").then(|| PathBuf::from("lychee")),
    }
}

fn lychee_command(lychee: &Path, tree: &Path) -> Command {
    let mut command = Command::new(lychee);
    command
        .args([
            "--offline",
            "--include-fragments",
            "--no-progress",
            "--format",
            "json",
            "--root-dir",
        ])
        .arg(tree)
        .arg(".")
        .current_dir(tree);
    command
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let options = options(args)?;
    let tools = Tools::build("release")?;
    let lychee = lychee();
    if lychee.is_none() {
        println!(
            "(lychee is not on PATH nor in $LYCHEE: `cargo install lychee --locked` to compare)"
        );
    }
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bench = Bench {
        options: &options,
        tools: &tools,
        lychee: lychee.as_deref(),
        scratch: scratch.path(),
    };
    generated(&bench)?;
    real_trees(&bench)
}

/// What every part of the bench runs with.
struct Bench<'a> {
    options: &'a Options,
    tools: &'a Tools,
    lychee: Option<&'a Path>,
    scratch: &'a Path,
}

fn generated(bench: &Bench<'_>) -> Result<(), String> {
    let Bench { options, tools, lychee, scratch } = *bench;
    // DOCLINKS_BENCH_DIR keeps the corpus for profiling or other tools.
    let corpus = std::env::var_os("DOCLINKS_BENCH_DIR")
        .map_or_else(|| scratch.join("docs"), std::path::PathBuf::from);
    let (written, local_links) = generate(&corpus, options.files)?;
    println!(
        "generated corpus: {written} Markdown files, {local_links} local links (plus external URLs and code blocks)"
    );
    let doclinks = |extra: &[&str]| {
        let mut command = tools.command("doclinks");
        command
            .args(["check", "--no-cache", "--format", "json", "--root"])
            .arg(&corpus)
            .args(extra);
        command
    };
    // One untimed run warms the page cache, and reports what the tree holds.
    let warm = doclinks(&[]).output().map_err(|e| e.to_string())?;
    let json: serde_json::Value =
        serde_json::from_slice(&warm.stdout).map_err(|e| e.to_string())?;
    // Rates count the local links doclinks resolves (navigation links included).
    let local_links = json["summary"]["local"].as_u64().map_or(local_links, |n| n as usize);
    println!(
        "doclinks finds: {} files, {} links ({} local, {} external), {} broken",
        json["summary"]["files"],
        json["summary"]["links"],
        json["summary"]["local"],
        json["summary"]["external"],
        json["summary"]["broken"]
    );
    println!(
        "\n| run | wall s | CPU s | peak MiB | files/s | local links/s |\n|---|---:|---:|---:|---:|---:|"
    );
    for (name, extra) in
        [("doclinks check", vec![]), ("doclinks check --nav-only", vec!["--nav-only"])]
    {
        let samples: Result<Vec<Sample>, String> =
            (0..RUNS).map(|_| measure(doclinks(&extra), scratch)).collect();
        println!("{}", row(name, &median(samples?), written, local_links));
    }
    if let Some(lychee) = lychee {
        let samples: Result<Vec<Sample>, String> =
            (0..RUNS).map(|_| measure(lychee_command(lychee, &corpus), scratch)).collect();
        println!(
            "{}",
            row("lychee --offline --include-fragments", &median(samples?), written, local_links)
        );
    }
    Ok(())
}

/// Copies `from` to `to` (a new directory) with `cp -r`.
/// A copy of `from` at `to` that keeps the files' modification times: a
/// tree is checked long after its files were written, as a checkout is, not
/// within the 2 s in which doclinks trusts no file's stamp (a copy made just
/// before would keep a small tree's "warm" runs from ever being warm).
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    let out = Command::new("cp")
        .args(["-r", "--preserve=timestamps"])
        .arg(from)
        .arg(to)
        .output()
        .map_err(|e| format!("cannot run cp: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("cp -r {}: {}", from.display(), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// `doclinks check --format json` on `tree`, with `extra` arguments.
fn doclinks_command(tools: &Tools, tree: &Path, extra: &[&str]) -> Command {
    let mut command = tools.command("doclinks");
    command.args(["check", "--format", "json", "--root"]).arg(tree).args(extra);
    command
}

/// `FINE_RUNS` interleaved runs of doclinks cold and of lychee on `tree`:
/// their median wall and CPU milliseconds and the ratios, as table cells.
fn fine_row(tools: &Tools, lychee: &Path, tree: &Path) -> Result<String, String> {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..FINE_RUNS {
        ours.push(timed(doclinks_command(tools, tree, &["--no-cache"]))?);
        theirs.push(timed(lychee_command(lychee, tree))?);
    }
    let medians = |runs: &mut Vec<(f64, f64)>| {
        let middle = runs.len() / 2;
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let wall = runs[middle].0;
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        (wall * 1e3, runs[middle].1 * 1e3)
    };
    let ((wall, cpu), (their_wall, their_cpu)) = (medians(&mut ours), medians(&mut theirs));
    Ok(format!(
        "{wall:.1} / {cpu:.1} | {their_wall:.1} / {their_cpu:.1} | {:.1}x / {:.1}x",
        their_wall / wall,
        their_cpu / cpu
    ))
}

/// One run of `command`: its wall seconds by our clock, and its CPU seconds
/// (user and system, its own children included) from getrusage.
fn timed(mut command: Command) -> Result<(f64, f64), String> {
    let before = children_cpu();
    let start = Instant::now();
    let out = command.output().map_err(|e| format!("cannot start {}: {e}", describe(&command)))?;
    let wall = start.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0..=2)) {
        return Err(format!("{} exited with {}", describe(&command), out.status));
    }
    Ok((wall, children_cpu() - before))
}

/// Pages and links doclinks counts in `tree` (one untimed run, which also
/// warms the file system cache).
fn counts(tools: &Tools, tree: &Path) -> Result<(u64, u64), String> {
    let out = doclinks_command(tools, tree, &["--no-cache"]).output().map_err(|e| e.to_string())?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("doclinks on {}: {e}", tree.display()))?;
    let n = |key: &str| json["summary"][key].as_u64().unwrap_or(0);
    Ok((n("files"), n("links")))
}

fn real_trees(bench: &Bench<'_>) -> Result<(), String> {
    let Bench { options, tools, lychee, scratch } = *bench;
    let present: Vec<&(&str, &str, &str)> =
        REAL_TREES.iter().filter(|(dir, ..)| options.corpora.join(dir).is_dir()).collect();
    if present.is_empty() {
        println!(
            "\n(real trees skipped: none of {} is in {}; --corpora DIR or DOCLINKS_CORPORA names the folder)",
            REAL_TREES.iter().map(|t| t.0).collect::<Vec<_>>().join(", "),
            options.corpora.display()
        );
        return Ok(());
    }
    println!(
        "\nreal trees from {}; each cell is wall s / CPU s / peak MiB",
        options.corpora.display()
    );
    println!(
        "\n| tree | commit | pages | links | doclinks cold | doclinks warm | lychee | lychee ÷ cold (wall / CPU) | lychee ÷ warm |\n|---|---|---:|---:|---|---|---|---:|---:|"
    );
    let mut fine = Vec::new();
    for (dir, repo, commit) in &present {
        // A copy: the warm cache is written in the tree, never in the corpora.
        let tree = scratch.join(dir);
        copy_tree(&options.corpora.join(dir), &tree)?;
        let (pages, links) = counts(tools, &tree)?;
        measure(doclinks_command(tools, &tree, &[]), scratch)?;
        let (mut cold, mut warm, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            cold.push(measure(doclinks_command(tools, &tree, &["--no-cache"]), scratch)?);
            if let Some(lychee) = lychee {
                theirs.push(measure(lychee_command(lychee, &tree), scratch)?);
            }
            warm.push(measure(doclinks_command(tools, &tree, &[]), scratch)?);
        }
        let (cold, warm) = (median(cold), median(warm));
        if cold.wall < FINE_BELOW
            && let Some(lychee) = lychee
        {
            fine.push((repo, fine_row(tools, lychee, &tree)?));
        }
        let (lychee_cell, cold_ratio, warm_ratio) = if theirs.is_empty() {
            ("-".to_owned(), "-".to_owned(), "-".to_owned())
        } else {
            let theirs = median(theirs);
            (cell(&theirs), ratio(&theirs, &cold), ratio(&theirs, &warm))
        };
        println!(
            "| {repo} | `{commit}` | {pages} | {links} | {} | {} | {lychee_cell} | {cold_ratio} | {warm_ratio} |",
            cell(&cold),
            cell(&warm)
        );
        std::fs::remove_dir_all(&tree).map_err(|e| e.to_string())?;
    }
    if !fine.is_empty() {
        println!(
            "\nsmall trees (a cold check under {FINE_BELOW} s) timed finely: the median of {FINE_RUNS} interleaved runs each, without /usr/bin/time (whose CPU figures are in hundredths of a second); CPU from getrusage of the finished child\n\n| tree | doclinks cold, ms wall / CPU | lychee, ms wall / CPU | lychee ÷ cold (wall / CPU) |\n|---|---|---|---:|"
        );
        for (repo, row) in fine {
            println!("| {repo} | {row} |");
        }
    }
    if options.copies > 0 {
        let (dir, repo, commit) = present[0];
        large_tree(bench, (dir, repo, commit))?;
    }
    Ok(())
}

/// `copies` copies of one real tree side by side, with the cache cold, being
/// written, warm, and warm after a one-page edit.
fn large_tree(bench: &Bench<'_>, (dir, repo, commit): (&str, &str, &str)) -> Result<(), String> {
    let Bench { options, tools, lychee, scratch } = *bench;
    let root = scratch.join("large");
    std::fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    for n in 0..options.copies {
        copy_tree(&options.corpora.join(dir), &root.join(format!("copy-{n:02}")))?;
    }
    let (pages, links) = counts(tools, &root)?;
    println!(
        "\n{} copies of {repo} (`{commit}`) side by side: {pages} pages, {links} links\n\n| run | wall s | CPU s | peak MiB |\n|---|---:|---:|---:|",
        options.copies
    );
    let print = |name: &str, sample: &Sample| {
        let cpu = sample.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
        println!("| {name} | {:.2} | {cpu} | {} |", sample.wall, sample.mib());
    };
    print(
        "doclinks, no cache (1 run)",
        &measure(doclinks_command(tools, &root, &["--no-cache"]), scratch)?,
    );
    print(
        "doclinks, cache cold: parsed and written (1 run)",
        &measure(doclinks_command(tools, &root, &[]), scratch)?,
    );
    let warm: Result<Vec<Sample>, String> =
        (0..RUNS).map(|_| measure(doclinks_command(tools, &root, &[]), scratch)).collect();
    print("doclinks, cache warm", &median(warm?));
    // Each run after its own edit: one more line (and one more broken link)
    // at the end of one page.
    let page = first_page(&root.join("copy-00")).ok_or("no Markdown page in the copy")?;
    let mut edited = Vec::new();
    for n in 0..RUNS {
        let mut text = std::fs::read_to_string(&page).map_err(|e| e.to_string())?;
        let _ = write!(text, "\nSee [the new part](new-part-{n}.md).\n");
        std::fs::write(&page, text).map_err(|e| e.to_string())?;
        edited.push(measure(doclinks_command(tools, &root, &[]), scratch)?);
    }
    print("doclinks, cache warm, one page edited", &median(edited));
    if let Some(lychee) = lychee {
        print(
            "lychee --offline --include-fragments (1 run)",
            &measure(lychee_command(lychee, &root), scratch)?,
        );
    }
    std::fs::remove_dir_all(&root).map_err(|e| e.to_string())
}

/// The first Markdown page under `dir`, in name order, that a check reads:
/// not in a hidden folder (`.github/`), which the walk skips.
fn first_page(dir: &Path) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    entries.sort();
    let is_page = |p: &PathBuf| p.extension().is_some_and(|e| e == "md") && p.is_file();
    entries
        .iter()
        .find(|p| is_page(p))
        .cloned()
        .or_else(|| entries.iter().filter(|p| p.is_dir()).find_map(|d| first_page(d)))
}
