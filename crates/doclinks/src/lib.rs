//! doclinks finds broken local links and anchors in Markdown trees, proposes a
//! fix for each with a confidence level, and applies the sure ones byte-exactly
//! with a backup.
//!
//! A check walks the tree (respecting `.gitignore`), parses every Markdown file
//! once with comrak, resolves inline, reference, autolink, image and raw-HTML
//! destinations, and checks `#fragments` against GitHub-style heading slugs and
//! explicit anchors. Each broken link comes with a [`Fix`] whose [`Confidence`]
//! says whether it is safe to apply unattended.
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
mod check;
mod config;
mod error;
mod extract;
mod fix;
mod nav;
mod render;
mod report;
mod resolve;
mod slug;
mod suggest;
mod tree;

pub use crate::backup::{RestoreOptions, Restored, Skipped, restore};
pub use crate::check::{CheckOptions, Progress, check};
pub use crate::config::{CONFIG_FILE, Config};
pub use crate::error::{Error, ErrorKind};
pub use crate::fix::{Applied, Change, FixOptions, SkippedPage, apply, write_plan, write_stub};
pub use crate::render::{Format, Style, render_applied, render_report};
pub use crate::report::{Confidence, Finding, Fix, Kind, Report, Summary, Warning};
