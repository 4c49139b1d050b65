//! Applying fixes: byte-exact rewrites of link destinations, a zip backup of
//! every touched file first (`backup.rs`), atomic writes, and redirect stubs.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::report::{Confidence, Finding, Report};
use crate::resolve::{encode_path, relative};

/// How to apply fixes.
#[derive(Debug, Clone)]
pub struct FixOptions {
    min_confidence: Confidence,
    dry_run: bool,
    backup_dir: Option<PathBuf>,
}

impl Default for FixOptions {
    fn default() -> FixOptions {
        FixOptions { min_confidence: Confidence::High, dry_run: false, backup_dir: None }
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

/// What `apply` did (or would do, in a dry run).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Applied {
    /// Every rewritten destination, by file and position.
    pub changes: Vec<Change>,
    /// Files rewritten.
    pub files: Vec<String>,
    /// The backup archive, when files were written.
    pub backup: Option<PathBuf>,
}

/// Applies the fixes of `report` at or above the minimum confidence.
///
/// Each touched file is backed up into one zip archive before anything is
/// written; each file is then replaced atomically. Only the bytes of link
/// destinations change. Running it again on the fixed tree changes nothing.
pub fn apply(report: &Report, options: &FixOptions) -> Result<Applied, Error> {
    let root = &report.root;
    let mut by_file: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for finding in &report.findings {
        if finding.fix.as_ref().is_some_and(|f| {
            f.confidence >= options.min_confidence && f.new_target != finding.target
        }) {
            by_file.entry(finding.file.as_str()).or_default().push(finding);
        }
    }
    let mut applied = Applied::default();
    let mut rewritten: Vec<(PathBuf, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (file, findings) in by_file {
        let path = root.join(file);
        // A symlink and its target in the tree are one file: rewrite it once
        // (its links count as fixed under both names).
        let first = seen.insert(std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone()));
        let before = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let after = rewrite(&before, &findings).map_err(|(line, column)| {
            Error::input(format!(
                "{}:{line}:{column}: file changed since it was checked; run the fix again",
                path.display()
            ))
        })?;
        for finding in findings {
            let fix = finding.fix.as_ref().expect("selected findings have fixes");
            applied.changes.push(Change {
                file: file.to_owned(),
                line: finding.line,
                column: finding.column,
                old: finding.target.clone(),
                new: fix.new_target.clone(),
                confidence: fix.confidence,
                reason: fix.reason.clone(),
            });
        }
        if first {
            applied.files.push(file.to_owned());
            rewritten.push((path, before, after));
        }
    }
    if options.dry_run || rewritten.is_empty() {
        return Ok(applied);
    }
    let backup_dir =
        options.backup_dir.clone().unwrap_or_else(|| root.join(".doclinks").join("backups"));
    let backup = crate::backup::write_backup(root, &backup_dir, &applied.files, &rewritten)?;
    for (path, _, after) in &rewritten {
        write_atomic(path, after)?;
    }
    applied.backup = Some(backup);
    Ok(applied)
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

/// Writes `bytes` to `path` through a temporary file in the same directory and
/// a rename, keeping the file's permissions: readers see the old or the new
/// file, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    // Write through a symlink, as editors do, instead of replacing the link
    // with a copy of the file.
    let resolved;
    let path = if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        resolved = std::fs::canonicalize(path).map_err(|e| Error::io("cannot resolve", path, e))?;
        resolved.as_path()
    } else {
        path
    };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".doclinks")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io("cannot write in", dir, e))?;
    temp.write_all(bytes).map_err(|e| Error::io("cannot write", path, e))?;
    temp.as_file().sync_all().map_err(|e| Error::io("cannot write", path, e))?;
    if let Ok(meta) = std::fs::metadata(path) {
        // Best effort: a file we could read but not chmod keeps default permissions.
        let _ignored = temp.as_file().set_permissions(meta.permissions());
    }
    temp.persist(path).map_err(|e| Error::io("cannot replace", path, e.error))?;
    Ok(())
}

/// Writes the fix plan for every finding to `path`, atomically: JSON when the
/// file name ends in `.json`, Markdown otherwise.
pub fn write_plan(
    report: &Report,
    min: Confidence,
    path: &Path,
    style: &crate::render::Style,
) -> Result<(), Error> {
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = crate::render::render_plan(report, min, json, style);
    write_atomic(path, text.as_bytes())
}

/// Writes a redirect stub at `old` pointing to `new`, so links to the old page
/// keep working after a move. Refuses to overwrite an existing file.
pub fn write_stub(old: &Path, new: &Path) -> Result<String, Error> {
    if old.exists() {
        return Err(Error::input(format!("{} exists; a stub would overwrite it", old.display())));
    }
    let new_abs =
        std::fs::canonicalize(new).map_err(|e| Error::io("cannot open the new page", new, e))?;
    let old_parent = match old.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => parent.to_path_buf(),
        None => PathBuf::from("."),
    };
    std::fs::create_dir_all(&old_parent).map_err(|e| Error::io("cannot create", &old_parent, e))?;
    let old_dir =
        std::fs::canonicalize(&old_parent).map_err(|e| Error::io("cannot open", &old_parent, e))?;
    let to_str = |p: &Path| p.to_string_lossy().replace('\\', "/");
    let link = encode_path(&relative(&to_str(&old_dir), &to_str(&new_abs)));
    let title =
        new_abs.file_stem().map_or_else(|| link.clone(), |s| s.to_string_lossy().into_owned());
    let text = format!(
        "---\nredirect_to: {link}\n---\n\n# Moved\n\nThis page moved to [{title}]({link}).\nUpdate your links and bookmarks.\n"
    );
    write_atomic(old, text.as_bytes())?;
    Ok(text)
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
            fix: Some(Fix {
                new_target: new.into(),
                confidence: Confidence::High,
                reason: "test".into(),
            }),
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

    #[cfg(unix)]
    #[test]
    fn write_atomic_writes_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.md"), "old").unwrap();
        std::os::unix::fs::symlink("real.md", dir.path().join("link.md")).unwrap();
        write_atomic(&dir.path().join("link.md"), b"new").unwrap();
        let link = std::fs::symlink_metadata(dir.path().join("link.md")).unwrap();
        assert!(link.file_type().is_symlink(), "the link stays a link");
        assert_eq!(std::fs::read_to_string(dir.path().join("real.md")).unwrap(), "new");
    }

    #[test]
    fn rewrite_refuses_a_changed_file() {
        let f = finding("[a](x.md)", "x.md", "y.md");
        assert_eq!(rewrite(b"[a](z.md)", &[&f]), Err((1, 1)));
    }
}
