//! The `multilock` binary under hostile surroundings (issue 8): a reader that
//! goes away (`| head -1`), a FIFO where multilock's own files belong, and a
//! restrictive umask.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};
use std::time::Duration;

use predicates::prelude::*;

use crate::util::{Sandbox, is_fifo};

/// `multilock ARGS` in the sandbox, given up on after 10 s so that a hang
/// fails the test instead of the suite.
fn multilock_with_timeout(sandbox: &Sandbox, args: &[&str]) -> assert_cmd::assert::Assert {
    let mut command = assert_cmd::Command::from_std(sandbox.multilock());
    command.args(args).timeout(Duration::from_secs(10)).assert()
}

/// What a reader that went away leaves on stderr when output is not pipe-safe.
fn assert_ended_quietly(what: &str, output: &Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{what}: {}\n{stderr}", output.status);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{what}: {stderr}");
}

#[test]
fn status_all_piped_to_head_ends_quietly() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["queue", "docs"]);
    // Well over a pipe's 64 KiB buffer, so the status is still writing when the
    // reader goes away, as `multilock status --all | head -1` does.
    for n in 0..2000 {
        let name = format!("{:a<60}{n:04}.lock", "");
        std::fs::write(sandbox.lock_dir().join(name), "").unwrap();
    }
    for format in ["text", "json"] {
        let mut status = sandbox
            .multilock()
            .args(["status", "--all", "--format", format])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(status.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.starts_with("LOCK") || first == "{\n", "{format}: {first:?}");
        // The reader was dropped with the BufReader: what is left to write meets a closed pipe.
        let output = status.wait_with_output().unwrap();
        assert_ended_quietly(&format!("status --all --format {format}"), &output);
    }
    holding.finish();
}

#[test]
fn status_and_order_end_quietly_when_the_reader_is_gone_before_they_print() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["runs"]);
    let cases: &[&[&str]] = &[
        &["status"],
        &["status", "--all"],
        &["status", "--all", "--format", "json"],
        &["order"],
        &["--dir", "missing", "--order", "a,b,c", "order"],
    ];
    for args in cases {
        // The read end is closed before the process starts: its first write
        // meets a closed pipe, whatever the size of the pipe buffer.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = sandbox.multilock().args(*args).stdout(writer).output().unwrap();
        assert_ended_quietly(&args.join(" "), &output);
    }
    holding.finish();
}

#[test]
fn a_fifo_at_a_holder_metadata_path_is_reported_not_waited_on() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["queue"]);
    std::fs::write(sandbox.lock_dir().join("docs.lock"), "").unwrap();
    let fifo = sandbox.fifo_in_lock_dir("docs.lock.json");
    // A blocking open of a FIFO without a writer would wait forever.
    // Reported on docs' line; queue, held, is listed as usual.
    multilock_with_timeout(&sandbox, &["status", "--all"])
        .code(1)
        .stdout(predicate::str::contains(
            "docs     free   error: unsafe lock file .multilock/docs.lock.json: it is not a regular file but a FIFO; nothing is read from it",
        ))
        .stdout(predicate::str::contains("queue    held   pid "));
    multilock_with_timeout(&sandbox, &["run", "--lock", "docs", "--", "true"]).code(2).stderr(
        predicate::str::contains(
            ".multilock/docs.lock.json: it is not a regular file but a FIFO; nothing is written through it",
        ),
    );
    assert!(is_fifo(&fifo), "replaced");
    holding.finish();
}

#[test]
fn a_fifo_at_the_order_record_is_reported_not_waited_on() {
    let sandbox = Sandbox::new();
    let fifo = sandbox.fifo_in_lock_dir("multilock.order.json");
    let message = ".multilock/multilock.order.json: it is not a regular file but a FIFO; nothing is read from it";
    for args in [&["run", "--lock", "docs", "--", "true"][..], &["order"], &["status"]] {
        multilock_with_timeout(&sandbox, args).code(2).stderr(predicate::str::contains(message));
    }
    assert!(is_fifo(&fifo), "replaced");
}

#[test]
fn metadata_and_order_files_get_0666_less_the_umask() {
    for (umask, expected) in [("027", 0o640), ("002", 0o664)] {
        let sandbox = Sandbox::new();
        let mut holder = sandbox
            .command("sh")
            .args([
                "-c",
                &format!(
                    "umask {umask}; exec \"$0\" run --lock docs -- sh -c 'echo ready; exec cat'"
                ),
                env!("CARGO_BIN_EXE_multilock"),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(holder.stdout.as_mut().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready, "ready\n", "the holder did not start");
        let mode = |name: &str| {
            let meta = std::fs::metadata(sandbox.lock_dir().join(name)).unwrap();
            meta.permissions().mode() & 0o7777
        };
        assert_eq!(mode("docs.lock.json"), expected, "holder metadata under umask {umask}");
        assert_eq!(mode("multilock.order.json"), expected, "order record under umask {umask}");
        drop(holder.stdin.take());
        assert!(holder.wait().unwrap().success());
        assert_eq!(mode("multilock.order.json"), expected, "order record after the run");
    }
}
