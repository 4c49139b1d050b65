//! The check itself: choose the files (all, given paths, nav-reachable, or
//! changed since a revision), read and parse each once in parallel, resolve
//! every link, and check fragments against anchors computed once per target.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::config::Config;
use crate::error::Error;
use crate::extract::{Extracted, extract, html_page_anchors};
use crate::nav;
use crate::report::{Confidence, Finding, Kind, Report, Summary, Warning};
use crate::resolve::{Dest, Local, resolve};
use crate::suggest::{self, Suggester, git};
use crate::tree::{Entry, Tree, TreeRoot, is_markdown, push_warning};

/// Progress of a check: files done out of a total known so far.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Progress {
    /// Files checked.
    pub done: usize,
    /// Files to check (grows in nav-only mode as navigation is followed).
    pub total: usize,
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// What to check and how.
#[derive(Clone)]
pub struct CheckOptions {
    root: PathBuf,
    paths: Vec<PathBuf>,
    nav_only: bool,
    changed_since: Option<String>,
    fragments: bool,
    config: Option<Config>,
    progress: Option<ProgressFn>,
}

impl CheckOptions {
    /// Checks every Markdown file under `root` (deep mode), fragments included,
    /// with `root/doclinks.toml` if there is one.
    pub fn new(root: impl Into<PathBuf>) -> CheckOptions {
        CheckOptions {
            root: root.into(),
            paths: Vec::new(),
            nav_only: false,
            changed_since: None,
            fragments: true,
            config: None,
            progress: None,
        }
    }

    /// Checks only the Markdown files under these paths (files or directories
    /// under the root); links are still resolved against the whole tree.
    pub fn paths(mut self, paths: Vec<PathBuf>) -> CheckOptions {
        self.paths = paths;
        self
    }

    /// Checks only the pages reachable from navigation files, and lists the others.
    pub fn nav_only(mut self, yes: bool) -> CheckOptions {
        self.nav_only = yes;
        self
    }

    /// Checks the files changed since `rev` and every file linking to a changed,
    /// renamed or deleted file.
    pub fn changed_since(mut self, rev: Option<String>) -> CheckOptions {
        self.changed_since = rev;
        self
    }

    /// Whether `#fragment`s are checked against the target's anchors.
    pub fn fragments(mut self, yes: bool) -> CheckOptions {
        self.fragments = yes;
        self
    }

    /// Uses this configuration instead of `root/doclinks.toml`.
    pub fn config(mut self, config: Config) -> CheckOptions {
        self.config = Some(config);
        self
    }

    /// Calls `progress` as files are checked (from several threads).
    pub fn progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> CheckOptions {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// The root of the tree.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Checks a Markdown tree and returns every broken link with a fix proposal.
pub fn check(options: &CheckOptions) -> Result<Report, Error> {
    let root = std::fs::canonicalize(&options.root)
        .map_err(|e| Error::io("cannot open root", &options.root, e))?;
    if !root.is_dir() {
        return Err(Error::input(format!("root {} is not a directory", options.root.display())));
    }
    let handle = tidy_io::Root::open(&root)?;
    let config = match &options.config {
        Some(config) => config.clone(),
        None => Config::discover_in(&handle)?,
    };
    let warnings = Mutex::new(Vec::new());
    let tree = Tree::walk(TreeRoot::new(handle, config.max_file_size), &warnings)?;
    let engine = Engine::new(&tree, &config, options, warnings);
    engine.run(options)
}

/// Everything one file's links produced.
#[derive(Default)]
struct FileResult {
    findings: Vec<Finding>,
    links: usize,
    local: usize,
    external: usize,
    ignored: usize,
    historical: usize,
    /// Root-relative paths this file links to, for the reverse link index.
    targets: Vec<String>,
    /// Markdown files this file links to, for nav-only traversal.
    markdown_targets: Vec<usize>,
}

pub(crate) struct Engine<'t> {
    tree: &'t Tree,
    config: &'t Config,
    docs: Vec<OnceLock<Option<Extracted>>>,
    warnings: Mutex<Vec<Warning>>,
    suggester: Suggester<'t>,
    fragments: bool,
    progress: Option<ProgressFn>,
    done: AtomicUsize,
    total: AtomicUsize,
}

impl<'t> Engine<'t> {
    fn new(
        tree: &'t Tree,
        config: &'t Config,
        options: &CheckOptions,
        warnings: Mutex<Vec<Warning>>,
    ) -> Engine<'t> {
        let suggester = Suggester::new(tree, config, &warnings);
        Engine {
            tree,
            config,
            docs: (0..tree.files.len()).map(|_| OnceLock::new()).collect(),
            warnings,
            suggester,
            fragments: options.fragments,
            progress: options.progress.clone(),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
        }
    }

    /// The parsed file, read and parsed at most once however many links need it.
    fn doc(&self, index: usize) -> Option<&Extracted> {
        self.docs[index].get_or_init(|| self.read(index)).as_ref()
    }

    fn read(&self, index: usize) -> Option<Extracted> {
        let rel = &self.tree.files[index];
        let warn = |message: String| {
            push_warning(&self.warnings, &self.tree.abs(rel), message);
            None
        };
        let bytes = match self.tree.root.read(rel) {
            Ok(bytes) => bytes,
            Err(message) => return warn(message),
        };
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return warn("skipped: binary file (contains NUL bytes)".to_owned());
        }
        if is_html(rel) {
            // A page is only a link target: its anchors are all that is needed,
            // and a legacy encoding must not hide the ASCII ids in it.
            return Some(html_page_anchors(&String::from_utf8_lossy(&bytes)));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Some(extract(&text)),
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                warn(format!("skipped: not valid UTF-8 (line {line})"))
            }
        }
    }

    fn excluded(&self, rel: &str) -> bool {
        self.config.exclude.iter().any(|g| g.is_match(rel))
    }

    fn run(self, options: &CheckOptions) -> Result<Report, Error> {
        let markdown: Vec<usize> = (0..self.tree.files.len())
            .filter(|&i| is_markdown(&self.tree.files[i]) && !self.excluded(&self.tree.files[i]))
            .collect();
        let mut unreached = None;
        let results: Vec<(usize, FileResult)> = if options.nav_only {
            let prefixes = self.prefixes(&options.paths)?;
            let (results, missed) = self.nav_walk(&markdown, &prefixes);
            unreached = Some(missed);
            results
        } else {
            let selected = if options.paths.is_empty() {
                markdown.clone()
            } else {
                self.under_paths(&markdown, &options.paths)?
            };
            let changed = match &options.changed_since {
                Some(rev) => Some(changed_since(&self.tree.root, rev)?),
                None => None,
            };
            // The reverse link index needs every file's links, not just the selected ones.
            let scope = if changed.is_some() { &markdown } else { &selected };
            self.total.store(scope.len(), Ordering::Relaxed);
            let all: Vec<(usize, FileResult)> =
                scope.par_iter().map(|&i| (i, self.check_file(i))).collect();
            match changed {
                None => all,
                Some(touched) => {
                    let selected: HashSet<usize> = selected.into_iter().collect();
                    all.into_iter()
                        .filter(|(i, r)| {
                            selected.contains(i)
                                && (touched.changed.contains(&self.tree.files[*i])
                                    || r.targets.iter().any(|t| touched.touched.contains(t)))
                        })
                        .collect()
                }
            }
        };
        Ok(self.report(results, unreached))
    }

    fn under_paths(&self, markdown: &[usize], paths: &[PathBuf]) -> Result<Vec<usize>, Error> {
        let prefixes = self.prefixes(paths)?;
        Ok(markdown.iter().copied().filter(|&i| under(&prefixes, &self.tree.files[i])).collect())
    }

    /// The given paths as root-relative prefixes.
    fn prefixes(&self, paths: &[PathBuf]) -> Result<Vec<String>, Error> {
        let mut prefixes = Vec::new();
        for path in paths {
            // A relative path is taken from the current directory when it is
            // under the root there, or else from the root.
            let under_root = self.tree.root.join(path);
            let in_cwd = std::fs::canonicalize(path).is_ok_and(|p| p.starts_with(&self.tree.root));
            let path = if path.is_relative() && !in_cwd && under_root.exists() {
                &under_root
            } else {
                path
            };
            let abs =
                std::fs::canonicalize(path).map_err(|e| Error::io("cannot open path", path, e))?;
            let rel = abs.strip_prefix(&self.tree.root).map_err(|_| {
                Error::input(format!(
                    "{} is outside the root {}",
                    path.display(),
                    self.tree.root.display()
                ))
            })?;
            let rel = rel.to_string_lossy().replace('\\', "/");
            prefixes.push(rel);
        }
        Ok(prefixes)
    }

    /// Breadth-first from the navigation files; returns the checked files and
    /// the Markdown files no navigation reaches.
    ///
    /// With paths, each path's README/index (or the file itself) is a navigation
    /// file too, and only files under the paths are reported.
    fn nav_walk(
        &self,
        markdown: &[usize],
        prefixes: &[String],
    ) -> (Vec<(usize, FileResult)>, Vec<String>) {
        let mut start = self.nav_start();
        for prefix in prefixes {
            if let Some(i) = self.tree.index(prefix).filter(|_| is_markdown(prefix)) {
                start.insert(i);
            } else if let Some(i) = self.tree.dir_index(prefix) {
                start.insert(i);
            }
        }
        if start.is_empty() {
            push_warning(
                &self.warnings,
                &self.tree.root,
                "no navigation files found (README.md, SUMMARY.md, mkdocs.yml nav, toc.yml or `nav` in doclinks.toml)"
                    .to_owned(),
            );
        }
        let mut seen: HashSet<usize> = start.iter().copied().collect();
        let mut frontier: Vec<usize> = start.into_iter().collect();
        let mut results = Vec::new();
        while !frontier.is_empty() {
            self.total.fetch_add(frontier.len(), Ordering::Relaxed);
            let level: Vec<(usize, FileResult)> =
                frontier.par_iter().map(|&i| (i, self.check_file(i))).collect();
            let mut next = Vec::new();
            for (_, result) in &level {
                for &target in &result.markdown_targets {
                    if !self.excluded(&self.tree.files[target]) && seen.insert(target) {
                        next.push(target);
                    }
                }
            }
            results.extend(level);
            next.sort_unstable();
            frontier = next;
        }
        results.retain(|(i, _)| under(prefixes, &self.tree.files[*i]));
        let unreached = markdown
            .iter()
            .filter(|i| !seen.contains(i) && under(prefixes, &self.tree.files[**i]))
            .map(|&i| self.tree.files[i].clone())
            .collect();
        (results, unreached)
    }

    /// Navigation files: the root README/index, every directory's README, every
    /// SUMMARY.md, mkdocs.yml `nav`, DocFX `toc.yml` entries, and the config's
    /// `nav` list.
    fn nav_start(&self) -> BTreeSet<usize> {
        let tree = self.tree;
        let mut start = BTreeSet::new();
        let mut add = |path: &str| {
            if let Some(i) = tree.index(path).filter(|_| is_markdown(path)) {
                start.insert(i);
            } else if tree.is_dir(path)
                && let Some(i) = tree.dir_index(path)
            {
                start.insert(i);
            }
        };
        for name in ["README.md", "readme.md", "index.md"] {
            add(name);
        }
        let mut tocs: Vec<String> = Vec::new();
        for path in &tree.files {
            let name = crate::tree::file_name(path);
            // A directory's README is what GitHub shows when you browse to it.
            if name == "SUMMARY.md" || name.eq_ignore_ascii_case("README.md") {
                if !self.excluded(path) {
                    add(path);
                }
            } else if name.eq_ignore_ascii_case("toc.yml") || name.eq_ignore_ascii_case("toc.yaml")
            {
                tocs.push(path.clone());
            }
        }
        if let Some(mkdocs) = nav::read_mkdocs(&tree.root, &self.warnings) {
            add(&mkdocs.docs_dir);
            for path in &mkdocs.nav {
                add(path);
            }
        }
        for toc in &tocs {
            match nav::read_text(&tree.root, toc).and_then(|text| nav::toc_hrefs(toc, &text)) {
                Ok(hrefs) => hrefs.iter().for_each(|href| add(href)),
                Err(e) => push_warning(
                    &self.warnings,
                    &tree.abs(toc),
                    format!("{e}; its entries are not nav starting points"),
                ),
            }
        }
        for path in &self.config.nav {
            add(&path.to_string_lossy().replace('\\', "/"));
        }
        start
    }

    fn tick(&self) {
        if let Some(progress) = &self.progress {
            let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(Progress { done, total: self.total.load(Ordering::Relaxed) });
        }
    }

    fn check_file(&self, index: usize) -> FileResult {
        let mut result = FileResult::default();
        let file = &self.tree.files[index];
        let Some(doc) = self.doc(index) else {
            self.tick();
            return result;
        };
        for link in &doc.links {
            result.links += 1;
            let finding = |kind: Kind, fix: Option<crate::report::Fix>| Finding {
                kind,
                file: file.clone(),
                line: link.line,
                column: link.column,
                target: link.raw.clone(),
                fix,
                span: link.span.clone(),
            };
            let found = match resolve(&link.dest, file, &self.config.site_prefixes) {
                Dest::External => {
                    result.external += 1;
                    None
                }
                Dest::AbsolutePath => Some(finding(Kind::AbsolutePath, None)),
                Dest::Site => Some(finding(Kind::SiteLink, None)),
                Dest::OutsideRoot => {
                    result.local += 1;
                    Some(finding(Kind::OutsideRoot, None))
                }
                Dest::Local(local) => {
                    result.local += 1;
                    self.check_local(file, &link.raw, &local, &mut result)
                        .map(|(kind, fix)| finding(kind, fix))
                }
            };
            if let Some(found) = found {
                if self.config.ignore.iter().any(|r| r.matches(file, &found.target)) {
                    result.ignored += 1;
                } else if self.config.historical.iter().any(|r| r.matches(file, &found.target)) {
                    result.historical += 1;
                } else {
                    result.findings.push(found);
                }
            }
        }
        self.tick();
        result
    }

    fn check_local(
        &self,
        file: &str,
        raw: &str,
        local: &Local<'_>,
        result: &mut FileResult,
    ) -> Option<(Kind, Option<crate::report::Fix>)> {
        result.targets.push(local.path.clone());
        let target = match self.tree.lookup(&local.path) {
            Entry::File(index) => index,
            Entry::Dir => {
                let index = self.tree.dir_index(&local.path);
                if let Some(i) = index {
                    result.targets.push(self.tree.files[i].clone());
                }
                index
            }
            Entry::Missing => return Some(self.missing(file, local)),
        };
        let target = target.filter(|&i| has_anchors(&self.tree.files[i]))?;
        if is_markdown(&self.tree.files[target]) {
            result.markdown_targets.push(target);
        }
        let fragment = local.fragment.as_deref()?;
        if !self.fragments || fragment.is_empty() || fragment == "top" {
            return None;
        }
        if is_source_line(local.suffix, fragment) {
            return None;
        }
        let anchors = &self.doc(target)?.anchors;
        if anchors.contains(fragment) {
            return None;
        }
        let fix = self.suggester.anchor(fragment, anchors).map(|(anchor, confidence, reason)| {
            suggest::fix(suggest::write_anchor(raw, &anchor), confidence, reason)
        });
        Some((Kind::MissingAnchor, fix))
    }

    fn missing(&self, file: &str, local: &Local<'_>) -> (Kind, Option<crate::report::Fix>) {
        let variants = self.tree.case_variants(&local.path);
        if !variants.is_empty() {
            let confidence = if variants.len() == 1 { Confidence::High } else { Confidence::Low };
            let reason = if variants.len() == 1 {
                "case-only mismatch".to_owned()
            } else {
                format!("{} paths differ only in case", variants.len())
            };
            let fix = self.file_fix(&variants[0], local, file, confidence, reason);
            return (Kind::CaseMismatch, Some(fix));
        }
        let fix = self
            .suggester
            .missing_file(&local.path, local, file)
            .map(|c| self.file_fix(&c.path, local, file, c.confidence, c.reason));
        (Kind::MissingFile, fix)
    }

    /// A fix that points the link at `path`, keeping its fragment when the new
    /// target has that anchor, else mending the fragment too (at the lower of
    /// both confidences), else dropping it, so that an applied fix never leaves
    /// a link that is still broken.
    fn file_fix(
        &self,
        path: &str,
        local: &Local<'_>,
        file: &str,
        confidence: Confidence,
        reason: String,
    ) -> crate::report::Fix {
        let new_target = suggest::write_target(path, local, file, self.tree.is_dir(path));
        let fragment =
            local.fragment.as_deref().filter(|f| self.fragments && !f.is_empty() && *f != "top");
        let target_doc = match self.tree.lookup(path) {
            Entry::File(index) => index,
            Entry::Dir => self.tree.dir_index(path),
            Entry::Missing => None,
        }
        .filter(|&i| has_anchors(&self.tree.files[i]));
        let (Some(fragment), Some(doc)) = (fragment, target_doc.and_then(|i| self.doc(i))) else {
            return suggest::fix(new_target, confidence, reason);
        };
        if doc.anchors.contains(fragment) {
            return suggest::fix(new_target, confidence, reason);
        }
        match self.suggester.anchor(fragment, &doc.anchors) {
            Some((anchor, anchor_confidence, anchor_reason)) => suggest::fix(
                suggest::write_anchor(&new_target, &anchor),
                confidence.min(anchor_confidence),
                format!("{reason}; {anchor_reason}"),
            ),
            None => {
                let bare = new_target.find('#').map_or(new_target.as_str(), |i| &new_target[..i]);
                suggest::fix(
                    bare.to_owned(),
                    Confidence::Low,
                    format!("{reason}; #{fragment} is not an anchor there, so the link drops it"),
                )
            }
        }
    }

    fn report(self, results: Vec<(usize, FileResult)>, unreached: Option<Vec<String>>) -> Report {
        let mut summary = Summary { files: results.len(), ..Summary::default() };
        let mut findings = Vec::new();
        let mut site_links = Vec::new();
        for (_, result) in results {
            summary.links += result.links;
            summary.local += result.local;
            summary.external += result.external;
            summary.ignored += result.ignored;
            summary.historical += result.historical;
            for finding in result.findings {
                if finding.kind == Kind::SiteLink {
                    site_links.push(finding);
                } else {
                    findings.push(finding);
                }
            }
        }
        let order = |a: &Finding, b: &Finding| {
            (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column))
        };
        findings.sort_by(order);
        site_links.sort_by(order);
        summary.broken = findings.len();
        summary.site_links = site_links.len();
        summary.fixable_high = findings
            .iter()
            .filter(|f| f.fix.as_ref().is_some_and(|x| x.confidence == Confidence::High))
            .count();
        let mut warnings = self.warnings.into_inner().expect("warnings lock");
        warnings.sort_by(|a, b| a.path.cmp(&b.path));
        warnings.dedup();
        Report {
            root: self.tree.root.to_path_buf(),
            summary,
            findings,
            site_links,
            unreached,
            warnings,
            max_file_size: self.config.max_file_size,
        }
    }
}

/// Whether `file` is under one of `prefixes` (every file when there are none).
fn under(prefixes: &[String], file: &str) -> bool {
    prefixes.is_empty()
        || prefixes.iter().any(|p| p.is_empty() || file == p || file.starts_with(&format!("{p}/")))
}

/// Paths changed since a revision, relative to the root.
struct Touched {
    /// Added or modified files (checked themselves).
    changed: HashSet<String>,
    /// Every changed, added, deleted or renamed path (old and new).
    touched: HashSet<String>,
}

fn changed_since(root: &Path, rev: &str) -> Result<Touched, Error> {
    let verify = format!("{rev}^{{commit}}");
    if git(root, &["rev-parse", "--verify", "--quiet", &verify]).is_none() {
        return Err(Error::git(
            format!("rev-parse {rev}"),
            format!("`{rev}` is not a revision of a git repository at {}", root.display()),
        ));
    }
    let diff = git(
        root,
        &["-c", "core.quotePath=false", "diff", "--name-status", "-M", "--relative", "-z", rev],
    )
    .ok_or_else(|| Error::git(format!("diff {rev}"), "cannot list changed files"))?;
    let untracked =
        git(root, &["ls-files", "--others", "--exclude-standard", "-z"]).unwrap_or_default();
    let mut touched = Touched { changed: HashSet::new(), touched: HashSet::new() };
    let mut tokens = diff.split('\0').filter(|t| !t.is_empty());
    while let Some(status) = tokens.next() {
        match status.chars().next() {
            Some('R' | 'C') => {
                let (Some(old), Some(new)) = (tokens.next(), tokens.next()) else { break };
                touched.touched.insert(old.to_owned());
                touched.touched.insert(new.to_owned());
                touched.changed.insert(new.to_owned());
            }
            Some('D') => {
                if let Some(path) = tokens.next() {
                    touched.touched.insert(path.to_owned());
                }
            }
            Some(_) => {
                if let Some(path) = tokens.next() {
                    touched.touched.insert(path.to_owned());
                    touched.changed.insert(path.to_owned());
                }
            }
            None => {}
        }
    }
    for path in untracked.split('\0').filter(|t| !t.is_empty()) {
        touched.touched.insert(path.to_owned());
        touched.changed.insert(path.to_owned());
    }
    Ok(touched)
}

/// A local HTML page, whose `id`/`name` attributes are its anchors.
fn is_html(path: &str) -> bool {
    let lower = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    lower.ends_with(".html") || lower.ends_with(".htm")
}

/// Whether `#fragment`s into this file are checked: Markdown and HTML pages.
fn has_anchors(path: &str) -> bool {
    is_markdown(path) || is_html(path)
}

/// `file.md?plain=1#L10` (or `#L10-L20`): GitHub's line anchors in the source
/// view of a Markdown file, not heading anchors.
fn is_source_line(suffix: &str, fragment: &str) -> bool {
    let query = suffix.strip_prefix('?').map_or("", |q| q.split('#').next().unwrap_or(q));
    let line = |part: &str| {
        part.strip_prefix('L')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    query.split('&').any(|pair| pair == "plain=1")
        && fragment.split_once('-').map_or(line(fragment), |(a, b)| line(a) && line(b))
}
