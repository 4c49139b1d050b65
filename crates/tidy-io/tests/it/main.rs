//! Integration tests of the file layer on real files in temp dirs: special
//! files, symlinks out of the root, concurrent edits, identity and modes.

mod hostile;
