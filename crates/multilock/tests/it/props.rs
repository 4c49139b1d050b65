//! Property tests: whatever the request, locks are taken in canonical order,
//! released in reverse, and a failed acquisition leaves nothing held.

use multilock::{Error, LockSet};
use proptest::prelude::*;

use crate::util::Sandbox;

const POOL: [&str; 7] = ["queue", "runs", "archive", "docs", "alpha", "zeta", "cache"];

/// Where a name stands in the canonical order: known names by position, then
/// unknown ones by name.
fn rank(name: &str) -> (usize, &str) {
    (multilock::DEFAULT_ORDER.iter().position(|n| *n == name).unwrap_or(usize::MAX), name)
}

fn requests() -> impl Strategy<Value = Vec<&'static str>> {
    // Any subset, in any order, with repeats.
    proptest::collection::vec(proptest::sample::select(&POOL[..]), 1..10)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn acquisition_is_canonical_and_release_is_its_reverse(request in requests()) {
        let sandbox = Sandbox::new();
        let set = LockSet::open(sandbox.lock_dir()).unwrap();
        let guard = set.acquire(&request).unwrap();
        let taken: Vec<String> = guard.held().iter().map(|s| (*s).to_owned()).collect();

        let mut expected: Vec<&str> = request.clone();
        expected.sort_by_key(|n| rank(n));
        expected.dedup();
        prop_assert_eq!(&taken, &expected);

        let released = guard.release().unwrap();
        let mut reversed = taken.clone();
        reversed.reverse();
        prop_assert_eq!(released, reversed);
        prop_assert!(set.held().is_empty());
    }

    #[test]
    fn partial_failure_leaves_nothing_held(request in requests(), broken in proptest::sample::select(&POOL[..])) {
        let sandbox = Sandbox::new();
        let set = LockSet::open(sandbox.lock_dir()).unwrap();
        // The broken lock's file is a symlink: the acquisition fails at its
        // place in the order, after the ones before it were taken.
        std::os::unix::fs::symlink("/dev/null", sandbox.lock_dir().join(format!("{broken}.lock"))).unwrap();
        let mut request = request;
        request.push(broken);
        let err = set.acquire(&request).unwrap_err();
        let refused_at_broken = matches!(&err, Error::UnsafeLockFile { path, .. } if path.ends_with(format!("{broken}.lock")));
        prop_assert!(refused_at_broken, "unexpected error: {}", err);
        prop_assert!(set.held().is_empty());
        let statuses = set.status(true).unwrap();
        prop_assert!(statuses.iter().all(|s| !s.is_held()), "{:?}", statuses);
        // No metadata of a lock taken and released again is left either.
        let leftovers: Vec<_> = std::fs::read_dir(sandbox.lock_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json") && n != "multilock.order.json")
            .collect();
        prop_assert!(leftovers.is_empty(), "{:?}", leftovers);
    }
}
