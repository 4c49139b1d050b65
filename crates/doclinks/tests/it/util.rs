//! Helpers: a fresh named temp directory per test, trees written from
//! minimal fixtures, and a command already pointed at the built binary.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// A test's own directory (removed when dropped) with the tree written in it.
pub(crate) struct Dir {
    pub(crate) temp: tempfile::TempDir,
}

impl Dir {
    pub(crate) fn path(&self) -> &Path {
        self.temp.path()
    }

    pub(crate) fn join(&self, rel: &str) -> PathBuf {
        self.temp.path().join(rel)
    }

    pub(crate) fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.join(rel)).unwrap()
    }

    pub(crate) fn write(&self, rel: &str, text: &str) {
        let path = self.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `doclinks ARGS` run in this directory.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_doclinks"));
        cmd.current_dir(self.path()).args(args).env_remove("NO_COLOR");
        cmd
    }

    /// Runs `doclinks ARGS` and returns (exit code, stdout, stderr).
    pub(crate) fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    }

    /// Runs git in this directory with a fixed identity.
    pub(crate) fn git(&self, args: &[&str]) {
        let status = std::process::Command::new("git")
            .current_dir(self.path())
            .args([
                "-c",
                "user.name=doclinks",
                "-c",
                "user.email=doclinks@tidykit.test",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
}

/// Writes a tree from a fixture: files separated by `//- path` lines.
///
/// ```text
/// //- README.md
/// [guide](guide.md)
/// //- guide.md
/// # Guide
/// ```
pub(crate) fn tree(fixture: &str) -> Dir {
    let dir = Dir { temp: tempfile::Builder::new().prefix("doclinks-it-").tempdir().unwrap() };
    let mut current: Option<(String, String)> = None;
    for line in fixture.split_inclusive('\n') {
        if let Some(path) = line.strip_prefix("//- ") {
            if let Some((path, text)) = current.take() {
                dir.write(&path, &text);
            }
            current = Some((path.trim().to_owned(), String::new()));
        } else if let Some((_, text)) = current.as_mut() {
            text.push_str(line);
        }
    }
    if let Some((path, text)) = current {
        dir.write(&path, &text);
    }
    dir
}

/// Insta settings that hide what varies between runs: the temp directory and
/// the backup's timestamp.
pub(crate) fn redactions(dir: &Dir) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    let canonical = std::fs::canonicalize(dir.path()).unwrap();
    for path in [canonical.as_path(), dir.path()] {
        settings.add_filter(&regex::escape(&path.display().to_string()), "[ROOT]");
    }
    settings.add_filter(r"doclinks-backup-\d{8}T\d{6}Z(-\d+)?\.zip", "doclinks-backup-[TIME].zip");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// `doclinks check --format json ARGS` in `dir`, parsed.
pub(crate) fn check_json(dir: &Dir, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["check", "--format", "json"];
    all.extend_from_slice(args);
    let (_, stdout, stderr) = dir.run(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}{stderr}"))
}

/// One line per element of the array `value[key]`, made by `line`.
pub(crate) fn lines_of(
    value: &serde_json::Value,
    key: &str,
    line: impl Fn(&serde_json::Value) -> String,
) -> Vec<String> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {value}"))
        .iter()
        .map(line)
        .collect()
}
