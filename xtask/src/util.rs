//! Small helpers shared by the tasks: the project root, running commands, and
//! finding the built binaries.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root, derived from this crate's manifest directory so that xtask
/// works from any current directory.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
        .to_path_buf()
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
    let status =
        command.status().map_err(|e| format!("cannot start {}: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} exited with {status}", describe(command)))
    }
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
    String::from_utf8(out.stdout)
        .map_err(|_| format!("{} printed non-UTF-8 output", describe(command)))
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

    /// `PATH` with the built binaries first, so nested commands can name them
    /// plainly (`multilock status` rather than a path into `target/`).
    pub(crate) fn path_env(&self) -> std::ffi::OsString {
        let mut paths = vec![self.dir.clone()];
        paths.extend(std::env::var_os("PATH").iter().flat_map(std::env::split_paths));
        std::env::join_paths(paths).unwrap_or_default()
    }
}

/// Prints `$ program args` (program by file name, paths relative to `cwd`), runs
/// the command in `cwd` and prints its stdout and stderr as they were, for
/// demos and guides. Returns the exit code.
pub(crate) fn show(command: &mut Command, cwd: &Path) -> Result<i32, String> {
    let program = Path::new(command.get_program())
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<String> = command.get_args().map(|a| shell_quote(&a.to_string_lossy())).collect();
    println!("\n$ {program} {}", args.join(" "));
    let output =
        command.current_dir(cwd).output().map_err(|e| format!("cannot start {program}: {e}"))?;
    print!("{}", String::from_utf8_lossy(&output.stdout));
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let code = output.status.code().unwrap_or(-1);
    if code != 0 {
        println!("(exit code {code})");
    }
    Ok(code)
}

/// Quotes `arg` the way a shell user would type it, for printed command lines.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain { arg.to_owned() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}
