//! Fix proposals for broken links, each with a confidence and a reason.
//!
//! High confidence means one unambiguous target, found by a rule that does not
//! guess: a case-only difference, a rename recorded in git, the repository's own
//! redirect maps, a file name that exists once, one `../` too many or too few,
//! or a changed extension. Close matches by edit distance are medium; several
//! candidates are low and left for triage.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::config::Config;
use crate::nav;
use crate::report::{Confidence, Fix, Warning};
use crate::resolve::{Local, encode_path, normalize, percent_decode, relative};
use crate::slug::slug;
use crate::tree::{Entry, Tree, file_name, parent, stem};

/// A proposed target path (root-relative) before it is written as a link.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) path: String,
    pub(crate) confidence: Confidence,
    pub(crate) reason: String,
}

pub(crate) struct Suggester<'t> {
    tree: &'t Tree,
    /// Old root-relative path to (new path, where the redirect comes from).
    redirects: HashMap<String, (String, String)>,
    renames: OnceLock<HashMap<String, String>>,
    cache: Mutex<HashMap<String, Option<Candidate>>>,
    /// File names by extension, for tree-wide close matches.
    names_by_ext: OnceLock<HashMap<String, Vec<String>>>,
    by_dir: OnceLock<HashMap<String, Vec<usize>>>,
}

impl<'t> Suggester<'t> {
    pub(crate) fn new(
        tree: &'t Tree,
        config: &Config,
        warnings: &Mutex<Vec<Warning>>,
    ) -> Suggester<'t> {
        let mut redirects = HashMap::new();
        let source = config
            .source
            .as_deref()
            .and_then(Path::file_name)
            .map_or_else(|| "doclinks.toml".to_owned(), |n| n.to_string_lossy().into_owned());
        for (old, new, from) in nav::docfx_redirects(tree, warnings) {
            redirects.insert(old, (new, from));
        }
        if let Some(mkdocs) = nav::read_mkdocs(&tree.root, warnings) {
            for (old, new) in mkdocs.redirects {
                redirects.insert(old, (new, "mkdocs.yml redirect_maps".to_owned()));
            }
        }
        for (old, new) in &config.redirects {
            if let (Some(old), Some(new)) = (normalize("", old), normalize("", new)) {
                redirects.insert(old, (new, format!("{source} [redirects]")));
            }
        }
        Suggester {
            tree,
            redirects,
            renames: OnceLock::new(),
            cache: Mutex::new(HashMap::new()),
            names_by_ext: OnceLock::new(),
            by_dir: OnceLock::new(),
        }
    }

    fn exists(&self, path: &str) -> bool {
        !matches!(self.tree.lookup(path), Entry::Missing)
    }

    /// A candidate for a missing file or directory, cached per missing path.
    pub(crate) fn missing_file(
        &self,
        missing: &str,
        dest: &Local<'_>,
        from: &str,
    ) -> Option<Candidate> {
        // `../` adjustments depend on the linking file, so they are not cached.
        if !dest.root_absolute
            && let Some(candidate) = self.climb(dest, from)
        {
            return Some(candidate);
        }
        if let Some(hit) = self.cache.lock().expect("suggestion cache").get(missing) {
            return hit.clone();
        }
        let candidate = self.missing_uncached(missing);
        self.cache.lock().expect("suggestion cache").insert(missing.to_owned(), candidate.clone());
        candidate
    }

    fn missing_uncached(&self, missing: &str) -> Option<Candidate> {
        let high = |path: String, reason: String| {
            Some(Candidate { path, confidence: Confidence::High, reason })
        };
        if let Some((new, from)) = self.redirects.get(missing)
            && self.exists(new)
        {
            return high(new.clone(), format!("redirect map in {from}"));
        }
        if let Some(new) = self.renamed(missing) {
            return high(new, "renamed in git history".to_owned());
        }
        let name = file_name(missing);
        let same_stem: Vec<usize> = self
            .tree
            .by_stem
            .get(&(parent(missing).to_owned(), stem(name).to_owned()))
            .map(|v| v.iter().copied().filter(|&i| self.tree.files[i] != missing).collect())
            .unwrap_or_default();
        if same_stem.len() == 1 {
            let path = self.tree.files[same_stem[0]].clone();
            let reason = format!("extension changed to `{}`", file_name(&path));
            return high(path, reason);
        }
        let named: &[usize] = self.tree.by_name.get(name).map_or(&[], Vec::as_slice);
        if named.len() == 1 {
            return high(
                self.tree.files[named[0]].clone(),
                format!("`{name}` exists once in the tree"),
            );
        }
        if named.is_empty() && !name.contains('.') {
            // An extensionless link: `page` for `page.md` anywhere in the tree.
            let with_md: &[usize] =
                self.tree.by_name.get(&format!("{name}.md")).map_or(&[], Vec::as_slice);
            if with_md.len() == 1 {
                return high(
                    self.tree.files[with_md[0]].clone(),
                    format!("`{name}.md` exists once in the tree"),
                );
            }
        }
        if let Some(candidate) = self.close_file(missing) {
            return Some(candidate);
        }
        if named.len() > 1 {
            let mut paths: Vec<&String> = named.iter().map(|&i| &self.tree.files[i]).collect();
            paths.sort_by_cached_key(|p| (strsim::levenshtein(p, missing), p.as_str()));
            let listed: Vec<&str> = paths.iter().take(3).map(|p| p.as_str()).collect();
            return Some(Candidate {
                path: paths[0].clone(),
                confidence: Confidence::Low,
                reason: format!("{} files named `{name}`: {}", named.len(), listed.join(", ")),
            });
        }
        None
    }

    /// One `../` too many or too few, when exactly one variant exists.
    fn climb(&self, dest: &Local<'_>, from: &str) -> Option<Candidate> {
        let written = crate::resolve::percent_decode(dest.path_as_written);
        let mut found = Vec::new();
        if let Some(rest) = written.strip_prefix("../")
            && let Some(path) = normalize(parent(from), rest)
            && self.exists(&path)
        {
            found.push((path, "one `../` too many"));
        }
        if let Some(path) = normalize(parent(from), &format!("../{written}"))
            && self.exists(&path)
        {
            found.push((path, "one `../` too few"));
        }
        if found.len() != 1 {
            return None;
        }
        let (path, reason) = found.pop()?;
        Some(Candidate { path, confidence: Confidence::High, reason: reason.to_owned() })
    }

    fn renamed(&self, missing: &str) -> Option<String> {
        let renames = self.renames.get_or_init(|| git_renames(&self.tree.root));
        let mut current = renames.get(missing)?;
        let mut seen = HashSet::new();
        while !self.exists(current) {
            if !seen.insert(current.clone()) {
                return None;
            }
            current = renames.get(current)?;
        }
        Some(current.clone())
    }

    /// A unique close match of the file name: first in the same directory, then
    /// anywhere in the tree among files with the same extension.
    fn close_file(&self, missing: &str) -> Option<Candidate> {
        let name = file_name(missing);
        let lower = name.to_lowercase();
        let limit = (name.chars().count() / 4).clamp(1, 3);
        let by_dir = self.by_dir.get_or_init(|| {
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, f) in self.tree.files.iter().enumerate() {
                map.entry(parent(f).to_owned()).or_default().push(i);
            }
            map
        });
        let in_dir =
            by_dir.get(parent(missing)).map(|v| v.iter().map(|&i| self.tree.files[i].as_str()));
        if let Some(paths) = in_dir
            && let Some((path, distance)) =
                unique_best(paths, |p| file_name(p).to_lowercase(), &lower, limit)
        {
            return Some(Candidate {
                path: path.to_owned(),
                confidence: Confidence::Medium,
                reason: format!("close match of the file name (edit distance {distance})"),
            });
        }
        let ext = extension(name);
        let names = self.names_by_ext.get_or_init(|| {
            let mut map: HashMap<String, Vec<String>> = HashMap::new();
            for n in self.tree.by_name.keys() {
                map.entry(extension(n).to_owned()).or_default().push(n.clone());
            }
            map
        });
        let pool = names.get(ext)?;
        let len = lower.chars().count();
        let near = pool.iter().map(String::as_str).filter(|n| n.len().abs_diff(len) <= limit);
        let (best, distance) = unique_best(near, str::to_lowercase, &lower, limit)?;
        let holders = self.tree.by_name.get(best)?;
        if holders.len() != 1 {
            return None;
        }
        Some(Candidate {
            path: self.tree.files[holders[0]].clone(),
            confidence: Confidence::Medium,
            reason: format!("close match of the file name (edit distance {distance})"),
        })
    }

    /// A fix for a fragment that matches none of the target's anchors.
    pub(crate) fn anchor(
        &self,
        fragment: &str,
        anchors: &HashSet<String>,
    ) -> Option<(String, Confidence, String)> {
        let lower = fragment.to_lowercase();
        let mut case_only = anchors.iter().filter(|a| a.to_lowercase() == lower);
        if let (Some(a), None) = (case_only.next(), case_only.next()) {
            return Some((a.clone(), Confidence::High, "anchor differs only in case".to_owned()));
        }
        let slugged = slug(&crate::resolve::percent_decode(fragment).replace('-', " "));
        let slugged_plain = slug(fragment);
        for s in [slugged_plain, slugged] {
            if !s.is_empty() && anchors.contains(&s) {
                return Some((
                    s,
                    Confidence::High,
                    "fragment written as heading text, not its slug".to_owned(),
                ));
            }
        }
        let limit = (fragment.chars().count() / 3).clamp(1, 4);
        if let Some((best, distance)) =
            unique_best(anchors.iter().map(String::as_str), str::to_owned, &lower, limit)
        {
            return Some((
                best.to_owned(),
                Confidence::Medium,
                format!("close match of a heading (edit distance {distance})"),
            ));
        }
        None
    }
}

fn extension(name: &str) -> &str {
    name.rfind('.').map_or("", |i| &name[i..])
}

/// The item with the smallest edit distance to `target`, if it is within `limit`
/// and no other item is as close.
fn unique_best<'a>(
    items: impl Iterator<Item = &'a str>,
    key: impl Fn(&str) -> String,
    target: &str,
    limit: usize,
) -> Option<(&'a str, usize)> {
    let mut best: Option<(&str, usize)> = None;
    let mut tie = false;
    for item in items {
        let distance = strsim::levenshtein(&key(item), target);
        if distance == 0 || distance > limit {
            continue;
        }
        match best {
            Some((_, d)) if distance > d => {}
            Some((_, d)) if distance == d => tie = true,
            _ => {
                best = Some((item, distance));
                tie = false;
            }
        }
    }
    if tie { None } else { best }
}

/// Renames recorded in git history, old → new, root-relative. Empty when the
/// root is not in a git repository or git is missing.
fn git_renames(root: &Path) -> HashMap<String, String> {
    let mut renames = HashMap::new();
    let Some(prefix) = git(root, &["rev-parse", "--show-prefix"]) else { return renames };
    let prefix = prefix.trim().to_owned();
    // Uncommitted renames (staged or not) first, then history, newest first.
    let quiet = ["-c", "core.quotePath=false"];
    let pending =
        [&quiet[..], &["diff", "HEAD", "-M", "--name-status", "-z", "--diff-filter=R"]].concat();
    let history =
        [&quiet[..], &["log", "-M", "--name-status", "--format=", "-z", "--diff-filter=R"]]
            .concat();
    for args in [pending, history] {
        let text = git(root, &args).unwrap_or_default();
        let mut tokens =
            text.split('\0').filter(|t| !t.is_empty()).map(|t| t.trim_start_matches('\n'));
        while let Some(status) = tokens.next() {
            if status.starts_with('R') || status.starts_with('C') {
                let (Some(old), Some(new)) = (tokens.next(), tokens.next()) else { break };
                if let (Some(old), Some(new)) =
                    (old.strip_prefix(prefix.as_str()), new.strip_prefix(prefix.as_str()))
                {
                    // Keep the latest rename of each path.
                    renames.entry(old.to_owned()).or_insert_with(|| new.to_owned());
                }
            }
        }
    }
    renames
}

pub(crate) fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(root).args(args).output().ok()?;
    if out.status.success() { String::from_utf8(out.stdout).ok() } else { None }
}

/// Writes a candidate path as a destination for a link in `from`, in the style
/// of the original (root-absolute or relative, `./` prefix), keeping its
/// `?query#fragment`.
pub(crate) fn write_target(candidate: &str, dest: &Local<'_>, from: &str, is_dir: bool) -> String {
    let mut path = if dest.root_absolute {
        format!("/{}", encode_path(candidate))
    } else {
        let rel = encode_path(&relative(parent(from), candidate));
        if dest.path_as_written.starts_with("./") && !rel.starts_with("../") {
            format!("./{rel}")
        } else {
            rel
        }
    };
    // Keep the author's spelling when the path as written is the new one but
    // for letter case: `foo(1).md` stays unencoded, `<a b.md>` keeps its space.
    // `path_as_written` is unescaped, so characters that may have needed a
    // backslash or an entity where they stood keep their percent-encoding.
    let decoded = percent_decode(&path);
    if decoded != path
        && decoded.to_lowercase() == dest.path_as_written.to_lowercase()
        && !decoded.contains(['<', '>', '\\', '"', '\'', '&'])
        && balanced_parens(&decoded)
    {
        path = decoded.into_owned();
    }
    if is_dir && dest.trailing_slash && !path.ends_with('/') {
        path.push('/');
    }
    path.push_str(dest.suffix);
    path
}

/// Whether every `)` closes an earlier `(`, as an unbracketed destination needs.
fn balanced_parens(text: &str) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0
}

/// Writes an anchor fix: the destination as written up to `#`, then the anchor.
pub(crate) fn write_anchor(raw_target: &str, anchor: &str) -> String {
    let base = raw_target.find('#').map_or(raw_target, |i| &raw_target[..i]);
    format!("{base}#{}", encode_path(anchor))
}

pub(crate) fn fix(path: String, confidence: Confidence, reason: String) -> Fix {
    Fix { new_target: path, confidence, reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{Dest, resolve};

    fn local(dest: &str, from: &str) -> Local<'static> {
        let dest: &'static str = Box::leak(dest.to_owned().into_boxed_str());
        match resolve(dest, from, &[]) {
            Dest::Local(l) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unique_best_needs_a_single_closest_item() {
        let items = ["install.md", "usage.md"];
        assert_eq!(
            unique_best(items.into_iter(), str::to_owned, "instal.md", 2),
            Some(("install.md", 1))
        );
        // Two items equally close: no unique best.
        assert_eq!(
            unique_best(["install.md", "instal.md"].into_iter(), str::to_owned, "instll.md", 2),
            None
        );
        assert_eq!(unique_best(["ab.md", "ac.md"].into_iter(), str::to_owned, "aa.md", 2), None);
        assert_eq!(unique_best(["zzzz.md"].into_iter(), str::to_owned, "aa.md", 2), None);
    }

    #[test]
    fn targets_keep_the_style_of_the_original() {
        assert_eq!(
            write_target("docs/new page.md", &local("./old.md#x", "docs/a.md"), "docs/a.md", false),
            "./new%20page.md#x"
        );
        assert_eq!(
            write_target("guide/b.md", &local("/old.md?q=1", "docs/a.md"), "docs/a.md", false),
            "/guide/b.md?q=1"
        );
        assert_eq!(
            write_target("guide", &local("../Guide/", "docs/a.md"), "docs/a.md", true),
            "../guide/"
        );
        assert_eq!(write_anchor("page.md?x=1#Old", "new-anchor"), "page.md?x=1#new-anchor");
    }

    #[test]
    fn case_only_fixes_keep_the_spelling_as_written() {
        let fix = |candidate: &str, dest: &str| {
            write_target(candidate, &local(dest, "a.md"), "a.md", false)
        };
        assert_eq!(fix("Foo(1).md", "foo(1).md"), "Foo(1).md");
        assert_eq!(fix("A B.md", "a b.md"), "A B.md");
        assert_eq!(fix("A B.md", "a%20b.md"), "A%20B.md");
        // Unbalanced parentheses may have been escaped where they stood.
        assert_eq!(fix("Foo(1.md", "foo(1.md"), "Foo%281.md");
        // Not a case-only change: encoded as usual.
        assert_eq!(fix("new page.md", "old page.md"), "new%20page.md");
    }
}
