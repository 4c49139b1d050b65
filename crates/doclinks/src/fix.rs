//! Applying fixes: byte-exact rewrites of link destinations, a zip backup of
//! every touched file first (`backup.rs`), and redirect stubs.
//!
//! Every page is read below the root and replaced through `tidy_io`, so a
//! replaced page keeps its owner, group, mode and extended attributes, and a
//! page is skipped with the reason, never overwritten, when it leads out of the
//! root (a symlink to elsewhere), has other hard links (a rename would leave
//! them with the old text), or was edited by someone else between the check,
//! fix's read and the rename (compare-and-swap: the other writer's bytes stay).

use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tidy_io::{Durability, Loaded, Perms, ReplaceOptions};

use crate::config::DEFAULT_MAX_FILE_SIZE;
use crate::error::Error;
use crate::fast::HashMap;
use crate::report::{Applied, Change, Confidence, Finding, Report, SkippedPage};
use crate::resolve::{encode_path, relative};

type Hook = Arc<dyn Fn(&Path) + Send + Sync>;

/// How to apply fixes.
#[derive(Clone)]
pub struct FixOptions {
    min_confidence: Confidence,
    dry_run: bool,
    backup_dir: Option<PathBuf>,
    before_replace: Option<Hook>,
    redirected: bool,
}

impl Default for FixOptions {
    fn default() -> FixOptions {
        FixOptions {
            min_confidence: Confidence::High,
            dry_run: false,
            backup_dir: None,
            before_replace: None,
            redirected: false,
        }
    }
}

impl std::fmt::Debug for FixOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixOptions")
            .field("min_confidence", &self.min_confidence)
            .field("dry_run", &self.dry_run)
            .field("backup_dir", &self.backup_dir)
            .field("before_replace", &self.before_replace.is_some())
            .finish()
    }
}

impl FixOptions {
    /// Applies high-confidence fixes, with a backup in `ROOT/.doclinks/backups`.
    pub fn new() -> FixOptions {
        FixOptions::default()
    }

    /// Applies fixes at or above this confidence.
    pub fn min_confidence(mut self, confidence: Confidence) -> FixOptions {
        self.min_confidence = confidence;
        self
    }

    /// Computes the changes without writing anything.
    pub fn dry_run(mut self, yes: bool) -> FixOptions {
        self.dry_run = yes;
        self
    }

    /// Writes the backup archive in this directory.
    pub fn backup_dir(mut self, dir: Option<PathBuf>) -> FixOptions {
        self.backup_dir = dir;
        self
    }

    /// Also rewrites links to redirected pages to the page the redirect leads
    /// to. They work on the site, so by default they are only proposed.
    pub fn redirected(mut self, yes: bool) -> FixOptions {
        self.redirected = yes;
        self
    }

    /// Calls `hook` with each page's path once its new version is written
    /// beside it, right before the final check and the rename.
    ///
    /// This exists for tests and for tools that coordinate writers: whatever
    /// the hook (or anyone else) does to the page then is detected, and the page
    /// is skipped with the other writer's bytes left in place.
    pub fn before_replace(mut self, hook: impl Fn(&Path) + Send + Sync + 'static) -> FixOptions {
        self.before_replace = Some(Arc::new(hook));
        self
    }
}

/// A page read and rewritten, waiting to be replaced.
struct Page {
    file: String,
    loaded: Loaded,
    changes: Vec<Change>,
}

/// Applies the fixes of `report` at or above the minimum confidence.
///
/// Each page is read again below the root and rewritten; every page to write is
/// then backed up into one zip archive before anything is written, and each is
/// replaced atomically, keeping its identity. Only the bytes of link
/// destinations change. A page that changed since the check, changes while it
/// is replaced, leads out of the root or has other hard links is skipped (see
/// [`Applied::skipped`]). Running it again on the fixed tree changes nothing.
pub fn apply(report: &Report, options: &FixOptions) -> Result<Applied, Error> {
    apply_with_config(report, options, None)
}

/// [`apply`], and with `config` the new text of `doclinks.toml` at the root,
/// backed up in the same archive and replaced (or created) with the pages.
pub(crate) fn apply_with_config(
    report: &Report,
    options: &FixOptions,
    config: Option<&str>,
) -> Result<Applied, Error> {
    let by_file = selected(report, options.min_confidence, options.redirected);
    let mut applied = Applied::default();
    if by_file.is_empty() && config.is_none() {
        return Ok(applied);
    }
    let root = tidy_io::Root::open(&report.root)?;
    let limit =
        if report.max_file_size == 0 { DEFAULT_MAX_FILE_SIZE } else { report.max_file_size };
    let mut pages: Vec<Page> = Vec::new();
    // Path, bytes before and after, aligned with `pages`: the backup's input.
    let mut rewritten: Vec<(PathBuf, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut by_real: HashMap<PathBuf, usize> = HashMap::default();
    for (file, findings) in by_file {
        if report.read_only.iter().any(|f| f == file) {
            let reason = "not valid UTF-8: checked from a lossy decode, never rewritten".to_owned();
            applied.skipped.push(SkippedPage { file: file.to_owned(), reason });
            continue;
        }
        let changes = changes(file, &findings);
        let (mut loaded, after) = match prepare(&root, file, &findings, limit) {
            Ok(prepared) => prepared,
            Err(reason) => {
                applied.skipped.push(SkippedPage { file: file.to_owned(), reason });
                continue;
            }
        };
        match by_real.entry(loaded.located.rel.clone()) {
            // A symlink and its target in the tree are one file: rewrite it once
            // (its links count as fixed under both names).
            Entry::Occupied(first) => pages[*first.get()].changes.extend(changes),
            Entry::Vacant(slot) => {
                slot.insert(pages.len());
                let before = std::mem::take(&mut loaded.bytes);
                rewritten.push((report.root.join(file), before, after));
                pages.push(Page { file: file.to_owned(), loaded, changes });
            }
        }
    }
    // The configuration: replaced when it exists, created when it does not.
    let mut new_config: Option<Vec<u8>> = None;
    if let Some(text) = config {
        match root.read(Path::new(crate::config::CONFIG_FILE), DEFAULT_MAX_FILE_SIZE) {
            Ok(mut loaded) => {
                let before = std::mem::take(&mut loaded.bytes);
                rewritten.push((
                    report.root.join(crate::config::CONFIG_FILE),
                    before,
                    text.as_bytes().to_vec(),
                ));
                pages.push(Page {
                    file: crate::config::CONFIG_FILE.to_owned(),
                    loaded,
                    changes: Vec::new(),
                });
            }
            Err(e) if e.is_not_found() => new_config = Some(text.as_bytes().to_vec()),
            Err(e) => return Err(e.into()),
        }
    }
    if options.dry_run || (pages.is_empty() && new_config.is_none()) {
        for page in pages {
            applied.files.push(page.file);
            applied.changes.extend(page.changes);
        }
    } else {
        let backup_dir = options
            .backup_dir
            .clone()
            .unwrap_or_else(|| report.root.join(".doclinks").join("backups"));
        let names: Vec<String> = pages.iter().map(|p| p.file.clone()).collect();
        if !names.is_empty() {
            let backup =
                crate::backup::write_backup(&report.root, &backup_dir, &names, &rewritten)?;
            applied.backup = Some(backup);
        }
        if let Some(bytes) = new_config {
            let name = std::ffi::OsStr::new(crate::config::CONFIG_FILE);
            tidy_io::create_new(root.dir(), name, &bytes, Perms::Default, Durability::Durable)?;
            applied.files.push(crate::config::CONFIG_FILE.to_owned());
        }
        let replace = ReplaceOptions {
            durability: Durability::Durable,
            before_commit: options.before_replace.as_deref().map(|hook| hook as _),
        };
        for (page, (_, _, after)) in pages.into_iter().zip(&rewritten) {
            match tidy_io::replace(&page.loaded, after, &replace) {
                Ok(()) => {
                    applied.files.push(page.file);
                    applied.changes.extend(page.changes);
                }
                Err(e) => {
                    let reason = reason(&root, &page.file, &e);
                    applied.skipped.push(SkippedPage { file: page.file, reason });
                }
            }
        }
    }
    applied.changes.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(applied)
}

/// The findings to fix, by file.
fn selected(report: &Report, min: Confidence, redirected: bool) -> BTreeMap<&str, Vec<&Finding>> {
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    let redirected = report.redirected.iter().filter(|_| redirected);
    for finding in report.findings.iter().chain(redirected) {
        if finding
            .fix
            .as_ref()
            .is_some_and(|f| f.confidence >= min && f.new_target != finding.target)
        {
            by_file.entry(finding.file.as_str()).or_default().push(finding);
        }
    }
    by_file
}

fn changes(file: &str, findings: &[&Finding]) -> Vec<Change> {
    findings
        .iter()
        .map(|finding| {
            let fix = finding.fix.as_ref().expect("selected findings have fixes");
            Change {
                file: file.to_owned(),
                line: finding.line,
                column: finding.column,
                old: finding.target.clone(),
                new: fix.new_target.clone(),
                confidence: fix.confidence,
                reason: fix.reason.clone(),
            }
        })
        .collect()
}

/// Reads `file` below the root and rewrites it; `Err` is why it is skipped.
fn prepare(
    root: &tidy_io::Root,
    file: &str,
    findings: &[&Finding],
    limit: u64,
) -> Result<(Loaded, Vec<u8>), String> {
    let loaded = root.read(Path::new(file), limit).map_err(|e| reason(root, file, &e))?;
    let links = loaded.snapshot.links();
    if links > 1 {
        // Refused before the backup, not just by the replace: nothing to undo.
        let path = loaded.located.path();
        return Err(reason(root, file, &tidy_io::Error::HardLinked { path, links }));
    }
    let after = rewrite(&loaded.bytes, findings).map_err(|(line, column)| {
        format!("changed since it was checked (the link at {line}:{column} is not there); run the fix again")
    })?;
    Ok((loaded, after))
}

/// Why `file` was not written, for the skipped list: the file layer's words,
/// without the path when it is the page's own.
fn reason(root: &tidy_io::Root, file: &str, error: &tidy_io::Error) -> String {
    if error.path() == root.path().join(file) { error.reason() } else { error.to_string() }
}

/// Replaces each finding's destination bytes with its fix; the rest of the
/// file is copied unchanged. Errs with the position of a destination whose
/// bytes are no longer what the check saw.
pub(crate) fn rewrite(before: &[u8], findings: &[&Finding]) -> Result<Vec<u8>, (u32, u32)> {
    let mut sorted: Vec<&&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| f.span.start);
    let mut out = Vec::with_capacity(before.len() + 64);
    let mut at = 0;
    for finding in sorted {
        let span = finding.span.clone();
        if span.start < at || before.get(span.clone()) != Some(finding.target.as_bytes()) {
            return Err((finding.line, finding.column));
        }
        let fix = finding.fix.as_ref().expect("selected findings have fixes");
        out.extend_from_slice(&before[at..span.start]);
        out.extend_from_slice(fix.new_target.as_bytes());
        at = span.end;
    }
    out.extend_from_slice(&before[at..]);
    Ok(out)
}

/// Writes a redirect stub at `old` pointing to `new`, so links to the old page
/// keep working after a move; returns its text.
///
/// `old` (relative to the current directory, or absolute) must lead below
/// `root`; missing directories are created there, never through a symlink. The
/// stub is a new file (`0666 & !umask`): anything at `old`, even a dangling
/// symlink, is refused, never replaced.
pub fn write_stub(root: &Path, old: &Path, new: &Path) -> Result<String, Error> {
    let exists = || Error::input(format!("{} exists; a stub would overwrite it", old.display()));
    if std::fs::symlink_metadata(old).is_ok() {
        return Err(exists());
    }
    let root = tidy_io::Root::open(root)?;
    let rel = below_root(&root, old)?;
    let (Some(name), parent) = (rel.file_name(), rel.parent().unwrap_or(Path::new(""))) else {
        return Err(Error::input(format!("{} is not a file name", old.display())));
    };
    let new_abs =
        std::fs::canonicalize(new).map_err(|e| Error::io("cannot open the new page", new, e))?;
    let to_str = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let link = encode_path(&relative(&to_str(&root.path().join(parent)), &to_str(&new_abs)));
    let title =
        new_abs.file_stem().map_or_else(|| link.clone(), |s| s.to_string_lossy().into_owned());
    let text = format!(
        "---\nredirect_to: {link}\n---\n\n# Moved\n\nThis page moved to [{title}]({link}).\nUpdate your links and bookmarks.\n"
    );
    let dir = root.create_dirs(parent)?;
    match tidy_io::create_new(&dir, name, text.as_bytes(), Perms::Default, Durability::Durable) {
        Err(tidy_io::Error::Exists { .. }) => Err(exists()),
        other => other.map(|()| text).map_err(Error::from),
    }
}

/// `path` (relative to the current directory, or absolute) as a path relative
/// to `root`, with the part that exists resolved (symlinks followed), so that
/// what is created is where the path really leads.
fn below_root(root: &tidy_io::Root, path: &Path) -> Result<PathBuf, Error> {
    let abs = std::path::absolute(path).map_err(|e| Error::io("cannot resolve", path, e))?;
    let mut existing = abs.as_path();
    let mut missing = Vec::new();
    while std::fs::symlink_metadata(existing).is_err() {
        let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else { break };
        missing.push(name);
        existing = parent;
    }
    let mut real =
        std::fs::canonicalize(existing).map_err(|e| Error::io("cannot resolve", existing, e))?;
    real.extend(missing.iter().rev());
    match real.strip_prefix(root.path()) {
        Ok(rel) if !rel.as_os_str().is_empty() => Ok(rel.to_path_buf()),
        _ => Err(Error::input(format!(
            "{} is outside the root {}",
            path.display(),
            root.path().display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Fix, Kind};

    fn finding(text: &str, target: &str, new: &str) -> Finding {
        let start = text.find(target).unwrap();
        Finding {
            kind: Kind::MissingFile,
            file: "a.md".into(),
            line: 1,
            column: 1,
            target: target.into(),
            fix: Some(Box::new(Fix {
                new_target: new.into(),
                confidence: Confidence::High,
                reason: "test".into(),
            })),
            span: start..start + target.len(),
        }
    }

    #[test]
    fn rewrite_changes_only_destinations() {
        let text = "[a](x.md) and [b](y.md#h)\n";
        let f1 = finding(text, "x.md", "../new/x.md");
        let f2 = finding(text, "y.md#h", "Y.md#h");
        let out = rewrite(text.as_bytes(), &[&f2, &f1]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[a](../new/x.md) and [b](Y.md#h)\n");
    }

    #[test]
    fn rewrite_refuses_a_changed_file() {
        let f = finding("[a](x.md)", "x.md", "y.md");
        assert_eq!(rewrite(b"[a](z.md)", &[&f]), Err((1, 1)));
    }

    #[test]
    fn a_stub_outside_the_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("root")).unwrap();
        std::fs::write(dir.path().join("root/new.md"), "# New\n").unwrap();
        let err = write_stub(
            &dir.path().join("root"),
            &dir.path().join("root/../old.md"),
            &dir.path().join("root/new.md"),
        )
        .unwrap_err();
        assert!(err.to_string().contains("is outside the root"), "{err}");
        assert!(!dir.path().join("old.md").exists());
    }
}
