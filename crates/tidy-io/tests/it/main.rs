//! Integration tests of the file layer on real files in temp dirs: special
//! files, symlinks out of the root, concurrent edits, identity and modes.

#![allow(clippy::print_stderr, reason = "tests say on stderr which part a machine could not run")]

mod hostile;
mod outputs;
mod props;
mod replacing;
