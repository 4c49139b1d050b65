//! Shared helpers: a fresh tree per test, the binary, and a content snapshot of a
//! tree (every regular file's path and SHA-256) to compare before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

/// A test's temporary directory with `tree/` as ROOT.
pub(crate) struct Dir {
    pub(crate) tmp: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn new() -> Dir {
        let tmp = tempfile::tempdir().expect("a temp dir");
        std::fs::create_dir(tmp.path().join("tree")).unwrap();
        Dir { tmp }
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.tmp.path().join("tree").canonicalize().unwrap()
    }

    /// Writes a file below ROOT, creating directories.
    pub(crate) fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Dir {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
        self
    }

    /// Sets a file's mtime to `days` days ago.
    pub(crate) fn age(&self, rel: &str, days: u64) -> &Dir {
        let file = std::fs::File::options().write(true).open(self.root().join(rel)).unwrap();
        let when = std::time::SystemTime::now() - std::time::Duration::from_secs(days * 86_400);
        file.set_modified(when).unwrap();
        self
    }

    /// Sets a file's mtime to exactly `unix_secs` seconds since the epoch, so that
    /// files written a few microseconds apart can share one.
    pub(crate) fn mtime(&self, rel: &str, unix_secs: u64) -> &Dir {
        let file = std::fs::File::options().write(true).open(self.root().join(rel)).unwrap();
        let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix_secs);
        file.set_modified(when).unwrap();
        self
    }

    pub(crate) fn out(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// `scan` → `approve`: returns (report path, approval path).
    pub(crate) fn scan_and_approve(&self) -> (PathBuf, PathBuf) {
        let report = self.out("report.json");
        let approval = self.out("approval.json");
        let out = run(&["scan", path_str(&self.root()), "--report-out", path_str(&report)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let out =
            run(&["approve", path_str(&report), "--operator", "ana", "--out", path_str(&approval)]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        (report, approval)
    }

    pub(crate) fn audit_log(&self) -> PathBuf {
        self.root().join(".tidy-quarantine/audit.jsonl")
    }
}

/// A temporary directory on another file system than the tests' trees (`/dev/shm`,
/// a tmpfs on Linux), so that a rename into it fails with EXDEV; `None`, said on
/// stderr, where there is none.
#[expect(clippy::print_stderr, reason = "a test that cannot run says so in the test output")]
pub(crate) fn other_fs() -> Option<tempfile::TempDir> {
    use std::os::unix::fs::MetadataExt;
    let here = std::fs::metadata(std::env::temp_dir()).ok()?.dev();
    let there = tempfile::tempdir_in("/dev/shm").ok();
    match there {
        Some(dir) if std::fs::metadata(dir.path()).ok()?.dev() != here => Some(dir),
        _ => {
            eprintln!("no second file system (/dev/shm): the cross-file-system case is not run");
            None
        }
    }
}

pub(crate) fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// The binary under test, with a clean environment for colors.
pub(crate) fn command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_storage-approval"));
    command.env("NO_COLOR", "1");
    command
}

pub(crate) fn run(args: &[&str]) -> Output {
    command().args(args).output().expect("the binary runs")
}

/// The argv of `execute --execute` of `report` under `approval`, then `extra`.
pub(crate) fn execute_args<'a>(
    report: &'a Path,
    approval: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "execute",
        "--report",
        path_str(report),
        "--approval",
        path_str(approval),
        "--execute",
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs `execute --execute` of `report` under `approval`, with `extra` options.
pub(crate) fn execute(report: &Path, approval: &Path, extra: &[&str]) -> Output {
    run(&execute_args(report, approval, extra))
}

/// Checks that nothing at all changed: same tree, and no quarantine or audit log.
pub(crate) fn assert_untouched(d: &Dir, before: &BTreeMap<String, String>) {
    assert_eq!(before, &snapshot(&d.root(), Some(".tidy-quarantine")));
    assert!(!d.audit_log().exists(), "no audit log written");
    let q = d.root().join(".tidy-quarantine");
    if q.exists() {
        assert!(
            q.read_dir().unwrap().all(|e| e.unwrap().file_name() == "hash-cache.v1"),
            "nothing quarantined"
        );
    }
}

/// Checks a refused run: exit `code`, stderr holding every one of `needles`, and
/// nothing touched since `before` (see [`assert_untouched`]). `case` names the run
/// in the failure messages.
pub(crate) fn check_refused(
    d: &Dir,
    before: &BTreeMap<String, String>,
    out: &Output,
    code: i32,
    needles: &[&str],
    case: &str,
) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{case}: {err}");
    for needle in needles {
        assert!(err.contains(needle), "{case}: no `{needle}` in: {err}");
    }
    assert_untouched(d, before);
}

/// The entries of the audit log `log`, one JSON value a line.
pub(crate) fn audit_entries(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Checks that `audit verify` of `log` passes (exit 0).
pub(crate) fn check_audit_verifies(log: &Path) {
    let out = run(&["audit", "verify", path_str(log)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every entry below `dir` (relative path → SHA-256 for files, `symlink -> target`
/// for links, `dir` for directories), skipping `skip` (a top-level name).
pub(crate) fn snapshot(dir: &Path, skip: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(dir, dir, skip, &mut out);
    out
}

/// The regular files of [`snapshot`] only (path → SHA-256).
pub(crate) fn files(dir: &Path, skip: Option<&str>) -> BTreeMap<String, String> {
    snapshot(dir, skip).into_iter().filter(|(_, v)| v != "dir").collect()
}

fn walk(root: &Path, dir: &Path, skip: Option<&str>, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        if Some(rel.as_str()) == skip {
            continue;
        }
        let ft = entry.file_type().unwrap();
        if ft.is_symlink() {
            out.insert(rel, format!("symlink -> {}", std::fs::read_link(&path).unwrap().display()));
        } else if ft.is_dir() {
            out.insert(rel, "dir".to_owned());
            walk(root, &path, skip, out);
        } else {
            out.insert(rel, sha256(&std::fs::read(&path).unwrap()));
        }
    }
}

/// Redacts what varies between runs: temp paths, report IDs and hashes, times.
pub(crate) fn redact(text: &str, root: &Path) -> String {
    let text =
        text.replace(path_str(root), "[ROOT]").replace(path_str(root.parent().unwrap()), "[TMP]");
    let text = regex_replace(&text, r"[0-9a-f]{64}", "[HASH]");
    regex_replace(&text, r"\d{4}-\d\d-\d\dT[0-9:.]+Z", "[TIME]")
}

fn regex_replace(text: &str, pattern: &str, with: &str) -> String {
    regex::Regex::new(pattern).unwrap().replace_all(text, with).into_owned()
}

/// A small deterministic generator (64-bit LCG) for tests that need randomness.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
