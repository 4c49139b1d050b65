//! Invariants over arbitrary bytes: a replace writes exactly the new bytes, and a
//! concurrent edit is never lost whatever it is.

use std::path::Path;

use proptest::prelude::*;
use tidy_io::{ReplaceOptions, Root};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replace_writes_exactly_the_new_bytes(old in prop::collection::vec(any::<u8>(), 0..2048),
                                            new in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), &old).unwrap();
        let root = Root::open(dir.path()).unwrap();
        let loaded = root.read(Path::new("f"), 1 << 20).unwrap();
        prop_assert_eq!(&loaded.bytes, &old);
        tidy_io::replace(&loaded, &new, &ReplaceOptions::default()).unwrap();
        prop_assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), new);
    }

    #[test]
    fn a_concurrent_edit_always_wins(old in prop::collection::vec(any::<u8>(), 0..512),
                                     edit in prop::collection::vec(any::<u8>(), 0..512),
                                     new in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assume!(edit != old);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), &old).unwrap();
        let root = Root::open(dir.path()).unwrap();
        let loaded = root.read(Path::new("f"), 1 << 20).unwrap();
        let hook = |path: &Path| std::fs::write(path, &edit).unwrap();
        let options = ReplaceOptions { before_commit: Some(&hook), ..ReplaceOptions::default() };
        prop_assert!(tidy_io::replace(&loaded, &new, &options).is_err());
        prop_assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), edit);
    }
}
