//! The hash maps and sets of a check: std's, with foldhash instead of
//! SipHash. A check of a large tree hashes its paths, routes and anchors
//! millions of times; foldhash is several times faster on short keys and,
//! seeded per process, still no fixed target for a tree crafted to collide.

/// A [`std::collections::HashMap`] with foldhash.
pub(crate) type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A [`std::collections::HashSet`] with foldhash.
pub(crate) type HashSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;
