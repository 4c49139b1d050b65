//! Shared helpers: a fresh directory per test and a command pointed at the binary.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A temporary working directory; the lock directory is `.multilock` inside it.
pub(crate) struct Sandbox {
    pub(crate) tmp: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Sandbox {
        Sandbox { tmp: tempfile::tempdir().expect("create temp dir") }
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub(crate) fn lock_dir(&self) -> PathBuf {
        self.tmp.path().join(".multilock")
    }

    /// `multilock` run in the sandbox, with no lock-related environment leaking in.
    pub(crate) fn multilock(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_multilock"))
    }

    /// `program` run in the sandbox, with no lock-related environment leaking in
    /// (the tests may themselves run under a `multilock run`).
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command.current_dir(self.path());
        for var in [
            "MULTILOCK_DIR",
            "MULTILOCK_HELD",
            "MULTILOCK_HELD_DIR",
            "MULTILOCK_HELD_SETS",
            "MULTILOCK_ALLOW_REMOTE_FS",
        ] {
            command.env_remove(var);
        }
        command
    }

    /// Makes a FIFO named `name` in the lock directory (created if missing), as
    /// someone might plant where multilock's files belong, and returns its path.
    pub(crate) fn fifo_in_lock_dir(&self, name: &str) -> PathBuf {
        std::fs::create_dir_all(self.lock_dir()).expect("create lock dir");
        let fifo = self.lock_dir().join(name);
        let made = Command::new("mkfifo").arg(&fifo).status().expect("run mkfifo");
        assert!(made.success(), "mkfifo {}", fifo.display());
        fifo
    }

    /// Starts `multilock run --lock NAME... -- sh hold.sh` (which ends in `exec cat`) and
    /// returns once the locks are held (the child has printed `ready`). The
    /// holder releases when its stdin is closed.
    pub(crate) fn hold(&self, locks: &[&str]) -> Holding {
        let mut command = self.multilock();
        command.arg("run");
        for lock in locks {
            command.args(["--lock", lock]);
        }
        // `ready` only once the holder metadata names the child, so what tests
        // read next is complete. The metadata has no change notification to
        // wait on, hence the short poll.
        let meta = format!(".multilock/{}.lock.json", locks[0]);
        let script = format!(
            "i=0\nuntil grep -q child_pid {meta} 2>/dev/null || [ $i -ge 500 ]; do sleep 0.01; i=$((i + 1)); done\necho ready\nexec cat\n"
        );
        std::fs::write(self.path().join("hold.sh"), script).expect("write hold.sh");
        command.args(["--", "sh", "hold.sh"]);
        let mut child =
            command.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("spawn holder");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("read ready line");
        assert_eq!(line, "ready\n", "holder did not start");
        Holding { child }
    }
}

/// A `multilock run` holding locks until dropped or killed.
pub(crate) struct Holding {
    pub(crate) child: Child,
}

impl Holding {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes the child's stdin so `cat` ends, and waits for the release.
    pub(crate) fn finish(mut self) {
        drop(self.child.stdin.take());
        let status = self.child.wait().expect("wait holder");
        assert!(status.success(), "holder exited with {status}");
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether `path` is (still) a FIFO, not replaced by anything.
pub(crate) fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_fifo())
}

/// Redactions for snapshots: pids, host, times, durations and temp paths vary.
pub(crate) fn redactions(sandbox: &Sandbox) -> Vec<(String, String)> {
    let host = rustix::system::uname().nodename().to_string_lossy().into_owned();
    vec![
        (regex::escape(&sandbox.path().display().to_string()), "[SANDBOX]".into()),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".into(), "[TIME]".into()),
        (r"pid \d+".into(), "pid [PID]".into()),
        (r#""(child_)?pid": \d+"#.into(), r#""${1}pid": "[PID]""#.into()),
        (format!(r"\b{}\b", regex::escape(&host)), "[HOST]".into()),
        (r"after \d+(\.\d+)?m?s".into(), "after [WAITED]".into()),
    ]
}
