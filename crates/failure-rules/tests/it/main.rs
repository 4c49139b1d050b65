//! The one integration-test binary of failure-rules (`autotests = false`).
//!
//! - `masks`: table-driven tests of each normalizer mask, positive and negative;
//! - `props`: property tests (idempotence, stable ids, values inserted into templates);
//! - `api`: the library API: traceback signatures, lookup, grouping, parsing;
//! - `cli`: the binary: reports (insta snapshots), bad input, exit codes;
//! - `concurrent`: four `--execute` processes on one rules file;
//! - `findings`: streaming, evidence keys, repository-root defaults, `match` (issue 13);
//! - `grouping`: grouping accuracy on labelled raw log lines of 16 systems;
//! - `headers`: header-aware normalization and ids that unify kinds of one slot;
//! - `sources`: JUnit XML reports and logs with tracebacks as records;
//! - `hostile`: special files, symlinks, `-`, the umask and closed pipes (issue 8).

mod api;
mod cli;
mod concurrent;
mod findings;
mod grouping;
mod headers;
mod hostile;
mod locks;
mod masks;
mod props;
mod sources;
