//! Reading the rules file, and changing it atomically under the `docs` lock.
//!
//! This is the only place that knows about `multilock`: [`update`] takes the lock,
//! reads the file, applies a change, writes a temporary file beside it, fsyncs it and
//! renames it over the old one, then releases the lock. A file that cannot be parsed
//! is never overwritten.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::rules::{Rule, RulesDoc, SCHEMA_VERSION, bootstrap_rules};

/// The rules file used when none is given.
pub const DEFAULT_RULES_FILE: &str = "docs/LEARNED_ERROR_MITIGATIONS.json";

/// The lock that guards files under `docs/`.
pub const LOCK_NAME: &str = "docs";

/// How long `--execute` waits for the lock.
pub(crate) const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the rules of `path`; a missing file gives the bootstrap rules.
pub fn load_rules(path: &Path) -> Result<Vec<Rule>> {
    match std::fs::read(path) {
        Ok(bytes) => parse(path, &bytes).map(|doc| doc.rules),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(bootstrap_rules()),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<RulesDoc> {
    // The version first, so that a newer file is named as such rather than as corrupt.
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            Error::corrupt(path, format!("not valid JSON ({e})"))
        } else {
            Error::corrupt(path, e.to_string())
        }
    })?;
    let version = match value.get("version") {
        None => 1,
        Some(v) => v.as_u64().ok_or_else(|| Error::corrupt(path, "`version` is not a number"))?,
    };
    if version > SCHEMA_VERSION {
        return Err(Error::newer(path, version, SCHEMA_VERSION));
    }
    serde_json::from_value(value).map_err(|e| Error::corrupt(path, e.to_string()))
}

/// Serializes rules as the file stores them (pretty JSON, trailing newline).
pub(crate) fn to_bytes(rules: &[Rule]) -> Vec<u8> {
    let doc = RulesDoc { version: SCHEMA_VERSION, rules: rules.to_vec() };
    let mut bytes = serde_json::to_vec_pretty(&doc).expect("rules serialize to JSON");
    bytes.push(b'\n');
    bytes
}

/// The lock directory for a rules file: `$MULTILOCK_DIR`, else `.multilock` in the
/// repository holding the file (the nearest ancestor with `.git`), else beside the
/// file's directory.
pub fn default_lock_dir(rules_file: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("MULTILOCK_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let absolute = std::path::absolute(rules_file).unwrap_or_else(|_| rules_file.to_path_buf());
    let parent = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    for dir in parent.ancestors() {
        if dir.join(".git").exists() {
            return dir.join(".multilock");
        }
    }
    // No repository: `docs/x.json` → the directory above `docs/`.
    let root = if parent.file_name().is_some_and(|n| n == "docs") {
        parent.parent().unwrap_or(&parent)
    } else {
        &parent
    };
    root.join(".multilock")
}

/// Under the `docs` lock in `lock_dir`: reads `path` (bootstrap rules if missing),
/// lets `change` edit the rules, and writes them back atomically if they changed.
/// Returns what `change` returned.
pub(crate) fn update<T>(
    path: &Path,
    lock_dir: &Path,
    change: impl FnOnce(&mut Vec<Rule>) -> T,
) -> Result<T> {
    let set = multilock::LockSet::open(lock_dir).map_err(|e| Error::lock(path, e.to_string()))?;
    // A parent `multilock run --lock docs` already holds it for us.
    let held_by_parent =
        match (std::env::var_os(multilock::HELD_DIR_ENV), std::env::var(multilock::HELD_ENV)) {
            (Some(dir), Ok(names)) => {
                set.canonical_dir().is_some_and(|c| c == Path::new(&dir))
                    && names.split(',').any(|n| n == LOCK_NAME)
            }
            _ => false,
        };
    let guard = if held_by_parent {
        None
    } else {
        let options = multilock::AcquireOptions::new()
            .timeout(Some(LOCK_TIMEOUT))
            .command(format!("failure-rules: update {}", path.display()));
        Some(
            set.acquire_with(&[LOCK_NAME], &options)
                .map_err(|e| Error::lock(path, e.to_string()))?,
        )
    };
    let before = match std::fs::read(path) {
        Ok(bytes) => Some(parse(path, &bytes)?.rules),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io("read", path, e)),
    };
    let mut rules = before.clone().unwrap_or_else(bootstrap_rules);
    let result = change(&mut rules);
    if before.as_ref() != Some(&rules) {
        write_atomic(path, &to_bytes(&rules))?;
    }
    if let Some(guard) = guard {
        guard.release().map_err(|e| Error::lock(path, e.to_string()))?;
    }
    Ok(result)
}

/// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over
/// `path`, so that readers see the old or the new file, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename itself is durable once the directory is synced.
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io("write", path, e)
    })
}
