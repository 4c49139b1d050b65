//! The walk of a tree: every file and directory below the root that is not
//! ignored, hidden or vendored, found by listing each directory once through
//! a handle opened from its parent's (`openat`, never through a symlink).
//!
//! What is ignored is what the `ignore` crate's walker (ripgrep's) ignores with
//! hidden files skipped, no git repository required and rules from the root's
//! parents on: `.ignore`, then `.gitignore`, then git's `info/exclude`, then
//! the global excludes file, each file's rules nearer the entry winning. Its
//! matchers ([`Gitignore`]) are used for the rules themselves; the walk is
//! ours because that walker pays for the checks again in every directory
//! (ignore files probed by path, a second thread pool), and so cost half of a
//! check of a tree of many small folders (the Rust book's code listings). A
//! property test holds the two walks to the same entries.
//!
//! Ignore files are read with the tree's other files' rules: only regular
//! files, never blocking. A directory whose ignore file is a FIFO or a device
//! is not entered (its rules cannot be known), with a warning; at the root or
//! above it, that is an error.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};
use tidy_io::EntryKind;

use crate::error::Error;
use crate::report::Warning;
use crate::tree::VENDORED;

/// What a walk found: root-relative `/`-separated paths with whether each is
/// a directory (unsorted), the directories it could not list, and the
/// entries of listed directories it left out (ignored, hidden, vendored,
/// or a directory whose ignore files could not be read), in ASCII
/// lowercase. With them, a path in a listed directory that is neither
/// found nor left out is known not to exist, without asking the disk.
#[derive(Default)]
pub(crate) struct Walked {
    pub(crate) entries: Vec<(String, bool)>,
    pub(crate) unreadable: Vec<String>,
    pub(crate) left_out: Vec<String>,
    /// Symlinks listed as files that lead to no file (dangling, or a loop):
    /// listed, as the crate lists them; the tree leaves them out.
    pub(crate) dangling: Vec<String>,
}

/// Walks the tree at `root` (canonical, opened as `handle`) on the rayon pool;
/// ignore files are read up to `limit` bytes.
pub(crate) fn walk(
    root: &Path,
    handle: &tidy_io::Dir,
    limit: u64,
    warnings: &Mutex<Vec<Warning>>,
) -> Result<Walked, Error> {
    let walker = Walker { root, limit, global: global_rules(), found: Mutex::default(), warnings };
    let fatal = |problem: String| {
        Error::input(format!(
            "cannot walk {}: {problem}; the ignore rules there cannot be read",
            root.display()
        ))
    };
    // The root's parents, outermost first: their rules apply below too.
    let mut rules: Option<Arc<Level>> = None;
    let mut parents: Vec<&Path> = root.ancestors().skip(1).collect();
    parents.reverse();
    for dir in parents {
        let present = Present::probe(dir);
        match walker.level(dir, &present, rules.clone()) {
            Ok(level) => rules = level,
            Err(problem) => return Err(fatal(problem)),
        }
    }
    let root_dir = handle.try_clone().map_err(Error::from)?;
    let mut listing = Vec::new();
    if let Err(e) = root_dir.list(|name, kind| listing.push((name.to_owned(), kind))) {
        return Err(Error::from(e));
    }
    let rules = walker.level(root, &Present::of(&listing), rules).map_err(fatal)?;
    rayon::scope(|scope| {
        walker.descend(scope, &Arc::new(root_dir), "", &listing, rules.as_ref());
    });
    Ok(walker.found.into_inner().expect("walk results lock"))
}

struct Walker<'w> {
    root: &'w Path,
    limit: u64,
    global: Gitignore,
    found: Mutex<Walked>,
    warnings: &'w Mutex<Vec<Warning>>,
}

/// The rules of one directory's ignore files, and those of the directories
/// above it that have any. A directory without ignore files adds no level.
struct Level {
    ignore: Gitignore,
    gitignore: Gitignore,
    exclude: Gitignore,
    parent: Option<Arc<Level>>,
}

/// Which ignore files a directory has, by name.
#[derive(Default)]
struct Present {
    ignore: bool,
    gitignore: bool,
    git: bool,
}

impl Present {
    fn of(listing: &[(std::ffi::OsString, EntryKind)]) -> Present {
        let mut present = Present::default();
        for (name, _) in listing {
            match name.as_bytes() {
                b".ignore" => present.ignore = true,
                b".gitignore" => present.gitignore = true,
                b".git" => present.git = true,
                _ => {}
            }
        }
        present
    }

    /// For a directory above the root, not listed: asked by path (followed
    /// through symlinks, as the crate asks).
    fn probe(dir: &Path) -> Present {
        let exists = |name: &str| std::fs::symlink_metadata(dir.join(name)).is_ok();
        Present { ignore: exists(".ignore"), gitignore: exists(".gitignore"), git: exists(".git") }
    }
}

impl<'w> Walker<'w> {
    /// The entries of the directory `rel` (listed as `listing`, open as
    /// `dir`) that the rules keep, recorded; each kept directory walked as a
    /// task of its own.
    fn descend<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        dir: &Arc<tidy_io::Dir>,
        rel: &str,
        listing: &[(std::ffi::OsString, EntryKind)],
        rules: Option<&Arc<Level>>,
    ) {
        let mut files = Vec::new();
        let mut left_out = Vec::new();
        let mut dangling = Vec::new();
        for (name, kind) in listing {
            let is_dir = *kind == EntryKind::Directory;
            // Not UTF-8: no link (a UTF-8 path) names it, so it need not be
            // counted as left out.
            let Some(name) = name.to_str() else {
                let path = self.root.join(rel).join(name);
                self.warn(path, "file name is not UTF-8; skipped".to_owned());
                continue;
            };
            // Built by hand, not `format!`: once per file of the tree.
            let mut child = String::with_capacity(rel.len() + 1 + name.len());
            if !rel.is_empty() {
                child.push_str(rel);
                child.push('/');
            }
            child.push_str(name);
            let kept = match self.matched(rules, &child, is_dir) {
                Match::Ignore(_) => false,
                Match::None => !name.starts_with('.'),
                Match::Whitelist(_) => true,
            };
            if !kept || (is_dir && VENDORED.contains(&name)) {
                left_out.push(child.to_ascii_lowercase());
                continue;
            }
            if !is_dir {
                if *kind == EntryKind::Symlink && std::fs::metadata(self.root.join(&child)).is_err()
                {
                    dangling.push(child.clone());
                }
                files.push((child, false));
                continue;
            }
            let (dir, rules) = (Arc::clone(dir), rules.cloned());
            let name = name.to_owned();
            scope.spawn(move |scope| self.enter(scope, &dir, &name, child, rules));
        }
        let mut found = self.found.lock().expect("walk results lock");
        found.entries.append(&mut files);
        found.left_out.append(&mut left_out);
        found.dangling.append(&mut dangling);
    }

    /// Opens and lists the directory `name` of `parent` (at `rel`), reads its
    /// ignore files, records it and walks on below it.
    fn enter<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        parent: &tidy_io::Dir,
        name: &str,
        rel: String,
        rules: Option<Arc<Level>>,
    ) {
        let mut listing = Vec::new();
        let opened = parent.open_subdir(OsStr::new(name)).and_then(|dir| {
            dir.list(|name, kind| listing.push((name.to_owned(), kind)))?;
            Ok(dir)
        });
        let dir = match opened {
            Ok(dir) => dir,
            Err(e) => {
                self.warn(
                    self.root.join(&rel),
                    format!(
                        "cannot read the directory: {}; links into it are not checked",
                        why(&e)
                    ),
                );
                let mut found = self.found.lock().expect("walk results lock");
                found.entries.push((rel.clone(), true));
                found.unreadable.push(rel);
                return;
            }
        };
        let rules = match self.level(dir.path(), &Present::of(&listing), rules) {
            Ok(rules) => rules,
            Err(problem) => {
                let message =
                    format!("skipped the directory: {problem}, so its ignore rules cannot be read");
                self.warn(dir.path().to_path_buf(), message);
                self.found
                    .lock()
                    .expect("walk results lock")
                    .left_out
                    .push(rel.to_ascii_lowercase());
                return;
            }
        };
        self.descend(scope, &Arc::new(dir), &rel, &listing, rules.as_ref());
        self.found.lock().expect("walk results lock").entries.push((rel, true));
    }

    /// What the rules say of the entry at `rel`: the nearest `.ignore` rule
    /// that matches, else the nearest `.gitignore` rule, else `info/exclude`,
    /// else the global excludes file.
    fn matched(&self, rules: Option<&Arc<Level>>, rel: &str, is_dir: bool) -> Match<()> {
        if rules.is_none() && self.global.is_empty() {
            return Match::None;
        }
        let path = self.root.join(rel);
        let levels = || std::iter::successors(rules, |level| level.parent.as_ref());
        let first = |pick: fn(&Level) -> &Gitignore| {
            levels()
                .map(|level| pick(level).matched(&path, is_dir))
                .find(|m| !m.is_none())
                .unwrap_or(Match::None)
        };
        let found = first(|l| &l.ignore)
            .or(first(|l| &l.gitignore))
            .or(first(|l| &l.exclude))
            .or(self.global.matched(&path, is_dir));
        match found {
            Match::None => Match::None,
            Match::Ignore(_) => Match::Ignore(()),
            Match::Whitelist(_) => Match::Whitelist(()),
        }
    }

    /// The rules below the directory `dir` (absolute): those of its ignore
    /// files over `parent`'s, or `parent` itself when it has none. `Err`
    /// describes an ignore file that is not a regular file.
    fn level(
        &self,
        dir: &Path,
        present: &Present,
        parent: Option<Arc<Level>>,
    ) -> Result<Option<Arc<Level>>, String> {
        let ignore = if present.ignore { self.rules(dir, &dir.join(".ignore"))? } else { None };
        let gitignore =
            if present.gitignore { self.rules(dir, &dir.join(".gitignore"))? } else { None };
        let exclude = if present.git {
            match crate::git::repository_at(dir)? {
                Some(repository) => {
                    self.rules(dir, &repository.common_dir.join("info").join("exclude"))?
                }
                None => None,
            }
        } else {
            None
        };
        if ignore.is_none() && gitignore.is_none() && exclude.is_none() {
            return Ok(parent);
        }
        let or_empty = |rules: Option<Gitignore>| rules.unwrap_or_else(Gitignore::empty);
        Ok(Some(Arc::new(Level {
            ignore: or_empty(ignore),
            gitignore: or_empty(gitignore),
            exclude: or_empty(exclude),
            parent,
        })))
    }

    /// The rules of the ignore file `file`, relative to `dir`; `None` when it
    /// has none or cannot be read (a warning says why), `Err` when it is not
    /// a regular file. Lines are read as `BufRead::lines` reads them (the
    /// crate's reader), a byte-order mark before the first dropped, and a
    /// line that is not UTF-8 skipped.
    fn rules(&self, dir: &Path, file: &Path) -> Result<Option<Gitignore>, String> {
        let bytes = match tidy_io::read_file(file, self.limit) {
            Ok(bytes) => bytes,
            Err(tidy_io::Error::NotRegular { kind, .. }) => {
                return Err(format!("{} is a {kind}, not a regular file", file.display()));
            }
            // A dangling symlink, or a `.git` that is not a directory: no
            // file, as for the crate.
            Err(e) if absent(&e) => return Ok(None),
            Err(e) => {
                self.warn(
                    file.to_path_buf(),
                    format!("cannot read: {}; its rules are not applied", why(&e)),
                );
                return Ok(None);
            }
        };
        let mut builder = GitignoreBuilder::new(dir);
        let mut rest = bytes.as_slice();
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (mut line, after) = match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    let line = &rest[..end];
                    (line.strip_suffix(b"\r").unwrap_or(line), &rest[end + 1..])
                }
                None => (rest, &[][..]),
            };
            rest = after;
            if number == 1 {
                while let Some(after_mark) = line.strip_prefix("\u{feff}".as_bytes()) {
                    line = after_mark;
                }
            }
            let Ok(line) = std::str::from_utf8(line) else {
                let message = format!("line {number} is not UTF-8; it is not applied");
                self.warn(file.to_path_buf(), message);
                continue;
            };
            if let Err(e) = builder.add_line(Some(file.to_path_buf()), line) {
                self.warn(
                    file.to_path_buf(),
                    format!("line {number}: {e}; the rule is not applied"),
                );
            }
        }
        match builder.build() {
            Ok(rules) if rules.is_empty() => Ok(None),
            Ok(rules) => Ok(Some(rules)),
            Err(e) => {
                self.warn(file.to_path_buf(), format!("{e}; its rules are not applied"));
                Ok(None)
            }
        }
    }

    fn warn(&self, path: PathBuf, message: String) {
        self.warnings.lock().expect("warnings lock").push(Warning { path, message });
    }
}

/// Whether `error` says there is no such file (`ENOENT`, or `ENOTDIR` for a
/// path through something that is not a directory).
fn absent(error: &tidy_io::Error) -> bool {
    error.is_not_found()
        || matches!(error, tidy_io::Error::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotADirectory)
}

/// What went wrong, for a message that names the file itself: the system's
/// words for a failed call, else the error without its path.
fn why(error: &tidy_io::Error) -> String {
    match error {
        tidy_io::Error::Io { source, .. } => source.to_string(),
        other => other.reason(),
    }
}

/// The global excludes file's rules (git's `core.excludesFile`, else
/// `$XDG_CONFIG_HOME/git/ignore`), relative to the working directory, as the
/// crate reads them; none when the working directory is unknown.
fn global_rules() -> Gitignore {
    let Ok(cwd) = std::env::current_dir() else { return Gitignore::empty() };
    // The crate finds `core.excludesFile` with a pattern it compiles each
    // run (a hundredth of a check of the Rust book). Where neither of git's
    // config files holds the word (in any ASCII case, as the pattern asks),
    // the pattern cannot match, and the default file is what it reads.
    let (home, xdg) = config_dirs();
    let configs = [home.map(|h| h.join(".gitconfig")), xdg.as_ref().map(|x| x.join("git/config"))];
    // Read as regular files only: a FIFO is never waited on.
    let names_it = configs.into_iter().flatten().any(|config| {
        tidy_io::read_file(&config, 1 << 20)
            .is_ok_and(|text| text.windows(12).any(|w| w.eq_ignore_ascii_case(b"excludesfile")))
    });
    if names_it {
        return GitignoreBuilder::new(cwd).build_global().0;
    }
    match xdg.map(|x| x.join("git/ignore")) {
        Some(path) if path.is_file() => {
            let mut builder = GitignoreBuilder::new(cwd);
            // Bad lines are left out and the rest apply, as the crate does.
            let _ = builder.add(path);
            builder.build().unwrap_or_else(|_| Gitignore::empty())
        }
        _ => Gitignore::empty(),
    }
}

/// The home directory and git's XDG config directory (`$XDG_CONFIG_HOME`,
/// else `~/.config`), found as the `ignore` crate finds them.
pub(crate) fn config_dirs() -> (Option<PathBuf>, Option<PathBuf>) {
    let home = std::env::home_dir();
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|x| !x.as_os_str().is_empty())
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    (home, xdg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Paths a generated tree is made of: folders that are hidden, vendored
    /// or plain, files of several kinds, and places for ignore files.
    const FILES: &[&str] = &[
        "x.md",
        "keep.log",
        "a/x.md",
        "a/y.txt",
        "a/b/x.md",
        "a/b/z.log",
        "b/x.md",
        "b/c/d/keep.log",
        ".h/x.md",
        ".hidden.md",
        "a/.hidden.md",
        "target/x.md",
        "a/node_modules/x.md",
        "Deep/Er/page.MD",
        "sp ace/new\nline.md",
        "sub/a/x.md",
        "sub/y.txt",
        // Names that sort between a folder and its files (`-` and `.` before `/`).
        "a-b.md",
        "a.b/w.md",
        "a/b-c.md",
    ];
    const RULES: &[&str] = &[
        "*.log",
        "!keep.log",
        "a/",
        "/b",
        "b/*",
        "sub/**",
        "!sub/a/",
        "!.hidden.md",
        "!.h/",
        ".h",
        "x.md",
        "!a/x.md",
        "**/y.txt",
        "Deep",
        "*.md",
        "# a comment",
        "",
        "  ",
        "\\!keep.log",
        "c/d",
        "/*.md",
        "er",
        "[Dd]eep/",
        "line.md",
        "sp*",
    ];
    const PLACES: &[&str] = &[
        ".gitignore",
        ".ignore",
        "a/.gitignore",
        "a/.ignore",
        "b/c/.gitignore",
        "sub/.gitignore",
        ".git/info/exclude",
        "a/b/.git/info/exclude",
    ];

    /// Indexes into [`FILES`], ignore files as (index into [`PLACES`],
    /// indexes into [`RULES`]), and whether to add symlinks.
    type Generated = (Vec<usize>, Vec<(usize, Vec<usize>)>, bool);

    fn tree_strategy() -> impl Strategy<Value = Generated> {
        (
            proptest::sample::subsequence((0..FILES.len()).collect::<Vec<_>>(), 1..FILES.len()),
            proptest::collection::vec(
                (0..PLACES.len(), proptest::collection::vec(0..RULES.len(), 0..5)),
                0..5,
            ),
            any::<bool>(),
        )
    }

    /// What the `ignore` crate's walker finds with doclinks' options.
    fn crate_walk(root: &Path) -> Vec<(String, bool)> {
        let found = Mutex::new(Vec::new());
        ignore::WalkBuilder::new(root)
            .hidden(true)
            .require_git(false)
            .filter_entry(|entry| {
                !(entry.depth() > 0
                    && entry.file_type().is_some_and(|t| t.is_dir())
                    && VENDORED.iter().any(|v| entry.file_name() == *v))
            })
            .build_parallel()
            .run(|| {
                let found = &found;
                Box::new(move |entry| {
                    let entry = entry.expect("a readable tree");
                    if entry.depth() > 0 {
                        let rel = entry.path().strip_prefix(root).expect("below the root");
                        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                        let rel = rel.to_str().expect("UTF-8").to_owned();
                        found.lock().expect("lock").push((rel, is_dir));
                    }
                    ignore::WalkState::Continue
                })
            });
        let mut found = found.into_inner().expect("lock");
        found.sort_unstable();
        found
    }

    fn our_walk(root: &Path) -> (Vec<(String, bool)>, Vec<Warning>) {
        let handle = tidy_io::Root::open(root).expect("the root");
        let warnings = Mutex::new(Vec::new());
        let walked = walk(root, handle.dir(), 1 << 20, &warnings).expect("a walk");
        assert!(walked.unreadable.is_empty());
        let mut entries = walked.entries;
        entries.sort_unstable();
        (entries, warnings.into_inner().expect("lock"))
    }

    /// The tree `tree_strategy` drew, in a new temporary folder (with its canonical path).
    fn generated(
        files: &[usize],
        rules: &[(usize, Vec<usize>)],
        link: bool,
    ) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        for &file in files {
            let path = root.join(FILES[file]);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
            std::fs::write(&path, "x").expect("a file");
        }
        for (place, lines) in rules {
            let path = root.join(PLACES[*place]);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
            let text: String = lines.iter().map(|&l| format!("{}\n", RULES[l])).collect();
            std::fs::write(&path, text).expect("an ignore file");
        }
        if link {
            std::os::unix::fs::symlink("a", root.join("to-a")).expect("a symlink");
            std::os::unix::fs::symlink("nowhere", root.join("dangling.md")).expect("a symlink");
        }
        (dir, root)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// The same entries as the crate's walker, whatever the ignore files say.
        #[test]
        fn the_walk_keeps_what_the_ignore_crate_keeps((files, rules, link) in tree_strategy()) {
            let (_dir, root) = generated(&files, &rules, link);
            let (ours, warnings) = our_walk(&root);
            prop_assert!(warnings.is_empty(), "{:?}", warnings.iter().map(|w| &w.message).collect::<Vec<_>>());
            prop_assert_eq!(ours, crate_walk(&root));
        }

        /// A path the walk did not list is answered as the disk answers it,
        /// though most answers now come from the listings: found, left out,
        /// in another letter case, behind a symlink, or absent.
        #[test]
        fn a_probe_answers_as_the_disk_does((files, rules, link) in tree_strategy()) {
            let (_dir, root) = generated(&files, &rules, link);
            let handle = tidy_io::Root::open(&root).expect("the root");
            let tree = crate::tree::Tree::walk(
                crate::tree::TreeRoot::new(handle, 1 << 20),
                &Mutex::new(Vec::new()),
            ).expect("a walk");
            let mut asked: Vec<String> = Vec::new();
            for &path in FILES.iter().chain(PLACES) {
                let upper = path.to_ascii_uppercase();
                asked.extend([path.to_owned(), upper, format!("{path}/below.md")]);
                asked.push(path.rsplit_once('/').map_or("nope.md".to_owned(), |(d, _)| format!("{d}/nope.md")));
            }
            asked.extend(["to-a/x.md", "to-a/b/x.md", "a/../x.md", "nope/x.md", "A/X.MD"].map(str::to_owned));
            for path in &asked {
                let disk = match std::fs::metadata(root.join(path)) {
                    Ok(meta) if meta.is_dir() => 2,
                    Ok(_) => 1,
                    Err(_) => 0,
                };
                prop_assert_eq!(tree.probe(path), disk, "{}", path);
            }
        }
    }

    #[test]
    fn a_worktree_s_exclude_file_is_read_from_the_common_git_directory() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        let common = root.join("elsewhere/repo.git");
        std::fs::create_dir_all(common.join("info")).expect("folders");
        std::fs::create_dir_all(common.join("worktrees/wt")).expect("folders");
        std::fs::write(common.join("info/exclude"), "secret.md\n").expect("exclude");
        std::fs::write(common.join("worktrees/wt/commondir"), "../..\n").expect("commondir");
        let tree = root.join("tree");
        std::fs::create_dir_all(&tree).expect("the tree");
        let gitdir = common.join("worktrees/wt");
        std::fs::write(tree.join(".git"), format!("gitdir: {}\n", gitdir.display())).expect(".git");
        std::fs::write(tree.join("secret.md"), "x").expect("a page");
        std::fs::write(tree.join("open.md"), "x").expect("a page");
        let (ours, _) = our_walk(&tree);
        assert_eq!(ours, [("open.md".to_owned(), false)]);
        assert_eq!(ours, crate_walk(&tree));
    }

    #[test]
    fn bad_lines_of_an_ignore_file_are_named_and_the_rest_applies() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let root = std::fs::canonicalize(dir.path()).expect("canonical");
        std::fs::write(root.join(".gitignore"), b"\xef\xbb\xbfa.md\r\nb{.md\nc.md\n\xff\nd.md\n")
            .expect("an ignore file");
        for page in ["a.md", "b.md", "c.md", "d.md", "e.md"] {
            std::fs::write(root.join(page), "x").expect("a page");
        }
        let (ours, warnings) = our_walk(&root);
        assert_eq!(ours, [("b.md".to_owned(), false), ("e.md".to_owned(), false)]);
        assert_eq!(ours, crate_walk(&root));
        let messages: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(messages.iter().any(|m| m.starts_with("line 2: ")), "{messages:?}");
        assert!(messages.contains(&"line 4 is not UTF-8; it is not applied"), "{messages:?}");
    }
}
