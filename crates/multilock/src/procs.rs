//! Who really holds a lock: the processes whose open files carry its `flock`,
//! found through `/proc`.
//!
//! Why this exists: the holder metadata names the process that took the lock,
//! but a lock belongs to an open file description, and every process that
//! inherited that description (a `multilock run` command's background jobs)
//! holds it too. When the recorded holder is gone, they are the ones to name.
//!
//! How: `/proc/PID/fd/N` is stat'ed (which follows the magic link without
//! opening anything, so no FIFO or device can make it hang) and compared with
//! the lock file's device and inode; for a match, `/proc/PID/fdinfo/N` lists the
//! locks held through that very open file (`lock: 1: FLOCK ...`, Linux 4.1 and
//! later). A process that merely has the file open, such as a waiter or a status
//! probe, has no such line. Other users' processes cannot be read unless we are
//! root; they are then simply not found.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::Serialize;

use crate::dir::FileKey;
use crate::holder::{Holder, command_line, host};

/// A process found holding a lock, with its command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockProcess {
    /// Its pid.
    pub pid: u32,
    /// Its command line (`/proc/PID/cmdline`, else its name in brackets).
    pub command: String,
}

impl std::fmt::Display for LockProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} running `{}`", self.pid, self.command)
    }
}

/// Whether process `pid` holds the flock of the file `key` through one of its
/// open files: `Some(true)` or `Some(false)` when that could be seen, `None`
/// when the process exists but its files cannot be read (another user's).
pub(crate) fn holds(pid: u32, key: FileKey) -> Option<bool> {
    let fd_dir = format!("/proc/{pid}/fd");
    match fs::read_dir(&fd_dir) {
        Ok(entries) => Some(entries.flatten().any(|entry| {
            fd_is_lock_holder(pid, &entry.path(), &entry.file_name().to_string_lossy(), key)
        })),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            if process_exists(pid) {
                None
            } else {
                Some(false)
            }
        }
        // Gone (or never there): it holds nothing.
        Err(_) => Some(false),
    }
}

/// Every process this user can see that holds the flock of the file `key`, by pid.
pub(crate) fn holders(key: FileKey) -> Vec<LockProcess> {
    let Ok(proc_dir) = fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = proc_dir
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .filter(|pid| holds(*pid, key) == Some(true))
        .collect();
    pids.sort_unstable();
    pids.into_iter().map(|pid| LockProcess { pid, command: process_command(pid) }).collect()
}

/// Whether the holder recorded in the metadata is known to hold the lock no
/// longer, so the real holders are worth looking for. A holder on another host,
/// or whose files we cannot read, is given the benefit of the doubt.
pub(crate) fn recorded_holder_is_gone(holder: &Holder, key: FileKey) -> bool {
    if holder.host != host() {
        return false;
    }
    let pids = std::iter::once(holder.pid).chain(holder.child_pid);
    pids.map(|pid| holds(pid, key)).all(|held| held == Some(false))
}

/// The real holders of a held lock when its recorded holder is gone or not
/// recorded; `None` when the recorded holder still holds it.
pub(crate) fn real_holders(holder: Option<&Holder>, key: FileKey) -> Option<Vec<LockProcess>> {
    match holder {
        Some(holder) if !recorded_holder_is_gone(holder, key) => None,
        _ => Some(holders(key)),
    }
}

fn fd_is_lock_holder(pid: u32, fd_path: &Path, fd: &str, key: FileKey) -> bool {
    let Ok(meta) = fs::metadata(fd_path) else { return false };
    if (meta.dev(), meta.ino()) != key {
        return false;
    }
    let Ok(info) = fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else { return false };
    info.lines().any(|line| line.starts_with("lock:") && line.contains("FLOCK"))
}

fn process_exists(pid: u32) -> bool {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
        return false;
    };
    // EPERM means it exists but is not ours to signal.
    !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
}

/// A process's command line, quoted like a shell would need, or its name.
fn process_command(pid: u32) -> String {
    let args: Vec<String> = fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|arg| !arg.is_empty())
        .map(|arg| String::from_utf8_lossy(arg).into_owned())
        .collect();
    if args.is_empty() {
        // A zombie or a kernel thread has no command line.
        let name = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        return format!("[{}]", name.trim_end());
    }
    command_line(args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dir::file_key;

    #[test]
    fn finds_this_process_only_while_it_holds_the_flock() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.lock");
        let file = fs::File::create(&path).unwrap();
        let key = file_key(&file).unwrap();
        // Open but unlocked, as a waiter or a status probe has it: not a holder.
        assert_eq!(holds(std::process::id(), key), Some(false));
        assert!(holders(key).is_empty());
        file.lock().unwrap();
        assert_eq!(holds(std::process::id(), key), Some(true));
        let found = holders(key);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, std::process::id());
        assert!(!found[0].command.is_empty());
    }

    #[test]
    fn a_pid_that_does_not_exist_holds_nothing() {
        // Above the kernel's pid_max limit (2^22), so never a real process.
        assert_eq!(holds(5_000_000, (1, 1)), Some(false));
        assert!(!process_exists(5_000_000));
        assert!(process_exists(std::process::id()));
    }
}
