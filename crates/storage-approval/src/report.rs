//! The report of proposed actions, its canonical form and its ID.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;

/// The report format version this crate writes and reads.
pub const REPORT_VERSION: u32 = 2;

/// Report fields left out of the ID: they change from run to run for the same content.
const VOLATILE: [&str; 3] = ["generated_at", "runtime_ms", "host"];

/// What an action does to its `src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionKind {
    /// Delete (to the quarantine unless `--purge`).
    Delete,
    /// Move to `dest` (archive).
    Move,
}

impl ActionKind {
    /// The name used in reports and audit logs.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Delete => "delete",
            ActionKind::Move => "move",
        }
    }
}

/// One proposed action. Paths are relative to the report's root, `/`-separated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Delete or move.
    pub action: ActionKind,
    /// The file acted on.
    pub src: String,
    /// Where a move puts it (moves only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dest: Option<String>,
    /// Size in bytes at scan time.
    pub bytes: u64,
    /// SHA-256 (hex) at scan time. An action without one is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Modification time at scan time, RFC 3339 with nanoseconds.
    pub mtime: String,
    /// Which policy rule proposed it.
    pub policy_reason: String,
    /// The duplicate group (`dup:` + SHA-256 prefix), for duplicate deletes.
    #[serde(default)]
    pub group: Option<String>,
    /// The copy of the group that stays and is re-checked before this delete runs
    /// (duplicate deletes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Why that copy stays: the keep rule's deciding criterion (duplicate deletes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_reason: Option<String>,
}

/// A scan report: `{"version","root","generated_at","runtime_ms","host","policy","actions"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Format version ([`REPORT_VERSION`]).
    pub version: u32,
    /// The scanned root, absolute and canonical.
    pub root: String,
    /// When the scan ran (volatile).
    pub generated_at: String,
    /// How long the scan took (volatile).
    pub runtime_ms: u64,
    /// The host it ran on (volatile).
    pub host: String,
    /// The policy applied, as JSON.
    pub policy: serde_json::Value,
    /// The proposed actions, sorted by `src`.
    pub actions: Vec<Action>,
}

impl Report {
    /// The report ID: SHA-256 hex of the canonical report (see [`report_id_of_json`]).
    pub fn id(&self) -> String {
        report_id_of_json(&serde_json::to_value(self).expect("a report serializes"))
    }

    /// Serializes as pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a report serializes");
        text.push('\n');
        text
    }

    /// Total bytes of all actions.
    pub fn total_bytes(&self) -> u64 {
        self.actions.iter().map(|a| a.bytes).sum()
    }
}

/// A report with the ID of exactly its content: read from a file by [`load_report`]
/// (the ID of exactly what the file holds; any extra or edited field changes it), or
/// made from a report in memory by [`LoadedReport::new`].
///
/// The fields are private so that a report and an ID cannot be paired by hand:
/// [`execute`](crate::execute) checks the approval against this ID, and it must be
/// the ID of the actions it runs.
#[derive(Debug, Clone)]
pub struct LoadedReport {
    report: Report,
    id: String,
}

impl LoadedReport {
    /// A report held in memory (straight from [`scan`](crate::scan), say), with its ID.
    pub fn new(report: Report) -> LoadedReport {
        let id = report.id();
        LoadedReport { report, id }
    }

    /// The report.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Its ID.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The largest report read: about two million actions at some 400 bytes each. A
/// cap only against a file that never ends (a device, a file that keeps growing).
pub(crate) const REPORT_LIMIT: u64 = 1 << 30;

/// Reads a report file (at most 1 GiB) and computes its ID. Only a regular file is
/// read (a symlink is followed to one): a FIFO or a device is refused at once, never
/// waited on.
pub fn load_report(path: &Path) -> Result<LoadedReport> {
    let bytes =
        tidy_io::read_file(path, REPORT_LIMIT).map_err(|e| Error::file("cannot read report", e))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(path, format!("not valid JSON: {e}")))?;
    // The version first: an older report has other fields, and "unknown field"
    // would not say what to do about it.
    if let Some(version) = value.get("version").and_then(serde_json::Value::as_u64)
        && version != u64::from(REPORT_VERSION)
    {
        return Err(Error::invalid(
            path,
            format!(
                "report version {version} (this tool reads {REPORT_VERSION}; scan again for a new report)"
            ),
        ));
    }
    let id = report_id_of_json(&value);
    let report: Report = serde_json::from_value(value)
        .map_err(|e| Error::invalid(path, format!("not a storage-approval report: {e}")))?;
    Ok(LoadedReport { report, id })
}

/// The report ID of any JSON value: the volatile top-level fields are dropped, the
/// `actions` array is sorted by each action's canonical text, object keys are sorted,
/// and the SHA-256 of that canonical text is the ID.
pub fn report_id_of_json(value: &serde_json::Value) -> String {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        for key in VOLATILE {
            object.remove(key);
        }
        if let Some(serde_json::Value::Array(actions)) = object.get_mut("actions") {
            let mut keyed: Vec<(String, serde_json::Value)> =
                actions.drain(..).map(|a| (canonical(&a), a)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            actions.extend(keyed.into_iter().map(|(_, a)| a));
        }
    }
    fsutil::sha256_hex(canonical(&value).as_bytes())
}

/// Canonical JSON text: no whitespace, object keys sorted (whatever order the map keeps).
pub(crate) fn canonical(value: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Checks every action before anything is touched: safe relative paths, a SHA-256 on
/// every action, a `dest` exactly on moves, no file acted on twice, no kept copy of a
/// duplicate group that is itself acted on, nothing protected. Any problem refuses
/// the whole report.
pub(crate) fn validate(report: &Report, protected: &dyn Fn(&str) -> bool) -> Result<()> {
    let refuse = |i: usize, a: &Action, why: String| {
        Error::refused(format!("report action {} (`{}`): {why}; nothing was touched", i + 1, a.src))
    };
    let srcs: HashSet<&str> = report.actions.iter().map(|a| a.src.as_str()).collect();
    if srcs.len() != report.actions.len() {
        return Err(Error::refused("report acts on the same file twice; nothing was touched"));
    }
    let mut dests = HashSet::new();
    for (i, a) in report.actions.iter().enumerate() {
        fsutil::components(&a.src).map_err(|e| refuse(i, a, e))?;
        match a.sha256.as_deref() {
            None => {
                return Err(refuse(
                    i,
                    a,
                    "no sha256: an action without a hash is refused".to_owned(),
                ));
            }
            Some(h) if !fsutil::is_sha256(h) => {
                return Err(refuse(i, a, format!("`{h}` is not a SHA-256")));
            }
            Some(_) => {}
        }
        if fsutil::parse_ns(&a.mtime).is_none() {
            return Err(refuse(i, a, format!("mtime `{}` is not RFC 3339", a.mtime)));
        }
        if protected(&a.src) {
            return Err(refuse(i, a, "the path is protected".to_owned()));
        }
        match (a.action, a.dest.as_deref()) {
            (ActionKind::Move, Some(dest)) => {
                fsutil::components(dest).map_err(|e| refuse(i, a, format!("dest: {e}")))?;
                if srcs.contains(dest) || !dests.insert(dest) || protected(dest) {
                    return Err(refuse(
                        i,
                        a,
                        format!("dest `{dest}` is acted on, protected or used twice"),
                    ));
                }
            }
            (ActionKind::Move, None) => return Err(refuse(i, a, "a move without dest".to_owned())),
            (ActionKind::Delete, Some(_)) => {
                return Err(refuse(i, a, "a delete with a dest".to_owned()));
            }
            (ActionKind::Delete, None) => {}
        }
        if let Some(keep) = a.kept.as_deref() {
            fsutil::components(keep).map_err(|e| refuse(i, a, format!("keep: {e}")))?;
            // A copy in the quarantine is on its way out (undo or a clean-up of the
            // quarantine removes it): it cannot be the copy that stays.
            let quarantine = crate::scan::QUARANTINE_DIR;
            if keep == quarantine || keep.starts_with(&format!("{quarantine}/")) {
                return Err(refuse(
                    i,
                    a,
                    format!("the kept copy `{keep}` is in the quarantine, not in the tree"),
                ));
            }
            if srcs.contains(keep) {
                return Err(refuse(
                    i,
                    a,
                    format!(
                        "the kept copy `{keep}` is also acted on: that would remove every copy"
                    ),
                ));
            }
        }
        if a.group.is_some() && a.kept.is_none() {
            return Err(refuse(i, a, "a duplicate delete without the kept copy".to_owned()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(src: &str) -> Action {
        Action {
            action: ActionKind::Delete,
            src: src.to_owned(),
            dest: None,
            bytes: 3,
            sha256: Some("a".repeat(64)),
            mtime: "2024-01-01T00:00:00Z".to_owned(),
            policy_reason: "junk".to_owned(),
            group: None,
            kept: None,
            keep_reason: None,
        }
    }

    fn report(actions: Vec<Action>) -> Report {
        Report {
            version: REPORT_VERSION,
            root: "/r".to_owned(),
            generated_at: "x".to_owned(),
            runtime_ms: 1,
            host: "h".to_owned(),
            policy: serde_json::json!({}),
            actions,
        }
    }

    #[test]
    fn validate_refuses_escapes_and_missing_hash() {
        let none = |_: &str| false;
        assert!(validate(&report(vec![action("a")]), &none).is_ok());
        for bad in ["../../etc/passwd", "/etc/passwd", "a/../../b"] {
            let err = validate(&report(vec![action(bad)]), &none).unwrap_err();
            assert!(err.is_refusal(), "{err}");
        }
        let mut a = action("a");
        a.sha256 = None;
        assert!(
            validate(&report(vec![a]), &none).unwrap_err().to_string().contains("without a hash")
        );
        let mut a = action("a");
        a.group = Some("dup:1".to_owned());
        a.kept = Some("b".to_owned());
        let mut b = action("b");
        b.group = Some("dup:1".to_owned());
        b.kept = Some("a".to_owned());
        assert!(
            validate(&report(vec![a, b]), &none).unwrap_err().to_string().contains("every copy")
        );
        let mut a = action("a");
        a.group = Some("dup:1".to_owned());
        a.kept = Some(".tidy-quarantine/x/b".to_owned());
        assert!(
            validate(&report(vec![a]), &none)
                .unwrap_err()
                .to_string()
                .contains("in the quarantine")
        );
    }

    #[test]
    fn a_report_in_memory_has_the_id_of_its_file() {
        let mut a = action("a");
        a.group = Some("dup:1".to_owned());
        a.kept = Some("b".to_owned());
        let r = report(vec![a, action("c")]);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.json");
        std::fs::write(&path, r.to_json()).unwrap();
        assert_eq!(LoadedReport::new(r).id(), load_report(&path).unwrap().id());
    }

    #[test]
    fn canonical_sorts_keys() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,2],"c":"x"}}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }
}
