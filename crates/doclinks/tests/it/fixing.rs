//! `fix`, `restore` and `stub`: what is rewritten, the backup, idempotence,
//! plans, and refusals (unwritable backup directory, existing stub target).

use crate::util::tree;

const BROKEN: &str = "//- README.md
# Home

See [the guide](Docs/Guide.md#setup) and [notes](notes.md) and [typo](docs/gide.md).
Unfixable: [gone](gone.md).

[ref]: docs/Guide.md#setup
//- docs/guide.md
# Guide
## Setup
//- archive/notes.md
# Notes
";

#[test]
fn fix_rewrites_only_destinations_with_a_backup_and_restore_puts_bytes_back() {
    let dir = tree(BROKEN);
    let before = dir.read("README.md");
    let (code, stdout, stderr) = dir.run(&["fix"]);
    assert_eq!(code, 1, "one unfixable and one medium link remain: {stdout}{stderr}");
    assert!(stdout.contains("fixed 3 links in 1 files; backup: "), "{stdout}");
    assert!(stderr.contains("undo with: doclinks restore "), "{stderr}");
    let after = dir.read("README.md");
    assert_eq!(
        after,
        before
            .replace("Docs/Guide.md#setup", "docs/guide.md#setup")
            .replace("(notes.md)", "(archive/notes.md)")
            .replace("docs/Guide.md#setup", "docs/guide.md#setup")
    );

    // Re-running changes nothing and writes no second backup.
    let backups = || std::fs::read_dir(dir.join(".doclinks/backups")).unwrap().count();
    assert_eq!(backups(), 1);
    let (code, stdout, _) = dir.run(&["fix"]);
    assert_eq!((code, stdout.lines().next().unwrap()), (1, "fixed 0 links in 0 files"));
    assert_eq!(dir.read("README.md"), after);
    assert_eq!(backups(), 1);

    // Medium confidence on request, then restore brings back the original bytes:
    // the backups undo in reverse order (the first backup's page is no longer as
    // its fix left it until the second is undone).
    let (_, stdout, _) = dir.run(&["fix", "--min-confidence", "medium"]);
    assert!(stdout.contains("docs/gide.md -> docs/guide.md (medium"), "{stdout}");
    let mut zips: Vec<_> = std::fs::read_dir(dir.join(".doclinks/backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    zips.sort();
    let first = zips.iter().find(|z| !z.to_string_lossy().ends_with("-1.zip")).unwrap();
    let second = zips.iter().find(|z| *z != first).unwrap();
    let (code, stdout, _) = dir.run(&["restore", second.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(dir.read("README.md"), after);
    let (code, stdout, _) = dir.run(&["restore", first.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(stdout.contains("restored 1 files from"), "{stdout}");
    assert_eq!(dir.read("README.md"), before);

    // Restoring again is harmless (the page is left untouched), and JSON output lists the files.
    let (code, stdout, _) = dir.run(&["restore", first.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["restored"], serde_json::json!([]), "{stdout}");
    assert!(json["unchanged"][0].as_str().unwrap().ends_with("README.md"), "{stdout}");
    assert_eq!(dir.read("README.md"), before);
}

#[test]
fn dry_run_writes_nothing_and_plan_covers_every_finding() {
    let dir = tree(BROKEN);
    let before = dir.read("README.md");
    let (code, stdout, _) = dir.run(&["fix", "--dry-run", "--plan-out", "plan.json"]);
    assert_eq!(code, 1);
    assert!(stdout.contains("would fix 3 links in 1 files; nothing written (dry run)"), "{stdout}");
    assert_eq!(dir.read("README.md"), before);
    // No backup; the page cache is all there is (kept out of git by its own
    // `.gitignore`).
    assert!(!dir.join(".doclinks/backups").exists());
    assert!(dir.join(".doclinks/cache/.gitignore").exists());
    let plan: serde_json::Value = serde_json::from_str(&dir.read("plan.json")).unwrap();
    let findings = plan["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 5);
    assert_eq!(findings.iter().filter(|f| f["apply"] == true).count(), 3);
    dir.run(&["fix", "--dry-run", "--plan-out", "plan.md"]);
    assert!(dir.read("plan.md").starts_with("# doclinks fix plan\n"));
}

#[test]
fn unwritable_backup_dir_is_an_error_and_nothing_changes() {
    let dir = tree(BROKEN);
    dir.write("blocker", "a file where the backup directory should be");
    let before = dir.read("README.md");
    let (code, _, stderr) = dir.run(&["fix", "--backup-dir", "blocker/backups"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("backup directory is not writable"), "{stderr}");
    assert_eq!(dir.read("README.md"), before);
}

#[test]
fn restore_rejects_what_is_not_a_backup() {
    let dir = tree("//- not.zip\nplain text\n");
    let (code, _, stderr) = dir.run(&["restore", "not.zip"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not.zip: not a zip archive"), "{stderr}");
    let (code, _, stderr) = dir.run(&["restore", "missing.zip"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot open backup missing.zip"), "{stderr}");
}

#[test]
fn stub_keeps_old_links_working() {
    let dir = tree("//- README.md\n[setup](docs/setup.md)\n//- docs/install.md\n# Install\n");
    assert_eq!(dir.run(&["check"]).0, 1);
    let (code, stdout, _) = dir.run(&["stub", "docs/setup.md", "docs/install.md"]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(
        dir.read("docs/setup.md"),
        "---\nredirect_to: install.md\n---\n\n# Moved\n\nThis page moved to [install](install.md).\nUpdate your links and bookmarks.\n"
    );
    assert_eq!(dir.run(&["check"]).0, 0);
    let (code, _, stderr) = dir.run(&["stub", "docs/setup.md", "docs/install.md"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("docs/setup.md exists; a stub would overwrite it"), "{stderr}");
}

#[cfg(unix)]
#[test]
fn fix_and_restore_write_through_a_symlinked_page_once() {
    let dir = tree(
        "//- real.md
[a](docs/guide.md)
//- docs/Guide.md
# Guide
",
    );
    std::os::unix::fs::symlink("real.md", dir.join("README.md")).unwrap();
    let (code, stdout, stderr) = dir.run(&["fix"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("fixed 2 links in 1 files"), "{stdout}");
    let is_link = || std::fs::symlink_metadata(dir.join("README.md")).unwrap().is_symlink();
    assert!(is_link(), "the symlink is still a symlink");
    assert_eq!(dir.read("real.md"), "[a](docs/Guide.md)\n");
    let zip = std::fs::read_dir(dir.join(".doclinks/backups")).unwrap().next().unwrap().unwrap();
    let (code, _, stderr) = dir.run(&["restore", zip.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    assert!(is_link(), "restore keeps the symlink too");
    assert_eq!(dir.read("real.md"), "[a](docs/guide.md)\n");
}
