//! Holder metadata: who holds a lock, since when, and whether their lease is
//! still fresh. Stored as JSON beside the lock file (`NAME.lock.json`).

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::{Error, Result};

/// The `format` value of every metadata file multilock writes; anything else is foreign.
pub(crate) const FORMAT: &str = "multilock-holder/1";

/// Who holds a lock, as recorded in its metadata file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// Always `multilock-holder/1`.
    format: String,
    /// The lock this metadata belongs to.
    pub lock: String,
    /// The owner token: release and renew only act when it matches.
    pub owner: String,
    /// The process that holds the lock (for `multilock run`, the multilock process).
    pub pid: u32,
    /// The host that process runs on.
    pub host: String,
    /// What the holder is doing: its command line.
    pub command: String,
    /// For `multilock run`: the pid of the command it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child_pid: Option<u32>,
    /// When the lock was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// When the lease was last renewed (the acquisition counts as one).
    #[serde(with = "time::serde::rfc3339")]
    pub renewed_at: OffsetDateTime,
    /// The lease length; `None` means the lease never expires.
    #[serde(default)]
    pub ttl_secs: Option<u64>,
}

/// Whether a holder's lease is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Renewed within its TTL (or it has none).
    Valid,
    /// Alive (it still holds the OS lock) but not renewed in time: a hung holder.
    Expired,
}

impl Lease {
    /// `valid` or `expired`, as in the status JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Lease::Valid => "valid",
            Lease::Expired => "expired",
        }
    }
}

impl Holder {
    pub(crate) fn new(lock: &str, owner: &str, command: &str, ttl: Option<Duration>) -> Holder {
        let now = now();
        Holder {
            format: FORMAT.to_owned(),
            lock: lock.to_owned(),
            owner: owner.to_owned(),
            pid: std::process::id(),
            host: host().to_owned(),
            command: command.to_owned(),
            child_pid: None,
            acquired_at: now,
            renewed_at: now,
            ttl_secs: ttl.map(|t| t.as_secs().max(1)),
        }
    }

    /// The lease state at `now`.
    pub fn lease_at(&self, now: OffsetDateTime) -> Lease {
        match self.ttl_secs {
            Some(ttl)
                if now - self.renewed_at
                    > time::Duration::seconds(i64::try_from(ttl).unwrap_or(i64::MAX)) =>
            {
                Lease::Expired
            }
            _ => Lease::Valid,
        }
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("holder metadata always serializes")
    }

    pub(crate) fn parse(bytes: &[u8], path: &std::path::Path) -> Result<Holder> {
        let corrupt = |reason: String| Error::CorruptMetadata { path: path.to_owned(), reason };
        // Another program's JSON is named by its format, not by the first
        // multilock field it happens to lack (looked at only on failure: this
        // parse is on every release).
        #[derive(Deserialize)]
        struct Format {
            format: Option<String>,
        }
        let unknown =
            |format: &str| corrupt(format!("unknown format {format:?} (expected {FORMAT:?})"));
        let holder: Holder =
            serde_json::from_slice(bytes).map_err(|e| {
                match serde_json::from_slice::<Format>(bytes) {
                    Ok(Format { format: Some(format) }) if format != FORMAT => unknown(&format),
                    _ => corrupt(format!("not multilock holder JSON: {e}")),
                }
            })?;
        if holder.format != FORMAT {
            return Err(unknown(&holder.format));
        }
        Ok(holder)
    }
}

impl fmt::Display for Holder {
    /// One line naming pid, host, command and since: what a waiting user needs
    /// to decide whether to wait or to go and ask.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {} on {}", self.pid, self.host)?;
        if let Some(child) = self.child_pid {
            write!(f, " (child pid {child})")?;
        }
        write!(f, " running `{}` since {}", self.command, format_time(self.acquired_at))
    }
}

/// The current time in UTC, to the millisecond.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_millisecond(now.millisecond()).unwrap_or(now)
}

/// RFC 3339 to the second, for people.
pub(crate) fn format_time(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// This machine's host name, read once.
pub(crate) fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| rustix::system::uname().nodename().to_string_lossy().into_owned())
}

/// This process's command line, read once, for library users' metadata.
pub(crate) fn own_command() -> &'static str {
    static COMMAND: OnceLock<String> = OnceLock::new();
    COMMAND.get_or_init(|| command_line(std::env::args()))
}

/// Joins arguments into one readable command line, quoting where a shell would
/// need it. Control characters are escaped (`$'\n'` style), so the line stays
/// one line in a message.
pub fn command_line<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> String {
    let mut line = String::new();
    for arg in args {
        let arg = arg.as_ref();
        if !line.is_empty() {
            line.push(' ');
        }
        let plain = !arg.is_empty()
            && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
        if plain {
            line.push_str(arg);
        } else if arg.chars().any(char::is_control) {
            line.push_str("$'");
            for c in arg.chars() {
                match c {
                    '\n' => line.push_str("\\n"),
                    '\t' => line.push_str("\\t"),
                    '\r' => line.push_str("\\r"),
                    '\\' | '\'' => {
                        line.push('\\');
                        line.push(c);
                    }
                    c if c.is_control() => line.push_str(&format!("\\x{:02x}", u32::from(c))),
                    c => line.push(c),
                }
            }
            line.push('\'');
        } else {
            line.push('\'');
            line.push_str(&arg.replace('\'', r"'\''"));
            line.push('\'');
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn round_trips_and_refuses_foreign_json() {
        let holder = Holder::new("docs", "tok", "make docs", Some(Duration::from_secs(30)));
        let parsed = Holder::parse(&holder.to_json(), Path::new("docs.lock.json")).unwrap();
        assert_eq!(parsed, holder);

        let err = Holder::parse(b"not json", Path::new("x.lock.json")).unwrap_err().to_string();
        assert!(
            err.starts_with("corrupt holder metadata x.lock.json: not multilock holder JSON"),
            "{err}"
        );
        let foreign = br#"{"format":"other/9","lock":"d","owner":"o","pid":1,"host":"h","command":"c","acquired_at":"2026-01-01T00:00:00Z","renewed_at":"2026-01-01T00:00:00Z"}"#;
        let err = Holder::parse(foreign, Path::new("x")).unwrap_err().to_string();
        assert!(err.contains("unknown format \"other/9\""), "{err}");
    }

    #[test]
    fn lease_expires_only_after_its_ttl_without_renewal() {
        let mut holder = Holder::new("docs", "tok", "c", Some(Duration::from_secs(10)));
        let t0 = holder.renewed_at;
        assert_eq!(holder.lease_at(t0 + time::Duration::seconds(10)), Lease::Valid);
        assert_eq!(holder.lease_at(t0 + time::Duration::seconds(11)), Lease::Expired);
        holder.ttl_secs = Some(u64::MAX);
        assert_eq!(holder.lease_at(t0 + time::Duration::days(9)), Lease::Valid);
        holder.ttl_secs = None;
        assert_eq!(holder.lease_at(t0 + time::Duration::days(9)), Lease::Valid);
    }

    #[test]
    fn command_lines_are_quoted_like_a_shell() {
        assert_eq!(command_line(["make", "docs"]), "make docs");
        assert_eq!(command_line(["sh", "-c", "echo 'hi' there"]), r"sh -c 'echo '\''hi'\'' there'");
        assert_eq!(command_line([""]), "''");
        assert_eq!(command_line(["printf", "a\nb\t'c'"]), r"printf $'a\nb\t\'c\''");
    }
}
