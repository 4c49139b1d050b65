//! The glue all four binaries share: exit codes, the flags every tool has
//! (`--color`, `-q`, `-v`, `--no-progress`) and what they switch, the one shape
//! of an error, warning or note on stderr, a standard output that ends quietly
//! when its reader goes away, and clap errors mapped to exit 2.

use std::io::{IsTerminal as _, Write};
use std::sync::atomic::{AtomicBool, AtomicI8, AtomicU8, Ordering};

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

/// When to colour output (`--color`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set (<https://no-color.org>).
    #[default]
    Auto,
    /// Always, even into a pipe.
    Always,
    /// Never.
    Never,
}

/// The flags every tidykit binary has, with the same meaning in each; flatten
/// them into the top-level clap definition and call [`GlobalArgs::apply`].
#[cfg(feature = "cli")]
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GlobalArgs {
    /// When to colour the output: auto (a terminal and NO_COLOR unset), always, never.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto, global = true, hide_possible_values = true)]
    pub color: ColorChoice,
    /// Print nothing on stderr but errors: no progress, notes or warnings.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more on stderr about what is being done (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Show no progress bar (none is shown when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

#[cfg(feature = "cli")]
impl GlobalArgs {
    /// Makes the flags the process's: [`color`], [`verbosity`], [`progress`]
    /// and the stderr helpers follow them from here on.
    pub fn apply(&self) {
        let color = match self.color {
            ColorChoice::Auto => 0,
            ColorChoice::Always => 1,
            ColorChoice::Never => 2,
        };
        COLOR.store(color, Ordering::Relaxed);
        let level = if self.quiet { -1 } else { i8::try_from(self.verbose).unwrap_or(i8::MAX) };
        VERBOSITY.store(level, Ordering::Relaxed);
        NO_PROGRESS.store(self.no_progress, Ordering::Relaxed);
    }
}

/// `--color`: 0 auto, 1 always, 2 never.
static COLOR: AtomicU8 = AtomicU8::new(0);
/// -1 quiet, 0 normal, n: `-v` given n times.
static VERBOSITY: AtomicI8 = AtomicI8::new(0);
static NO_PROGRESS: AtomicBool = AtomicBool::new(false);

fn color_for(is_terminal: bool) -> bool {
    match COLOR.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Whether to colour standard output: `--color`, else a terminal and `NO_COLOR`
/// unset or empty (<https://no-color.org>).
pub fn color() -> bool {
    color_for(std::io::stdout().is_terminal())
}

/// Whether to colour standard error, by the same rule.
pub fn color_stderr() -> bool {
    color_for(std::io::stderr().is_terminal())
}

/// -1 with `--quiet`, 0 by default, n with `-v` given n times.
pub fn verbosity() -> i8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Whether to draw a progress bar: stderr is a terminal, and neither
/// `--no-progress` nor `--quiet` was given.
pub fn progress() -> bool {
    std::io::stderr().is_terminal() && !NO_PROGRESS.load(Ordering::Relaxed) && verbosity() >= 0
}

/// `TOOL: error: MESSAGE` on stderr, always (a closed stderr is no reason to panic).
pub fn error(tool: &str, message: &dyn std::fmt::Display) {
    say(format_args!("{tool}: error: {message}"));
}

/// `TOOL: warning: MESSAGE` on stderr, unless `--quiet`.
pub fn warning(tool: &str, message: &dyn std::fmt::Display) {
    if verbosity() >= 0 {
        say(format_args!("{tool}: warning: {message}"));
    }
}

/// `TOOL: MESSAGE` on stderr, unless `--quiet`: what was done (a file written,
/// how to undo it).
pub fn note(tool: &str, message: &dyn std::fmt::Display) {
    if verbosity() >= 0 {
        say(format_args!("{tool}: {message}"));
    }
}

/// `text` (whole lines, as a summary that would otherwise be on stdout) on
/// stderr, unless `--quiet`.
pub fn note_block(text: &str) {
    if verbosity() >= 0 {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// `TOOL: MESSAGE` on stderr with at least `level` `-v` flags.
pub fn verbose(tool: &str, level: i8, message: &dyn std::fmt::Display) {
    if verbosity() >= level {
        say(format_args!("{tool}: {message}"));
    }
}

fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
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
