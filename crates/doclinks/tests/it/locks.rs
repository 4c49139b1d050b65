//! `fix`, `triage`, `restore` and `stub` rewrite pages under the multilock lock
//! `docs` when a lock directory is in use: a busy lock past `--lock-timeout` is
//! exit 75 naming the holder and nothing is written, a parent `multilock run`'s
//! hold is used, a dry run takes no lock, and a tree without a lock directory
//! gets none. The test process plays the other holder and the parent run
//! through the multilock library.

use crate::util::{Dir, tree};

const FIXTURE: &str = "\
//- README.md
See [the guide](guide.md).
//- docs/guide.md
# Guide
";

/// A git repository whose README links to a page that moved into docs/, with
/// a `.multilock` lock directory at its root.
fn repository() -> Dir {
    let dir = tree(FIXTURE);
    std::fs::create_dir(dir.join(".git")).unwrap();
    std::fs::create_dir(dir.join(".multilock")).unwrap();
    dir
}

fn locks(dir: &Dir) -> multilock::LockSet {
    multilock::LockSet::open(dir.join(".multilock")).unwrap()
}

/// `doclinks ARGS` with no lock directory or parent hold from the environment.
fn run(dir: &Dir, args: &[&str], env: &[(&str, std::ffi::OsString)]) -> (i32, String) {
    let mut cmd = dir.cmd(args);
    for var in ["MULTILOCK_DIR", "MULTILOCK_HELD", "MULTILOCK_HELD_DIR", "MULTILOCK_HELD_SETS"] {
        cmd.env_remove(var);
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.timeout(std::time::Duration::from_secs(20)).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn fix_waits_for_a_busy_docs_lock_and_gives_up_with_75_naming_the_holder() {
    let dir = repository();
    let set = locks(&dir);
    let options = multilock::AcquireOptions::new().command("an editor's save hook");
    let held = set.acquire_with(&["docs"], &options).unwrap();

    let (code, stderr) = run(&dir, &["fix", "--lock-timeout", "0.2"], &[]);
    assert_eq!(code, 75, "{stderr}");
    assert!(stderr.starts_with("doclinks: error: "), "{stderr}");
    assert!(stderr.contains("`docs`") && stderr.contains("an editor's save hook"), "{stderr}");
    assert_eq!(dir.read("README.md"), "See [the guide](guide.md).\n", "nothing written");
    assert!(!dir.join(".doclinks/backups").exists(), "not even a backup");

    // A dry run writes nothing, so it needs no lock.
    let (code, stderr) = run(&dir, &["fix", "--dry-run", "--lock-timeout", "0.2"], &[]);
    assert_eq!(code, 0, "{stderr}");

    drop(held);
    let (code, stderr) = run(&dir, &["fix"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(dir.read("README.md"), "See [the guide](docs/guide.md).\n");
    drop(set.try_acquire(&["docs"]).unwrap());
}

#[test]
fn a_parent_run_holding_docs_is_used_and_no_subsystem_locks_skips_the_lock() {
    let dir = repository();
    let set = locks(&dir);
    // What `multilock run --lock docs -- doclinks fix` does.
    let guard = set.acquire(&["docs"]).unwrap();
    let env = set.child_env(&guard);
    let (code, stderr) = run(&dir, &["fix", "--lock-timeout", "0.2"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(dir.read("README.md"), "See [the guide](docs/guide.md).\n");

    // Restoring while another process holds docs: refused; without locks: done.
    let backups: Vec<_> = std::fs::read_dir(dir.join(".doclinks/backups")).unwrap().collect();
    let backup = backups[0].as_ref().unwrap().path();
    let backup = backup.to_str().unwrap();
    drop(guard);
    let held = set.acquire(&["docs"]).unwrap();
    let (code, stderr) = run(&dir, &["restore", backup, "--lock-timeout", "0.2"], &[]);
    assert_eq!(code, 75, "{stderr}");
    assert_eq!(dir.read("README.md"), "See [the guide](docs/guide.md).\n");
    let (code, stderr) = run(&dir, &["restore", backup, "--no-subsystem-locks"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(dir.read("README.md"), "See [the guide](guide.md).\n");
    drop(held);
}

#[test]
fn without_a_lock_directory_nothing_is_locked_or_created() {
    let dir = tree(FIXTURE);
    std::fs::create_dir(dir.join(".git")).unwrap();
    let (code, stderr) = run(&dir, &["fix"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!dir.join(".multilock").exists());
    let (code, stderr) =
        run(&dir, &["stub", "old.md", "docs/guide.md", "--lock-dir", "locks"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(dir.join("locks/docs.lock").is_file(), "--lock-dir puts a directory in use");
}
