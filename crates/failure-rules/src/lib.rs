//! failure-rules will normalize recorded errors into stable signatures, group and
//! rank them, and keep a rules file that other tools query (SPEC §3). The crate
//! is not built yet; see the failure-rules issue.
