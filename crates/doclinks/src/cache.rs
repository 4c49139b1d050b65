//! The on-disk cache of what each page contributes to a check: per page, the
//! SHA-256 of its bytes → its extracted links and anchors ([`Extracted`]).
//!
//! It lives in `ROOT/.doclinks/cache` (a `.gitignore` of `*` is written inside,
//! so git never sees it) as [`SHARDS`] files, each holding the pages whose path
//! falls in it. A shard starts with a magic line, the format version and the
//! tool's identity (its version and the size and time of its executable: any
//! other build of doclinks extracts under other rules and rebuilds the cache),
//! then an index of its pages and the [`checksum`] of all that; the pages'
//! bodies follow, each read (and checked against its checksum in the index) only when
//! the page is needed whole.
//!
//! A page is taken from the cache without being read when its size, mtime and
//! inode are those recorded and its mtime is more than [`RACY`] older than the
//! shard (a file changed within the same clock tick as the write cannot be
//! told apart by its stamp, as with git's index); else it is read and hashed,
//! and found by its content: a renamed or copied page, and the tree at another
//! revision, hit too. Only shards that changed are written, atomically.
//! A corrupt or foreign shard is a warning; it is ignored and rebuilt.

use std::ffi::OsStr;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::extract::{Extracted, Front};
use crate::fast::HashMap;
use crate::report::Warning;
use crate::tree::{Tree, push_warning};

/// Where the cache lives, below the root.
pub(crate) const DIR: [&str; 2] = [".doclinks", "cache"];

/// How many files the cache is split into: an edit rewrites one of them.
const SHARDS: usize = 64;

/// The first bytes of every shard.
const MAGIC: &[u8] = b"doclinks page cache\n";

/// Bumped whenever the encoding of a shard changes.
const FORMAT: u32 = 7;

/// A file whose mtime is this close to the shard's write is always re-read.
pub(crate) const RACY: Duration = Duration::from_secs(2);

/// The largest shard read back (a cache is far smaller than the tree).
const SHARD_LIMIT: u64 = 1 << 30;

/// The SHA-256 of a page's bytes.
pub(crate) type Hash = [u8; 32];

/// The checksum that tells a damaged cache file (a torn write, a flipped
/// bit) from a sound one: CRC-32, from `crc32fast`. A warm check of a large
/// tree checks a hundred megabytes of cache, which SHA-256 took ~10x longer
/// over; a checksum keeps out no one who can write the cache folder (they
/// could write a SHA-256 as easily), so it need not be cryptographic.
/// Pages are still found by the SHA-256 of their bytes.
pub(crate) type Checksum = [u8; 4];

pub(crate) fn checksum(bytes: &[u8]) -> Checksum {
    crc32fast::hash(bytes).to_le_bytes()
}

/// What the file system says about a page, enough to tell it unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) len: u64,
    /// Modification time, nanoseconds since the epoch.
    pub(crate) mtime: i128,
    pub(crate) ino: u64,
    /// Status change time, nanoseconds since the epoch: what no one can set
    /// back (`touch -r` restores an mtime, `chmod` changes only this), as git
    /// keeps it in its index.
    pub(crate) ctime: i128,
}

impl Stamp {
    pub(crate) fn of(stat: &tidy_io::Stat) -> Stamp {
        Stamp {
            len: u64::try_from(stat.st_size).unwrap_or(0),
            mtime: i128::from(stat.st_mtime) * 1_000_000_000 + i128::from(stat.st_mtime_nsec),
            ino: stat.st_ino,
            ctime: i128::from(stat.st_ctime) * 1_000_000_000 + i128::from(stat.st_ctime_nsec),
        }
    }

    /// The stamp of what `std` says of a file.
    pub(crate) fn of_metadata(m: &std::fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: m.len(),
            mtime: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            ino: m.ino(),
            ctime: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        }
    }
}

/// What the site model reads of a page ([`crate::site::Pages`]): written
/// before the rest of a page's entry, so that it is had without decoding the
/// page whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct View {
    pub(crate) front: Front,
    /// The link destinations that start with `/`.
    pub(crate) root_links: Vec<String>,
}

impl View {
    pub(crate) fn of(doc: &Extracted) -> View {
        let root_links = doc.links().map(|l| l.dest()).filter(|d| d.starts_with('/'));
        View { front: doc.front().clone(), root_links: root_links.map(str::to_owned).collect() }
    }

    fn encode(&self, out: &mut Writer) {
        let front = &self.front;
        for key in [&front.id, &front.slug, &front.uid, &front.url] {
            out.opt(key.as_deref());
        }
        out.strs(front.aliases.iter());
        out.strs(self.root_links.iter());
    }

    fn decode(input: &mut Reader<'_>) -> Option<View> {
        let (id, slug, uid, url) = (input.opt()?, input.opt()?, input.opt()?, input.opt()?);
        let front = Front { id, slug, uid, url, aliases: input.strs()? };
        Some(View { front, root_links: input.strs()? })
    }
}

/// A page read back from a shard: its [`View`] at once, the rest read from
/// the shard file and decoded the first time it is asked for (a warm check
/// whose results are reused needs few pages whole, and reads only those).
pub(crate) struct Lazy {
    view: View,
    file: Arc<ShardFile>,
    /// The page's encoding in the shard's bodies, and its checksum.
    body: Range<usize>,
    sum: Checksum,
    doc: OnceLock<Option<Arc<Extracted>>>,
}

impl Lazy {
    pub(crate) fn view(&self) -> &View {
        &self.view
    }

    /// The page whole, its bytes read alone (`None` for a shard file damaged
    /// or changed under the check: the page is then read from the tree).
    pub(crate) fn doc(&self) -> Option<Arc<Extracted>> {
        self.doc.get_or_init(|| self.decode(&self.file.body(self.body.clone())?)).clone()
    }

    /// The page whole, for a check that decodes every page: its shard's
    /// bodies are read in one go, once, for all of its pages.
    pub(crate) fn doc_in_bulk(&self) -> Option<Arc<Extracted>> {
        self.doc.get_or_init(|| self.decode(self.file.bodies()?.get(self.body.clone())?)).clone()
    }

    fn decode(&self, body: &[u8]) -> Option<Arc<Extracted>> {
        if checksum(body) != self.sum {
            return None;
        }
        let mut reader = Reader(body);
        let doc = Extracted::decode(&mut reader)?;
        reader.0.is_empty().then(|| Arc::new(doc))
    }
}

/// A shard file as it was when the check opened it: held open, so that a
/// check writing it meanwhile (atomically, by rename) leaves this one's bytes
/// as they were; its pages' bodies are read from it when needed.
struct ShardFile {
    /// `None` once the bodies are read whole (see [`keep_files_open`]).
    file: Option<std::fs::File>,
    /// Where the bodies start in the file, and their length.
    at: u64,
    len: usize,
    whole: OnceLock<Option<Box<[u8]>>>,
}

impl ShardFile {
    fn body(&self, range: Range<usize>) -> Option<Vec<u8>> {
        if let Some(Some(bodies)) = self.whole.get() {
            return bodies.get(range).map(<[u8]>::to_vec);
        }
        let mut bytes = vec![0; range.len()];
        self.file.as_ref()?.read_exact_at(&mut bytes, self.at + range.start as u64).ok()?;
        Some(bytes)
    }

    fn bodies(&self) -> Option<&[u8]> {
        self.whole
            .get_or_init(|| {
                let mut bytes = vec![0; self.len].into_boxed_slice();
                self.file.as_ref()?.read_exact_at(&mut bytes, self.at).ok()?;
                Some(bytes)
            })
            .as_deref()
    }
}

/// A page's extraction as the cache holds it.
#[derive(Clone)]
pub(crate) enum Page {
    /// Parsed in this check.
    Parsed(Arc<Extracted>),
    /// Read back from a shard, decoded when needed.
    Cached(Arc<Lazy>),
}

impl Page {
    /// The page whole.
    pub(crate) fn doc(&self) -> Option<Arc<Extracted>> {
        match self {
            Page::Parsed(doc) => Some(Arc::clone(doc)),
            Page::Cached(lazy) => lazy.doc(),
        }
    }
}

/// One page as the cache keeps it.
struct Entry {
    stamp: Stamp,
    hash: Hash,
    doc: Page,
}

/// A loaded entry, whether its stamp alone may be trusted, and the shard
/// its page belongs in.
struct Known {
    entry: Entry,
    trusted: bool,
    shard: u8,
}

/// How many pages are found by content with a scan of the loaded entries
/// before a table of them by hash is made: a re-check after an edit looks up
/// the edited pages only, and a table of 100k entries cost it ~20 ms.
const SCANNED_LOOKUPS: usize = 8;

/// The cache of one check.
pub(crate) struct Cache {
    path: PathBuf,
    /// Per file of the tree (by index), its entry: no path is held twice.
    by_index: Vec<Option<Known>>,
    /// Shards holding a page that is no longer a file of the tree.
    gone: Vec<bool>,
    /// The entries of no file of the tree (gone since; every entry when
    /// another tree borrows the cache), found by content only.
    elsewhere: Vec<(Hash, Page)>,
    /// Every entry by the hash of its page's bytes, made when more than
    /// [`SCANNED_LOOKUPS`] pages were looked up by content.
    by_hash: OnceLock<HashMap<Hash, Page>>,
    lookups: AtomicUsize,
    /// Whether any page was read back.
    holds_pages: bool,
    /// Shards read back whole with this tool's identity.
    sound: Vec<bool>,
    /// Shards there was a file for, sound or not.
    existed: Vec<bool>,
    /// Shards holding a page that was not found by its stamp this time.
    dirty: Vec<AtomicBool>,
    /// Per file of the tree, whether its page was found by its stamp.
    hits: Vec<AtomicBool>,
    /// The pages read and extracted this time, with their entries.
    recorded: Mutex<Vec<(usize, Entry)>>,
    /// Whether pages are looked up by path and stamp and the cache written:
    /// not when another tree (the root at a revision) borrows it.
    own: bool,
}

/// This build of doclinks: what the cache's rules of extraction come from.
pub(crate) fn tool() -> &'static str {
    static TOOL: LazyLock<String> = LazyLock::new(|| {
        let exe = std::env::current_exe()
            .and_then(std::fs::metadata)
            .map(|m| {
                let time = m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok());
                format!("{} {}", m.len(), time.map_or(0, |t| t.as_nanos()))
            })
            .unwrap_or_default();
        format!("{} {} {exe}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    });
    &TOOL
}

/// Which of `shards` a page is in: FNV-1a of its path, stable across runs
/// and builds.
pub(crate) fn shard_of(path: &str, shards: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in path.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash % shards as u64) as usize
}

/// What one shard file held when the cache was loaded.
enum Shard {
    /// Its entries, each with the index of its page in the tree (`None`: gone).
    Read(Vec<(Option<usize>, Known)>),
    /// No file (yet).
    Missing,
    /// Another build's or format's cache: rebuilt quietly, as expected after
    /// an upgrade.
    Other,
    /// Not a sound cache file: a warning, then rebuilt.
    Bad(String),
}

fn shard_name(shard: usize) -> String {
    format!("pages-{shard:02}.bin")
}

impl Cache {
    /// The cache of the tree at `root` (empty where there is none yet), for
    /// the walked `tree`. Without one (another tree borrows the cache) it
    /// only answers by content and is never written.
    pub(crate) fn load(
        root: &tidy_io::Root,
        tree: Option<&Tree>,
        warnings: &Mutex<Vec<Warning>>,
    ) -> Cache {
        let own = tree.is_some();
        let path = DIR.iter().fold(root.path().to_path_buf(), |p, part| p.join(part));
        let dir = root.dir().open_beneath(&DIR, false).ok();
        let loaded: Vec<Shard> = (0..SHARDS)
            .into_par_iter()
            .map(|shard| {
                let Some(dir) = &dir else { return Shard::Missing };
                let name = shard_name(shard);
                match dir.open_regular(OsStr::new(&name)) {
                    Ok((file, stat)) => {
                        let size = u64::try_from(stat.st_size).unwrap_or(u64::MAX);
                        if size > SHARD_LIMIT {
                            return Shard::Bad(format!("it is larger than {SHARD_LIMIT} bytes"));
                        }
                        match read_shard(file, size) {
                            // Each page looked up here, on the pool: at 100k
                            // pages the lookups were most of the load.
                            Ok(entries) => Shard::Read(
                                entries
                                    .into_iter()
                                    .map(|(page, known)| (tree.and_then(|t| t.index(&page)), known))
                                    .collect(),
                            ),
                            Err(None) => Shard::Other,
                            Err(Some(problem)) => Shard::Bad(problem),
                        }
                    }
                    Err(e) if e.is_not_found() => Shard::Missing,
                    Err(e) => Shard::Bad(format!("cannot read it: {}", e.reason())),
                }
            })
            .collect();
        let mut cache = Cache::empty(path, tree.map_or(0, |t| t.files.len()), own);
        for (shard, result) in loaded.into_iter().enumerate() {
            cache.existed[shard] = !matches!(result, Shard::Missing);
            match result {
                Shard::Read(entries) => {
                    cache.sound[shard] = true;
                    cache.holds_pages |= !entries.is_empty();
                    for (index, known) in entries {
                        match index {
                            Some(index) => cache.by_index[index] = Some(known),
                            None => {
                                cache.gone[shard] = true;
                                cache.elsewhere.push((known.entry.hash, known.entry.doc));
                            }
                        }
                    }
                }
                Shard::Missing | Shard::Other => {}
                Shard::Bad(problem) => push_warning(
                    warnings,
                    &cache.path.join(shard_name(shard)),
                    format!("{problem}; the cache file is ignored and rebuilt"),
                ),
            }
        }
        cache
    }

    /// A cache holding nothing yet, for a tree of `files` files.
    fn empty(path: PathBuf, files: usize, own: bool) -> Cache {
        Cache {
            path,
            by_index: (0..files).map(|_| None).collect(),
            gone: vec![false; SHARDS],
            elsewhere: Vec::new(),
            by_hash: OnceLock::new(),
            lookups: AtomicUsize::new(0),
            holds_pages: false,
            sound: vec![false; SHARDS],
            existed: vec![false; SHARDS],
            dirty: (0..SHARDS).map(|_| AtomicBool::new(false)).collect(),
            hits: (0..files).map(|_| AtomicBool::new(false)).collect(),
            recorded: Mutex::new(Vec::new()),
            own,
        }
    }

    /// Whether any page was read back (a first check's cache holds none).
    pub(crate) fn holds_pages(&self) -> bool {
        self.holds_pages
    }

    /// The page with this index and the hash of its bytes, when its stamp
    /// says it is the one cached.
    pub(crate) fn by_stamp(&self, index: usize, stamp: &Stamp) -> Option<(Page, Hash)> {
        let known = self.by_index.get(index)?.as_ref().filter(|k| self.own && k.trusted)?;
        (known.entry.stamp == *stamp).then(|| {
            self.hits[index].store(true, Ordering::Relaxed);
            (known.entry.doc.clone(), known.entry.hash)
        })
    }

    /// A page with these bytes, extracted once before.
    pub(crate) fn by_content(&self, hash: &Hash) -> Option<Arc<Extracted>> {
        if self.by_hash.get().is_none()
            && self.lookups.fetch_add(1, Ordering::Relaxed) < SCANNED_LOOKUPS
        {
            return self.entries().find(|(h, _)| *h == hash)?.1.doc();
        }
        let table = self.by_hash.get_or_init(|| {
            let mut table = HashMap::with_capacity_and_hasher(
                self.by_index.len() + self.elsewhere.len(),
                Default::default(),
            );
            table.extend(self.entries().map(|(hash, doc)| (*hash, doc.clone())));
            table
        });
        table.get(hash)?.doc()
    }

    /// Every loaded entry, by the hash of its page's bytes.
    fn entries(&self) -> impl Iterator<Item = (&Hash, &Page)> {
        let of_the_tree = self.by_index.iter().flatten().map(|k| (&k.entry.hash, &k.entry.doc));
        of_the_tree.chain(self.elsewhere.iter().map(|(hash, doc)| (hash, doc)))
    }

    /// Records a page that was read (its stamp was not enough).
    pub(crate) fn record(
        &self,
        (index, path): (usize, &str),
        stamp: Stamp,
        hash: Hash,
        doc: &Arc<Extracted>,
    ) {
        if !self.own {
            return;
        }
        self.dirty[shard_of(path, SHARDS)].store(true, Ordering::Relaxed);
        let entry = Entry { stamp, hash, doc: Page::Parsed(Arc::clone(doc)) };
        self.recorded.lock().expect("cache lock").push((index, entry));
    }

    /// Writes the shards that changed: those with a page read this time, a
    /// page gone since, or that could not be read back.
    pub(crate) fn store(self, tree: &Tree, warnings: &Mutex<Vec<Warning>>) {
        if !self.own {
            return;
        }
        let recorded = self.recorded.into_inner().expect("cache lock");
        // A page read this time is written with its new entry (a cached one
        // that failed to decode was found by its stamp, then read).
        let mut fresh = vec![false; tree.files.len()];
        for (index, _) in &recorded {
            fresh[*index] = true;
        }
        let hit = |index: usize| self.hits[index].load(Ordering::Relaxed);
        // Written with its entry as loaded: found by its stamp, not read again.
        let kept = |index: usize| hit(index) && !fresh[index];
        let mut dirty: Vec<bool> = self.dirty.iter().map(|d| d.load(Ordering::Relaxed)).collect();
        // Which shards will hold a page: a missing one that would hold
        // nothing stays missing.
        let mut filled = [false; SHARDS];
        for (index, known) in self.by_index.iter().enumerate() {
            let Some(known) = known else { continue };
            // A page cached before but not this time (unreadable now, say).
            dirty[usize::from(known.shard)] |= !hit(index) && !fresh[index];
            filled[usize::from(known.shard)] |= kept(index);
        }
        let recorded: Vec<(usize, usize, Entry)> = recorded
            .into_iter()
            .map(|(index, entry)| (shard_of(&tree.files[index], SHARDS), index, entry))
            .collect();
        for (shard, _, _) in &recorded {
            filled[*shard] = true;
        }
        for (shard, gone) in self.gone.iter().enumerate() {
            dirty[shard] |= gone;
        }
        for (shard, sound) in self.sound.iter().enumerate() {
            dirty[shard] |= !sound && (self.existed[shard] || filled[shard]);
        }
        if !dirty.iter().any(|&d| d) {
            return;
        }
        let mut shards: Vec<Vec<(&str, Entry)>> = (0..SHARDS).map(|_| Vec::new()).collect();
        for (index, known) in self.by_index.into_iter().enumerate() {
            if let Some(known) = known.filter(|k| dirty[usize::from(k.shard)] && kept(index)) {
                shards[usize::from(known.shard)].push((&tree.files[index], known.entry));
            }
        }
        for (shard, index, entry) in recorded {
            if dirty[shard] {
                shards[shard].push((&tree.files[index], entry));
            }
        }
        let root = tree.root.handle();
        let warn = |message: String| push_warning(warnings, &self.path, message);
        let dir = match root.create_dirs(&DIR.iter().collect::<PathBuf>()) {
            Ok(dir) => dir,
            Err(e) => return warn(format!("cannot write the cache: {}", e.reason())),
        };
        if let Err(e) = ignore_everything(&dir) {
            return warn(format!("cannot write the cache: {}", e.reason()));
        }
        let written = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let failed: Vec<String> = shards
            .par_iter_mut()
            .enumerate()
            .filter(|(shard, _)| dirty[*shard])
            .filter_map(|(shard, entries)| {
                entries.sort_by(|a, b| a.0.cmp(b.0));
                let bytes = encode_shard(entries, written);
                write_file(&dir, &shard_name(shard), &bytes).err()
            })
            .collect();
        if let Some(reason) = failed.first() {
            warn(format!("cannot write the cache: {reason}"));
        }
    }
}

/// Writes one file of the cache atomically (a crash leaves the old file or
/// the new one, never half of one) and without syncing (a cache lost is
/// rebuilt); `Err` is the reason it could not.
pub(crate) fn write_file(dir: &tidy_io::Dir, name: &str, bytes: &[u8]) -> Result<(), String> {
    let name = OsStr::new(name);
    let write = || write_volatile(dir, name, bytes);
    match write() {
        // A FIFO, device or symbolic link where a cache file goes (no check
        // writes one): the name is the cache's own, and unlinking it follows
        // nothing. Left in place, it was warned about on every run.
        Err(tidy_io::Error::NotRegular { .. } | tidy_io::Error::Symlink { .. }) => {
            dir.remove_file(name).and_then(|()| write())
        }
        done => done,
    }
    .map_err(|e| e.reason())
}

/// The `.gitignore` that keeps the cache out of git, written once.
fn ignore_everything(dir: &tidy_io::Dir) -> tidy_io::Result<()> {
    let name = OsStr::new(".gitignore");
    if dir.stat(name)?.is_some() {
        return Ok(());
    }
    let text = b"# doclinks' page cache: rebuilt when missing, never committed.\n*\n";
    write_volatile(dir, name, text)
}

/// An atomic write without a sync: a cache file lost in a crash is rebuilt.
fn write_volatile(dir: &tidy_io::Dir, name: &OsStr, bytes: &[u8]) -> tidy_io::Result<()> {
    dir.write_atomic(
        name,
        bytes,
        tidy_io::Perms::Default,
        tidy_io::Durability::Volatile,
        tidy_io::Place::Replace,
    )
}

/// A shard file: the magic line, format, tool, time of writing and the
/// index's length; the index (per page its path, stamp, hash, view, and its
/// body's length and checksum) and the checksum of all that; then the pages'
/// bodies, in index order. A check reads the index whole and a body only
/// when it needs the page.
fn encode_shard(entries: &[(&str, Entry)], written: Duration) -> Vec<u8> {
    let mut index = Writer(Vec::with_capacity(entries.len() * 256));
    let mut bodies = Writer(Vec::with_capacity(entries.len() * 1024));
    let mut count = 0;
    for (page, entry) in entries {
        let at = bodies.0.len();
        let (view, sum) = match &entry.doc {
            Page::Parsed(doc) => {
                doc.encode(&mut bodies);
                (&View::of(doc), checksum(&bodies.0[at..]))
            }
            // Written back as it was read: the body's bytes, not decoded.
            Page::Cached(lazy) => match lazy.file.bodies().and_then(|b| b.get(lazy.body.clone())) {
                Some(body) => {
                    bodies.0.extend_from_slice(body);
                    (&lazy.view, lazy.sum)
                }
                // The file changed under the check: the page is left out.
                None => continue,
            },
        };
        count += 1;
        index.str(page);
        index.u64(entry.stamp.len);
        index.0.extend_from_slice(&entry.stamp.mtime.to_le_bytes());
        index.u64(entry.stamp.ino);
        index.0.extend_from_slice(&entry.stamp.ctime.to_le_bytes());
        index.0.extend_from_slice(&entry.hash);
        view.encode(&mut index);
        index.len(bodies.0.len() - at);
        index.0.extend_from_slice(&sum);
    }
    let mut out = Writer(Vec::with_capacity(256 + index.0.len() + 4 + bodies.0.len()));
    out.0.extend_from_slice(MAGIC);
    out.u32(FORMAT);
    out.str(tool());
    out.u64(u64::try_from(written.as_nanos()).unwrap_or(u64::MAX));
    out.u64(index.0.len() as u64 + 4);
    out.len(count);
    out.0.extend_from_slice(&index.0);
    let sum = checksum(&out.0);
    out.0.extend_from_slice(&sum);
    out.0.extend_from_slice(&bodies.0);
    out.0
}

/// Whether shard files stay open for their bodies to be read when needed:
/// not under a limit of open files so low (below 1024) that the check's own
/// page and directory opens could run out; the bodies are then read at once.
fn keep_files_open() -> bool {
    tidy_io::open_files_limit().is_none_or(|limit| limit >= 1024)
}

/// The entries of a shard file of `size` bytes; `Err(None)` for another
/// build's cache (rebuilt quietly: a new doclinks is expected to start
/// afresh), `Err(Some)` for a file that is not a sound cache of this format.
/// Reads the index, not the bodies.
fn read_shard(file: std::fs::File, size: u64) -> Result<Vec<(String, Known)>, Option<String>> {
    let foreign = || Some("not a doclinks cache file".to_owned());
    let damaged = || Some("the cache file is damaged (it cannot be decoded)".to_owned());
    let unreadable = |e: std::io::Error| Some(format!("cannot read it: {e}"));
    // The head: magic, format, tool (a few dozen bytes), time, index length.
    let mut head = vec![0; usize::try_from(size.min(4096)).unwrap_or(4096)];
    file.read_exact_at(&mut head, 0).map_err(unreadable)?;
    let Some(rest) = head.strip_prefix(MAGIC) else { return Err(foreign()) };
    let mut reader = Reader(rest);
    let format = reader.u32().ok_or_else(damaged)?;
    let tool_seen = reader.str().ok_or_else(damaged)?;
    if format != FORMAT || tool_seen != tool() {
        return Err(None);
    }
    let written = i128::from(reader.u64().ok_or_else(damaged)?);
    let index_len = reader.u64().ok_or_else(damaged)?;
    let index_at = (head.len() - reader.0.len()) as u64;
    let bodies_at = index_at.checked_add(index_len).and_then(|n| n.checked_add(4));
    let bodies_at = bodies_at.filter(|&n| n <= size).ok_or_else(damaged)?;
    // The rest of the index after the head's bytes (a small file's head may
    // hold bodies too: cut off).
    let mut checked = head;
    let had = checked.len() as u64;
    checked.resize(usize::try_from(bodies_at).map_err(|_| damaged())?, 0);
    if bodies_at > had {
        file.read_exact_at(&mut checked[had as usize..], had).map_err(unreadable)?;
    }
    let (content, sum) = checked.split_at(checked.len() - 4);
    if checksum(content) != sum {
        return Err(Some("the cache file is damaged (its checksum does not match)".to_owned()));
    }
    let bodies_len = usize::try_from(size - bodies_at).map_err(|_| damaged())?;
    let mut shard =
        ShardFile { file: Some(file), at: bodies_at, len: bodies_len, whole: OnceLock::new() };
    if !keep_files_open() {
        // Read now, and the file closed: the check's pages need the files.
        let _ = shard.bodies();
        shard.file = None;
    }
    let shard = Arc::new(shard);
    let mut reader = Reader(&content[usize::try_from(index_at).map_err(|_| damaged())?..]);
    let count = reader.len().ok_or_else(damaged)?;
    let mut entries = Vec::with_capacity(count.min(1 << 20));
    let mut body_at = 0;
    for _ in 0..count {
        let (page, entry, body_len) =
            read_entry(&mut reader, &shard, body_at).ok_or_else(damaged)?;
        body_at += body_len;
        // By its mtime, the time a write sets (the ctime also moves when
        // an mtime is set back, as by a checkout keeping times).
        let trusted = entry.stamp.mtime + RACY.as_nanos() as i128 <= written;
        let shard = shard_of(&page, SHARDS) as u8;
        entries.push((page, Known { entry, trusted, shard }));
    }
    if !reader.0.is_empty() || body_at != bodies_len {
        return Err(damaged());
    }
    Ok(entries)
}

/// One entry of the index `reader` reads, whose body starts at `body_at` in
/// the shard's bodies; with the body's length.
fn read_entry(
    reader: &mut Reader<'_>,
    shard: &Arc<ShardFile>,
    body_at: usize,
) -> Option<(String, Entry, usize)> {
    let page = reader.str()?.to_owned();
    let len = reader.u64()?;
    let mtime = i128::from_le_bytes(reader.bytes(16)?.try_into().ok()?);
    let ino = reader.u64()?;
    let ctime = i128::from_le_bytes(reader.bytes(16)?.try_into().ok()?);
    let hash: Hash = reader.bytes(32)?.try_into().ok()?;
    let view = View::decode(reader)?;
    let body_len = reader.len()?;
    let sum: Checksum = reader.bytes(4)?.try_into().ok()?;
    let body = body_at..body_at.checked_add(body_len)?;
    let lazy = Lazy { view, file: Arc::clone(shard), body, sum, doc: OnceLock::new() };
    let stamp = Stamp { len, mtime, ino, ctime };
    Some((page, Entry { stamp, hash, doc: Page::Cached(Arc::new(lazy)) }, body_len))
}

/// The SHA-256 of a page's bytes.
pub(crate) fn hash(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// Little-endian, length-prefixed encoding of a shard.
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn u32(&mut self, n: u32) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn u64(&mut self, n: u64) {
        self.0.extend_from_slice(&n.to_le_bytes());
    }

    pub(crate) fn len(&mut self, n: usize) {
        self.u32(u32::try_from(n).unwrap_or(u32::MAX));
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    pub(crate) fn opt(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
            None => self.0.push(0),
        }
    }

    pub(crate) fn strs(&mut self, items: impl ExactSizeIterator<Item = impl AsRef<str>>) {
        self.len(items.len());
        for item in items {
            self.str(item.as_ref());
        }
    }
}

/// Reads what [`Writer`] wrote; `None` at the first thing out of place.
pub(crate) struct Reader<'b>(pub(crate) &'b [u8]);

impl<'b> Reader<'b> {
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'b [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    pub(crate) fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u32()?).ok()
    }

    pub(crate) fn str(&mut self) -> Option<&'b str> {
        let len = self.len()?;
        std::str::from_utf8(self.bytes(len)?).ok()
    }

    pub(crate) fn string(&mut self) -> Option<String> {
        self.str().map(str::to_owned)
    }

    pub(crate) fn opt(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.string()?)),
            _ => None,
        }
    }

    pub(crate) fn strs(&mut self) -> Option<Vec<String>> {
        let count = self.len()?;
        // Every string takes four bytes at least: a count past that is damage.
        if count > self.0.len() / 4 {
            return None;
        }
        (0..count).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bytes` as a shard file, read back.
    fn read_back(bytes: &[u8]) -> Result<Vec<(String, Known)>, Option<String>> {
        use std::io::Write as _;
        let mut file = tempfile::tempfile().expect("a temporary file");
        file.write_all(bytes).expect("written");
        read_shard(file, bytes.len() as u64)
    }

    #[test]
    fn pages_are_found_by_content_before_and_after_the_table_is_made() {
        let docs: Vec<Arc<Extracted>> =
            (0..20).map(|n| Arc::new(crate::extract::extract(&format!("# Page {n}\n")))).collect();
        let stamp = Stamp { len: 5, mtime: 7, ino: 9, ctime: 8 };
        let hash = |n: usize| [n as u8; 32];
        let known = |n: usize| Known {
            entry: Entry { stamp, hash: hash(n), doc: Page::Parsed(Arc::clone(&docs[n])) },
            trusted: true,
            shard: 0,
        };
        // Pages of the tree, and pages of no file of it.
        let mut cache = Cache::empty(PathBuf::new(), 11, true);
        for n in 0..10 {
            cache.by_index[n] = Some(known(n));
        }
        cache.elsewhere = (10..20).map(|n| (hash(n), Page::Parsed(Arc::clone(&docs[n])))).collect();
        // The first lookups scan; the rest use the table made after them.
        for round in 0..2 {
            for (n, doc) in docs.iter().enumerate() {
                let found = cache.by_content(&hash(n)).expect("every entry is found");
                assert!(Arc::ptr_eq(&found, doc), "entry {n}, round {round}");
            }
            assert!(cache.by_content(&[99; 32]).is_none());
        }
        assert!(cache.by_hash.get().is_some(), "made once the scans were used up");
    }

    #[test]
    fn a_shard_round_trips_and_a_flipped_byte_is_damage() {
        let doc = Arc::new(crate::extract::extract(
            "---\nslug: /x\n---\n# Title {#t}\n\n[a](b.md#c) <a name=\"n\"></a>\n\n[^1]: note\n",
        ));
        let other = Arc::new(crate::extract::extract("# Other\n\n[d](/e.md)\n"));
        let view = View::of(&doc);
        assert_eq!(view.front.slug.as_deref(), Some("/x"));
        let stamp = Stamp { len: 5, mtime: 7, ino: 9, ctime: 8 };
        let entry = Entry { stamp, hash: [3; 32], doc: Page::Parsed(doc) };
        let second = Entry { stamp, hash: [4; 32], doc: Page::Parsed(other) };
        let written = Duration::from_secs(100);
        let bytes = encode_shard(&[("docs/a.md", entry), ("docs/b.md", second)], written);
        let entries = read_back(&bytes).unwrap();
        assert_eq!(entries.len(), 2);
        let (page, known) = &entries[0];
        assert_eq!(page, "docs/a.md");
        assert!(known.trusted, "written long after the page's mtime");
        assert_eq!(known.entry.stamp, stamp);
        let Page::Cached(lazy) = &known.entry.doc else { panic!("read back lazily") };
        assert_eq!(lazy.view(), &view, "the view is had without the page");
        let doc = known.entry.doc.doc().unwrap();
        let links: Vec<&str> = doc.links().map(|l| l.raw).collect();
        assert_eq!(links, ["b.md#c"]);
        assert_eq!(doc.front().slug.as_deref(), Some("/x"));
        let Page::Cached(lazy) = &entries[1].1.entry.doc else { panic!("read back lazily") };
        let links: Vec<String> =
            lazy.doc_in_bulk().unwrap().links().map(|l| l.raw.to_string()).collect();
        assert_eq!(links, ["/e.md"], "the second body, read with its shard's");
        // Pages read back are written back byte for byte, decoded or not.
        let again: Vec<(&str, Entry)> = entries
            .iter()
            .map(|(page, known)| {
                (
                    page.as_str(),
                    Entry { stamp, hash: known.entry.hash, doc: known.entry.doc.clone() },
                )
            })
            .collect();
        assert_eq!(encode_shard(&again, written), bytes);

        // A flipped byte in the index is a damaged file; in a body, a page
        // that is read from the tree instead.
        let mut flipped = bytes.clone();
        let in_index = bytes.windows(9).position(|w| w == b"docs/a.md").unwrap();
        flipped[in_index] ^= 1;
        assert!(matches!(read_back(&flipped), Err(Some(m)) if m.contains("damaged")));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let entries = read_back(&flipped).unwrap();
        assert!(entries[0].1.entry.doc.doc().is_some());
        assert!(entries[1].1.entry.doc.doc().is_none());
        assert!(
            matches!(read_back(&bytes[..bytes.len() - 1]), Err(Some(m)) if m.contains("damaged"))
        );
        assert!(matches!(read_back(&bytes[..100]), Err(Some(m)) if m.contains("damaged")));
        assert!(matches!(read_back(b"PK\x03\x04 a zip"), Err(Some(m)) if m.contains("not a")));
        assert!(matches!(read_back(b""), Err(Some(m)) if m.contains("not a")));
    }

    #[test]
    fn shards_spread_pages() {
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| shard_of(&format!("docs/p{i}.md"), SHARDS)).collect();
        assert_eq!(used.len(), SHARDS);
    }
}
