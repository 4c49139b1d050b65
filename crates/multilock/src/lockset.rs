//! `LockSet`: a lock directory plus a canonical order, and the acquisition
//! algorithm (sort, take one by one, wait with backoff, undo on failure).

use std::collections::BTreeMap;
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
use crate::order::{CanonicalOrder, OrderedNames};
use crate::status::{self, LockStatus};

/// Environment variable a `multilock run` child sees: the names its parent holds.
pub const HELD_ENV: &str = "MULTILOCK_HELD";
/// Environment variable a `multilock run` child sees: the canonical lock directory
/// the names in [`HELD_ENV`] belong to.
pub const HELD_DIR_ENV: &str = "MULTILOCK_HELD_DIR";
/// Set to `1` to allow a lock directory on NFS, SMB, FUSE and the like.
pub const ALLOW_REMOTE_FS_ENV: &str = "MULTILOCK_ALLOW_REMOTE_FS";

/// A set of named locks in one directory, always taken in one canonical order.
///
/// Cloning is cheap and shares the open directory handle.
#[derive(Debug, Clone)]
pub struct LockSet {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    dir: Arc<LockDir>,
    order: CanonicalOrder,
    umbrella: Option<String>,
    /// Names a parent `multilock run` holds in this same directory.
    parent_held: Vec<String>,
}

/// Configures a [`LockSet`].
#[derive(Debug, Clone)]
pub struct LockSetBuilder {
    dir: PathBuf,
    order: CanonicalOrder,
    umbrella: Option<String>,
    create: bool,
    allow_remote_fs: bool,
    disabled: bool,
}

impl LockSetBuilder {
    /// Replaces the canonical order (default `queue, runs, archive, docs`).
    pub fn order(mut self, order: CanonicalOrder) -> Self {
        self.order = order;
        self
    }

    /// An outermost lock taken before every subsystem lock, for tools that only
    /// know the umbrella.
    pub fn umbrella(mut self, name: impl Into<String>) -> Self {
        self.umbrella = Some(name.into());
        self
    }

    /// Whether a missing directory is created (default: yes, mode 0755).
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

    /// Opens the directory and checks that it is safe to use.
    pub fn open(self) -> Result<LockSet> {
        if self.disabled {
            return Ok(LockSet { inner: None });
        }
        if let Some(umbrella) = &self.umbrella {
            validate_name(umbrella)?;
        }
        let dir = LockDir::open(&self.dir, self.create, self.allow_remote_fs)?;
        let parent_held = match (std::env::var(HELD_DIR_ENV), std::env::var(HELD_ENV)) {
            (Ok(held_dir), Ok(names)) if Path::new(&held_dir) == dir.canonical() => {
                names.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect()
            }
            _ => Vec::new(),
        };
        Ok(LockSet {
            inner: Some(Arc::new(Inner {
                dir: Arc::new(dir),
                order: self.order,
                umbrella: self.umbrella,
                parent_held,
            })),
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

/// Locks this process holds, keyed by lock-file identity, so a second
/// acquisition of the same lock (by any path to it) fails instead of deadlocking.
fn registry() -> MutexGuard<'static, BTreeMap<FileKey, (PathBuf, String)>> {
    static HELD: Mutex<BTreeMap<FileKey, (PathBuf, String)>> = Mutex::new(BTreeMap::new());
    // A panic while holding this mutex cannot leave the map inconsistent.
    HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(crate) fn unregister(key: FileKey) {
    registry().remove(&key);
}

impl LockSet {
    /// Opens `dir` with the default order, creating it when missing.
    pub fn open(dir: impl AsRef<Path>) -> Result<LockSet> {
        LockSet::builder(dir).open()
    }

    /// Starts configuring a set over `dir`.
    pub fn builder(dir: impl AsRef<Path>) -> LockSetBuilder {
        LockSetBuilder {
            dir: dir.as_ref().to_owned(),
            order: CanonicalOrder::default(),
            umbrella: None,
            create: true,
            allow_remote_fs: std::env::var(ALLOW_REMOTE_FS_ENV).is_ok_and(|v| v == "1"),
            disabled: false,
        }
    }

    /// A set in disabled mode: acquisitions hold nothing.
    pub fn disabled() -> LockSet {
        LockSet { inner: None }
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

    /// The configured canonical order.
    pub fn order(&self) -> &[String] {
        static EMPTY: Vec<String> = Vec::new();
        self.inner.as_ref().map_or(&EMPTY, |inner| inner.order.names())
    }

    /// The names `requested` would be taken in, in order, umbrella first, with
    /// the ones the order does not know listed apart.
    pub fn plan<S: AsRef<str>>(&self, requested: &[S]) -> Result<OrderedNames> {
        let Some(inner) = &self.inner else {
            return CanonicalOrder::default().sort(requested);
        };
        let mut planned = inner.order.sort(requested)?;
        if let Some(umbrella) = &inner.umbrella {
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
        let planned = self.plan(names)?;
        let Some(inner) = &self.inner else {
            return Ok(LockGuard::disabled(planned.unknown));
        };
        let start = Instant::now();
        let owner = new_owner_token();
        let command = options.command.as_deref().unwrap_or_else(|| own_command());
        // On any error below, dropping the partial guard releases what it took, in reverse.
        let mut guard = LockGuard::new(Arc::clone(&inner.dir), planned.unknown);
        for name in &planned.names {
            if inner.parent_held.iter().any(|n| n == name) {
                return Err(Error::AlreadyHeld { lock: name.clone(), by: HeldBy::ParentRun });
            }
            guard.push(take_one(&inner.dir, name, &owner, command, start, options)?);
        }
        Ok(guard)
    }
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
    {
        let mut registry = registry();
        if registry.contains_key(&key) {
            return Err(Error::AlreadyHeld { lock: name.to_owned(), by: HeldBy::ThisProcess });
        }
        // Claimed before we wait, so another thread of ours asking for the
        // same lock fails at once instead of queueing behind us.
        registry.insert(key, (dir.canonical().to_owned(), name.to_owned()));
    }
    let locked = wait_for_lock(dir, name, &file, start, options);
    if let Err(e) = locked {
        unregister(key);
        return Err(e);
    }
    let holder = Holder::new(name, owner, command, options.ttl);
    // From here on `HeldLock`'s drop releases the flock and the registry entry.
    let lock = HeldLock { name: name.to_owned(), file, key, holder };
    dir.write_meta(name, &lock.holder.to_json())?;
    Ok(lock)
}

impl LockSet {
    /// The locks of this directory (canonical order first, then any other lock
    /// file present), each free or held, with holder and lease.
    /// With `all == false` only the held ones.
    pub fn status(&self, all: bool) -> Result<Vec<LockStatus>> {
        let Some(inner) = &self.inner else { return Ok(Vec::new()) };
        let mut names: Vec<String> = inner.order.names().to_vec();
        if let Some(umbrella) = &inner.umbrella {
            names.insert(0, umbrella.clone());
        }
        let mut others: Vec<String> =
            inner.dir.lock_names()?.into_iter().filter(|n| !names.contains(n)).collect();
        others.sort();
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

    /// The names of this directory's locks that this process holds, in canonical order.
    pub fn held(&self) -> Vec<String> {
        let Some(inner) = &self.inner else { return Vec::new() };
        let names: Vec<String> = registry()
            .values()
            .filter(|(dir, _)| dir == inner.dir.canonical())
            .map(|(_, name)| name.clone())
            .collect();
        self.plan(&names).map(|planned| planned.names).unwrap_or(names)
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
