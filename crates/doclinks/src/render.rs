//! Output formats: human lines, JSON, SARIF 2.1.0, GitHub annotations and a
//! Markdown report; plus the fix plan and what a fix run changed.
//!
//! The library renders but never prints: the binary chooses the format and
//! writes the text.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

use crate::output::{AppliedJson, FindingJson, PlanJson, PlanRowJson, ReportJson};
use crate::report::{Applied, Confidence, Finding, Fix, Kind, Report, Summary};

/// An output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `file:line:col: kind: target` lines and a summary.
    Human,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// `::error` workflow commands for GitHub Actions.
    Github,
    /// A Markdown report, for a scheduled job or a PR comment.
    Markdown,
}

/// How paths are shown: findings' files are relative to the root, and shown
/// under the root as the user wrote it (`docs/a.md` for `--root docs`).
#[derive(Debug, Clone, Default)]
pub struct Style {
    root: String,
    /// The directory paths are shown from, root-relative, when it is below the root.
    here: Option<String>,
    color: bool,
}

impl Style {
    /// Paths shown under `root` as written (`.` or empty shows them bare).
    pub fn new(root: &str, color: bool) -> Style {
        let root = root.trim_end_matches('/');
        let root = if root == "." || root.is_empty() { String::new() } else { format!("{root}/") };
        Style { root, here: None, color }
    }

    /// Paths shown from `here`, a directory below the root (root-relative):
    /// `guide/a.md` from `docs` for `docs/guide/a.md`, `../b.md` for `b.md`.
    pub fn relative_to(here: &str, color: bool) -> Style {
        let here = here.trim_matches('/');
        Style { root: String::new(), here: (!here.is_empty()).then(|| here.to_owned()), color }
    }

    pub(crate) fn path(&self, rel: &str) -> String {
        match &self.here {
            Some(here) => crate::resolve::relative(here, rel),
            None => format!("{}{rel}", self.root),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() }
    }
}

/// `text` with its control characters escaped (`\n`, `\u{1b}`): a file name
/// or destination holding a newline must not start a line of its own on a
/// terminal or in a CI log (where a line `::error::…` is a workflow command),
/// nor an escape sequence drive the terminal.
pub(crate) fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return text.into();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out.into()
}

/// Renders a check report.
pub fn render_report(report: &Report, format: Format, style: &Style) -> String {
    match format {
        Format::Human => human(report, style),
        Format::Json => to_text(&ReportJson::new(report, style)),
        Format::Sarif => pretty(&sarif(report, style)),
        Format::Github => github(report, style),
        Format::Markdown => markdown(report, style),
    }
}

/// Writes a check report to `out`: the JSON straight from its `Serialize`,
/// never held whole (at 100k pages its text was 18 MB, and 32 MB of memory as
/// it grew); the other formats as [`render_report`] makes them.
pub fn write_report(
    report: &Report,
    format: Format,
    style: &Style,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &ReportJson::new(report, style))?;
            out.write_all(b"\n")
        }
        _ => out.write_all(render_report(report, format, style).as_bytes()),
    }
}

/// `value` as pretty JSON text, straight from its `Serialize`.
pub(crate) fn to_text(value: &impl Serialize) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("doclinks' JSON types serialize");
    text.push('\n');
    text
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialize");
    text.push('\n');
    text
}

/// A fix's proposal, its target and reason shown escaped: both can name a
/// file whose name holds a newline.
fn did_you_mean(fix: &Fix) -> String {
    format!("did you mean `{}`? {}: {}", shown(&fix.new_target), fix.confidence, shown(&fix.reason))
}

fn human(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    for f in report.findings.iter().chain(&report.redirected) {
        let code = if f.kind.is_broken() { "1;31" } else { "1;33" };
        let kind = style.paint(code, f.kind.as_str());
        let _ = write!(
            out,
            "{}:{}:{}: {kind}: {}",
            shown(&style.path(&f.file)),
            f.line,
            f.column,
            shown(&f.target)
        );
        if let Some(fix) = &f.fix {
            let _ = write!(out, " ({})", did_you_mean(fix));
        }
        out.push('\n');
    }
    if let Some(unreached) = &report.unreached
        && !unreached.is_empty()
    {
        let _ = writeln!(out, "{} pages no navigation reaches:", unreached.len());
        for page in unreached {
            let _ = writeln!(out, "  {}", shown(&style.path(page)));
        }
    }
    for note in &report.platform.notes {
        let _ = writeln!(out, "note: {}", shown(note));
    }
    out.push_str(&summary_line(report));
    out.push('\n');
    out
}

/// Which platform the links were resolved for, and why.
fn platform_phrase(info: &crate::platform::PlatformInfo) -> String {
    let mut text = format!("platform: {}", info.platform);
    match (info.chosen_by.as_str(), &info.source) {
        ("detected", Some(source)) => {
            let _ = write!(text, ", detected from {source}");
        }
        ("detected", None) => text.push_str(" (no site configuration found)"),
        (by, Some(source)) => {
            let _ = write!(text, " ({by}; settings from {source})");
        }
        (by, None) => {
            let _ = write!(text, " ({by})");
        }
    }
    if info.sites.len() > 1 {
        let _ = write!(text, ", {} sites", info.sites.len());
    }
    text
}

fn summary_line(report: &Report) -> String {
    let mut line = counts_line(&report.summary);
    let _ = write!(line, "; {}", platform_phrase(&report.platform));
    line
}

fn counts_line(s: &Summary) -> String {
    let mut line = format!(
        "checked {} files, {} links ({} local, {} external): {} broken",
        s.files, s.links, s.local, s.external, s.broken
    );
    if s.broken > 0 {
        let _ = write!(line, " ({} with a high-confidence fix)", s.fixable_high);
    }
    let _ = write!(line, ", {} site links", s.site_links);
    if s.redirected > 0 {
        let _ = write!(line, ", {} redirected", s.redirected);
    }
    if s.ignored > 0 || s.historical > 0 {
        let _ = write!(line, ", {} ignored, {} historical", s.ignored, s.historical);
    }
    if let Some(old) = s.preexisting {
        let _ = write!(line, "; {old} older findings, already there at the revision, not shown");
    }
    line
}

fn message(f: &Finding) -> String {
    let mut text = format!("{}: {} ({})", f.kind.as_str(), f.target, f.kind.description());
    if let Some(fix) = &f.fix {
        let _ = write!(text, "; {}", did_you_mean(fix));
    }
    text
}

fn sarif(report: &Report, style: &Style) -> Value {
    let kinds: Vec<Kind> = Kind::ALL.into_iter().filter(|k| k.is_broken()).collect();
    let rules: Vec<Value> = kinds
        .iter()
        .map(|k| {
            json!({
                "id": k.as_str(),
                "name": k.as_str(),
                "shortDescription": { "text": k.description() },
                "defaultConfiguration": { "level": "error" },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut result = json!({
                "ruleId": f.kind.as_str(),
                "ruleIndex": kinds.iter().position(|k| *k == f.kind).unwrap_or(0),
                "level": "error",
                "message": { "text": message(f) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": style.path(&f.file) },
                        "region": { "startLine": f.line, "startColumn": f.column },
                    }
                }],
            });
            if let Some(fix) = &f.fix {
                result["properties"] = json!({
                    "fix": fix.new_target,
                    "confidence": fix.confidence.as_str(),
                    "reason": fix.reason,
                });
                // A SARIF fix: replace the destination's characters on its line.
                if !f.target.contains('\n') {
                    let end = f.column as usize + f.target.chars().count();
                    result["fixes"] = json!([{
                        "description": { "text": format!("{} ({} confidence)", fix.reason, fix.confidence) },
                        "artifactChanges": [{
                            "artifactLocation": { "uri": style.path(&f.file) },
                            "replacements": [{
                                "deletedRegion": { "startLine": f.line, "startColumn": f.column, "endColumn": end },
                                "insertedContent": { "text": fix.new_target },
                            }],
                        }],
                    }]);
                }
            }
            result
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "doclinks",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            // Columns count characters, not the UTF-16 units SARIF assumes by default.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    })
}

/// Escapes a workflow command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a workflow command's property value.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn github(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    for f in &report.findings {
        let _ = writeln!(
            out,
            "::error file={},line={},col={},title={}::{}",
            escape_property(&style.path(&f.file)),
            f.line,
            f.column,
            escape_property(&format!("doclinks {}", f.kind)),
            escape_data(&message(f))
        );
    }
    let _ = writeln!(out, "::notice title=doclinks::{}", escape_data(&summary_line(report)));
    out
}

/// Escapes text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn code(text: &str) -> String {
    if text.contains('`') { format!("`` {} ``", cell(text)) } else { format!("`{}`", cell(text)) }
}

fn markdown(report: &Report, style: &Style) -> String {
    let s = &report.summary;
    let mut out = String::from("# doclinks report\n\n");
    let _ = writeln!(out, "{}\n", cell(&platform_phrase(&report.platform)));
    for note in &report.platform.notes {
        let _ = writeln!(out, "- note: {}", cell(note));
    }
    if !report.platform.notes.is_empty() {
        out.push('\n');
    }
    out.push_str("| files | links | local | external | broken | high-confidence fixes | site links | ignored | historical |\n");
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        s.files,
        s.links,
        s.local,
        s.external,
        s.broken,
        s.fixable_high,
        s.site_links,
        s.ignored,
        s.historical
    );
    if report.findings.is_empty() {
        out.push_str("No broken links.\n");
    } else {
        out.push_str("## Broken links\n\n| file | line:col | kind | target | fix | confidence | reason |\n|---|---|---|---|---|---|---|\n");
        for f in &report.findings {
            let (new, confidence, reason) = match &f.fix {
                Some(fix) => (code(&fix.new_target), fix.confidence.as_str(), cell(&fix.reason)),
                None => (
                    "—".to_owned(),
                    "",
                    "no candidate: update by hand, add a stub or a `historical_ref`".to_owned(),
                ),
            };
            let _ = writeln!(
                out,
                "| {} | {}:{} | {} | {} | {new} | {confidence} | {reason} |",
                cell(&style.path(&f.file)),
                f.line,
                f.column,
                f.kind,
                code(&f.target)
            );
        }
    }
    if let Some(unreached) = &report.unreached
        && !unreached.is_empty()
    {
        let _ = writeln!(out, "\n## Pages no navigation reaches\n");
        for page in unreached {
            let _ = writeln!(out, "- {}", code(&style.path(page)));
        }
    }
    if !report.redirected.is_empty() {
        let _ = writeln!(out, "\n## Links to redirected pages ({})\n", report.redirected.len());
        for f in &report.redirected {
            let fix =
                f.fix.as_ref().map_or_else(String::new, |x| format!(" → {}", code(&x.new_target)));
            let _ = writeln!(
                out,
                "- {}:{}:{} {}{fix}",
                cell(&style.path(&f.file)),
                f.line,
                f.column,
                code(&f.target)
            );
        }
    }
    if !report.site_links.is_empty() {
        let _ = writeln!(out, "\n## Links to the published site ({})\n", report.site_links.len());
        for f in &report.site_links {
            let _ = writeln!(
                out,
                "- {}:{}:{} {}",
                cell(&style.path(&f.file)),
                f.line,
                f.column,
                code(&f.target)
            );
        }
    }
    out
}

/// The fix plan: every finding, whether it will be applied at `min`, and why.
/// JSON when `json`, Markdown otherwise.
pub(crate) fn render_plan(report: &Report, min: Confidence, json: bool, style: &Style) -> String {
    let applies =
        |f: &Finding| f.kind.is_broken() && f.fix.as_ref().is_some_and(|x| x.confidence >= min);
    let rows: Vec<&Finding> = report.findings.iter().chain(&report.redirected).collect();
    if json {
        let plan = PlanJson {
            min_confidence: min.as_str(),
            root: report.root.display().to_string(),
            findings: rows
                .iter()
                .map(|f| PlanRowJson {
                    finding: FindingJson::new(f, style),
                    apply: applies(f),
                    // Root-relative, whatever the paths are shown as: triage reads it.
                    path: &f.file,
                })
                .collect(),
        };
        return to_text(&plan);
    }
    let mut out = format!(
        "# doclinks fix plan\n\nApplying fixes at or above **{min}** confidence: {} of {} broken links.\n\n",
        report.findings.iter().filter(|f| applies(f)).count(),
        report.findings.len()
    );
    if rows.is_empty() {
        out.push_str("No broken links.\n");
        return out;
    }
    out.push_str("| apply | file | line:col | kind | target | new target | confidence | reason |\n|---|---|---|---|---|---|---|---|\n");
    for f in rows {
        let (new, confidence, reason) = match &f.fix {
            Some(fix) => (code(&fix.new_target), fix.confidence.as_str(), cell(&fix.reason)),
            None => ("—".to_owned(), "low", "no candidate: left for triage".to_owned()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {}:{} | {} | {} | {new} | {confidence} | {reason} |",
            if applies(f) { "yes" } else { "no" },
            cell(&style.path(&f.file)),
            f.line,
            f.column,
            f.kind,
            code(&f.target)
        );
    }
    out
}

/// What `fix` changed (or would change), and what is left.
pub fn render_applied(
    applied: &Applied,
    remaining: usize,
    dry_run: bool,
    json: bool,
    style: &Style,
) -> String {
    if json {
        return to_text(&AppliedJson::new(applied, remaining, dry_run, style));
    }
    let mut out = String::new();
    for c in &applied.changes {
        let _ = writeln!(
            out,
            "{}:{}:{}: {} -> {} ({}: {})",
            shown(&style.path(&c.file)),
            c.line,
            c.column,
            shown(&c.old),
            shown(&c.new),
            c.confidence,
            c.reason
        );
    }
    for skipped in &applied.skipped {
        let _ = writeln!(
            out,
            "skipped {}: {}",
            shown(&style.path(&skipped.file)),
            shown(&skipped.reason)
        );
    }
    let verb = if dry_run { "would fix" } else { "fixed" };
    let _ = write!(out, "{verb} {} links in {} files", applied.changes.len(), applied.files.len());
    if !applied.skipped.is_empty() {
        let _ = write!(out, "; {} files skipped, not written", applied.skipped.len());
    }
    match &applied.backup {
        Some(backup) => {
            let _ = write!(out, "; backup: {}", backup.display());
        }
        None if applied.changes.is_empty() => {}
        None => out.push_str("; nothing written (dry run)"),
    }
    out.push('\n');
    if remaining > 0 {
        // A skipped file's links keep their fixes: said, not taken for ones without.
        let why = if applied.skipped.is_empty() {
            "below the minimum confidence or without a fix"
        } else {
            "in the files skipped, or below the minimum confidence or without a fix"
        };
        let _ = writeln!(out, "{remaining} broken links left for triage ({why})");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, shown};
    use crate::report::{Confidence, Fix};

    #[test]
    fn control_characters_are_shown_escaped_and_other_text_as_it_is() {
        assert_eq!(shown("docs/a b.md"), "docs/a b.md");
        assert!(matches!(shown("é/ü.md"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(shown("evil\n::warning file=x::pwn.md"), "evil\\n::warning file=x::pwn.md");
        assert_eq!(shown("a\x1b[31mred\r\tb"), "a\\u{1b}[31mred\\r\\tb");
    }

    #[test]
    fn a_fix_proposal_names_its_target_and_reason_escaped() {
        let fix = Fix {
            new_target: "new\n::error::x.md".to_owned(),
            confidence: Confidence::High,
            reason: "renamed to `new\n::error::x.md` in git history".to_owned(),
        };
        let text = did_you_mean(&fix);
        assert!(!text.contains('\n'), "{text}");
        assert!(text.starts_with("did you mean `new\\n::error::x.md`? high: renamed"), "{text}");
    }
}
