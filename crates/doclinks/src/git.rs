//! The one place doclinks runs git, and the one parser of its
//! `--name-status -z` output, shared by rename fixes and `--changed-since`.
//!
//! Git is optional: without it (or outside a repository) there are no renames
//! and `--changed-since` is an error that says so.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use crate::error::Error;
use crate::fast::{HashMap, HashSet};

/// Runs `git -C dir ARGS` and returns its standard output, or `None` when git
/// is missing, fails, prints something that is not UTF-8, is not run because
/// a config file it would read is not a regular file, or does not answer in
/// [`GIT_TIMEOUT`] (then it is killed). The last two are recorded for
/// [`refusal`].
pub(crate) fn run(dir: &Path, args: &[&str]) -> Option<String> {
    if refusal().is_some() {
        // Once refused or stopped, git is not asked again: a second wait
        // for a git that hangs helps nobody.
        return None;
    }
    if let Some((file, why)) = blocking_config(dir) {
        refuse(
            file,
            format!("git is not run: this is {why}; renames and the git state are unknown"),
        );
        return None;
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    // The output is read on a thread so that the wait for it can end: git
    // blocked on a file it opens (a FIFO somewhere in its config or
    // repository) would otherwise hang the check.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = stdout.read_to_end(&mut out).map(|_| out);
        let _ = sender.send(read);
    });
    match receiver.recv_timeout(GIT_TIMEOUT) {
        Ok(out) => {
            let status = child.wait().ok()?;
            if status.success() { String::from_utf8(out.ok()?).ok() } else { None }
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            let seconds = GIT_TIMEOUT.as_secs();
            refuse(dir.to_path_buf(), format!("git did not answer in {seconds} s and was stopped"));
            None
        }
    }
}

/// How long one git command may take. History walks on a large repository
/// take seconds; a git waiting on a FIFO never ends.
const GIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The first time git was not run or was stopped this process: the file or
/// folder it is about, and why. A check reports it as a warning.
static REFUSED: Mutex<Option<(PathBuf, String)>> = Mutex::new(None);

fn refuse(path: PathBuf, why: String) {
    if let Ok(mut refused) = REFUSED.lock() {
        refused.get_or_insert((path, why));
    }
}

/// Why git was not run, or was stopped, in this process (see [`run`]).
pub(crate) fn refusal() -> Option<(PathBuf, String)> {
    REFUSED.lock().ok()?.clone()
}

/// A config file git reads on every start for `dir` that exists and is
/// neither a regular file nor a folder, and what it is. Git opens and reads these without a check,
/// so a FIFO among them blocks it forever. The system file is looked for where
/// Debian's git and a git built under the `PATH` entry's prefix keep it; the
/// repository's own `config` where a `.git` at or above `dir` leads.
fn blocking_config(dir: &Path) -> Option<(PathBuf, String)> {
    static GLOBAL: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    let global = GLOBAL.get_or_init(|| {
        let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let mut files = Vec::new();
        if std::env::var_os("GIT_CONFIG_NOSYSTEM").is_none() {
            match env("GIT_CONFIG_SYSTEM") {
                Some(system) => files.push(system),
                None => {
                    files.push(PathBuf::from("/etc/gitconfig"));
                    let on_path = std::env::var_os("PATH")
                        .into_iter()
                        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>());
                    if let Some(bin) = on_path.into_iter().find(|bin| bin.join("git").is_file())
                        && let Some(prefix) = bin.parent()
                    {
                        files.push(prefix.join("etc/gitconfig"));
                    }
                }
            }
        }
        match env("GIT_CONFIG_GLOBAL") {
            Some(global) => files.push(global),
            None => {
                let (home, xdg) = crate::walk::config_dirs();
                files.extend(xdg.map(|x| x.join("git/config")));
                files.extend(home.map(|h| h.join(".gitconfig")));
            }
        }
        files
    });
    let local = dir.ancestors().map(|d| d.join(".git")).find(|git| git.symlink_metadata().is_ok());
    let local = local.map(|git| match std::fs::metadata(&git) {
        Ok(meta) if meta.is_dir() => git.join("config"),
        // A `.git` file (worktree, submodule) is looked at itself; the
        // config it leads to is not followed.
        _ => git,
    });
    global.iter().chain(local.iter()).find_map(|file| {
        let meta = std::fs::metadata(file).ok()?;
        let kind = not_regular(&meta)?;
        Some((file.clone(), format!("a {kind}, not a regular file")))
    })
}

/// What `meta` is when it is neither a regular file nor a folder (git reads
/// neither kind of those with a wait).
fn not_regular(meta: &std::fs::Metadata) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    let kind = meta.file_type();
    if kind.is_file() || kind.is_dir() {
        None
    } else if kind.is_fifo() {
        Some("FIFO")
    } else if kind.is_socket() {
        Some("socket")
    } else {
        Some("device")
    }
}

/// The top level of the work tree `dir` is in.
pub(crate) fn top_level(dir: &Path) -> Option<PathBuf> {
    let out = run(dir, &["rev-parse", "--show-toplevel"])?;
    let top = out.trim_end_matches(['\n', '\r']);
    (!top.is_empty()).then(|| PathBuf::from(top))
}

/// One entry of `git diff/log --name-status -z`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// Added, modified, type-changed…: the path as it is now.
    Changed(String),
    /// Deleted.
    Deleted(String),
    /// Renamed (or copied, `copy` set) from `old` to `new`.
    Moved { old: String, new: String, copy: bool },
}

/// Parses `--name-status -z` output: a status token, then one path (two for
/// renames and copies). `git log --format=` puts a newline before each
/// commit's first token, which is not part of it.
pub(crate) fn parse_name_status(text: &str) -> Vec<Status> {
    let mut out = Vec::new();
    let mut tokens = text.split('\0').map(|t| t.trim_start_matches('\n')).filter(|t| !t.is_empty());
    while let Some(status) = tokens.next() {
        match status.as_bytes().first() {
            Some(b'R' | b'C') => {
                let (Some(old), Some(new)) = (tokens.next(), tokens.next()) else { break };
                let copy = status.starts_with('C');
                out.push(Status::Moved { old: old.to_owned(), new: new.to_owned(), copy });
            }
            Some(b'D') => {
                if let Some(path) = tokens.next() {
                    out.push(Status::Deleted(path.to_owned()));
                }
            }
            Some(_) => {
                if let Some(path) = tokens.next() {
                    out.push(Status::Changed(path.to_owned()));
                }
            }
            None => {}
        }
    }
    out
}

/// Where `root` is in its git work tree (`docs/`, or empty at the top);
/// `None` outside a repository. Asked of git once per root and process, and
/// not at all where no `.git` is at or above `root` and `GIT_DIR` is unset
/// (a tarball's tree spawns no git for its fix proposals).
fn prefix(root: &Path) -> Option<String> {
    static PREFIXES: std::sync::Mutex<Vec<(PathBuf, Option<String>)>> =
        std::sync::Mutex::new(Vec::new());
    let mut known = PREFIXES.lock().ok()?;
    if let Some((_, prefix)) = known.iter().find(|(r, _)| r == root) {
        return prefix.clone();
    }
    let prefix = in_repository(root)
        .then(|| run(root, &["rev-parse", "--show-prefix"]))
        .flatten()
        .map(|p| p.trim_end_matches(['\n', '\r']).to_owned());
    known.push((root.to_path_buf(), prefix.clone()));
    prefix
}

/// Whether `root` may be in a git repository: `GIT_DIR` is set, or a `.git`
/// is at or above it. Without either, no git is spawned.
fn in_repository(root: &Path) -> bool {
    std::env::var_os("GIT_DIR").is_some()
        || root.ancestors().any(|dir| dir.join(".git").symlink_metadata().is_ok())
}

/// The git directory of the repository `root` is in and its `HEAD` commit
/// (`None` outside one, or before its first commit).
pub(crate) fn head(root: &Path) -> Option<(PathBuf, String)> {
    if !in_repository(root) {
        return None;
    }
    let out = run(root, &["rev-parse", "--absolute-git-dir", "HEAD"])?;
    let mut lines = out.lines();
    let git_dir = PathBuf::from(lines.next()?);
    Some((git_dir, lines.next()?.to_owned()))
}

/// Renames recorded in git, old → new, relative to `root`: uncommitted ones
/// (staged or not) first, then history newest first; the latest rename of a
/// path wins. Empty when `root` is not in a repository or git is missing.
pub(crate) fn renames(root: &Path) -> HashMap<String, String> {
    let mut renames = HashMap::default();
    let Some(prefix) = prefix(root) else { return renames };
    let quiet = ["-c", "core.quotePath=false"];
    let pending = [&quiet[..], &PENDING_RENAMES].concat();
    let history =
        [&quiet[..], &["log", "-M", "--name-status", "--format=", "-z", "--diff-filter=R"]]
            .concat();
    for args in [pending, history] {
        for status in parse_name_status(&run(root, &args).unwrap_or_default()) {
            if let Status::Moved { old, new, copy: false } = status
                && let (Some(old), Some(new)) =
                    (old.strip_prefix(prefix.as_str()), new.strip_prefix(prefix.as_str()))
            {
                renames.entry(old.to_owned()).or_insert_with(|| new.to_owned());
            }
        }
    }
    renames
}

/// `git diff` of the renames not committed yet: compared with the work tree,
/// so whether git pairs an old path with a new one depends on the new file's
/// bytes, which no page's check reads.
const PENDING_RENAMES: [&str; 6] = ["diff", "HEAD", "-M", "--name-status", "-z", "--diff-filter=R"];

/// What git says of the renames not committed yet under `root`, as text
/// (empty outside a repository): what a fix proposal from renames depends on
/// beyond `HEAD`.
pub(crate) fn pending_renames(root: &Path) -> String {
    if prefix(root).is_none() {
        return String::new();
    }
    let quiet = ["-c", "core.quotePath=false"];
    run(root, &[&quiet[..], &PENDING_RENAMES].concat()).unwrap_or_default()
}

/// Files (relative to `root`) changed recently: uncommitted changes, and the
/// last [`RECENT_COMMITS`] commits, each with the commit that last changed it
/// (`None`: uncommitted). Two git runs, whatever the size of the tree; empty
/// outside a repository.
pub(crate) fn recent_changes(root: &Path) -> HashMap<String, Option<String>> {
    let mut out = HashMap::default();
    let Some(prefix) = prefix(root) else { return out };
    let quiet = ["-c", "core.quotePath=false"];
    let pending = [&quiet[..], &["diff", "HEAD", "--name-only", "-z", "--relative"]].concat();
    for path in run(root, &pending).unwrap_or_default().split('\0').filter(|p| !p.is_empty()) {
        out.insert(path.to_owned(), None);
    }
    let count = format!("-{RECENT_COMMITS}");
    let log = [&quiet[..], &["log", &count, "--name-only", "--format=%x01%H", "-z"]].concat();
    let mut commit: Option<String> = None;
    for token in run(root, &log).unwrap_or_default().split('\0') {
        for part in token.split('\n').filter(|p| !p.is_empty()) {
            if let Some(hash) = part.strip_prefix('\u{1}') {
                commit = Some(hash.to_owned());
            } else if let Some(rel) = part.strip_prefix(prefix.as_str()) {
                out.entry(rel.to_owned()).or_insert_with(|| commit.clone());
            }
        }
    }
    out
}

/// How far back [`recent_changes`] looks.
pub(crate) const RECENT_COMMITS: usize = 200;

/// The text of `path` (relative to `root`) before its change `changed_in`
/// (from [`recent_changes`]): the committed version for an uncommitted
/// change, else the version before that commit.
pub(crate) fn previous_version(
    root: &Path,
    path: &str,
    changed_in: Option<&str>,
) -> Option<String> {
    let rev = match changed_in {
        None => "HEAD".to_owned(),
        Some(commit) => format!("{commit}^"),
    };
    run(root, &["show", &format!("{rev}:./{path}")])
}

/// Paths changed since a revision, relative to the root.
#[derive(Debug, Default)]
pub(crate) struct Touched {
    /// Added or modified files (checked themselves).
    pub(crate) changed: HashSet<String>,
    /// Every changed, added, deleted or renamed path (old and new).
    pub(crate) touched: HashSet<String>,
    /// Renamed files, old path → new path.
    pub(crate) renamed: HashMap<String, String>,
    /// Paths that are gone since the revision: deleted, or renamed away.
    pub(crate) gone: HashSet<String>,
}

/// What changed since `rev`: committed, staged, unstaged and untracked.
pub(crate) fn changed_since(root: &Path, rev: &str) -> Result<Touched, Error> {
    let verify = format!("{rev}^{{commit}}");
    if run(root, &["rev-parse", "--verify", "--quiet", &verify]).is_none() {
        let why = match refusal() {
            Some((path, why)) => format!("{}: {why}", path.display()),
            None => format!("`{rev}` is not a revision of a git repository at {}", root.display()),
        };
        return Err(Error::git(format!("rev-parse {rev}"), why));
    }
    let diff = run(
        root,
        &["-c", "core.quotePath=false", "diff", "--name-status", "-M", "--relative", "-z", rev],
    )
    .ok_or_else(|| Error::git(format!("diff {rev}"), "cannot list changed files"))?;
    let untracked =
        run(root, &["ls-files", "--others", "--exclude-standard", "-z"]).unwrap_or_default();
    let mut touched = Touched::default();
    for status in parse_name_status(&diff) {
        match status {
            Status::Moved { old, new, copy } => {
                if !copy {
                    touched.gone.insert(old.clone());
                    touched.renamed.insert(old.clone(), new.clone());
                }
                touched.touched.insert(old);
                touched.touched.insert(new.clone());
                touched.changed.insert(new);
            }
            Status::Deleted(path) => {
                touched.gone.insert(path.clone());
                touched.touched.insert(path);
            }
            Status::Changed(path) => {
                touched.touched.insert(path.clone());
                touched.changed.insert(path);
            }
        }
    }
    for path in untracked.split('\0').filter(|t| !t.is_empty()) {
        touched.touched.insert(path.to_owned());
        touched.changed.insert(path.to_owned());
    }
    Ok(touched)
}

/// Writes the files of the root as they were at `rev` into the empty
/// directory `dest`, without touching the repository's index or work tree (a
/// throwaway index file in `scratch`). `Ok(false)`: the root did not exist at
/// `rev`, so nothing was written.
pub(crate) fn tree_at(root: &Path, rev: &str, scratch: &Path, dest: &Path) -> Result<bool, Error> {
    let prefix = run(root, &["rev-parse", "--show-prefix"])
        .ok_or_else(|| Error::git("rev-parse --show-prefix", "not in a git repository"))?;
    let prefix = prefix.trim_end_matches(['\n', '\r']).trim_end_matches('/');
    let tree =
        if prefix.is_empty() { format!("{rev}^{{tree}}") } else { format!("{rev}:{prefix}") };
    if run(root, &["cat-file", "-t", &tree]).is_none_or(|kind| kind.trim() != "tree") {
        return Ok(false);
    }
    let index = scratch.join("index");
    // From a subdirectory, `checkout-index --all` would write only the index
    // entries under it: run at the top, where the index holds the root's files.
    let top = top_level(root).unwrap_or_else(|| root.to_path_buf());
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(&top)
            .args(args)
            .env("GIT_INDEX_FILE", &index)
            .output()
            .map_err(|e| Error::git(args.join(" "), format!("cannot run git: {e}")))
            .and_then(|out| {
                if out.status.success() {
                    Ok(())
                } else {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    Err(Error::git(args.join(" "), stderr.trim().to_owned()))
                }
            })
    };
    git(&["read-tree", &tree])?;
    // `--prefix` is where the files go: the destination, with a trailing slash.
    let prefix = format!("--prefix={}/", dest.display());
    git(&["checkout-index", "--all", "--force", &prefix])?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_status_of_diff_and_log() {
        let text = "M\0a.md\0R100\0old.md\0new dir/new.md\0\nD\0gone.md\0C075\0x.md\0y.md\0A\0";
        assert_eq!(
            parse_name_status(text),
            [
                Status::Changed("a.md".into()),
                Status::Moved { old: "old.md".into(), new: "new dir/new.md".into(), copy: false },
                Status::Deleted("gone.md".into()),
                Status::Moved { old: "x.md".into(), new: "y.md".into(), copy: true },
            ]
        );
        assert!(parse_name_status("").is_empty());
    }
}
