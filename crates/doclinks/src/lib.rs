//! doclinks finds broken local links and anchors in Markdown trees, proposes a
//! fix for each with a confidence level, and applies the sure ones byte-exactly
//! with a backup.
//!
//! A check walks the tree (respecting `.gitignore`), detects how it is
//! published ([`Platform`]: DocFX, mkdocs, Docusaurus, Hugo, mdBook, Sphinx, or
//! GitHub/GitLab rendering), parses every Markdown file once with pulldown-cmark (a
//! page unchanged since the last check comes from the page cache in
//! `.doclinks/cache`, see [`CheckOptions::cache`]), and
//! resolves inline, reference, autolink, image and raw-HTML destinations the
//! way that platform does, `#fragments` included (each renderer's heading ids).
//! Links to the published site outside the tree are site links, reported apart.
//! Each broken link comes with a [`Fix`] whose [`Confidence`] says whether it is
//! safe to apply unattended; a fix is proposed only if its new destination
//! resolves on the platform.
//!
//! # Example
//!
//! ```
//! use doclinks::{CheckOptions, Confidence, FixOptions, Kind};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! std::fs::write(dir.path().join("README.md"), "# Home\n\nSee [the guide](Guide.md#setup).\n")?;
//! std::fs::write(dir.path().join("guide.md"), "# Guide\n\n## Setup\n")?;
//!
//! let report = doclinks::check(&CheckOptions::new(dir.path()))?;
//! let finding = &report.findings[0];
//! assert_eq!(finding.kind, Kind::CaseMismatch);
//! let fix = finding.fix.as_ref().unwrap();
//! assert_eq!((fix.new_target.as_str(), fix.confidence), ("guide.md#setup", Confidence::High));
//!
//! let applied = doclinks::apply(&report, &FixOptions::new())?;
//! assert_eq!(applied.changes.len(), 1);
//! assert!(applied.backup.is_some());
//! assert!(doclinks::check(&CheckOptions::new(dir.path()))?.findings.is_empty());
//! # Ok(())
//! # }
//! ```

mod backup;
mod cache;
mod check;
#[cfg(feature = "cli")]
pub mod cli;
mod config;
mod discover;
mod error;
mod extract;
mod fast;
mod fix;
mod git;
mod jsconf;
mod jsonc;
mod nav;
pub mod output;
mod plan;
mod platform;
mod render;
mod report;
mod resolve;
mod results;
mod scan;
mod since;
mod site;
mod slug;
mod suggest;
mod tree;
mod triage;
mod walk;

pub use crate::backup::{RestoreOptions, Restored, Skipped, restore};
pub use crate::check::{CheckOptions, Progress, check};
pub use crate::config::{CONFIG_FILE, Config};
pub use crate::discover::{Discovered, discover_root};
pub use crate::error::{Error, ErrorKind};
pub use crate::extract::destinations;
pub use crate::fix::{FixOptions, apply, write_stub};
pub use crate::plan::write_plan;
pub use crate::platform::{Platform, PlatformInfo, SiteInfo};
pub use crate::render::{Format, Style, render_applied, render_report, write_report};
pub use crate::report::{
    Applied, Change, Confidence, Finding, Fix, Kind, LinkRecord, Report, SkippedPage, Summary,
    Warning,
};
pub use crate::triage::{TriageOptions, Triaged, triage};
