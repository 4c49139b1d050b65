//! The walked tree: every file and directory under the root, indexed the ways
//! resolution and fix proposals look things up (exact path, lowercase path,
//! file name, directory + stem).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ignore::{WalkBuilder, WalkState};

use crate::report::Warning;

/// Directories skipped by default besides hidden ones: vendored code, whose
/// docs are not ours to fix.
const VENDORED: &[&str] = &["node_modules", "vendor", "third_party", "bower_components", "target"];

pub(crate) struct Tree {
    pub(crate) root: PathBuf,
    /// Root-relative, `/`-separated, sorted.
    pub(crate) files: Vec<String>,
    by_path: HashMap<String, usize>,
    dirs: HashSet<String>,
    /// Lowercase path to the real paths (files and directories).
    lower: HashMap<String, Vec<String>>,
    /// File name to file indexes.
    pub(crate) by_name: HashMap<String, Vec<usize>>,
    /// (directory, stem) to file indexes.
    pub(crate) by_stem: HashMap<(String, String), Vec<usize>>,
}

pub(crate) fn is_markdown(path: &str) -> bool {
    let lower = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".markdown")
}

pub(crate) fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

pub(crate) fn file_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

pub(crate) fn stem(name: &str) -> &str {
    match name.rfind('.') {
        Some(0) | None => name,
        Some(i) => &name[..i],
    }
}

pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

impl Tree {
    /// Walks `root` in parallel, respecting `.gitignore` and skipping hidden and
    /// vendored directories. Unreadable entries and loops become warnings.
    pub(crate) fn walk(root: &Path, warnings: &Mutex<Vec<Warning>>) -> Tree {
        let found: Mutex<Vec<(String, bool)>> = Mutex::new(Vec::new());
        let threads = rayon::current_num_threads();
        WalkBuilder::new(root)
            .hidden(true)
            .require_git(false)
            .threads(threads)
            .filter_entry(|entry| {
                !(entry.depth() > 0
                    && entry.file_type().is_some_and(|t| t.is_dir())
                    && VENDORED.iter().any(|v| entry.file_name() == *v))
            })
            .build_parallel()
            .run(|| {
                let found = &found;
                Box::new(move |entry| {
                    match entry {
                        Ok(entry) if entry.depth() > 0 => {
                            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                            match entry.path().strip_prefix(root).ok().and_then(|p| p.to_str()) {
                                Some(rel) => found
                                    .lock()
                                    .expect("walk results lock")
                                    .push((rel.replace('\\', "/"), is_dir)),
                                None => push_warning(
                                    warnings,
                                    entry.path(),
                                    "file name is not UTF-8; skipped".to_owned(),
                                ),
                            }
                        }
                        Ok(_) => {}
                        Err(err) => {
                            let path = walk_error_path(&err).unwrap_or_else(|| root.to_path_buf());
                            push_warning(
                                warnings,
                                &path,
                                format!("skipped: {}", walk_error_message(&err)),
                            );
                        }
                    }
                    WalkState::Continue
                })
            });
        let mut found = found.into_inner().expect("walk results lock");
        found.sort();
        found.dedup();
        Tree::from_entries(root.to_path_buf(), found)
    }

    pub(crate) fn from_entries(root: PathBuf, entries: Vec<(String, bool)>) -> Tree {
        let mut tree = Tree {
            root,
            files: Vec::new(),
            by_path: HashMap::new(),
            dirs: HashSet::new(),
            lower: HashMap::new(),
            by_name: HashMap::new(),
            by_stem: HashMap::new(),
        };
        for (path, is_dir) in entries {
            tree.lower.entry(path.to_lowercase()).or_default().push(path.clone());
            if is_dir {
                tree.dirs.insert(path);
            } else {
                let index = tree.files.len();
                let name = file_name(&path).to_owned();
                tree.by_stem
                    .entry((parent(&path).to_owned(), stem(&name).to_owned()))
                    .or_default()
                    .push(index);
                tree.by_name.entry(name).or_default().push(index);
                tree.by_path.insert(path.clone(), index);
                tree.files.push(path);
            }
        }
        tree
    }

    pub(crate) fn index(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    pub(crate) fn abs(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.root.clone() } else { self.root.join(rel) }
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
        match std::fs::metadata(self.abs(path)) {
            Ok(meta) if meta.is_dir() => Entry::Dir,
            Ok(_) => Entry::File(None),
            Err(_) => Entry::Missing,
        }
    }

    /// The README or index page a directory link shows.
    pub(crate) fn dir_index(&self, dir: &str) -> Option<usize> {
        ["README.md", "readme.md", "Readme.md", "index.md", "INDEX.md", "_index.md"]
            .iter()
            .find_map(|name| self.index(&join(dir, name)))
    }

    /// Paths that match `path` in every letter but case.
    pub(crate) fn case_variants(&self, path: &str) -> &[String] {
        self.lower.get(&path.to_lowercase()).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn is_dir(&self, path: &str) -> bool {
        self.dirs.contains(path)
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

fn walk_error_path(err: &ignore::Error) -> Option<PathBuf> {
    match err {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            walk_error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        _ => None,
    }
}

fn walk_error_message(err: &ignore::Error) -> String {
    match err {
        ignore::Error::WithPath { err, .. }
        | ignore::Error::WithDepth { err, .. }
        | ignore::Error::WithLineNumber { err, .. } => walk_error_message(err),
        ignore::Error::Loop { ancestor, .. } => {
            format!("symlink loop back to {}", ancestor.display())
        }
        ignore::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}
