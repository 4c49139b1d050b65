//! The walked tree: every file and directory under the root, indexed the ways
//! resolution and fix proposals look things up (exact path, lowercase path,
//! file name, directory + stem); and the root itself, opened once, through
//! which every file of the tree is read.
//!
//! Nothing here opens a file that is not a regular file: pages are read below
//! the root with [`tidy_io::Root`] (a FIFO, a device or a link out of the root
//! is a warning naming the page), and the walk (`walk.rs`) reads ignore files
//! only when they are regular files.

use std::hash::BuildHasher as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::cache::Stamp;
use crate::error::Error;
use crate::fast::{HashMap, HashSet};
use crate::report::Warning;

/// The root of the tree: its resolved path, and the handle every file of the
/// tree is read through, opened once per check.
///
/// It dereferences to the path, so that code which only needs the path keeps
/// reading like `tree.root.join(..)`.
#[derive(Debug)]
pub(crate) struct TreeRoot {
    path: PathBuf,
    dir: tidy_io::Root,
    /// The most bytes read from one file (`max_file_size`).
    limit: u64,
    /// Handles on the directories pages were last read from, opened below the
    /// root without passing a symlink: resolving every page from the root again
    /// would double the system calls of a check. At most [`DIR_HANDLES`].
    dirs: Mutex<HashMap<String, Option<Arc<tidy_io::Dir>>>>,
    /// Every file read with [`TreeRoot::read`] (site configurations, redirect
    /// maps, tables of contents: hidden ones too), found or not: what the
    /// results cache's run key stamps.
    inputs: Mutex<Vec<String>>,
}

impl std::ops::Deref for TreeRoot {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.path
    }
}

impl AsRef<Path> for TreeRoot {
    fn as_ref(&self) -> &Path {
        &self.path
    }
}

impl TreeRoot {
    /// The tree at the opened root `dir`, whose files are read up to `limit` bytes.
    pub(crate) fn new(dir: tidy_io::Root, limit: u64) -> TreeRoot {
        TreeRoot {
            path: dir.path().to_path_buf(),
            dir,
            limit,
            dirs: Mutex::default(),
            inputs: Mutex::default(),
        }
    }

    /// The regular file at `rel` (root-relative, `/`-separated), read below the
    /// root with the size cap; `Err` is the warning to show for it.
    pub(crate) fn read(&self, rel: &str) -> Result<Vec<u8>, String> {
        self.inputs.lock().expect("inputs lock").push(rel.to_owned());
        self.read_stamped(rel).map(|(bytes, _)| bytes)
    }

    /// The files [`TreeRoot::read`] was asked for so far, sorted, each once.
    pub(crate) fn inputs(&self) -> Vec<String> {
        let mut inputs = self.inputs.lock().expect("inputs lock").clone();
        inputs.sort_unstable();
        inputs.dedup();
        inputs
    }

    /// [`TreeRoot::read`], with the stamp of the file the bytes were read from
    /// (`None` for a page reached through a symlink).
    pub(crate) fn read_stamped(&self, rel: &str) -> Result<(Vec<u8>, Option<Stamp>), String> {
        let resolved =
            || self.dir.read(Path::new(rel), self.limit).map(|loaded| (loaded.bytes, None));
        let read = match self.dir_handle(parent(rel)) {
            Some(dir) => match self.read_in(&dir, file_name(rel)) {
                // A symlinked page: resolved from the root, followed only inside it.
                Err(tidy_io::Error::Symlink { .. }) => resolved(),
                read => read,
            },
            None => resolved(),
        };
        read.map_err(|e| self.unreadable(rel, &e))
    }

    /// Reads the regular file `name` of `dir` up to the size cap, with the
    /// stamp `fstat` gives the open file.
    fn read_in(&self, dir: &tidy_io::Dir, name: &str) -> tidy_io::Result<(Vec<u8>, Option<Stamp>)> {
        let (file, stat) = dir.open_regular(std::ffi::OsStr::new(name))?;
        let path = dir.join(name);
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        if size > self.limit {
            return Err(tidy_io::Error::TooLarge { path, limit: self.limit });
        }
        // The page as it was when opened: its `st_size` bytes, with no read
        // past them to find the end (one syscall a page); a page cut short
        // meanwhile ends where it ends. A size of 0 (an empty page, or a file
        // system that gives none) is read to the end.
        let take = if size == 0 { u64::MAX } else { size };
        let capacity = usize::try_from(size).unwrap_or(0).max(1);
        let bytes = tidy_io::read_to_end_capped(file.take(take), self.limit, &path, capacity)?;
        Ok((bytes, Some(Stamp::of(&stat))))
    }

    /// The stamp of the regular file at `rel` (an `lstat` in its directory,
    /// the file not opened); `None` for anything else, or when it cannot be had.
    pub(crate) fn stamp(&self, rel: &str) -> Option<Stamp> {
        let dir = self.dir_handle(parent(rel))?;
        let stat = dir.stat(std::ffi::OsStr::new(file_name(rel))).ok()??;
        tidy_io::is_regular(&stat).then(|| Stamp::of(&stat))
    }

    /// The opened root.
    pub(crate) fn handle(&self) -> &tidy_io::Root {
        &self.dir
    }

    /// The handle on the directory `rel` of the tree (never reached through a
    /// symlink); `None` when it cannot be opened that way.
    fn dir_handle(&self, rel: &str) -> Option<Arc<tidy_io::Dir>> {
        if let Some(known) = self.dirs.lock().expect("directory handles lock").get(rel) {
            return known.clone();
        }
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let opened = self.dir.dir().open_beneath(&parts, false).ok().map(Arc::new);
        let mut dirs = self.dirs.lock().expect("directory handles lock");
        if dirs.len() >= dir_handles() {
            // Readers still holding a handle keep it until they are done.
            dirs.clear();
        }
        dirs.insert(rel.to_owned(), opened.clone());
        opened
    }

    /// What to say about a file of the tree that is not read.
    fn unreadable(&self, rel: &str, error: &tidy_io::Error) -> String {
        match error {
            tidy_io::Error::NotRegular { path, kind } if path == &self.path.join(rel) => {
                format!("skipped: a {kind}, not a regular file")
            }
            tidy_io::Error::NotRegular { path, kind } => {
                let shown = path.strip_prefix(&self.path).unwrap_or(path);
                format!("skipped: leads to {}, a {kind}, not a regular file", shown.display())
            }
            tidy_io::Error::OutsideRoot { target, .. } => {
                format!("skipped: leads outside the root (to {})", target.display())
            }
            // Dangling, or a link the kernel cannot resolve to a path (`/dev/stdin`
            // on a pipe).
            tidy_io::Error::Symlink { path } => match std::fs::read_link(path) {
                Ok(to) => {
                    format!("skipped: a symbolic link to {} that leads to no file", to.display())
                }
                Err(_) => "skipped: a symbolic link that leads to no file".to_owned(),
            },
            tidy_io::Error::TooLarge { path, limit } => {
                let len = std::fs::metadata(path).map_or(0, |m| m.len());
                let what =
                    if len > *limit { format!("{} is over", size(len)) } else { "over".to_owned() };
                format!(
                    "skipped: {what} the {} limit (max_file_size in doclinks.toml)",
                    size(*limit)
                )
            }
            tidy_io::Error::Io { source, .. } => format!("cannot read: {source}"),
            other => format!("cannot read: {}", other.reason()),
        }
    }
}

/// How many directory handles a check keeps open at most: far below the usual
/// limit of 1024 open files, and plenty, since pages are read in path order;
/// an eighth of a lower limit (`ulimit -n 128`: 16), so that opening pages
/// and the cache never runs out of files.
fn dir_handles() -> usize {
    static HANDLES: OnceLock<usize> = OnceLock::new();
    *HANDLES.get_or_init(|| {
        let limit = tidy_io::open_files_limit().unwrap_or(u64::MAX);
        usize::try_from(limit / 8).unwrap_or(usize::MAX).clamp(4, 128)
    })
}

/// A file size for messages: bytes, KiB or MiB.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        b if b >= KIB * KIB => format!("{:.1} MiB", b as f64 / (KIB * KIB) as f64),
        b if b >= KIB => format!("{:.1} KiB", b as f64 / KIB as f64),
        b => format!("{b} bytes"),
    }
}

/// Directories skipped by default besides hidden ones: vendored code, whose
/// docs are not ours to fix.
pub(crate) const VENDORED: &[&str] =
    &["node_modules", "vendor", "third_party", "bower_components", "target"];

pub(crate) struct Tree {
    pub(crate) root: TreeRoot,
    /// Root-relative, `/`-separated, sorted.
    pub(crate) files: Vec<String>,
    /// Indexes into `files`, hashed by their paths: each path is stored once
    /// (a map of paths to indexes held a second copy of every path).
    by_path: hashbrown::HashTable<u32>,
    /// `by_path`'s hasher, seeded anew each check (file names are input).
    path_hasher: foldhash::fast::RandomState,
    dirs: HashSet<String>,
    /// The files whose path is not its own lowercase, hashed by that
    /// lowercase: an all-lowercase path (most of a tree) is its own key in
    /// `by_path`. Indexes into `files`, not strings: a map of lowercase paths
    /// to paths held two more copies of each (a DocFX docset names a quarter
    /// of its files in mixed case: 6 MB at 100k pages).
    lower_files: hashbrown::HashTable<u32>,
    /// The same for directories (few): lowercase path to the real paths.
    lower_dirs: HashMap<String, Vec<String>>,
    /// File indexes in the order of their files' names, letter case folded
    /// first and then exact: what fix proposals search by name, built the
    /// first time one is made (a check of a tree whose links all work never
    /// needs it). One array, not a map of names: a fix proposal in a tree of
    /// 100k files must not cost 100k allocations.
    names: OnceLock<NameIndex>,
    /// Directories the walk could not read (root-relative): what is below them
    /// is not known, so links into them are neither broken nor fixed.
    pub(crate) unreadable: Vec<String>,
    /// What [`Tree::probe`] found, by path: pages of one book link to the
    /// same missing `.html` pages, and each answer was a `stat` by absolute
    /// path (the Rust book: 680 of them for 50 paths).
    probed: Mutex<HashMap<String, u8>>,
    /// Entries of listed directories the walk left out, ASCII lowercase
    /// (see `walk::Walked`).
    left_out: HashSet<String>,
}

/// A hash of a file name, the same in every check.
fn name_hash(name: &str) -> u64 {
    foldhash::fast::FixedState::with_seed(0).hash_one(name)
}

/// The files by name: see [`Tree::names`].
struct NameIndex {
    order: Box<[(u64, NameAt)]>,
    distinct: Box<[NameAt]>,
}

/// A file of [`Tree::files`] and where its name starts in its path.
#[derive(Clone, Copy)]
struct NameAt {
    file: u32,
    at: u32,
}

/// A Markdown page: `.md`, `.markdown`, or MDX (Docusaurus).
pub(crate) fn is_markdown(path: &str) -> bool {
    let ends_with = |suffix| ends_with_ignoring_case(path, suffix);
    ends_with(".md") || ends_with(".markdown") || ends_with(".mdx")
}

/// A local HTML page, whose `id`/`name` attributes are its anchors.
pub(crate) fn is_html(path: &str) -> bool {
    ends_with_ignoring_case(path, ".html") || ends_with_ignoring_case(path, ".htm")
}

/// Whether `path` ends with `suffix` in any ASCII letter case: asked of every
/// path many times a check, so no lowercase copy is made.
pub(crate) fn ends_with_ignoring_case(path: &str, suffix: &str) -> bool {
    path.len() >= suffix.len()
        && path.as_bytes()[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

pub(crate) fn parent(path: &str) -> &str {
    last(path, b'/').map_or("", |i| &path[..i])
}

pub(crate) fn file_name(path: &str) -> &str {
    last(path, b'/').map_or(path, |i| &path[i + 1..])
}

/// Where the ASCII byte `byte` last occurs in `text`: `str::rfind` with a
/// `char` costs ~200 instructions a call, and paths are split this way
/// about ten times a file per check.
pub(crate) fn last(text: &str, byte: u8) -> Option<usize> {
    debug_assert!(byte.is_ascii());
    memchr::memrchr(byte, text.as_bytes())
}

/// A name with its letter case folded as `str::to_lowercase` folds it,
/// borrowed when it has nothing to fold (most names).
pub(crate) fn folded(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(name)
    } else {
        std::borrow::Cow::Owned(name.to_lowercase())
    }
}

pub(crate) fn stem(name: &str) -> &str {
    match last(name, b'.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

impl Tree {
    /// Walks `root` in parallel, respecting `.gitignore` and skipping hidden and
    /// vendored directories (see `walk.rs`). Unreadable entries become
    /// warnings; so does a directory whose ignore files are not regular files
    /// (it is not entered). Such a file at the root or above it is an error.
    pub(crate) fn walk(root: TreeRoot, warnings: &Mutex<Vec<Warning>>) -> Result<Tree, Error> {
        let walked = crate::walk::walk(&root, root.dir.dir(), root.limit, warnings)?;
        let mut found = walked.entries;
        // A symlink that leads to no file (dangling, or a loop) is no file of
        // the tree: a link to it is broken, as the disk answers, and no fix
        // proposes it. A page among them is said, as the check of its page
        // would have said.
        if !walked.dangling.is_empty() {
            let dangling: HashSet<&str> = walked.dangling.iter().map(String::as_str).collect();
            found.retain(|(path, _)| !dangling.contains(path.as_str()));
            for page in walked.dangling.iter().filter(|path| is_markdown(path)) {
                if let Err(message) = root.read_stamped(page) {
                    push_warning(warnings, &root.join(page), message);
                }
            }
        }
        // On the pool: the walk's tasks finish in any order, and a large tree
        // has 100k paths to sort.
        found.par_sort_unstable();
        found.dedup();
        let mut tree = Tree::from_entries(root, found);
        tree.unreadable = walked.unreadable;
        tree.unreadable.sort_unstable();
        tree.left_out = walked.left_out.into_iter().collect();
        Ok(tree)
    }

    fn from_entries(root: TreeRoot, entries: Vec<(String, bool)>) -> Tree {
        let mut tree = Tree {
            root,
            files: Vec::with_capacity(entries.len()),
            by_path: hashbrown::HashTable::with_capacity(entries.len()),
            path_hasher: foldhash::fast::RandomState::default(),
            dirs: HashSet::default(),
            lower_files: hashbrown::HashTable::new(),
            lower_dirs: HashMap::default(),
            names: OnceLock::new(),
            unreadable: Vec::new(),
            probed: Mutex::default(),
            left_out: HashSet::default(),
        };
        for (path, is_dir) in entries {
            // Most paths are lowercase ASCII: no lowercase copy is made of them.
            let lowercase = path.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase());
            let lower = (!lowercase).then(|| path.to_lowercase()).filter(|lower| *lower != path);
            if is_dir {
                if let Some(lower) = lower {
                    tree.lower_dirs.entry(lower).or_default().push(path.clone());
                }
                tree.dirs.insert(path);
            } else {
                let index = u32::try_from(tree.files.len()).expect("fewer than 4G files");
                let hasher = &tree.path_hasher;
                tree.by_path.insert_unique(hasher.hash_one(&path), index, |&i| {
                    hasher.hash_one(&tree.files[i as usize])
                });
                if let Some(lower) = lower {
                    tree.lower_files.insert_unique(hasher.hash_one(&lower), index, |&i| {
                        hasher.hash_one(tree.files[i as usize].to_lowercase())
                    });
                }
                tree.files.push(path);
            }
        }
        tree
    }

    /// The files ordered by a hash of their [`folded`] name, then by a hash
    /// of the exact name (files of one name in any letter case are one run,
    /// and of one exact name a run within it), and the first file of each
    /// exact name. Ordered by numbers, not by names: with names compared, the
    /// sort was most of a fix proposal's time in a large tree. Readers
    /// compare names, so two names of one hash are never taken for one.
    fn names(&self) -> &NameIndex {
        self.names.get_or_init(|| {
            let mut order: Vec<(u64, u64, NameAt)> = (0..self.files.len())
                .into_par_iter()
                .filter_map(|i| {
                    let path = &self.files[i];
                    let at = last(path, b'/').map_or(0, |slash| slash + 1);
                    let n = NameAt { file: u32::try_from(i).ok()?, at: u32::try_from(at).ok()? };
                    let name = &path[at..];
                    Some((name_hash(&folded(name)), name_hash(name), n))
                })
                .collect();
            order.par_sort_unstable_by_key(|&(folded, exact, n)| (folded, exact, n.file));
            let distinct = order
                .chunk_by(|a, b| self.name(a.2) == self.name(b.2))
                .map(|same| same[0].2)
                .collect();
            let order = order.into_iter().map(|(folded, _, n)| (folded, n)).collect();
            NameIndex { order, distinct }
        })
    }

    fn name(&self, n: NameAt) -> &str {
        &self.files[n.file as usize][n.at as usize..]
    }

    /// The files whose names fold to the same as `name`.
    fn names_folded_as<'a>(&'a self, name: &'a str) -> impl Iterator<Item = NameAt> + 'a {
        let order = &self.names().order;
        let hash = name_hash(&folded(name));
        let start = order.partition_point(|(h, _)| *h < hash);
        let len = order[start..].partition_point(|(h, _)| *h == hash);
        // Another name may share the hash: compared, not assumed.
        let wanted = folded(name);
        order[start..start + len]
            .iter()
            .map(|(_, n)| *n)
            .filter(move |&n| folded(self.name(n)) == wanted)
    }

    /// The indexes of the files named exactly `name`, in path order.
    pub(crate) fn named(&self, name: &str) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .names_folded_as(name)
            .filter(|&n| self.name(n) == name)
            .map(|n| n.file as usize)
            .collect();
        out.sort_unstable();
        out
    }

    /// How many files have this name in any letter case.
    pub(crate) fn named_in_any_case(&self, name: &str) -> usize {
        self.names_folded_as(name).count()
    }

    /// Each file name of the tree once.
    pub(crate) fn distinct_names(&self) -> impl Iterator<Item = &str> {
        self.names().distinct.iter().map(|&n| self.name(n))
    }

    /// The indexes of the files at or below `dir` (the file `dir` itself,
    /// then `dir/…`), in path order; every file for the root `""`. Binary
    /// searches, not a scan: a tree of many sites asks once per site.
    pub(crate) fn under(&self, dir: &str) -> Vec<usize> {
        if dir.is_empty() {
            return (0..self.files.len()).collect();
        }
        let prefix = format!("{dir}/");
        let start = self.files.partition_point(|f| f.as_str() < prefix.as_str());
        let len = self.files[start..].partition_point(|f| f.starts_with(&prefix));
        self.index(dir).into_iter().chain(start..start + len).collect()
    }

    /// The indexes of the files directly in directory `dir`, in path order.
    /// The paths below a folder are one run of the sorted paths: binary
    /// searches find the run of `dir/` and step over each subfolder's run,
    /// so a folder costs its own files, not its subtree's.
    pub(crate) fn in_dir(&self, dir: &str) -> Vec<usize> {
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let start = self.files.partition_point(|f| f.as_str() < prefix.as_str());
        let end = start + self.files[start..].partition_point(|f| f.starts_with(&prefix));
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let rest = &self.files[at][prefix.len()..];
            match rest.find('/') {
                None => {
                    out.push(at);
                    at += 1;
                }
                Some(slash) => {
                    let sub = &self.files[at][..prefix.len() + slash + 1];
                    at += self.files[at..end].partition_point(|f| f.starts_with(sub));
                }
            }
        }
        out
    }

    pub(crate) fn index(&self, path: &str) -> Option<usize> {
        let hash = self.path_hasher.hash_one(path);
        let found = self.by_path.find(hash, |&i| self.files[i as usize] == path);
        found.map(|&i| i as usize)
    }

    pub(crate) fn abs(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.root.to_path_buf() } else { self.root.join(rel) }
    }

    /// What is at `path`: a walked file, a directory, or something the walk
    /// skipped (ignored, hidden) that still exists on disk.
    pub(crate) fn lookup(&self, path: &str) -> Entry {
        if let Some(index) = self.index(path) {
            return Entry::File(Some(index));
        }
        if path.is_empty() || self.dirs.contains(path) {
            return Entry::Dir;
        }
        let answer = self.probe(path);
        // Outside the walk: the results cache must ask again next time.
        crate::results::probed(path, answer);
        match answer {
            2 => Entry::Dir,
            1 => Entry::File(None),
            _ => Entry::Missing,
        }
    }

    /// What the file system says is at `path` (not walked): 0 nothing, 1 a
    /// file, 2 a directory.
    /// Asked once a check: the tree is taken as it was when the check began.
    pub(crate) fn probe(&self, path: &str) -> u8 {
        if self.surely_absent(path) {
            return 0;
        }
        if let Some(&known) = self.probed.lock().expect("probes lock").get(path) {
            return known;
        }
        let answer = match std::fs::metadata(self.abs(path)) {
            Ok(meta) if meta.is_dir() => 2,
            Ok(_) => 1,
            Err(_) => 0,
        };
        self.probed.lock().expect("probes lock").insert(path.to_owned(), answer);
        answer
    }

    /// Whether the walk's listings show that nothing is at `path`: the
    /// deepest walked directory above it was listed whole, and holds no
    /// entry of the next name in any ASCII letter case (a case-insensitive
    /// file system would find one), found or left out. A name found as a
    /// file may be a symlink to a directory, and a path with `.` or `..`
    /// may leave the walked tree: the disk is asked of those, and of
    /// non-ASCII names (a file system may normalize them).
    fn surely_absent(&self, path: &str) -> bool {
        if path.is_empty()
            || !path.is_ascii()
            || path.split('/').any(|part| matches!(part, "" | "." | ".."))
        {
            return false;
        }
        let mut dir = parent(path);
        while !dir.is_empty() && !self.dirs.contains(dir) {
            dir = parent(dir);
        }
        if self.unreadable.binary_search_by(|u| u.as_str().cmp(dir)).is_ok() {
            return false;
        }
        let start = if dir.is_empty() { 0 } else { dir.len() + 1 };
        let next = path[start..].find('/').map_or(path, |slash| &path[..start + slash]);
        let walked = |path: &str| self.index(path).is_some() || self.dirs.contains(path);
        let lower = next.to_ascii_lowercase();
        !(walked(next)
            || (lower != next && walked(&lower))
            || self.mixed_case(&lower).next().is_some()
            || self.left_out.contains(&lower))
    }

    /// The README or index page a directory link shows.
    pub(crate) fn dir_index(&self, dir: &str) -> Option<usize> {
        ["README.md", "readme.md", "Readme.md", "index.md", "INDEX.md", "_index.md"]
            .iter()
            .find_map(|name| self.index(&join(dir, name)))
    }

    /// Paths that match `path` in every letter but case.
    pub(crate) fn case_variants(&self, path: &str) -> Vec<&str> {
        let lower = path.to_lowercase();
        let mut out: Vec<&str> = self.mixed_case(&lower).collect();
        let itself = self.index(&lower).map(|i| &self.files[i]).or_else(|| self.dirs.get(&lower));
        out.extend(itself.map(String::as_str));
        // In path order, as the walk found them.
        out.sort_unstable();
        out
    }

    /// The files and directories whose lowercase path is `lower` and which
    /// are not lowercase themselves.
    fn mixed_case<'a>(&'a self, lower: &str) -> impl Iterator<Item = &'a str> {
        let files = self
            .lower_files
            .iter_hash(self.path_hasher.hash_one(lower))
            .map(|&i| self.files[i as usize].as_str())
            // `lower` has no ASCII capitals: an ASCII path is compared
            // without a lowercase copy of it.
            .filter(move |path| {
                if path.is_ascii() {
                    path.eq_ignore_ascii_case(lower)
                } else {
                    path.to_lowercase() == lower
                }
            });
        let dirs = self.lower_dirs.get(lower).into_iter().flatten().map(String::as_str);
        files.chain(dirs)
    }

    pub(crate) fn is_dir(&self, path: &str) -> bool {
        path.is_empty() || self.dirs.contains(path)
    }

    /// The unreadable directory `path` is in (or is), if any.
    pub(crate) fn in_unreadable(&self, path: &str) -> Option<&str> {
        self.unreadable
            .iter()
            .find(|dir| path == dir.as_str() || path.starts_with(&format!("{dir}/")))
            .map(String::as_str)
    }

    /// Every walked directory, root-relative.
    pub(crate) fn dirs(&self) -> impl Iterator<Item = &String> {
        self.dirs.iter()
    }
}

pub(crate) enum Entry {
    /// A file, with its index when the walk saw it.
    File(Option<usize>),
    Dir,
    Missing,
}

pub(crate) fn push_warning(warnings: &Mutex<Vec<Warning>>, path: &Path, message: String) {
    warnings.lock().expect("warnings lock").push(Warning { path: path.to_path_buf(), message });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_of(files: &[&str]) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().expect("temporary directory");
        for file in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("folders");
            std::fs::write(&path, "x").expect("a file");
        }
        let root = tidy_io::Root::open(dir.path()).expect("the root");
        let tree = Tree::walk(TreeRoot::new(root, 1 << 20), &Mutex::new(Vec::new())).expect("walk");
        (dir, tree)
    }

    #[test]
    fn case_variants_are_every_path_of_that_lowercase_files_and_folders() {
        let (_dir, tree) = tree_of(&[
            "Docs/Setup.md",
            "Docs/SETUP.md",
            "Docs/setup.md",
            "Docs/Other.md",
            "docs/readme.md",
            "Guide/Überblick.md",
            "guide/x.md",
        ]);
        // Mixed-case files of one lowercase, and the lowercase one itself.
        assert_eq!(
            tree.case_variants("docs/setup.md"),
            ["Docs/SETUP.md", "Docs/Setup.md", "Docs/setup.md"]
        );
        assert_eq!(tree.case_variants("DOCS/OTHER.MD"), ["Docs/Other.md"]);
        // A folder and its lowercase twin.
        assert_eq!(tree.case_variants("DOCS"), ["Docs", "docs"]);
        // Beyond ASCII, letter case folds as `str::to_lowercase` does.
        assert_eq!(tree.case_variants("guide/überblick.md"), ["Guide/Überblick.md"]);
        assert_eq!(tree.case_variants("GUIDE/ÜBERBLICK.MD"), ["Guide/Überblick.md"]);
        assert!(tree.case_variants("docs/missing.md").is_empty());
    }

    #[test]
    fn a_folder_lists_its_own_files_and_not_its_subfolders() {
        let (_dir, tree) = tree_of(&[
            "a.md",
            "a-b.md",
            "a/x.md",
            "a/deep/y.md",
            "a/deep/more/z.md",
            "a/z.md",
            "a.b/w.md",
            "b/c.md",
            "top.md",
        ]);
        let names = |indexes: Vec<usize>| -> Vec<&str> {
            indexes.into_iter().map(|i| tree.files[i].as_str()).collect()
        };
        assert_eq!(names(tree.in_dir("")), ["a-b.md", "a.md", "top.md"]);
        assert_eq!(names(tree.in_dir("a")), ["a/x.md", "a/z.md"]);
        assert_eq!(names(tree.in_dir("a/deep")), ["a/deep/y.md"]);
        assert_eq!(names(tree.in_dir("a.b")), ["a.b/w.md"]);
        assert!(tree.in_dir("nowhere").is_empty());
        assert!(tree.in_dir("a/x.md").is_empty());
    }

    #[test]
    fn files_are_found_by_name_exactly_and_counted_in_any_case() {
        let (_dir, tree) =
            tree_of(&["one/Params.md", "two/params.md", "three/params.md", "Straße.md", "x.md"]);
        let named = |name: &str| -> Vec<&str> {
            tree.named(name).into_iter().map(|i| tree.files[i].as_str()).collect()
        };
        assert_eq!(named("params.md"), ["three/params.md", "two/params.md"]);
        assert_eq!(named("Params.md"), ["one/Params.md"]);
        assert!(named("PARAMS.md").is_empty());
        assert_eq!(tree.named_in_any_case("PARAMS.MD"), 3);
        assert_eq!(tree.named_in_any_case("STRASSE.md"), 0);
        assert_eq!(tree.named_in_any_case("straße.MD"), 1);
        assert_eq!(tree.named_in_any_case("x.md"), 1);
        let mut distinct: Vec<&str> = tree.distinct_names().collect();
        distinct.sort_unstable();
        assert_eq!(distinct, ["Params.md", "Straße.md", "params.md", "x.md"]);
    }
}
