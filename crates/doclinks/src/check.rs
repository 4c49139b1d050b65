//! The check itself: walk the tree, detect how it is published, read and parse
//! every page once in parallel, build the site model, then choose the files
//! (all, given paths, nav-reachable, or changed since a revision) and resolve
//! every link the way the platform does.
//!
//! Fix proposals come from `suggest.rs`; each is written in the link's own
//! style and kept only if the resolver finds its new destination (the fix
//! invariant): a fix never turns a broken link into another broken one.

use std::collections::BTreeSet;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use rayon::prelude::*;

use crate::cache::{self, Cache, Hash, Lazy, Page, Stamp};
use crate::config::Config;
use crate::error::Error;
use crate::extract::{Extracted, Front, extract, html_page_anchors};
use crate::fast::{HashMap, HashSet};
use crate::git;
use crate::nav;
use crate::platform::{self, Platform, PlatformInfo};
use crate::report::{Confidence, Finding, Fix, Kind, LinkRecord, Report, Summary, Warning};
use crate::resolve::{Link, percent_decode};
use crate::results::{self, PageResult, Results};
use crate::site::{AnchorRules, Found, Missing, Model, Pages, Redirect, Resolution};
use crate::suggest::{self, Candidate, Suggester};
use crate::tree::{Tree, TreeRoot, is_html, is_markdown, push_warning};

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
    since: Option<(String, Since)>,
    fragments: bool,
    config: Option<Config>,
    platform: Option<Platform>,
    list_links: bool,
    progress: Option<ProgressFn>,
    cache: bool,
    /// The root whose cache a check of another tree reads (and never writes).
    borrowed_cache: Option<PathBuf>,
}

impl CheckOptions {
    /// Checks every Markdown file under `root` (deep mode), fragments included,
    /// with `root/doclinks.toml` if there is one.
    pub fn new(root: impl Into<PathBuf>) -> CheckOptions {
        CheckOptions {
            root: root.into(),
            paths: Vec::new(),
            nav_only: false,
            since: None,
            fragments: true,
            config: None,
            platform: None,
            list_links: false,
            progress: None,
            cache: true,
            borrowed_cache: None,
        }
    }

    /// Whether pages are taken from, and written to, the cache in
    /// `ROOT/.doclinks/cache` (on by default): an unchanged page is neither
    /// read nor parsed again.
    pub fn cache(mut self, yes: bool) -> CheckOptions {
        self.cache = yes;
        self
    }

    /// Also lists every link of the checked files with where it leads
    /// ([`Report::links`]), for tools that map a tree's link graph.
    pub fn list_links(mut self, yes: bool) -> CheckOptions {
        self.list_links = yes;
        self
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

    /// Reports only the findings introduced since `rev`: those the tree at
    /// `rev` did not have (matched by file, destination and occurrence, not by
    /// line), and links into pages deleted or renamed since.
    pub fn changed_since(mut self, rev: Option<String>) -> CheckOptions {
        self.since = rev.map(|rev| (rev, Since::New));
        self
    }

    /// Checks the files changed since `rev` and every file linking to a
    /// changed, renamed or deleted file, and reports all their findings, old
    /// ones included.
    pub fn affected_since(mut self, rev: Option<String>) -> CheckOptions {
        self.since = rev.map(|rev| (rev, Since::Affected));
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

    /// Resolves links as this platform does, instead of detecting it (and
    /// instead of `platform` in `doclinks.toml`).
    pub fn platform(mut self, platform: Option<Platform>) -> CheckOptions {
        self.platform = platform;
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

/// How a revision narrows a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    /// Only findings the tree at the revision did not have.
    New,
    /// Every finding of the files a change since the revision affects.
    Affected,
}

impl CheckOptions {
    /// The options for checking the tree as it was at a revision, written to
    /// `root`: the same platform, configuration and fragment rules, every file,
    /// every link listed.
    pub(crate) fn at_revision(&self, root: &Path) -> CheckOptions {
        CheckOptions {
            root: root.to_path_buf(),
            paths: Vec::new(),
            nav_only: false,
            since: None,
            fragments: self.fragments,
            config: self.config.clone(),
            platform: self.platform,
            list_links: true,
            progress: None,
            cache: self.cache,
            borrowed_cache: self.cache.then(|| self.root.clone()),
        }
    }
}

/// Checks a Markdown tree and returns every broken link with a fix proposal.
pub fn check(options: &CheckOptions) -> Result<Report, Error> {
    check_and_resolve(options, &[]).map(|(report, _)| report)
}

/// Checks the tree, and says for each `(file, destination)` whether that
/// destination, written in that file, would resolve (fragment included): how
/// a triage decision's new target is judged by the same resolver.
pub(crate) fn check_and_resolve(
    options: &CheckOptions,
    queries: &[(String, String)],
) -> Result<(Report, Vec<bool>), Error> {
    let root = std::fs::canonicalize(&options.root)
        .map_err(|e| Error::io("cannot open root", &options.root, e))?;
    if !root.is_dir() {
        return Err(Error::input(format!("root {} is not a directory", options.root.display())));
    }
    // A bad revision fails before the walk.
    let new_since = match &options.since {
        Some((rev, Since::New)) => Some((rev, git::changed_since(&root, rev)?)),
        _ => None,
    };
    let handle = tidy_io::Root::open(&root)?;
    let config = match &options.config {
        Some(config) => config.clone(),
        None => Config::discover_in(&handle)?,
    };
    let warnings = Mutex::new(Vec::new());
    let tree = Tree::walk(TreeRoot::new(handle, config.max_file_size), &warnings)?;
    let cache = match (&options.borrowed_cache, options.cache) {
        (_, false) => None,
        (Some(from), true) => {
            tidy_io::Root::open(from).ok().map(|from| Cache::load(&from, None, &warnings))
        }
        (None, true) => Some(Cache::load(tree.root.handle(), Some(&tree), &warnings)),
    };
    let (forced, chosen_by) = match (options.platform, config.platform) {
        (Some(p), _) => (Some(p), "--platform"),
        (None, Some(p)) => (Some(p), "doclinks.toml"),
        (None, None) => (None, "detected"),
    };
    let detected = platform::detect(&tree, forced, &warnings);
    let host = match forced {
        Some(p @ (Platform::GitHub | Platform::GitLab)) => (p, None),
        _ => platform::host(&tree),
    };
    let mut docs = Docs::new(&tree, &warnings, cache);
    // Every page is parsed before the model is built: routes come from front
    // matter, and a DocFX base path from the pages' links.
    (0..tree.files.len()).into_par_iter().filter(|&i| is_markdown(&tree.files[i])).for_each(|i| {
        docs.prime(i);
    });
    let sites = if matches!(forced, Some(Platform::GitHub | Platform::GitLab)) {
        Vec::new()
    } else {
        detected
    };
    let model = Model::build(&tree, sites, host, config.base_path.as_deref(), &docs, &warnings);
    // Written once the model has read the front matter it needs: the cache
    // keeps those keys parsed.
    if let Some(cache) = docs.cache.take() {
        cache.store(&tree, &warnings);
    }
    let info = platform_info(&model, chosen_by);
    let results = results_cache(options, (&tree, &config, &info), &docs, &warnings);
    if results.as_ref().is_none_or(Results::is_empty) {
        // Every page will be checked: decoded now, in parallel, and the
        // shards' bytes let go, as if the pages had been decoded whole.
        docs.settle();
    }
    let mut engine = Engine::new(&tree, &config, options, docs, model);
    engine.results = results;
    let answers = queries.iter().map(|(file, dest)| engine.resolves(file, dest)).collect();
    let mut report = engine.run(options)?;
    drop_elsewhere(tree);
    report.platform = info;
    if let Some((rev, touched)) = new_since {
        report = crate::since::new_only(options, &root, rev, &touched, report)?;
    }
    Ok((report, answers))
}

/// The results cache, in the one mode whose per-page results it holds: a
/// deep check of the whole tree or of some paths, with the page cache on
/// (not nav-only, not narrowed by a revision, no links listed).
fn results_cache(
    options: &CheckOptions,
    (tree, config, platform): (&Tree, &Config, &PlatformInfo),
    docs: &Docs<'_>,
    warnings: &Mutex<Vec<Warning>>,
) -> Option<Results> {
    let cacheable = options.cache
        && options.borrowed_cache.is_none()
        && !options.nav_only
        && options.since.is_none()
        && !options.list_links;
    if !cacheable {
        return None;
    }
    let model_inputs: Vec<Option<Hash>> = (0..tree.files.len())
        .into_par_iter()
        .map(|i| is_markdown(&tree.files[i]).then(|| results::model_input(docs, i)).flatten())
        .collect();
    // The platform as detected (its host from `.github/` or `.gitlab-ci.yml`,
    // sites, an inferred base path) goes in as the model found it.
    let settings = format!("{} {:?} {config:?} {platform:?}", options.fragments, options.platform);
    let inputs = results::KeyInputs { settings, model_inputs: &model_inputs };
    Some(Results::load(tree, results::run_key(tree, &inputs), warnings))
}

/// What the summary and JSON say about the platform.
fn platform_info(model: &Model, chosen_by: &str) -> PlatformInfo {
    let sites = model.infos();
    let (platform, source) = match sites.first() {
        Some(first) => (first.platform, first.config.clone()),
        None => (model.host, model.host_source.clone()),
    };
    PlatformInfo {
        platform,
        source,
        chosen_by: chosen_by.to_owned(),
        sites,
        notes: model.notes.clone(),
    }
}

/// The anchors of a page in one flavor, shared by every link into it.
type Anchors = Arc<AnchorSet>;

/// A page's anchors as hashes, sorted and each once: what a fragment is
/// looked up by. Every linked page's set is held until the report, so not
/// the anchors' text (at 100k pages, 17 MB of it): a fragment that matches
/// none has the page's anchors made again, as [`AnchorNames`], to search for
/// its fix. The hashes are 64-bit and seeded anew each run: a fragment is
/// taken for an anchor it is not with a chance of about one in 10^17.
#[derive(Debug, Default)]
pub(crate) struct AnchorSet {
    hashes: Box<[u64]>,
    /// The pages whose anchors these are: the page and those it includes.
    visited: Box<[usize]>,
    /// The flavor they were made in (see [`Docs::anchors`]). Held here, not
    /// beside the set in the page's slot: a slot a file is one pointer.
    slot: usize,
}

/// The seed of [`AnchorSet`]'s hashes, one per run: no fragment can be
/// written to collide on purpose.
static ANCHOR_SEED: std::sync::LazyLock<foldhash::quality::RandomState> =
    std::sync::LazyLock::new(foldhash::quality::RandomState::default);

fn anchor_hash(anchor: &str) -> u64 {
    std::hash::BuildHasher::hash_one(&*ANCHOR_SEED, anchor)
}

impl AnchorSet {
    fn new(anchors: &HashSet<String>) -> AnchorSet {
        let mut hashes: Vec<u64> = anchors.iter().map(|a| anchor_hash(a)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        AnchorSet { hashes: hashes.into_boxed_slice(), ..AnchorSet::default() }
    }

    pub(crate) fn contains(&self, anchor: &str) -> bool {
        self.hashes.binary_search(&anchor_hash(anchor)).is_ok()
    }
}

/// A page's anchors themselves, sorted and each once, end to end in one
/// string, looked up by binary search, and gone through in one order every
/// run: made for a fragment that matches none, to find its fix.
#[derive(Debug, Default)]
pub(crate) struct AnchorNames {
    text: Box<str>,
    /// Where each anchor ends in `text`; it starts where the one before ends.
    ends: Box<[u32]>,
}

impl AnchorNames {
    fn new(anchors: HashSet<String>) -> AnchorNames {
        let mut sorted: Vec<String> = anchors.into_iter().collect();
        sorted.sort_unstable();
        let mut text = String::with_capacity(sorted.iter().map(String::len).sum());
        let mut ends = Vec::with_capacity(sorted.len());
        for anchor in &sorted {
            text.push_str(anchor);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        AnchorNames { text: text.into_boxed_str(), ends: ends.into_boxed_slice() }
    }

    fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    pub(crate) fn contains(&self, anchor: &str) -> bool {
        let (mut low, mut high) = (0, self.ends.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.get(mid).cmp(anchor) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return true,
            }
        }
        false
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.ends.len()).map(|i| self.get(i))
    }
}

/// Every page of the tree, read and parsed at most once.
pub(crate) struct Docs<'t> {
    tree: &'t Tree,
    docs: Vec<OnceLock<Option<Arc<Extracted>>>>,
    /// The SHA-256 of each Markdown page's bytes, known with the cache on.
    hashes: Vec<OnceLock<Hash>>,
    /// Pages found in the cache by their stamp, not decoded until needed.
    lazy: Vec<OnceLock<Arc<Lazy>>>,
    /// Until every page is parsed: then it is written and dropped.
    cache: Option<Cache>,
    /// Anchors per page in the first flavor asked for, computed once; pages
    /// asked for in another flavor too (links from another site) in `other`.
    anchors: Vec<OnceLock<Anchors>>,
    other: Mutex<HashMap<(usize, usize), Anchors>>,
    warnings: &'t Mutex<Vec<Warning>>,
    /// Pages read from a lossy decode: never rewritten.
    lossy: Mutex<Vec<String>>,
}

impl Pages for Docs<'_> {
    fn front(&self, index: usize) -> Option<&Front> {
        match self.lazy.get(index).and_then(OnceLock::get) {
            Some(lazy) => Some(&lazy.view().front),
            None => self.get(index).map(Extracted::front),
        }
    }

    fn root_links(&self, index: usize, each: &mut dyn FnMut(&str)) {
        if let Some(lazy) = self.lazy.get(index).and_then(OnceLock::get) {
            lazy.view().root_links.iter().for_each(|dest| each(dest));
        } else if let Some(doc) = self.get(index) {
            doc.links().map(|l| l.dest()).filter(|d| d.starts_with('/')).for_each(each);
        }
    }
}

/// A slot a file of the tree when there is a cache, else none.
fn per_file_with_cache<T>(tree: &Tree, cache: Option<&Cache>) -> Vec<OnceLock<T>> {
    match cache {
        Some(_) => (0..tree.files.len()).map(|_| OnceLock::new()).collect(),
        None => Vec::new(),
    }
}

impl<'t> Docs<'t> {
    fn new(tree: &'t Tree, warnings: &'t Mutex<Vec<Warning>>, cache: Option<Cache>) -> Docs<'t> {
        Docs {
            tree,
            docs: (0..tree.files.len()).map(|_| OnceLock::new()).collect(),
            // Only the cache gives hashes and undecoded pages: without it, no
            // slot a file for either.
            hashes: per_file_with_cache(tree, cache.as_ref()),
            // Only a cache that holds pages can leave one undecoded.
            lazy: per_file_with_cache(tree, cache.as_ref().filter(|c| c.holds_pages())),
            cache,
            anchors: (0..tree.files.len()).map(|_| OnceLock::new()).collect(),
            other: Mutex::new(HashMap::default()),
            warnings,
            lossy: Mutex::new(Vec::new()),
        }
    }

    fn get(&self, index: usize) -> Option<&Extracted> {
        self.get_with(index, Lazy::doc)
    }

    /// Page `index`, a cached one decoded by `decode`.
    fn get_with(
        &self,
        index: usize,
        decode: fn(&Lazy) -> Option<Arc<Extracted>>,
    ) -> Option<&Extracted> {
        results::consulted(index);
        if !has_anchors(&self.tree.files[index]) {
            return None;
        }
        self.docs[index]
            .get_or_init(|| {
                let cached = self.lazy.get(index).and_then(OnceLock::get);
                // A cached page that fails to decode is read from disk instead.
                cached.and_then(|lazy| decode(lazy)).or_else(|| self.read(index))
            })
            .as_deref()
    }

    /// Makes page `index` known before the model is built: from the cache by
    /// its stamp without decoding it (the model reads its view only), else
    /// read and parsed.
    fn prime(&self, index: usize) {
        let rel = &self.tree.files[index];
        if has_anchors(rel)
            && let Some(cache) = &self.cache
            && let Some(stamp) = self.tree.root.stamp(rel)
            && let Some((page, hash)) = cache.by_stamp(index, &stamp)
        {
            let _ = self.hashes[index].set(hash);
            match page {
                Page::Cached(lazy) => drop(self.lazy[index].set(lazy)),
                Page::Parsed(doc) => drop(self.docs[index].set(Some(doc))),
            }
            return;
        }
        self.get(index);
    }

    /// Decodes every page still in the cache's files, in parallel, each
    /// shard's bodies read in one go, and lets the bytes go: for a check that
    /// will read every page whole.
    fn settle(&mut self) {
        (0..self.lazy.len()).into_par_iter().filter(|&i| self.lazy[i].get().is_some()).for_each(
            |i| {
                self.get_with(i, Lazy::doc_in_bulk);
            },
        );
        self.lazy = Vec::new();
    }

    /// Reads and parses page `index` (the cache by stamp was asked in
    /// [`Docs::prime`]; by content it is asked in [`Docs::extract`]).
    fn read(&self, index: usize) -> Option<Arc<Extracted>> {
        let rel = &self.tree.files[index];
        let warn = |message: String| push_warning(self.warnings, &self.tree.abs(rel), message);
        let (bytes, stamp) = match self.tree.root.read_stamped(rel) {
            Ok(read) => read,
            Err(message) => {
                warn(message);
                return None;
            }
        };
        // memchr: the slice method is a byte loop, a hundredth of a cold check.
        if memchr::memchr(0, &bytes[..bytes.len().min(8192)]).is_some() {
            warn("skipped: binary file (contains NUL bytes)".to_owned());
            return None;
        }
        if is_html(rel) {
            // A page is only a link target: its anchors are all that is needed,
            // and a legacy encoding must not hide the ASCII ids in it.
            return Some(Arc::new(html_page_anchors(&String::from_utf8_lossy(&bytes))));
        }
        match String::from_utf8(bytes) {
            Ok(text) => Some(self.extract((index, rel), stamp, &text)),
            Err(e) => {
                let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
                warn(format!(
                    "not valid UTF-8 (line {line}): checked from a lossy decode, never rewritten"
                ));
                self.lossy.lock().expect("lossy pages lock").push(rel.clone());
                Some(Arc::new(extract(&String::from_utf8_lossy(e.as_bytes()))))
            }
        }
    }

    /// The links and anchors of a page's text: from the cache when a page
    /// with these bytes was extracted before.
    fn extract(&self, page: (usize, &str), stamp: Option<Stamp>, text: &str) -> Arc<Extracted> {
        let Some(cache) = &self.cache else { return Arc::new(extract(text)) };
        let hash = cache::hash(text.as_bytes());
        let _ = self.hashes[page.0].set(hash);
        let doc = cache.by_content(&hash).unwrap_or_else(|| Arc::new(extract(text)));
        if let Some(stamp) = stamp {
            cache.record(page, stamp, hash, &doc);
        }
        doc
    }

    /// The anchors of a page in a flavor, with those of the files it
    /// includes, and the pages they came from.
    fn collect_anchors(
        &self,
        model: &Model,
        index: usize,
        rules: AnchorRules,
    ) -> (HashSet<String>, Vec<usize>) {
        let mut seen = HashSet::default();
        let mut out = HashSet::default();
        let mut stack = vec![index];
        let mut visited = Vec::new();
        while let Some(page) = stack.pop() {
            if !seen.insert(page) || seen.len() > 16 {
                continue;
            }
            visited.push(page);
            let Some(doc) = self.get(page) else { continue };
            out.extend(doc.anchors(rules.flavor, rules.terms));
            stack.extend(model.includes(self.tree, page, doc));
        }
        (out, visited)
    }

    /// The anchors of a page in a flavor themselves (see [`AnchorNames`]).
    fn anchor_names(&self, model: &Model, index: usize, rules: AnchorRules) -> AnchorNames {
        AnchorNames::new(self.collect_anchors(model, index, rules).0)
    }

    /// The anchors of a page in a flavor, with those of the files it includes.
    fn anchors(&self, model: &Model, index: usize, rules: AnchorRules) -> Anchors {
        let slot = 2 * rules.flavor.index() + usize::from(rules.terms);
        let compute = || {
            let (out, visited) = self.collect_anchors(model, index, rules);
            Arc::new(AnchorSet { visited: visited.into(), slot, ..AnchorSet::new(&out) })
        };
        // Every caller consulted the pages, not only the first: the results
        // cache keeps what each page's check depended on.
        let replay = |anchors: &Anchors| {
            anchors.visited.iter().for_each(|&page| results::consulted(page));
            Arc::clone(anchors)
        };
        let first = self.anchors[index].get_or_init(compute);
        if first.slot == slot {
            return replay(first);
        }
        let mut other = self.other.lock().expect("anchors lock");
        replay(other.entry((index, slot)).or_insert_with(compute))
    }

    /// The SHA-256 of a Markdown page's bytes, when the cache gave it.
    fn hash(&self, index: usize) -> Option<Hash> {
        self.hashes.get(index)?.get().copied()
    }

    /// Whether a page (or one it includes) has ids a plugin generates.
    fn generated_ids(&self, model: &Model, index: usize) -> bool {
        let Some(doc) = self.get(index) else { return false };
        doc.generated_ids
            || model
                .includes(self.tree, index, doc)
                .into_iter()
                .any(|i| self.get(i).is_some_and(|d| d.generated_ids))
    }
}

impl FileResult {
    fn from_page(page: PageResult) -> FileResult {
        let PageResult { findings, links, local, external, ignored, historical } = page;
        let [links, local, external, ignored, historical] =
            [links, local, external, ignored, historical]
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        FileResult {
            findings,
            links,
            local,
            external,
            ignored,
            historical,
            ..FileResult::default()
        }
    }

    /// The counts the results cache keeps (the mode it is used in lists
    /// nothing else); the findings it takes from the report, uncopied.
    fn counts(&self) -> PageResult {
        PageResult {
            findings: Vec::new(),
            links: self.links as usize,
            local: self.local as usize,
            external: self.external as usize,
            ignored: self.ignored as usize,
            historical: self.historical as usize,
        }
    }
}

/// Everything one file's links produced.
#[derive(Default)]
struct FileResult {
    findings: Vec<Finding>,
    /// Counts of a page's links (u32: one slot a page, 100k of them held
    /// until the report; a page is at most `max_file_size` bytes).
    links: u32,
    local: u32,
    external: u32,
    ignored: u32,
    historical: u32,
    /// What some modes trace besides (none in a deep check: boxed, so that a
    /// tree's results hold a pointer per page, not three lists).
    traces: Option<Box<Traces>>,
}

/// What `--affected-since`, `--nav-only` and `--list-links` need of a file.
#[derive(Default)]
struct Traces {
    /// Root-relative paths this file links to, for the reverse link index
    /// (kept only with `--affected-since`, the one mode that reads them).
    targets: Vec<String>,
    /// Markdown files this file links to, for nav-only traversal.
    markdown_targets: Vec<usize>,
    /// Every link and where it leads, when links are listed.
    listed: Vec<LinkRecord>,
}

impl FileResult {
    fn traces(&mut self) -> &mut Traces {
        self.traces.get_or_insert_with(Box::default)
    }

    fn targets(&self) -> &[String] {
        self.traces.as_ref().map_or(&[], |t| &t.targets)
    }

    fn markdown_targets(&self) -> &[usize] {
        self.traces.as_ref().map_or(&[], |t| &t.markdown_targets)
    }
}

pub(crate) struct Engine<'t> {
    tree: &'t Tree,
    config: &'t Config,
    docs: Docs<'t>,
    model: Model,
    suggester: Suggester<'t>,
    fragments: bool,
    list_links: bool,
    keep_targets: bool,
    /// Whether Markdown link targets are collected, for the nav-only walk.
    nav_only: bool,
    progress: Option<ProgressFn>,
    done: AtomicUsize,
    total: AtomicUsize,
    /// Each page's result of the check before, reused where it still holds.
    results: Option<Results>,
}

impl<'t> Engine<'t> {
    fn new(
        tree: &'t Tree,
        config: &'t Config,
        options: &CheckOptions,
        docs: Docs<'t>,
        model: Model,
    ) -> Engine<'t> {
        let suggester = Suggester::new(tree, config);
        Engine {
            tree,
            config,
            docs,
            model,
            suggester,
            fragments: options.fragments,
            list_links: options.list_links,
            keep_targets: matches!(options.since, Some((_, Since::Affected))),
            nav_only: options.nav_only,
            progress: options.progress.clone(),
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            results: None,
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
            let changed = match &options.since {
                Some((rev, Since::Affected)) => Some(git::changed_since(&self.tree.root, rev)?),
                _ => None,
            };
            // The reverse link index needs every file's links, not just the selected ones.
            let scope = if changed.is_some() { &markdown } else { &selected };
            self.total.store(scope.len(), Ordering::Relaxed);
            let all: Vec<(usize, FileResult)> =
                scope.par_iter().map(|&i| (i, self.check_or_reuse(i))).collect();
            match changed {
                None => all,
                Some(touched) => {
                    let selected: HashSet<usize> = selected.into_iter().collect();
                    all.into_iter()
                        .filter(|(i, r)| {
                            selected.contains(i)
                                && (touched.changed.contains(&self.tree.files[*i])
                                    || r.targets().iter().any(|t| touched.touched.contains(t)))
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
                self.docs.warnings,
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
                for &target in result.markdown_targets() {
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
        if let Some(mkdocs) = nav::read_mkdocs(&tree.root, self.docs.warnings) {
            add(&mkdocs.docs_dir);
            for path in &mkdocs.nav {
                add(path);
            }
        }
        for toc in &tocs {
            match nav::read_text(&tree.root, toc).and_then(|text| nav::toc_hrefs(toc, &text)) {
                Ok(hrefs) => hrefs.iter().for_each(|href| add(href)),
                Err(e) => push_warning(
                    self.docs.warnings,
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

    /// The page's result from the results cache where it still holds, else
    /// its check (kept in the cache with the pages it consulted).
    fn check_or_reuse(&self, index: usize) -> FileResult {
        let Some(results) = &self.results else { return self.check_file(index) };
        let hash = |page: usize| self.docs.hash(page);
        if let Some(stored) = results.reuse(index, hash, |path| self.tree.probe(path)) {
            self.tick();
            return FileResult::from_page(stored);
        }
        let (result, consulted) = results::recording(|| self.check_file(index));
        let is_page = |page: usize| is_markdown(&self.tree.files[page]);
        results.keep(index, &consulted, hash, is_page, result.counts());
        result
    }

    fn check_file(&self, index: usize) -> FileResult {
        let mut result = FileResult::default();
        let file = &self.tree.files[index];
        let Some(doc) = self.docs.get(index) else {
            self.tick();
            return result;
        };
        for link in doc.links() {
            result.links += 1;
            let finding = |kind: Kind, fix: Option<Fix>| Finding {
                kind,
                file: file.clone(),
                line: link.line,
                column: link.column,
                target: link.raw.to_string(),
                fix: fix.map(Box::new),
                span: link.span(),
            };
            let resolution =
                self.model.resolve(self.tree, link.dest(), file, &self.config.site_prefixes);
            if self.list_links {
                let (leads_to, path) = match &resolution {
                    Resolution::External => ("external", None),
                    Resolution::AbsolutePath => ("absolute_path", None),
                    Resolution::OutsideRoot => ("outside_root", None),
                    Resolution::Site | Resolution::SiteGuess(..) => ("site", None),
                    Resolution::Unreadable => ("unreadable", None),
                    Resolution::Found(found) => ("file", Some(found.path.clone())),
                    Resolution::Redirected(_, redirect) => ("redirected", redirect.to.clone()),
                    Resolution::Missing(missing) => ("missing", Some(missing.wanted.clone())),
                };
                result.traces().listed.push(LinkRecord {
                    file: file.clone(),
                    line: link.line,
                    column: link.column,
                    target: link.raw.to_string(),
                    leads_to: leads_to.to_owned(),
                    path,
                });
            }
            let found = match resolution {
                Resolution::External => {
                    result.external += 1;
                    None
                }
                Resolution::AbsolutePath => Some(finding(Kind::AbsolutePath, None)),
                Resolution::Site => Some(finding(Kind::SiteLink, None)),
                Resolution::SiteGuess(link_parts, guesses) => {
                    // Git knows the page was here: a page of the tree that moved.
                    match guesses.into_iter().find(|g| self.suggester.was_renamed(g)) {
                        Some(wanted) => {
                            result.local += 1;
                            let missing = Missing { link: link_parts, wanted, case_variant: None };
                            let (kind, fix) = self.missing(file, &missing);
                            Some(finding(kind, fix))
                        }
                        None => Some(finding(Kind::SiteLink, None)),
                    }
                }
                Resolution::OutsideRoot => {
                    result.local += 1;
                    Some(finding(Kind::OutsideRoot, None))
                }
                Resolution::Unreadable => {
                    result.local += 1;
                    None
                }
                Resolution::Found(found) => {
                    result.local += 1;
                    self.found(file, link.raw, found, &mut result)
                        .map(|(kind, fix)| finding(kind, fix))
                }
                Resolution::Redirected(link_parts, redirect) => {
                    result.local += 1;
                    let fix = self.redirect_fix(file, &link_parts, &redirect);
                    Some(finding(Kind::Redirected, fix))
                }
                Resolution::Missing(missing) => {
                    result.local += 1;
                    if self.keep_targets {
                        result.traces().targets.push(missing.wanted.clone());
                    }
                    let (kind, fix) = self.missing(file, &missing);
                    Some(finding(kind, fix))
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
        // A page's findings (mostly site links) are held to the end of the
        // check: the spare capacity of their growth was 6 MB at 100k pages.
        result.findings.shrink_to_fit();
        result
    }

    /// A link that resolves to a file: its fragment is checked against the
    /// anchors the renderer gives the target.
    fn found(
        &self,
        file: &str,
        raw: &str,
        found: Found<'_>,
        result: &mut FileResult,
    ) -> Option<(Kind, Option<Fix>)> {
        if self.keep_targets {
            result.traces().targets.push(found.path.clone());
        }
        let page = found.page.filter(|&i| has_anchors(&self.tree.files[i]))?;
        if self.keep_targets && page != self.tree.index(&found.path).unwrap_or(usize::MAX) {
            result.traces().targets.push(self.tree.files[page].clone());
        }
        if self.nav_only && is_markdown(&self.tree.files[page]) {
            result.traces().markdown_targets.push(page);
        }
        let fragment = found.link.fragment.as_deref()?;
        let anchors = self.judged_anchors(file, &found.link, fragment, page)?;
        let insensitive = self.model.fragment_rules(self.tree, file, page).insensitive;
        if has_anchor(&anchors, fragment, insensitive, || self.anchor_names(file, page)) {
            return None;
        }
        for &other in &found.also {
            if self.judged_anchors(file, &found.link, fragment, other).is_none_or(|a| {
                has_anchor(&a, fragment, insensitive, || self.anchor_names(file, other))
            }) {
                return None;
            }
        }
        let rules = self.model.fragment_rules(self.tree, file, page);
        let reworded = self.docs.get(page).and_then(|doc| {
            let page_path = &self.tree.files[page];
            self.suggester.reworded_heading(page_path, fragment, doc, rules.flavor, rules.terms)
        });
        let fix = reworded
            .or_else(|| self.suggester.anchor(fragment, &self.anchor_names(file, page)))
            .map(|(anchor, confidence, reason)| {
                suggest::fix(suggest::write_anchor(raw, &anchor), confidence, reason)
            });
        Some((Kind::MissingAnchor, fix))
    }

    /// The anchors a fragment into `page` is judged against, or `None` when it
    /// is not judged: fragments off, `#top`, source-view line anchors, a
    /// platform's own syntax (DocFX tabs), pages with generated ids, pages
    /// that could not be read.
    fn judged_anchors(
        &self,
        file: &str,
        link: &Link<'_>,
        fragment: &str,
        page: usize,
    ) -> Option<Anchors> {
        if !self.fragments || fragment.is_empty() || fragment == "top" {
            return None;
        }
        if is_source_line(link.suffix, fragment)
            || self.model.is_special_fragment(self.tree, file, fragment)
        {
            return None;
        }
        let rules = self.model.fragment_rules(self.tree, file, page);
        if !rules.judge {
            return None;
        }
        // A page that was not read (a FIFO, a symlink leading outside the
        // root, a binary or unreadable file: its warning says so) has anchors
        // no one knows; a fragment into it was a missing anchor.
        self.docs.get(page)?;
        // A page whose plugin directives make ids: a fragment no heading slug
        // can be (`config.separator`, `+type:abstract`) is one of those; in a
        // page with no heading or id of its own (its body only template
        // calls), every id is made so.
        if self.docs.generated_ids(&self.model, page) {
            let written = self.docs.get(page).is_some_and(Extracted::has_anchors);
            if !written || crate::slug::slug_as(rules.flavor, fragment) != fragment {
                return None;
            }
        }
        Some(self.docs.anchors(&self.model, page, rules))
    }

    /// The anchors of `page` as a link from `file` sees them, themselves:
    /// made again, for a fragment that matches none.
    fn anchor_names(&self, file: &str, page: usize) -> AnchorNames {
        let rules = self.model.fragment_rules(self.tree, file, page);
        self.docs.anchor_names(&self.model, page, rules)
    }

    fn missing(&self, file: &str, missing: &Missing<'_>) -> (Kind, Option<Fix>) {
        let kind =
            if missing.case_variant.is_some() { Kind::CaseMismatch } else { Kind::MissingFile };
        let candidates = self.suggester.candidates(&self.model, file, missing);
        for candidate in candidates {
            if let Some(fix) = self.verified_fix(file, &missing.link, &candidate) {
                return (kind, Some(fix));
            }
        }
        (kind, None)
    }

    /// The fix of a link to a redirected page: the page it redirects to,
    /// when that is a file of the tree and the link to it resolves.
    fn redirect_fix(&self, file: &str, link: &Link<'_>, redirect: &Redirect) -> Option<Fix> {
        let to = redirect.to.as_ref()?;
        let candidate = Candidate {
            path: to.clone(),
            confidence: Confidence::High,
            reason: format!("redirect map in {}", redirect.source),
        };
        self.verified_fix(file, link, &candidate)
    }

    /// A candidate written as a destination in the link's style, kept only if
    /// that destination resolves to the candidate on the platform. A fragment
    /// the new target lacks is mended (at the lower of both confidences) or
    /// dropped (low), so that applying a fix never leaves a broken link.
    fn verified_fix(&self, file: &str, link: &Link<'_>, candidate: &Candidate) -> Option<Fix> {
        let written = self.model.write(self.tree, &candidate.path, link, file)?;
        let found = self.resolves_to(file, &written, &candidate.path)?;
        let Some(fragment) = link.fragment.as_deref().filter(|f| !f.is_empty() && *f != "top")
        else {
            return Some(suggest::fix(written, candidate.confidence, candidate.reason.clone()));
        };
        let Some(page) = found.filter(|&i| has_anchors(&self.tree.files[i])) else {
            return Some(suggest::fix(written, candidate.confidence, candidate.reason.clone()));
        };
        let Some(anchors) = self.judged_anchors(file, link, fragment, page) else {
            return Some(suggest::fix(written, candidate.confidence, candidate.reason.clone()));
        };
        let insensitive = self.model.fragment_rules(self.tree, file, page).insensitive;
        if has_anchor(&anchors, fragment, insensitive, || self.anchor_names(file, page)) {
            return Some(suggest::fix(written, candidate.confidence, candidate.reason.clone()));
        }
        match self.suggester.anchor(fragment, &self.anchor_names(file, page)) {
            Some((anchor, anchor_confidence, anchor_reason)) => Some(suggest::fix(
                suggest::write_anchor(&written, &anchor),
                candidate.confidence.min(anchor_confidence),
                format!("{}; {anchor_reason}", candidate.reason),
            )),
            None => {
                let bare = written.find('#').map_or(written.as_str(), |i| &written[..i]);
                Some(suggest::fix(
                    bare.to_owned(),
                    Confidence::Low,
                    format!(
                        "{}; #{fragment} is not an anchor there, so the link drops it",
                        candidate.reason
                    ),
                ))
            }
        }
    }

    /// Whether `dest`, written in `file`, leads to a file and (with a
    /// fragment) an anchor of it.
    fn resolves(&self, file: &str, dest: &str) -> bool {
        match self.model.resolve(self.tree, dest, file, &self.config.site_prefixes) {
            Resolution::Found(found) => {
                self.found(file, dest, found, &mut FileResult::default()).is_none()
            }
            _ => false,
        }
    }

    /// Whether `dest` (written in `file`) resolves to `target`; `Some(page)`
    /// with the page whose anchors count.
    fn resolves_to(&self, file: &str, dest: &str, target: &str) -> Option<Option<usize>> {
        match self.model.resolve(self.tree, dest, file, &self.config.site_prefixes) {
            Resolution::Found(found) => {
                let same = found.path == target
                    || found.page.is_some_and(|p| Some(p) == self.tree.index(target))
                    || (self.tree.is_dir(target) && found.path.starts_with(target));
                same.then_some(found.page)
            }
            _ => None,
        }
    }

    fn report(
        mut self,
        mut results: Vec<(usize, FileResult)>,
        unreached: Option<Vec<String>>,
    ) -> Report {
        // The pages' extracts and the site model are done with once every
        // page is checked: freed now, their memory is not held beside the
        // report's lists (at 100k pages the two were the peak together).
        let pages = (std::mem::take(&mut self.docs.docs), std::mem::take(&mut self.docs.anchors));
        drop_elsewhere((pages, std::mem::take(&mut self.docs.other), self.model));
        let mut summary = Summary { files: results.len(), ..Summary::default() };
        // Sized before they are filled: grown by doubling, the lists of a
        // 100k-page tree's findings held 8 MB they never used.
        let (mut sites, mut redirects, mut all) = (0, 0, 0);
        for finding in results.iter().flat_map(|(_, result)| &result.findings) {
            all += 1;
            match finding.kind {
                Kind::SiteLink => sites += 1,
                Kind::Redirected => redirects += 1,
                _ => {}
            }
        }
        // In the report's order, file by file: sorting the whole lists (a
        // stable sort's scratch is up to 8 MB) added to the peak of a
        // 100k-page check, which is here, at its end.
        results.sort_unstable_by(|(a, _), (b, _)| self.tree.files[*a].cmp(&self.tree.files[*b]));
        for (_, result) in &mut results {
            if let Some(traces) = &mut result.traces {
                traces.listed.sort_by_key(|link| (link.line, link.column));
            }
            result.findings.sort_by_key(|finding| (finding.line, finding.column));
        }
        // The results cache is written from each page's findings, and let go,
        // before the report's lists are made: not beside them at the peak.
        if let Some(cache) = self.results.take() {
            let files = &self.tree.files;
            let reported = |index: usize| {
                let at = results.binary_search_by(|(i, _)| files[*i].cmp(&files[index])).ok()?;
                Some(results[at].1.findings.as_slice())
            };
            cache.store(self.tree, self.docs.warnings, &reported);
        }
        let mut findings = Vec::with_capacity(all - sites - redirects);
        let mut site_links = Vec::with_capacity(sites);
        let mut redirected = Vec::with_capacity(redirects);
        let mut links = Vec::new();
        for (_, mut result) in results {
            if let Some(traces) = &mut result.traces {
                links.append(&mut traces.listed);
            }
            summary.links += result.links as usize;
            summary.local += result.local as usize;
            summary.external += result.external as usize;
            summary.ignored += result.ignored as usize;
            summary.historical += result.historical as usize;
            for finding in result.findings {
                match finding.kind {
                    Kind::SiteLink => site_links.push(finding),
                    Kind::Redirected => redirected.push(finding),
                    _ => findings.push(finding),
                }
            }
        }
        let order = |a: &Finding, b: &Finding| {
            (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column))
        };
        // A page's findings are its own, so the lists are in order now; should
        // one ever not be, it is sorted as a whole.
        for list in [&mut findings, &mut site_links, &mut redirected] {
            if !list.is_sorted_by(|a, b| order(a, b).is_le()) {
                list.sort_by(order);
            }
        }
        let link_order = |a: &LinkRecord, b: &LinkRecord| {
            (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column))
        };
        if !links.is_sorted_by(|a, b| link_order(a, b).is_le()) {
            links.sort_by(link_order);
        }
        summary.broken = findings.len();
        summary.site_links = site_links.len();
        summary.redirected = redirected.len();
        summary.fixable_high = findings
            .iter()
            .filter(|f| f.fix.as_ref().is_some_and(|x| x.confidence == Confidence::High))
            .count();
        if let Some((path, why)) = crate::git::refusal() {
            push_warning(self.docs.warnings, &path, why);
        }
        let mut warnings = self.docs.warnings.lock().expect("warnings lock").clone();
        warnings.sort_by(|a, b| a.path.cmp(&b.path));
        warnings.dedup();
        let mut read_only = self.docs.lossy.into_inner().expect("lossy pages lock");
        read_only.sort();
        Report {
            root: self.tree.root.to_path_buf(),
            summary,
            findings,
            site_links,
            redirected,
            links,
            unreached,
            warnings,
            platform: PlatformInfo::default(),
            max_file_size: self.config.max_file_size,
            read_only,
        }
    }
}

/// Frees `value` on a thread of its own. Freeing a large tree's pages, paths
/// and report one allocation at a time was a tenth of a warm check at 100k
/// pages; the exit of a command-line run does not wait for the thread.
pub(crate) fn drop_elsewhere<T: Send + 'static>(value: T) {
    std::thread::spawn(move || drop(value));
}

/// Whether `fragment` is one of `anchors` (percent-decoded already), in any
/// letter case where the renderer matches case-insensitively.
/// `names` makes the anchors themselves, for a case-insensitive match.
fn has_anchor(
    anchors: &AnchorSet,
    fragment: &str,
    insensitive: bool,
    names: impl FnOnce() -> AnchorNames,
) -> bool {
    if anchors.contains(fragment) {
        return true;
    }
    let decoded = percent_decode(fragment);
    if anchors.contains(decoded.as_ref()) {
        return true;
    }
    insensitive && {
        let lower = fragment.to_lowercase();
        names().iter().any(|a| a.to_lowercase() == lower)
    }
}

/// Whether `file` is under one of `prefixes` (every file when there are none).
fn under(prefixes: &[String], file: &str) -> bool {
    prefixes.is_empty()
        || prefixes.iter().any(|p| p.is_empty() || file == p || file.starts_with(&format!("{p}/")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An anchor set holds exactly what it was made of, in sorted order.
        #[test]
        fn an_anchor_set_holds_what_it_was_made_of(
            anchors in prop::collection::hash_set("[a-c_é-]{0,4}", 0..40),
            asked in prop::collection::vec("[a-c_é-]{0,4}", 0..20),
        ) {
            let all: HashSet<String> = anchors.iter().cloned().collect();
            let (set, names) = (AnchorSet::new(&all), AnchorNames::new(all));
            let mut sorted: Vec<&str> = anchors.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            prop_assert_eq!(names.iter().collect::<Vec<_>>(), sorted);
            for anchor in anchors.iter().chain(&asked) {
                prop_assert_eq!(set.contains(anchor), anchors.contains(anchor));
                prop_assert_eq!(names.contains(anchor), anchors.contains(anchor));
            }
        }
    }
}
