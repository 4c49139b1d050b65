//! `cargo xtask demo`: builds the tools and runs the whole flow on a copy of the
//! bundled example repository (`examples/demo-repo`), printing every command and
//! its real output. The checked-in example is never modified.

use std::path::Path;

use crate::util::{Tools, project_root};

type Demo = fn(&Tools, &Path) -> Result<(), String>;

/// The steps of the demo, in the order a tidy run takes them.
const STEPS: &[(&str, Demo)] = &[
    ("multilock: subsystem locks", crate::e2e::multilock::demo),
    ("doclinks: broken links, fix with backup", crate::e2e::doclinks::demo),
    ("failure-rules: recorded failures to rules", crate::e2e::failure_rules::demo),
    ("storage-approval: scan, approve, execute, audit, undo", crate::e2e::storage_approval::demo),
];

pub(crate) fn run() -> Result<(), String> {
    let tools = Tools::build("dev")?;
    let work = tempfile::tempdir().map_err(|e| format!("cannot create a temp dir: {e}"))?;
    let repo = work.path().join("demo-repo");
    copy_tree(&project_root().join("examples/demo-repo"), &repo)?;
    println!("demo repository: a fresh copy of examples/demo-repo in {}", repo.display());
    for (title, step) in STEPS {
        println!("\n=== {title} ===");
        step(&tools, &repo)?;
    }
    println!("\ndemo finished: every step above ran the real binaries on the copy.");
    Ok(())
}

pub(crate) fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    std::fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let file_type =
            entry.file_type().map_err(|e| format!("cannot stat {}: {e}", source.display()))?;
        if file_type.is_dir() {
            copy_tree(&source, &target)?;
        } else if file_type.is_file() {
            std::fs::copy(&source, &target).map_err(|e| {
                format!("cannot copy {} to {}: {e}", source.display(), target.display())
            })?;
        }
    }
    Ok(())
}
