//! The `multilock run` supervisor: runs a command under held locks and keeps
//! them held, exactly as long as the command runs.
//!
//! What it does, and why:
//! - The command gets [`LockSet::child_env`], so a nested acquisition in it
//!   obeys the order rule and never asks again for a lock held here.
//! - The command inherits the lock files (close-on-exec is cleared in the
//!   child only, so no process another thread starts meanwhile gets them) and
//!   gets `PR_SET_PDEATHSIG` = SIGKILL: if the supervisor is
//!   killed, the command dies with it rather than run on unsupervised, and
//!   anything the command started keeps the locks until it exits (as with
//!   `flock(1)`), so no part of the work outlives its locks.
//! - SIGTERM, and a SIGHUP sent by a process, are passed on to the command;
//!   SIGINT, SIGQUIT and a terminal's SIGHUP only stop being fatal to the
//!   supervisor, since they reach the command through the process group already.
//! - The lease is renewed every third of its TTL while the command runs.
//!
//! Behind the `cli` feature, since signal forwarding needs `signal-hook`.

use std::os::fd::RawFd;
use std::process::{Command, ExitStatus};
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::process::{Pid, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithOrigin;
use signal_hook::low_level::siginfo::Cause;

use crate::error::{Error, Result};
use crate::guard::LockGuard;
use crate::holder::command_line;
use crate::lockset::LockSet;

/// How a supervised command ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct Finished {
    /// The command's exit status.
    pub status: ExitStatus,
    /// What went wrong around it without stopping it: the holder metadata not
    /// updated, lease renewal stopped, signals not forwarded, release failed.
    pub warnings: Vec<String>,
}

impl Finished {
    /// The command's exit code, or 128 + N when signal N killed it, as shells
    /// report it.
    pub fn exit_code(&self) -> u8 {
        exit_code_of(self.status)
    }
}

/// Runs `command` (program and arguments) under the locks `guard` holds (taken
/// from `set`), renewing their lease every third of `ttl`, and releases them
/// once it has exited.
///
/// The locks are released before an error is returned too. Call this from the
/// thread that is to wait: the command's parent-death signal is tied to the
/// thread that started it.
pub fn supervise<S: AsRef<str>>(
    set: &LockSet,
    guard: LockGuard,
    command: &[S],
    ttl: Duration,
) -> Result<Finished> {
    let Some((program, args)) = command.split_first() else {
        return Err(Error::Command {
            action: "run",
            program: String::new(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
        });
    };
    let program = program.as_ref();
    let mut child = Command::new(program);
    child.args(args.iter().map(AsRef::as_ref));
    child.envs(set.child_env(&guard));
    if !guard.is_disabled() {
        inherit_and_die_with_parent(&mut child, guard.lock_fds());
    }
    let mut warnings = Vec::new();
    // Registered before the spawn, so a signal that arrives between the spawn
    // and the forwarding thread's start waits in the queue instead of killing us.
    let signals = match SignalsInfo::<WithOrigin>::new([SIGHUP, SIGINT, SIGQUIT, SIGTERM]) {
        Ok(signals) => Some(signals),
        Err(e) => {
            warnings.push(format!("cannot forward signals to the command: {e}"));
            None
        }
    };
    let mut child = child.spawn().map_err(|source| Error::Command {
        action: "run",
        program: program.to_owned(),
        source,
    })?;

    let guard = Arc::new(Mutex::new(guard));
    if let Err(e) = lock(&guard).set_child(child.id(), &command_line(command)) {
        warnings.push(format!("cannot record the child in the holder metadata: {e}"));
    }
    let renewer = Renewer::start(Arc::clone(&guard), renewal_period(ttl), None);
    let forwarding = signals.map(|mut signals| {
        let handle = signals.handle();
        let child = child_pid(child.id());
        std::thread::spawn(move || {
            let origins = signals.forever().map(|o| (o.signal, matches!(o.cause, Cause::Kernel)));
            forward(origins, child);
        });
        handle
    });
    let status = child.wait();
    if let Some(handle) = forwarding {
        handle.close();
    }
    if let Some(e) = renewer.stop() {
        warnings.push(format!("lease renewal stopped: {e}"));
    }
    let guard = Arc::into_inner(guard)
        .expect("the renewer, the only other owner, has exited")
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Err(e) = guard.release() {
        warnings.push(format!("release: {e}"));
    }
    let status = status.map_err(|source| Error::Command {
        action: "wait for",
        program: program.to_owned(),
        source,
    })?;
    Ok(Finished { status, warnings })
}

fn lock(guard: &Mutex<LockGuard>) -> MutexGuard<'_, LockGuard> {
    // A panic elsewhere cannot leave a guard half-updated: renew and set_child
    // only replace whole metadata files.
    guard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A third of the lease, so that two renewals can fail before it expires, but
/// not more often than ten times a second.
fn renewal_period(ttl: Duration) -> Duration {
    (ttl / 3).max(Duration::from_millis(100))
}

/// Renews the lease of a shared guard every `period` until stopped.
struct Renewer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Option<Error>>,
}

impl Renewer {
    /// Starts renewing; each successful renewal is also reported on `renewed`
    /// (tests wait on it instead of sleeping). The first renewal error ends
    /// the renewing: the lease then shows as expired, which is the truth.
    fn start(
        guard: Arc<Mutex<LockGuard>>,
        period: Duration,
        renewed: Option<mpsc::Sender<()>>,
    ) -> Renewer {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            while stopped.recv_timeout(period) == Err(mpsc::RecvTimeoutError::Timeout) {
                if let Err(e) = lock(&guard).renew() {
                    return Some(e);
                }
                if let Some(renewed) = &renewed {
                    let _ = renewed.send(());
                }
            }
            None
        });
        Renewer { stop, thread }
    }

    /// Stops renewing and returns the error that stopped it earlier, if any.
    fn stop(self) -> Option<Error> {
        drop(self.stop);
        self.thread.join().unwrap_or(None)
    }
}

fn child_pid(id: u32) -> Option<Pid> {
    i32::try_from(id).ok().and_then(Pid::from_raw)
}

/// The signal to pass on to the command for `signal` received, if any.
/// SIGTERM always; SIGHUP only when a process sent it (a terminal's hangup,
/// from the kernel, reaches the command through the process group already, as
/// do SIGINT and SIGQUIT: passing those on would deliver them twice, and many
/// programs take a second SIGINT as "quit now").
fn forwarded(signal: i32, from_kernel: bool) -> Option<Signal> {
    match signal {
        SIGTERM => Some(Signal::TERM),
        SIGHUP if !from_kernel => Some(Signal::HUP),
        _ => None,
    }
}

/// Passes each received `(signal, from_kernel)` on to `child` as [`forwarded`] says.
fn forward(received: impl Iterator<Item = (i32, bool)>, child: Option<Pid>) {
    for (signal, from_kernel) in received {
        if let (Some(signal), Some(child)) = (forwarded(signal, from_kernel), child) {
            // The command may have exited already; nothing to do then.
            let _ = rustix::process::kill_process(child, signal);
        }
    }
}

/// Lets the command inherit the lock files `fds`, and makes the kernel send
/// it SIGKILL when this process dies.
fn inherit_and_die_with_parent(command: &mut Command, fds: Vec<RawFd>) {
    use std::os::unix::process::CommandExt;
    let parent = rustix::process::getpid();
    #[allow(
        unsafe_code,
        reason = "pre_exec is the only way to set up a child between fork and exec"
    )]
    // SAFETY: the closure runs in the child between fork and exec. It makes
    // only system calls (fcntl, prctl, getppid), allocates nothing and takes no
    // locks. The descriptors are the guard's open lock files, which stay open
    // in the parent until the child has exited, so they are valid in the child.
    unsafe {
        command.pre_exec(move || {
            for fd in &fds {
                let fd = std::os::fd::BorrowedFd::borrow_raw(*fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
            }
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // We may have died before the prctl took effect.
            if rustix::process::getppid() != Some(parent) {
                // No allocation here: std passes only the errno back to the parent.
                return Err(std::io::Error::from_raw_os_error(
                    rustix::io::Errno::SRCH.raw_os_error(),
                ));
            }
            Ok(())
        });
    }
}

/// The command's exit code, or 128 + signal as shells report a killed command.
fn exit_code_of(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(signal)) => u8::try_from(128 + signal).unwrap_or(1),
        (None, None) => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AcquireOptions;
    use crate::holder::Holder;

    fn meta(dir: &std::path::Path, name: &str) -> Holder {
        let path = dir.join(format!("{name}.lock.json"));
        Holder::parse(&std::fs::read(&path).unwrap(), &path).unwrap()
    }

    #[test]
    fn the_lease_is_renewed_until_stopped() {
        let tmp = tempfile::tempdir().unwrap();
        let set = LockSet::open(tmp.path()).unwrap();
        let options = AcquireOptions::new().ttl(Some(Duration::from_secs(1)));
        let guard = Arc::new(Mutex::new(set.acquire_with(&["docs", "queue"], &options).unwrap()));
        let acquired = ["queue", "docs"].map(|name| meta(tmp.path(), name));
        let (renewed, renewals) = mpsc::channel();
        let renewer = Renewer::start(Arc::clone(&guard), Duration::from_millis(5), Some(renewed));
        renewals.recv().unwrap();
        renewals.recv().unwrap();
        assert!(renewer.stop().is_none());
        for acquired in acquired {
            let now = meta(tmp.path(), &acquired.lock);
            // At least 10 ms after the acquisition, at millisecond resolution.
            assert!(now.renewed_at > acquired.renewed_at, "{now:?}");
            assert_eq!((now.acquired_at, &now.owner), (acquired.acquired_at, &acquired.owner));
        }
        // Stopped: nothing renews it any more, and the guard is ours alone again.
        assert!(renewals.try_recv().is_err());
        assert_eq!(Arc::strong_count(&guard), 1);
    }

    #[test]
    fn renewal_stops_at_the_first_error_and_reports_it() {
        let tmp = tempfile::tempdir().unwrap();
        let set = LockSet::open(tmp.path()).unwrap();
        let guard = Arc::new(Mutex::new(set.acquire(&["runs"]).unwrap()));
        // Somebody else's metadata now: renewing must not overwrite it.
        let path = tmp.path().join("runs.lock.json");
        let theirs = std::fs::read_to_string(&path)
            .unwrap()
            .replace(&meta(tmp.path(), "runs").owner, "intruder");
        std::fs::write(&path, &theirs).unwrap();
        let renewer = Renewer::start(Arc::clone(&guard), Duration::from_millis(1), None);
        let err = renewer.stop_after_it_ends();
        assert!(matches!(&err, Error::OwnerMismatch { found, .. } if found == "intruder"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), theirs);
    }

    impl Renewer {
        /// Waits for the renewer to end by itself (it does at its first error).
        fn stop_after_it_ends(self) -> Error {
            let Renewer { stop, thread } = self;
            let outcome = thread.join().unwrap();
            drop(stop);
            outcome.expect("the renewer ended without an error")
        }
    }

    #[test]
    fn only_sigterm_and_a_process_sent_sighup_are_forwarded() {
        assert_eq!(forwarded(SIGTERM, false), Some(Signal::TERM));
        assert_eq!(forwarded(SIGTERM, true), Some(Signal::TERM));
        assert_eq!(forwarded(SIGHUP, false), Some(Signal::HUP));
        assert_eq!(forwarded(SIGHUP, true), None);
        assert_eq!(forwarded(SIGINT, true), None);
        assert_eq!(forwarded(SIGINT, false), None);
        assert_eq!(forwarded(SIGQUIT, true), None);
    }

    /// Feeds `received` to [`forward`] for a fresh `sleep`, whose default
    /// action for each of these signals is to die of it, and returns the signal
    /// that killed it: the first one forwarded.
    fn first_forwarded(received: &[(i32, bool)]) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        let mut child = Command::new("sleep").arg("100").spawn().unwrap();
        forward(received.iter().copied(), child_pid(child.id()));
        child.wait().unwrap().signal()
    }

    #[test]
    fn forwarding_delivers_exactly_the_forwarded_signals_to_the_command() {
        // Each list ends in a SIGTERM from a process, which is always forwarded,
        // so a child is never left running; what killed it is the first signal
        // forwarded.
        let term = (SIGTERM, false);
        assert_eq!(first_forwarded(&[term]), Some(SIGTERM));
        assert_eq!(first_forwarded(&[(SIGHUP, false), term]), Some(SIGHUP));
        let kept = [(SIGINT, true), (SIGINT, false), (SIGQUIT, true), (SIGHUP, true), term];
        assert_eq!(first_forwarded(&kept), Some(SIGTERM));
    }

    #[test]
    fn killed_commands_report_128_plus_the_signal() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code_of(ExitStatus::from_raw(9)), 137);
        assert_eq!(exit_code_of(ExitStatus::from_raw(3 << 8)), 3);
    }

    #[test]
    fn supervise_runs_the_command_under_the_locks_and_releases_them() {
        let tmp = tempfile::tempdir().unwrap();
        let set = LockSet::open(tmp.path()).unwrap();
        let guard = set.acquire(&["docs", "queue"]).unwrap();
        // The command's code is passed through, and it is told what it runs under.
        let script = "test \"$MULTILOCK_HELD\" = queue,docs && exit 7";
        let finished =
            supervise(&set, guard, &["sh", "-c", script], Duration::from_secs(60)).unwrap();
        assert_eq!((finished.exit_code(), finished.warnings.len()), (7, 0), "{finished:?}");
        assert!(set.held().is_empty());
        assert!(!tmp.path().join("docs.lock.json").exists());

        let guard = set.acquire(&["docs"]).unwrap();
        let err =
            supervise(&set, guard, &["/no/such/program"], Duration::from_secs(60)).unwrap_err();
        assert!(
            matches!(&err, Error::Command { action: "run", source, .. } if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        assert!(set.held().is_empty(), "released after a failed spawn");
    }
}
