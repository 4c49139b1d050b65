//! Triage: applying a reviewed fix plan in one step.
//!
//! `fix --plan-out plan.json` writes every finding; a reviewer gives each row
//! that `fix` leaves (`"apply": false`) a decision with a rationale:
//!
//! ```json
//! "decision": {"action": "retarget", "target": "../guide/new.md", "rationale": "the page was split"}
//! "decision": {"action": "stub", "target": "docs/new.md", "rationale": "bookmarks point at the old page"}
//! "decision": {"action": "historical_ref", "rationale": "the changelog names old pages on purpose"}
//! "decision": {"action": "ignore", "rationale": "generated at build time"}
//! ```
//!
//! The plan is refused as a whole, with nothing written, when a row lacks a
//! decision or a rationale, names an unknown action, no longer matches the
//! tree (the link moved or is fixed), or retargets to a destination the
//! platform does not resolve. Otherwise retargets are rewritten like fixes,
//! `historical_ref`/`ignore` entries are appended to `doclinks.toml` with their
//! reasons, all in one backup; then stubs are written (new files: removing one
//! undoes it).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::check::{CheckOptions, check_and_resolve};
use crate::config::{CONFIG_FILE, Config};
use crate::error::Error;
use crate::fix::{FixOptions, apply_with_config};
use crate::report::{Change, Confidence, Fix, Kind, Report, SkippedPage};

/// How to apply a plan.
#[derive(Debug, Clone, Default)]
pub struct TriageOptions {
    dry_run: bool,
    backup_dir: Option<PathBuf>,
}

impl TriageOptions {
    /// Applies every decision, with a backup in `ROOT/.doclinks/backups`.
    pub fn new() -> TriageOptions {
        TriageOptions::default()
    }

    /// Validates the plan and says what would be done; writes nothing.
    pub fn dry_run(mut self, yes: bool) -> TriageOptions {
        self.dry_run = yes;
        self
    }

    /// Writes the backup archive in this directory.
    pub fn backup_dir(mut self, dir: Option<PathBuf>) -> TriageOptions {
        self.backup_dir = dir;
        self
    }
}

/// What a triage did (or would do, in a dry run).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Triaged {
    /// Links rewritten to their new target.
    pub changes: Vec<Change>,
    /// Redirect stubs written: (old page, page it points to), root-relative.
    pub stubs: Vec<(String, String)>,
    /// `[[historical_ref]]` and `[[ignore]]` entries appended to doclinks.toml.
    pub entries: Vec<String>,
    /// Pages that could not be written, with the reason.
    pub skipped: Vec<SkippedPage>,
    /// The backup archive, when files were replaced.
    pub backup: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Plan {
    findings: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    kind: String,
    /// Root-relative (plans written before `path` existed only have `file`).
    path: Option<String>,
    file: String,
    line: u32,
    column: u32,
    target: String,
    #[serde(default)]
    apply: bool,
    decision: Option<Decision>,
}

#[derive(Deserialize)]
struct Decision {
    action: String,
    target: Option<String>,
    rationale: Option<String>,
}

/// The actions a decision may take.
const ACTIONS: [&str; 4] = ["retarget", "stub", "historical_ref", "ignore"];

/// Applies the decisions of the plan at `plan` to the tree at `root`.
pub fn triage(plan: &Path, root: &Path, options: &TriageOptions) -> Result<Triaged, Error> {
    let bad = |message: String| Error::input(format!("plan {}: {message}", plan.display()));
    let bytes = tidy_io::read_file(plan, 64 * 1024 * 1024)?;
    let parsed: Plan = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("not a doclinks JSON plan ({e})")))?;
    // Every row fix leaves needs a decision with its reason: refused as a whole.
    let mut problems = Vec::new();
    for (n, row) in parsed.findings.iter().enumerate() {
        let at = format!("row {} ({}:{}:{} {})", n + 1, row.file, row.line, row.column, row.target);
        match &row.decision {
            // Redirected links work: they need no decision.
            None if !row.apply && row.kind != Kind::Redirected.as_str() => {
                problems.push(format!("{at} has no decision"));
            }
            None => {}
            Some(d) if !ACTIONS.contains(&d.action.as_str()) => problems.push(format!(
                "{at}: unknown action `{}` (expected {})",
                d.action,
                ACTIONS.join(", ")
            )),
            Some(d) if d.rationale.as_deref().is_none_or(|r| r.trim().is_empty()) => {
                problems.push(format!("{at}: the decision has no rationale"));
            }
            Some(d) if matches!(d.action.as_str(), "retarget" | "stub") && d.target.is_none() => {
                problems.push(format!("{at}: `{}` needs a `target`", d.action));
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        let more = if problems.len() > 3 {
            format!(" (and {} more)", problems.len() - 3)
        } else {
            String::new()
        };
        return Err(bad(format!(
            "refused, nothing written: {}{more}",
            problems[..problems.len().min(3)].join("; ")
        )));
    }
    let decided: Vec<(&Row, &Decision)> =
        parsed.findings.iter().filter_map(|r| r.decision.as_ref().map(|d| (r, d))).collect();
    let path_of = |row: &Row| row.path.clone().unwrap_or_else(|| row.file.clone());
    let queries: Vec<(String, String)> = decided
        .iter()
        .filter(|(_, d)| d.action == "retarget")
        .map(|(r, d)| (path_of(r), d.target.clone().unwrap_or_default()))
        .collect();
    let options_check = CheckOptions::new(root).list_links(true);
    let (report, resolves) = check_and_resolve(&options_check, &queries)?;
    // Each decided row must still be a finding of the tree.
    let current = |row: &Row| {
        report.findings.iter().chain(&report.redirected).find(|f| {
            f.file == path_of(row)
                && f.line == row.line
                && f.column == row.column
                && f.target == row.target
        })
    };
    let mut problems = Vec::new();
    let mut answers = resolves.iter();
    for (row, decision) in &decided {
        let at = format!("{}:{}:{} {}", path_of(row), row.line, row.column, row.target);
        if current(row).is_none() {
            problems.push(format!("{at} is no longer a finding of the tree (make a new plan)"));
        }
        if decision.action == "retarget" && answers.next() != Some(&true) {
            problems.push(format!(
                "{at}: the new target `{}` does not resolve",
                decision.target.as_deref().unwrap_or_default()
            ));
        }
        if decision.action == "stub" && row.kind != Kind::MissingFile.as_str() {
            problems.push(format!("{at}: a stub stands in for a missing page, not a {}", row.kind));
        }
    }
    if !problems.is_empty() {
        return Err(bad(format!("refused, nothing written: {}", problems.join("; "))));
    }

    // Retargets become high-confidence fixes of a report of just those links.
    let mut fixes = Report { root: report.root.clone(), ..Report::default() };
    let mut entries = String::new();
    let mut described = Vec::new();
    let mut stubs = Vec::new();
    for (row, decision) in &decided {
        let Some(finding) = current(row) else { continue };
        let rationale = decision.rationale.clone().unwrap_or_default();
        match decision.action.as_str() {
            "retarget" => {
                let mut finding = finding.clone();
                finding.fix = Some(Box::new(Fix {
                    new_target: decision.target.clone().unwrap_or_default(),
                    confidence: Confidence::High,
                    reason: format!("triage: {rationale}"),
                }));
                fixes.findings.push(finding);
            }
            "stub" => {
                let wanted = report
                    .links
                    .iter()
                    .find(|l| {
                        l.file == finding.file
                            && l.line == finding.line
                            && l.column == finding.column
                    })
                    .and_then(|l| l.path.clone())
                    .ok_or_else(|| {
                        bad(format!("{}: the missing page's path is not known", finding.target))
                    })?;
                stubs.push((wanted, decision.target.clone().unwrap_or_default(), rationale));
            }
            table => {
                let table = if table == "ignore" { "ignore" } else { "historical_ref" };
                let entry = format!(
                    "[[{table}]]\ntarget = {}\nfile = {}\nreason = {}\n",
                    toml_string(&glob_escape(&finding.target)),
                    toml_string(&glob_escape(&finding.file)),
                    toml_string(&rationale)
                );
                described.push(format!(
                    "[[{table}]] {} in {}: {rationale}",
                    finding.target, finding.file
                ));
                entries.push_str(&entry);
            }
        }
    }
    let config_text = if entries.is_empty() {
        None
    } else {
        let existing = match tidy_io::Root::open(&report.root)?
            .read(Path::new(CONFIG_FILE), 16 * 1024 * 1024)
        {
            Ok(loaded) => String::from_utf8(loaded.bytes)
                .map_err(|_| Error::config(&report.root.join(CONFIG_FILE), "not valid UTF-8"))?,
            Err(e) if e.is_not_found() => String::new(),
            Err(e) => return Err(e.into()),
        };
        let mut text = existing.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&entries);
        Config::parse(&text).map_err(|e| Error::config(&report.root.join(CONFIG_FILE), e))?;
        Some(text)
    };
    let fix_options =
        FixOptions::new().dry_run(options.dry_run).backup_dir(options.backup_dir.clone());
    let applied = apply_with_config(&fixes, &fix_options, config_text.as_deref())?;
    let mut done = Triaged {
        changes: applied.changes,
        entries: described,
        skipped: applied.skipped,
        backup: applied.backup,
        stubs: Vec::new(),
    };
    for (old, new, _) in stubs {
        if !options.dry_run {
            crate::fix::write_stub(&report.root, &report.root.join(&old), &report.root.join(&new))?;
        }
        done.stubs.push((old, new));
    }
    Ok(done)
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// `text` as a glob that matches exactly it.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '?' | '[' | ']' | '{' | '}' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_globs_match_only_themselves() {
        let glob = glob_escape("a*b?[c]{d}.md");
        let matcher = globset::Glob::new(&glob).unwrap().compile_matcher();
        assert!(matcher.is_match("a*b?[c]{d}.md"));
        assert!(!matcher.is_match("axb?[c]{d}.md"));
        for text in ["say \"hi\"", "it's", "a\nb", "back\\slash"] {
            let parsed: toml::Value =
                toml::from_str(&format!("x = {}", toml_string(text))).unwrap();
            assert_eq!(parsed["x"].as_str(), Some(text));
        }
    }
}
