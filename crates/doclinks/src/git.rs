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
/// a config file it would read is not a regular file, refuses the repository
/// (another user's, without `safe.directory`), or does not answer in
/// [`GIT_TIMEOUT`] (then it is killed). The last three are recorded for
/// [`refusal`].
pub(crate) fn run(dir: &Path, args: &[&str]) -> Option<String> {
    if refusal().is_some() {
        // Once refused or stopped, git is not asked again: a second wait
        // for a git that hangs helps nobody.
        return None;
    }
    if let Some((file, why)) = blocking_config(dir) {
        refuse(file, format!("git is not run: {why}; renames and the git state are unknown"));
        return None;
    }
    let mut child = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let (mut stdout, stderr) = (child.stdout.take()?, child.stderr.take()?);
    // The output is read on a thread so that the wait for it can end: git
    // blocked on a file it opens (a FIFO somewhere in its config or
    // repository) would otherwise hang the check. Standard error has a thread
    // of its own, so that neither pipe can fill while the other is read.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = stdout.read_to_end(&mut out).map(|_| out);
        let _ = sender.send(read);
    });
    let (said_sender, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stderr = stderr;
        let mut text = Vec::new();
        // What git says is a few lines: more is read (git must not block on a
        // full pipe) but not kept.
        let _ = (&mut stderr).take(16 * 1024).read_to_end(&mut text);
        let _ = said_sender.send(String::from_utf8_lossy(&text).into_owned());
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    });
    match receiver.recv_timeout(GIT_TIMEOUT) {
        Ok(out) => {
            let status = child.wait().ok()?;
            if status.success() {
                return String::from_utf8(out.ok()?).ok();
            }
            // git has exited; a process it left behind may hold the pipe
            // open, so the wait for its words is short.
            let said = said.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
            // Every later command would be refused the same way; the check
            // says why once instead of losing renames and revisions quietly.
            // The config key is in git's message in every language.
            if said.contains("safe.directory") {
                let reason = said.lines().next().unwrap_or_default().trim();
                let reason = reason.strip_prefix("fatal: ").unwrap_or(reason);
                refuse(
                    dir.to_path_buf(),
                    format!(
                        "git refuses the repository ({reason}); renames and the git state are unknown"
                    ),
                );
            }
            None
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

/// A file git opens on every start for `dir` that exists and is neither a
/// regular file nor a folder, and what it is: its config files, and the
/// repository's `.git`, `config`, `HEAD`, `index` and `packed-refs`. Git opens
/// and reads these without a check, so a FIFO among them blocks it forever.
/// The system config is looked for where Debian's git and a git built under
/// the `PATH` entry's prefix keep it.
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
                    let bin = std::env::var_os("PATH").and_then(|paths| {
                        std::env::split_paths(&paths).find(|bin| bin.join("git").is_file())
                    });
                    files.extend(
                        bin.as_deref().and_then(Path::parent).map(|p| p.join("etc/gitconfig")),
                    );
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
    let mut local = Vec::new();
    if let Some(top) = dir.ancestors().find(|d| d.join(".git").symlink_metadata().is_ok()) {
        // The `.git` itself, then the files git opens in every repository
        // it starts in: config, HEAD, index, packed refs.
        local.push(top.join(".git"));
        match repository_at(top) {
            Ok(Some(repository)) => {
                let (git, common) = (&repository.git_dir, &repository.common_dir);
                local.extend([git.join("config"), git.join("HEAD"), git.join("index")]);
                local.extend([common.join("config"), common.join("packed-refs")]);
            }
            Ok(None) => {}
            Err(why) => return Some((top.join(".git"), why)),
        }
    }
    global.iter().chain(local.iter()).find_map(|file| {
        let meta = std::fs::metadata(file).ok()?;
        let kind = not_regular(&meta)?;
        Some((file.clone(), format!("this is a {kind}, not a regular file")))
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

/// The top level of the work tree `dir` is in: the nearest folder at or
/// above it whose `.git` leads to a git directory (one with a `HEAD`), as git
/// finds it. Git itself is asked only where the environment or the
/// repository's config can move the work tree ([`discovery_overridden`],
/// `core.worktree`): a check of a tree in a repository then spawns no git to
/// find its root.
pub(crate) fn top_level(dir: &Path) -> Option<PathBuf> {
    if !discovery_overridden() {
        let repository = nearest_repository(dir)?;
        if !repository.moves_work_tree() {
            return Some(repository.top);
        }
    }
    let out = run(dir, &["rev-parse", "--show-toplevel"])?;
    let top = out.trim_end_matches(['\n', '\r']);
    (!top.is_empty()).then(|| PathBuf::from(top))
}

/// The repository at or above `dir`, as git discovers it: the nearest `.git`
/// that leads to a git directory with a `HEAD` (an empty `.git` folder is
/// passed by).
fn nearest_repository(dir: &Path) -> Option<Repository> {
    dir.ancestors()
        .find_map(|d| repository_at(d).ok().flatten().filter(|r| r.git_dir.join("HEAD").exists()))
}

/// Whether an environment variable changes where git finds the repository
/// or its work tree, so that only git can say.
fn discovery_overridden() -> bool {
    ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_CEILING_DIRECTORIES"]
        .iter()
        .any(|name| std::env::var_os(name).is_some())
        || std::env::var_os("GIT_DISCOVERY_ACROSS_FILESYSTEM").is_some()
}

/// A work tree's git folders, found from its `.git` as git finds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Repository {
    /// The folder holding `.git`.
    pub(crate) top: PathBuf,
    /// Where `HEAD` and `index` are: `.git` itself, or the folder a
    /// worktree's or submodule's `.git` file names (`gitdir: DIR`, relative to
    /// the file's folder).
    pub(crate) git_dir: PathBuf,
    /// Where the refs and `info/exclude` are: the folder `git_dir/commondir`
    /// names (a linked worktree), else `git_dir`.
    pub(crate) common_dir: PathBuf,
}

impl Repository {
    /// Whether its config may set `core.worktree` (the word, in any ASCII
    /// case): then the work tree is not `top`. An unreadable config may not.
    fn moves_work_tree(&self) -> bool {
        tidy_io::read_file(&self.git_dir.join("config"), 1 << 20)
            .is_ok_and(|text| text.windows(8).any(|w| w.eq_ignore_ascii_case(b"worktree")))
    }
}

/// The repository whose `.git` is in `dir` itself, if any. `Err` describes
/// a file on the way (the `.git` file, `commondir`) that is not a regular
/// file; such files are read regular-only and capped, never waited on.
pub(crate) fn repository_at(dir: &Path) -> Result<Option<Repository>, String> {
    const LIMIT: u64 = 64 * 1024;
    let dot_git = dir.join(".git");
    let Ok(meta) = std::fs::metadata(&dot_git) else { return Ok(None) };
    let first_line = |path: &Path| match tidy_io::read_file(path, LIMIT) {
        Ok(bytes) => {
            let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
            Ok(Some(String::from_utf8_lossy(line).trim_end_matches('\r').to_owned()))
        }
        Err(tidy_io::Error::NotRegular { kind, .. }) => {
            Err(format!("{} is a {kind}, not a regular file", path.display()))
        }
        Err(_) => Ok(None),
    };
    let git_dir = if meta.is_dir() {
        dot_git
    } else {
        let Some(line) = first_line(&dot_git)? else { return Ok(None) };
        let Some(named) = line.strip_prefix("gitdir: ") else { return Ok(None) };
        dir.join(named)
    };
    let common_dir = match first_line(&git_dir.join("commondir"))? {
        Some(common) => git_dir.join(common),
        None => git_dir.clone(),
    };
    Ok(Some(Repository { top: dir.to_path_buf(), git_dir, common_dir }))
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
    let prefix = prefix_of_files(root).or_else(|| {
        in_repository(root)
            .then(|| run(root, &["rev-parse", "--show-prefix"]))
            .flatten()
            .map(|p| p.trim_end_matches(['\n', '\r']).to_owned())
    });
    known.push((root.to_path_buf(), prefix.clone()));
    prefix
}

/// `--show-prefix` from the real path of `root` and its [`top_level`], where
/// git is not needed for that; `None` where it is, or outside a repository,
/// or for a path that is not UTF-8 (git then says what it is).
fn prefix_of_files(root: &Path) -> Option<String> {
    if discovery_overridden() {
        return None;
    }
    let real = std::fs::canonicalize(root).ok()?;
    let top = std::fs::canonicalize(top_level(&real)?).ok()?;
    let inside = real.strip_prefix(&top).ok()?.to_str()?;
    Some(if inside.is_empty() { String::new() } else { format!("{inside}/") })
}

/// Whether `root` may be in a git repository: `GIT_DIR` is set, or a `.git`
/// is at or above it. Without either, no git is spawned.
fn in_repository(root: &Path) -> bool {
    std::env::var_os("GIT_DIR").is_some()
        || root.ancestors().any(|dir| dir.join(".git").symlink_metadata().is_ok())
}

/// What a check's results depend on of the repository `root` is in: the
/// commit checked out and the index. See [`head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// `HEAD`'s text (a branch's name, or a commit), or the commit git names.
    pub(crate) text: Vec<u8>,
    /// Files whose stamps change whenever that commit or the index may have:
    /// the index, and for a branch every place its ref can be kept (the loose
    /// ref, `packed-refs`, reftable's `tables.list`).
    pub(crate) stamped: Vec<PathBuf>,
}

/// The checked-out commit and index of the repository `root` is in (`None`
/// outside one), read from its files without running git, as precisely as a
/// cache key needs: what may have moved changes a stamp. Git is asked only
/// where the environment moves the repository ([`discovery_overridden`]).
pub(crate) fn head(root: &Path) -> Option<Head> {
    if discovery_overridden() {
        if !in_repository(root) {
            return None;
        }
        let out = run(root, &["rev-parse", "--absolute-git-dir", "HEAD"])?;
        let mut lines = out.lines();
        let git_dir = PathBuf::from(lines.next()?);
        let text = lines.next()?.as_bytes().to_vec();
        return Some(Head { text, stamped: vec![git_dir.join("index")] });
    }
    let repository = nearest_repository(root)?;
    let text = tidy_io::read_file(&repository.git_dir.join("HEAD"), 64 * 1024).ok()?;
    let mut stamped = vec![repository.git_dir.join("index")];
    if let Some(name) = text.strip_prefix(b"ref: ") {
        let name = String::from_utf8_lossy(name.trim_ascii_end());
        let common = &repository.common_dir;
        stamped.push(common.join(&*name));
        stamped.push(common.join("packed-refs"));
        stamped.push(common.join("reftable").join("tables.list"));
    }
    Some(Head { text, stamped })
}

/// What the fix proposals take from git for the tree at `root`, relative to
/// it. Empty when `root` is not in a repository or git is missing.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// Renames, old → new: uncommitted ones (staged or not) first, then those
    /// of the last [`RENAME_COMMITS`] commits newest first; the latest rename
    /// of a path wins.
    pub(crate) renames: HashMap<String, String>,
    /// Files changed recently, each with the commit that last changed it
    /// (`None`: uncommitted): uncommitted changes, and the last
    /// [`RECENT_COMMITS`] commits.
    pub(crate) recent: HashMap<String, Option<String>>,
}

/// Reads [`History`] with two git runs, whatever the size of the tree: a
/// diff of the uncommitted changes and one walk of the last
/// [`RENAME_COMMITS`] commits, each giving both renames and changed files.
pub(crate) fn history(root: &Path) -> History {
    let mut history = History::default();
    let Some(prefix) = prefix(root) else { return history };
    let relative = |path: &str| path.strip_prefix(prefix.as_str()).map(str::to_owned);
    let quiet = ["-c", "core.quotePath=false"];
    // One diff for both: the uncommitted renames, and every path changed
    // (a renamed file by its new path, as `--name-only` gives it).
    let uncommitted = [&quiet[..], &["diff", "HEAD", "-M", "--name-status", "-z"]].concat();
    for change in parse_name_status(&run(root, &uncommitted).unwrap_or_default()) {
        let now = path_now(change, &relative, &mut history.renames);
        if let Some(now) = relative(&now) {
            history.recent.insert(now, None);
        }
    }
    // `-n` without `--diff-filter=R`: with the filter, git counts only the
    // commits that renamed something, and walks the whole history for them.
    let count = format!("-{RENAME_COMMITS}");
    let log =
        [&quiet[..], &["log", "-M", &count, "--name-status", "--format=%x01%H", "-z"]].concat();
    let text = run(root, &log).unwrap_or_default();
    for (index, (commit, changes)) in parse_log(&text).into_iter().enumerate() {
        for change in changes {
            let now = path_now(change, &relative, &mut history.renames);
            if index < RECENT_COMMITS
                && let Some(now) = relative(&now)
            {
                history.recent.entry(now).or_insert_with(|| Some(commit.to_owned()));
            }
        }
    }
    history
}

/// The path a change leaves (a renamed or copied file's new one), noting a
/// rename under the root in `renames` unless an earlier one of the same path
/// was (the newest is read first).
fn path_now(
    change: Status,
    relative: &impl Fn(&str) -> Option<String>,
    renames: &mut HashMap<String, String>,
) -> String {
    match change {
        Status::Moved { old, new, copy } => {
            if !copy && let (Some(old), Some(new)) = (relative(&old), relative(&new)) {
                renames.entry(old).or_insert(new);
            }
            new
        }
        Status::Changed(path) | Status::Deleted(path) => path,
    }
}

/// Parses `log --name-status --format=%x01%H -z`: each commit's hash (after
/// `\x01`, up to a NUL), then its changes as [`parse_name_status`] reads them.
pub(crate) fn parse_log(text: &str) -> Vec<(&str, Vec<Status>)> {
    text.split('\u{1}')
        .filter(|commit| !commit.is_empty())
        .map(|commit| {
            let (hash, changes) = commit.split_once('\0').unwrap_or((commit, ""));
            (hash, parse_name_status(changes))
        })
        .collect()
}

/// How far back [`History::renames`] looks. Rename detection is most of what a
/// history walk costs: MicrosoftDocs/cpp-docs' 22,920 commits take 5.9 s (its
/// old reorganizations moved tens of thousands of files), the last 1,000 of
/// them 0.06 s; the Rust book's last 1,000 span two years. A link broken by an
/// older rename gets the other kinds of proposal.
pub(crate) const RENAME_COMMITS: usize = 1000;

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

/// How far back [`History::recent`] looks.
pub(crate) const RECENT_COMMITS: usize = 200;

/// The text of `path` (relative to `root`) before its change `changed_in`
/// (from [`History::recent`]): the committed version for an uncommitted
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

    #[test]
    fn a_log_of_commits_and_their_changes() {
        let text = "\u{1}aaa\0\u{1}bbb\0\nM\0a.md\0R090\0old.md\0new.md\0\u{1}ccc\0\nD\0gone.md\0";
        assert_eq!(
            parse_log(text),
            [
                ("aaa", vec![]),
                (
                    "bbb",
                    vec![
                        Status::Changed("a.md".into()),
                        Status::Moved { old: "old.md".into(), new: "new.md".into(), copy: false },
                    ]
                ),
                ("ccc", vec![Status::Deleted("gone.md".into())]),
            ]
        );
        assert!(parse_log("").is_empty());
    }

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t.test", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    #[test]
    fn the_top_level_and_git_folders_are_found_as_git_finds_them() {
        let temp = tempfile::tempdir().unwrap();
        let main = temp.path().join("main");
        std::fs::create_dir_all(main.join("docs/deep")).unwrap();
        git(&main, &["init", "-q"]);
        git(&main, &["commit", "-q", "--allow-empty", "-m", "one"]);
        // A `.git` folder without a HEAD is not a repository, to git or here.
        std::fs::create_dir(main.join("docs/.git")).unwrap();
        let deep = main.join("docs/deep");
        assert_eq!(top_level(&deep), Some(main.clone()));
        assert_eq!(
            run(&deep, &["rev-parse", "--show-toplevel"]).unwrap().trim(),
            main.to_str().unwrap()
        );
        for dir in [&deep, &main] {
            let asked = run(dir, &["rev-parse", "--show-prefix"]).unwrap();
            assert_eq!(prefix_of_files(dir).as_deref(), Some(asked.trim_end()), "{dir:?}");
        }

        // A linked worktree: a `.git` file, a `commondir` back to the main one.
        let linked = temp.path().join("linked");
        git(&main, &["worktree", "add", "-q", linked.to_str().unwrap()]);
        let repository = repository_at(&linked).unwrap().unwrap();
        assert_eq!(top_level(&linked), Some(linked.clone()));
        let canonical = |p: &Path| std::fs::canonicalize(p).unwrap();
        assert_eq!(canonical(&repository.common_dir), canonical(&main.join(".git")));
        assert_eq!(
            canonical(&repository.git_dir).parent(),
            Some(&*canonical(&main.join(".git/worktrees")))
        );

        // A relative `gitdir:`, as a submodule's, is read from the file's folder.
        let sub = main.join("sub");
        std::fs::create_dir_all(main.join(".git/modules/sub")).unwrap();
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join(".git"), "gitdir: ../.git/modules/sub\n").unwrap();
        let repository = repository_at(&sub).unwrap().unwrap();
        assert_eq!(repository.git_dir, sub.join("../.git/modules/sub"));
        assert_eq!(repository.common_dir, repository.git_dir);
    }

    #[test]
    fn the_head_state_moves_with_every_commit_and_checkout() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        std::fs::create_dir(dir.join("docs")).unwrap();
        git(dir, &["init", "-q", "-b", "main"]);
        let docs = dir.join("docs");
        let key = || {
            let head = head(&docs).expect("in a repository");
            let stamps: Vec<_> = head
                .stamped
                .iter()
                .map(|f| {
                    std::fs::symlink_metadata(f).ok().map(|m| crate::cache::Stamp::of_metadata(&m))
                })
                .collect();
            (head.text, stamps)
        };
        let before_any = key();
        git(dir, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let one = key();
        assert_ne!(one, before_any);
        git(dir, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let two = key();
        assert_ne!(two, one);
        git(dir, &["pack-refs", "--all"]);
        assert_ne!(key(), two, "a ref moved into packed-refs");
        git(dir, &["checkout", "-q", "--detach", "HEAD~1"]);
        assert_eq!(head(&docs).unwrap().text.len(), 41, "a detached HEAD is a commit");
    }
}
