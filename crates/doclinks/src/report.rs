//! What a check finds (findings with their fix proposals, counts, warnings)
//! and what applying fixes did: the data every other module renders or acts on.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

/// The kind of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// The linked file or directory does not exist.
    MissingFile,
    /// The file exists but has no such heading or explicit anchor.
    MissingAnchor,
    /// The file exists only with other letter case: works on macOS and
    /// Windows, breaks on Linux and on the published site.
    CaseMismatch,
    /// The link climbs above the root with `..`.
    OutsideRoot,
    /// A path of one machine: `file:///…` or `C:\…`.
    AbsolutePath,
    /// A link to a page of the published site that is not in this tree (a
    /// configured site prefix, another docset, a page the site model does not
    /// know). Reported apart, never broken, never fixed.
    SiteLink,
    /// A link to a page that is gone, which the site's redirects still serve.
    /// Reported apart, not broken; its fix names the page it redirects to.
    Redirected,
}

impl Kind {
    /// The stable name used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MissingFile => "missing_file",
            Kind::MissingAnchor => "missing_anchor",
            Kind::CaseMismatch => "case_mismatch",
            Kind::OutsideRoot => "outside_root",
            Kind::AbsolutePath => "absolute_path",
            Kind::SiteLink => "site_link",
            Kind::Redirected => "redirected",
        }
    }

    /// Every kind, in a stable order.
    pub const ALL: [Kind; 7] = [
        Kind::MissingFile,
        Kind::MissingAnchor,
        Kind::CaseMismatch,
        Kind::OutsideRoot,
        Kind::AbsolutePath,
        Kind::SiteLink,
        Kind::Redirected,
    ];

    /// Whether findings of this kind are broken links (not site links or
    /// redirected ones, which work on the site).
    pub fn is_broken(self) -> bool {
        !matches!(self, Kind::SiteLink | Kind::Redirected)
    }

    pub(crate) fn description(self) -> &'static str {
        match self {
            Kind::MissingFile => "the linked file does not exist",
            Kind::MissingAnchor => "the linked file has no such heading or anchor",
            Kind::CaseMismatch => "the linked file exists only with other letter case",
            Kind::OutsideRoot => "the link escapes the documentation root",
            Kind::AbsolutePath => "the link is a path on one machine",
            Kind::SiteLink => "the link points at the published site, outside this tree",
            Kind::Redirected => "the linked page is gone; the site redirects it",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a fix proposal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Confidence {
    /// Several candidates or a guess: left for triage.
    Low,
    /// A unique close match: "did you mean".
    Medium,
    /// One unambiguous target: safe to apply unattended.
    High,
}

impl Confidence {
    /// `high`, `medium` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Confidence {
    type Err = String;

    fn from_str(s: &str) -> Result<Confidence, String> {
        match s {
            "high" => Ok(Confidence::High),
            "medium" => Ok(Confidence::Medium),
            "low" => Ok(Confidence::Low),
            other => Err(format!("unknown confidence `{other}` (expected high, medium or low)")),
        }
    }
}

/// A proposed new destination for a broken link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fix {
    /// The destination to write instead, exactly as it will appear in the file.
    pub new_target: String,
    /// How sure the proposal is.
    pub confidence: Confidence,
    /// Why this target: "case-only mismatch", "renamed in git history", …
    pub reason: String,
}

/// One broken (or site) link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// What is wrong.
    pub kind: Kind,
    /// The linking file, relative to the root, `/`-separated.
    pub file: String,
    /// 1-based line of the destination.
    pub line: u32,
    /// 1-based column of the destination, in characters.
    pub column: u32,
    /// The destination exactly as written in the file.
    pub target: String,
    /// The proposed fix, if there is a candidate. Boxed: most findings of a
    /// large tree (its site links) have none, and a report holds them all.
    pub fix: Option<Box<Fix>>,
    /// Byte range of the destination in the file.
    pub(crate) span: Range<usize>,
}

/// One link and where the platform resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkRecord {
    /// The linking file, relative to the root.
    pub file: String,
    /// 1-based line of the destination.
    pub line: u32,
    /// 1-based column of the destination.
    pub column: u32,
    /// The destination as written.
    pub target: String,
    /// `file`, `missing`, `site`, `redirected`, `external`, `outside_root`,
    /// `absolute_path` or `unreadable`.
    pub leads_to: String,
    /// The file it leads to (for `missing`, the file it names), root-relative.
    pub path: Option<String>,
}

/// A file that could not be scanned, or a part of a scan that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Warning {
    /// The file involved.
    pub path: PathBuf,
    /// What happened, lowercase.
    pub message: String,
}

/// Counts over one check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Markdown files checked.
    pub files: usize,
    /// Link destinations found in them.
    pub links: usize,
    /// Links to files in the tree (checked).
    pub local: usize,
    /// Links with a scheme such as `https:` (counted, not checked).
    pub external: usize,
    /// Broken links (every finding except `site_link`).
    pub broken: usize,
    /// Links to the published site outside the tree.
    pub site_links: usize,
    /// Links to gone pages that the site's redirects serve.
    pub redirected: usize,
    /// Findings suppressed by `[[ignore]]` entries.
    pub ignored: usize,
    /// Findings accepted by `[[historical_ref]]` entries.
    pub historical: usize,
    /// Broken links with a high-confidence fix.
    pub fixable_high: usize,
    /// With `--changed-since`: findings the tree already had at the revision,
    /// not reported.
    pub preexisting: Option<usize>,
}

/// The result of a check.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Report {
    /// The root the check ran on, canonicalized; findings' files are relative to it.
    pub root: PathBuf,
    /// Counts.
    pub summary: Summary,
    /// Broken links, sorted by file, line and column.
    pub findings: Vec<Finding>,
    /// Links to the published site, reported apart.
    pub site_links: Vec<Finding>,
    /// Links to redirected pages, reported apart, with the fix to the new page.
    pub redirected: Vec<Finding>,
    /// How the tree is published, and from which file that was detected.
    pub platform: crate::platform::PlatformInfo,
    /// Every link and where it leads, when [`CheckOptions::list_links`] asks.
    ///
    /// [`CheckOptions::list_links`]: crate::CheckOptions::list_links
    pub links: Vec<LinkRecord>,
    /// In nav-only mode: Markdown files that no navigation file reaches.
    pub unreached: Option<Vec<String>>,
    /// Files that could not be scanned.
    pub warnings: Vec<Warning>,
    /// The `max_file_size` the check read pages with, so that `fix` reads them
    /// with the same cap; 0 for a report not made by a check (the default applies).
    pub(crate) max_file_size: u64,
    /// Pages checked from a lossy decode (not UTF-8): never rewritten.
    pub(crate) read_only: Vec<String>,
}

/// One rewritten link destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The linking file, relative to the root.
    pub file: String,
    /// 1-based line of the destination.
    pub line: u32,
    /// 1-based column of the destination.
    pub column: u32,
    /// The destination before.
    pub old: String,
    /// The destination after.
    pub new: String,
    /// The fix's confidence.
    pub confidence: Confidence,
    /// The fix's reason.
    pub reason: String,
}

/// A page `apply` did not write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedPage {
    /// The page, relative to the root.
    pub file: String,
    /// Why it was left as it is.
    pub reason: String,
}

/// What `apply` did (or would do, in a dry run).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Applied {
    /// Every rewritten destination, by file and position.
    pub changes: Vec<Change>,
    /// Files rewritten.
    pub files: Vec<String>,
    /// Pages with fixes that were left as they are, with the reason: their
    /// fixes are not in `changes`.
    pub skipped: Vec<SkippedPage>,
    /// The backup archive, when files were written.
    pub backup: Option<PathBuf>,
}
