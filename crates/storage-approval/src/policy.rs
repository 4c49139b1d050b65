//! The clean-up policy: what counts as a duplicate, as junk, as old enough to archive,
//! and what is protected. Read from TOML; an embedded default applies without a file.

use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The policy used when no `--policy` file is given.
pub const DEFAULT_POLICY: &str = r#"# storage-approval default policy.

[duplicates]
# Exact duplicates (same size, same SHA-256) of at least this many bytes.
enabled = true
min_bytes = 1
# Copies matching these globs always stay (as do protected copies and copies a
# Markdown or HTML page links to); `scan --keep-path GLOB` adds to them. In a group
# with none of those, the original stays: a name without a copy marker, outside
# backup/tmp/cache/archive folders, the oldest, the shallowest, the first by name.
keep = []

[junk]
# Files matching these globs (relative to ROOT) are deleted. A pattern ending in `/`
# matches every file below a directory of that name.
patterns = ["**/*.tmp", "**/*.bak", "**/*.swp", "**/*~", "**/.DS_Store", "**/Thumbs.db", "**/__pycache__/", "**/*.pyc"]

[archive]
# Files older than `older_than_days` below one of `dirs` move to `dest/<same path>`.
older_than_days = 180
dirs = ["logs", "runs"]
dest = "archive"

[protect]
# Never proposed for any action (they may still be the kept copy of a duplicate group).
# `.git/` and the quarantine folder are always protected and never scanned.
globs = []

[locks]
# When a multilock lock directory is in use (--lock-dir, $MULTILOCK_DIR, or
# .multilock at the repository root), execute works under the lock `archive` and
# these besides, taken in the canonical order queue → runs → archive → docs: say
# "runs" for a policy that archives what another tool writes under `runs`.
also = []
"#;

/// The largest policy file read: a few hundred globs.
pub(crate) const POLICY_LIMIT: u64 = 1 << 20;

/// The on-disk shape of a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    #[serde(default)]
    pub(crate) duplicates: Duplicates,
    #[serde(default)]
    pub(crate) junk: Junk,
    #[serde(default)]
    pub(crate) archive: Archive,
    #[serde(default)]
    pub(crate) protect: Protect,
    /// Left out of a report's policy when empty, so reports of policies that
    /// name no lock keep the IDs they had before the key existed.
    #[serde(default, skip_serializing_if = "Locks::is_empty")]
    pub(crate) locks: Locks,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Duplicates {
    #[serde(default = "yes")]
    pub(crate) enabled: bool,
    #[serde(default = "one")]
    pub(crate) min_bytes: u64,
    #[serde(default)]
    pub(crate) keep: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Junk {
    #[serde(default)]
    pub(crate) patterns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Archive {
    #[serde(default)]
    pub(crate) older_than_days: u64,
    #[serde(default)]
    pub(crate) dirs: Vec<String>,
    #[serde(default = "archive_dest")]
    pub(crate) dest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Protect {
    #[serde(default)]
    pub(crate) globs: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Locks {
    #[serde(default)]
    pub(crate) also: Vec<String>,
}

impl Locks {
    fn is_empty(&self) -> bool {
        self.also.is_empty()
    }
}

/// The lock every execute and undo works under (when a lock directory is in use).
pub const ARCHIVE_LOCK: &str = "archive";

fn yes() -> bool {
    true
}
fn one() -> u64 {
    1
}
fn archive_dest() -> String {
    "archive".to_owned()
}

impl Default for Duplicates {
    fn default() -> Self {
        Duplicates { enabled: true, min_bytes: 1, keep: Vec::new() }
    }
}

impl Default for Archive {
    fn default() -> Self {
        Archive { older_than_days: 0, dirs: Vec::new(), dest: archive_dest() }
    }
}

/// A parsed and compiled clean-up policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) file: PolicyFile,
    pub(crate) junk_files: GlobSet,
    /// Directory-name patterns (`__pycache__/`): every file below a match is junk.
    pub(crate) junk_dirs: GlobSet,
    pub(crate) protect: GlobSet,
    /// `duplicates.keep`, one glob per pattern in its order.
    pub(crate) keep: GlobSet,
}

impl Policy {
    /// The embedded default policy ([`DEFAULT_POLICY`]).
    pub fn default_policy() -> Policy {
        Policy::parse(DEFAULT_POLICY, Path::new("<default policy>"))
            .expect("the embedded default policy is valid")
    }

    /// Reads a policy file (a regular file only, at most 1 MiB); the
    /// error names the file and the key that is wrong.
    pub fn load(path: &Path) -> Result<Policy> {
        let bytes = tidy_io::read_file(path, POLICY_LIMIT)
            .map_err(|e| Error::file("cannot read policy", e))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::invalid(path, "malformed policy: not UTF-8 text"))?;
        Policy::parse(&text, path)
    }

    /// Parses policy TOML; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Policy> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            Error::invalid(origin, format!("malformed policy: {}", one_line(&e, text)))
        })?;
        Policy::compile(file, origin)
    }

    /// The policy recorded in a report (so that execute checks protection by the
    /// policy that was approved).
    pub(crate) fn from_report_json(value: &serde_json::Value) -> Result<Policy> {
        let file: PolicyFile = serde_json::from_value(value.clone())
            .map_err(|e| Error::refused(format!("the report's policy is malformed: {e}")))?;
        Policy::compile(file, Path::new("<report policy>"))
    }

    fn compile(file: PolicyFile, origin: &Path) -> Result<Policy> {
        let bad =
            |key: &str, message: String| Error::invalid(origin, format!("key `{key}`: {message}"));
        let mut junk_files = GlobSetBuilder::new();
        let mut junk_dirs = GlobSetBuilder::new();
        for pattern in &file.junk.patterns {
            let (set, pat) = match pattern.strip_suffix('/') {
                Some(dir) => (&mut junk_dirs, dir),
                None => (&mut junk_files, pattern.as_str()),
            };
            if pat.is_empty() {
                return Err(bad("junk.patterns", "empty pattern".to_owned()));
            }
            set.add(glob(pat).map_err(|e| bad("junk.patterns", e))?);
        }
        let mut protect = GlobSetBuilder::new();
        for pattern in &file.protect.globs {
            let pat = pattern
                .strip_suffix('/')
                .map(|d| format!("{d}/**"))
                .unwrap_or_else(|| pattern.clone());
            protect.add(glob(&pat).map_err(|e| bad("protect.globs", e))?);
            // A directory glob protects the directory itself too.
            if let Some(dir) = pat.strip_suffix("/**") {
                protect.add(glob(dir).map_err(|e| bad("protect.globs", e))?);
            }
        }
        let mut keep = GlobSetBuilder::new();
        for pattern in &file.duplicates.keep {
            // `docs/` keeps every file below `docs`, as in `protect.globs`.
            let pat = pattern
                .strip_suffix('/')
                .map(|d| format!("{d}/**"))
                .unwrap_or_else(|| pattern.clone());
            keep.add(glob(&pat).map_err(|e| bad("duplicates.keep", e))?);
        }
        for dir in &file.archive.dirs {
            check_relative(dir).map_err(|m| bad("archive.dirs", m))?;
        }
        check_relative(&file.archive.dest).map_err(|m| bad("archive.dest", m))?;
        for name in &file.locks.also {
            multilock::validate_name(name).map_err(|e| bad("locks.also", e.to_string()))?;
        }
        if !file.archive.dirs.is_empty() && file.archive.older_than_days == 0 {
            return Err(bad(
                "archive.older_than_days",
                "must be at least 1 when archive.dirs is set".to_owned(),
            ));
        }
        let build = |b: GlobSetBuilder, key: &str| b.build().map_err(|e| bad(key, e.to_string()));
        Ok(Policy {
            junk_files: build(junk_files, "junk.patterns")?,
            junk_dirs: build(junk_dirs, "junk.patterns")?,
            protect: build(protect, "protect.globs")?,
            keep: build(keep, "duplicates.keep")?,
            file,
        })
    }

    /// The multilock locks execute works under: [`ARCHIVE_LOCK`] and the
    /// policy's `locks.also`.
    pub fn lock_names(&self) -> Vec<String> {
        let mut names = vec![ARCHIVE_LOCK.to_owned()];
        names.extend(self.file.locks.also.iter().filter(|n| *n != ARCHIVE_LOCK).cloned());
        names
    }

    /// Whether `rel` (a path relative to ROOT, `/`-separated) is protected.
    pub(crate) fn is_protected(&self, rel: &str) -> bool {
        rel == ".git"
            || rel.starts_with(".git/")
            || rel.contains("/.git/")
            || self.protect.is_match(rel)
    }

    /// The first keep glob (`duplicates.keep`) that `rel` matches.
    pub(crate) fn keep_glob(&self, rel: &str) -> Option<&str> {
        if self.keep.is_empty() {
            return None;
        }
        let first = *self.keep.matches(rel).first()?;
        self.file.duplicates.keep.get(first).map(String::as_str)
    }

    /// This policy with `globs` added to `duplicates.keep` (`scan --keep-path`), so
    /// that the report records them like the policy file's own.
    pub fn with_keep_paths(&self, globs: &[String]) -> Result<Policy> {
        let mut file = self.file.clone();
        file.duplicates.keep.extend(globs.iter().cloned());
        Policy::compile(file, Path::new("--keep-path"))
    }

    /// Whether `rel` is junk, and by which rule.
    pub(crate) fn junk_reason(&self, rel: &str) -> Option<String> {
        let matches = self.junk_files.matches(rel);
        if let Some(&i) = matches.first() {
            return Some(format!("junk: matches `{}`", self.junk_pattern(i, false)));
        }
        // Any ancestor directory matching a directory pattern.
        let mut end = 0;
        while let Some(pos) = rel[end..].find('/') {
            let dir = &rel[..end + pos];
            if let Some(&i) = self.junk_dirs.matches(dir).first() {
                return Some(format!("junk: below a `{}/` directory", self.junk_pattern(i, true)));
            }
            end += pos + 1;
        }
        None
    }

    fn junk_pattern(&self, index: usize, dir: bool) -> &str {
        self.file
            .junk
            .patterns
            .iter()
            .filter(|p| p.ends_with('/') == dir)
            .nth(index)
            .map(|p| p.trim_end_matches('/'))
            .unwrap_or("?")
    }

    /// The policy as JSON, recorded in the report (and so covered by its ID).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.file).expect("a policy serializes")
    }
}

fn glob(pattern: &str) -> std::result::Result<Glob, String> {
    globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("bad glob `{pattern}`: {e}"))
}

fn check_relative(path: &str) -> std::result::Result<(), String> {
    if path.is_empty()
        || path.starts_with('/')
        || path.split('/').any(|c| c == ".." || c == "." || c.is_empty())
    {
        Err(format!("`{path}` must be a plain relative path inside ROOT"))
    } else {
        Ok(())
    }
}

/// The TOML error on one line, with the line and column where it is.
fn one_line(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim().to_owned();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_parses_and_matches() {
        let p = Policy::default_policy();
        assert!(p.junk_reason("a/b/x.tmp").is_some());
        assert!(p.junk_reason("x.tmp").is_some());
        assert!(p.junk_reason("src/__pycache__/m.cpython.pyc").is_some());
        assert!(p.junk_reason("src/__pycache__/readme").unwrap().contains("__pycache__"));
        assert_eq!(p.junk_reason("src/main.rs"), None);
        assert!(p.is_protected(".git/config"));
    }

    #[test]
    fn unknown_key_is_named() {
        let err =
            Policy::parse("[junk]\npaterns = []\n", Path::new("p.toml")).unwrap_err().to_string();
        assert!(err.contains("p.toml") && err.contains("paterns"), "{err}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Policy::parse("[archive]\nolder_than_days = \"x\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("older_than_days") || err.contains("invalid type"), "{err}");
    }

    #[test]
    fn archive_dest_must_stay_inside() {
        let err = Policy::parse("[archive]\ndest = \"../out\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("archive.dest"), "{err}");
    }

    #[test]
    fn keep_globs_match_in_their_order_and_add_from_the_command_line() {
        let p =
            Policy::parse("[duplicates]\nkeep = [\"docs/\", \"**/*.png\"]\n", Path::new("p.toml"))
                .unwrap();
        assert_eq!(p.keep_glob("docs/img/a.png"), Some("docs/"));
        assert_eq!(p.keep_glob("site/a.png"), Some("**/*.png"));
        assert_eq!(p.keep_glob("site/a.md"), None);
        let more = p.with_keep_paths(&["site/**".to_owned()]).unwrap();
        assert_eq!(more.keep_glob("site/a.md"), Some("site/**"));
        assert_eq!(more.to_json()["duplicates"]["keep"][2], "site/**");
        let err = p.with_keep_paths(&["a[".to_owned()]).unwrap_err().to_string();
        assert!(err.contains("--keep-path") && err.contains("duplicates.keep"), "{err}");
    }

    #[test]
    fn protect_directory_glob() {
        let p = Policy::parse("[protect]\nglobs = [\"keep/\"]\n", Path::new("p.toml")).unwrap();
        assert!(p.is_protected("keep/a/b"));
        assert!(p.is_protected("keep"));
        assert!(!p.is_protected("keeper/a"));
    }
}
