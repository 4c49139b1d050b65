//! Reading the rules file, and changing it atomically under the `docs` lock.
//!
//! This is the only place that knows about `multilock`: [`update`] takes the lock,
//! reads the file, applies a change and writes it back, then releases the lock. A
//! file that cannot be parsed is never overwritten.
//!
//! Every read and write goes through `tidy_io`: the file must be a regular file (a
//! FIFO, a device or a symlink to one is an error at once, never a hang), and it is
//! written only below its repository (a symlinked rules file is written through to
//! a target inside the repository, the link stays a link; a link leading outside is
//! refused). The replacement is `tidy_io::replace`: atomic, keeping the file's
//! owner, group, mode and extended attributes (`sudo failure-rules analyze
//! --execute` must not leave a committed file owned by root), and refusing to
//! overwrite an edit made meanwhile by a process that does not take the lock (an
//! editor) or to split a file with several hard links.

use std::path::{Path, PathBuf};

use multilock::subsystem::Locking;
use tidy_io::{Durability, Perms, ReplaceOptions, Root};

use crate::error::{Error, Result};
use crate::normalize::NORMALIZER_VERSION;
use crate::rules::{HTTP_429, OLD_HTTP_429, Rule, RulesDoc, SCHEMA_VERSION, bootstrap_rules};
use crate::signature::{legacy_rule_id, rule_id};

/// The rules file used when none is given.
pub const DEFAULT_RULES_FILE: &str = "docs/LEARNED_ERROR_MITIGATIONS.json";

/// The lock that guards files under `docs/`.
pub const LOCK_NAME: &str = "docs";

/// The most bytes read from a rules file. A real one holds a few hundred rules of
/// well under a kilobyte each; the cap is far above that and still bounds the memory
/// a mistaken `--rules` (a disk image, a log) could take before the JSON parser
/// refuses it. Special files never get this far: they are refused by type.
pub const MAX_RULES_BYTES: u64 = 256 * 1024 * 1024;

/// Reads the rules of `path`; a missing file gives the bootstrap rules. Anything but
/// a regular file (a FIFO, a device, a symlink to one) is an error, never read.
pub fn load_rules(path: &Path) -> Result<Vec<Rule>> {
    match tidy_io::read_file(path, MAX_RULES_BYTES) {
        Ok(bytes) => parse(path, &bytes).map(|(doc, _)| doc.rules),
        Err(e) if e.is_not_found() => Ok(bootstrap_rules()),
        Err(e) => Err(Error::file(e)),
    }
}

/// Only the version of a rules file: read first, so that a newer file is named as
/// such rather than as corrupt. Every other field is skipped without being built.
#[derive(serde::Deserialize)]
struct VersionOnly {
    #[serde(default)]
    version: Option<serde_json::Value>,
}

/// The rules of a rules file, brought to this normalizer version; `true` when a
/// rule was migrated (the file then differs from what it would be written as).
fn parse(path: &Path, bytes: &[u8]) -> Result<(RulesDoc, bool)> {
    let syntax = |e: serde_json::Error| {
        if e.is_syntax() || e.is_eof() {
            Error::corrupt(path, format!("not valid JSON ({e})"))
        } else {
            Error::corrupt(path, e.to_string())
        }
    };
    // Parsed straight into rules, never into a `serde_json::Value` tree: a file of
    // 200,000 rules took seconds and a gigabyte that way.
    let head: VersionOnly = serde_json::from_slice(bytes).map_err(syntax)?;
    let version = match head.version {
        None => 1,
        Some(v) => v.as_u64().ok_or_else(|| Error::corrupt(path, "`version` is not a number"))?,
    };
    if version > SCHEMA_VERSION {
        return Err(Error::newer(path, version, SCHEMA_VERSION));
    }
    let mut doc: RulesDoc = serde_json::from_slice(bytes).map_err(syntax)?;
    // A file written by this normalizer version needs no look at its ids: telling
    // an old id from a hand-written one costs three hashes per rule.
    if doc.normalizer.as_deref() == Some(NORMALIZER_VERSION) {
        return Ok((doc, false));
    }
    for rule in &mut doc.rules {
        migrate(rule);
    }
    // Written again with the version, even when no rule changed.
    Ok((doc, true))
}

/// Normalizer versions whose ids hashed the signature as printed.
const LEGACY_VERSIONS: [&str; 2] = ["fr-norm-1", "fr-norm-2"];

/// Brings a rule recorded under an older normalizer version to this one: its id
/// becomes the id of its signature now, the old id is kept in `aliases`. A rule
/// whose id is no id its signature ever had (one written by hand) is left alone.
fn migrate(rule: &mut Rule) {
    // The old HTTP 429 bootstrap rule matched by substring; its new form is anchored.
    if rule.signature == OLD_HTTP_429 {
        let old = std::mem::replace(&mut rule.id, rule_id(HTTP_429));
        rule.signature = HTTP_429.to_owned();
        if !rule.aliases.contains(&old) {
            rule.aliases.push(old);
        }
        return;
    }
    // Only `rule_` and 64 hex digits can be a derived id; others cost no hashing.
    let derived = rule.id.len() == 69
        && rule.id.starts_with("rule_")
        && rule.id.as_bytes()[5..].iter().all(u8::is_ascii_hexdigit);
    if !derived {
        return;
    }
    let id = rule_id(&rule.signature);
    if rule.id == id {
        return;
    }
    if LEGACY_VERSIONS.iter().any(|v| legacy_rule_id(v, &rule.signature) == rule.id) {
        let old = std::mem::replace(&mut rule.id, id);
        if !rule.aliases.contains(&old) {
            rule.aliases.push(old);
        }
    }
}

/// Serializes rules as the file stores them (pretty JSON, trailing newline).
/// `capacity` is a guess of the size (the file's size when it was read), so that
/// the buffer is not grown by doubling: for a large file the copies would double
/// the memory the write needs.
pub(crate) fn to_bytes(rules: &[Rule], capacity: usize) -> Vec<u8> {
    // Borrowed: the rules are not copied to be written.
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        version: u64,
        normalizer: &'a str,
        rules: &'a [Rule],
    }
    let mut bytes = Vec::with_capacity(capacity);
    let doc = Doc { version: SCHEMA_VERSION, normalizer: NORMALIZER_VERSION, rules };
    serde_json::to_writer_pretty(&mut bytes, &doc).expect("rules serialize to JSON");
    bytes.push(b'\n');
    bytes
}

/// The repository `dir` is in: the nearest of it and its ancestors holding `.git`.
/// The default rules file and inputs are found from there, as the lock directory is,
/// so a run from a subdirectory uses the same files as one from the top.
pub fn repository_root(dir: &Path) -> Option<PathBuf> {
    tidy_io::repository_of(dir)
}

/// The repository a rules file belongs to: the nearest ancestor of its directory
/// holding `.git`; without one, the directory above `docs/` for `docs/x.json`, else
/// the file's directory. The path is absolute but not resolved: a symlinked rules
/// file belongs to the repository its link is in.
fn repository(rules_file: &Path) -> PathBuf {
    let absolute = std::path::absolute(rules_file).unwrap_or_else(|_| rules_file.to_path_buf());
    let parent = absolute.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(repo) = tidy_io::repository_of(&parent) {
        return repo;
    }
    if parent.file_name().is_some_and(|n| n == "docs") {
        parent.parent().unwrap_or(&parent).to_path_buf()
    } else {
        parent
    }
}

/// The lock directory for a rules file: the one in use as every tidykit tool
/// finds it (`$MULTILOCK_DIR`, a parent `multilock run`'s, `.multilock` at the
/// repository root), else `.multilock` in the repository holding the file (the
/// nearest ancestor with `.git`), else beside the file's directory. Unlike the
/// other tools, failure-rules always locks: its rules file is read and written by
/// concurrent analyses.
pub fn default_lock_dir(rules_file: &Path) -> PathBuf {
    let repository = repository(rules_file);
    match multilock::subsystem::lock_dir_in_use(&repository, None) {
        Some(in_use) => in_use.path,
        None => repository.join(multilock::subsystem::REPOSITORY_DIR),
    }
}

/// Under the `docs` lock (`locking`'s directory, else [`default_lock_dir`]): reads `path` (bootstrap rules if missing),
/// lets `change` edit the rules, and writes them back atomically if they changed.
/// `change` returns its result and whether it changed anything: comparing before
/// and after would keep a second copy of every rule.
pub(crate) fn update<T>(
    path: &Path,
    locking: &Locking,
    change: impl FnOnce(&mut Vec<Rule>) -> (T, bool),
) -> Result<T> {
    // Under a parent `multilock run --lock docs` the work uses its hold.
    let lock = locking
        .clone()
        .or_lock_dir(|| default_lock_dir(path))
        .hold(path, &[LOCK_NAME])
        .map_err(|e| Error::lock(path, e))?;
    let file = RulesFile::open(path)?;
    let mut loaded = file.read()?;
    let size = loaded.as_ref().map_or(0, |l| l.bytes.len());
    let (mut rules, migrated) = match loaded.as_mut() {
        Some(loaded) => {
            let (doc, migrated) = parse(path, &loaded.bytes)?;
            // The replacement checks the file by its snapshot, not its bytes: they
            // need not stay in memory beside the parsed rules.
            loaded.bytes = Vec::new();
            (doc.rules, migrated)
        }
        None => (bootstrap_rules(), true),
    };
    let (result, changed) = change(&mut rules);
    if changed || migrated {
        // Room for the rules added: a few kilobytes beyond the old size.
        let bytes = to_bytes(&rules, size + size / 64 + 4096);
        drop(rules);
        file.write(loaded.as_ref(), &bytes)?;
    }
    if let Some(lock) = lock {
        lock.release().map_err(|e| Error::lock(path, e))?;
    }
    Ok(result)
}

/// The rules file as a path below its repository, which every read and write for
/// `--execute` stays inside.
struct RulesFile {
    root: Root,
    rel: PathBuf,
}

impl RulesFile {
    fn open(path: &Path) -> Result<RulesFile> {
        let repo = repository(path);
        let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        // `repository` is an ancestor of the file's directory, so this never fails;
        // the fallback keeps a message naming the file if it ever did.
        let rel = absolute.strip_prefix(&repo).unwrap_or(&absolute).to_path_buf();
        let root = match Root::open(&repo) {
            Ok(root) => root,
            // `--rules new/docs/rules.json`: the directories are made, as for any output.
            Err(e) if e.is_not_found() => {
                std::fs::create_dir_all(&repo)
                    .map_err(|e| Error::io("create directory", &repo, e))?;
                Root::open(&repo).map_err(Error::file)?
            }
            Err(e) => return Err(Error::file(e)),
        };
        Ok(RulesFile { root, rel })
    }

    /// The file's bytes and identity; `None` when it does not exist yet. A symlink
    /// is followed only to a regular file inside the repository.
    fn read(&self) -> Result<Option<tidy_io::Loaded>> {
        match self.root.read(&self.rel, MAX_RULES_BYTES) {
            Ok(loaded) => Ok(Some(loaded)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(Error::file(e)),
        }
    }

    /// Replaces the file read as `loaded` by `bytes`, or creates it (and its
    /// directories) when there was none; durable either way, since the rules are
    /// what later runs rely on.
    fn write(&self, loaded: Option<&tidy_io::Loaded>, bytes: &[u8]) -> Result<()> {
        if let Some(loaded) = loaded {
            let options = ReplaceOptions { durability: Durability::Durable, before_commit: None };
            return tidy_io::replace(loaded, bytes, &options).map_err(Error::file);
        }
        let located = match self.root.locate(&self.rel) {
            Ok(located) => located,
            Err(e) if e.is_not_found() => {
                let dirs = self.rel.parent().unwrap_or(Path::new(""));
                self.root.create_dirs(dirs).map_err(Error::file)?;
                self.root.locate(&self.rel).map_err(Error::file)?
            }
            Err(e) => return Err(Error::file(e)),
        };
        // Never replaces: a file that appeared since the read is refused, not lost.
        tidy_io::create_new(&located.dir, &located.name, bytes, Perms::Default, Durability::Durable)
            .map_err(Error::file)
    }
}
