//! `cargo xtask bench multilock`: builds the release binary, then runs the
//! crate's `throughput` bench, which measures in-process acquire+release, the
//! end-to-end cost of `multilock run -- true` next to `flock FILE true`, and
//! contended handoffs between 2 and 8 processes.

use crate::util::{Tools, cargo, run_command};

pub(crate) fn run(_args: &[String]) -> Result<(), String> {
    let tools = Tools::build("release")?;
    run_command(
        cargo()
            .args(["bench", "--quiet", "-p", "multilock", "--bench", "throughput"])
            .env("MULTILOCK_BIN", tools.path("multilock")),
    )
}
