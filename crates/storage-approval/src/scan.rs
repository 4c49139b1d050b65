//! The scan: walks ROOT without following symlinks, applies the policy, finds exact
//! duplicates (size → partial hash → full SHA-256, every file read at most once) and
//! builds the report.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;
use rustix::fs::{AtFlags, FileType};
use sha2::{Digest, Sha256};
use tidy_io::{Dir, Durability, Perms, Place};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::keep::{Candidate, Decision};
use crate::layout::{CACHE_FILE, QUARANTINE_DIR, QUARANTINE_MARKER};
use crate::links;
use crate::policy::Policy;
use crate::report::{Action, ActionKind, REPORT_VERSION, Report};

/// Bytes hashed for the partial hash (the whole file when it is smaller).
const PARTIAL: u64 = 16 * 1024;

/// The largest hash cache read: some 100 bytes a file, so ten million files.
const CACHE_LIMIT: u64 = 1 << 30;

/// Scan options.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Use (and update) the hash cache `ROOT/.tidy-quarantine/hash-cache.v1`.
    pub use_cache: bool,
    /// "Now" for the age rule, in seconds since the epoch (default: the clock).
    pub now_unix: Option<i64>,
}

/// Progress of a scan, reported to an optional callback (the library never prints).
#[derive(Debug, Clone, Copy)]
pub struct ScanProgress {
    /// `"walk"` or `"hash"`.
    pub phase: &'static str,
    /// Units done (files walked, bytes hashed).
    pub done: u64,
    /// Units in all (0 while unknown).
    pub total: u64,
}

/// What a scan produced, besides the report.
#[derive(Debug, Clone, Default)]
pub struct ScanStats {
    /// Regular files seen.
    pub files: u64,
    /// Symlinks seen and not followed.
    pub symlinks: u64,
    /// Paths skipped with a reason (unreadable, non-UTF-8 name, special file).
    pub warnings: Vec<String>,
    /// Bytes read for hashing.
    pub bytes_hashed: u64,
    /// Full hashes taken from the cache.
    pub cache_hits: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Shared with the action that names it, if any.
    rel: Arc<str>,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i128,
    protected: bool,
}

/// A SHA-256, as bytes: the hex form is made only for the report.
type Hash = [u8; 32];

type CacheKey = (u64, u64, u64, i128);

/// A junk delete or archive move: the entry, what to do, the archive destination
/// and the rule's reason.
type Proposed = (usize, ActionKind, Option<Arc<str>>, Arc<str>);

/// Scans `root` under `policy` and returns the report.
pub fn scan(
    root: &Path,
    policy: &Policy,
    options: &ScanOptions,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<(Report, ScanStats)> {
    let started = Instant::now();
    let root = root.canonicalize().map_err(|e| Error::io("cannot open root", root, e))?;
    if !root.is_dir() {
        return Err(Error::invalid(&root, "not a directory"));
    }
    let mut stats = ScanStats::default();
    let archive_dest = policy.file.archive.dest.clone();
    let mut entries = walk(&root, &archive_dest, policy, &mut stats, progress)?;
    entries.sort_by(|a, b| a.rel.cmp(&b.rel));
    entries.shrink_to_fit();
    stats.files = entries.len() as u64;

    // The cache is the tool's own file below ROOT: read and written through ROOT's
    // handle, never through a symlink; one it cannot use is a warning, not an error.
    let root_dir = Dir::open(&root).map_err(|e| Error::file("cannot open root", e))?;
    let mut use_cache = options.use_cache;
    let cache = if use_cache {
        load_cache(&root_dir).unwrap_or_else(|e| {
            stats.warnings.push(format!("{e}; the hash cache is not used"));
            use_cache = false;
            HashMap::new()
        })
    } else {
        HashMap::new()
    };

    let now = options.now_unix.unwrap_or_else(|| time::OffsetDateTime::now_utc().unix_timestamp());
    let cutoff =
        (now as i128 - policy.file.archive.older_than_days as i128 * 86_400) * 1_000_000_000;

    // Classify: junk first, then archive, then duplicate candidates.
    let mut proposed: Vec<Proposed> = Vec::new();
    let mut candidates: Vec<usize> = Vec::new();
    let mut reasons = Interner::default();
    for (i, e) in entries.iter().enumerate() {
        if e.protected {
            candidates.push(i);
            continue;
        }
        if let Some(reason) = policy.junk_reason(&e.rel) {
            proposed.push((i, ActionKind::Delete, None, reasons.share(reason)));
            continue;
        }
        let archived =
            policy.file.archive.dirs.iter().find(|d| e.rel.starts_with(&format!("{d}/")));
        if let Some(dir) = archived
            && e.mtime < cutoff
        {
            let dest = Arc::from(format!("{archive_dest}/{}", e.rel));
            let reason = format!(
                "archive: below `{dir}/` and older than {} days",
                policy.file.archive.older_than_days
            );
            proposed.push((i, ActionKind::Move, Some(dest), reasons.share(reason)));
            continue;
        }
        candidates.push(i);
    }

    // Duplicates: by size, one path per inode (hard links are not duplicates).
    // `full[i]` is the full hash of entry `i`, once known.
    let mut full: Vec<Option<Hash>> = vec![None; entries.len()];
    let mut dup_groups: Vec<Vec<usize>> = Vec::new();
    let hashed = AtomicU64::new(0);
    let hits = AtomicU64::new(0);
    if policy.file.duplicates.enabled {
        let mut by_size: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut seen_inodes = HashSet::new();
        for &i in &candidates {
            let e = &entries[i];
            if e.size >= policy.file.duplicates.min_bytes.max(1)
                && seen_inodes.insert((e.dev, e.ino))
            {
                by_size.entry(e.size).or_default().push(i);
            }
        }
        drop(seen_inodes);
        let mut sized: Vec<Vec<usize>> = by_size.into_values().filter(|g| g.len() > 1).collect();
        sized.sort_by_key(|g| g[0]);
        let total: u64 = sized.iter().flatten().map(|&i| entries[i].size.min(PARTIAL)).sum();
        // Partial hash of each uncached candidate, keeping the hasher state so the
        // full hash continues where the partial one stopped.
        let partials: Vec<(usize, io::Result<Partial>)> = sized
            .par_iter()
            .flatten()
            .map(|&i| {
                let e = &entries[i];
                if let Some(h) = cache.get(&key(e)) {
                    hits.fetch_add(1, Ordering::Relaxed);
                    return (i, Ok(Partial::Cached(*h)));
                }
                let p = partial_hash(&root_dir, e);
                let done = hashed.fetch_add(e.size.min(PARTIAL), Ordering::Relaxed);
                progress(ScanProgress { phase: "hash", done, total });
                (i, p)
            })
            .collect();
        let mut states: HashMap<usize, Partial> = HashMap::new();
        for (i, partial) in partials {
            match partial {
                Ok(Partial::Cached(h) | Partial::Complete(h)) => full[i] = Some(h),
                Ok(p) => {
                    states.insert(i, p);
                }
                Err(e) => stats.warnings.push(unreadable_candidate(&entries[i].rel, &e)),
            }
        }
        // Within each size group: cached and complete files already have a full hash;
        // the others need one when their partial hash collides, or when a cached file
        // (whose partial is unknown) might equal them.
        let mut need_full: Vec<usize> = Vec::new();
        for group in &sized {
            let any_cached = group.iter().any(|&i| full[i].is_some());
            let mut by_partial: HashMap<Hash, Vec<usize>> = HashMap::new();
            for &i in group {
                if let Some(Partial::Prefix { key, .. }) = states.get(&i) {
                    by_partial.entry(*key).or_default().push(i);
                }
            }
            for members in by_partial.into_values() {
                if members.len() > 1 || any_cached {
                    need_full.extend(members);
                }
            }
        }
        need_full.sort_unstable();
        let jobs: Vec<(usize, Partial)> =
            need_full.into_iter().filter_map(|i| states.remove(&i).map(|p| (i, p))).collect();
        drop(states);
        let rest_total: u64 =
            jobs.iter().map(|(i, _)| entries[*i].size.saturating_sub(PARTIAL)).sum();
        let rest_done = AtomicU64::new(0);
        let finished: Vec<(usize, io::Result<Hash>)> = jobs
            .into_par_iter()
            .map(|(i, p)| {
                let e = &entries[i];
                let h = p.finish(&root_dir, e);
                let n = e.size.saturating_sub(PARTIAL);
                hashed.fetch_add(n, Ordering::Relaxed);
                let done = rest_done.fetch_add(n, Ordering::Relaxed);
                progress(ScanProgress { phase: "hash", done, total: rest_total });
                (i, h)
            })
            .collect();
        for (i, hash) in finished {
            match hash {
                Ok(h) => full[i] = Some(h),
                Err(e) => stats.warnings.push(unreadable_candidate(&entries[i].rel, &e)),
            }
        }
        let mut by_hash: HashMap<(u64, Hash), Vec<usize>> = HashMap::new();
        for group in &sized {
            for &i in group {
                if let Some(h) = full[i] {
                    by_hash.entry((entries[i].size, h)).or_default().push(i);
                }
            }
        }
        dup_groups = by_hash.into_values().filter(|g| g.len() > 1).collect();
        dup_groups.sort_by_key(|g| g[0]);
    }

    // Full hashes of the junk and archive files (from the cache where possible).
    let action_hashes: Vec<Option<Hash>> = proposed
        .par_iter()
        .map(|(i, ..)| {
            let e = &entries[*i];
            if let Some(h) = full[*i].or_else(|| cache.get(&key(e)).copied()) {
                hits.fetch_add(1, Ordering::Relaxed);
                return Some(h);
            }
            let h = full_hash(&root_dir, e).ok()?;
            hashed.fetch_add(e.size, Ordering::Relaxed);
            Some(h)
        })
        .collect();

    let mut actions = Vec::new();
    let mut new_cache: HashMap<CacheKey, Hash> = HashMap::new();
    // The files on their way out: their links do not keep anything.
    let leaving: HashSet<usize> = proposed.iter().map(|p| p.0).collect();
    for ((i, kind, dest, reason), hash) in proposed.into_iter().zip(action_hashes) {
        let e = &entries[i];
        let Some(hash) = hash else {
            stats.warnings.push(format!("{}: unreadable, skipped", e.rel));
            continue;
        };
        if use_cache {
            new_cache.insert(key(e), hash);
        }
        actions.push(Action {
            action: kind,
            src: e.rel.clone(),
            dest,
            bytes: e.size,
            sha256: Some(Arc::from(fsutil::hex(&hash))),
            mtime: fsutil::format_ns(e.mtime),
            policy_reason: reason,
            group: None,
            kept: None,
            keep_reason: None,
        });
    }
    if use_cache {
        for (i, h) in full.iter().enumerate() {
            if let Some(h) = h {
                new_cache.insert(key(&entries[i]), *h);
            }
        }
    }
    let kept = keep_groups(&root_dir, &entries, &dup_groups, &leaving, policy, &mut stats)?;
    for (group, decision) in dup_groups.iter().zip(&kept.decisions) {
        let copies = keep_candidates(&entries, group, &kept.linked_from, policy);
        let primary = &entries[group[decision.kept[0]]];
        let hex = fsutil::hex(&full[group[0]].expect("a group's members are hashed"));
        // What every delete of the group shares, held once.
        let name: Arc<str> = Arc::from(format!("dup:{}", &hex[..16]));
        let hash: Arc<str> = Arc::from(hex);
        let reason: Arc<str> = Arc::from(format!("duplicate of `{}`", primary.rel));
        let mut why = Interner::default();
        let mut stays = vec![false; group.len()];
        for &k in &decision.kept {
            stays[k] = true;
        }
        for (k, (&i, stays)) in group.iter().zip(stays).enumerate() {
            let e = &entries[i];
            if stays || e.protected {
                continue;
            }
            actions.push(Action {
                action: ActionKind::Delete,
                src: e.rel.clone(),
                dest: None,
                bytes: e.size,
                sha256: Some(hash.clone()),
                mtime: fsutil::format_ns(e.mtime),
                policy_reason: reason.clone(),
                group: Some(name.clone()),
                kept: Some(primary.rel.clone()),
                keep_reason: Some(why.share(decision.reason(&copies, k))),
            });
        }
    }
    actions.sort_by(|a, b| a.src.cmp(&b.src));
    actions.shrink_to_fit();
    stats.bytes_hashed = hashed.into_inner();
    stats.cache_hits = hits.into_inner();
    // An unchanged tree leaves the cache as it is: rewriting (and fsyncing) it
    // would cost a re-scan more than the scan itself.
    if use_cache
        && new_cache != cache
        && let Err(e) = save_cache(&root_dir, &new_cache)
    {
        stats.warnings.push(format!("cannot save the hash cache: {e}"));
    }

    let report = Report {
        version: REPORT_VERSION,
        root: root.to_string_lossy().into_owned(),
        generated_at: fsutil::now_rfc3339(),
        runtime_ms: started.elapsed().as_millis() as u64,
        host: host_name(),
        policy: policy.to_json(),
        actions,
    };
    Ok((report, stats))
}

/// One shared copy of each distinct string (reasons repeat across many actions).
#[derive(Default)]
struct Interner {
    known: HashMap<String, Arc<str>>,
}

impl Interner {
    fn share(&mut self, text: String) -> Arc<str> {
        if let Some(known) = self.known.get(&text) {
            return known.clone();
        }
        let shared: Arc<str> = Arc::from(text.as_str());
        self.known.insert(text, shared.clone());
        shared
    }
}

/// The keep rule's decision for every duplicate group (see the `keep` module).
///
/// A link keeps its target only if the page it is in stays. So the pages that
/// certainly stay (in no group, not on their way out) count first; each group is
/// decided with the copies those link to; the pages a decision keeps count from
/// then on, and the groups are decided again until a round adds no page. The
/// counted pages only grow, so this ends; and the last round keeps no page that
/// was not counted, so no link from a page that stays can end at a removed copy.
/// Pages of a backup folder that only link to each other are never counted: they
/// go, with the copies only they link to.
fn keep_groups(
    root: &Dir,
    entries: &[Entry],
    groups: &[Vec<usize>],
    leaving: &HashSet<usize>,
    policy: &Policy,
    stats: &mut ScanStats,
) -> Result<KeepDecisions> {
    if groups.is_empty() {
        return Ok(KeepDecisions::default());
    }
    let pages: Vec<usize> =
        (0..entries.len()).filter(|&i| links::is_page(&entries[i].rel)).collect();
    let targets: Vec<usize> = groups.iter().flatten().copied().collect();
    let found = {
        let page_rels: Vec<&str> = pages.iter().map(|&i| &*entries[i].rel).collect();
        let target_rels: Vec<&str> = targets.iter().map(|&i| &*entries[i].rel).collect();
        links::find(root, &page_rels, &target_rels).map_err(|e| {
            Error::invalid(root.path(), format!("{e}: the keep rule needs the links of the pages"))
        })?
    };
    stats.warnings.extend(found.warnings);
    let edges: Vec<(usize, usize)> =
        found.edges.iter().map(|&(p, t)| (pages[p], targets[t])).collect();
    let in_group: HashSet<usize> = targets.iter().copied().collect();
    let mut counted: Vec<bool> = vec![false; entries.len()];
    for &p in &pages {
        counted[p] = !in_group.contains(&p) && !leaving.contains(&p);
    }
    loop {
        // The first counted page (in path order) that links to each copy.
        let mut linked_from: HashMap<usize, usize> = HashMap::new();
        for &(page, target) in &edges {
            if counted[page] {
                linked_from.entry(target).or_insert(page);
            }
        }
        let decisions: Vec<Decision> = groups
            .iter()
            .map(|group| {
                crate::keep::decide(&keep_candidates(entries, group, &linked_from, policy))
            })
            .collect();
        let mut grew = false;
        for (group, decision) in groups.iter().zip(&decisions) {
            for &k in &decision.kept {
                let i = group[k];
                if links::is_page(&entries[i].rel) && !counted[i] {
                    counted[i] = true;
                    grew = true;
                }
            }
        }
        if !grew {
            return Ok(KeepDecisions { decisions, linked_from });
        }
    }
}

/// The decision of each group, and the links they were made with (to explain a
/// decision per delete): each linked copy with the first page that links to it.
#[derive(Default)]
struct KeepDecisions {
    decisions: Vec<Decision>,
    linked_from: HashMap<usize, usize>,
}

/// The keep rule's view of the copies of one group.
fn keep_candidates<'e>(
    entries: &'e [Entry],
    group: &[usize],
    linked_from: &HashMap<usize, usize>,
    policy: &'e Policy,
) -> Vec<Candidate<'e>> {
    group
        .iter()
        .map(|&i| Candidate {
            rel: &entries[i].rel,
            mtime: entries[i].mtime,
            protected: entries[i].protected,
            linked_from: linked_from.get(&i).map(|&p| &*entries[p].rel),
            keep_glob: policy.keep_glob(&entries[i].rel),
        })
        .collect()
}

/// The warning for a duplicate candidate that could not be read: it is compared
/// with nothing, so it is neither removed nor kept as anyone's copy.
fn unreadable_candidate(rel: &str, e: &io::Error) -> String {
    format!("{rel}: cannot read it ({e}); not compared for duplicates")
}

fn key(e: &Entry) -> CacheKey {
    (e.dev, e.ino, e.size, e.mtime)
}

/// What the walk shares between its threads.
struct Walk<'a> {
    root: &'a Path,
    archive_dest: &'a str,
    policy: &'a Policy,
    progress: &'a (dyn Fn(ScanProgress) + Sync),
    entries: Mutex<Vec<Entry>>,
    warnings: Mutex<Vec<String>>,
    symlinks: AtomicU64,
    files: AtomicU64,
}

/// Walks ROOT, never following a symlink: each directory is opened from its
/// parent's handle (`O_NOFOLLOW`), read with `getdents`, and each file stat-ed
/// relative to that handle, so no path is resolved twice; directories are walked
/// in parallel. Skips `.git`, the quarantine, the archive destination and every
/// directory holding a quarantine marker.
fn walk(
    root: &Path,
    archive_dest: &str,
    policy: &Policy,
    stats: &mut ScanStats,
    progress: &(dyn Fn(ScanProgress) + Sync),
) -> Result<Vec<Entry>> {
    let dir = Dir::open(root).map_err(|e| Error::file("cannot read directory", e))?;
    let walk = Walk {
        root,
        archive_dest,
        policy,
        progress,
        entries: Mutex::new(Vec::new()),
        warnings: Mutex::new(Vec::new()),
        symlinks: AtomicU64::new(0),
        files: AtomicU64::new(0),
    };
    let listing = rustix::fs::Dir::read_from(dir.fd())
        .map_err(|e| Error::io("cannot read directory", root, e.into()))?;
    rayon::scope(|scope| walk.dir(scope, &dir, listing, String::new()));
    stats.symlinks += walk.symlinks.into_inner();
    stats.warnings.extend(walk.warnings.into_inner().expect("the walk's warnings"));
    Ok(walk.entries.into_inner().expect("the walk's entries"))
}

impl<'a> Walk<'a> {
    fn warn(&self, warning: String) {
        self.warnings.lock().expect("the walk's warnings").push(warning);
    }

    /// Reads one directory (`prefix` is its path relative to ROOT, with a trailing
    /// `/` unless it is ROOT) and spawns a walk of each subdirectory.
    fn dir<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        dir: &Dir,
        listing: rustix::fs::Dir,
        prefix: String,
    ) {
        let mut found = Vec::new();
        for entry in listing {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    self.warn(format!("{}: cannot read directory: {e}", dir.path().display()));
                    break;
                }
            };
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let Ok(name) = std::str::from_utf8(name) else {
                let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
                self.warn(format!("{}: name is not UTF-8, skipped", path.display()));
                continue;
            };
            let rel = format!("{prefix}{name}");
            // `lstat` semantics: a symlink is reported as a symlink, never followed.
            let stat = match rustix::fs::statat(dir.fd(), name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(e) => {
                    self.warn(format!("{rel}: {}, skipped", std::io::Error::from(e)));
                    continue;
                }
            };
            match FileType::from_raw_mode(stat.st_mode) {
                FileType::Symlink => {
                    self.symlinks.fetch_add(1, Ordering::Relaxed);
                }
                FileType::Directory => {
                    if rel == QUARANTINE_DIR || rel == self.archive_dest || name == ".git" {
                        continue;
                    }
                    let sub = match dir.open_beneath(&[name], false) {
                        Ok(sub) => sub,
                        Err(e) => {
                            self.warn(format!("{rel}: cannot read directory: {}", e.reason()));
                            continue;
                        }
                    };
                    // Any quarantine, also a `--quarantine` inside ROOT: never scanned.
                    if matches!(sub.stat(std::ffi::OsStr::new(QUARANTINE_MARKER)), Ok(Some(_))) {
                        continue;
                    }
                    match rustix::fs::Dir::read_from(sub.fd()) {
                        Ok(listing) => {
                            let prefix = format!("{rel}/");
                            scope.spawn(move |scope| self.dir(scope, &sub, listing, prefix));
                        }
                        Err(e) => self.warn(format!(
                            "{}: cannot read directory: {}",
                            self.root.join(&rel).display(),
                            std::io::Error::from(e)
                        )),
                    }
                }
                FileType::RegularFile => {
                    #[allow(
                        clippy::unnecessary_cast,
                        reason = "stat field types differ between targets"
                    )]
                    found.push(Entry {
                        protected: self.policy.is_protected(&rel),
                        rel: Arc::from(rel),
                        dev: stat.st_dev as u64,
                        ino: stat.st_ino as u64,
                        size: stat.st_size as u64,
                        mtime: fsutil::mtime_ns(&stat),
                    });
                }
                // FIFOs, sockets and devices are never acted on.
                _ => {}
            }
        }
        let before = self.files.fetch_add(found.len() as u64, Ordering::Relaxed);
        if (before + found.len() as u64) / 1024 != before / 1024 {
            (self.progress)(ScanProgress {
                phase: "walk",
                done: before + found.len() as u64,
                total: 0,
            });
        }
        self.entries.lock().expect("the walk's entries").extend(found);
    }
}

enum Partial {
    /// From the cache: the full hash without reading.
    Cached(Hash),
    /// The whole file fitted in the partial read: this is its full hash.
    Complete(Hash),
    /// The first [`PARTIAL`] bytes: their hash and the hasher state after them.
    Prefix { key: Hash, state: Box<Sha256> },
}

/// Opens the walked entry `e` for hashing from the root's handle, component by
/// component without following a symlink, and checks it is still the file the
/// walk saw (same device and inode). A directory swapped for a symlink after the
/// walk, or a file replaced, is an unreadable candidate, never a read outside
/// ROOT or of a file the report would not describe.
fn open_entry(root: &Dir, e: &Entry) -> io::Result<File> {
    let mut parts: Vec<&str> = e.rel.split('/').collect();
    let name = parts.pop().unwrap_or_default();
    let dir = root.open_beneath(&parts, false).map_err(io::Error::other)?;
    let (file, stat) = dir.open_regular(OsStr::new(name)).map_err(io::Error::other)?;
    if (stat.st_dev, stat.st_ino) != (e.dev, e.ino) {
        return Err(io::Error::other("replaced by another file since the walk"));
    }
    Ok(file)
}

fn partial_hash(root: &Dir, e: &Entry) -> io::Result<Partial> {
    let size = e.size;
    let mut file = open_entry(root, e)?;
    let mut hasher = Sha256::new();
    let n = fsutil::hash_into(&mut (&mut file).take(PARTIAL), &mut hasher)?;
    if size <= PARTIAL {
        if n != size || file.read(&mut [0u8; 1])? != 0 {
            return Err(io::Error::other("size changed while hashing"));
        }
        return Ok(Partial::Complete(hasher.finalize().into()));
    }
    let key: [u8; 32] = hasher.clone().finalize().into();
    Ok(Partial::Prefix { key, state: Box::new(hasher) })
}

impl Partial {
    fn finish(self, root: &Dir, e: &Entry) -> io::Result<Hash> {
        let size = e.size;
        match self {
            Partial::Cached(h) | Partial::Complete(h) => Ok(h),
            Partial::Prefix { state, .. } => {
                let mut hasher = *state;
                let mut file = open_entry(root, e)?;
                file.seek(io::SeekFrom::Start(PARTIAL))?;
                let n = fsutil::hash_into(&mut file, &mut hasher)?;
                if n + PARTIAL != size {
                    return Err(io::Error::other("size changed while hashing"));
                }
                Ok(hasher.finalize().into())
            }
        }
    }
}

fn full_hash(root: &Dir, e: &Entry) -> io::Result<Hash> {
    let size = e.size;
    let mut file = open_entry(root, e)?;
    let mut hasher = Sha256::new();
    let n = fsutil::hash_into(&mut file, &mut hasher)?;
    if n != size {
        return Err(io::Error::other("size changed while hashing"));
    }
    Ok(hasher.finalize().into())
}

/// The hash cache `ROOT/.tidy-quarantine/hash-cache.v1` (none yet: empty). Lines it
/// cannot parse are dropped: a cache entry only ever saves a read.
fn load_cache(root: &Dir) -> tidy_io::Result<HashMap<CacheKey, Hash>> {
    let name = OsStr::new(CACHE_FILE);
    let bytes = match root
        .open_beneath(&[QUARANTINE_DIR], false)
        .and_then(|dir| dir.read_regular(name, CACHE_LIMIT))
    {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    };
    let text = String::from_utf8_lossy(&bytes);
    let mut cache = HashMap::with_capacity(text.len() / 100);
    for line in text.lines() {
        let mut f = line.split(' ');
        if let (Some(dev), Some(ino), Some(size), Some(mtime), Some(hash), None) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
            && let (Ok(dev), Ok(ino), Ok(size), Ok(mtime)) =
                (dev.parse(), ino.parse(), size.parse(), mtime.parse())
            && let Some(hash) = fsutil::parse_hex(hash)
        {
            cache.insert((dev, ino, size, mtime), hash);
        }
    }
    Ok(cache)
}

/// Replaces the hash cache atomically and durably; the quarantine folder is created
/// through ROOT's handle, and a symlink or special file in either place is refused,
/// never replaced. Not secret: it holds inode numbers and content hashes of files
/// whose names it does not hold, so it gets `0666 & !umask` like every output.
fn save_cache(root: &Dir, cache: &HashMap<CacheKey, Hash>) -> tidy_io::Result<()> {
    let dir = root.open_beneath(&[QUARANTINE_DIR], true)?;
    let mut lines: Vec<String> = cache
        .iter()
        .map(|((d, i, s, m), h)| format!("{d} {i} {s} {m} {}", fsutil::hex(h)))
        .collect();
    lines.sort();
    let mut text = lines.join("\n");
    text.push('\n');
    dir.write_atomic(
        OsStr::new(CACHE_FILE),
        text.as_bytes(),
        Perms::Default,
        Durability::Durable,
        Place::Replace,
    )
}

fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt as _;

    use super::*;

    fn write(root: &Path, rel: &str, bytes: &[u8]) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn hashing_opens_the_walked_file_below_the_root_or_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let (root, outside) = (tmp.path().join("root"), tmp.path().join("outside"));
        write(&root, "sub/a.txt", b"inside");
        write(&outside, "a.txt", b"outside");
        let meta = std::fs::metadata(root.join("sub/a.txt")).unwrap();
        let entry = Entry {
            rel: Arc::from("sub/a.txt"),
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: 0,
            protected: false,
        };
        let dir = Dir::open(&root).unwrap();
        assert!(full_hash(&dir, &entry).is_ok());

        // The directory swapped for a symlink after the walk: never followed.
        std::fs::rename(root.join("sub"), tmp.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("sub")).unwrap();
        assert!(full_hash(&dir, &entry).is_err());

        // The same path, another file: not the one the walk saw.
        std::fs::remove_file(root.join("sub")).unwrap();
        write(&root, "sub/a.txt", b"inside");
        let err = full_hash(&dir, &entry).unwrap_err();
        assert!(err.to_string().contains("replaced"), "{err}");
    }

    fn run(root: &Path, policy: &str, now: Option<i64>) -> (Report, ScanStats) {
        let policy = Policy::parse(policy, Path::new("p.toml")).unwrap();
        scan(root, &policy, &ScanOptions { use_cache: false, now_unix: now }, &|_| {}).unwrap()
    }

    #[test]
    fn every_byte_is_read_at_most_once_and_near_duplicates_stay_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut last = big.clone();
        *last.last_mut().unwrap() ^= 1;
        let mut first = big.clone();
        first[0] ^= 1;
        write(tmp.path(), "a/big", &big);
        write(tmp.path(), "b/big", &big);
        write(tmp.path(), "near-last", &last);
        write(tmp.path(), "near-first", &first);
        write(tmp.path(), "unique-size", b"only one of this size");
        let (report, stats) = run(tmp.path(), "", None);
        let srcs: Vec<&str> = report.actions.iter().map(|a| &*a.src).collect();
        assert_eq!(srcs, ["b/big"]);
        assert_eq!(report.actions[0].kept.as_deref(), Some("a/big"));
        // a/big, b/big and near-last share a prefix: read in full once each;
        // near-first differs in its prefix: only that prefix is read; the file of a
        // unique size is never read.
        assert_eq!(stats.bytes_hashed, 3 * 100_000 + PARTIAL);
    }

    #[test]
    fn an_unreadable_duplicate_candidate_is_a_warning() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a", b"same bytes");
        write(tmp.path(), "b", b"same bytes");
        let policy = Policy::parse("", Path::new("p.toml")).unwrap();
        // One thread hashes the candidates in path order and reports each hash:
        // after `a`, `b` goes away, as a file can between the walk and its read.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let progress = |p: ScanProgress| {
            if p.phase == "hash" {
                let _ = std::fs::remove_file(tmp.path().join("b"));
            }
        };
        let (report, stats) =
            pool.install(|| scan(tmp.path(), &policy, &ScanOptions::default(), &progress).unwrap());
        assert!(report.actions.is_empty(), "{:?}", report.actions);
        assert_eq!(stats.warnings.len(), 1, "{:?}", stats.warnings);
        assert!(
            stats.warnings[0].starts_with("b: cannot read it (")
                && stats.warnings[0].ends_with("); not compared for duplicates"),
            "{:?}",
            stats.warnings
        );
    }

    #[test]
    fn archive_age_is_measured_from_now() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "logs/x.log", b"log");
        let policy = "[archive]\nolder_than_days = 10\ndirs = [\"logs\"]\n";
        let mtime = std::fs::metadata(tmp.path().join("logs/x.log")).unwrap().mtime();
        let (young, _) = run(tmp.path(), policy, Some(mtime + 9 * 86_400));
        assert!(young.actions.is_empty());
        let (old, _) = run(tmp.path(), policy, Some(mtime + 11 * 86_400));
        assert_eq!(old.actions[0].dest.as_deref(), Some("archive/logs/x.log"));
        assert!(old.actions[0].sha256.is_some());
    }

    #[test]
    fn one_action_per_file_junk_first() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), "a.tmp", b"same");
        write(tmp.path(), "b.txt", b"same");
        let (report, _) = run(tmp.path(), "[junk]\npatterns = [\"**/*.tmp\"]\n", None);
        assert_eq!(report.actions.len(), 1);
        assert!(report.actions[0].policy_reason.starts_with("junk"));
    }
}
