//! The one integration-test binary of failure-rules (`autotests = false`).
//!
//! - `masks`: table-driven tests of each normalizer mask, positive and negative;
//! - `props`: property tests (idempotence, stable ids, values inserted into templates);
//! - `api`: the library API: signatures, mining, lookup, merging;
//! - `cli`: the binary: reports (insta snapshots), bad input, exit codes;
//! - `concurrent`: several `--execute` processes on one rules file.

mod masks;
mod props;
