//! The JSON `doclinks` prints with `--format json`, one type per output, so the
//! shapes are written down in one place (and in docs/formats.md, whose schemas a
//! test checks against real output). Each serializes straight to text: a large
//! report is never held a second time as a tree of JSON values. SARIF, a
//! standard of its own, is built in `render.rs`.

use std::path::Path;

use serde::Serialize;

use crate::backup::Restored;
use crate::platform::PlatformInfo;
use crate::render::Style;
use crate::report::{Applied, Finding, Report, Summary};
use crate::triage::Triaged;

/// `check --format json`.
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    /// The counts.
    pub summary: SummaryJson<'a>,
    /// How the tree is published, and why doclinks thinks so.
    pub platform: PlatformJson<'a>,
    /// Broken links and anchors.
    pub findings: FindingsJson<'a>,
    /// Links that work only on the published site (outside the tree).
    pub site_links: FindingsJson<'a>,
    /// Links to gone pages that the site's redirects serve.
    pub redirected: FindingsJson<'a>,
    /// With `--nav-only`: the pages no navigation file reaches.
    pub unreached: Option<Vec<String>>,
    /// Files skipped or read with care, and why.
    pub warnings: Vec<WarningJson<'a>>,
    /// With `--list-links`: every local link and where it leads.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkJson<'a>>,
}

impl<'a> ReportJson<'a> {
    /// The JSON of `report`, paths shown as `style` says.
    pub fn new(report: &'a Report, style: &'a Style) -> ReportJson<'a> {
        let list = |findings: &'a [Finding]| FindingsJson { findings, style };
        ReportJson {
            summary: SummaryJson(&report.summary),
            platform: PlatformJson::from(&report.platform),
            findings: list(&report.findings),
            site_links: list(&report.site_links),
            redirected: list(&report.redirected),
            unreached: report.unreached.as_ref().map(|u| u.iter().map(|p| style.path(p)).collect()),
            warnings: report
                .warnings
                .iter()
                .map(|w| WarningJson { path: w.path.display().to_string(), message: &w.message })
                .collect(),
            links: report
                .links
                .iter()
                .map(|l| LinkJson {
                    file: style.path(&l.file),
                    line: l.line,
                    column: l.column,
                    target: &l.target,
                    leads_to: &l.leads_to,
                    path: l.path.as_deref(),
                })
                .collect(),
        }
    }
}

/// A list of findings, each made a [`FindingJson`] as it is written: a large
/// report's findings are not held a second time (12 MB at 100k pages).
#[derive(Debug, Clone, Copy)]
pub struct FindingsJson<'a> {
    findings: &'a [Finding],
    style: &'a Style,
}

impl Serialize for FindingsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.findings.iter().map(|f| FindingJson::new(f, self.style)))
    }
}

/// The counts of a check, in this order; `preexisting` only with `--changed-since`.
#[derive(Debug)]
pub struct SummaryJson<'a>(&'a Summary);

impl Serialize for SummaryJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let s = self.0;
        let mut out = serializer.serialize_struct("Summary", 11)?;
        out.serialize_field("files", &s.files)?;
        out.serialize_field("links", &s.links)?;
        out.serialize_field("local", &s.local)?;
        out.serialize_field("external", &s.external)?;
        out.serialize_field("broken", &s.broken)?;
        out.serialize_field("fixable_high", &s.fixable_high)?;
        out.serialize_field("site_links", &s.site_links)?;
        out.serialize_field("redirected", &s.redirected)?;
        out.serialize_field("ignored", &s.ignored)?;
        out.serialize_field("historical", &s.historical)?;
        match s.preexisting {
            Some(old) => out.serialize_field("preexisting", &old)?,
            None => out.skip_field("preexisting")?,
        }
        out.end()
    }
}

/// The platform model of a check.
#[derive(Debug, Serialize)]
pub struct PlatformJson<'a> {
    /// `docfx`, `mkdocs`, `docusaurus`, `hugo`, `mdbook`, `sphinx`, `github`, …
    pub name: &'static str,
    /// The configuration file it came from.
    pub source: Option<&'a str>,
    /// `detected`, `--platform`, or the config key that chose it.
    pub chosen_by: &'a str,
    /// Each site of a tree that publishes several.
    pub sites: Vec<SiteJson<'a>>,
    /// What the model could not follow, and what it assumed.
    pub notes: &'a [String],
}

impl<'a> From<&'a PlatformInfo> for PlatformJson<'a> {
    fn from(info: &'a PlatformInfo) -> PlatformJson<'a> {
        PlatformJson {
            name: info.platform.as_str(),
            source: info.source.as_deref(),
            chosen_by: &info.chosen_by,
            sites: info
                .sites
                .iter()
                .map(|s| SiteJson {
                    platform: s.platform.as_str(),
                    config: s.config.as_deref(),
                    content: &s.content,
                })
                .collect(),
            notes: &info.notes,
        }
    }
}

/// One site of a tree.
#[derive(Debug, Serialize)]
pub struct SiteJson<'a> {
    /// Its platform.
    pub platform: &'static str,
    /// Its configuration file, relative to the root.
    pub config: Option<&'a str>,
    /// The folder it publishes (empty: the root).
    pub content: &'a str,
}

/// A file skipped or read with care.
#[derive(Debug, Serialize)]
pub struct WarningJson<'a> {
    /// The file.
    pub path: String,
    /// What happened.
    pub message: &'a str,
}

/// One link of `--list-links`.
#[derive(Debug, Serialize)]
pub struct LinkJson<'a> {
    /// The page it is in.
    pub file: String,
    /// Its line (1-based).
    pub line: u32,
    /// Its column (1-based, in characters).
    pub column: u32,
    /// The destination as written.
    pub target: &'a str,
    /// `file`, `anchor`, `site`, …: what it leads to.
    pub leads_to: &'a str,
    /// The file it resolves to, relative to the root.
    pub path: Option<&'a str>,
}

/// A broken link, with the fix proposed for it.
#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    /// `missing_file`, `missing_anchor`, `case_mismatch`, …
    pub kind: &'static str,
    /// The page it is in.
    pub file: String,
    /// Its line (1-based).
    pub line: u32,
    /// Its column (1-based, in characters).
    pub column: u32,
    /// The destination as written.
    pub target: &'a str,
    /// The fix proposed, if any.
    pub fix: Option<FixJson<'a>>,
}

/// A proposed fix.
#[derive(Debug, Serialize)]
pub struct FixJson<'a> {
    /// The destination to write instead.
    pub new_target: &'a str,
    /// `high`, `medium` or `low`.
    pub confidence: &'static str,
    /// Why this target.
    pub reason: &'a str,
}

impl<'a> FindingJson<'a> {
    /// The JSON of `f`, its path shown as `style` says.
    pub fn new(f: &'a Finding, style: &Style) -> FindingJson<'a> {
        FindingJson {
            kind: f.kind.as_str(),
            file: style.path(&f.file),
            line: f.line,
            column: f.column,
            target: &f.target,
            fix: f.fix.as_ref().map(|fix| FixJson {
                new_target: &fix.new_target,
                confidence: fix.confidence.as_str(),
                reason: &fix.reason,
            }),
        }
    }
}

/// `fix --plan-out plan.json`: every finding, whether `fix` applies it, and
/// its root-relative path (what `triage` reads back).
#[derive(Debug, Serialize)]
pub struct PlanJson<'a> {
    /// The `--min-confidence` of the plan.
    pub min_confidence: &'static str,
    /// The root the plan is for.
    pub root: String,
    /// One row per finding.
    pub findings: Vec<PlanRowJson<'a>>,
}

/// A row of a plan.
#[derive(Debug, Serialize)]
pub struct PlanRowJson<'a> {
    /// The finding.
    #[serde(flatten)]
    pub finding: FindingJson<'a>,
    /// Whether `fix` applies it at the plan's confidence.
    pub apply: bool,
    /// The page, relative to the root, whatever the paths are shown as.
    pub path: &'a str,
}

/// `fix --format json`.
#[derive(Debug, Serialize)]
pub struct AppliedJson<'a> {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Each link rewritten (or that would be).
    pub changes: Vec<ChangeJson<'a>>,
    /// The pages written.
    pub files: Vec<String>,
    /// Pages left as they were, and why.
    pub skipped: Vec<SkippedJson<'a>>,
    /// The backup archive written.
    pub backup: Option<String>,
    /// Broken links left.
    pub remaining: usize,
}

impl<'a> AppliedJson<'a> {
    /// The JSON of `applied`, paths shown as `style` says.
    pub fn new(applied: &'a Applied, remaining: usize, dry_run: bool, style: &Style) -> Self {
        AppliedJson {
            dry_run,
            changes: applied
                .changes
                .iter()
                .map(|c| ChangeJson {
                    file: style.path(&c.file),
                    line: c.line,
                    column: c.column,
                    old: &c.old,
                    new: &c.new,
                    confidence: Some(c.confidence.as_str()),
                    reason: &c.reason,
                })
                .collect(),
            files: applied.files.iter().map(|f| style.path(f)).collect(),
            skipped: applied
                .skipped
                .iter()
                .map(|s| SkippedJson { file: style.path(&s.file), reason: &s.reason })
                .collect(),
            backup: applied.backup.as_ref().map(|b| b.display().to_string()),
            remaining,
        }
    }
}

/// A link rewritten.
#[derive(Debug, Serialize)]
pub struct ChangeJson<'a> {
    /// The page.
    pub file: String,
    /// The link's line.
    pub line: u32,
    /// The link's column.
    pub column: u32,
    /// The destination before.
    pub old: &'a str,
    /// The destination after.
    pub new: &'a str,
    /// The fix's confidence (`fix` only; a triage decision has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<&'static str>,
    /// Why.
    pub reason: &'a str,
}

/// A page left as it was.
#[derive(Debug, Serialize)]
pub struct SkippedJson<'a> {
    /// The page.
    pub file: String,
    /// Why it was not written.
    pub reason: &'a str,
}

/// `restore --format json`.
#[derive(Debug, Serialize)]
pub struct RestoredJson<'a> {
    /// The backup archive.
    pub backup: String,
    /// The root restored into.
    pub root: String,
    /// Pages put back.
    pub restored: Vec<String>,
    /// Pages that already had the backup's bytes.
    pub unchanged: Vec<String>,
    /// Pages left as they were (edited since the backup, without `--force`).
    pub skipped: Vec<SkippedJson<'a>>,
}

impl<'a> RestoredJson<'a> {
    /// The JSON of `done`, each page as a path below its root.
    pub fn new(backup: &'a Path, done: &'a Restored) -> RestoredJson<'a> {
        let path = |file: &String| done.root.join(file).display().to_string();
        RestoredJson {
            backup: backup.display().to_string(),
            root: done.root.display().to_string(),
            restored: done.restored.iter().map(path).collect(),
            unchanged: done.unchanged.iter().map(path).collect(),
            skipped: done
                .skipped
                .iter()
                .map(|s| SkippedJson { file: path(&s.file), reason: &s.reason })
                .collect(),
        }
    }
}

/// `stub --format json`.
#[derive(Debug, Serialize)]
pub struct StubJson<'a> {
    /// Where the stub was written.
    pub stub: &'a str,
    /// The page it points to.
    pub target: &'a str,
}

/// `triage --format json`.
#[derive(Debug, Serialize)]
pub struct TriagedJson<'a> {
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Each link retargeted.
    pub changes: Vec<ChangeJson<'a>>,
    /// Redirect stubs written.
    pub stubs: Vec<StubJson<'a>>,
    /// Entries appended to doclinks.toml (`ignore`, `historical_ref`).
    pub entries: &'a [String],
    /// Pages left as they were, and why.
    pub skipped: Vec<SkippedJson<'a>>,
    /// The backup archive written.
    pub backup: Option<String>,
}

impl<'a> TriagedJson<'a> {
    /// The JSON of `done`.
    pub fn new(dry_run: bool, done: &'a Triaged) -> TriagedJson<'a> {
        TriagedJson {
            dry_run,
            changes: done
                .changes
                .iter()
                .map(|c| ChangeJson {
                    file: c.file.clone(),
                    line: c.line,
                    column: c.column,
                    old: &c.old,
                    new: &c.new,
                    confidence: None,
                    reason: &c.reason,
                })
                .collect(),
            stubs: done
                .stubs
                .iter()
                .map(|(old, new)| StubJson { stub: old, target: new })
                .collect(),
            entries: &done.entries,
            skipped: done
                .skipped
                .iter()
                .map(|s| SkippedJson { file: s.file.clone(), reason: &s.reason })
                .collect(),
            backup: done.backup.as_ref().map(|b| b.display().to_string()),
        }
    }
}
