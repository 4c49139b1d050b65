//! `cargo xtask dist [DIR]`: shell completions and man pages for the four tools,
//! generated from the clap definitions their libraries export (`X::cli::command()`),
//! so that they say what `--help` says.
//!
//! Layout (DIR defaults to `target/dist`):
//!
//! - `completions/{bash,zsh,fish,powershell,elvish}/`: one script per tool, named
//!   as clap_complete names it (`doclinks.bash`, `_doclinks`, `doclinks.fish`,
//!   `_doclinks.ps1`, `doclinks.elv`);
//! - `man/man1/`: one page per tool and per subcommand (`doclinks.1`,
//!   `doclinks-check.1`, `storage-approval-audit-verify.1`, ...).
//!
//! README.md ("Shell completions and man pages") gives the install line for each.

use std::path::{Path, PathBuf};

use clap_complete::{Generator, Shell};

use crate::util::target_dir;

/// A tool's clap definition, as its library's `cli::command` builds it.
type Definition = fn() -> clap::Command;

/// Each tool's binary name and its clap definition.
pub(crate) const TOOLS: [(&str, Definition); 4] = [
    ("multilock", multilock::cli::command),
    ("doclinks", doclinks::cli::command),
    ("failure-rules", failure_rules::cli::command),
    ("storage-approval", storage_approval::cli::command),
];

/// The shells clap_complete writes scripts for.
pub(crate) const SHELLS: [Shell; 5] =
    [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell, Shell::Elvish];

/// What `write` produced.
pub(crate) struct Dist {
    /// One entry per tool and shell: the tool, the shell, the script.
    pub(crate) completions: Vec<(&'static str, Shell, PathBuf)>,
    /// Every man page written.
    pub(crate) man_pages: Vec<PathBuf>,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let dir = match args {
        [] => target_dir().join("dist"),
        [dir] if !dir.starts_with('-') => PathBuf::from(dir),
        _ => return Err("usage: cargo xtask dist [DIR]   (default target/dist)".to_owned()),
    };
    let dist = write(&dir)?;
    println!(
        "xtask dist: {} completion scripts in {}, {} man pages in {}",
        dist.completions.len(),
        dir.join("completions").display(),
        dist.man_pages.len(),
        dir.join("man").display(),
    );
    println!("install lines for each shell: README.md, \"Shell completions and man pages\"");
    Ok(())
}

/// Writes every completion script and man page below `dir`. Files of an earlier
/// run are overwritten, never removed: `dir` may be a directory the user shares.
pub(crate) fn write(dir: &Path) -> Result<Dist, String> {
    let mut dist = Dist { completions: Vec::new(), man_pages: Vec::new() };
    for shell in SHELLS {
        let shell_dir = dir.join("completions").join(shell.to_string());
        create_dir(&shell_dir)?;
        for (name, command) in TOOLS {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command(), name, &mut script);
            let path = shell_dir.join(shell.file_name(name));
            write_file(&path, &script)?;
            dist.completions.push((name, shell, path));
        }
    }
    let man_dir = dir.join("man").join("man1");
    create_dir(&man_dir)?;
    for (_, command) in TOOLS {
        let command = command();
        let source = format!("{} {}", command.get_name(), command.get_version().unwrap_or(""));
        // As clap_mangen::generate_to prepares it: built, so that subcommands carry
        // their full names (`doclinks-check`), and without the `help` subcommand.
        let mut command = command.disable_help_subcommand(true);
        command.build();
        write_pages(command, &source, &man_dir, &mut dist.man_pages)?;
    }
    Ok(dist)
}

/// Writes the page of `command` and, recursively, of each visible subcommand.
fn write_pages(
    command: clap::Command,
    source: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), String> {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_pages(sub.clone(), source, dir, written)?;
    }
    let page = clap_mangen::Man::new(command).source(source);
    let mut roff = Vec::new();
    page.render(&mut roff).map_err(|e| format!("cannot render a man page: {e}"))?;
    let path = dir.join(page.get_filename());
    write_file(&path, &roff)?;
    written.push(path);
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
