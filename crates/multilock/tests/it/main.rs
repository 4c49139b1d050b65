//! The one integration-test binary of multilock. Modules:
//! - `api`: the library on real lock files, in process.
//! - `props`: property tests of ordering and partial-failure cleanup.
//! - `cli`: the `multilock` binary: exit codes, bad input, snapshots of output.
//! - `processes`: several real processes contending for the same locks.
//! - `programs`: random programs of real processes, nested and in process,
//!   against the order rule: no acquisition waits in a cycle.
//! - `hostile`: the binary under a closed pipe, FIFOs where its files belong and a
//!   restrictive umask.

mod api;
mod cli;
mod hostile;
mod processes;
mod programs;
mod props;
mod util;
