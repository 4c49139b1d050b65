//! Hostile input for reading and confinement: special files are refused at once,
//! paths never leave the root.

use std::os::unix::fs::symlink;
use std::path::Path;

use tidy_io::{Error, Root};

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn devices_fifos_and_sockets_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("page.md");
    mkfifo(&fifo);
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock.md")).unwrap();
    symlink("/dev/zero", dir.path().join("zero.md")).unwrap();
    symlink("/dev/stdin", dir.path().join("stdin.md")).unwrap();
    for (name, kinds) in [
        ("page.md", &["FIFO"][..]),
        ("sock.md", &["socket"]),
        ("zero.md", &["character device"]),
        // stdin of a test is a pipe, a terminal or /dev/null: never a regular file.
        ("stdin.md", &["FIFO", "character device", "socket"]),
    ] {
        match tidy_io::read_file(&dir.path().join(name), 1 << 20) {
            Err(Error::NotRegular { kind, .. }) => assert!(kinds.contains(&kind), "{name}: {kind}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn the_cap_holds_on_the_bytes_read() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big"), vec![b'x'; 4097]).unwrap();
    std::fs::write(dir.path().join("fits"), vec![b'x'; 4096]).unwrap();
    let err = tidy_io::read_file(&dir.path().join("big"), 4096).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 4096, .. }), "{err}");
    assert_eq!(tidy_io::read_file(&dir.path().join("fits"), 4096).unwrap().len(), 4096);
    assert!(err.to_string().contains("big"), "the message names the file: {err}");
}

#[test]
fn links_inside_the_root_are_followed_and_links_out_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let root_dir = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(root_dir.join("docs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root_dir.join("docs/real.md"), "inside").unwrap();
    std::fs::write(outside.join("notes.md"), "outside").unwrap();
    symlink("real.md", root_dir.join("docs/alias.md")).unwrap();
    symlink(outside.join("notes.md"), root_dir.join("docs/notes.md")).unwrap();
    symlink(&outside, root_dir.join("docs/linked-dir")).unwrap();
    symlink("../../outside/notes.md", root_dir.join("docs/relative.md")).unwrap();
    symlink("missing.md", root_dir.join("docs/dangling.md")).unwrap();
    let root = Root::open(&root_dir).unwrap();

    let alias = root.read(Path::new("docs/alias.md"), 1 << 20).unwrap();
    assert_eq!(alias.bytes, b"inside");
    assert_eq!(alias.located.rel, Path::new("docs/real.md"));

    for rel in ["docs/notes.md", "docs/linked-dir/notes.md", "docs/relative.md"] {
        match root.read(Path::new(rel), 1 << 20) {
            Err(Error::OutsideRoot { target, .. }) => {
                assert!(target.starts_with(std::fs::canonicalize(&outside).unwrap()), "{rel}")
            }
            other => panic!("{rel}: {other:?}"),
        }
    }
    assert!(matches!(root.locate(Path::new("docs/dangling.md")), Err(Error::Symlink { .. })));
    for rel in ["../outside/notes.md", "docs/../../outside/notes.md", "/etc/passwd", "", "./docs"] {
        assert!(
            matches!(root.locate(Path::new(rel)), Err(Error::OutsideRoot { .. })),
            "{rel:?} is refused"
        );
    }
    // An absolute path inside the root is fine.
    let canonical = std::fs::canonicalize(root_dir.join("docs/real.md")).unwrap();
    assert_eq!(root.read(&canonical, 1 << 20).unwrap().bytes, b"inside");
}

#[test]
fn writes_below_the_root_never_leave_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root_dir = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&root_dir).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("rcfile"), "precious").unwrap();
    symlink(outside.join("rcfile"), root_dir.join("rc.md")).unwrap();
    symlink(&outside, root_dir.join("out")).unwrap();
    let root = Root::open(&root_dir).unwrap();
    let perms = tidy_io::Perms::Default;
    let durable = tidy_io::Durability::Durable;
    assert!(matches!(
        root.write(Path::new("rc.md"), b"x", perms, durable),
        Err(Error::OutsideRoot { .. })
    ));
    assert!(matches!(root.create_dirs(Path::new("out/sub")), Err(Error::Symlink { .. })));
    assert!(matches!(
        root.write(Path::new("out/new.md"), b"x", perms, durable),
        Err(Error::OutsideRoot { .. })
    ));
    assert_eq!(std::fs::read(outside.join("rcfile")).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "nothing created outside");

    root.create_dirs(Path::new("a/b")).unwrap();
    root.write(Path::new("a/b/new.md"), b"new", perms, durable).unwrap();
    assert_eq!(std::fs::read(root_dir.join("a/b/new.md")).unwrap(), b"new");
}

#[test]
fn the_walk_beneath_refuses_a_symlinked_component() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("real")).unwrap();
    symlink(tmp.path().join("real"), tmp.path().join("link")).unwrap();
    std::fs::write(tmp.path().join("file"), "").unwrap();
    let dir = tidy_io::Dir::open(tmp.path()).unwrap();
    assert!(dir.open_beneath(&["real"], false).is_ok());
    assert!(matches!(dir.open_beneath(&["link"], false), Err(Error::Symlink { .. })));
    assert!(matches!(dir.open_beneath(&["link", "x"], true), Err(Error::Symlink { .. })));
    assert!(matches!(
        dir.open_beneath(&["file"], false),
        Err(Error::NotADirectory { kind: "regular file", .. })
    ));
    for bad in ["..", ".", "a/b", ""] {
        assert!(dir.open_beneath(&[bad], true).is_err(), "{bad:?}");
    }
    assert!(!tmp.path().join("real/x").exists());
}

#[test]
fn moves_never_replace_and_append_opens_refuse_special_files() {
    use std::ffi::OsStr;
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("q")).unwrap();
    std::fs::write(tmp.path().join("a"), "a").unwrap();
    std::fs::write(tmp.path().join("q/a"), "taken").unwrap();
    let dir = tidy_io::Dir::open(tmp.path()).unwrap();
    let q = dir.open_beneath(&["q"], false).unwrap();
    let err = dir.move_noreplace(OsStr::new("a"), &q, OsStr::new("a")).unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(tmp.path().join("q/a")).unwrap(), b"taken");
    dir.move_noreplace(OsStr::new("a"), &q, OsStr::new("b")).unwrap();
    assert_eq!(std::fs::read(tmp.path().join("q/b")).unwrap(), b"a");
    assert!(!tmp.path().join("a").exists());

    let (mut log, _) = dir.open_append(OsStr::new("log")).unwrap();
    log.write_all(b"one\n").unwrap();
    let (mut log, _) = dir.open_append(OsStr::new("log")).unwrap();
    log.write_all(b"two\n").unwrap();
    assert_eq!(std::fs::read(tmp.path().join("log")).unwrap(), b"one\ntwo\n");
    mkfifo(&tmp.path().join("fifo"));
    symlink("log", tmp.path().join("link")).unwrap();
    assert!(matches!(
        dir.open_append(OsStr::new("fifo")),
        Err(Error::NotRegular { kind: "FIFO", .. })
    ));
    assert!(matches!(dir.open_append(OsStr::new("link")), Err(Error::Symlink { .. })));

    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    dir.remove_dir(OsStr::new("empty")).unwrap();
    dir.remove_dir(OsStr::new("empty")).unwrap();
    assert!(dir.remove_dir(OsStr::new("q")).is_err(), "a directory with files stays");
}

#[test]
fn a_listing_names_each_entry_with_its_own_kind_and_subdirectories_open_only_as_directories() {
    use tidy_io::{Dir, EntryKind};
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("page.md"), "x").unwrap();
    std::fs::write(dir.path().join("new\nline.md"), "x").unwrap();
    symlink("sub", dir.path().join("to-sub")).unwrap();
    symlink("nowhere", dir.path().join("dangling")).unwrap();
    mkfifo(&dir.path().join("fifo"));
    let root = Dir::open(dir.path()).unwrap();
    let list = |dir: &Dir| {
        let mut seen = Vec::new();
        dir.list(|name, kind| seen.push((name.to_str().unwrap().to_owned(), kind))).unwrap();
        seen.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        seen
    };
    let expected = [
        ("dangling", EntryKind::Symlink),
        ("fifo", EntryKind::Special),
        ("new\nline.md", EntryKind::Regular),
        ("page.md", EntryKind::Regular),
        ("sub", EntryKind::Directory),
        ("to-sub", EntryKind::Symlink),
    ]
    .map(|(name, kind)| (name.to_owned(), kind));
    assert_eq!(list(&root), expected);
    // Listed again from the start, not from where the first listing ended.
    assert_eq!(list(&root), expected);

    let sub = root.open_subdir("sub".as_ref()).unwrap();
    assert!(list(&sub).is_empty());
    assert!(matches!(root.open_subdir("to-sub".as_ref()), Err(Error::Symlink { .. })));
    assert!(matches!(
        root.open_subdir("page.md".as_ref()),
        Err(Error::NotADirectory { kind: "regular file", .. })
    ));
    assert!(matches!(
        root.open_subdir("fifo".as_ref()),
        Err(Error::NotADirectory { kind: "FIFO", .. })
    ));
    assert!(root.open_subdir("../sub".as_ref()).is_err(), "one plain name only");
}
