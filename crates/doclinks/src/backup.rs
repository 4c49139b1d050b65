//! Backups: the zip archive `fix` writes before it changes a file, and
//! `restore`, which puts its files back.
//!
//! A backup is untrusted input when it comes back: anyone can hand over a zip.
//! So `restore` writes only below the root it is given (a backup made from
//! another root is refused), only the files the manifest lists, each a plain
//! relative path of a Markdown page outside `.git`, each no bigger than and
//! hashing to what the manifest records; all of it is checked and read before
//! the first write, and every write goes through [`tidy_io::Root`], which never
//! leaves the root, through `..` or through a symlink.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tidy_io::{Durability, Loaded, Located, Perms, ReplaceOptions, Root};
use zip::write::SimpleFileOptions;

use crate::error::Error;
use crate::tree::is_markdown;

/// The name of the manifest inside a backup archive.
const MANIFEST: &str = "doclinks-backup.json";

/// The manifest format `fix` writes. Version 1 (no `version` field) listed bare
/// paths; version 2 records each file's size and SHA-256 before and after.
const VERSION: u32 = 2;

/// The most bytes one file of a backup may hold. Version 2 caps each entry at
/// its recorded size as well; version 1 records none, so this is all that stops
/// a small zip from inflating without end. Far above `max_file_size`'s default
/// (16 MiB): fix only rewrites pages it read.
const ENTRY_LIMIT: u64 = 64 * 1024 * 1024;

/// The most bytes all files of one backup may hold together: everything is read
/// before anything is written, so this bounds the memory a restore takes.
const TOTAL_LIMIT: u64 = 1024 * 1024 * 1024;

/// The most bytes the manifest itself may hold (a few hundred per file).
const MANIFEST_LIMIT: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct Manifest {
    #[serde(default = "first_version")]
    version: u32,
    root: PathBuf,
    files: Vec<Listed>,
}

fn first_version() -> u32 {
    1
}

/// One file of the manifest.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Listed {
    /// Version 2: the path with what was saved and what fix wrote.
    Recorded(Recorded),
    /// Version 1: the path alone.
    Name(String),
}

#[derive(Serialize, Deserialize)]
struct Recorded {
    /// Relative to the root, `/`-separated.
    path: String,
    /// The bytes in the archive: the file before fix.
    saved: Content,
    /// The bytes fix wrote.
    fixed: Content,
}

#[derive(Serialize, Deserialize, Clone, PartialEq, Eq)]
struct Content {
    size: u64,
    sha256: String,
}

impl Content {
    fn of(bytes: &[u8]) -> Content {
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(bytes);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        Content { size: bytes.len() as u64, sha256 }
    }
}

/// Writes the backup of `files` (relative paths, in the order of `contents`,
/// whose items are path, bytes before and bytes after) into a new archive in
/// `dir`; returns the archive's path. An existing archive is never replaced.
pub(crate) fn write_backup(
    root: &Path,
    dir: &Path,
    files: &[String],
    contents: &[(PathBuf, Vec<u8>, Vec<u8>)],
) -> Result<PathBuf, Error> {
    let not_writable = |e: &dyn std::fmt::Display| {
        Error::backup(dir, format!("backup directory is not writable: {e}"))
    };
    let handle = backup_dir(root, dir).map_err(|e| not_writable(&e))?;
    let recorded = files
        .iter()
        .zip(contents)
        .map(|(file, (_, before, after))| {
            Listed::Recorded(Recorded {
                path: file.clone(),
                saved: Content::of(before),
                fixed: Content::of(after),
            })
        })
        .collect();
    let manifest = Manifest { version: VERSION, root: root.to_path_buf(), files: recorded };
    let archive = archive(&manifest, files.iter().zip(contents).map(|(f, (_, b, _))| (f, b)))
        .map_err(|e| Error::backup(dir, format!("cannot write archive: {e}")))?;
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"))
        .expect("the timestamp format is valid");
    let mut n = 0u32;
    loop {
        let name = match n {
            0 => format!("doclinks-backup-{stamp}.zip"),
            n => format!("doclinks-backup-{stamp}-{n}.zip"),
        };
        let created = tidy_io::create_new(
            &handle,
            OsStr::new(&name),
            &archive,
            Perms::Default,
            Durability::Durable,
        );
        match created {
            Ok(()) => return Ok(dir.join(name)),
            // Another backup in the same second: take the next number.
            Err(tidy_io::Error::Exists { .. }) => n += 1,
            Err(e) => return Err(not_writable(&e)),
        }
    }
}

/// Opens (creating it) the directory backups go to. Below the root, where the
/// default `ROOT/.doclinks/backups` is, it is made without passing a symlink,
/// so a planted `.doclinks` link cannot send the pages' text elsewhere; a
/// directory the user named elsewhere is taken as given, like any path argument.
fn backup_dir(root: &Path, dir: &Path) -> Result<tidy_io::Dir, tidy_io::Error> {
    if let Ok(rel) = dir.strip_prefix(root)
        && rel.components().all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Root::open(root)?.create_dirs(rel);
    }
    std::fs::create_dir_all(dir).map_err(|e| tidy_io::Error::Io {
        action: "create directory",
        path: dir.to_path_buf(),
        source: e,
    })?;
    tidy_io::Dir::open(dir)
}

/// The zip archive of the manifest and the saved bytes, in memory.
fn archive<'a>(
    manifest: &Manifest,
    files: impl Iterator<Item = (&'a String, &'a Vec<u8>)>,
) -> Result<Vec<u8>, String> {
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| format!("manifest: {e}"))?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(MANIFEST, options).map_err(|e| e.to_string())?;
    zip.write_all(&json).map_err(|e| e.to_string())?;
    for (file, before) in files {
        zip.start_file(file.as_str(), options).map_err(|e| e.to_string())?;
        zip.write_all(before).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    force: bool,
}

impl RestoreOptions {
    /// Restores only files still as fix left them (or missing).
    pub fn new() -> RestoreOptions {
        RestoreOptions::default()
    }

    /// Also overwrites files changed since the backup.
    pub fn force(mut self, yes: bool) -> RestoreOptions {
        self.force = yes;
        self
    }
}

/// What `restore` did, file by file (paths relative to the root).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Restored {
    /// The root written into (resolved).
    pub root: PathBuf,
    /// Files given back their backed-up bytes (replaced, or created when missing).
    pub restored: Vec<String>,
    /// Files that already held the backed-up bytes: not touched.
    pub unchanged: Vec<String>,
    /// Files left as they are, with the reason.
    pub skipped: Vec<Skipped>,
}

/// A file `restore` left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Skipped {
    /// The file, relative to the root.
    pub file: String,
    /// Why it was left alone.
    pub reason: String,
    /// Whether it changed since the backup, so that forcing would overwrite it.
    pub changed: bool,
}

/// One file of a backup, read and checked.
struct Saved {
    name: String,
    bytes: Vec<u8>,
    /// What fix wrote; unknown for a version 1 backup.
    fixed: Option<Content>,
}

/// Puts the files of the backup archive `backup` back into `root`, byte for
/// byte, keeping each replaced file's identity (owner, mode, extended
/// attributes).
///
/// Refused with nothing written: a backup made from another root, an entry
/// that is not a plain relative path of a Markdown page outside `.git`, an
/// entry larger than or hashing differently from what the manifest records, a
/// target that leads out of the root (a symlinked page or directory) or is not
/// a regular file. A file changed since the backup (neither the bytes saved nor
/// those fix wrote) is skipped unless `force`d; one already holding the saved
/// bytes is left untouched.
pub fn restore(backup: &Path, root: &Path, options: &RestoreOptions) -> Result<Restored, Error> {
    let bad = |message: String| Error::backup(backup, message);
    let root = Root::open(root).map_err(|e| Error::input(format!("root: {e}")))?;
    let mut zip = open_archive(backup)?;
    let manifest = read_manifest(backup, &mut zip)?;
    check_root(backup, &manifest.root, &root)?;
    let listed = listed(&manifest).map_err(bad)?;
    // Read and check everything before writing anything: a bad archive restores nothing.
    let saved = read_files(backup, &mut zip, &listed)?;
    for file in &saved {
        examine(&root, file, options.force)
            .map_err(|e| bad(format!("entry {}: {e}; nothing restored", quote(&file.name))))?;
    }
    let mut restored = Restored { root: root.path().to_owned(), ..Restored::default() };
    for file in &saved {
        put_back(&root, file, options.force, &mut restored);
    }
    Ok(restored)
}

/// The files `listed` with their bytes from the archive, each checked for its
/// path, against the caps and against what the manifest records.
fn read_files(
    backup: &Path,
    zip: &mut zip::ZipArchive<std::fs::File>,
    listed: &[Entry<'_>],
) -> Result<Vec<Saved>, Error> {
    let bad = |message: String| Error::backup(backup, message);
    let mut saved = Vec::with_capacity(listed.len());
    for (name, recorded) in listed {
        if let Some(problem) = entry_problem(name) {
            return Err(bad(format!("entry {} {problem}; nothing restored", quote(name))));
        }
        let fixed = recorded.map(|(_, fixed)| fixed.clone());
        saved.push(Saved { name: (*name).to_owned(), bytes: Vec::new(), fixed });
    }
    let mut total = 0u64;
    for (file, (_, recorded)) in saved.iter_mut().zip(listed) {
        let recorded = recorded.map(|(saved, _)| saved);
        let cap = recorded.map_or(ENTRY_LIMIT, |r| r.size);
        total = total.saturating_add(cap);
        let quoted = quote(&file.name);
        if cap > ENTRY_LIMIT || total > TOTAL_LIMIT {
            return Err(bad(format!(
                "entry {quoted} would take the backup over {} MiB per file or {} MiB in all; nothing restored",
                ENTRY_LIMIT >> 20,
                TOTAL_LIMIT >> 20
            )));
        }
        let limit = match recorded {
            Some(_) => format!("the {cap} bytes recorded for it"),
            None => format!("{cap} bytes, the limit for a file of an old-format backup"),
        };
        file.bytes = read_entry(zip, &file.name, cap, &limit)
            .map_err(|e| bad(format!("entry {quoted} {e}; nothing restored")))?;
        if let Some(recorded) = recorded
            && Content::of(&file.bytes) != *recorded
        {
            return Err(bad(format!(
                "entry {quoted} does not match the size and SHA-256 its manifest records; nothing restored"
            )));
        }
    }
    Ok(saved)
}

/// `name` in backquotes, control characters (a NUL, a newline) escaped.
fn quote(name: &str) -> String {
    format!("`{}`", name.escape_debug())
}

fn open_archive(backup: &Path) -> Result<zip::ZipArchive<std::fs::File>, Error> {
    // A regular file only: a FIFO or device named as the backup fails at once.
    let (file, _) = tidy_io::open_regular(backup).map_err(|e| match e {
        tidy_io::Error::Io { source, .. } => Error::io("cannot open backup", backup, source),
        other => Error::backup(backup, other.reason()),
    })?;
    zip::ZipArchive::new(file).map_err(|e| Error::backup(backup, format!("not a zip archive: {e}")))
}

fn read_manifest(
    backup: &Path,
    zip: &mut zip::ZipArchive<std::fs::File>,
) -> Result<Manifest, Error> {
    let bad = |message: String| Error::backup(backup, message);
    let limit = format!("{MANIFEST_LIMIT} bytes, the limit for a manifest");
    let bytes = read_entry(zip, MANIFEST, MANIFEST_LIMIT, &limit).map_err(|e| {
        if e == MISSING {
            bad(format!("not a doclinks backup (no {MANIFEST})"))
        } else {
            bad(format!("{MANIFEST} {e}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("malformed {MANIFEST}: {e}")))
}

/// Refuses a backup made from another root than `root`: its files would be
/// written into a tree they did not come from (or, trusted, anywhere at all).
fn check_root(backup: &Path, recorded: &Path, root: &Root) -> Result<(), Error> {
    let same = recorded.is_absolute()
        && std::fs::canonicalize(recorded).is_ok_and(|real| real == root.path());
    if same {
        return Ok(());
    }
    let relative = if recorded.is_absolute() { "" } else { " (a relative path)" };
    Err(Error::backup(
        backup,
        format!(
            "made from {}{relative}, not from the root {}; nothing restored (--root names the tree to restore into)",
            recorded.display(),
            root.path().display()
        ),
    ))
}

/// A file of the manifest: its path and (version 2) what was saved and what fix wrote.
type Entry<'m> = (&'m str, Option<(&'m Content, &'m Content)>);

/// The manifest's files, checked for the format.
fn listed(manifest: &Manifest) -> Result<Vec<Entry<'_>>, String> {
    let version = manifest.version;
    if version > VERSION {
        return Err(format!(
            "{MANIFEST} has format version {version}; this doclinks reads up to {VERSION}"
        ));
    }
    let mut seen = crate::fast::HashSet::default();
    let mut files = Vec::with_capacity(manifest.files.len());
    for file in &manifest.files {
        let (name, fixed) = match (version, file) {
            (1, Listed::Name(name)) => (name.as_str(), None),
            (2, Listed::Recorded(r)) => (r.path.as_str(), Some((&r.saved, &r.fixed))),
            _ => {
                return Err(format!(
                    "malformed {MANIFEST}: a file is not as version {version} lists it"
                ));
            }
        };
        if !seen.insert(name) {
            return Err(format!("entry {} is listed twice; nothing restored", quote(name)));
        }
        files.push((name, fixed));
    }
    Ok(files)
}

/// Why `name` cannot be a file of a backup, if it cannot. Fix records plain
/// `/`-separated paths below the root of the Markdown pages it rewrote; nothing
/// else is ever in a real backup.
fn entry_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name.contains('\0') {
        return Some("contains a NUL byte");
    }
    // A plain character on Unix, but never in what fix records, and the way
    // `..\..\x` passes for one name here and for a path elsewhere.
    if name.contains('\\') {
        return Some("contains a backslash");
    }
    if name.starts_with('/') {
        return Some("is an absolute path, not a path below the root");
    }
    for part in name.split('/') {
        match part {
            "" => return Some("has an empty component"),
            "." | ".." => {
                return Some("has a `.` or `..` component, not a plain path below the root");
            }
            _ if part.eq_ignore_ascii_case(".git") => {
                return Some("is inside .git; a backup holds only pages");
            }
            _ => {}
        }
    }
    // `doclinks.toml` at the root: triage appends its entries there.
    if !is_markdown(name) && name != crate::config::CONFIG_FILE {
        return Some("is not a Markdown page; a backup holds only the pages fix rewrites");
    }
    None
}

/// What [`read_entry`] says of an entry the archive lacks.
const MISSING: &str = "is missing from the archive";

/// The bytes of the entry `name`, at most `cap` of them (`limit` says which cap
/// in a message): the count holds on what inflates, whatever the headers
/// declare, so a small zip cannot expand past it.
fn read_entry(
    zip: &mut zip::ZipArchive<std::fs::File>,
    name: &str,
    cap: u64,
    limit: &str,
) -> Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|_| MISSING.to_owned())?;
    let too_big = || format!("inflates to more than {limit}");
    if entry.size() > cap {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
    entry
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > cap {
        return Err(too_big());
    }
    Ok(bytes)
}

/// Where a file of the backup stands in the tree now.
enum Target {
    /// It holds the saved bytes already.
    Same,
    /// It may be given the saved bytes.
    Replace(Loaded),
    /// Changed since the backup; left alone, for this reason.
    Changed(String),
    /// Missing; its directory exists.
    Create(Located),
    /// Missing with its directory: the directories are created first.
    CreateDirs,
}

/// Looks at the file `saved` would go to, through the root: a link out of it, a
/// special file or a symlinked directory on the way is an error.
fn examine(root: &Root, saved: &Saved, force: bool) -> Result<Target, tidy_io::Error> {
    let rel = Path::new(&saved.name);
    let loaded = match root.read(rel, ENTRY_LIMIT) {
        Ok(loaded) => loaded,
        Err(tidy_io::Error::TooLarge { limit, .. }) => {
            return Ok(Target::Changed(format!(
                "changed since the backup: it is over the {} MiB a restore reads",
                limit >> 20
            )));
        }
        Err(e) if e.is_not_found() => {
            return match root.locate(rel) {
                Ok(located) => Ok(Target::Create(located)),
                Err(e) if e.is_not_found() => {
                    check_creatable(root, rel.parent().unwrap_or(Path::new("")))?;
                    Ok(Target::CreateDirs)
                }
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e),
    };
    if loaded.bytes == saved.bytes {
        return Ok(Target::Same);
    }
    let as_fixed = saved.fixed.as_ref().is_some_and(|fixed| {
        fixed.size == loaded.snapshot.size() && fixed.sha256 == loaded.snapshot.sha256_hex()
    });
    if as_fixed || force {
        return Ok(Target::Replace(loaded));
    }
    Ok(Target::Changed(match saved.fixed {
        Some(_) => "changed since the backup (it holds neither the saved bytes nor those fix wrote)",
        None => "differs from the backup, and a backup of the old format does not record what fix wrote, so a later edit cannot be told apart",
    }
    .to_owned()))
}

/// Checks that the missing directories of `parent` can be created below the
/// root: each one that exists is a real directory, not a symlink.
fn check_creatable(root: &Root, parent: &Path) -> Result<(), tidy_io::Error> {
    let parts: Vec<&OsStr> = parent.iter().collect();
    for end in 1..=parts.len() {
        match root.dir().open_beneath(&parts[..end], false) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Gives one file its saved bytes, looking at it again first: whatever changed
/// since the checks (or fails now) is skipped with the reason, never overwritten.
fn put_back(root: &Root, saved: &Saved, force: bool, done: &mut Restored) {
    let file = saved.name.clone();
    let written = match examine(root, saved, force) {
        Ok(Target::Same) => {
            done.unchanged.push(file);
            return;
        }
        Ok(Target::Changed(reason)) => {
            done.skipped.push(Skipped { file, reason, changed: true });
            return;
        }
        Ok(Target::Replace(loaded)) => {
            tidy_io::replace(&loaded, &saved.bytes, &ReplaceOptions::default())
        }
        Ok(Target::Create(located)) => create(&located.dir, &located.name, &saved.bytes),
        Ok(Target::CreateDirs) => {
            let rel = Path::new(&saved.name);
            let (parent, name) = (rel.parent().unwrap_or(Path::new("")), rel.file_name());
            root.create_dirs(parent).and_then(|dir| {
                create(&dir, name.expect("a checked entry has a file name"), &saved.bytes)
            })
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => done.restored.push(file),
        Err(e) => done.skipped.push(Skipped { file, reason: e.reason(), changed: false }),
    }
}

/// Creates a missing file; one that appeared meanwhile is not replaced.
fn create(dir: &tidy_io::Dir, name: &OsStr, bytes: &[u8]) -> Result<(), tidy_io::Error> {
    tidy_io::create_new(dir, name, bytes, Perms::Default, Durability::Durable)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_of_pages_are_entries() {
        for good in ["README.md", "docs/guide.md", "a/b/c.markdown", "Docs/X.MD"] {
            assert_eq!(entry_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "../x.md",
            "a/../x.md",
            "./x.md",
            "a//x.md",
            "a/",
            "/etc/x.md",
            "a\\..\\x.md",
            "x\0.md",
            ".git/hooks/pre-commit",
            ".git/x.md",
            "sub/.GIT/x.md",
            "notes.txt",
            "page.html",
        ] {
            assert!(entry_problem(bad).is_some(), "{bad:?} accepted");
        }
    }

    #[test]
    fn old_and_new_manifests_parse() {
        let old: Manifest = serde_json::from_str(r#"{"root":"/r","files":["a.md"]}"#).unwrap();
        assert_eq!(old.version, 1);
        assert!(matches!(listed(&old).unwrap()[..], [("a.md", None)]));
        let new = r#"{"version":2,"root":"/r","files":[{"path":"a.md",
            "saved":{"size":1,"sha256":"00"},"fixed":{"size":2,"sha256":"11"}}]}"#;
        let new: Manifest = serde_json::from_str(new).unwrap();
        let files = listed(&new).unwrap();
        assert!(matches!(
            files[..],
            [("a.md", Some((Content { size: 1, .. }, Content { size: 2, .. })))]
        ));
        let mixed: Manifest =
            serde_json::from_str(r#"{"version":2,"root":"/r","files":["a.md"]}"#).unwrap();
        assert!(listed(&mixed).is_err());
    }
}
