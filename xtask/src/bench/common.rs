//! What every bench shares: one deterministic generator for its corpora, and
//! one way to measure a run (wall time, CPU time and peak memory from
//! `/usr/bin/time` when the machine has it, else wall time only).

use std::path::Path;
use std::process::Command;

/// The benches' one deterministic generator: a 64-bit LCG (Knuth's MMIX
/// constants), so every run benches the same corpus, without a dependency.
/// Its low bits are weak, so every draw uses the high ones.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next state, whole (for bytes of content).
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0
    }

    /// A number below `n` (0 for `n` = 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        (self.next_u64() >> 33) % n.max(1)
    }

    /// An index below `n`.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// One of `items`.
    pub(crate) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.index(items.len())]
    }
}

/// The user and system CPU seconds of this process's children that have
/// been waited for, to the microsecond: a run's CPU is the difference
/// across it.
pub(crate) fn children_cpu() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike as _;
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(0.0, |usage| {
        (usage.user_time().num_microseconds() + usage.system_time().num_microseconds()) as f64 / 1e6
    })
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    /// Seconds by our own clock (finer than `/usr/bin/time`'s hundredths; it
    /// includes the ~1 ms that `/usr/bin/time` itself adds).
    pub(crate) wall: f64,
    /// User + system seconds (with `/usr/bin/time` only).
    pub(crate) cpu: Option<f64>,
    /// Peak resident set size in KiB (with `/usr/bin/time` only).
    pub(crate) peak_kb: Option<u64>,
}

impl Sample {
    /// Peak memory in MiB, `-` when unknown.
    pub(crate) fn mib(&self) -> String {
        self.peak_kb.map_or_else(|| "-".to_owned(), |k| format!("{:.0}", k as f64 / 1024.0))
    }
}

const TIME: &str = "/usr/bin/time";

/// `command` run under `/usr/bin/time`, which writes its figures to `stats`
/// (program, arguments, environment and directory carried over); `command`
/// itself when the machine has no `/usr/bin/time`.
pub(crate) fn under_time(command: Command, stats: &Path) -> Command {
    if !Path::new(TIME).is_file() {
        return command;
    }
    let mut timed = Command::new(TIME);
    timed.arg("-f").arg("%e %U %S %M").arg("-o").arg(stats).arg(command.get_program());
    timed.args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => timed.env(key, value),
            None => timed.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        timed.current_dir(dir);
    }
    timed
}

/// The figures `/usr/bin/time` wrote to `stats` for a run that took `wall`
/// seconds by our clock (only the wall time, without `/usr/bin/time`).
pub(crate) fn read_time(stats: &Path, wall: f64) -> Sample {
    let text = std::fs::read_to_string(stats).unwrap_or_default();
    // The figures are the last line; a line before it may say the command failed.
    let fields: Vec<&str> = text.lines().last().unwrap_or("").split_whitespace().collect();
    let num = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    Sample {
        wall,
        cpu: num(1).zip(num(2)).map(|(user, system)| user + system),
        peak_kb: num(3).map(|kb| kb as u64),
    }
}

/// The run of median wall time.
pub(crate) fn median(mut samples: Vec<Sample>) -> Sample {
    samples.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    samples.swap_remove(samples.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_repeats_itself_and_stays_below_its_bound() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        let draws: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        assert_eq!(draws, (0..100).map(|_| b.below(10)).collect::<Vec<_>>());
        assert!(draws.iter().all(|&d| d < 10));
        assert!((0..10).all(|d| draws.contains(&d)), "every value comes up: {draws:?}");
        assert_eq!(Rng::new(1).below(0), 0);
    }

    #[test]
    fn time_figures_are_read_from_the_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let stats = tmp.path().join("time.txt");
        std::fs::write(&stats, "Command exited with non-zero status 1\n1.50 0.90 0.10 20480\n")
            .unwrap();
        let sample = read_time(&stats, 9.0);
        assert_eq!(sample.wall, 9.0, "our clock, not its hundredths");
        assert_eq!(sample.cpu, Some(1.0));
        assert_eq!(sample.peak_kb, Some(20480));
        assert_eq!(sample.mib(), "20");
        let missing = read_time(&tmp.path().join("none"), 2.0);
        assert_eq!((missing.wall, missing.cpu, missing.peak_kb), (2.0, None, None));
    }
}
