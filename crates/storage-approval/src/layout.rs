//! Where storage-approval keeps its own files: the quarantine folder below ROOT
//! (never scanned), the marker that makes any directory a quarantine, the default
//! audit log and the hash cache in it, and the name of the temporary file a copy
//! across file systems is written to. Scan, report validation, execute and undo all
//! name these; none of them owns them.

/// The default quarantine folder, relative to ROOT; never scanned.
pub const QUARANTINE_DIR: &str = ".tidy-quarantine";

/// A file that marks a directory as a quarantine (written by `execute` into every
/// quarantine base), so that a `--quarantine` inside ROOT is never scanned either.
pub(crate) const QUARANTINE_MARKER: &str = ".storage-approval-quarantine";

/// File name of the default audit log in [`QUARANTINE_DIR`].
pub(crate) const AUDIT_LOG: &str = "audit.jsonl";

/// File name of the hash cache in [`QUARANTINE_DIR`].
pub(crate) const CACHE_FILE: &str = "hash-cache.v1";

/// The name hint of the temporary file a copy across file systems is written to
/// (`.storage-approval-partial.<pid>.<n>.tmp`).
pub(crate) const PARTIAL_HINT: &str = "storage-approval-partial";

/// Whether `rel` (relative to ROOT) is the quarantine folder or inside it.
pub(crate) fn in_quarantine(rel: &str) -> bool {
    rel == QUARANTINE_DIR
        || rel.strip_prefix(QUARANTINE_DIR).is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quarantine_is_the_folder_and_what_is_in_it() {
        assert!(in_quarantine(".tidy-quarantine") && in_quarantine(".tidy-quarantine/a/b"));
        assert!(!in_quarantine(".tidy-quarantined") && !in_quarantine("a/.tidy-quarantine"));
    }
}
