//! Issue 11's "must show": random programs of real processes, each a random
//! sequence of nested and sequential acquisitions over random subsets of the
//! locks, in process and through nested `multilock run`s, some waiting and
//! some only trying. Every acquisition must end as the order rule predicts:
//! refused at once (a lock held already, or one waited for out of order), or
//! taken; a try may also find its lock busy. Waits get a generous timeout, so
//! a wait cycle would show as a timeout and fail the test instead of hanging it.
//!
//! The processes are this test binary run again as a worker, this one test
//! only: the program, the lock directory and what the model says its ancestors
//! hold come in environment variables, and the worker checks each outcome
//! itself; the first surprise fails it (libtest then exits 101).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use multilock::{AcquireOptions, Error, LockGuard, LockSet};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::util::Sandbox;

/// The program a worker runs (see [`Step::encode`]).
const PROGRAM_ENV: &str = "MULTILOCK_TEST_PROGRAM";
/// The lock directory, absolute.
const DIR_ENV: &str = "MULTILOCK_TEST_DIR";
/// The names the model says the worker's ancestor runs hold, comma-separated.
const MODEL_ENV: &str = "MULTILOCK_TEST_MODEL_HELD";
/// This test's name, for the worker's libtest filter.
const TEST_NAME: &str =
    "programs::random_programs_end_or_are_refused_at_once_and_never_wait_in_a_cycle";

/// The canonical names, and one the order does not know (taken after them).
const POOL: [&str; 5] = ["queue", "runs", "archive", "docs", "zeta"];
/// Longer than any wait a correct run has, short enough to fail a stuck one.
const WAIT_LIMIT: Duration = Duration::from_secs(30);

/// One acquisition and what runs under it.
#[derive(Debug, Clone)]
struct Step {
    names: Vec<&'static str>,
    /// Through a nested `multilock run` instead of in this process.
    nested_run: bool,
    /// Wait for busy locks (else only try).
    wait: bool,
    body: Vec<Step>,
}

fn rank(name: &str) -> usize {
    POOL.iter().position(|n| *n == name).expect("a pool name")
}

/// What the order rule says an acquisition of `step` must do while `held`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    AlreadyHeld,
    OutOfOrder,
    /// Taken (a wait), or taken or busy (a try).
    Allowed,
}

fn expect(step: &Step, held: &[&str]) -> Expect {
    if step.names.iter().any(|n| held.contains(n)) {
        return Expect::AlreadyHeld;
    }
    let first = step.names.iter().map(|n| rank(n)).min().expect("a step names a lock");
    if step.wait && held.iter().any(|h| rank(h) >= first) {
        Expect::OutOfOrder
    } else {
        Expect::Allowed
    }
}

impl Step {
    /// `r`/`i` (nested run or in process), `w`/`t` (wait or try), the names,
    /// then the body in parentheses; steps are separated by `;`.
    fn encode(steps: &[Step]) -> String {
        steps
            .iter()
            .map(|s| {
                format!(
                    "{}{}{}({})",
                    if s.nested_run { 'r' } else { 'i' },
                    if s.wait { 'w' } else { 't' },
                    s.names.join(","),
                    Step::encode(&s.body)
                )
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    fn decode(text: &str) -> Vec<Step> {
        let (steps, rest) = Step::decode_list(text);
        assert!(rest.is_empty(), "trailing program text {rest:?}");
        steps
    }

    fn decode_list(mut text: &str) -> (Vec<Step>, &str) {
        let mut steps = Vec::new();
        while let Some(kind) = text.get(..2).filter(|k| k.as_bytes()[0] != b')') {
            let open = text.find('(').expect("a body");
            let names = text[2..open]
                .split(',')
                .map(|n| *POOL.iter().find(|p| **p == n).expect("a pool name"))
                .collect();
            let (body, rest) = Step::decode_list(&text[open + 1..]);
            let rest = rest.strip_prefix(')').expect("the body's end");
            let bytes = kind.as_bytes();
            steps.push(Step { names, nested_run: bytes[0] == b'r', wait: bytes[1] == b'w', body });
            text = rest.strip_prefix(';').unwrap_or(rest);
        }
        (steps, text)
    }
}

fn step(depth: u32) -> BoxedStrategy<Step> {
    let names = proptest::sample::subsequence(&POOL[..], 1..=3);
    let leaf = (names, prop::bool::weighted(0.3), prop::bool::weighted(0.75))
        .prop_map(|(names, nested_run, wait)| Step { names, nested_run, wait, body: Vec::new() });
    if depth == 0 {
        return leaf.boxed();
    }
    (leaf, prop::collection::vec(step(depth - 1), 0..3))
        .prop_map(|(mut step, body)| {
            step.body = body;
            step
        })
        .boxed()
}

fn programs() -> impl Strategy<Value = Vec<Vec<Step>>> {
    prop::collection::vec(prop::collection::vec(step(2), 1..4), 3..=4)
}

#[test]
fn random_programs_end_or_are_refused_at_once_and_never_wait_in_a_cycle() {
    if let Some(program) = std::env::var_os(PROGRAM_ENV) {
        return worker(&program.to_string_lossy());
    }
    // 64 cases of 3–4 processes, about 5 s on 2 cores; a case whose waits
    // formed a cycle would take WAIT_LIMIT and fail.
    let mut runner = TestRunner::new(Config { cases: 64, ..Config::default() });
    runner
        .run(&programs(), |programs| {
            let sandbox = Sandbox::new();
            LockSet::open(sandbox.lock_dir()).unwrap();
            let workers: Vec<_> = programs
                .iter()
                .map(|program| {
                    let mut command = sandbox.command(&current_exe());
                    worker_args(&mut command, program, &sandbox.lock_dir(), &[]);
                    command.stderr(Stdio::piped()).spawn().unwrap()
                })
                .collect();
            for (worker, program) in workers.into_iter().zip(&programs) {
                let output = worker.wait_with_output().unwrap();
                prop_assert!(
                    output.status.success(),
                    "program {}: {}\n{}",
                    Step::encode(program),
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            Ok(())
        })
        .unwrap();
}

fn current_exe() -> String {
    std::env::current_exe().unwrap().to_string_lossy().into_owned()
}

/// Makes `command` run this test binary as a worker for `program`.
fn worker_args(command: &mut Command, program: &[Step], dir: &Path, model_held: &[&str]) {
    command
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1", "-q"])
        .env(PROGRAM_ENV, Step::encode(program))
        .env(DIR_ENV, dir)
        .env(MODEL_ENV, model_held.join(","))
        .stdout(Stdio::null());
}

/// Runs a program, failing at the first outcome other than the expected one.
fn worker(program: &str) {
    let dir = PathBuf::from(std::env::var_os(DIR_ENV).expect("the lock directory"));
    let model = std::env::var(MODEL_ENV).unwrap_or_default();
    let inherited: Vec<&str> = model.split(',').filter(|n| !n.is_empty()).collect();
    let set = LockSet::open(&dir).unwrap_or_else(|e| fail(&format!("open: {e}")));
    for name in POOL {
        if set.held_by_parent(name) != inherited.contains(&name) {
            fail(&format!("held_by_parent({name}) is wrong; the parent holds {inherited:?}"));
        }
    }
    let mut held = inherited.clone();
    let mut guards = Vec::new();
    run_steps(&set, &dir, &Step::decode(program), &mut held, &mut guards);
}

fn fail(message: &str) -> ! {
    panic!("worker {}: {message}", std::process::id())
}

fn run_steps(
    set: &LockSet,
    dir: &Path,
    steps: &[Step],
    held: &mut Vec<&str>,
    guards: &mut Vec<LockGuard>,
) {
    for step in steps {
        let expected = expect(step, held);
        let what = format!("{} holding {held:?}", Step::encode(std::slice::from_ref(step)));
        if step.nested_run {
            nested_run(set, dir, step, held, guards.last(), expected, &what);
            continue;
        }
        let options = AcquireOptions::new().timeout(Some(WAIT_LIMIT));
        let outcome = if step.wait {
            set.acquire_with(&step.names, &options)
        } else {
            set.try_acquire_with(&step.names, &options)
        };
        match (expected, outcome) {
            (Expect::AlreadyHeld, Err(Error::AlreadyHeld { .. }))
            | (Expect::OutOfOrder, Err(Error::OrderViolation { .. })) => {}
            (Expect::Allowed, Err(Error::Busy { .. })) if !step.wait => {}
            (Expect::Allowed, Ok(guard)) => {
                let depth = held.len();
                held.extend(&step.names);
                guards.push(guard);
                run_steps(set, dir, &step.body, held, guards);
                drop(guards.pop());
                held.truncate(depth);
            }
            (expected, outcome) => fail(&format!(
                "{what}: expected {expected:?}, got {:?}",
                outcome.map(|g| g.held().join(","))
            )),
        }
    }
}

fn nested_run(
    set: &LockSet,
    dir: &Path,
    step: &Step,
    held: &[&str],
    guard: Option<&LockGuard>,
    expected: Expect,
    what: &str,
) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_multilock"));
    command.arg("--dir").arg(dir).arg("run");
    if step.wait {
        command.args(["--timeout", "30"]);
    } else {
        command.arg("--no-wait");
    }
    for name in &step.names {
        command.args(["--lock", name]);
    }
    command.arg("--").arg(current_exe());
    let mut under: Vec<&str> = held.to_vec();
    under.extend(&step.names);
    worker_args(&mut command, &step.body, dir, &under);
    // What this process holds in process, its child must know it waits under.
    if let Some(guard) = guard {
        command.envs(set.child_env(guard));
    }
    command.stderr(Stdio::piped());
    let output = command.output().unwrap_or_else(|e| fail(&format!("{what}: spawn: {e}")));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let ok = match (expected, output.status.code()) {
        (Expect::AlreadyHeld, Some(2)) => stderr.contains("is already held by"),
        (Expect::OutOfOrder, Some(2)) => stderr.contains("cannot wait for lock"),
        (Expect::Allowed, Some(0)) => true,
        // 101 is a worker (libtest) failure; its message is in `stderr`.
        (Expect::Allowed, Some(75)) => !step.wait,
        _ => false,
    };
    if !ok {
        fail(&format!("{what}: expected {expected:?}, got {}\n{stderr}", output.status));
    }
}
