//! doclinks will find broken local links and anchors in Markdown trees, propose
//! fixes with a confidence level and apply them byte-exactly with backups
//! (SPEC §2). The crate is not built yet; see the doclinks issue.
