//! The fix plan file: every finding, whether `fix` applies it, and why;
//! written atomically, JSON or Markdown by the file's extension.

use std::path::Path;

use tidy_io::{Durability, Perms};

use crate::error::Error;
use crate::render::{Style, render_plan};
use crate::report::{Confidence, Report};

/// Writes the fix plan for every finding to `path` (`-`: standard output),
/// atomically: JSON when the file name ends in `.json`, Markdown otherwise. An
/// existing path that is not a regular file (`/dev/stdout`, a FIFO, a link to
/// a device) is refused, never replaced; a new file gets `0666 & !umask`.
pub fn write_plan(
    report: &Report,
    min: Confidence,
    path: &Path,
    style: &Style,
) -> Result<(), Error> {
    let json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let text = render_plan(report, min, json, style);
    tidy_io::write_output(path, text.as_bytes(), Perms::Default, Durability::Durable)?;
    Ok(())
}
