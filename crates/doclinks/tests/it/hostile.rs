//! Hostile trees and paths (issue 8), with the real binary on real files:
//! pages that are devices, FIFOs or links out of the root; edits racing `fix`;
//! pages whose owner, mode, hard links and xattrs must survive; output paths
//! that must never be replaced; the umask; a reader that goes away.
//!
//! Anything that could hang if broken runs with a 10 s timeout, so that a
//! regression fails the test instead of stalling the suite.

use std::io::BufRead as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use doclinks::{CheckOptions, FixOptions};

use crate::util::{Dir, tree};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A page with one high-confidence fix (a case-only mismatch).
const FIXABLE: &str = "[guide](Guide.md)\n";

/// (exit code, stdout, stderr) of `doclinks ARGS` in `dir`, killed after 10 s.
fn run_with_timeout(dir: &Dir, args: &[&str]) -> (i32, String, String) {
    let out = dir.cmd(args).timeout(TIMEOUT).output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt as _;
    std::fs::symlink_metadata(path).unwrap().file_type().is_fifo()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// The one backup archive `fix` wrote.
fn backup(dir: &Dir) -> std::path::PathBuf {
    let mut zips = std::fs::read_dir(dir.join(".doclinks/backups")).unwrap();
    let zip = zips.next().expect("a backup").unwrap().path();
    assert!(zips.next().is_none(), "one backup");
    zip
}

#[test]
fn a_page_linked_to_dev_zero_is_skipped_at_once() {
    let dir = tree("//- docs/good.md\n[broken](nope.md) [evil](evil.md#top-secret)\n");
    std::os::unix::fs::symlink("/dev/zero", dir.join("docs/evil.md")).unwrap();
    let (code, stdout, stderr) = run_with_timeout(&dir, &["check"]);
    assert_eq!(code, 1, "the scan goes on and finds the broken link: {stdout}{stderr}");
    assert!(stdout.contains("docs/good.md:1:10: missing_file: nope.md"), "{stdout}");
    // The page was not read: its anchors are unknown, not missing.
    assert!(!stdout.contains("evil.md#top-secret"), "{stdout}");
    assert!(
        stderr.contains("docs/evil.md: skipped: leads outside the root (to /dev/zero)"),
        "{stderr}"
    );
}

#[test]
fn a_page_linked_to_dev_stdin_on_an_open_pipe_is_skipped_at_once() {
    let dir = tree("//- docs/good.md\n# Good\n");
    std::os::unix::fs::symlink("/dev/stdin", dir.join("docs/evil.md")).unwrap();
    // assert_cmd gives the binary a stdin pipe that nobody writes to and that
    // stays open while it waits with a timeout: reading it would block forever.
    let (code, _, stderr) = run_with_timeout(&dir, &["check"]);
    assert_eq!(code, 0, "a skipped page is a warning, not a finding: {stderr}");
    assert!(
        stderr
            .contains("docs/evil.md: skipped: a symbolic link to /dev/stdin that leads to no file"),
        "{stderr}"
    );
}

#[test]
fn a_fifo_named_like_a_page_is_never_opened_for_reading() {
    // README links into the FIFO with a fragment, so its anchors are asked for too.
    let dir = tree("//- README.md\n[page](docs/page.md#intro) [broken](gone.md)\n");
    std::fs::create_dir(dir.join("docs")).unwrap();
    mkfifo(&dir.join("docs/page.md"));
    let (code, stdout, stderr) = run_with_timeout(&dir, &["check"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("README.md:1:37: missing_file: gone.md"), "{stdout}");
    // Its anchors are unknown: the fragment is not judged (it was a
    // missing anchor).
    assert!(!stdout.contains("docs/page.md#intro"), "{stdout}");
    assert!(stderr.contains("docs/page.md: skipped: a FIFO, not a regular file"), "{stderr}");
    assert!(is_fifo(&dir.join("docs/page.md")));
}

#[test]
fn ignore_files_that_are_not_regular_files_are_not_read() {
    // In a subdirectory (its `.gitignore`, or a nested repository's
    // `.git/info/exclude`): that directory is not entered, the rest is checked.
    for special in ["sub/.gitignore", "sub/.git/info/exclude"] {
        let dir = tree("//- README.md\n[broken](nope.md)\n//- sub/page.md\n[hidden](x.md)\n");
        let path = dir.join(special);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        mkfifo(&path);
        let (code, stdout, stderr) = run_with_timeout(&dir, &["check"]);
        assert_eq!(code, 1, "{stdout}{stderr}");
        assert!(stdout.contains("README.md:1:10: missing_file: nope.md"), "{stdout}");
        assert!(!stdout.contains("sub/page.md"), "{stdout}");
        assert!(
            stderr.contains("sub: skipped the directory: ")
                && stderr.contains(&format!("{special} is a FIFO, not a regular file")),
            "{stderr}"
        );
    }

    // At the root: the ignore rules of the whole tree are unknown, so it is an error.
    let dir = tree("//- README.md\n# Home\n");
    std::os::unix::fs::symlink("/dev/zero", dir.join(".gitignore")).unwrap();
    let (code, stdout, stderr) = run_with_timeout(&dir, &["check"]);
    assert_eq!((code, stdout.as_str()), (2, ""), "{stderr}");
    assert!(
        stderr.contains(".gitignore is a character device, not a regular file; the ignore rules there cannot be read"),
        "{stderr}"
    );
}

#[test]
fn config_and_navigation_files_that_are_not_regular_files_are_not_read() {
    // The configuration is the tool's own: a clear error, exit 2.
    let dir = tree("//- README.md\n# Home\n");
    std::os::unix::fs::symlink("/dev/zero", dir.join("doclinks.toml")).unwrap();
    let (code, _, stderr) = run_with_timeout(&dir, &["check"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("doclinks.toml: leads outside"), "{stderr}");
    mkfifo(&dir.join("fifo.toml"));
    let (code, _, stderr) = run_with_timeout(&dir, &["check", "--config", "fifo.toml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("cannot read config fifo.toml: is a FIFO, not a regular file"),
        "{stderr}"
    );

    // Navigation files are the tree's: a warning, and the check goes on.
    let dir = tree("//- README.md\n[broken](nope.md)\n//- dfx/page.md\n# Page\n");
    mkfifo(&dir.join("mkdocs.yml"));
    mkfifo(&dir.join("dfx/toc.yml"));
    mkfifo(&dir.join(".openpublishing.redirection.json"));
    let (code, stdout, stderr) = run_with_timeout(&dir, &["check", "--nav-only"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("README.md:1:10: missing_file: nope.md"), "{stdout}");
    for file in ["mkdocs.yml", "dfx/toc.yml", ".openpublishing.redirection.json"] {
        assert!(
            stderr.contains(&format!("{file}: skipped: a FIFO, not a regular file")),
            "{file}: {stderr}"
        );
    }
}

#[test]
fn an_edit_between_fix_reading_a_page_and_renaming_over_it_survives() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let page = dir.join("README.md");
    let report = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
    assert_eq!(report.findings.len(), 1);
    let hook_page = page.clone();
    let options = FixOptions::new().before_replace(move |path| {
        assert_eq!(
            std::fs::canonicalize(path).unwrap(),
            std::fs::canonicalize(&hook_page).unwrap()
        );
        // Another process appends, and is waited for: the edit lands in the window.
        let status = Command::new("sh")
            .args(["-c", "printf 'appended\\n' >> \"$1\"", "sh"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    });
    let applied = doclinks::apply(&report, &options).unwrap();
    assert_eq!(std::fs::read_to_string(&page).unwrap(), format!("{FIXABLE}appended\n"));
    assert!(applied.files.is_empty() && applied.changes.is_empty(), "{applied:?}");
    assert_eq!(applied.skipped.len(), 1, "{applied:?}");
    assert_eq!(applied.skipped[0].file, "README.md");
    assert!(applied.skipped[0].reason.starts_with("changed since it was read"), "{applied:?}");
    let zip = applied.backup.expect("the backup was written before the replace");
    assert!(zip.is_file(), "{}", zip.display());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left: {leftovers:?}");
}

#[test]
fn a_page_changed_between_check_and_fix_is_skipped() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let report = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
    // The link moves: the bytes the check saw are no longer where it saw them.
    let edited = format!("# A title added meanwhile\n\n{FIXABLE}");
    dir.write("README.md", &edited);
    let applied = doclinks::apply(&report, &FixOptions::new()).unwrap();
    assert_eq!(dir.read("README.md"), edited);
    assert_eq!(applied.skipped.len(), 1, "{applied:?}");
    assert!(applied.skipped[0].reason.contains("changed since it was checked"), "{applied:?}");
    assert!(applied.backup.is_none(), "nothing to write, nothing to back up");
}

#[test]
fn symlinked_pages_leading_outside_the_root_are_never_written() {
    let outside = tempfile::tempdir().unwrap();
    let notes = outside.path().join("notes.md");
    let rc = outside.path().join("rcfile");
    std::fs::write(&notes, FIXABLE).unwrap();
    std::fs::write(&rc, "export PATH=/usr/bin # [guide](Guide.md)\n").unwrap();
    let dir = tree("//- README.md\n[notes](docs/notes.md)\n//- docs/guide.md\n# Guide\n");
    std::os::unix::fs::symlink(&notes, dir.join("docs/notes.md")).unwrap();
    std::os::unix::fs::symlink(&rc, dir.join("docs/rc.md")).unwrap();
    let (before_notes, before_rc) = (std::fs::read(&notes).unwrap(), std::fs::read(&rc).unwrap());

    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(std::fs::read(&notes).unwrap(), before_notes);
    assert_eq!(std::fs::read(&rc).unwrap(), before_rc);
    for page in ["docs/notes.md", "docs/rc.md"] {
        assert!(stderr.contains(&format!("{page}: skipped: leads outside the root")), "{stderr}");
        assert!(std::fs::symlink_metadata(dir.join(page)).unwrap().is_symlink());
    }

    // A link that stayed inside during the check and leads out by the time fix
    // runs is caught by fix itself.
    let dir = tree(&format!("//- docs/inside.md\n{FIXABLE}//- docs/guide.md\n# Guide\n"));
    std::os::unix::fs::symlink("inside.md", dir.join("docs/notes.md")).unwrap();
    let report = doclinks::check(&CheckOptions::new(dir.path())).unwrap();
    assert_eq!(report.findings.len(), 2, "both names of the page: {:?}", report.findings);
    std::fs::remove_file(dir.join("docs/notes.md")).unwrap();
    std::os::unix::fs::symlink(&notes, dir.join("docs/notes.md")).unwrap();
    let applied = doclinks::apply(&report, &FixOptions::new()).unwrap();
    assert_eq!(std::fs::read(&notes).unwrap(), before_notes);
    assert_eq!(applied.files, ["docs/inside.md"], "the page inside is fixed: {applied:?}");
    assert_eq!(dir.read("docs/inside.md"), "[guide](guide.md)\n");
    assert_eq!(applied.skipped.len(), 1, "{applied:?}");
    assert_eq!(applied.skipped[0].file, "docs/notes.md");
    assert!(applied.skipped[0].reason.starts_with("leads outside"), "{applied:?}");
}

#[test]
fn a_symlinked_page_inside_the_root_is_written_through_and_stays_a_link() {
    // A root-relative link means the same under both names of the page.
    let dir = tree("//- real/page.md\n[guide](/docs/Guide.md)\n//- docs/guide.md\n# Guide\n");
    // The link's target is outside docs/ but inside the root.
    std::os::unix::fs::symlink("../real/page.md", dir.join("docs/alias.md")).unwrap();
    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("fixed 2 links in 1 files"), "one file under two names: {stdout}");
    assert!(std::fs::symlink_metadata(dir.join("docs/alias.md")).unwrap().is_symlink());
    assert_eq!(dir.read("real/page.md"), "[guide](/docs/guide.md)\n");
}

#[test]
#[expect(clippy::print_stderr, reason = "a part that cannot run says so in the test output")]
fn fix_keeps_owner_mode_and_extended_attributes() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let page = dir.join("README.md");
    std::fs::set_permissions(&page, std::fs::Permissions::from_mode(0o640)).unwrap();
    let as_root = std::fs::metadata(dir.path()).unwrap().uid() == 0;
    if as_root {
        std::os::unix::fs::chown(&page, Some(12345), Some(12345)).unwrap();
    } else {
        eprintln!("not root: the owner is not changed, only kept");
    }
    let xattrs = python(&format!(
        "import os; os.setxattr({:?}, 'user.doclinks', b'kept')",
        page.display().to_string()
    ));
    if !xattrs {
        eprintln!("user.* extended attributes are not supported here; that assertion is skipped");
    }
    let owner = std::fs::metadata(&page).unwrap();

    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(dir.read("README.md"), "[guide](guide.md)\n");
    let after = std::fs::metadata(&page).unwrap();
    assert_ne!(after.ino(), owner.ino(), "replaced by rename, not written in place");
    assert_eq!((after.uid(), after.gid()), (owner.uid(), owner.gid()));
    if as_root {
        assert_eq!(after.uid(), 12345);
    }
    assert_eq!(mode(&page), 0o640);
    if xattrs {
        let script = format!(
            "import os, sys; sys.exit(os.getxattr({:?}, 'user.doclinks') != b'kept')",
            page.display().to_string()
        );
        assert!(python(&script), "the user.doclinks attribute is kept");
    }
}

/// Runs a python3 one-liner; whether it succeeded.
fn python(script: &str) -> bool {
    Command::new("python3").args(["-c", script]).stderr(Stdio::null()).status().unwrap().success()
}

#[test]
fn a_page_with_a_second_hard_link_is_skipped_and_both_names_keep_the_old_bytes() {
    let outside = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let other = outside.path().join("other-name.md");
    if std::fs::hard_link(dir.join("README.md"), &other).is_err() {
        // Another file system: make the second name inside the tree, hidden.
        std::fs::create_dir(dir.join(".hidden")).unwrap();
        std::fs::hard_link(dir.join("README.md"), dir.join(".hidden/other-name.md")).unwrap();
    }
    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("skipped README.md: has 2 hard links;"), "{stdout}");
    assert!(stdout.contains("fixed 0 links in 0 files; 1 files skipped, not written"), "{stdout}");
    assert!(stderr.contains("1 pages were skipped and left as they are"), "{stderr}");
    assert_eq!(dir.read("README.md"), FIXABLE);
    let second = if other.exists() { other } else { dir.join(".hidden/other-name.md") };
    assert_eq!(std::fs::read_to_string(&second).unwrap(), FIXABLE);
    assert_eq!(std::fs::metadata(dir.join("README.md")).unwrap().nlink(), 2, "still one file");
    assert!(!dir.join(".doclinks/backups").exists(), "nothing to write, no backup");
}

#[test]
fn plan_out_dash_prints_the_plan_on_stdout_and_creates_no_file() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix", "--dry-run", "--plan-out", "-"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.starts_with("# doclinks fix plan\n"), "{stdout}");
    assert!(stdout.contains("| yes | README.md | 1:9 | case_mismatch |"), "{stdout}");
    assert!(!stdout.contains("would fix"), "the summary is not mixed into the plan: {stdout}");
    assert!(stderr.contains("would fix 1 links in 1 files; nothing written (dry run)"), "{stderr}");
    assert!(!dir.join("-").exists());
}

#[test]
fn plan_out_paths_that_are_not_regular_files_are_refused_never_replaced() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    mkfifo(&dir.join("plan.md"));
    std::os::unix::fs::symlink("/dev/null", dir.join("null.md")).unwrap();
    let cases = [
        ("/dev/stdout", "/dev/stdout is a "),
        ("plan.md", "plan.md is a FIFO, not a regular file"),
        ("null.md", "null.md is a character device, not a regular file"),
    ];
    for (path, message) in cases {
        let (code, stdout, stderr) = run_with_timeout(&dir, &["fix", "--plan-out", path]);
        assert_eq!((code, stdout.as_str()), (2, ""), "{path}: {stderr}");
        assert!(stderr.contains(message), "{path}: {stderr}");
        assert!(stderr.contains("hint: `--plan-out -` writes the plan to standard output"));
        assert_eq!(dir.read("README.md"), FIXABLE, "nothing is fixed after a refusal");
    }
    assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().is_symlink());
    assert!(is_fifo(&dir.join("plan.md")));
    assert_eq!(std::fs::read_link(dir.join("null.md")).unwrap(), Path::new("/dev/null"));
}

#[test]
fn new_files_respect_the_umask() {
    let dir = tree(&format!("//- README.md\n{FIXABLE}//- guide.md\n# Guide\n"));
    let script =
        format!("umask 027; exec {} fix --plan-out plan.md", env!("CARGO_BIN_EXE_doclinks"));
    let out = Command::new("sh").args(["-c", &script]).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&dir.join("plan.md")), 0o640);
    assert_eq!(mode(&backup(&dir)), 0o640);
    assert_eq!(mode(&dir.join(".doclinks/backups")), 0o750);

    let script = format!(
        "umask 027; exec {} stub docs/old/setup.md guide.md",
        env!("CARGO_BIN_EXE_doclinks")
    );
    let out = Command::new("sh").args(["-c", &script]).current_dir(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&dir.join("docs/old/setup.md")), 0o640);
    assert_eq!(mode(&dir.join("docs/old")), 0o750);
}

#[test]
fn a_stub_never_replaces_or_writes_through_what_is_there() {
    let dir = tree("//- docs/new.md\n# New\n");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("victim.md");
    std::os::unix::fs::symlink(&target, dir.join("docs/old.md")).unwrap();
    let (code, _, stderr) = run_with_timeout(&dir, &["stub", "docs/old.md", "docs/new.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("docs/old.md exists; a stub would overwrite it"), "{stderr}");
    assert!(!target.exists(), "nothing is written through a dangling link");
    let (code, _, stderr) = run_with_timeout(&dir, &["stub", "../elsewhere.md", "docs/new.md"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("../elsewhere.md is outside the root"), "{stderr}");
}

#[test]
fn a_tree_of_many_directories_is_checked_within_a_small_open_file_limit() {
    let pages: String = (0..300)
        .map(|i| format!("//- d{i:03}/page.md\n[next](../d{:03}/page.md)\n", i + 1))
        .collect();
    let dir = tree(&pages);
    let script = format!("ulimit -n 200; exec {} check", env!("CARGO_BIN_EXE_doclinks"));
    let out = Command::new("sh").args(["-c", &script]).current_dir(dir.path()).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.is_empty(), "every page is read: {stderr}");
    assert!(stdout.contains("checked 300 files, 300 links"), "{stdout}");
    assert!(stdout.contains("d299/page.md:1:8: missing_file: ../d300/page.md"), "{stdout}");
}

#[test]
fn check_into_head_one_ends_quietly() {
    // More output than a pipe buffers, so the writes after `head` left hit a closed pipe.
    let lines: String = (0..20_000).map(|i| format!("[x{i}](nope{i}.md)\n")).collect();
    let dir = tree(&format!("//- README.md\n{lines}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_doclinks"))
        .current_dir(dir.path())
        .arg("check")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    // The reader (and with it the pipe) is dropped here, as `head -1` exits.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(first.starts_with("README.md:1:6: missing_file: nope0.md"), "{first}");
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_full_disk_under_stdout_is_an_error_not_a_partial_report() {
    // The report is written as it is made; a write that fails half-way must
    // still say so and exit 2, never end as if the report were whole.
    let dir = tree("//- README.md\n[gone](nope.md)\n");
    for format in ["json", "human"] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_doclinks"))
            .current_dir(dir.path())
            .args(["check", "--format", format])
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{format}: {stderr}");
        assert!(stderr.contains("cannot write output"), "{format}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{format}: {stderr}");
    }
}

/// `doclinks ARGS` in `dir` under `ulimit -n LIMIT`: (exit code, stdout, stderr).
fn run_with_open_files_limit(dir: &Dir, limit: u32, args: &[&str]) -> (i32, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_doclinks"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (out.status.code().unwrap_or(-1), text(out.stdout), text(out.stderr))
}

#[test]
fn a_low_limit_of_open_files_gives_the_same_report() {
    // More folders than the directory handles kept, and a cache of many
    // shards: under `ulimit -n 32` every page is still read.
    let mut fixture = String::new();
    for n in 0..200 {
        fixture.push_str(&format!(
            "//- d{n}/page.md\n# Page {n}\n[next](../d{}/page.md#page-{}) [gone](nope.md)\n",
            n + 1,
            n + 1
        ));
    }
    let dir = tree(&fixture);
    let unlimited = dir.cmd(&["check", "--format", "json", "--no-cache"]).output().unwrap();
    let expected = String::from_utf8(unlimited.stdout).unwrap();
    assert!(expected.contains("\"broken\": 201"), "{expected}");
    for args in [&["check", "--format", "json", "--no-cache"][..], &["check", "--format", "json"]] {
        // Twice with the cache: once writing it, once reading it.
        for _ in 0..2 {
            let (code, stdout, stderr) = run_with_open_files_limit(&dir, 32, args);
            assert_eq!((code, stderr.as_str()), (1, ""), "{args:?}");
            assert_eq!(stdout, expected, "{args:?}");
        }
    }
}

#[test]
fn a_link_to_a_symlink_that_leads_to_no_file_is_broken() {
    let dir = tree(
        "//- docs/real.md
# Real
//- README.md
[dangling](docs/dangling.md) [loop](docs/loop-a.md) [alias](docs/alias.md) [real](docs/real.md)
",
    );
    std::os::unix::fs::symlink("nowhere.md", dir.join("docs/dangling.md")).unwrap();
    std::os::unix::fs::symlink("loop-b.md", dir.join("docs/loop-a.md")).unwrap();
    std::os::unix::fs::symlink("loop-a.md", dir.join("docs/loop-b.md")).unwrap();
    std::os::unix::fs::symlink("real.md", dir.join("docs/alias.md")).unwrap();
    let (code, stdout, stderr) =
        run_with_timeout(&dir, &["check", "--no-cache", "--format", "json"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let broken: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["target"].as_str().unwrap(), f["kind"].as_str().unwrap()))
        .collect();
    // The disk has no file behind the first two; the alias leads to one.
    assert_eq!(broken, [("docs/dangling.md", "missing_file"), ("docs/loop-a.md", "missing_file")]);
}

#[test]
fn a_file_name_with_a_newline_never_starts_a_line_of_its_own() {
    let dir = tree(
        "//- Index.md
# Index
",
    );
    let evil = "evil\n::warning file=x::pwn.md";
    std::fs::write(dir.join(evil), "[x](index.md)\n").unwrap();
    mkfifo(&dir.join("fifo\n::error::x.md"));
    let (code, stdout, stderr) = run_with_timeout(&dir, &["check", "--no-cache"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    for line in stdout.lines().chain(stderr.lines()) {
        assert!(!line.starts_with("::"), "a workflow command line: {line:?}\n{stdout}{stderr}");
    }
    assert!(stdout.contains("evil\\n::warning file=x::pwn.md:1:5: case_mismatch"), "{stdout}");
    assert!(stderr.contains("fifo\\n::error::x.md: skipped: a FIFO"), "{stderr}");
}

#[test]
#[expect(clippy::print_stderr, reason = "a part that cannot run says so in the test output")]
fn a_page_another_process_holds_open_to_write_is_skipped_and_keeps_its_bytes() {
    use std::io::{BufRead as _, Write as _};
    let dir = tree(&format!("//- docs/notes.md\n{FIXABLE}//- docs/guide.md\n# Guide\n"));
    let page = dir.join("docs/notes.md");
    // A writer with the page open (a logger, an editor saving in place): it
    // says when it holds the page, and writes again when told.
    let mut writer = std::process::Command::new("sh")
        .args(["-c", "exec 3>>\"$1\"; echo holding; read go; echo later >&3", "sh"])
        .arg(&page)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = String::new();
    std::io::BufReader::new(writer.stdout.take().unwrap()).read_line(&mut said).unwrap();
    assert_eq!(said, "holding\n");

    let (code, stdout, stderr) = run_with_timeout(&dir, &["fix"]);
    writeln!(writer.stdin.take().unwrap(), "go").unwrap();
    assert!(writer.wait().unwrap().success());
    // Where the file system grants no lease, the page is fixed and the
    // writer's later line lost: the guard this test is about is absent.
    if stdout.contains("fixed 1") && !stderr.contains("open for writing") {
        eprintln!("no leases here: {stdout}{stderr}");
        return;
    }
    assert_eq!(code, 1, "a page skipped: {stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("is open for writing in another process"),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("left for triage (in the files skipped, or below"), "{stdout}");
    assert_eq!(dir.read("docs/notes.md"), format!("{FIXABLE}later\n"), "nothing lost");
}
