//! The flags every tidykit tool shares: `-q` leaves only errors on stderr, `-v`
//! says what was checked, `--format text` (and its old spelling `human`), and
//! `--color` never changes what is found.

use crate::util::tree;

#[test]
fn quiet_verbose_text_and_color_behave_as_in_every_tool() {
    let dir = tree("//- README.md\n[gone](missing.md) [self](README.md)\n");
    std::os::unix::fs::symlink("/etc/hostname", dir.join("outside.md")).unwrap();
    let (code, plain, stderr) = dir.run(&["check", "--format", "text"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("doclinks: warning: "), "{stderr}");
    let (quiet_code, human, quiet) = dir.run(&["-q", "check", "--format", "human"]);
    assert_eq!((quiet_code, quiet.as_str()), (1, ""), "-q: no warnings, same exit code");
    assert_eq!(human, plain, "text and human are one format");
    let (_, _, verbose) = dir.run(&["check", "-v"]);
    assert!(verbose.contains("doclinks: checked 2 files below "), "{verbose}");
    assert!(verbose.contains("1 broken"), "{verbose}");
    let (_, coloured, _) = dir.run(&["--color", "never", "check"]);
    assert!(!coloured.contains('\x1b'), "{coloured}");
}
