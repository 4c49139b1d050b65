//! The results cache: what the check of each page found last time and what
//! that answer depended on, so that a re-check after an edit checks again only
//! the pages the edit can change (issue 10: under a second at 100k pages).
//!
//! It is 16 files beside the page cache, `ROOT/.doclinks/cache/results-NN.bin`,
//! each holding a sixteenth of the file list's pages (an edit rewrites one,
//! and they are read in parallel): the magic line, the format, the tool's
//! identity, the *run key*, then per checked page its index in the file list
//! (which the key holds, so an index names the same page whenever the key
//! matches), the SHA-256 of its bytes, the pages its check consulted (by
//! index, with their SHA-256: the pages whose anchors its fragments were
//! judged against, the pages those include) and what its check found; the
//! checksum of all that ends the file.
//!
//! The run key is the SHA-256 of everything a page's result may depend on
//! beyond the pages it consulted: the tool, the options and configuration, the
//! tree's file list, the size, mtime and inode of every file that is not a
//! Markdown page (site configurations, redirect files, tables of contents,
//! HTML pages, images) and of every file the site model read (hidden redirect
//! maps and publish configs among them; the bytes of one read through a
//! symlink), git's `HEAD`
//! and index (renames propose fixes), and what the site model takes from the
//! pages (front matter keys and root-absolute links: routes and base paths).
//!
//! A page's result is reused when the run key is the one stored, its bytes
//! hash the same and every page it consulted hashes the same; anything else is
//! checked again, exactly as without a cache. A stamp too close to the time the
//! file was written (the same clock tick) cannot vouch for a file, so a run key
//! holding one is never trusted. A damaged or foreign file is a warning, then
//! rebuilt; the file is written atomically, only when something changed.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::cache::{self, Hash, RACY, Reader, Stamp, Writer};
use crate::report::{Confidence, Finding, Fix, Kind, Warning};
use crate::site::Pages;
use crate::tree::{Tree, push_warning};

/// How many files the results are split into (by index in the file list):
/// an edit rewrites one, and they are read in parallel.
const SHARDS: usize = 16;

/// The shard of the file with this index, of `files`: contiguous ranges, as
/// the key holds the file list (a file added or removed changes every shard
/// anyway), so no path is hashed to place a page.
fn shard_of(index: usize, files: usize) -> usize {
    (index * SHARDS / files.max(1)).min(SHARDS - 1)
}

fn shard_name(shard: usize) -> String {
    format!("results-{shard:02}.bin")
}

/// The first bytes of the file.
const MAGIC: &[u8] = b"doclinks results cache\n";

/// Bumped whenever the encoding changes.
const FORMAT: u32 = 6;

/// The largest file read back.
const LIMIT: u64 = 1 << 30;

/// What the check of one page produced that a report is made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PageResult {
    pub(crate) findings: Vec<Finding>,
    pub(crate) links: usize,
    pub(crate) local: usize,
    pub(crate) external: usize,
    pub(crate) ignored: usize,
    pub(crate) historical: usize,
}

/// One page's stored result and what it depended on.
struct Stored {
    hash: Hash,
    /// The pages consulted, by index in this tree, with their hashes then.
    consulted: Box<[(u32, Hash)]>,
    /// The counts of the page's result (links, local, external, ignored,
    /// historical), its findings apart.
    counts: [u32; 5],
    /// What few pages' results have, boxed: a slot a file is held through the
    /// whole check (at 100k pages, 160 bytes a slot were 21 MB).
    rare: Option<Box<RareStored>>,
}

/// The parts of a stored result that most pages do not have.
#[derive(Default)]
struct RareStored {
    /// Paths outside the walk the check asked the file system about (an
    /// ignored or hidden file a link names), with what it answered then.
    probes: Box<[(Box<str>, u8)]>,
    /// When the check asked git's renames: the SHA-256 of its uncommitted
    /// renames then (the committed ones are `HEAD`'s, in the run key).
    renames: Option<Hash>,
    /// The findings read back, until a reuse moves them into the report
    /// (a page checked this time has none here: its findings are written
    /// from the report, never copied).
    findings: Vec<Finding>,
}

impl Stored {
    fn new(
        hash: Hash,
        consulted: Box<[(u32, Hash)]>,
        counts: [u32; 5],
        rare: RareStored,
    ) -> Stored {
        let rare = (!rare.probes.is_empty() || rare.renames.is_some() || !rare.findings.is_empty())
            .then(|| Box::new(rare));
        Stored { hash, consulted, counts, rare }
    }

    fn probes(&self) -> &[(Box<str>, u8)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.probes)
    }

    fn renames(&self) -> Option<Hash> {
        self.rare.as_ref().and_then(|rare| rare.renames)
    }

    fn findings(&self) -> &[Finding] {
        self.rare.as_ref().map_or(&[], |rare| &rare.findings)
    }
}

/// The pages of one shard file, by index in the tree.
type Shard = Vec<(usize, Stored)>;

/// The results cache of one check.
pub(crate) struct Results {
    key: Hash,
    /// Per file of the tree, what is stored for it under this run key: read
    /// back, or kept from this check (one slot per page, so that a check of
    /// every page grows no list of them).
    stored: Vec<Mutex<Option<Stored>>>,
    /// Per shard, whether its file must be written again (another key,
    /// damage, missing) when it would hold anything.
    stale: Vec<bool>,
    /// Per shard, whether a page in it was checked again this time.
    dirty: Vec<AtomicBool>,
    /// The root, and the SHA-256 of git's uncommitted renames under it, asked
    /// once, and only when a page's result depends on them.
    root: PathBuf,
    pending: OnceLock<Hash>,
    dir: PathBuf,
}

/// What the check of one page depended on beyond the run key.
#[derive(Debug, Default)]
pub(crate) struct Consulted {
    /// Pages, by index.
    pub(crate) pages: Vec<usize>,
    /// Paths outside the walk, with what the file system answered.
    pub(crate) probes: Vec<(String, u8)>,
    /// Whether git's renames were asked (for a fix proposal).
    pub(crate) renames: bool,
}

thread_local! {
    /// What the check of one page consulted, while it runs on this thread (a
    /// page's check never spreads over threads).
    static CONSULTED: RefCell<Option<Consulted>> = const { RefCell::new(None) };
}

/// Notes what the page being checked on this thread depends on (nothing
/// when no page's check is being recorded).
fn note(what: impl FnOnce(&mut Consulted)) {
    CONSULTED.with(|c| c.borrow_mut().as_mut().map(what));
}

/// Notes that the page being checked on this thread consulted page `index`.
pub(crate) fn consulted(index: usize) {
    note(|c| c.pages.push(index));
}

/// Notes that the page being checked on this thread asked the file system
/// about `path` (outside the walk) and got `answer`.
pub(crate) fn probed(path: &str, answer: u8) {
    note(|c| c.probes.push((path.to_owned(), answer)));
}

/// Notes that the page being checked on this thread asked git's renames.
pub(crate) fn used_renames() {
    note(|c| c.renames = true);
}

/// Runs `check` and returns what it returned with what it consulted.
pub(crate) fn recording<T>(check: impl FnOnce() -> T) -> (T, Consulted) {
    let outer = CONSULTED.with(|c| c.replace(Some(Consulted::default())));
    let out = check();
    let mut consulted = CONSULTED.with(|c| c.replace(outer)).unwrap_or_default();
    consulted.pages.sort_unstable();
    consulted.pages.dedup();
    consulted.probes.sort_unstable();
    consulted.probes.dedup();
    (out, consulted)
}

/// What the run key is made of, besides the tree and its stamps.
pub(crate) struct KeyInputs<'a> {
    /// Options and configuration, as text.
    pub(crate) settings: String,
    /// Per Markdown page (in file order), what the site model reads of it.
    pub(crate) model_inputs: &'a [Option<Hash>],
}

/// The run key of a check, and whether it can be trusted (no stamp in it
/// within [`RACY`] of now).
pub(crate) fn run_key(tree: &Tree, inputs: &KeyInputs<'_>) -> (Hash, i128) {
    let mut key = Sha256::new();
    key.update(cache::tool().as_bytes());
    key.update([0]);
    key.update(inputs.settings.as_bytes());
    key.update([0]);
    let mut newest: i128 = 0;
    let mut stamp = |key: &mut Sha256, stamp: Option<Stamp>| match stamp {
        Some(s) => {
            newest = newest.max(s.mtime);
            key.update([1]);
            key.update(s.len.to_le_bytes());
            key.update(s.mtime.to_le_bytes());
            key.update(s.ctime.to_le_bytes());
            key.update(s.ino.to_le_bytes());
        }
        None => key.update([0]),
    };
    // One lstat per HTML file, in parallel, as the walk is: a check reads
    // their anchors, and their bytes are in no page's hash. Of the other files
    // that are not pages (images, code) a check reads nothing but that they
    // exist, which the file list says; what the site model and detection read
    // (tocs, configs, redirect maps) is stamped below, as `inputs`. At 100k
    // pages that was 37k stats of images, a tenth of a warm check.
    let stamps: Vec<Option<Stamp>> = (0..tree.files.len())
        .into_par_iter()
        .map(|i| match inputs.model_inputs.get(i) {
            Some(Some(_)) => None,
            // A file reached through a symlink has no stamp of its own: the
            // one of what it leads to (a retargeted link changes its inode).
            _ => crate::tree::is_html(&tree.files[i]).then(|| {
                let file = &tree.files[i];
                tree.root.stamp(file).or_else(|| {
                    std::fs::metadata(tree.abs(file)).ok().map(|m| Stamp::of_metadata(&m))
                })
            })?,
        })
        .collect();
    // Directories too: a link to a folder works once it exists.
    let mut dirs: Vec<&String> = tree.dirs().collect();
    dirs.sort_unstable();
    for dir in dirs {
        key.update(dir.as_bytes());
        key.update([0]);
    }
    key.update([0xff]);
    for (index, file) in tree.files.iter().enumerate() {
        key.update(file.as_bytes());
        key.update([0]);
        match inputs.model_inputs.get(index) {
            Some(Some(page)) => key.update(page),
            _ if crate::tree::is_html(file) => stamp(&mut key, stamps[index]),
            _ if crate::tree::is_markdown(file) => key.update([2]),
            _ => key.update([3]),
        }
    }
    // What the site model and the platform's detection read: hidden files
    // (redirect maps, the publish config) are not among the tree's files.
    // Their stamps, as for every other file; one with no stamp to trust (read
    // through a symlink) by its bytes.
    for input in tree.root.inputs() {
        key.update(input.as_bytes());
        match tree.root.stamp(&input) {
            Some(s) => stamp(&mut key, Some(s)),
            None => match tree.root.read_stamped(&input) {
                Ok((bytes, _)) => {
                    key.update([2]);
                    key.update(cache::hash(&bytes));
                }
                Err(_) => key.update([0]),
            },
        }
    }
    match crate::git::head(tree.root.handle().path()) {
        Some(head) => {
            key.update(&head.text);
            for file in &head.stamped {
                key.update(file.as_os_str().as_encoded_bytes());
                let meta = std::fs::symlink_metadata(file).ok();
                stamp(&mut key, meta.map(|m| Stamp::of_metadata(&m)));
            }
        }
        None => key.update(b"no git"),
    }
    (key.finalize().into(), newest)
}

/// What the site model reads of page `index` ([`Pages`]): its front matter
/// keys and its root-absolute link destinations; `None` for a page not read.
pub(crate) fn model_input(pages: &dyn Pages, index: usize) -> Option<Hash> {
    let front = pages.front(index)?;
    let mut hash = Sha256::new();
    for key in [&front.id, &front.slug, &front.uid, &front.url] {
        match key {
            Some(value) => {
                hash.update([1]);
                hash.update(value.as_bytes());
                hash.update([0]);
            }
            None => hash.update([0]),
        }
    }
    for alias in &front.aliases {
        hash.update(alias.as_bytes());
        hash.update([0]);
    }
    hash.update([0xff]);
    pages.root_links(index, &mut |dest| {
        hash.update(dest.as_bytes());
        hash.update([0]);
    });
    Some(hash.finalize().into())
}

fn now_nanos() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

impl Results {
    /// The results stored under `key` for the pages of `tree` (none from a
    /// file that is missing, another build's, damaged or of another key).
    pub(crate) fn load(
        tree: &Tree,
        (key, newest): (Hash, i128),
        warnings: &Mutex<Vec<Warning>>,
    ) -> Results {
        let dir = cache::DIR.iter().fold(tree.root.handle().path().to_path_buf(), |p, d| p.join(d));
        let mut results = Results {
            key,
            stored: (0..tree.files.len()).map(|_| Mutex::new(None)).collect(),
            stale: vec![true; SHARDS],
            dirty: (0..SHARDS).map(|_| AtomicBool::new(false)).collect(),
            root: tree.root.handle().path().to_path_buf(),
            pending: OnceLock::new(),
            dir,
        };
        // A file changed in the clock tick of this check cannot be told
        // unchanged by its stamp next time: nothing is trusted, nothing kept.
        if newest + RACY.as_nanos() as i128 > now_nanos() {
            results.key = [0; 32];
            return results;
        }
        let Ok(handle) = tree.root.handle().dir().open_beneath(&cache::DIR, false) else {
            return results;
        };
        let loaded: Vec<Result<Option<Shard>, String>> = (0..SHARDS)
            .into_par_iter()
            .map(|shard| match handle.read_regular(OsStr::new(&shard_name(shard)), LIMIT) {
                Ok(bytes) => decode(&bytes, &key, tree),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(format!("cannot read it: {}", e.reason())),
            })
            .collect();
        for (shard, loaded) in loaded.into_iter().enumerate() {
            match loaded {
                // The key holds the file list: every stored page is a page of
                // this tree, and a sound shard holds nothing to drop.
                Ok(Some(entries)) => {
                    results.stale[shard] = false;
                    for (index, entry) in entries {
                        *results.stored[index].get_mut().expect("results lock") = Some(entry);
                    }
                }
                Ok(None) => {}
                Err(problem) => push_warning(
                    warnings,
                    &results.dir.join(shard_name(shard)),
                    format!("{problem}; the cache file is ignored and rebuilt"),
                ),
            }
        }
        results
    }

    /// The SHA-256 of git's uncommitted renames under the root, this run.
    fn pending_renames(&self) -> Hash {
        *self
            .pending
            .get_or_init(|| cache::hash(crate::git::pending_renames(&self.root).as_bytes()))
    }

    /// Whether nothing was stored under this run key: every page is checked.
    pub(crate) fn is_empty(&self) -> bool {
        self.stored.iter().all(|slot| slot.lock().expect("results lock").is_none())
    }

    /// The stored result of page `index` when it still holds: its bytes and
    /// those of every page it consulted hash as they did.
    pub(crate) fn reuse(
        &self,
        index: usize,
        hash: impl Fn(usize) -> Option<Hash>,
        probe: impl Fn(&str) -> u8,
    ) -> Option<PageResult> {
        let mut slot = self.stored.get(index)?.lock().expect("results lock");
        let stored = slot.as_mut()?;
        let holds = hash(index) == Some(stored.hash)
            && stored.consulted.iter().all(|(page, then)| hash(*page as usize) == Some(*then))
            && stored.probes().iter().all(|(path, then)| probe(path) == *then)
            && stored.renames().is_none_or(|then| self.pending_renames() == then);
        holds.then(|| {
            let findings = stored
                .rare
                .as_mut()
                .map(|rare| std::mem::take(&mut rare.findings))
                .unwrap_or_default();
            let [links, local, external, ignored, historical] = stored.counts.map(|n| n as usize);
            PageResult { findings, links, local, external, ignored, historical }
        })
    }

    /// Keeps the result of page `index`, checked this time, with the pages it
    /// consulted: its counts now, its findings from the report when stored. A
    /// result that depended on a page with no hash (unreadable, not UTF-8) is
    /// not kept.
    pub(crate) fn keep(
        &self,
        index: usize,
        consulted: &Consulted,
        hash: impl Fn(usize) -> Option<Hash>,
        is_page: impl Fn(usize) -> bool,
        counts: PageResult,
    ) {
        let Some(own) = hash(index) else { return };
        let mut pages = Vec::with_capacity(consulted.pages.len());
        for &page in consulted.pages.iter().filter(|&&p| p != index) {
            match hash(page) {
                Some(h) => pages.push((to_u32(page), h)),
                // Files that are not Markdown pages are in the run key.
                None if !is_page(page) => {}
                None => return,
            }
        }
        let PageResult { links, local, external, ignored, historical, .. } = counts;
        let counts = [links, local, external, ignored, historical].map(to_u32);
        let probes = consulted.probes.iter().map(|(p, a)| (p.as_str().into(), *a)).collect();
        let renames = consulted.renames.then(|| self.pending_renames());
        let stored = Stored::new(
            own,
            pages.into_boxed_slice(),
            counts,
            RareStored { probes, renames, findings: Vec::new() },
        );
        *self.stored[index].lock().expect("results lock") = Some(stored);
        self.dirty[shard_of(index, self.stored.len())].store(true, Ordering::Relaxed);
    }

    /// Writes the shards holding a page checked again this time, and those
    /// of another key or damaged; the findings of the pages checked this time
    /// are those of the report (`reported`: a page's findings, site links and
    /// redirected links, in order, by its index; `None` for a page not in it).
    pub(crate) fn store<'r>(
        self,
        tree: &Tree,
        warnings: &Mutex<Vec<Warning>>,
        reported: &(dyn Fn(usize) -> Option<&'r [Finding]> + Sync),
    ) {
        if self.key == [0; 32] {
            return;
        }
        // Read in place, not collected into a second table: this is the end
        // of the check, where its memory peaks.
        let mut stored = self.stored;
        let stored: Vec<&mut Option<Stored>> =
            stored.iter_mut().map(|slot| slot.get_mut().expect("results lock")).collect();
        let dirty: Vec<bool> = self
            .stale
            .iter()
            .zip(&self.dirty)
            .map(|(s, d)| *s || d.load(Ordering::Relaxed))
            .collect();
        let mut shards: Vec<Vec<usize>> = vec![Vec::new(); SHARDS];
        for index in (0..stored.len()).filter(|&i| stored[i].is_some()) {
            shards[shard_of(index, stored.len())].push(index);
        }
        // A stale shard that would hold nothing and has no file stays absent.
        let present =
            |shard: usize| std::fs::symlink_metadata(self.dir.join(shard_name(shard))).is_ok();
        let writes: Vec<usize> = (0..SHARDS)
            .filter(|&shard| dirty[shard] && (!shards[shard].is_empty() || present(shard)))
            .collect();
        if writes.is_empty() {
            return;
        }
        let dir = match tree.root.handle().create_dirs(&cache::DIR.iter().collect::<PathBuf>()) {
            Ok(dir) => dir,
            Err(e) => {
                let message = format!("cannot write the cache: {}", e.reason());
                return push_warning(warnings, &self.dir, message);
            }
        };
        let failed: Vec<String> = writes
            .par_iter()
            .filter_map(|&shard| {
                let bytes = encode(&self.key, &shards[shard], &stored, reported);
                cache::write_file(&dir, &shard_name(shard), &bytes).err()
            })
            .collect();
        if let Some(reason) = failed.first() {
            push_warning(warnings, &self.dir, format!("cannot write the cache: {reason}"));
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn kind_code(kind: Kind) -> u8 {
    Kind::ALL.iter().position(|k| *k == kind).map_or(u8::MAX, |i| i as u8)
}

fn confidence_code(confidence: Confidence) -> u8 {
    match confidence {
        Confidence::Low => 0,
        Confidence::Medium => 1,
        Confidence::High => 2,
    }
}

/// One shard: the results of the pages `indices` of the tree, their findings
/// as reported (`reported`, by page index) or, for pages not checked this
/// time, as read.
fn encode<'r>(
    key: &Hash,
    indices: &[usize],
    stored: &[&mut Option<Stored>],
    reported: &(dyn Fn(usize) -> Option<&'r [Finding]> + Sync),
) -> Vec<u8> {
    let mut out = Writer(Vec::with_capacity(1 << 20));
    out.0.extend_from_slice(MAGIC);
    out.u32(FORMAT);
    out.str(cache::tool());
    out.0.extend_from_slice(key);
    out.len(indices.len());
    for &index in indices {
        let Some(entry) = &*stored[index] else { continue };
        out.u32(to_u32(index));
        out.0.extend_from_slice(&entry.hash);
        // By index: the run key holds the file list, so indices are stable.
        out.len(entry.consulted.len());
        for (page, hash) in &entry.consulted {
            out.u32(*page);
            out.0.extend_from_slice(hash);
        }
        out.len(entry.probes().len());
        for (path, answer) in entry.probes() {
            out.str(path);
            out.0.push(*answer);
        }
        match &entry.renames() {
            Some(hash) => {
                out.0.push(1);
                out.0.extend_from_slice(hash);
            }
            None => out.0.push(0),
        }
        for n in entry.counts {
            out.u32(n);
        }
        let kept = entry.findings();
        let findings = reported(index).unwrap_or(kept);
        out.len(findings.len());
        for f in findings {
            out.0.push(kind_code(f.kind));
            out.u32(f.line);
            out.u32(f.column);
            out.str(&f.target);
            out.u64(f.span.start as u64);
            out.u64(f.span.end as u64);
            match &f.fix {
                Some(fix) => {
                    out.0.push(1 + confidence_code(fix.confidence));
                    out.str(&fix.new_target);
                    out.str(&fix.reason);
                }
                None => out.0.push(0),
            }
        }
    }
    let sum = cache::checksum(&out.0);
    out.0.extend_from_slice(&sum);
    out.0
}

/// A shard's stored results by index in `tree`; `Ok(None)` for another build's or
/// another key's file (not a problem: expected after any change of inputs),
/// `Err` for a file that is not a sound results cache.
fn decode(bytes: &[u8], key: &Hash, tree: &Tree) -> Result<Option<Shard>, String> {
    let body = bytes.strip_prefix(MAGIC).ok_or("not a doclinks results cache file")?;
    if body.len() < 4 {
        return Err("the cache file is damaged (its checksum does not match)".to_owned());
    }
    let (content, sum) = bytes.split_at(bytes.len() - 4);
    if cache::checksum(content) != sum {
        return Err("the cache file is damaged (its checksum does not match)".to_owned());
    }
    let mut reader = Reader(&content[MAGIC.len()..]);
    let damaged = || "the cache file is damaged (it cannot be decoded)".to_owned();
    let format = reader.u32().ok_or_else(damaged)?;
    if format != FORMAT || reader.str().ok_or_else(damaged)? != cache::tool() {
        return Ok(None);
    }
    if reader.bytes(32).ok_or_else(damaged)? != key {
        return Ok(None);
    }
    let mut stored = Vec::new();
    for _ in 0..reader.len().ok_or_else(damaged)? {
        let entry = read_stored(&mut reader, &tree.files).ok_or_else(damaged)?;
        stored.extend(entry);
    }
    if !reader.0.is_empty() {
        return Err(damaged());
    }
    Ok(Some(stored))
}

/// One stored page of the tree whose files are `files`; `Some(None)` for
/// an index past them, or consulting one (the run key holds the file list,
/// so only damage gets there).
fn read_stored(reader: &mut Reader<'_>, files: &[String]) -> Option<Option<(usize, Stored)>> {
    let page = reader.u32()? as usize;
    let file = files.get(page);
    let hash: Hash = reader.bytes(32)?.try_into().ok()?;
    let count = reader.len()?;
    let mut consulted = Vec::with_capacity(count.min(reader.0.len() / 36));
    for _ in 0..count {
        let other = reader.u32()?;
        let then: Hash = reader.bytes(32)?.try_into().ok()?;
        consulted.push((other, then));
    }
    let consulted = consulted.into_boxed_slice();
    let mut probes = Vec::new();
    for _ in 0..reader.len()? {
        let path: Box<str> = reader.str()?.into();
        probes.push((path, reader.byte()?));
    }
    let probes = probes.into_boxed_slice();
    let renames = match reader.byte()? {
        0 => None,
        1 => Some(reader.bytes(32)?.try_into().ok()?),
        _ => return None,
    };
    let known =
        file.is_some() && consulted.iter().all(|(other, _)| (*other as usize) < files.len());
    let mut counts = [0u32; 5];
    for n in &mut counts {
        *n = reader.u32()?;
    }
    let mut findings = Vec::new();
    for _ in 0..reader.len()? {
        let kind = *Kind::ALL.get(usize::from(reader.byte()?))?;
        let (line, column) = (reader.u32()?, reader.u32()?);
        let target = reader.string()?;
        let start = usize::try_from(reader.u64()?).ok()?;
        let end = usize::try_from(reader.u64()?).ok()?;
        let fix = match reader.byte()? {
            0 => None,
            code @ 1..=3 => {
                let confidence =
                    [Confidence::Low, Confidence::Medium, Confidence::High][usize::from(code - 1)];
                let new_target = reader.string()?;
                let reason = reader.string()?;
                Some(Box::new(Fix { new_target, confidence, reason }))
            }
            _ => return None,
        };
        findings.push(Finding {
            kind,
            file: file.cloned().unwrap_or_default(),
            line,
            column,
            target,
            fix,
            span: start..end,
        });
    }
    Some(known.then(|| {
        (page, Stored::new(hash, consulted, counts, RareStored { probes, renames, findings }))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_contiguous_ranges_of_the_file_list() {
        for files in [1, 5, 16, 17, 1000, 97_531] {
            let shards: Vec<usize> = (0..files).map(|i| shard_of(i, files)).collect();
            assert!(shards.windows(2).all(|w| w[0] <= w[1]), "{files} files: in order");
            assert!(shards.iter().all(|&s| s < SHARDS), "{files} files: in range");
            if files >= SHARDS {
                assert_eq!(shards.last(), Some(&(SHARDS - 1)), "{files} files: all used");
                let used: std::collections::BTreeSet<usize> = shards.into_iter().collect();
                assert_eq!(used.len(), SHARDS, "{files} files: every shard holds some");
            }
        }
    }
}
