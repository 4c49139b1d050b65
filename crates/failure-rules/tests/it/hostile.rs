//! Hostile files (issue 8), with the real binary: special files as the rules file,
//! among the record inputs and as output paths; symlinked rules files inside and
//! outside the repository; `-` and the umask for outputs; a closed pipe on every
//! command that prints a list.
//!
//! Every run has a 10-second timeout, so that a regression that hangs on a FIFO
//! fails the test instead of the suite.

use std::io::{BufRead as _, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_failure-rules");
const RULES: &str = "docs/LEARNED_ERROR_MITIGATIONS.json";

/// A repository (it has `.git`) with three recorded failures in the default place.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join(".git")).expect("mkdir .git");
    let records = [
        ("TimeoutError", "read timed out after 30s", "run-a"),
        ("TimeoutError", "read timed out after 12s", "run-b"),
        ("KeyError", "'user_id'", "run-a"),
    ];
    for (i, (t, m, run)) in records.iter().enumerate() {
        let record = serde_json::json!({"error_type": t, "message": m, "run_id": run});
        write(dir.path(), &format!(".autonomous_runs/{run}/errors/e{i}.json"), record.to_string());
    }
    dir
}

fn write(root: &Path, rel: &str, text: impl AsRef<[u8]>) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let status = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

/// The binary in `dir`, with its own lock directory, no colours and a timeout.
/// Stdin is a pipe kept open: a rules file that is `/dev/stdin` would block on it.
fn fr(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(BIN);
    c.current_dir(dir)
        .env("MULTILOCK_DIR", dir.join(".multilock"))
        .env("NO_COLOR", "1")
        .timeout(Duration::from_secs(10));
    c
}

/// Exit code (`None`: killed by the timeout), stdout and stderr.
fn run(c: &mut assert_cmd::Command) -> (Option<i32>, String, String) {
    let out = c.output().expect("run failure-rules");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o7777
}

/// Whether the tests run as root (as here and in CI): a file we create is root's.
fn running_as_root(dir: &Path) -> bool {
    let probe = dir.join(".probe");
    std::fs::write(&probe, "").expect("write probe");
    let root = std::fs::metadata(&probe).expect("stat probe").uid() == 0;
    std::fs::remove_file(&probe).expect("remove probe");
    root
}

/// Finding 2: a rules file that is `/dev/zero`, a FIFO or `/dev/stdin` is refused at
/// once, naming the file (it took `match` to 2.9 GB, or hung `match` and
/// `analyze --execute`), and is left as it was.
#[test]
fn special_rules_files_are_refused_at_once() {
    let dir = repo();
    let root = dir.path();
    std::fs::create_dir_all(root.join("docs")).expect("mkdir docs");
    symlink("/dev/zero", root.join("docs/zero.json")).expect("symlink");
    symlink("/dev/stdin", root.join("docs/stdin.json")).expect("symlink");
    mkfifo(&root.join("docs/fifo.json"));
    let cases = [
        ("docs/zero.json", "character device"),
        // Stdin is a pipe here: what /dev/stdin leads to is a FIFO.
        ("docs/stdin.json", "FIFO"),
        ("docs/fifo.json", "FIFO"),
    ];
    let commands: [&[&str]; 3] = [
        &["match", "--type", "KeyError", "--message", "'x'"],
        &["analyze"],
        &["analyze", "--execute"],
    ];
    for (rules, kind) in cases {
        for args in commands {
            let (code, _, err) = run(fr(root).args(args).args(["--rules", rules]));
            assert_eq!(code, Some(2), "{args:?} --rules {rules}: {err}");
            let expected = format!("{rules} is a {kind}, not a regular file");
            assert!(err.contains(&expected), "{args:?} --rules {rules}: {err}");
        }
    }
    assert!(is_symlink(&root.join("docs/zero.json")), "the link to /dev/zero stays");
    assert!(is_symlink(&root.join("docs/stdin.json")), "the link to /dev/stdin stays");
    let fifo = std::fs::symlink_metadata(root.join("docs/fifo.json")).expect("stat");
    assert!(fifo.file_type().is_fifo(), "the FIFO stays a FIFO");
}

/// Finding 2: FIFOs and links to devices among the record inputs, matched by the
/// default glob or named, are skipped with a warning naming each; the rest is read,
/// links to regular files too.
#[test]
fn special_record_inputs_are_skipped_with_a_warning() {
    let dir = repo();
    let root = dir.path();
    let errors = ".autonomous_runs/run-x/errors";
    mkfifo(&root.join(errors).join("pipe.json"));
    symlink("/dev/zero", root.join(errors).join("zero.json")).expect("symlink");
    symlink("../../run-a/errors/e0.json", root.join(errors).join("link.json")).expect("symlink");
    let (code, out, err) = run(fr(root).arg("analyze"));
    assert_eq!(code, Some(2), "skipped inputs make exit code 2: {err}");
    assert!(
        err.contains(&format!("skipped {errors}/pipe.json: a FIFO, not a regular file")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "skipped {errors}/zero.json: a character device, not a regular file"
        )),
        "{err}"
    );
    assert!(out.starts_with("4 records from 4 files, 2 groups, 2 skipped"), "{out}");

    let named = format!("{errors}/pipe.json");
    let (code, out, err) = run(fr(root).args(["analyze", &named]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&format!("skipped {named}: a FIFO, not a regular file")), "{err}");
    assert!(out.starts_with("0 records from 0 files"), "{out}");
}

/// Finding 7: a symlinked rules file whose target is inside the repository is
/// written through; the link stays a link.
#[test]
fn symlinked_rules_file_inside_the_repository_is_written_through() {
    let dir = repo();
    let root = dir.path();
    write(root, "shared/rules.json", "{\"version\": 1, \"rules\": []}\n");
    std::fs::create_dir_all(root.join("docs")).expect("mkdir docs");
    symlink("../shared/rules.json", root.join(RULES)).expect("symlink");
    let (code, out, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains(&format!("{RULES}: 2 added")), "{out}");
    assert!(is_symlink(&root.join(RULES)), "the rules file is still a link");
    let link = std::fs::read_link(root.join(RULES)).expect("read link");
    assert_eq!(link, Path::new("../shared/rules.json"), "the link is unchanged");
    let target = std::fs::read_to_string(root.join("shared/rules.json")).expect("read target");
    assert!(target.contains("\"KeyError: 'user_id'\""), "the target has the new rules: {target}");
}

/// Finding 7: a symlinked rules file leading out of the repository is refused,
/// naming the link and its target; the outside file is unchanged.
#[test]
fn symlinked_rules_file_leading_outside_is_refused() {
    let dir = repo();
    let root = dir.path();
    let outside = tempfile::tempdir().expect("temp dir");
    let target = outside.path().join("rules.json");
    let before = "{\"version\": 1, \"rules\": []}\n";
    std::fs::write(&target, before).expect("write outside");
    std::fs::create_dir_all(root.join("docs")).expect("mkdir docs");
    symlink(&target, root.join(RULES)).expect("symlink");
    let (code, _, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(2), "{err}");
    let real = std::fs::canonicalize(&target).expect("canonical target");
    assert!(err.contains(RULES) && err.contains("leads outside"), "names the link: {err}");
    assert!(err.contains(&real.display().to_string()), "names the target: {err}");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), before, "outside unchanged");
    assert!(is_symlink(&root.join(RULES)), "the link is not replaced");
}

/// `tidy_io::replace`: a rules file of another owner and a narrow mode keeps both
/// when `--execute` (as root) rewrites it.
#[test]
#[expect(clippy::print_stderr, reason = "a check that cannot run says so in the test output")]
fn execute_keeps_the_rules_files_owner_and_mode() {
    let dir = repo();
    let root = dir.path();
    let (code, _, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(0), "{err}");
    let rules = root.join(RULES);
    let as_root = running_as_root(root);
    if as_root {
        std::os::unix::fs::chown(&rules, Some(12345), Some(12345)).expect("chown");
    } else {
        eprintln!("not root: the owner is not changed, only the mode is checked");
    }
    std::fs::set_permissions(&rules, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let record =
        serde_json::json!({"error_type": "OSError", "message": "disk full", "run_id": "c"});
    write(root, ".autonomous_runs/c/errors/x.json", record.to_string());
    let (code, out, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 added"), "{out}");
    let meta = std::fs::metadata(&rules).expect("stat");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640, "mode kept");
    if as_root {
        assert_eq!((meta.uid(), meta.gid()), (12345, 12345), "owner and group kept");
    }
}

/// `tidy_io::replace`: a rules file with a second hard link is refused (exit 2), not
/// split into a new file under one name and the old text under the other.
#[test]
fn hard_linked_rules_file_is_refused_not_split() {
    let dir = repo();
    let root = dir.path();
    let (code, _, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(0), "{err}");
    let rules = root.join(RULES);
    std::fs::hard_link(&rules, root.join("rules-copy.json")).expect("hard link");
    let before = std::fs::read_to_string(&rules).expect("read");
    let record =
        serde_json::json!({"error_type": "OSError", "message": "disk full", "run_id": "c"});
    write(root, ".autonomous_runs/c/errors/x.json", record.to_string());
    let (code, _, err) = run(fr(root).args(["analyze", "--execute"]));
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(RULES) && err.contains("2 hard links"), "{err}");
    assert_eq!(std::fs::read_to_string(&rules).expect("read"), before, "left as it was");
    assert_eq!(std::fs::metadata(&rules).expect("stat").nlink(), 2, "still one file");
}

/// Finding 6: `--output-report -` is standard output: the report is printed once
/// and no file named `-` is created.
#[test]
fn output_report_dash_is_stdout() {
    let dir = repo();
    let root = dir.path();
    let (code, out, err) =
        run(fr(root).args(["analyze", "--format", "json", "--output-report", "-"]));
    assert_eq!(code, Some(0), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("one JSON report on stdout");
    assert_eq!(report["summary"]["records"], 3, "{out}");
    assert!(!root.join("-").exists(), "no file named -");
}

/// Finding 6: `/dev/stdout`, a FIFO and a symlink to a device as the report path
/// are refused (exit 2, naming the path) and never replaced.
#[test]
fn special_output_paths_are_refused_not_replaced() {
    let dir = repo();
    let root = dir.path();
    mkfifo(&root.join("reports/fifo.md"));
    symlink("/dev/null", root.join("reports/null.md")).expect("symlink");
    let stdout_was_link = is_symlink(Path::new("/dev/stdout"));
    for path in ["/dev/stdout", "reports/fifo.md", "reports/null.md"] {
        let (code, _, err) = run(fr(root).args(["analyze", "--output-report", path]));
        assert_eq!(code, Some(2), "--output-report {path}: {err}");
        assert!(err.contains(path), "names {path}: {err}");
    }
    if stdout_was_link {
        assert!(is_symlink(Path::new("/dev/stdout")), "/dev/stdout is still a symlink");
    }
    let fifo = std::fs::symlink_metadata(root.join("reports/fifo.md")).expect("stat");
    assert!(fifo.file_type().is_fifo(), "the FIFO stays a FIFO");
    assert_eq!(
        std::fs::read_link(root.join("reports/null.md")).expect("read link"),
        PathBuf::from("/dev/null"),
        "the link to the device stays"
    );
    let null = std::fs::metadata("/dev/null").expect("stat /dev/null");
    assert!(null.file_type().is_char_device(), "/dev/null is still a device");
}

/// Finding 6: new rules files and reports get `0666 & !umask` (they were 0644
/// whatever the umask).
#[test]
fn umask_027_gives_0640_rules_file_and_report() {
    let dir = repo();
    let root = dir.path();
    let mut command = Command::new("sh");
    command.args(["-c", "umask 027; exec \"$0\" \"$@\"", BIN]).args([
        "analyze",
        "--execute",
        "--output-report",
        "reports/top.md",
    ]);
    let mut command = assert_cmd::Command::from_std(command);
    command
        .current_dir(root)
        .env("MULTILOCK_DIR", root.join(".multilock"))
        .timeout(Duration::from_secs(10));
    let (code, _, err) = run(&mut command);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(mode(&root.join(RULES)), 0o640, "rules file");
    assert_eq!(mode(&root.join("reports/top.md")), 0o640, "report");
}

/// Spawns the binary in `dir` with `args`, stdout and stderr piped.
fn spawn(dir: &Path, args: &[&str], stdin: Stdio) -> Child {
    Command::new(BIN)
        .current_dir(dir)
        .env("MULTILOCK_DIR", dir.join(".multilock"))
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn failure-rules")
}

/// `| head -1`: reads one line of `child`'s stdout, closes it, waits; the exit is
/// not a panic and stderr stays quiet.
fn head_1(mut child: Child, what: &str) {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).expect("read a line");
    assert!(!line.is_empty(), "{what}: one line before the pipe closes");
    // The reader is dropped here: later writes meet a closed pipe.
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{what} panicked: {err}");
    assert_eq!(out.status.code(), Some(0), "{what}: {err}");
    assert!(err.is_empty(), "{what}: nothing on stderr: {err}");
}

/// Finding 8: every command that prints a list ends quietly on a closed pipe.
/// The list is long (1,500 groups) so that the pipe closes while it is written.
#[test]
fn closed_pipe_ends_every_list_quietly() {
    let dir = repo();
    let root = dir.path();
    let lines: Vec<String> = (0..1500)
        .map(|i| {
            serde_json::json!({"error_type": format!("E{i}Error"), "message": "failed", "run_id": "r"})
                .to_string()
        })
        .collect();
    write(root, "many.jsonl", lines.join("\n"));
    let commands: [&[&str]; 6] = [
        &["analyze", "many.jsonl"],
        &["analyze", "many.jsonl", "--format", "markdown"],
        &["analyze", "many.jsonl", "--format", "json"],
        &["analyze", "many.jsonl", "--execute"],
        &["match", "--type", "sqlite3.OperationalError", "--message", "database is locked"],
        &["--help"],
    ];
    for args in commands {
        head_1(spawn(root, args, Stdio::null()), &format!("{args:?}"));
    }
    write(
        root,
        "app.log",
        (0..50_000).map(|i| format!("job {i} failed on node-{i}\n")).collect::<String>(),
    );
    for args in [&["normalize", "--mine"][..], &["normalize", "--mine", "--format", "jsonl"]] {
        let log = std::fs::File::open(root.join("app.log")).expect("open log");
        head_1(spawn(root, args, Stdio::from(log)), &format!("{args:?} < file"));
    }
}

/// Finding 8: `normalize | head -1` stops reading stdin once the pipe closed: the
/// writer of a 64 MiB input sees its pipe closed long before the end.
#[test]
fn normalize_stops_reading_when_the_pipe_closed() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["normalize"][..], &["normalize", "--format", "jsonl"]] {
        let mut child = spawn(dir.path(), args, Stdio::piped());
        let mut stdin = child.stdin.take().expect("stdin");
        let writer = std::thread::spawn(move || {
            let chunk: String = (0..20_000).map(|i| format!("ValueError: bad id {i}\n")).collect();
            let mut written = 0usize;
            while written < 64 << 20 {
                stdin.write_all(chunk.as_bytes())?;
                written += chunk.len();
            }
            Ok::<usize, std::io::Error>(written)
        });
        head_1(child, &format!("{args:?}"));
        let fed = writer.join().expect("writer thread");
        assert!(
            fed.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe),
            "{args:?} read all its input after the pipe closed: {fed:?}"
        );
    }
}
