//! The e2e scenario of `cargo xtask dist`: the bash, zsh and fish scripts load in
//! the real shells without a word on stderr and complete the tool's subcommands,
//! and `man -l` renders every page without a warning. A shell or `man` that is
//! not installed is skipped with a note (`.ci/run` installs them).

use std::path::Path;
use std::process::Command;

use clap_complete::Shell;

use super::ensure;
use crate::dist::{Dist, TOOLS};
use crate::util::{Tools, describe, on_path};

pub(crate) fn scenario(_tools: &Tools) -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).map_err(|e| e.to_string())?;
    let dist = crate::dist::write(&tmp.path().join("dist"))?;
    ensure(dist.completions.len() == TOOLS.len() * crate::dist::SHELLS.len(), || {
        format!("{} completion scripts written", dist.completions.len())
    })?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let program = shell.to_string();
        if !on_path(&program) {
            println!("    note: {program} is not installed; its completion scripts are not loaded");
            continue;
        }
        for (name, definition) in TOOLS {
            let script = script(&dist, name, shell)?;
            check_completion(shell, &definition(), script, &home)?;
        }
    }
    if on_path("man") {
        for page in &dist.man_pages {
            check_man_page(page)?;
        }
    } else {
        println!("    note: man is not installed; the man pages are not rendered");
    }
    Ok(())
}

fn script<'a>(dist: &'a Dist, name: &str, shell: Shell) -> Result<&'a Path, String> {
    let found = dist.completions.iter().find(|(n, s, _)| *n == name && *s == shell);
    found.map(|(_, _, path)| path.as_path()).ok_or_else(|| format!("no {shell} script for {name}"))
}

/// Loads `script` in `shell` and asks it to complete `NAME ` (zsh: that the script
/// registered its function, since completing needs a terminal there).
fn check_completion(
    shell: Shell,
    tool: &clap::Command,
    script: &Path,
    home: &Path,
) -> Result<(), String> {
    let name = tool.get_name();
    let mut command = match shell {
        // The function `complete -F` names, called as readline would call it.
        Shell::Bash => shell_command(
            "bash",
            &["--norc", "--noprofile", "-c"],
            r#"source "$1" || exit 1
spec=$(complete -p "$2") || exit 1
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$2" ""); COMP_CWORD=1; COMP_LINE="$2 "; COMP_POINT=${#COMP_LINE}
"$fn" "$2" "" "$2"
printf '%s\n' "${COMPREPLY[@]}""#,
            &["bash"],
        ),
        Shell::Zsh => shell_command(
            "zsh",
            &["-f", "-c"],
            r#"autoload -Uz compinit && compinit -u -D && source "$1" && print -r -- "${_comps[$2]}""#,
            &["zsh"],
        ),
        _ => shell_command(
            "fish",
            &["--no-config", "-c"],
            r#"source $argv[1]; and complete -C "$argv[2] ""#,
            &[],
        ),
    };
    command.arg(script).arg(name).env("HOME", home).env("XDG_CONFIG_HOME", home.join("config"));
    command.env("XDG_DATA_HOME", home.join("data")).env("XDG_CACHE_HOME", home.join("cache"));
    let out = quiet_output(&mut command)?;
    let words: Vec<&str> = out.lines().map(|l| l.split('\t').next().unwrap_or("")).collect();
    if shell == Shell::Zsh {
        let function = format!("_{name}");
        return ensure(words == [function.as_str()], || {
            format!("zsh: {} registered {words:?} for {name}, not {function}", script.display())
        });
    }
    for sub in tool.get_subcommands().filter(|s| !s.is_hide_set()).map(clap::Command::get_name) {
        ensure(words.contains(&sub), || {
            format!("{shell}: `{name} <TAB>` offers {words:?}, without `{sub}`")
        })?;
    }
    Ok(())
}

/// `program FLAGS SCRIPT ARG0...`: the script, then the positional arguments it reads.
fn shell_command(program: &str, flags: &[&str], script: &str, arg0: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.args(flags).arg(script).args(arg0);
    command
}

/// `man -l PAGE` at 80 columns: the page renders, with its name, and nothing on stderr.
fn check_man_page(page: &Path) -> Result<(), String> {
    let mut command = Command::new("man");
    command.arg("-l").arg(page).env("MANWIDTH", "80").env("MANPAGER", "cat");
    let text = quiet_output(&mut command)?;
    let name = page.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    ensure(text.contains(name), || format!("man -l {} does not show {name}", page.display()))
}

/// Runs `command`; success means exit 0 and an empty stderr. Returns stdout.
fn quiet_output(command: &mut Command) -> Result<String, String> {
    let out = command.output().map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure(out.status.success() && stderr.trim().is_empty(), || {
        format!("{} exited with {}, stderr: {stderr}", describe(command), out.status)
    })?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
