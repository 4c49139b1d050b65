//! storage-approval will scan a tree, write a report with a deterministic ID, and
//! execute only what a human approved, with a hash-chained audit log and undo
//! (SPEC §4). The crate is not built yet; see the storage-approval issue.
