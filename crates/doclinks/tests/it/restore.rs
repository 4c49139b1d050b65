//! `restore` given hostile backups (issue 8, finding 1): crafted zips with a
//! foreign or relative root, entries through symlinks, `..`, absolute and
//! `.git` entries, a wrong hash, zip bombs; and the honest round trip: a page
//! changed since the backup is kept unless forced, the rest comes back byte for
//! byte with its owner and mode.
//!
//! Each case lives in its own `outer` directory holding the tree (`root`), a
//! directory outside it (`outside`) and the crafted archives (`zips`); "nothing
//! written" is checked on every file and link of `outer` but the archives.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

const MANIFEST: &str = "doclinks-backup.json";

struct Case {
    outer: tempfile::TempDir,
    /// The tree, resolved (the manifest's root is compared resolved).
    root: PathBuf,
    outside: PathBuf,
}

impl Case {
    fn new() -> Case {
        let outer = tempfile::Builder::new().prefix("doclinks-restore-").tempdir().unwrap();
        let base = std::fs::canonicalize(outer.path()).unwrap();
        for dir in ["root", "outside", "zips"] {
            std::fs::create_dir(base.join(dir)).unwrap();
        }
        Case { root: base.join("root"), outside: base.join("outside"), outer }
    }

    fn base(&self) -> PathBuf {
        std::fs::canonicalize(self.outer.path()).unwrap()
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Writes a zip `name` in `zips` holding the manifest and the entries.
    fn zip(&self, name: &str, manifest: &serde_json::Value, entries: &[(&str, &[u8])]) -> PathBuf {
        let path = self.base().join("zips").join(name);
        std::fs::write(&path, zip_bytes(manifest, entries)).unwrap();
        path
    }

    /// Runs `doclinks ARGS` in `cwd` (bounded: a hang fails instead of stalling
    /// the suite); returns (exit code, stdout, stderr).
    fn run_in(&self, cwd: &Path, args: &[&str]) -> (i32, String, String) {
        let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_doclinks"))
            .current_dir(cwd)
            .args(args)
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// `doclinks restore ZIP ARGS` in the root.
    fn restore(&self, zip: &Path, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["restore", zip.to_str().unwrap()];
        all.extend_from_slice(args);
        self.run_in(&self.root, &all)
    }

    /// Every file, directory and link under `outer` except the archives, with
    /// contents, link targets and modes.
    fn listing(&self) -> BTreeMap<PathBuf, String> {
        let mut all = BTreeMap::new();
        walk(&self.base(), &self.base(), &mut all);
        all.retain(|path, _| !path.starts_with("zips/"));
        all
    }
}

fn walk(base: &Path, dir: &Path, all: &mut BTreeMap<PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(base).unwrap().to_owned();
        let mode = meta.permissions().mode();
        if meta.is_symlink() {
            all.insert(rel, format!("-> {}", std::fs::read_link(&path).unwrap().display()));
        } else if meta.is_dir() {
            all.insert(rel.join(""), format!("dir {mode:o}"));
            walk(base, &path, all);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            all.insert(rel, format!("{mode:o} {}", String::from_utf8_lossy(&bytes)));
        }
    }
}

fn zip_bytes(manifest: &serde_json::Value, entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file(MANIFEST, options).unwrap();
    zip.write_all(manifest.to_string().as_bytes()).unwrap();
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// An old-format (version 1) manifest: the root and bare paths, as in the
/// issue's reproduction.
fn v1(root: &str, files: &[&str]) -> serde_json::Value {
    json!({ "root": root, "files": files })
}

/// A version 2 manifest with one file recorded as `saved` (size, sha256).
fn v2(root: &Path, file: &str, size: u64, sha256: &str) -> serde_json::Value {
    let content = json!({ "size": size, "sha256": sha256 });
    json!({
        "version": 2,
        "root": root,
        "files": [{ "path": file, "saved": content, "fixed": content }],
    })
}

/// SHA-256 in hex (the hash the backup records).
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts a refusal: exit 2, one error line naming every `names`, nothing
/// written anywhere.
fn assert_refused(case: &Case, zip: &Path, before: &BTreeMap<PathBuf, String>, names: &[&str]) {
    let (code, stdout, stderr) = case.restore(zip, &[]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.starts_with("doclinks: error: backup "), "{stderr}");
    assert!(stderr.contains("nothing restored"), "{stderr}");
    for name in names {
        assert!(stderr.contains(name), "{name} not named in: {stderr}");
    }
    assert_eq!(&case.listing(), before, "something was written: {stderr}");
}

#[test]
fn a_backup_from_a_foreign_root_is_refused_naming_both() {
    let case = Case::new();
    let victim = case.base().join("victim/dir");
    std::fs::create_dir_all(&victim).unwrap();
    let before = case.listing();
    let victim = victim.to_str().unwrap();
    let root = case.root.to_str().unwrap();
    let zip = case.zip("foreign.zip", &v1(victim, &["pwned.md"]), &[("pwned.md", b"pwned\n")]);
    assert_refused(&case, &zip, &before, &[victim, root, "not from the root"]);
    // The exact manifest, with a root that does not exist here.
    let zip = case.zip("victim.zip", &v1("/victim/dir", &["pwned.md"]), &[("pwned.md", b"x")]);
    assert_refused(&case, &zip, &before, &["/victim/dir", root]);
    assert!(!Path::new("/victim/dir/pwned.md").exists());
}

#[test]
fn a_relative_root_is_refused_not_taken_from_the_current_directory() {
    let case = Case::new();
    case.write("a/b/page.md", b"# Page\n");
    let before = case.listing();
    let zip = case.zip("relative.zip", &v1("../..", &["pwned.md"]), &[("pwned.md", b"pwned\n")]);
    // From ROOT/a/b, `../..` is the root's own directory, the current tree is a/b.
    let (code, stdout, stderr) =
        case.run_in(&case.root.join("a/b"), &["restore", zip.to_str().unwrap()]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("made from ../.. (a relative path)"), "{stderr}");
    assert!(stderr.contains(case.root.join("a/b").to_str().unwrap()), "{stderr}");
    // Even when the tree given is where `../..` leads.
    let (code, _, stderr) =
        case.run_in(&case.root.join("a/b"), &["restore", zip.to_str().unwrap(), "--root", "../.."]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("(a relative path)"), "{stderr}");
    assert_eq!(case.listing(), before);
}

#[test]
fn entries_under_a_symlinked_directory_pointing_outside_are_refused() {
    let case = Case::new();
    std::fs::write(case.outside.join("kept.md"), "outside bytes\n").unwrap();
    std::os::unix::fs::symlink(&case.outside, case.root.join("docs")).unwrap();
    let before = case.listing();
    let root = case.root.to_str().unwrap();
    // A new file in the linked directory, one in a missing directory below it,
    // and an existing file there.
    for entry in ["docs/pwned.md", "docs/sub/pwned.md", "docs/kept.md"] {
        let zip = case.zip("dir.zip", &v1(root, &[entry]), &[(entry, b"pwned\n")]);
        assert_refused(&case, &zip, &before, &[&format!("entry `{entry}`")]);
    }
    assert_eq!(std::fs::read(case.outside.join("kept.md")).unwrap(), b"outside bytes\n");
}

#[test]
fn a_symlinked_page_pointing_outside_is_refused_and_its_target_kept() {
    let case = Case::new();
    std::fs::write(case.outside.join("target.md"), "outside bytes\n").unwrap();
    std::os::unix::fs::symlink(case.outside.join("target.md"), case.root.join("page.md")).unwrap();
    case.write("other.md", b"other\n");
    let before = case.listing();
    let root = case.root.to_str().unwrap();
    // The honest file listed first is not written either: all is checked first.
    let manifest = v1(root, &["other.md", "page.md"]);
    let zip = case.zip("page.zip", &manifest, &[("other.md", b"x\n"), ("page.md", b"pwned\n")]);
    assert_refused(&case, &zip, &before, &["entry `page.md`", "leads outside"]);
    assert_eq!(std::fs::read(case.outside.join("target.md")).unwrap(), b"outside bytes\n");
    assert!(std::fs::symlink_metadata(case.root.join("page.md")).unwrap().is_symlink());
}

#[test]
fn entries_other_than_plain_page_paths_below_the_root_are_refused() {
    let case = Case::new();
    std::fs::create_dir_all(case.root.join(".git/hooks")).unwrap();
    case.write("a/page.md", b"# A\n");
    let before = case.listing();
    let root = case.root.to_str().unwrap();
    let absolute = case.outside.join("abs.md");
    let cases: &[(&str, &str)] = &[
        ("../escape.md", "`.` or `..` component"),
        ("a/../../escape.md", "`.` or `..` component"),
        ("./a/page.md", "`.` or `..` component"),
        (absolute.to_str().unwrap(), "is an absolute path"),
        (".git/hooks/pre-commit", "is inside .git"),
        (".git/notes.md", "is inside .git"),
        ("a//page.md", "empty component"),
        ("a/page.md/", "empty component"),
        ("", "is empty"),
        ("..\\..\\escape.md", "contains a backslash"),
        ("a\0.md", "contains a NUL byte"),
        ("notes.txt", "is not a Markdown page"),
        ("page.html", "is not a Markdown page"),
    ];
    for (entry, problem) in cases {
        let zip = case.zip("entry.zip", &v1(root, &[entry]), &[(entry, b"pwned\n")]);
        let named = format!("entry `{}`", entry.escape_debug());
        assert_refused(&case, &zip, &before, &[&named, problem]);
    }
    assert!(!case.outside.join("abs.md").exists());
    assert!(!case.root.join(".git/hooks/pre-commit").exists());
}

#[test]
fn an_entry_not_matching_its_recorded_hash_is_refused() {
    let case = Case::new();
    let before = case.listing();
    let wrong = sha256(b"other bytes");
    let zip =
        case.zip("hash.zip", &v2(&case.root, "page.md", 6, &wrong), &[("page.md", b"pwned\n")]);
    assert_refused(&case, &zip, &before, &["entry `page.md`", "SHA-256"]);
}

/// Rewrites the uncompressed size the local and central headers of `name`
/// declare, as a hand-made bomb would.
fn declare_size(zip: &mut [u8], name: &str, size: u32) {
    let u16_at = |z: &[u8], at: usize| usize::from(u16::from_le_bytes([z[at], z[at + 1]]));
    let mut patched = 0;
    for at in 0..zip.len() - 46 {
        // (signature, offset of the name length, of the name, of the size)
        let layout = match &zip[at..at + 4] {
            [0x50, 0x4b, 0x03, 0x04] => (26, 30, 22),
            [0x50, 0x4b, 0x01, 0x02] => (28, 46, 24),
            _ => continue,
        };
        let len = u16_at(zip, at + layout.0);
        if zip.get(at + layout.1..at + layout.1 + len) == Some(name.as_bytes()) {
            zip[at + layout.2..at + layout.2 + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local and central header of {name}");
}

/// Writes a zip `name` in `zips` of the manifest and an entry `entry` of `mib`
/// MiB of zeros. Python's zipfile deflates with C zlib: a debug build of the
/// zip crate takes seconds per 50 MiB, which a test of a refusal need not wait.
fn bomb(case: &Case, name: &str, manifest: &serde_json::Value, entry: &str, mib: u32) -> PathBuf {
    let path = case.base().join("zips").join(name);
    let script = "import sys, zipfile
out, manifest, entry, mib = sys.argv[1:]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('doclinks-backup.json', manifest)
    with z.open(entry, 'w') as f:
        for _ in range(int(mib)):
            f.write(bytes(1 << 20))
";
    let made = std::process::Command::new("python3")
        .args(["-c", script, path.to_str().unwrap(), &manifest.to_string(), entry])
        .arg(mib.to_string())
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    path
}

#[test]
fn a_zip_bomb_is_refused_at_once_with_nothing_written() {
    let case = Case::new();
    let before = case.listing();
    let manifest = v2(&case.root, "bomb.md", 10, &sha256(&[0; 10]));
    // Honest headers: the 50 MiB are declared.
    let zip = bomb(&case, "bomb.zip", &manifest, "bomb.md", 50);
    assert!(std::fs::metadata(&zip).unwrap().len() < 1 << 20, "a small zip");
    assert_refused(&case, &zip, &before, &["entry `bomb.md`", "more than the 10 bytes"]);
    // Lying headers: the entry says 10 bytes, inflation stops after 11.
    let mut bytes = std::fs::read(&zip).unwrap();
    declare_size(&mut bytes, "bomb.md", 10);
    std::fs::write(&zip, bytes).unwrap();
    assert_refused(&case, &zip, &before, &["entry `bomb.md`", "more than the 10 bytes"]);
    // An old-format backup records no size: 64 MiB per entry is the cap, on
    // what inflates whatever the headers say.
    let manifest = v1(case.root.to_str().unwrap(), &["bomb.md"]);
    let old = bomb(&case, "old.zip", &manifest, "bomb.md", 65);
    let capped = ["entry `bomb.md`", "more than 67108864 bytes, the limit"];
    assert_refused(&case, &old, &before, &capped);
    let mut bytes = std::fs::read(&old).unwrap();
    declare_size(&mut bytes, "bomb.md", 10);
    std::fs::write(&old, bytes).unwrap();
    assert_refused(&case, &old, &before, &capped);
}

#[test]
fn a_fifo_named_as_the_backup_is_refused_at_once() {
    let case = Case::new();
    let fifo = case.base().join("zips/fifo.zip");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let (code, _, stderr) = case.restore(&fifo, &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("fifo.zip") && stderr.contains("FIFO"), "{stderr}");
}

const BROKEN: &[(&str, &str)] = &[
    ("README.md", "# Home\r\n\r\nSee [the guide](Docs/Guide.md#setup).\r\n"),
    ("docs/guide.md", "# Guide\n\n## Setup\n\n[home](../readme.md)\n"),
    ("docs/deep/page.md", "[up](../Guide.md)\n"),
];

/// A tree with three pages `fix` rewrites; returns the backup it wrote.
fn fixed_tree(case: &Case) -> PathBuf {
    for (rel, text) in BROKEN {
        case.write(rel, text.as_bytes());
    }
    let (code, stdout, stderr) = case.run_in(&case.root, &["fix"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("in 3 files"), "{stdout}");
    let backups = case.root.join(".doclinks/backups");
    let zip = std::fs::read_dir(&backups).unwrap().next().unwrap().unwrap().path();
    for (rel, text) in BROKEN {
        assert_ne!(std::fs::read_to_string(case.root.join(rel)).unwrap(), *text, "{rel} fixed");
    }
    zip
}

#[test]
#[expect(clippy::print_stderr, reason = "a part that cannot run says so in the test output")]
fn fix_then_restore_gives_back_the_exact_bytes_owner_and_mode() {
    let case = Case::new();
    let zip = fixed_tree(&case);

    // The backup records the format version, and size and SHA-256 of each page.
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_reader(archive.by_name(MANIFEST).unwrap()).unwrap();
    assert_eq!(manifest["version"], 2);
    assert_eq!(manifest["root"], case.root.to_str().unwrap());
    let readme = &manifest["files"][0];
    assert_eq!(readme["path"], "README.md");
    assert_eq!(readme["saved"]["size"], BROKEN[0].1.len());
    assert_eq!(readme["saved"]["sha256"], sha256(BROKEN[0].1.as_bytes()));
    let fixed = std::fs::read(case.root.join("README.md")).unwrap();
    assert_eq!(readme["fixed"]["sha256"], sha256(&fixed));

    // Owner and mode of a page are kept by the restore (set after fix, so this
    // is restore's doing).
    let readme = case.root.join("README.md");
    std::fs::set_permissions(&readme, std::fs::Permissions::from_mode(0o640)).unwrap();
    let chowned = std::os::unix::fs::chown(&readme, Some(12345), Some(12345)).is_ok();
    if !chowned {
        eprintln!("not root: the owner part of this test is skipped");
    }
    // A page deleted since, with its directory: created again.
    std::fs::remove_dir_all(case.root.join("docs/deep")).unwrap();

    // From elsewhere the default root is the current directory: refused.
    let (code, _, stderr) = case.run_in(&case.outside, &["restore", zip.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(case.outside.to_str().unwrap()), "{stderr}");

    let root = case.root.to_str().unwrap();
    let (code, stdout, stderr) =
        case.run_in(&case.outside, &["restore", zip.to_str().unwrap(), "--root", root]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("restored 3 files from"), "{stdout}");
    for (rel, text) in BROKEN {
        assert_eq!(std::fs::read_to_string(case.root.join(rel)).unwrap(), *text, "{rel}");
    }
    let meta = std::fs::metadata(&readme).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    if chowned {
        assert_eq!((meta.uid(), meta.gid()), (12345, 12345));
    }

    // Again: every page already holds its backed-up bytes and is not touched.
    let ino = meta.ino();
    let (code, stdout, stderr) = case.restore(&zip, &["--format", "json"]);
    assert_eq!(code, 0, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["restored"], json!([]));
    assert_eq!(json["unchanged"].as_array().unwrap().len(), 3, "{stdout}");
    assert_eq!(std::fs::metadata(&readme).unwrap().ino(), ino);
}

#[test]
fn a_page_changed_since_the_backup_is_skipped_unless_forced() {
    let case = Case::new();
    let zip = fixed_tree(&case);
    let edited = "# Home\n\nEdited after the fix.\n";
    std::fs::write(case.root.join("README.md"), edited).unwrap();

    let (code, stdout, stderr) = case.restore(&zip, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let readme = case.root.join("README.md");
    let line = format!("skipped {}: changed since the backup", readme.display());
    assert!(stdout.contains(&line), "{stdout}");
    assert!(stdout.contains("--force overwrites it"), "{stdout}");
    assert!(stdout.contains("restored 2 files from"), "{stdout}");
    assert!(stdout.contains("1 skipped"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), edited, "the edit is kept");
    for (rel, text) in &BROKEN[1..] {
        assert_eq!(std::fs::read_to_string(case.root.join(rel)).unwrap(), *text, "{rel}");
    }

    let (code, stdout, stderr) = case.restore(&zip, &["--format", "json"]);
    assert_eq!(code, 1, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["skipped"][0]["file"], readme.to_str().unwrap(), "{stdout}");

    let (code, stdout, stderr) = case.restore(&zip, &["--force"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(std::fs::read_to_string(&readme).unwrap(), BROKEN[0].1);
}

#[test]
fn an_old_format_backup_still_restores_and_needs_force_over_a_differing_page() {
    let case = Case::new();
    case.write("README.md", b"# Now\n");
    let root = case.root.to_str().unwrap();
    let manifest = v1(root, &["README.md", "docs/gone/page.md"]);
    let zip = case.zip(
        "old.zip",
        &manifest,
        &[("README.md", b"# Then\n"), ("docs/gone/page.md", b"# Gone\n")],
    );
    let (code, stdout, stderr) = case.restore(&zip, &[]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("does not record what fix wrote"), "{stdout}");
    assert_eq!(std::fs::read(case.root.join("README.md")).unwrap(), b"# Now\n");
    assert_eq!(std::fs::read(case.root.join("docs/gone/page.md")).unwrap(), b"# Gone\n");
    let (code, stdout, stderr) = case.restore(&zip, &["--force"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(std::fs::read(case.root.join("README.md")).unwrap(), b"# Then\n");
}

#[test]
fn the_backup_is_created_with_the_umask() {
    let case = Case::new();
    case.write("README.md", b"[g](Guide.md)\n");
    case.write("guide.md", b"# Guide\n");
    let status = std::process::Command::new("sh")
        .current_dir(&case.root)
        .args(["-c", "umask 027 && exec \"$0\" fix", env!("CARGO_BIN_EXE_doclinks")])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let backups = case.root.join(".doclinks/backups");
    let zip = std::fs::read_dir(&backups).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::metadata(zip).unwrap().permissions().mode() & 0o777, 0o640);
}
