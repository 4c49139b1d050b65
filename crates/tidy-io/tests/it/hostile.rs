//! Hostile input for each operation of the layer.

use std::path::Path;

#[test]
fn dev_zero_is_refused_at_once() {
    let err = tidy_io::read_file(Path::new("/dev/zero"), 1 << 20).unwrap_err();
    assert!(matches!(err, tidy_io::Error::NotRegular { .. }), "{err}");
}
