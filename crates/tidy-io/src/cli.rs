//! The glue all four binaries share: exit codes, colour, a standard output that
//! ends quietly when its reader goes away, and clap errors mapped to exit 2.

use std::io::{IsTerminal as _, Write};

/// Exit codes shared by every tool (tool-specific ones are in each README).
pub mod exit {
    /// Success: nothing found, or the work is done.
    pub const OK: u8 = 0;
    /// Findings, or a refusal to act (a changed file, a denied approval).
    pub const FINDINGS: u8 = 1;
    /// Usage or input error: bad arguments, unreadable or malformed input.
    pub const USAGE: u8 = 2;
    /// A lock was busy past the timeout (`EX_TEMPFAIL`): try again later.
    pub const LOCKED: u8 = 75;
}

/// Whether to colour standard output: a terminal, and `NO_COLOR` unset or empty
/// (<https://no-color.org>).
pub fn color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Whether to colour standard error, by the same rule.
pub fn color_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Standard output for a command that prints a list: a closed pipe (`| head`)
/// turns every later write into a no-op instead of an error or a panic, and
/// [`PipeOut::closed`] tells a loop to stop producing.
#[derive(Debug)]
pub struct PipeOut<W: Write> {
    inner: W,
    closed: bool,
}

/// Standard output, locked, buffered by line on a terminal and by block otherwise.
pub fn stdout() -> PipeOut<Box<dyn Write>> {
    let out = std::io::stdout();
    let inner: Box<dyn Write> = if out.is_terminal() {
        Box::new(std::io::LineWriter::new(out.lock()))
    } else {
        Box::new(std::io::BufWriter::with_capacity(64 * 1024, out.lock()))
    };
    PipeOut { inner, closed: false }
}

impl<W: Write> PipeOut<W> {
    /// Wraps a writer.
    pub fn new(inner: W) -> PipeOut<W> {
        PipeOut { inner, closed: false }
    }

    /// Whether the reader went away.
    pub fn closed(&self) -> bool {
        self.closed
    }

    fn absorb(&mut self, result: std::io::Result<()>) -> std::io::Result<()> {
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl<W: Write> Write for PipeOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        match self.inner.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(buf.len())
            }
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush();
        self.absorb(result)
    }
}

/// Writes all of `text` to standard output (see [`crate::write_stdout`]).
pub fn emit(text: &str) -> std::io::Result<()> {
    crate::output::write_stdout(text.as_bytes())
}

/// Parses the command line; on an error prints clap's message and returns the
/// exit code (2 for a usage error, 0 for `--help` and `--version`).
#[cfg(feature = "cli")]
pub fn parse<C: clap::Parser>() -> Result<C, std::process::ExitCode> {
    C::try_parse().map_err(|err| {
        let _ = err.print();
        std::process::ExitCode::from(if err.use_stderr() { exit::USAGE } else { exit::OK })
    })
}
