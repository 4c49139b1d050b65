//! Throughput of multilock: `cargo xtask bench multilock` runs this with the
//! release `multilock` binary in `MULTILOCK_BIN`. It prints numbers and asserts
//! nothing: benchmarks are not tests.
//!
//! Re-executes itself as `throughput worker DIR N` for the contended runs.
#![allow(clippy::print_stdout, clippy::print_stderr, reason = "a benchmark reports on stdout")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use multilock::{AcquireOptions, LockSet};

const NAMES_4: [&str; 4] = ["docs", "archive", "runs", "queue"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("worker") {
        worker(Path::new(&args[1]), args[2].parse().expect("iteration count"));
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    println!("{:<52} {:>14} {:>14}", "measurement", "median", "p90");
    uncontended(tmp.path(), &["queue"], "acquire+release, 1 lock (in-process)");
    uncontended(tmp.path(), &NAMES_4, "acquire+release, 4 locks (in-process)");
    match std::env::var_os("MULTILOCK_BIN") {
        Some(bin) => run_overhead(tmp.path(), Path::new(&bin)),
        None => println!(
            "(MULTILOCK_BIN not set: skipping `multilock run -- true`; use `cargo xtask bench multilock`)"
        ),
    }
    for processes in [2, 8] {
        contended(tmp.path(), processes);
    }
}

fn uncontended(dir: &Path, names: &[&str], label: &str) {
    let set = LockSet::open(dir.join("uncontended")).expect("open lock dir");
    let options = AcquireOptions::new().command("bench");
    for _ in 0..500 {
        drop(set.acquire_with(names, &options).expect("acquire"));
    }
    let mut samples: Vec<Duration> = (0..20_000)
        .map(|_| {
            let start = Instant::now();
            let guard = set.acquire_with(names, &options).expect("acquire");
            guard.release().expect("release");
            start.elapsed()
        })
        .collect();
    samples.sort();
    let (median, p90) = (samples[samples.len() / 2], samples[samples.len() * 9 / 10]);
    println!("{label:<52} {:>11.1} µs {:>11.1} µs", micros(median), micros(p90));
}

fn run_overhead(dir: &Path, bin: &Path) {
    let lock_dir = dir.join("run");
    let flock_file = dir.join("flock.lock");
    let time = |mut make: Box<dyn FnMut() -> Command>| -> Vec<Duration> {
        for _ in 0..20 {
            let _ = make().status();
        }
        let mut samples: Vec<Duration> = (0..300)
            .map(|_| {
                let start = Instant::now();
                let status = make().status().expect("spawn");
                assert!(status.success());
                start.elapsed()
            })
            .collect();
        samples.sort();
        samples
    };
    let bin: PathBuf = bin.to_owned();
    let ours = time(Box::new(move || {
        let mut c = Command::new(&bin);
        c.arg("--dir").arg(&lock_dir).args(["run", "--lock", "docs", "--", "true"]);
        c
    }));
    let has_flock = Command::new("flock").arg("--version").output().is_ok();
    let median = |s: &[Duration]| s[s.len() / 2];
    let p90 = |s: &[Duration]| s[s.len() * 9 / 10];
    println!(
        "{:<52} {:>11.1} µs {:>11.1} µs",
        "`multilock run --lock docs -- true`",
        micros(median(&ours)),
        micros(p90(&ours))
    );
    if has_flock {
        let theirs = time(Box::new(move || {
            let mut c = Command::new("flock");
            c.arg(&flock_file).arg("true");
            c
        }));
        println!(
            "{:<52} {:>11.1} µs {:>11.1} µs",
            "`flock FILE true` (util-linux)",
            micros(median(&theirs)),
            micros(p90(&theirs))
        );
        println!(
            "{:<52} {:>13.2}x",
            "ratio multilock run / flock",
            micros(median(&ours)) / micros(median(&theirs))
        );
    }
}

fn contended(dir: &Path, processes: usize) {
    let lock_dir = dir.join(format!("contended-{processes}"));
    LockSet::open(&lock_dir).expect("create lock dir");
    let per_process = 4000 / processes.max(1) * 2;
    let exe = std::env::current_exe().expect("own path");
    let start = Instant::now();
    let workers: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .arg("worker")
                .arg(&lock_dir)
                .arg(per_process.to_string())
                .spawn()
                .expect("spawn worker")
        })
        .collect();
    for mut worker in workers {
        assert!(worker.wait().expect("wait worker").success());
    }
    let elapsed = start.elapsed();
    let total = per_process * processes;
    println!(
        "{:<52} {:>10.0} /s   ({total} handoffs in {:.2} s)",
        format!("contended acquire+release, {processes} processes"),
        total as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
}

fn worker(dir: &Path, iterations: usize) {
    let set = LockSet::open(dir).expect("open lock dir");
    let options = AcquireOptions::new().command("bench worker");
    for _ in 0..iterations {
        let guard = set.acquire_with(&["queue"], &options).expect("acquire");
        guard.release().expect("release");
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
