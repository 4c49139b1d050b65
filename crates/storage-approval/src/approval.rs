//! The approval file: a human's sign-off on exactly one report ID.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

/// The largest approval read: four short fields and the operator's notes.
pub(crate) const APPROVAL_LIMIT: u64 = 1 << 20;

/// `{"report_id","timestamp","operator","notes"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The ID of the approved report.
    pub report_id: String,
    /// When it was approved (RFC 3339); empty in a template.
    pub timestamp: String,
    /// Who approved it; empty in a template, required to execute.
    pub operator: String,
    /// Free text.
    #[serde(default)]
    pub notes: String,
}

impl Approval {
    /// A template for `report_id`: the operator still has to fill in `operator` and
    /// `timestamp`.
    pub fn template(report_id: &str) -> Approval {
        Approval {
            report_id: report_id.to_owned(),
            timestamp: String::new(),
            operator: String::new(),
            notes: String::new(),
        }
    }

    /// A complete approval, stamped now.
    pub fn new(report_id: &str, operator: &str, notes: &str) -> Result<Approval> {
        if operator.trim().is_empty() {
            return Err(Error::usage("--operator must not be empty"));
        }
        Ok(Approval {
            report_id: report_id.to_owned(),
            timestamp: fsutil::now_rfc3339(),
            operator: operator.to_owned(),
            notes: notes.to_owned(),
        })
    }

    /// Reads an approval file: a regular file only (a symlink is followed to one), at
    /// most 1 MiB.
    pub fn load(path: &Path) -> Result<Approval> {
        let bytes = tidy_io::read_file(path, APPROVAL_LIMIT)
            .map_err(|e| Error::file("cannot read approval", e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::invalid(path, format!("not an approval file: {e}")))
    }

    /// Reads an approval for `execute`: there, a missing or unreadable approval is a
    /// refusal (exit code 1, nothing touched) like a wrong one.
    pub fn load_for_execute(path: &Path) -> Result<Approval> {
        Approval::load(path)
            .map_err(|e| Error::refused(format!("no valid approval: {e}; nothing was touched")))
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("an approval serializes");
        text.push('\n');
        text
    }

    /// Checks that this approval is complete and approves exactly `report_id`;
    /// otherwise a refusal naming both IDs.
    pub fn check(&self, report_id: &str) -> Result<()> {
        if self.report_id != report_id {
            return Err(Error::refused(format!(
                "the approval is for report {} but this report is {report_id}; nothing was touched",
                self.report_id
            )));
        }
        if self.operator.trim().is_empty() {
            return Err(Error::refused(
                "the approval has no operator (a template, not an approval); nothing was touched",
            ));
        }
        if fsutil::parse_ns(&self.timestamp).is_none() {
            return Err(Error::refused("the approval has no valid timestamp; nothing was touched"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_is_not_an_approval() {
        let t = Approval::template("abc");
        assert!(t.check("abc").unwrap_err().is_refusal());
        let a = Approval::new("abc", "ana", "").unwrap();
        assert!(a.check("abc").is_ok());
        assert!(a.check("abd").unwrap_err().to_string().contains("abd"));
    }
}
