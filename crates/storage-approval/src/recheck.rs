//! The last look at a file before anything is done to it, and the act itself.
//!
//! A file is re-checked right before it is acted on (type, size, mtime, SHA-256 of
//! the whole content) through directory handles opened below their anchor by the
//! file layer's one confinement walk ([`Dir::open_beneath`], never through a
//! symlink), held open, and looked at once more (inode, size, mtime, ctime) right
//! before the rename, so that a file swapped in between is never the one moved.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use tidy_io::Dir;

use crate::fsutil;
use crate::report::Action;
use crate::run::Status;

/// Where a file lives: an anchor directory handle and a path below it.
pub(crate) struct Loc<'a> {
    pub(crate) anchor: &'a Dir,
    pub(crate) rel: String,
}

impl Loc<'_> {
    pub(crate) fn split(&self) -> (Vec<&str>, &str) {
        let parts: Vec<&str> = self.rel.split('/').collect();
        let (name, dirs) = parts.split_last().expect("a checked path has a component");
        (dirs.to_vec(), name)
    }
}

/// What the file must still be.
#[derive(Clone, Copy)]
pub(crate) struct Expect<'a> {
    pub(crate) bytes: u64,
    pub(crate) mtime: Option<i128>,
    pub(crate) sha256: &'a str,
}

/// A file that passed its re-check, held open.
pub(crate) struct Checked {
    pub(crate) dir: Dir,
    pub(crate) name: String,
    file: File,
    stat: rustix::fs::Stat,
}

pub(crate) fn expect(a: &Action) -> Expect<'_> {
    Expect {
        bytes: a.bytes,
        mtime: fsutil::parse_ns(&a.mtime),
        sha256: a.sha256.as_deref().expect("validated: every action has a hash"),
    }
}

/// Re-checks a file: present, a regular file reached without symlinks, same size,
/// mtime and SHA-256 as expected. The error says why not.
pub(crate) fn recheck(loc: &Loc<'_>, expect: &Expect<'_>) -> std::result::Result<Checked, String> {
    let (dirs, name) = loc.split();
    let dir = loc
        .anchor
        .open_beneath(&dirs, false)
        .map_err(|e| describe_open(&e, "a parent directory"))?;
    let lstat = lstat(&dir, name)?;
    if !tidy_io::is_regular(&lstat) {
        return Err(format!("replaced by a {} since the report", fsutil::kind(&lstat)));
    }
    let (mut file, stat) = dir.open_regular(OsStr::new(name)).map_err(|e| match e {
        tidy_io::Error::NotRegular { .. } => "replaced while being checked".to_owned(),
        e => describe_open(&e, "the file"),
    })?;
    if stat.st_ino != lstat.st_ino {
        return Err("replaced while being checked".to_owned());
    }
    if stat.st_size as u64 != expect.bytes {
        return Err(format!(
            "size changed since the report ({} → {} bytes)",
            expect.bytes, stat.st_size
        ));
    }
    if let Some(mtime) = expect.mtime
        && fsutil::mtime_ns(&stat) != mtime
    {
        return Err(format!(
            "mtime changed since the report ({} → {})",
            fsutil::format_ns(mtime),
            fsutil::format_ns(fsutil::mtime_ns(&stat))
        ));
    }
    let (hash, n) = fsutil::hash_reader(&mut file).map_err(|e| format!("cannot read: {e}"))?;
    if hash != expect.sha256 || n != expect.bytes {
        return Err(format!(
            "content changed since the report (sha256 {hash}, expected {})",
            expect.sha256
        ));
    }
    Ok(Checked { dir, name: name.to_owned(), file, stat })
}

/// `lstat` of `name` in `dir`; gone is "deleted since the report".
fn lstat(dir: &Dir, name: &str) -> std::result::Result<rustix::fs::Stat, String> {
    match dir.stat(OsStr::new(name)) {
        Ok(Some(stat)) => Ok(stat),
        Ok(None) => Err("deleted since the report".to_owned()),
        Err(e) => Err(describe_open(&e, "the file")),
    }
}

/// Why a file or directory could not be opened, as a skip reason.
fn describe_open(e: &tidy_io::Error, what: &str) -> String {
    match e {
        tidy_io::Error::Symlink { .. } | tidy_io::Error::NotRegular { .. } => {
            format!("{what} was replaced by a symlink or is not a directory: not followed")
        }
        e if e.is_not_found() => "deleted since the report".to_owned(),
        e => format!("cannot open {what}: {}", e.reason()),
    }
}

/// Whether the checked file is still the same inode, size and mtime at its name:
/// the last look right before acting.
pub(crate) fn still_same(c: &Checked) -> std::result::Result<(), String> {
    same_entry(&c.dir, &c.name, &c.stat)
}

fn same_entry(dir: &Dir, name: &str, then: &rustix::fs::Stat) -> std::result::Result<(), String> {
    let now = lstat(dir, name)?;
    // The ctime too: a rewrite that puts the size and mtime back (`cp -a` over the
    // file, fclones #84) cannot put the ctime back. Not for a file with several hard
    // links: renaming one of its other names (another action of the same run) moves
    // the shared inode's ctime as well.
    if now.st_ino != then.st_ino
        || now.st_dev != then.st_dev
        || now.st_size != then.st_size
        || fsutil::mtime_ns(&now) != fsutil::mtime_ns(then)
        || (then.st_nlink == 1
            && (now.st_ctime, now.st_ctime_nsec) != (then.st_ctime, then.st_ctime_nsec))
    {
        return Err("changed after it was checked".to_owned());
    }
    Ok(())
}

/// Moves a checked file to `to` (creating directories, never replacing a file):
/// a rename, or a verified copy and unlink across file systems. Returns the
/// directories whose entries changed, to be fsynced with the batch.
pub(crate) fn relocate(
    c: &mut Checked,
    to: &Loc<'_>,
    sha256: &str,
) -> std::result::Result<Vec<Dir>, String> {
    let (dirs, name) = to.split();
    let to_dir =
        to.anchor.open_beneath(&dirs, true).map_err(|e| describe_open(&e, "the destination"))?;
    still_same(c)?;
    match c.dir.move_noreplace(OsStr::new(&c.name), &to_dir, OsStr::new(name)) {
        Ok(()) => {
            // If the name was swapped between the last look and the rename, the wrong
            // entry moved: put it back and report.
            let moved = match to_dir.stat(OsStr::new(name)) {
                Ok(Some(moved)) => moved,
                Ok(None) => return Err("cannot stat the destination: it is gone".to_owned()),
                Err(e) => return Err(format!("cannot stat the destination: {}", e.reason())),
            };
            if moved.st_ino != c.stat.st_ino || moved.st_dev != c.stat.st_dev {
                let _ = to_dir.move_noreplace(OsStr::new(name), &c.dir, OsStr::new(&c.name));
                return Err("replaced right before the action; put back".to_owned());
            }
        }
        Err(e) if e.is_cross_device() => {
            // A run killed between placing the copy and removing the original left a
            // complete copy: use it instead of failing on the existing name.
            let complete = to_dir
                .open_regular(OsStr::new(name))
                .ok()
                .and_then(|(mut f, _)| fsutil::hash_reader(&mut f).ok())
                .is_some_and(|(h, n)| h == sha256 && n == c.stat.st_size as u64);
            if !complete {
                fsutil::copy_into(&mut c.file, fsutil::mtime_ns(&c.stat), &to_dir, name, sha256)
                    .map_err(|e| {
                        format!("cannot copy to the destination: {e}; the original is untouched")
                    })?;
            }
            still_same(c).map_err(|e| format!("{e}; the copy at the destination is kept"))?;
            c.dir
                .remove_file(OsStr::new(&c.name))
                .map_err(|e| format!("copied, but cannot remove the original: {}", e.reason()))?;
        }
        Err(tidy_io::Error::Exists { .. }) => {
            return Err(format!("`{}` already exists at the destination", to.rel));
        }
        Err(e) => return Err(format!("cannot move: {}; the original is untouched", e.reason())),
    }
    let from_dir = c.dir.try_clone().map_err(|e| e.to_string())?;
    Ok(vec![from_dir, to_dir])
}

/// The kept copies of a batch's duplicate deletes: each hashed once (in parallel),
/// then looked at again (same inode, size and mtime) right before each delete of
/// its group, so that the last copy of a file is never the one removed.
pub(crate) struct Keeps {
    checked: HashMap<Arc<str>, std::result::Result<Kept, String>>,
}

/// A kept copy of a duplicate group, hashed and let go of (only its directory stays
/// open), to be looked at again right before each delete of its group.
struct Kept {
    dir: Dir,
    name: String,
    stat: rustix::fs::Stat,
}

impl Kept {
    fn still_same(&self) -> std::result::Result<(), String> {
        same_entry(&self.dir, &self.name, &self.stat)
    }
}

impl Keeps {
    /// Hashes the kept copy of every duplicate delete of `actions`, once each.
    pub(crate) fn check(root: &Dir, actions: &[Action]) -> Keeps {
        let mut keeps: Vec<&Action> = actions.iter().filter(|a| a.kept.is_some()).collect();
        keeps.sort_by(|a, b| a.kept.cmp(&b.kept));
        keeps.dedup_by(|a, b| a.kept == b.kept);
        let checked = keeps
            .par_iter()
            .map(|a| {
                let keep = a.kept.clone().expect("filtered");
                let checked = recheck(
                    &Loc { anchor: root, rel: keep.to_string() },
                    &Expect { mtime: None, ..expect(a) },
                )
                .map(|c| Kept { dir: c.dir, name: c.name, stat: c.stat });
                (keep, checked)
            })
            .collect();
        Keeps { checked }
    }

    /// Whether the kept copy of `a` (if it has one) is still intact.
    pub(crate) fn intact(&self, a: &Action) -> std::result::Result<(), String> {
        let Some(keep) = &a.kept else { return Ok(()) };
        let state = match self.checked.get(keep) {
            Some(Ok(k)) if k.stat.st_size as u64 == a.bytes => k.still_same(),
            Some(Ok(_)) => Err("its size differs".to_owned()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("not checked".to_owned()),
        };
        state.map_err(|e| {
            format!("the kept copy `{keep}` is not intact ({e}): not removing the last copy")
        })
    }
}

/// Whether a logged root still resolves to itself (no symlink put on the way since).
pub(crate) fn root_still_itself(root: &str) -> std::result::Result<(), String> {
    match Path::new(root).canonicalize() {
        Ok(real) if real == Path::new(root) => Ok(()),
        Ok(real) => Err(format!(
            "root {root} now resolves to {} (a symlink on the way): not restoring there",
            real.display()
        )),
        Err(err) => Err(format!("cannot open root {root}: {err}")),
    }
}

/// For an interrupted action whose source no longer checks out: is it complete at its
/// target (same bytes)? `None` target means a purge, which is complete only once the
/// source is gone (a source that is still there, changed, was not purged).
pub(crate) fn finished_elsewhere(
    src: &Loc<'_>,
    target: Option<&Loc<'_>>,
    expect: &Expect<'_>,
) -> Option<Status> {
    match target {
        Some(to) => recheck(to, &Expect { mtime: None, ..*expect }).ok().map(|_| Status::Done),
        None => is_gone(src).then_some(Status::Done),
    }
}

/// Whether nothing is at `loc` any more (the file or one of its directories is missing).
fn is_gone(loc: &Loc<'_>) -> bool {
    let (dirs, name) = loc.split();
    match loc.anchor.open_beneath(&dirs, false) {
        Ok(dir) => matches!(dir.stat(OsStr::new(name)), Ok(None)),
        Err(e) => e.is_not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Dir, Checked, String) {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("root/d")).unwrap();
        std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("root/d/f"), "checked").unwrap();
        std::fs::write(tmp.path().join("outside/f"), "checked").unwrap();
        let root = Dir::open(&tmp.path().join("root")).unwrap();
        let sha = fsutil::sha256_hex(b"checked");
        let checked = recheck(
            &Loc { anchor: &root, rel: "d/f".into() },
            &Expect { bytes: 7, mtime: None, sha256: &sha },
        )
        .unwrap();
        (tmp, root, checked, sha)
    }

    #[test]
    fn a_file_swapped_for_a_symlink_after_the_check_is_not_acted_on() {
        let (tmp, root, mut checked, sha) = setup();
        let file = tmp.path().join("root/d/f");
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside/f"), &file).unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("changed after it was checked"), "{err}");
        assert!(file.symlink_metadata().unwrap().file_type().is_symlink(), "the link stays");
        assert_eq!(std::fs::read_to_string(tmp.path().join("outside/f")).unwrap(), "checked");
        assert!(!tmp.path().join("root/q/f").exists());
    }

    #[test]
    fn a_parent_swapped_for_a_symlink_after_the_check_cannot_redirect_the_action() {
        let (tmp, root, mut checked, sha) = setup();
        // The checked directory moves away and a symlink to a look-alike takes its place.
        std::fs::rename(tmp.path().join("root/d"), tmp.path().join("root/moved")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), tmp.path().join("root/d")).unwrap();
        relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap();
        // The action went through the directory handle: it moved the file that was
        // checked, and nothing outside ROOT was touched.
        assert!(tmp.path().join("outside/f").exists());
        assert!(!tmp.path().join("root/moved/f").exists());
        assert_eq!(std::fs::read_to_string(tmp.path().join("root/q/f")).unwrap(), "checked");
    }

    #[test]
    fn a_rewrite_that_keeps_size_and_mtime_after_the_check_is_not_acted_on() {
        use std::os::unix::fs::MetadataExt;
        let (tmp, root, mut checked, sha) = setup();
        let file = tmp.path().join("root/d/f");
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        let ctime = |f: &Path| {
            let m = std::fs::metadata(f).unwrap();
            (m.ctime(), m.ctime_nsec())
        };
        let then = ctime(&file);
        // Rewrite until the coarse file-system clock has ticked, so that the rewrite
        // has a ctime of its own (as any later rewrite does).
        loop {
            std::fs::write(&file, "CHECKED").unwrap();
            if ctime(&file) != then {
                break;
            }
        }
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("changed after it was checked"), "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "CHECKED");
    }

    #[test]
    fn a_destination_that_exists_is_never_overwritten() {
        let (tmp, root, mut checked, sha) = setup();
        std::fs::create_dir_all(tmp.path().join("root/q")).unwrap();
        std::fs::write(tmp.path().join("root/q/f"), "precious").unwrap();
        let err =
            relocate(&mut checked, &Loc { anchor: &root, rel: "q/f".into() }, &sha).unwrap_err();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read_to_string(tmp.path().join("root/q/f")).unwrap(), "precious");
        assert!(tmp.path().join("root/d/f").exists());
    }
}
