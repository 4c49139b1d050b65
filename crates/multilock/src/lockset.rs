//! `LockSet`: a lock directory plus a canonical order, and the acquisition
//! algorithm (sort, take one by one, wait with backoff, undo on failure).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::dir::{FileKey, LockDir};
use crate::error::{Error, HeldBy, Result};
use crate::guard::{HeldLock, LockGuard};
use crate::holder::{Holder, own_command};
use crate::name::validate_name;
use crate::order::{CanonicalOrder, OrderRecord, OrderedNames};
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
    /// Names ancestor `multilock run`s hold in this same directory.
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
        let parent_held = inherited_held(&dir);
        Ok(LockSet {
            order: record.order,
            umbrella: record.umbrella,
            inner: Some(Arc::new(Inner { dir: Arc::new(dir), parent_held })),
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
}

/// A lock this process holds or is waiting for.
#[derive(Debug)]
struct Registered {
    dir: PathBuf,
    name: String,
    acquired: bool,
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
        let entry =
            Registered { dir: dir.canonical().to_owned(), name: name.to_owned(), acquired: false };
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
    pub fn acquire_with<S: AsRef<str>>(
        &self,
        names: &[S],
        options: &AcquireOptions,
    ) -> Result<LockGuard> {
        let mut planned = self.plan(names)?;
        let Some(inner) = &self.inner else {
            return Ok(LockGuard::disabled(planned.unknown));
        };
        if let Some(umbrella) = &self.umbrella {
            // An umbrella that an ancestor run or this process already holds
            // covers this acquisition too; only naming it is a double acquisition.
            let named = names.iter().any(|n| n.as_ref() == umbrella);
            if !named && (inner.parent_held.contains(umbrella) || self.held().contains(umbrella)) {
                planned.names.retain(|n| n != umbrella);
            }
        }
        // Refused before anything is taken: waiting for it would never end.
        if let Some(name) = planned.names.iter().find(|n| inner.parent_held.contains(n)) {
            return Err(Error::AlreadyHeld { lock: name.clone(), by: HeldBy::ParentRun });
        }
        let start = Instant::now();
        let owner = new_owner_token();
        let command = options.command.as_deref().unwrap_or_else(|| own_command());
        // On any error below, dropping the partial guard releases what it took, in reverse.
        let mut guard = LockGuard::new(Arc::clone(&inner.dir), planned.unknown);
        for name in &planned.names {
            guard.push(take_one(&inner.dir, name, &owner, command, start, options)?);
        }
        Ok(guard)
    }

    /// The environment a child process of `guard`'s holder should get, so that
    /// a nested acquisition of any lock it (or an ancestor) holds is refused
    /// at once instead of deadlocking: `MULTILOCK_HELD` (names),
    /// `MULTILOCK_HELD_DIR` (their directory, for people and scripts) and
    /// `MULTILOCK_HELD_SETS` (every ancestor's locks, one `DEV:INO<TAB>NAMES`
    /// line per directory, so no path bytes need escaping).
    pub fn child_env(&self, guard: &LockGuard) -> Vec<(&'static str, OsString)> {
        let Some(inner) = &self.inner else { return Vec::new() };
        let id = dir_id_text(inner.dir.id());
        let mut names: Vec<String> = inner.parent_held.clone();
        names.extend(guard.held().iter().map(|s| (*s).to_owned()));
        let mut sets = inherited_sets();
        sets.retain(|(d, _)| *d != id);
        sets.push((id, names.clone()));
        let sets_text: Vec<String> =
            sets.iter().map(|(d, n)| format!("{d}\t{}", n.join(","))).collect();
        vec![
            (HELD_ENV, names.join(",").into()),
            (HELD_DIR_ENV, inner.dir.canonical().as_os_str().to_owned()),
            (HELD_SETS_ENV, sets_text.join("\n").into()),
        ]
    }
}

/// A directory's identity as it appears in `MULTILOCK_HELD_SETS`.
fn dir_id_text((dev, ino): FileKey) -> String {
    format!("{dev}:{ino}")
}

/// Every (directory id, names) an ancestor `multilock run` holds, from the environment.
fn inherited_sets() -> Vec<(String, Vec<String>)> {
    let split =
        |names: &str| names.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect();
    let sets_text = std::env::var_os(HELD_SETS_ENV).unwrap_or_default();
    let mut sets: Vec<(String, Vec<String>)> = sets_text
        .to_string_lossy()
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(dir, names)| (dir.to_owned(), split(names)))
        .collect();
    // A script (or an older multilock) that sets only MULTILOCK_HELD and _DIR.
    if let (Some(dir), Some(names)) = (std::env::var_os(HELD_DIR_ENV), std::env::var_os(HELD_ENV))
        && let Ok(meta) = std::fs::metadata(&dir)
    {
        use std::os::unix::fs::MetadataExt;
        let id = dir_id_text((meta.dev(), meta.ino()));
        if !sets.iter().any(|(d, _)| *d == id) {
            sets.push((id, split(&names.to_string_lossy())));
        }
    }
    sets
}

fn inherited_held(dir: &LockDir) -> Vec<String> {
    let id = dir_id_text(dir.id());
    inherited_sets().into_iter().filter(|(d, _)| *d == id).flat_map(|(_, names)| names).collect()
}

fn take_one(
    dir: &Arc<LockDir>,
    name: &str,
    owner: &str,
    command: &str,
    start: Instant,
    options: &AcquireOptions,
) -> Result<HeldLock> {
    let (file, key) = dir.open_lock_file(name)?;
    // Claimed before we wait, so another thread of ours asking for the same
    // lock fails at once instead of queueing behind us.
    let claim = Claim::new(key, dir, name)?;
    wait_for_lock(dir, name, &file, start, options)?;
    claim.acquired();
    let holder = Holder::new(name, owner, command, options.ttl);
    // From here on `HeldLock`'s drop releases the flock and the registry entry.
    let lock = HeldLock { name: name.to_owned(), file, key, holder };
    dir.write_meta(name, &lock.holder.to_json())?;
    Ok(lock)
}

impl LockSet {
    /// The locks of this directory (umbrella and canonical order first, then any
    /// other lock file present), each free or held, with holder and lease.
    /// With `all == false` only the held ones.
    pub fn status(&self, all: bool) -> Result<Vec<LockStatus>> {
        let Some(inner) = &self.inner else { return Ok(Vec::new()) };
        let mut names: Vec<String> = self.umbrella.iter().cloned().collect();
        names.extend(self.order.names().iter().cloned());
        let others: Vec<String> =
            inner.dir.lock_names()?.into_iter().filter(|n| !names.contains(n)).collect();
        names.extend(others);
        let mut statuses = Vec::with_capacity(names.len());
        for name in names {
            let status = status::probe(&inner.dir, &name)?;
            if all || status.is_held() {
                statuses.push(status);
            }
        }
        Ok(statuses)
    }

    /// The names of this directory's locks that this process holds, in the
    /// order they are taken.
    pub fn held(&self) -> Vec<String> {
        let Some(inner) = &self.inner else { return Vec::new() };
        let names: Vec<String> = registry()
            .values()
            .filter(|entry| entry.acquired && entry.dir == inner.dir.canonical())
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
    start: Instant,
    options: &AcquireOptions,
) -> Result<()> {
    let lock_error = |e: std::io::Error| Error::io("lock", dir.lock_path(name), e);
    match file.try_lock() {
        Ok(()) => return Ok(()),
        Err(TryLockError::WouldBlock) => {}
        Err(TryLockError::Error(e)) => return Err(lock_error(e)),
    }
    let waiting = |waited: Duration| Waiting {
        lock: name.to_owned(),
        path: dir.lock_path(name),
        waited,
        holder: read_holder_quietly(dir, name),
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
                    on_wait(&Waiting {
                        path: dir.lock_path(&name),
                        waited: start.elapsed(),
                        holder: read_holder_quietly(&dir, &name),
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
            let holder = read_holder_quietly(dir, name).map(Box::new);
            return Err(Error::Timeout {
                lock: name.to_owned(),
                path: dir.lock_path(name),
                waited,
                holder,
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

/// The holder of a busy lock for a message; unreadable metadata just means "unknown".
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
