//! The library on real lock files, in one process (other processes appear
//! through `Sandbox::hold`).

use std::time::Duration;

use multilock::{AcquireOptions, CanonicalOrder, Error, HeldBy, LockSet, LockState};

use crate::util::Sandbox;

fn names(statuses: &[multilock::LockStatus]) -> Vec<(String, &'static str)> {
    statuses.iter().map(|s| (s.name.clone(), s.state.as_str())).collect()
}

#[test]
fn takes_locks_in_canonical_order_and_releases_in_reverse() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let guard = set.acquire(&["docs", "runs", "queue", "archive"]).unwrap();
    assert_eq!(guard.held(), ["queue", "runs", "archive", "docs"]);
    assert_eq!(guard.release().unwrap(), ["docs", "archive", "runs", "queue"]);
    assert!(set.held().is_empty());
    assert!(set.status(false).unwrap().is_empty());
}

#[test]
fn double_acquire_in_process_is_an_error_not_a_deadlock() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let _guard = set.acquire(&["runs"]).unwrap();
    // Another set over the same directory, reached by another path, still sees it.
    let other = LockSet::open(sandbox.path().join("./.multilock/../.multilock")).unwrap();
    let err = other.acquire(&["queue", "runs"]).unwrap_err();
    assert!(
        matches!(err, Error::AlreadyHeld { ref lock, by: HeldBy::ThisProcess } if lock == "runs"),
        "{err}"
    );
    // The partial acquisition released `queue` again.
    assert_eq!(set.held(), ["runs"]);
}

#[test]
fn timeout_names_the_lock_and_its_holder_and_releases_what_was_taken() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["archive"]);
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let options = AcquireOptions::new().timeout(Some(Duration::from_millis(100)));
    let err = set.acquire_with(&["docs", "queue", "archive"], &options).unwrap_err();
    let Error::Timeout { lock, waited, holder, .. } = &err else {
        panic!("expected a timeout, got {err}")
    };
    assert_eq!(lock, "archive");
    assert!(*waited >= Duration::from_millis(100));
    let holder = holder.as_ref().expect("holder metadata is readable");
    assert_eq!(holder.pid, holding.pid());
    assert_eq!(holder.command, "sh hold.sh");
    assert!(holder.child_pid.is_some());
    // queue was taken before archive timed out, and is free again.
    let statuses = set.status(true).unwrap();
    assert_eq!(
        names(&statuses),
        [
            ("queue".into(), "free"),
            ("runs".into(), "free"),
            ("archive".into(), "held"),
            ("docs".into(), "free")
        ]
    );
    holding.finish();
}

#[test]
fn on_wait_is_told_who_holds_the_lock() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["queue"]);
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let options = AcquireOptions::new().timeout(Some(Duration::from_secs(2))).on_wait(
        Duration::from_millis(50),
        move |waiting| {
            tx.send((waiting.lock.clone(), waiting.holder.as_ref().map(|h| h.pid))).unwrap();
        },
    );
    assert!(set.acquire_with(&["queue"], &options).unwrap_err().is_timeout());
    assert_eq!(rx.try_recv().unwrap(), ("queue".to_owned(), Some(holding.pid())));
    assert!(rx.try_recv().is_err(), "told once per lock");
    holding.finish();
}

#[test]
fn blocking_acquire_gets_the_lock_when_the_holder_releases() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["docs"]);
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let options =
        AcquireOptions::new().on_wait(Duration::ZERO, move |w| tx.send(w.lock.clone()).unwrap());
    let waiter =
        std::thread::spawn(move || set.acquire_with(&["docs"], &options).map(|g| g.held().len()));
    // The waiter has found the lock busy (it may not be inside flock yet; either
    // way it must get the lock once the holder is gone).
    assert_eq!(rx.recv().unwrap(), "docs");
    holding.finish();
    assert_eq!(waiter.join().unwrap().unwrap(), 1);
}

#[test]
fn metadata_records_the_holder_and_goes_away_on_release() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let guard = set
        .acquire_with(
            &["queue"],
            &AcquireOptions::new().command("tidy --execute").ttl(Some(Duration::from_secs(30))),
        )
        .unwrap();
    let status = set.status(false).unwrap().pop().unwrap();
    let holder = status.holder.unwrap();
    assert_eq!(
        (holder.pid, holder.command.as_str(), holder.ttl_secs),
        (std::process::id(), "tidy --execute", Some(30))
    );
    assert_eq!(status.lease, Some(multilock::Lease::Valid));
    let meta = sandbox.lock_dir().join("queue.lock.json");
    assert!(meta.is_file());
    drop(guard);
    assert!(!meta.exists());
    // The lock file itself is never removed.
    assert!(sandbox.lock_dir().join("queue.lock").is_file());
}

#[test]
fn renew_and_release_refuse_somebody_elses_metadata() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let mut guard = set.acquire(&["docs"]).unwrap();
    guard.renew().unwrap();
    let meta = sandbox.lock_dir().join("docs.lock.json");
    let tampered = std::fs::read_to_string(&meta)
        .unwrap()
        .replace(&guard.holders().next().unwrap().owner, "intruder");
    std::fs::write(&meta, &tampered).unwrap();
    let err = guard.renew().unwrap_err();
    assert!(matches!(&err, Error::OwnerMismatch { found, .. } if found == "intruder"), "{err}");
    assert_eq!(std::fs::read_to_string(&meta).unwrap(), tampered, "renew wrote nothing");
    let err = guard.release().unwrap_err();
    assert!(matches!(err, Error::OwnerMismatch { .. }));
    assert_eq!(std::fs::read_to_string(&meta).unwrap(), tampered, "somebody else's metadata stays");
    // Our flock itself is released all the same.
    assert_eq!(set.status(true).unwrap()[3].state, LockState::Free);
}

#[test]
fn expired_lease_is_reported_while_the_holder_still_holds() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let _guard = set
        .acquire_with(&["runs"], &AcquireOptions::new().ttl(Some(Duration::from_secs(1))))
        .unwrap();
    // Backdate the renewal instead of sleeping past the TTL.
    let meta = sandbox.lock_dir().join("runs.lock.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    json["renewed_at"] = "2020-01-01T00:00:00Z".into();
    std::fs::write(&meta, json.to_string()).unwrap();
    let status = set.status(false).unwrap().pop().unwrap();
    assert_eq!(status.lease, Some(multilock::Lease::Expired));
}

#[test]
fn unknown_names_are_allowed_after_known_ones_and_reported() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let guard = set.acquire(&["zeta", "docs", "alpha"]).unwrap();
    assert_eq!(guard.held(), ["docs", "alpha", "zeta"]);
    assert_eq!(guard.unknown(), ["alpha", "zeta"]);
    // status --all lists them too: they have lock files now.
    let all: Vec<String> = set.status(true).unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(all, ["queue", "runs", "archive", "docs", "alpha", "zeta"]);
}

#[test]
fn umbrella_is_taken_first_and_released_last() {
    let sandbox = Sandbox::new();
    let set = LockSet::builder(sandbox.lock_dir()).umbrella("tidy").open().unwrap();
    assert!(set.held().is_empty(), "a configured umbrella is not a held one");
    // Taken without being named, as by tools that know only their subsystem.
    assert_eq!(set.acquire(&["docs"]).unwrap().release().unwrap(), ["docs", "tidy"]);
    let guard = set.acquire(&["docs", "queue", "tidy"]).unwrap();
    assert_eq!(set.held(), ["tidy", "queue", "docs"]);
    assert_eq!(guard.held(), ["tidy", "queue", "docs"]);
    assert!(guard.unknown().is_empty());
    assert_eq!(guard.release().unwrap(), ["docs", "queue", "tidy"]);
}

#[test]
fn custom_order_is_honoured() {
    let sandbox = Sandbox::new();
    let order = CanonicalOrder::new(&["fetch", "build", "publish"]).unwrap();
    let set = LockSet::builder(sandbox.lock_dir()).order(order).open().unwrap();
    assert_eq!(
        set.acquire(&["publish", "fetch", "build"]).unwrap().held(),
        ["fetch", "build", "publish"]
    );
}

#[test]
fn disabled_mode_holds_nothing_and_touches_nothing() {
    let sandbox = Sandbox::new();
    let set = LockSet::builder(sandbox.lock_dir()).disabled(true).open().unwrap();
    let guard = set.acquire(&["docs", "queue"]).unwrap();
    assert!(guard.is_disabled());
    assert!(guard.held().is_empty());
    assert!(set.held().is_empty());
    assert!(!sandbox.lock_dir().exists());
}

#[test]
fn invalid_names_are_refused_before_anything_is_taken() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    for bad in ["../x", "", "Docs", &"a".repeat(65)] {
        let err = set.acquire(&["queue", bad]).unwrap_err();
        assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}: {err}");
    }
    assert!(!sandbox.lock_dir().join("queue.lock").exists());
    assert_eq!(std::fs::read_dir(sandbox.path()).unwrap().count(), 1, "only the lock dir exists");
}

#[test]
fn corrupt_metadata_is_reported_for_its_lock_and_the_others_are_listed() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let _runs = set.acquire(&["runs"]).unwrap();
    std::fs::write(sandbox.lock_dir().join("docs.lock.json"), "{ not json").unwrap();
    let statuses = set.status(true).unwrap();
    assert_eq!(
        names(&statuses),
        [
            ("queue".into(), "free"),
            ("runs".into(), "held"),
            ("archive".into(), "free"),
            ("docs".into(), "free")
        ]
    );
    let problem = statuses[3].problem.as_deref().unwrap();
    assert!(problem.starts_with("corrupt holder metadata"), "{problem}");
    assert!(problem.contains("docs.lock.json"), "{problem}");
    assert!(statuses.iter().take(3).all(|s| s.problem.is_none()));
    // Without --all too: a lock with a problem is listed beside the held ones.
    let listed: Vec<String> = set.status(false).unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(listed, ["runs", "docs"]);
    // A new holder replaces stale or corrupt metadata: it holds the lock now.
    let guard = set.acquire(&["docs"]).unwrap();
    let docs = set.status(false).unwrap().pop().unwrap();
    assert!(docs.holder.is_some() && docs.problem.is_none(), "{docs:?}");
    drop(guard);
}

#[test]
fn the_recorded_umbrella_is_taken_first_even_by_tools_that_only_name_it() {
    let sandbox = Sandbox::new();
    let with_umbrella = LockSet::builder(sandbox.lock_dir()).umbrella("tidy").open().unwrap();
    assert_eq!(with_umbrella.plan(&["docs"]).unwrap().names, ["tidy", "docs"]);
    // A tool that knows only the umbrella, or names it among others, gets the same order.
    let plain = LockSet::open(sandbox.lock_dir()).unwrap();
    assert_eq!(plain.umbrella(), Some("tidy"));
    assert_eq!(plain.plan(&["docs", "tidy"]).unwrap().names, ["tidy", "docs"]);
    // Another umbrella or order in the same directory is refused.
    let err = LockSet::builder(sandbox.lock_dir()).umbrella("other").open().unwrap_err();
    assert!(matches!(err, Error::OrderMismatch { .. }), "{err}");
    let order = CanonicalOrder::new(&["docs", "queue"]).unwrap();
    assert!(LockSet::builder(sandbox.lock_dir()).order(order).open().is_err());
}

#[test]
fn a_panicking_wait_callback_leaves_no_phantom_lock_behind() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["runs"]);
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let options = AcquireOptions::new()
        .timeout(Some(Duration::from_secs(5)))
        .on_wait(Duration::ZERO, |_| panic!("callback failed"));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        set.acquire_with(&["runs"], &options)
    }));
    assert!(outcome.is_err());
    assert!(set.held().is_empty());
    holding.finish();
    // Not "already held by this process": the claim went away with the panic.
    assert_eq!(set.acquire(&["runs"]).unwrap().held(), ["runs"]);
}

#[test]
fn a_corrupt_order_record_is_named_with_what_to_do() {
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.lock_dir()).unwrap();
    std::fs::write(sandbox.lock_dir().join("multilock.order.json"), "").unwrap();
    let err = LockSet::open(sandbox.lock_dir()).unwrap_err().to_string();
    assert!(err.starts_with("corrupt order record"), "{err}");
    assert!(err.contains("remove it while no lock is held"), "{err}");
}

/// Issue 11: `acquire(["docs"])` then `acquire(["queue"])` in one thread both
/// succeeded, so this thread could wait for `queue` while holding `docs`, and a
/// process doing the opposite would deadlock with it.
#[test]
fn waiting_back_in_the_order_is_refused_at_once_and_a_try_is_not() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let docs = set.acquire(&["docs"]).unwrap();
    let err = set.acquire(&["runs", "queue"]).unwrap_err();
    let Error::OrderViolation { lock, asked, held, order } = &err else {
        panic!("expected an order violation, got {err}")
    };
    assert_eq!(
        (lock.as_str(), asked.as_slice()),
        ("queue", &["queue".to_owned(), "runs".into()][..])
    );
    assert_eq!(
        held,
        &[multilock::HeldName { name: "docs".into(), by: HeldBy::ThisThread, other_dir: None }]
    );
    assert_eq!(order, &["queue", "runs", "archive", "docs"]);
    assert_eq!(
        err.to_string(),
        "cannot wait for lock `queue` (asked for `queue`, `runs`) while holding `docs` (this thread): \
         a lock may be waited for only when it comes after every lock held, in the order \
         queue → runs → archive → docs; ask for all of them in one acquisition (the outermost \
         `multilock run`), or take `queue` without waiting (`run --no-wait`, `try_acquire`)"
    );
    // Refused before anything was taken, with a timeout or without.
    let options = AcquireOptions::new().timeout(Some(Duration::from_secs(5)));
    assert!(matches!(set.acquire_with(&["archive"], &options), Err(Error::OrderViolation { .. })));
    assert_eq!(set.held(), ["docs"]);
    // Names the order does not know come after it: waiting for one is fine.
    let zeta = set.acquire(&["zeta"]).unwrap();
    // A try cannot wait, so it may go back in the order.
    let queue = set.try_acquire(&["queue"]).unwrap();
    assert_eq!(set.held(), ["queue", "docs", "zeta"]);
    // Still nothing to wait for before `zeta`, the latest lock held.
    assert!(matches!(set.acquire(&["runs"]), Err(Error::OrderViolation { .. })));
    drop((zeta, queue, docs));
    // Forward in the order, one acquisition after another, is fine.
    let queue = set.acquire(&["queue"]).unwrap();
    let later = set.acquire(&["docs", "archive"]).unwrap();
    assert_eq!(later.held(), ["archive", "docs"]);
    drop((later, queue));
}

#[test]
fn a_try_finds_a_busy_lock_busy_and_releases_what_it_took() {
    let sandbox = Sandbox::new();
    let holding = sandbox.hold(&["archive"]);
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let err = set.try_acquire(&["queue", "archive", "docs"]).unwrap_err();
    let Error::Busy { lock, holder, processes, .. } = &err else { panic!("{err}") };
    assert_eq!(lock, "archive");
    assert_eq!(holder.as_ref().map(|h| h.pid), Some(holding.pid()));
    assert!(processes.is_none(), "the recorded holder holds it: nothing to look for");
    assert!(err.is_conflict() && !err.is_timeout());
    assert!(set.held().is_empty());
    assert!(set.status(false).unwrap().iter().all(|s| s.name == "archive"));
    holding.finish();
}

#[test]
fn the_rule_is_per_thread_another_thread_may_wait_for_an_earlier_lock() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let docs = set.acquire(&["docs"]).unwrap();
    // This thread holds nothing: its wait cannot close a cycle through docs,
    // whose holder (the main thread) waits for nothing.
    let other = set.clone();
    let taken = std::thread::spawn(move || other.acquire(&["queue", "runs"]).map(|g| g.release()))
        .join()
        .unwrap();
    assert_eq!(taken.unwrap().unwrap(), ["runs", "queue"]);
    // Asking for the very lock another thread holds is still refused at once.
    let other = set.clone();
    let again = std::thread::spawn(move || other.acquire(&["docs"]).map(drop)).join().unwrap();
    assert!(matches!(again, Err(Error::AlreadyHeld { by: HeldBy::ThisProcess, .. })), "{again:?}");
    drop(docs);
}

#[test]
fn holding_locks_in_one_directory_a_thread_waits_in_no_other() {
    let sandbox = Sandbox::new();
    let first = LockSet::open(sandbox.lock_dir()).unwrap();
    let second = LockSet::open(sandbox.path().join("other")).unwrap();
    let queue = first.acquire(&["queue"]).unwrap();
    let err = second.acquire(&["docs"]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::OrderViolation { .. }), "{message}");
    assert!(message.contains("while holding `queue` in "), "{message}");
    assert!(message.contains("locks in different directories have no common order"), "{message}");
    // Without waiting it may.
    let docs = second.try_acquire(&["docs"]).unwrap();
    drop((docs, queue));
    assert!(second.acquire(&["docs"]).is_ok());
}

#[test]
fn the_umbrella_stays_outermost() {
    let sandbox = Sandbox::new();
    let set = LockSet::builder(sandbox.lock_dir()).umbrella("tidy").open().unwrap();
    let queue = set.acquire(&["queue"]).unwrap();
    assert_eq!(queue.held(), ["tidy", "queue"]);
    // Held already, the umbrella covers the next acquisition, which may wait:
    // the umbrella comes before every subsystem lock.
    let docs = set.acquire(&["docs"]).unwrap();
    assert_eq!(docs.held(), ["docs"]);
    // Asking for it by name again is a double acquisition.
    assert!(matches!(set.acquire(&["tidy"]), Err(Error::AlreadyHeld { .. })));
    drop((docs, queue));
    // Every acquisition in this directory takes the umbrella first, so no
    // holder of a subsystem lock here lacks it, and holding it lets nobody
    // go back in the order.
    let runs = set.try_acquire(&["runs"]).unwrap();
    assert_eq!(runs.held(), ["tidy", "runs"]);
    let err = set.acquire(&["queue"]).unwrap_err().to_string();
    assert!(err.contains("while holding `tidy` (this thread), `runs` (this thread)"), "{err}");
    assert!(err.contains("in the order tidy → queue → runs → archive → docs"), "{err}");
}

#[test]
fn a_held_lock_without_metadata_names_the_process_found_holding_it() {
    let sandbox = Sandbox::new();
    let set = LockSet::open(sandbox.lock_dir()).unwrap();
    let _guard = set.acquire(&["docs"]).unwrap();
    std::fs::remove_file(sandbox.lock_dir().join("docs.lock.json")).unwrap();
    let status = set.status(false).unwrap().pop().unwrap();
    assert!(status.is_held() && status.holder.is_none(), "{status:?}");
    let found = status.processes.as_deref().unwrap();
    assert_eq!(found.iter().map(|p| p.pid).collect::<Vec<_>>(), [std::process::id()]);
    let text = status.holder_text().unwrap();
    assert!(text.starts_with(&format!("pid {} running `", std::process::id())), "{text}");
    assert!(text.ends_with("` (no readable holder metadata)"), "{text}");
}
