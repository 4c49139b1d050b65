//! A tool's own outputs: never replace a device, FIFO or link target that is not
//! a regular file; respect the umask; write through links to regular files.

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use tidy_io::{Durability, Error, Perms};

/// The process umask, read without changing it (`umask(2)` would, for a moment,
/// for every thread of the test binary).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).unwrap()
}

#[test]
fn special_files_as_output_paths_are_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("out.fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    symlink("/dev/null", dir.path().join("null-link")).unwrap();
    for path in [fifo.as_path(), &dir.path().join("null-link"), Path::new("/dev/null")] {
        let err = tidy_io::write_output(path, b"report", Perms::Default, Durability::Durable)
            .unwrap_err();
        assert!(matches!(err, Error::NotRegular { .. }), "{}: {err}", path.display());
    }
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(
        std::fs::symlink_metadata(dir.path().join("null-link")).unwrap().file_type().is_symlink()
    );
    assert!(!dir.path().join("-").exists());
}

#[test]
fn dev_stdout_on_a_pipe_is_named_as_a_fifo() {
    // `/dev/stdout` of a piped command is `/proc/self/fd/1`, a link to `pipe:[…]`
    // that no path resolves: the same as this pipe's `/proc/self/fd/N`.
    let (reader, writer) = std::io::pipe().unwrap();
    let _keep = reader;
    let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&writer));
    let err = tidy_io::write_output(Path::new(&path), b"x", Perms::Default, Durability::Volatile)
        .unwrap_err();
    assert!(matches!(err, Error::NotRegular { kind: "FIFO", .. }), "{err}");
}

#[test]
fn new_outputs_follow_the_umask_and_existing_ones_keep_their_mode() {
    let dir = tempfile::tempdir().unwrap();
    let new = dir.path().join("report.json");
    tidy_io::write_output(&new, b"{}", Perms::Default, Durability::Durable).unwrap();
    let mode = std::fs::metadata(&new).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask());

    std::fs::set_permissions(&new, std::fs::Permissions::from_mode(0o604)).unwrap();
    tidy_io::write_output(&new, b"{\"v\":2}", Perms::Default, Durability::Durable).unwrap();
    assert_eq!(std::fs::metadata(&new).unwrap().permissions().mode() & 0o777, 0o604);
    assert_eq!(std::fs::read(&new).unwrap(), b"{\"v\":2}");

    let secret = dir.path().join("token");
    tidy_io::write_output(&secret, b"s", Perms::Private, Durability::Volatile).unwrap();
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_symlink_to_a_regular_file_is_written_through_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("real.json"), "old").unwrap();
    symlink("real.json", dir.path().join("link.json")).unwrap();
    symlink("missing.json", dir.path().join("dangling.json")).unwrap();
    tidy_io::write_output(
        &dir.path().join("link.json"),
        b"new",
        Perms::Default,
        Durability::Durable,
    )
    .unwrap();
    assert!(
        std::fs::symlink_metadata(dir.path().join("link.json")).unwrap().file_type().is_symlink()
    );
    assert_eq!(std::fs::read(dir.path().join("real.json")).unwrap(), b"new");
    let err = tidy_io::write_output(
        &dir.path().join("dangling.json"),
        b"x",
        Perms::Default,
        Durability::Durable,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert!(!dir.path().join("missing.json").exists());
}

#[test]
fn create_new_never_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tidy_io::Dir::open(tmp.path()).unwrap();
    let name = std::ffi::OsStr::new("backup.zip");
    tidy_io::create_new(&dir, name, b"first", Perms::Default, Durability::Durable).unwrap();
    let err = tidy_io::create_new(&dir, name, b"second", Perms::Default, Durability::Durable)
        .unwrap_err();
    assert!(matches!(err, Error::Exists { .. }), "{err}");
    assert_eq!(std::fs::read(tmp.path().join("backup.zip")).unwrap(), b"first");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "no temporary left");
}
