//! The global excludes file: git's `core.excludesFile` where a config file
//! names it, else `$XDG_CONFIG_HOME/git/ignore` (`~/.config/git/ignore`), as
//! ripgrep's `ignore` crate reads them; a config file that is a FIFO is never
//! waited on, by the walk or by git.

use std::time::Duration;

use crate::util::{Dir, tree};

const PAGES: &str = "//- a.md\n# A\n//- b.md\n# B\n//- c.md\n# C\n";

/// The pages a check reads, run with `home` as `$HOME` and `xdg` (if any) as
/// `$XDG_CONFIG_HOME`.
fn pages_checked(dir: &Dir, home: &Dir, xdg: Option<&Dir>) -> u64 {
    // `--root`: the root is not what these tests are about.
    let root = dir.path().to_str().unwrap();
    let mut cmd = dir.cmd(&["check", "--format", "json", "--no-cache", "--root", root]);
    cmd.env("HOME", home.path()).env_remove("XDG_CONFIG_HOME");
    if let Some(xdg) = xdg {
        cmd.env("XDG_CONFIG_HOME", xdg.path());
    }
    let out = cmd.timeout(Duration::from_secs(10)).output().unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    value["summary"]["files"].as_u64().unwrap()
}

#[test]
fn the_default_file_applies_where_no_config_names_another() {
    let dir = tree(PAGES);
    let home = tree("//- .config/git/ignore\nb.md\n//- .gitconfig\n[user]\n\tname = x\n");
    assert_eq!(pages_checked(&dir, &home, None), 2, "b.md is ignored");
    let xdg = tree("//- git/ignore\nb.md\nc.md\n");
    assert_eq!(pages_checked(&dir, &home, Some(&xdg)), 1, "$XDG_CONFIG_HOME wins over ~/.config");
}

#[test]
fn a_config_that_names_an_excludes_file_is_followed() {
    let dir = tree(PAGES);
    let home = tree(
        "//- .config/git/ignore\nb.md\n//- .gitconfig\n[core]\n\tExcludesFile = ~/mine\n//- mine\nc.md\na.md\n",
    );
    // `~` is the home directory the crate knows (`$HOME`).
    assert_eq!(pages_checked(&dir, &home, None), 1, "only b.md is left");
    let xdg = tree("//- git/config\n[core]\nexcludesfile = ~/mine\n");
    let home = tree("//- mine\na.md\n");
    assert_eq!(pages_checked(&dir, &home, Some(&xdg)), 2, "named in the XDG config");
}

#[test]
fn a_config_file_that_is_a_fifo_is_never_waited_on() {
    let dir = tree(PAGES);
    let home = tree("//- .config/git/ignore\nb.md\n");
    let status = std::process::Command::new("mkfifo").arg(home.join(".gitconfig")).status();
    assert!(status.unwrap().success());
    assert_eq!(pages_checked(&dir, &home, None), 2);
}

#[test]
fn git_is_not_run_where_its_config_is_a_fifo() {
    // Git reads its config files without asking what they are: a FIFO
    // `~/.gitconfig` blocks it, and a check that waited on git with it.
    let dir = tree("//- docs/a.md\n[b](b.md)\n");
    dir.git(&["init", "-q"]);
    dir.git(&["add", "."]);
    dir.git(&["commit", "-q", "-m", "first"]);
    let home = tree("//- .config/git/ignore\n");
    let status = std::process::Command::new("mkfifo").arg(home.join(".gitconfig")).status();
    assert!(status.unwrap().success());
    let fifo = home.join(".gitconfig").display().to_string();
    for args in [&["check"][..], &["check", "--root", "."], &["check", "--changed-since", "HEAD"]] {
        let mut cmd = dir.cmd(args);
        cmd.current_dir(dir.join("docs")).env("HOME", home.path()).env_remove("XDG_CONFIG_HOME");
        let out = cmd.timeout(Duration::from_secs(20)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&fifo), "{args:?} names the FIFO: {stderr}");
        assert!(stderr.contains("git is not run: this is a FIFO, not a regular file"), "{stderr}");
        let expected = if args.contains(&"--changed-since") { 2 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn git_is_not_run_where_the_repository_holds_a_fifo() {
    // A crafted tree: its `.git/HEAD` is a FIFO, which git opens on start.
    let dir = tree("//- docs/a.md\n[b](b.md)\n");
    dir.git(&["init", "-q"]);
    let head = dir.join(".git/HEAD");
    std::fs::remove_file(&head).unwrap();
    let status = std::process::Command::new("mkfifo").arg(&head).status();
    assert!(status.unwrap().success());
    let mut cmd = dir.cmd(&["check", "--no-cache"]);
    let out = cmd.timeout(Duration::from_secs(20)).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warning = format!("{}: git is not run: this is a FIFO", head.display());
    assert!(stderr.contains(&warning), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
}
