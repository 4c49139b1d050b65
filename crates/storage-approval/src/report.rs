//! The report of proposed actions, its canonical form and its ID.
//!
//! A report can hold hundreds of thousands of actions, so it is never held as one
//! JSON tree: it is written one action per line, read back as a stream (each action
//! parsed, hashed and kept in its compact form, the file's bytes never held whole),
//! and its ID is built from one SHA-256 per action. The strings a duplicate group
//! shares (hash, reasons, group, kept copy) are shared in memory too.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

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

/// A string shared by every action that holds it (`Arc<str>` with serde).
mod shared {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(d).map(Arc::from)
    }

    pub(super) mod option {
        use std::sync::Arc;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            text: &Option<Arc<str>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match text {
                Some(text) => s.serialize_some(&**text),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Arc<str>>, D::Error> {
            Option::<String>::deserialize(d).map(|text| text.map(Arc::from))
        }
    }
}

/// One proposed action. Paths are relative to the report's root, `/`-separated.
/// The strings a duplicate group shares are shared (`Arc<str>`), so 200,000
/// deletes of one group hold their hash, reasons and kept copy once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Delete or move.
    pub action: ActionKind,
    /// The file acted on.
    #[serde(with = "shared")]
    pub src: Arc<str>,
    /// Where a move puts it (moves only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "shared::option")]
    pub dest: Option<Arc<str>>,
    /// Size in bytes at scan time.
    pub bytes: u64,
    /// SHA-256 (hex) at scan time. An action without one is refused.
    #[serde(default, with = "shared::option")]
    pub sha256: Option<Arc<str>>,
    /// Modification time at scan time, RFC 3339 with nanoseconds.
    pub mtime: String,
    /// Which policy rule proposed it.
    #[serde(with = "shared")]
    pub policy_reason: Arc<str>,
    /// The duplicate group (`dup:` + SHA-256 prefix), for duplicate deletes.
    #[serde(default, with = "shared::option")]
    pub group: Option<Arc<str>>,
    /// The copy of the group that stays and is re-checked before this delete runs
    /// (duplicate deletes only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "shared::option")]
    pub kept: Option<Arc<str>>,
    /// Why that copy stays: the keep rule's deciding criterion (duplicate deletes only).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "shared::option")]
    pub keep_reason: Option<Arc<str>>,
}

impl Action {
    /// The SHA-256 of this action's canonical JSON, written straight from its fields
    /// (keys in sorted order, the optional ones only when set, strings escaped by
    /// serde_json): what [`action_digest`] computes from its JSON value, without
    /// building one for each of a report's actions.
    fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let text = |h: &mut Sha256, key: &str, value: &str| {
            h.update(key.as_bytes());
            h.update(serde_json::to_string(value).expect("a string serializes").as_bytes());
        };
        let optional = |h: &mut Sha256, key: &str, value: &Option<Arc<str>>| match value {
            Some(value) => text(h, key, value),
            None => h.update(format!("{key}null").as_bytes()),
        };
        text(&mut h, "{\"action\":", self.action.as_str());
        h.update(format!(",\"bytes\":{}", self.bytes).as_bytes());
        if let Some(dest) = &self.dest {
            text(&mut h, ",\"dest\":", dest);
        }
        optional(&mut h, ",\"group\":", &self.group);
        if let Some(why) = &self.keep_reason {
            text(&mut h, ",\"keep_reason\":", why);
        }
        if let Some(kept) = &self.kept {
            text(&mut h, ",\"kept\":", kept);
        }
        text(&mut h, ",\"mtime\":", &self.mtime);
        text(&mut h, ",\"policy_reason\":", &self.policy_reason);
        optional(&mut h, ",\"sha256\":", &self.sha256);
        text(&mut h, ",\"src\":", &self.src);
        h.update(b"}");
        h.finalize().into()
    }
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

/// The report's fields other than `actions`, as they are read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    version: u32,
    root: String,
    generated_at: String,
    runtime_ms: u64,
    host: String,
    policy: serde_json::Value,
}

impl Report {
    /// The report ID (see [`report_id_of_json`]).
    pub fn id(&self) -> String {
        let mut digests: Vec<[u8; 32]> = self.actions.iter().map(Action::digest).collect();
        id_of(&self.header_json(), &mut digests)
    }

    fn header_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut header = serde_json::Map::new();
        header.insert("version".into(), self.version.into());
        header.insert("root".into(), self.root.clone().into());
        header.insert("generated_at".into(), self.generated_at.clone().into());
        header.insert("runtime_ms".into(), self.runtime_ms.into());
        header.insert("host".into(), self.host.clone().into());
        header.insert("policy".into(), self.policy.clone());
        header
    }

    /// The report as JSON with a trailing newline: the header fields one a line,
    /// then one action a line, so that it reads (and diffs) an action at a time.
    pub fn to_json(&self) -> String {
        let json = |value: &dyn erased::Json| value.text();
        let mut out = String::with_capacity(256 + self.actions.len() * 320);
        out.push_str("{\n");
        for (key, value) in self.header_json() {
            let value = match key.as_str() {
                // The policy pretty-printed, indented under its key.
                "policy" => serde_json::to_string_pretty(&value)
                    .expect("a policy serializes")
                    .replace('\n', "\n  "),
                _ => json(&value),
            };
            out.push_str(&format!("  {}: {value},\n", json(&key)));
        }
        out.push_str("  \"actions\": [");
        for (i, action) in self.actions.iter().enumerate() {
            out.push_str(if i == 0 { "\n    " } else { ",\n    " });
            out.push_str(&serde_json::to_string(action).expect("an action serializes"));
        }
        out.push_str(if self.actions.is_empty() { "]\n}\n" } else { "\n  ]\n}\n" });
        out
    }

    /// Total bytes of all actions.
    pub fn total_bytes(&self) -> u64 {
        self.actions.iter().map(|a| a.bytes).sum()
    }
}

/// Serializing anything to one line of JSON, for [`Report::to_json`].
mod erased {
    pub(super) trait Json {
        fn text(&self) -> String;
    }

    impl<T: serde::Serialize> Json for T {
        fn text(&self) -> String {
            serde_json::to_string(self).expect("JSON serializes")
        }
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

    /// The multilock locks running this report takes: those its recorded
    /// policy names (see [`Policy::lock_names`](crate::Policy::lock_names)).
    pub fn lock_names(&self) -> Result<Vec<String>> {
        Ok(crate::policy::Policy::from_report_json(&self.report.policy)?.lock_names())
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

/// The largest report read: about three million actions at some 330 bytes each. A
/// cap only against a file that never ends (a device, a file that keeps growing).
pub(crate) const REPORT_LIMIT: u64 = 1 << 30;

/// Reads a report file (at most 1 GiB) as a stream and computes its ID. Only a
/// regular file is read (a symlink is followed to one): a FIFO or a device is
/// refused at once, never waited on.
pub fn load_report(path: &Path) -> Result<LoadedReport> {
    let (file, _) =
        tidy_io::open_regular(path).map_err(|e| Error::file("cannot read report", e))?;
    let mut reader = Capped {
        inner: std::io::BufReader::with_capacity(1 << 18, file),
        left: REPORT_LIMIT,
        over: false,
    };
    let mut digests = Vec::new();
    let mut interner = Interner::default();
    let parsed = {
        let mut de = serde_json::Deserializer::from_reader(&mut reader);
        let seed = ReportSeed { digests: &mut digests, interner: &mut interner };
        seed.deserialize(&mut de).and_then(|parsed| de.end().map(|()| parsed))
    };
    if reader.over {
        let too_large = tidy_io::Error::TooLarge { path: path.to_path_buf(), limit: REPORT_LIMIT };
        return Err(Error::file("cannot read report", too_large));
    }
    let (header_json, actions) = parsed.map_err(|e| match e.classify() {
        serde_json::error::Category::Io => Error::io("cannot read report", path, e.into()),
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
            Error::invalid(path, format!("not valid JSON: {e}"))
        }
        serde_json::error::Category::Data => {
            Error::invalid(path, format!("not a storage-approval report: {e}"))
        }
    })?;
    // The version first: an older report has other fields, and "unknown field"
    // would not say what to do about it.
    if let Some(version) = header_json.get("version").and_then(serde_json::Value::as_u64)
        && version != u64::from(REPORT_VERSION)
    {
        return Err(Error::invalid(
            path,
            format!(
                "report version {version} (this tool reads {REPORT_VERSION}; scan again for a new report)"
            ),
        ));
    }
    let Some(actions) = actions else {
        return Err(Error::invalid(path, "not a storage-approval report: missing field `actions`"));
    };
    let id = id_of(&header_json, &mut digests);
    let header: Header = serde_json::from_value(serde_json::Value::Object(header_json))
        .map_err(|e| Error::invalid(path, format!("not a storage-approval report: {e}")))?;
    let report = Report {
        version: header.version,
        root: header.root,
        generated_at: header.generated_at,
        runtime_ms: header.runtime_ms,
        host: header.host,
        policy: header.policy,
        actions,
    };
    Ok(LoadedReport { report, id })
}

/// A reader that stops with an error past `left` bytes, and says so.
struct Capped<R> {
    inner: R,
    left: u64,
    over: bool,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One byte more than the cap tells a file at the cap from one past it.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.over = true;
                return Err(std::io::Error::other("over the size limit"));
            }
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// One copy of each string that many actions hold (a group's hash, reasons,
/// kept copy), so that a loaded report shares them as a scanned one does.
#[derive(Default)]
struct Interner {
    strings: HashSet<Arc<str>>,
}

impl Interner {
    fn share(&mut self, text: &mut Arc<str>) {
        match self.strings.get(&**text) {
            Some(known) => *text = known.clone(),
            None => {
                self.strings.insert(text.clone());
            }
        }
    }

    fn share_opt(&mut self, text: &mut Option<Arc<str>>) {
        if let Some(text) = text {
            self.share(text);
        }
    }
}

/// Reads the top-level report object: every field but `actions` as JSON (they are
/// small), `actions` one element at a time.
struct ReportSeed<'a> {
    digests: &'a mut Vec<[u8; 32]>,
    interner: &'a mut Interner,
}

type Parsed = (serde_json::Map<String, serde_json::Value>, Option<Vec<Action>>);

impl<'de> DeserializeSeed<'de> for ReportSeed<'_> {
    type Value = Parsed;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Parsed, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ReportSeed<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a storage-approval report (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Parsed, A::Error> {
        let mut header = serde_json::Map::new();
        let mut actions = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "actions" {
                if actions.is_some() {
                    return Err(serde::de::Error::duplicate_field("actions"));
                }
                // A report of another version has other action fields: skipped, so
                // that the version is what the error is about.
                let other_version = header
                    .get("version")
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|v| v != u64::from(REPORT_VERSION));
                if other_version {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    actions = Some(Vec::new());
                    continue;
                }
                let seed =
                    ActionsSeed { digests: &mut *self.digests, interner: &mut *self.interner };
                actions = Some(map.next_value_seed(seed)?);
            } else if header.insert(key.clone(), map.next_value()?).is_some() {
                return Err(serde::de::Error::custom(format!("duplicate field `{key}`")));
            }
        }
        Ok((header, actions))
    }
}

/// Reads the `actions` array an action at a time: each is hashed for the ID from
/// exactly what the file holds, then kept in its compact form.
struct ActionsSeed<'a> {
    digests: &'a mut Vec<[u8; 32]>,
    interner: &'a mut Interner,
}

impl<'de> DeserializeSeed<'de> for ActionsSeed<'_> {
    type Value = Vec<Action>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Vec<Action>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ActionsSeed<'_> {
    type Value = Vec<Action>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of actions")
    }

    fn visit_seq<A: SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Vec<Action>, A::Error> {
        let mut actions = Vec::new();
        while let Some(value) = seq.next_element::<serde_json::Value>()? {
            self.digests.push(action_digest(&value));
            let mut action: Action = serde_json::from_value(value).map_err(|e| {
                serde::de::Error::custom(format!("action {}: {e}", actions.len() + 1))
            })?;
            let interner = &mut *self.interner;
            interner.share_opt(&mut action.sha256);
            interner.share(&mut action.policy_reason);
            interner.share_opt(&mut action.group);
            interner.share_opt(&mut action.kept);
            interner.share_opt(&mut action.keep_reason);
            actions.push(action);
        }
        actions.shrink_to_fit();
        Ok(actions)
    }
}

/// The SHA-256 of an action's canonical JSON.
fn action_digest(action: &serde_json::Value) -> [u8; 32] {
    let mut hasher = Sha256::new();
    write_canonical(action, &mut |bytes| hasher.update(bytes));
    hasher.finalize().into()
}

/// The ID from the report's other fields and its actions' digests (sorted here).
fn id_of(header: &serde_json::Map<String, serde_json::Value>, digests: &mut [[u8; 32]]) -> String {
    digests.sort_unstable();
    let mut hasher = Sha256::new();
    let mut put = |bytes: &[u8]| hasher.update(bytes);
    let mut keys: Vec<&str> = header
        .keys()
        .map(String::as_str)
        .filter(|k| !VOLATILE.contains(k) && *k != "actions")
        .chain(std::iter::once("actions"))
        .collect();
    keys.sort_unstable();
    put(b"{");
    for (i, key) in keys.into_iter().enumerate() {
        if i > 0 {
            put(b",");
        }
        write_canonical(&serde_json::Value::String(key.to_owned()), &mut put);
        put(b":");
        if key == "actions" {
            put(b"[");
            for (j, digest) in digests.iter().enumerate() {
                if j > 0 {
                    put(b",");
                }
                put(b"\"");
                put(fsutil::hex(digest).as_bytes());
                put(b"\"");
            }
            put(b"]");
        } else {
            write_canonical(&header[key], &mut put);
        }
    }
    put(b"}");
    fsutil::hex(&hasher.finalize())
}

/// The report ID of any JSON value: the SHA-256 (hex) of its canonical JSON (no
/// whitespace, object keys sorted) with the volatile top-level fields dropped and
/// the `actions` array replaced by the sorted SHA-256 (hex) of each action's
/// canonical JSON. So the ID does not depend on the order of the actions or on when
/// and where the scan ran, and any change to any byte of any action changes it.
pub fn report_id_of_json(value: &serde_json::Value) -> String {
    let Some(object) = value.as_object() else {
        return fsutil::sha256_hex(canonical(value).as_bytes());
    };
    let mut header = object.clone();
    let mut digests: Vec<[u8; 32]> = match header.remove("actions") {
        Some(serde_json::Value::Array(actions)) => actions.iter().map(action_digest).collect(),
        Some(other) => {
            // Not an array: not a report this tool reads; hashed as it is.
            header.insert("actions".to_owned(), other);
            return fsutil::sha256_hex(canonical(&serde_json::Value::Object(header)).as_bytes());
        }
        None => Vec::new(),
    };
    id_of(&header, &mut digests)
}

/// Canonical JSON text: no whitespace, object keys sorted (whatever order the map keeps).
pub(crate) fn canonical(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    write_canonical(value, &mut |bytes| out.extend_from_slice(bytes));
    String::from_utf8(out).expect("JSON text is UTF-8")
}

fn write_canonical(value: &serde_json::Value, out: &mut dyn FnMut(&[u8])) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out(b"{");
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                out(serde_json::to_string(key).expect("a string serializes").as_bytes());
                out(b":");
                write_canonical(&map[key], out);
            }
            out(b"}");
        }
        serde_json::Value::Array(items) => {
            out(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out(b",");
                }
                write_canonical(item, out);
            }
            out(b"]");
        }
        other => out(other.to_string().as_bytes()),
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
    let srcs: HashSet<&str> = report.actions.iter().map(|a| &*a.src).collect();
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
            if crate::layout::in_quarantine(keep) {
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
            src: src.into(),
            dest: None,
            bytes: 3,
            sha256: Some("a".repeat(64).into()),
            mtime: "2024-01-01T00:00:00Z".to_owned(),
            policy_reason: "junk".into(),
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
        a.group = Some("dup:1".into());
        a.kept = Some("b".into());
        let mut b = action("b");
        b.group = Some("dup:1".into());
        b.kept = Some("a".into());
        assert!(
            validate(&report(vec![a, b]), &none).unwrap_err().to_string().contains("every copy")
        );
        let mut a = action("a");
        a.group = Some("dup:1".into());
        a.kept = Some(".tidy-quarantine/x/b".into());
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
        a.group = Some("dup:1".into());
        a.kept = Some("b".into());
        let r = report(vec![a, action("c")]);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.json");
        std::fs::write(&path, r.to_json()).unwrap();
        assert_eq!(LoadedReport::new(r).id(), load_report(&path).unwrap().id());
    }

    #[test]
    fn a_report_of_another_version_says_to_scan_again() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("r.json");
        let mut old = serde_json::to_value(report(vec![action("a")])).unwrap();
        old["version"] = 1.into();
        old["actions"][0]["keep"] = "b".into();
        std::fs::write(&path, old.to_string()).unwrap();
        let err = load_report(&path).unwrap_err().to_string();
        assert!(err.contains("report version 1") && err.contains("scan again"), "{err}");
    }

    #[test]
    fn the_id_hashes_each_action_once_and_sorts_the_hashes() {
        let r = report(vec![action("b"), action("a")]);
        let value = serde_json::to_value(&r).unwrap();
        let digest = |a: &serde_json::Value| fsutil::sha256_hex(canonical(a).as_bytes());
        let mut digests: Vec<String> =
            value["actions"].as_array().unwrap().iter().map(digest).collect();
        digests.sort();
        let expected = serde_json::json!({
            "actions": digests, "policy": value["policy"], "root": value["root"],
            "version": value["version"],
        });
        assert_eq!(r.id(), fsutil::sha256_hex(canonical(&expected).as_bytes()));
        assert_eq!(r.id(), report_id_of_json(&value));
    }

    #[test]
    fn an_action_hashes_as_its_canonical_json() {
        let mut full = action("dir/\"quoted\" \u{7}name");
        full.dest = Some("archive/x".into());
        full.group = Some("dup:1".into());
        full.kept = Some("k\\b".into());
        full.keep_reason = Some("linked from `é.md`".into());
        let mut bare = action("a");
        bare.sha256 = None;
        for a in [full, bare] {
            let value = serde_json::to_value(&a).unwrap();
            assert_eq!(a.digest(), action_digest(&value), "{value}");
        }
    }

    #[test]
    fn canonical_sorts_keys() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,2],"c":"x"}}"#).unwrap();
        assert_eq!(canonical(&v), r#"{"a":{"c":"x","d":[1,2]},"b":1}"#);
    }
}
