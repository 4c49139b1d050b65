//! `cargo xtask bench doclinks [FILES]`: `doclinks check` and `check --nav-only`
//! on a generated tree of 10,000 Markdown files with about 100,000 local links
//! (relative links with and without anchors, reference links, raw HTML, images,
//! external URLs, code blocks), plus lychee on the same tree when it is installed.
//!
//! Wall time, CPU time and peak memory come from `/usr/bin/time` when present
//! (else wall time only). Each measurement is the median of three runs.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::util::{Tools, describe, on_path};

const SECTIONS: usize = 100;
const RUNS: usize = 3;

/// A small deterministic generator, so every run benches the same tree.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

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
    let mut rng = Rng(0x5eed);
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
    let same = |rng: &mut Rng| format!("page-{:03}.md", rng.below(per_section));
    let other = |rng: &mut Rng| {
        format!("../section-{:02}/page-{:03}.md", rng.below(SECTIONS), rng.below(per_section))
    };
    for (h, heading) in HEADINGS.iter().enumerate() {
        let _ = writeln!(text, "## {heading}\n");
        let roll = rng.below(100);
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
                HEADINGS[rng.below(HEADINGS.len())],
                other(rng),
                slug(HEADINGS[rng.below(HEADINGS.len())]),
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
                    rng.below(20)
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
                let _ = write!(text, "![diagram](../images/fig-{}.png)\n\n", rng.below(20));
                links += 1;
            }
            _ => {}
        }
    }
    (text, links)
}

struct Sample {
    wall: f64,
    cpu: Option<f64>,
    max_rss_kb: Option<u64>,
}

/// Runs `command` once, measured by `/usr/bin/time` when available.
fn measure(command: Command, scratch: &Path) -> Result<Sample, String> {
    let timer = Path::new("/usr/bin/time");
    let stats = scratch.join("time.txt");
    let mut run = if timer.is_file() {
        let mut run = Command::new(timer);
        run.arg("-f")
            .arg("%e %U %S %M")
            .arg("-o")
            .arg(&stats)
            .arg(command.get_program())
            .args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            run.current_dir(dir);
        }
        run
    } else {
        command
    };
    let start = Instant::now();
    let out = run.output().map_err(|e| format!("cannot start {}: {e}", describe(&run)))?;
    let wall = start.elapsed().as_secs_f64();
    if !matches!(out.status.code(), Some(0..=2)) {
        return Err(format!("{} exited with {}", describe(&run), out.status));
    }
    if !timer.is_file() {
        return Ok(Sample { wall, cpu: None, max_rss_kb: None });
    }
    let text = std::fs::read_to_string(&stats).map_err(|e| e.to_string())?;
    let fields: Vec<&str> = text.split_whitespace().rev().take(4).collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    Ok(Sample {
        wall: num(3).unwrap_or(wall),
        cpu: num(2).zip(num(1)).map(|(u, s)| u + s),
        max_rss_kb: num(0).map(|kb| kb as u64),
    })
}

fn median(mut samples: Vec<Sample>) -> Sample {
    samples.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    samples.swap_remove(samples.len() / 2)
}

fn row(name: &str, sample: &Sample, files: usize, links: usize) -> String {
    let cpu = sample.cpu.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    let rss =
        sample.max_rss_kb.map_or_else(|| "-".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0));
    format!(
        "| {name} | {:.3} | {cpu} | {rss} | {:.0} | {:.0} |",
        sample.wall,
        files as f64 / sample.wall,
        links as f64 / sample.wall
    )
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let files: usize = match args.first() {
        Some(n) => n.parse().map_err(|_| format!("`{n}` is not a number of files"))?,
        None => 10_000,
    };
    let tools = Tools::build("release")?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    // DOCLINKS_BENCH_DIR keeps the corpus for profiling or other tools.
    let corpus = std::env::var_os("DOCLINKS_BENCH_DIR")
        .map_or_else(|| scratch.path().join("docs"), std::path::PathBuf::from);
    let (written, local_links) = generate(&corpus, files)?;
    println!(
        "corpus: {written} Markdown files, {local_links} local links (plus external URLs and code blocks)"
    );

    let doclinks = |extra: &[&str]| {
        let mut command = tools.command("doclinks");
        command.args(["check", "--format", "json", "--root"]).arg(&corpus).args(extra);
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
    let mut runs: Vec<(&str, Vec<&str>)> =
        vec![("doclinks check", vec![]), ("doclinks check --nav-only", vec!["--nav-only"])];
    if !on_path("lychee") {
        runs.truncate(2);
    }
    for (name, extra) in &runs {
        let samples: Result<Vec<Sample>, String> =
            (0..RUNS).map(|_| measure(doclinks(extra), scratch.path())).collect();
        println!("{}", row(name, &median(samples?), written, local_links));
    }
    if on_path("lychee") {
        let lychee = || {
            let mut command = Command::new("lychee");
            command
                .args([
                    "--offline",
                    "--include-fragments",
                    "--no-progress",
                    "--format",
                    "json",
                    "--root-dir",
                ])
                .arg(&corpus)
                .arg(".")
                .current_dir(&corpus);
            command
        };
        let samples: Result<Vec<Sample>, String> =
            (0..RUNS).map(|_| measure(lychee(), scratch.path())).collect();
        println!(
            "{}",
            row("lychee --offline --include-fragments", &median(samples?), written, local_links)
        );
    } else {
        println!(
            "\n(lychee is not on PATH: `cargo install lychee --locked` to compare side by side)"
        );
    }
    Ok(())
}
