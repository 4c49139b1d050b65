//! Small helpers shared by the tasks: the project root, running commands, and
//! finding the built binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, derived from this crate's manifest directory so that xtask
/// works from any current directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives one level below the root").to_path_buf()
}

/// `cargo` as the one that invoked us (`$CARGO`), so the pinned toolchain is used.
pub(crate) fn cargo() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(project_root());
    command
}

/// Runs `command` with inherited stdio; an error names the command and its status.
pub(crate) fn run_command(command: &mut Command) -> Result<(), String> {
    let status = command.status().map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    if status.success() { Ok(()) } else { Err(format!("{} exited with {status}", describe(command))) }
}

/// Runs `command` and returns its stdout; stderr passes through.
pub(crate) fn output(command: &mut Command) -> Result<String, String> {
    let out = command
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", describe(command), out.status));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("{} printed non-UTF-8 output", describe(command)))
}

pub(crate) fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Whether `program` can be found on `PATH`.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// The target directory cargo uses for this workspace.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| if dir.is_absolute() { dir } else { project_root().join(dir) })
        .unwrap_or_else(|| project_root().join("target"))
}

/// The built binaries of the workspace, in one profile.
pub(crate) struct Tools {
    dir: PathBuf,
}

impl Tools {
    /// Builds every binary of the workspace once in `profile` (`dev` or `release`).
    pub(crate) fn build(profile: &str) -> Result<Tools, String> {
        run_command(cargo().args(["build", "--workspace", "--bins", "--profile", profile]))?;
        let sub = if profile == "dev" { "debug" } else { profile };
        Ok(Tools { dir: target_dir().join(sub) })
    }

    /// A command for the binary `name`.
    pub(crate) fn command(&self, name: &str) -> Command {
        Command::new(self.path(name))
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Whether the binary `name` was built (crates still being written have none).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.path(name).is_file()
    }
}
