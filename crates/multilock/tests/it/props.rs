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
    fn partial_failure_leaves_nothing_held(request in requests(), blocked in proptest::sample::select(&POOL[..])) {
        let sandbox = Sandbox::new();
        let set = LockSet::open(sandbox.lock_dir()).unwrap();
        // The blocked lock is held elsewhere in this process: asking for it fails
        // at its place in the order, after the ones before it were taken.
        let blocker = set.acquire(&[blocked]).unwrap();
        let mut request = request;
        request.push(blocked);
        let err = set.acquire(&request).unwrap_err();
        let refused_at_blocked = matches!(err, Error::AlreadyHeld { ref lock, .. } if lock == blocked);
        prop_assert!(refused_at_blocked, "unexpected error: {}", err);
        prop_assert_eq!(set.held(), vec![blocked.to_owned()]);
        let held: Vec<String> = set.status(false).unwrap().into_iter().map(|s| s.name).collect();
        prop_assert_eq!(held, vec![blocked.to_owned()]);
        drop(blocker);
        prop_assert!(set.status(false).unwrap().is_empty());
    }
}
