//! Replacing a user's file: identity kept, concurrent edits never overwritten,
//! hard links never split.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use tidy_io::{Error, ReplaceOptions, Root};

fn page(content: &str) -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("page.md"), content).unwrap();
    let root = Root::open(dir.path()).unwrap();
    (dir, root)
}

fn read(root: &Root) -> tidy_io::Loaded {
    root.read(Path::new("page.md"), 1 << 20).unwrap()
}

#[test]
fn an_edit_by_another_process_before_the_swap_survives() {
    let (dir, root) = page("[a](old.md)\n");
    let loaded = read(&root);
    let file = dir.path().join("page.md");
    // A real second process appends in the window between read and rename.
    let hook = |path: &Path| {
        let status = Command::new("sh")
            .arg("-c")
            .arg("printf 'appended\\n' >> \"$1\"")
            .arg("sh")
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    };
    let options = ReplaceOptions { before_commit: Some(&hook), ..ReplaceOptions::default() };
    let err = tidy_io::replace(&loaded, b"[a](new.md)\n", &options).unwrap_err();
    assert!(matches!(err, Error::Changed { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "[a](old.md)\nappended\n");
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["page.md"], "no temporary file is left behind");
}

#[test]
fn a_same_size_edit_within_one_clock_tick_is_caught_by_the_hash() {
    let (dir, root) = page("aaaa\n");
    let file = dir.path().join("page.md");
    let loaded = read(&root);
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let hook = |path: &Path| {
        std::fs::write(path, "bbbb\n").unwrap();
        // Put the times back as a coarse clock would have left them.
        std::fs::File::options().write(true).open(path).unwrap().set_modified(before).unwrap();
    };
    let options = ReplaceOptions { before_commit: Some(&hook), ..ReplaceOptions::default() };
    let err = tidy_io::replace(&loaded, b"cccc\n", &options).unwrap_err();
    assert!(matches!(err, Error::Changed { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "bbbb\n");
}

#[test]
fn a_file_replaced_or_removed_since_the_read_is_left_alone() {
    let (dir, root) = page("one\n");
    let file = dir.path().join("page.md");
    let loaded = read(&root);
    std::fs::write(dir.path().join("other"), "two\n").unwrap();
    std::fs::rename(dir.path().join("other"), &file).unwrap();
    assert!(matches!(
        tidy_io::replace(&loaded, b"x", &ReplaceOptions::default()),
        Err(Error::Changed { .. })
    ));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "two\n");
    let loaded = read(&root);
    std::fs::remove_file(&file).unwrap();
    assert!(tidy_io::replace(&loaded, b"x", &ReplaceOptions::default()).is_err());
    assert!(!file.exists(), "a removed file is not brought back");
}

#[test]
fn mode_owner_and_xattrs_are_kept() {
    let (dir, root) = page("text\n");
    let file = dir.path().join("page.md");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).unwrap();
    let as_root = rustix::process::geteuid().is_root();
    if as_root {
        std::os::unix::fs::chown(&file, Some(12345), Some(23456)).unwrap();
    }
    let xattrs =
        rustix::fs::setxattr(&file, "user.origin", b"kept", rustix::fs::XattrFlags::empty())
            .is_ok();
    let loaded = read(&root);
    tidy_io::replace(&loaded, b"new text\n", &ReplaceOptions::default()).unwrap();
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "new text\n");
    assert_eq!(meta.mode() & 0o7777, 0o640);
    if as_root {
        assert_eq!((meta.uid(), meta.gid()), (12345, 23456));
    } else {
        eprintln!("not root: the owner part of this test needs root");
    }
    if xattrs {
        let mut value = [0u8; 16];
        let n = rustix::fs::getxattr(&file, "user.origin", &mut value[..]).unwrap();
        assert_eq!(&value[..n], b"kept");
    } else {
        eprintln!("this file system has no user.* extended attributes: that part is skipped");
    }
}

#[test]
fn a_file_with_another_hard_link_is_refused_and_both_names_keep_their_text() {
    let (dir, root) = page("shared\n");
    std::fs::hard_link(dir.path().join("page.md"), dir.path().join("other.md")).unwrap();
    let loaded = read(&root);
    let err = tidy_io::replace(&loaded, b"changed\n", &ReplaceOptions::default()).unwrap_err();
    assert!(matches!(err, Error::HardLinked { links: 2, .. }), "{err}");
    assert!(err.to_string().contains("hard links"), "{err}");
    for name in ["page.md", "other.md"] {
        assert_eq!(std::fs::read_to_string(dir.path().join(name)).unwrap(), "shared\n");
    }
    assert_eq!(std::fs::metadata(dir.path().join("page.md")).unwrap().nlink(), 2);
}

#[test]
fn a_symlinked_page_inside_the_root_is_written_through() {
    let (dir, root) = page("target\n");
    std::os::unix::fs::symlink("page.md", dir.path().join("alias.md")).unwrap();
    let loaded = root.read(Path::new("alias.md"), 1 << 20).unwrap();
    tidy_io::replace(&loaded, b"through\n", &ReplaceOptions::default()).unwrap();
    assert!(
        std::fs::symlink_metadata(dir.path().join("alias.md")).unwrap().file_type().is_symlink()
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("page.md")).unwrap(), "through\n");
}
