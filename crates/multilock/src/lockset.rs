//! `LockSet`: a lock directory plus a canonical order, and the acquisition
//! algorithm (sort, check the order rule, take one by one, wait with backoff,
//! undo on failure).
//!
//! The order rule, and why it is enough: a holder may wait only for locks that
//! come after every lock it holds. Along any chain of waits (A waits for a lock
//! B holds, B waits for one C holds, …) the waited-for locks then rise strictly
//! in the order, so the chain can never come back to A: no wait cycle, no
//! deadlock. A holder is a thread: the locks it took count, and so do the
//! locks its process's ancestor `multilock run`s hold, which they pass down in
//! `MULTILOCK_HELD_SETS` (a process waiting for its child lends it its locks).
//! Locks other threads hold do not count: a thread that holds a lock and does
//! not wait releases it in time. A try that does not wait adds no wait to any
//! chain, so it may take any lock. Locks in different directories have no
//! common order: a holder waits only in the directory it holds locks in.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use crate::dir::{FileKey, LockDir};
use crate::error::{Error, HeldBy, HeldName, Result};
use crate::guard::{HeldLock, LockGuard};
use crate::holder::{Holder, own_command};
use crate::name::validate_name;
use crate::order::{CanonicalOrder, OrderRecord, OrderedNames};
use crate::procs::{LockProcess, real_holders};
use crate::status::{self, LockStatus};

/// Environment variable a `multilock run` child sees: the names its parent holds.
pub const HELD_ENV: &str = "MULTILOCK_HELD";
/// Environment variable a `multilock run` child sees: the canonical lock directory
/// the names in [`HELD_ENV`] belong to.
pub const HELD_DIR_ENV: &str = "MULTILOCK_HELD_DIR";
/// Environment variable a `multilock run` child sees: every lock its ancestors
/// hold, one `DIR<TAB>NAME,NAME` line per lock directory, so that nested runs
/// across several directories are all checked.
pub const HELD_SETS_ENV: &str = "MULTILOCK_HELD_SETS";
/// Set to `1` to allow a lock directory on NFS, SMB, FUSE and the like.
pub const ALLOW_REMOTE_FS_ENV: &str = "MULTILOCK_ALLOW_REMOTE_FS";

/// A set of named locks in one directory, always taken in one canonical order.
///
/// Cloning is cheap and shares the open directory handle.
#[derive(Debug, Clone)]
pub struct LockSet {
    order: CanonicalOrder,
    umbrella: Option<String>,
    /// `None` in disabled mode.
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    dir: Arc<LockDir>,
    /// Every (directory id, names) ancestor `multilock run`s hold, read once at open.
    inherited: Vec<(String, Vec<String>)>,
    /// The names of `inherited` in this same directory.
    parent_held: Vec<String>,
}

/// Configures a [`LockSet`].
#[derive(Debug, Clone)]
pub struct LockSetBuilder {
    dir: PathBuf,
    order: Option<CanonicalOrder>,
    umbrella: Option<String>,
    create: bool,
    allow_remote_fs: bool,
    disabled: bool,
}

impl LockSetBuilder {
    /// Asks for a canonical order. The first set opened on a directory records
    /// its order (and umbrella) there; later sets use the recorded one, and
    /// asking for another is an error, since two orders in one directory could
    /// deadlock. Without this, the recorded order is used, else the default
    /// `queue, runs, archive, docs`.
    pub fn order(mut self, order: CanonicalOrder) -> Self {
        self.order = Some(order);
        self
    }

    /// An outermost lock taken before every subsystem lock, for tools that only
    /// know the umbrella. Recorded in the directory like the order, so a tool
    /// that asks for the umbrella by name also takes it first.
    pub fn umbrella(mut self, name: impl Into<String>) -> Self {
        self.umbrella = Some(name.into());
        self
    }

    /// Whether a missing directory is created and the order recorded (default:
    /// yes). `status` opens without, so that looking changes nothing.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Accepts a directory on a network or FUSE file system, where flock may not
    /// exclude other machines. Defaults to `$MULTILOCK_ALLOW_REMOTE_FS == "1"`.
    pub fn allow_remote_fs(mut self, allow: bool) -> Self {
        self.allow_remote_fs = allow;
        self
    }

    /// Disabled mode: every acquisition succeeds at once and holds nothing
    /// (`--no-subsystem-locks`, for debugging). The directory is not touched.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = disabled;
        self
    }

    /// Opens the directory, checks that it is safe to use, and settles the order.
    pub fn open(self) -> Result<LockSet> {
        if let Some(umbrella) = &self.umbrella {
            validate_name(umbrella)?;
        }
        if self.disabled {
            let order = self.order.unwrap_or_default();
            return Ok(LockSet { order, umbrella: self.umbrella, inner: None });
        }
        let dir = LockDir::open(&self.dir, self.create, self.allow_remote_fs)?;
        let wanted =
            OrderRecord::new(self.order.clone().unwrap_or_default(), self.umbrella.clone())
                .map_err(|reason| Error::InvalidName {
                    name: self.umbrella.clone().unwrap_or_default(),
                    reason,
                })?;
        let record = match dir.read_order()? {
            Some(recorded) => recorded,
            None if self.create => dir.record_order(&wanted)?,
            None => wanted.clone(),
        };
        // Asking for what the directory already uses, or for nothing, is fine.
        let order_clash = self.order.as_ref().is_some_and(|o| *o != record.order);
        let umbrella_clash = self.umbrella.is_some() && self.umbrella != record.umbrella;
        if order_clash || umbrella_clash {
            return Err(Error::OrderMismatch {
                path: dir.order_path(),
                recorded: record.describe(),
                requested: wanted.describe(),
            });
        }
        let inherited = inherited_sets();
        let own = dir_id_text(dir.id());
        let parent_held =
            inherited.iter().filter(|(d, _)| *d == own).flat_map(|(_, n)| n.clone()).collect();
        Ok(LockSet {
            order: record.order,
            umbrella: record.umbrella,
            inner: Some(Arc::new(Inner { dir: Arc::new(dir), inherited, parent_held })),
        })
    }
}

/// How to acquire: timeout, lease, what to record, and whom to tell while waiting.
#[derive(Clone)]
pub struct AcquireOptions {
    timeout: Option<Duration>,
    ttl: Option<Duration>,
    command: Option<String>,
    notice_after: Duration,
    on_wait: Option<WaitCallback>,
}

/// Called with the lock being waited for (see [`AcquireOptions::on_wait`]).
type WaitCallback = Arc<dyn Fn(&Waiting) + Send + Sync>;

impl std::fmt::Debug for AcquireOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcquireOptions")
            .field("timeout", &self.timeout)
            .field("ttl", &self.ttl)
            .field("command", &self.command)
            .field("notice_after", &self.notice_after)
            .field("on_wait", &self.on_wait.is_some())
            .finish()
    }
}

impl Default for AcquireOptions {
    fn default() -> Self {
        AcquireOptions {
            timeout: None,
            ttl: None,
            command: None,
            notice_after: Duration::from_secs(1),
            on_wait: None,
        }
    }
}

impl AcquireOptions {
    /// Wait forever, no lease, the process's own command line recorded.
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives up after `timeout` in total (`None`: wait as long as it takes).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// A lease: status reports it expired when not renewed within `ttl`.
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// The command recorded in the holder metadata (default: this process's argv).
    pub fn command(mut self, command: impl Into<String>) -> Self {
        self.command = Some(command.into());
        self
    }

    /// Calls `on_wait` once per busy lock, after `notice_after` of waiting (default
    /// one second), with the lock and its holder: the CLI prints it.
    pub fn on_wait(
        mut self,
        notice_after: Duration,
        on_wait: impl Fn(&Waiting) + Send + Sync + 'static,
    ) -> Self {
        self.notice_after = notice_after;
        self.on_wait = Some(Arc::new(on_wait));
        self
    }
}

/// A lock this acquisition is waiting for.
#[derive(Debug, Clone)]
pub struct Waiting {
    /// The busy lock.
    pub lock: String,
    /// Its lock file.
    pub path: PathBuf,
    /// How long we have waited so far.
    pub waited: Duration,
    /// Who holds it, if its metadata is readable.
    pub holder: Option<Holder>,
    /// When that recorded holder no longer holds the lock (or none is
    /// recorded): the processes found holding it.
    pub processes: Option<Vec<LockProcess>>,
}

impl Waiting {
    /// "held by …": the holder in words, as the CLI prints it.
    pub fn holder_text(&self) -> String {
        crate::error::HolderText(self.holder.as_ref(), self.processes.as_deref()).to_string()
    }
}

/// A lock this process holds or is waiting for.
#[derive(Debug)]
struct Registered {
    /// (device, inode) of its lock directory.
    dir_id: FileKey,
    /// That directory's canonical path, for messages.
    dir: PathBuf,
    name: String,
    acquired: bool,
    /// The thread that took (or is taking) it: the order rule is per thread.
    thread: ThreadId,
}

/// Locks this process holds or waits for, keyed by lock-file identity, so a
/// second acquisition of the same lock (by any path to it) fails instead of
/// deadlocking.
fn registry() -> MutexGuard<'static, BTreeMap<FileKey, Registered>> {
    static HELD: Mutex<BTreeMap<FileKey, Registered>> = Mutex::new(BTreeMap::new());
    // A panic while holding this mutex cannot leave the map inconsistent.
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn unregister(key: FileKey) {
    registry().remove(&key);
}

/// A registry entry for a lock being waited for; removed on drop (also when a
/// caller's `on_wait` panics) unless the lock was acquired and handed over.
struct Claim {
    key: FileKey,
}

impl Claim {
    fn new(key: FileKey, dir: &LockDir, name: &str) -> Result<Claim> {
        let mut registry = registry();
        if registry.contains_key(&key) {
            return Err(Error::AlreadyHeld { lock: name.to_owned(), by: HeldBy::ThisProcess });
        }
        let entry = Registered {
            dir_id: dir.id(),
            dir: dir.canonical().to_owned(),
            name: name.to_owned(),
            acquired: false,
            thread: std::thread::current().id(),
        };
        registry.insert(key, entry);
        Ok(Claim { key })
    }

    /// The lock is ours: the entry now belongs to the `HeldLock`.
    fn acquired(self) {
        if let Some(entry) = registry().get_mut(&self.key) {
            entry.acquired = true;
        }
        std::mem::forget(self);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        unregister(self.key);
    }
}

impl LockSet {
    /// Opens `dir` with the recorded (else default) order, creating it when missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<LockSet> {
        LockSet::builder(dir).open()
    }

    /// Starts configuring a set over `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> LockSetBuilder {
        LockSetBuilder {
            dir: dir.as_ref().to_owned(),
            order: None,
            umbrella: None,
            create: true,
            allow_remote_fs: std::env::var(ALLOW_REMOTE_FS_ENV).is_ok_and(|v| v == "1"),
            disabled: false,
        }
    }

    /// A set in disabled mode with the default order: acquisitions hold nothing.
    pub fn disabled() -> LockSet {
        LockSet { order: CanonicalOrder::default(), umbrella: None, inner: None }
    }

    /// Whether this set is in disabled mode.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_none()
    }

    /// The lock directory as given (`None` when disabled).
    pub fn dir(&self) -> Option<&Path> {
        self.inner.as_ref().map(|inner| inner.dir.path())
    }

    /// The canonical (symlink-free, absolute) lock directory.
    pub fn canonical_dir(&self) -> Option<&Path> {
        self.inner.as_ref().map(|inner| inner.dir.canonical())
    }

    /// The canonical order in force.
    pub fn order(&self) -> &[String] {
        self.order.names()
    }

    /// The umbrella lock in force, if any.
    pub fn umbrella(&self) -> Option<&str> {
        self.umbrella.as_deref()
    }

    /// The names `requested` would be taken in, in order, umbrella first, with
    /// the ones the order does not know listed apart.
    pub fn plan<S: AsRef<str>>(&self, requested: &[S]) -> Result<OrderedNames> {
        let mut planned = self.order.sort(requested)?;
        if let Some(umbrella) = &self.umbrella {
            planned.names.retain(|n| n != umbrella);
            planned.unknown.retain(|n| n != umbrella);
            planned.names.insert(0, umbrella.clone());
        }
        Ok(planned)
    }

    /// Takes `names` in canonical order, waiting as long as it takes.
    pub fn acquire<S: AsRef<str>>(&self, names: &[S]) -> Result<LockGuard> {
        self.acquire_with(names, &AcquireOptions::new())
    }

    /// Takes `names` in canonical order. If any cannot be had, those already
    /// taken are released in reverse order before the error is returned.
    ///
    /// Refused at once, before anything is taken, with
    /// [`Error::OrderViolation`] when the calling thread or an ancestor
    /// `multilock run` holds a lock that does not come before every name asked
    /// for (or holds locks in another directory), since waiting could then
    /// close a wait cycle; and with [`Error::AlreadyHeld`] when a name asked
    /// for is held already by this process or an ancestor run.
    pub fn acquire_with<S: AsRef<str>>(
        &self,
        names: &[S],
        options: &AcquireOptions,
    ) -> Result<LockGuard> {
        self.take(names, options, Mode::Wait)
    }

    /// Takes `names` in canonical order without waiting: if any is held by
    /// somebody else, those already taken are released and [`Error::Busy`] is
    /// returned. A try never waits, so it cannot close a wait cycle: unlike
    /// [`acquire`](Self::acquire), it may take a lock that comes before one
    /// already held.
    pub fn try_acquire<S: AsRef<str>>(&self, names: &[S]) -> Result<LockGuard> {
        self.try_acquire_with(names, &AcquireOptions::new())
    }

    /// [`try_acquire`](Self::try_acquire) with options; the timeout and the
    /// wait callback are not used, since nothing waits.
    pub fn try_acquire_with<S: AsRef<str>>(
        &self,
        names: &[S],
        options: &AcquireOptions,
    ) -> Result<LockGuard> {
        self.take(names, options, Mode::Try)
    }

    fn take<S: AsRef<str>>(
        &self,
        names: &[S],
        options: &AcquireOptions,
        mode: Mode,
    ) -> Result<LockGuard> {
        let mut planned = self.plan(names)?;
        let Some(inner) = &self.inner else {
            return Ok(LockGuard::disabled(planned.unknown));
        };
        // Unsorted: only looked up in (`held` sorts for its callers).
        let held_here: Vec<String> = registry()
            .values()
            .filter(|entry| entry.acquired && entry.dir_id == inner.dir.id())
            .map(|entry| entry.name.clone())
            .collect();
        if let Some(umbrella) = &self.umbrella {
            // An umbrella that an ancestor run or this process already holds
            // covers this acquisition too; only naming it is a double acquisition.
            let named = names.iter().any(|n| n.as_ref() == umbrella);
            if !named && (inner.parent_held.contains(umbrella) || held_here.contains(umbrella)) {
                planned.names.retain(|n| n != umbrella);
            }
        }
        // Refused before anything is taken: waiting for it would never end,
        // and even a try would only find it busy.
        for (held, by) in
            [(&inner.parent_held, HeldBy::ParentRun), (&held_here, HeldBy::ThisProcess)]
        {
            if let Some(name) = planned.names.iter().find(|n| held.contains(n)) {
                return Err(Error::AlreadyHeld { lock: name.clone(), by });
            }
        }
        if mode == Mode::Wait {
            self.check_order(inner, &planned.names)?;
        }
        let start = Instant::now();
        let owner = new_owner_token();
        let command = options.command.as_deref().unwrap_or_else(|| own_command());
        // On any error below, dropping the partial guard releases what it took, in reverse.
        let mut guard = LockGuard::new(Arc::clone(&inner.dir), planned.unknown);
        for name in &planned.names {
            guard.push(take_one(&inner.dir, name, &owner, command, start, options, mode)?);
        }
        Ok(guard)
    }

    /// Where `name` stands in this set's order: the umbrella first, then the
    /// canonical names by position, then any other name by name (as
    /// [`plan`](Self::plan) takes them).
    fn rank<'a>(&self, name: &'a str) -> (usize, &'a str) {
        if self.umbrella.as_deref() == Some(name) {
            return (0, "");
        }
        let order = self.order.names();
        match order.iter().position(|n| n == name) {
            Some(position) => (position + 1, ""),
            None => (order.len() + 1, name),
        }
    }

    /// The order rule: waiting is allowed only for names that all come after
    /// every lock this thread and its process's ancestor runs hold, all in
    /// this directory.
    fn check_order(&self, inner: &Inner, planned: &[String]) -> Result<()> {
        let Some(first) = planned.first() else { return Ok(()) };
        let first_rank = self.rank(first);
        let own_id = inner.dir.id();
        let own_text = dir_id_text(own_id);
        let me = std::thread::current().id();
        // (name, directory id, directory path) of every lock this thread took.
        let taken: Vec<(String, FileKey, PathBuf)> = registry()
            .values()
            .filter(|entry| entry.acquired && entry.thread == me)
            .map(|entry| (entry.name.clone(), entry.dir_id, entry.dir.clone()))
            .collect();
        let not_before =
            |dir_is_own: bool, name: &str| !dir_is_own || self.rank(name) >= first_rank;
        let violates = taken.iter().any(|(name, id, _)| not_before(*id == own_id, name))
            || inner
                .inherited
                .iter()
                .any(|(dir, names)| names.iter().any(|name| not_before(*dir == own_text, name)));
        if !violates {
            return Ok(());
        }
        // The parent's own directory has a path in MULTILOCK_HELD_DIR; an
        // older ancestor's is known by device and inode only.
        let parent_dir = std::env::var_os(HELD_DIR_ENV).map(PathBuf::from);
        let describe = |id: &str| match &parent_dir {
            Some(path) if dir_id_of(path).as_deref() == Some(id) => path.display().to_string(),
            _ => format!("the lock directory with device:inode {id}"),
        };
        let mut held: Vec<HeldName> = taken
            .into_iter()
            .map(|(name, id, dir)| HeldName {
                name,
                by: HeldBy::ThisThread,
                other_dir: (id != own_id).then(|| dir.display().to_string()),
            })
            .collect();
        for (dir, names) in &inner.inherited {
            let other_dir = (*dir != own_text).then(|| describe(dir));
            held.extend(names.iter().map(|name| HeldName {
                name: name.clone(),
                by: HeldBy::ParentRun,
                other_dir: other_dir.clone(),
            }));
        }
        // Named in the order they are taken, this directory's first.
        held.sort_by(|a, b| {
            let key = |h: &HeldName| (h.other_dir.clone(), self.rank(&h.name).0, h.name.clone());
            key(a).cmp(&key(b))
        });
        held.dedup_by(|a, b| a.name == b.name && a.other_dir == b.other_dir);
        let mut order: Vec<String> = self.umbrella.iter().cloned().collect();
        order.extend(self.order.names().iter().cloned());
        Err(Error::OrderViolation { lock: first.clone(), asked: planned.to_vec(), held, order })
    }

    /// Whether an ancestor `multilock run` holds `name` in this directory
    /// (recognised by device and inode through `MULTILOCK_HELD_SETS`, or
    /// `MULTILOCK_HELD` with `MULTILOCK_HELD_DIR`), so the caller works under
    /// that hold instead of asking for the lock again. Always `false` when
    /// disabled.
    pub fn held_by_parent(&self, name: &str) -> bool {
        self.inner.as_ref().is_some_and(|inner| inner.parent_held.iter().any(|n| n == name))
    }

    /// The environment for a child process of the thread that holds `guard`,
    /// so that a nested acquisition in it obeys the order rule and never asks
    /// again for a lock held here: `MULTILOCK_HELD` (the names held in this
    /// directory), `MULTILOCK_HELD_DIR` (that directory, for people and
    /// scripts) and `MULTILOCK_HELD_SETS` (every lock held, in every directory,
    /// one `DEV:INO<TAB>NAMES` line per directory, so no path bytes need
    /// escaping). "Held" is `guard`'s locks, every other lock the calling
    /// thread holds, and those of this process's ancestor runs: what the child
    /// waits under. Empty when disabled.
    pub fn child_env(&self, guard: &LockGuard) -> Vec<(&'static str, OsString)> {
        let Some(inner) = &self.inner else { return Vec::new() };
        let mut sets = inner.inherited.clone();
        let mut add = |id: String, name: &str| match sets.iter_mut().find(|(d, _)| *d == id) {
            Some((_, names)) if names.iter().any(|n| n == name) => {}
            Some((_, names)) => names.push(name.to_owned()),
            None => sets.push((id, vec![name.to_owned()])),
        };
        let me = std::thread::current().id();
        for entry in registry().values().filter(|entry| entry.acquired && entry.thread == me) {
            add(dir_id_text(entry.dir_id), &entry.name);
        }
        for (dir_id, name) in guard.held_in_dirs() {
            add(dir_id_text(dir_id), name);
        }
        let own = dir_id_text(inner.dir.id());
        let mut names: Vec<String> =
            sets.iter().find(|(d, _)| *d == own).map(|(_, n)| n.clone()).unwrap_or_default();
        names.sort_by(|a, b| self.rank(a).cmp(&self.rank(b)));
        let sets_text: Vec<String> =
            sets.iter().map(|(d, n)| format!("{d}\t{}", n.join(","))).collect();
        vec![
            (HELD_ENV, names.join(",").into()),
            (HELD_DIR_ENV, inner.dir.canonical().as_os_str().to_owned()),
            (HELD_SETS_ENV, sets_text.join("\n").into()),
        ]
    }
}

/// Whether an acquisition may wait for busy locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Wait,
    Try,
}

/// A directory's identity as it appears in `MULTILOCK_HELD_SETS`.
fn dir_id_text((dev, ino): FileKey) -> String {
    format!("{dev}:{ino}")
}

/// Every (directory id, names) an ancestor `multilock run` holds, from the environment.
fn inherited_sets() -> Vec<(String, Vec<String>)> {
    let var = std::env::var_os;
    parse_inherited(var(HELD_SETS_ENV), var(HELD_DIR_ENV), var(HELD_ENV))
}

/// [`inherited_sets`] from the values of `MULTILOCK_HELD_SETS`,
/// `MULTILOCK_HELD_DIR` and `MULTILOCK_HELD`.
fn parse_inherited(
    sets_text: Option<OsString>,
    held_dir: Option<OsString>,
    held: Option<OsString>,
) -> Vec<(String, Vec<String>)> {
    let split =
        |names: &str| names.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect();
    let sets_text = sets_text.unwrap_or_default();
    let mut sets: Vec<(String, Vec<String>)> = sets_text
        .to_string_lossy()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(dir, names)| (dir.to_owned(), split(names)))
        .collect();
    // A script (or an older multilock) that sets only MULTILOCK_HELD and _DIR.
    if let (Some(dir), Some(names)) = (held_dir, held)
        && let Some(id) = dir_id_of(Path::new(&dir))
        && !sets.iter().any(|(d, _)| *d == id)
    {
        sets.push((id, split(&names.to_string_lossy())));
    }
    sets
}

/// The `DEV:INO` of the directory at `path`, if it exists.
fn dir_id_of(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some(dir_id_text((meta.dev(), meta.ino())))
}

fn take_one(
    dir: &Arc<LockDir>,
    name: &str,
    owner: &str,
    command: &str,
    start: Instant,
    options: &AcquireOptions,
    mode: Mode,
) -> Result<HeldLock> {
    let (file, key) = dir.open_lock_file(name)?;
    // Claimed before we wait, so another thread of ours asking for the same
    // lock fails at once instead of queueing behind us.
    let claim = Claim::new(key, dir, name)?;
    match mode {
        Mode::Wait => wait_for_lock(dir, name, &file, key, start, options)?,
        Mode::Try => match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let (holder, processes) = busy_holder(dir, name, key);
                return Err(Error::Busy {
                    lock: name.to_owned(),
                    path: dir.lock_path(name),
                    holder: holder.map(Box::new),
                    processes,
                });
            }
            Err(TryLockError::Error(e)) => return Err(Error::io("lock", dir.lock_path(name), e)),
        },
    }
    claim.acquired();
    let holder = Holder::new(name, owner, command, options.ttl);
    // From here on `HeldLock`'s drop releases the flock and the registry entry.
    let lock = HeldLock { name: name.to_owned(), file, key, holder };
    dir.write_meta(name, &lock.holder.to_json())?;
    Ok(lock)
}

impl LockSet {
    /// The locks of this directory (umbrella and canonical order first, then any
    /// other lock file present), each free, held or unknown, with holder and
    /// lease. With `all == false` only the held ones and those with a
    /// [`problem`](LockStatus::problem). Whatever is wrong with one lock is
    /// reported for that lock; only a directory that cannot be listed is an error.
    pub fn status(&self, all: bool) -> Result<Vec<LockStatus>> {
        let Some(inner) = &self.inner else { return Ok(Vec::new()) };
        let mut names: Vec<String> = self.umbrella.iter().cloned().collect();
        names.extend(self.order.names().iter().cloned());
        let others: Vec<String> =
            inner.dir.lock_names()?.into_iter().filter(|n| !names.contains(n)).collect();
        names.extend(others);
        Ok(names
            .iter()
            .map(|name| status::probe(&inner.dir, name))
            .filter(|status| all || status.is_held() || status.problem.is_some())
            .collect())
    }

    /// The names of this directory's locks that this process holds, in the
    /// order they are taken.
    pub fn held(&self) -> Vec<String> {
        let Some(inner) = &self.inner else { return Vec::new() };
        let names: Vec<String> = registry()
            .values()
            .filter(|entry| entry.acquired && entry.dir_id == inner.dir.id())
            .map(|entry| entry.name.clone())
            .collect();
        // Not `plan`: that would add the umbrella whether it is held or not.
        let umbrella = self.umbrella.as_ref().filter(|u| names.contains(u)).cloned();
        let others: Vec<&String> = names.iter().filter(|n| Some(*n) != umbrella.as_ref()).collect();
        let mut held: Vec<String> = umbrella.into_iter().collect();
        held.extend(self.order.sort(&others).map_or_else(|_| names.clone(), |sorted| sorted.names));
        held
    }
}

/// Waits until `file` is locked, or the deadline passes.
///
/// Without a timeout we block in the kernel, which hands the lock over the
/// moment it is released; a helper thread only exists to tell the user who we
/// wait for. With a timeout we poll with exponential backoff (1 ms doubling to
/// 50 ms), since a blocking flock cannot be cancelled portably.
fn wait_for_lock(
    dir: &Arc<LockDir>,
    name: &str,
    file: &File,
    key: FileKey,
    start: Instant,
    options: &AcquireOptions,
) -> Result<()> {
    let lock_error = |e: std::io::Error| Error::io("lock", dir.lock_path(name), e);
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(lock_error(e)),
    }
    let waiting = |waited: Duration| {
        let (holder, processes) = busy_holder(dir, name, key);
        Waiting { lock: name.to_owned(), path: dir.lock_path(name), waited, holder, processes }
    };
    let Some(timeout) = options.timeout else {
        let notifier = options.on_wait.as_ref().map(|on_wait| {
            let (done, wait_done) = std::sync::mpsc::channel::<()>();
            let (dir, name, on_wait) = (Arc::clone(dir), name.to_owned(), Arc::clone(on_wait));
            let notice_after = options.notice_after.saturating_sub(start.elapsed());
            let thread = std::thread::spawn(move || {
                if wait_done.recv_timeout(notice_after)
                    == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                {
                    let (holder, processes) = busy_holder(&dir, &name, key);
                    on_wait(&Waiting {
                        path: dir.lock_path(&name),
                        waited: start.elapsed(),
                        holder,
                        processes,
                        lock: name,
                    });
                }
            });
            (done, thread)
        });
        let locked = loop {
            match file.lock() {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        if let Some((done, thread)) = notifier {
            drop(done);
            let _ = thread.join();
        }
        return locked.map_err(lock_error);
    };
    let mut backoff = Duration::from_millis(1);
    let mut noticed = false;
    loop {
        let waited = start.elapsed();
        if waited >= timeout {
            let (holder, processes) = busy_holder(dir, name, key);
            return Err(Error::Timeout {
                lock: name.to_owned(),
                path: dir.lock_path(name),
                waited,
                holder: holder.map(Box::new),
                processes,
            });
        }
        if !noticed && waited >= options.notice_after {
            noticed = true;
            if let Some(on_wait) = &options.on_wait {
                on_wait(&waiting(waited));
            }
        }
        std::thread::sleep(backoff.min(timeout - waited));
        backoff = (backoff * 2).min(Duration::from_millis(50));
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(lock_error(e)),
        }
    }
}

/// The holder of a busy lock for a message; unreadable metadata just means
/// "unknown". When the recorded holder holds the lock no longer (or none is
/// recorded), also the processes found holding it.
fn busy_holder(
    dir: &LockDir,
    name: &str,
    key: FileKey,
) -> (Option<Holder>, Option<Vec<LockProcess>>) {
    let holder = read_holder_quietly(dir, name);
    let processes = real_holders(holder.as_ref(), key);
    (holder, processes)
}

fn read_holder_quietly(dir: &LockDir, name: &str) -> Option<Holder> {
    let bytes = dir.read_meta(name).ok()??;
    Holder::parse(&bytes, &dir.meta_path(name)).ok()
}

/// A token unique to one acquisition: time, pid and a per-process counter.
fn new_owner_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{:x}-{:x}", nanos, std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn inherited_locks_come_from_the_sets_or_from_held_and_held_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let meta = std::fs::metadata(tmp.path()).unwrap();
        let id = format!("{}:{}", meta.dev(), meta.ino());
        let os = |s: &str| Some(OsString::from(s));
        // Every directory's line, names split, empty names dropped.
        let sets = parse_inherited(os(&format!("{id}\tqueue,docs\n9:9\t\n8:8\truns,")), None, None);
        assert_eq!(
            sets,
            [
                (id.clone(), vec!["queue".to_owned(), "docs".to_owned()]),
                ("9:9".to_owned(), vec![]),
                ("8:8".to_owned(), vec!["runs".to_owned()])
            ]
        );
        // Only MULTILOCK_HELD and _DIR, as a script may set them: found by the
        // directory's device and inode.
        let dir = Some(tmp.path().as_os_str().to_owned());
        assert_eq!(
            parse_inherited(None, dir.clone(), os("archive")),
            [(id.clone(), vec!["archive".to_owned()])]
        );
        // The sets win for a directory they name; a missing directory is no set.
        assert_eq!(parse_inherited(os(&format!("{id}\tdocs")), dir, os("archive")).len(), 1);
        assert!(parse_inherited(None, os("/no/such/dir"), os("docs")).is_empty());
        assert!(parse_inherited(os("no tab here"), None, None).is_empty());
    }
}
