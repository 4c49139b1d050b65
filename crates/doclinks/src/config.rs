//! `doclinks.toml`: site prefixes, nav files, redirect maps and ignore rules.
//!
//! Every `[[ignore]]` and `[[historical_ref]]` entry must say why it exists: a
//! suppression without a reason is how link rot hides, so it is a config error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use crate::error::Error;

/// The name of the configuration file looked up at the root.
pub const CONFIG_FILE: &str = "doclinks.toml";

/// Files larger than this are skipped with a warning unless the config says
/// otherwise; it caps the configuration file itself too.
pub(crate) const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Settings for a scan, usually read from `doclinks.toml`.
///
/// ```toml
/// platform = "docfx"                # instead of detecting it (github, gitlab, docfx,
///                                   # mkdocs, docusaurus, hugo, mdbook, sphinx)
/// base_path = "/cpp/"               # a DocFX docset's base path, instead of inferring it
/// site_prefixes = ["/docs/"]        # root-absolute links to the published site
/// nav = ["docs/start.md"]           # extra navigation files for --nav-only
/// exclude = ["archive/**"]          # files not to check (still valid targets)
///
/// [redirects]                       # old path -> new path, both from the root
/// "guide/old.md" = "guide/new.md"
///
/// [[ignore]]
/// target = "https://intranet/*"     # glob on the destination as written
/// file = "notes/**"                 # optional glob on the linking file
/// reason = "the intranet is not reachable from CI"
///
/// [[historical_ref]]
/// target = "docs/v1/*"
/// file = "CHANGELOG.md"
/// reason = "the changelog names pages of old releases on purpose"
/// ```
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) platform: Option<crate::platform::Platform>,
    pub(crate) base_path: Option<String>,
    pub(crate) site_prefixes: Vec<String>,
    pub(crate) nav: Vec<PathBuf>,
    pub(crate) exclude: Vec<GlobMatcher>,
    pub(crate) redirects: BTreeMap<String, String>,
    pub(crate) ignore: Vec<Rule>,
    pub(crate) historical: Vec<Rule>,
    pub(crate) max_file_size: u64,
    pub(crate) source: Option<PathBuf>,
}

/// One ignore or historical-reference entry.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    target: GlobMatcher,
    file: Option<GlobMatcher>,
}

impl Rule {
    pub(crate) fn matches(&self, file: &str, target: &str) -> bool {
        self.target.is_match(target) && self.file.as_ref().is_none_or(|f| f.is_match(file))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    platform: Option<Spanned<String>>,
    base_path: Option<String>,
    #[serde(default)]
    site_prefixes: Vec<String>,
    #[serde(default)]
    nav: Vec<PathBuf>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    redirects: BTreeMap<String, String>,
    #[serde(default)]
    ignore: Vec<Spanned<RawRule>>,
    #[serde(default)]
    historical_ref: Vec<Spanned<RawRule>>,
    max_file_size: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    target: String,
    file: Option<String>,
    reason: Option<String>,
}

impl Config {
    /// The defaults: no site prefixes, no extra nav, no ignores.
    pub fn new() -> Config {
        Config { max_file_size: DEFAULT_MAX_FILE_SIZE, ..Config::default() }
    }

    /// Reads `doclinks.toml` at `root` if there is one, or returns the defaults.
    pub fn discover(root: &Path) -> Result<Config, Error> {
        Config::discover_in(&tidy_io::Root::open(root)?)
    }

    /// Reads `doclinks.toml` at the root of an open tree: like a page, it is read
    /// below the root (a link out of it is refused) and must be a regular file.
    pub(crate) fn discover_in(root: &tidy_io::Root) -> Result<Config, Error> {
        let path = root.path().join(CONFIG_FILE);
        match root.read(Path::new(CONFIG_FILE), DEFAULT_MAX_FILE_SIZE) {
            Ok(loaded) => Config::from_bytes(&path, loaded.bytes),
            Err(e) if e.is_not_found() => Ok(Config::new()),
            Err(e) => Err(unreadable(&path, e)),
        }
    }

    /// Reads a configuration file; errors name the key and the line. A FIFO, a
    /// device or a file over 16 MiB is refused, never read.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let bytes =
            tidy_io::read_file(path, DEFAULT_MAX_FILE_SIZE).map_err(|e| unreadable(path, e))?;
        Config::from_bytes(path, bytes)
    }

    fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Config, Error> {
        let text = String::from_utf8(bytes).map_err(|_| Error::config(path, "not valid UTF-8"))?;
        let mut config = Config::parse(&text).map_err(|message| Error::config(path, message))?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parses configuration text; the error is a one-line message with the line.
    pub(crate) fn parse(text: &str) -> Result<Config, String> {
        let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_owned();
            match e.span() {
                // Type errors say what was expected but not of which key: take
                // the key from the line the error points at.
                Some(span) => match key_at(text, span.start)
                    .filter(|key| !message.contains(&format!("`{key}`")))
                {
                    Some(key) => format!("line {}: `{key}`: {message}", line(span.start)),
                    None => format!("line {}: {message}", line(span.start)),
                },
                None => message,
            }
        })?;
        let glob = |pattern: &str, at: usize, key: &str| {
            Glob::new(pattern)
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("line {}: `{key}` is not a valid glob: {e}", line(at)))
        };
        let rules = |entries: Vec<Spanned<RawRule>>, table: &str| -> Result<Vec<Rule>, String> {
            entries
                .into_iter()
                .map(|entry| {
                    let at = entry.span().start;
                    let entry = entry.into_inner();
                    if entry.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
                        return Err(format!(
                            "line {}: [[{table}]] entry for `{}` has no `reason`; every {table} entry needs one",
                            line(at),
                            entry.target
                        ));
                    }
                    Ok(Rule {
                        target: glob(&entry.target, at, "target")?,
                        file: entry.file.as_deref().map(|f| glob(f, at, "file")).transpose()?,
                    })
                })
                .collect()
        };
        let platform = match raw.platform {
            Some(name) => Some(
                name.get_ref()
                    .parse::<crate::platform::Platform>()
                    .map_err(|e| format!("line {}: `platform`: {e}", line(name.span().start)))?,
            ),
            None => None,
        };
        if let Some(base) = &raw.base_path
            && !base.starts_with('/')
        {
            return Err(format!("`base_path` `{base}` must start with `/`"));
        }
        for prefix in &raw.site_prefixes {
            if !prefix.starts_with('/') {
                return Err(format!("`site_prefixes` entry `{prefix}` must start with `/`"));
            }
        }
        Ok(Config {
            platform,
            base_path: raw.base_path,
            site_prefixes: raw.site_prefixes,
            nav: raw.nav,
            exclude: raw
                .exclude
                .into_iter()
                .map(|e| glob(e.get_ref(), e.span().start, "exclude"))
                .collect::<Result<_, _>>()?,
            redirects: raw.redirects,
            ignore: rules(raw.ignore, "ignore")?,
            historical: rules(raw.historical_ref, "historical_ref")?,
            max_file_size: raw.max_file_size.unwrap_or(DEFAULT_MAX_FILE_SIZE),
            source: None,
        })
    }

    /// The platform the configuration names, if it names one.
    pub fn platform(&self) -> Option<crate::platform::Platform> {
        self.platform
    }

    /// Adds a root-absolute prefix whose links point at the published site.
    pub fn site_prefix(mut self, prefix: impl Into<String>) -> Config {
        self.site_prefixes.push(prefix.into());
        self
    }
}

/// The error for a configuration file that cannot be read, naming it.
fn unreadable(path: &Path, error: tidy_io::Error) -> Error {
    match error {
        tidy_io::Error::Io { source, .. } => Error::io("cannot read config", path, source),
        other => Error::input(format!("cannot read config {}: {}", path.display(), other.reason())),
    }
}

/// The key of the `key = value` line around byte `offset`, if it is one.
fn key_at(text: &str, offset: usize) -> Option<&str> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let (key, _) = text.get(start..end)?.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && !key.starts_with(['[', '#'])).then(|| key.trim_matches(['"', '\'']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_config_parses() {
        let config = Config::parse(
            "site_prefixes = [\"/docs/\"]\nnav = [\"a.md\"]\nexclude = [\"old/**\"]\n[redirects]\n\"x.md\" = \"y.md\"\n\
             [[ignore]]\ntarget = \"http://intranet/*\"\nreason = \"not reachable\"\n\
             [[historical_ref]]\ntarget = \"v1/*\"\nfile = \"CHANGELOG.md\"\nreason = \"old releases\"\n",
        )
        .unwrap();
        assert_eq!(config.site_prefixes, ["/docs/"]);
        assert!(config.ignore[0].matches("any.md", "http://intranet/page"));
        assert!(config.historical[0].matches("CHANGELOG.md", "v1/a.md"));
        assert!(!config.historical[0].matches("README.md", "v1/a.md"));
        assert!(config.exclude[0].is_match("old/x.md"));
    }

    #[test]
    fn entry_without_reason_names_the_line() {
        let err = Config::parse(
            "[[ignore]]\ntarget = \"a\"\nreason = \"ok\"\n\n[[ignore]]\ntarget = \"b.md\"\n",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "line 5: [[ignore]] entry for `b.md` has no `reason`; every ignore entry needs one"
        );
        let err =
            Config::parse("[[historical_ref]]\ntarget = \"b\"\nreason = \"  \"\n").unwrap_err();
        assert!(err.starts_with("line 1: [[historical_ref]]"), "{err}");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = Config::parse("nav = []\nsite_prefix = [\"/x\"]\n").unwrap_err();
        assert!(err.starts_with("line 2: unknown field `site_prefix`"), "{err}");
        let err = Config::parse("nav = [\n").unwrap_err();
        assert!(err.starts_with("line "), "{err}");
    }

    #[test]
    fn platform_and_base_path() {
        let config = Config::parse("platform = \"docfx\"\nbase_path = \"/cpp/\"\n").unwrap();
        assert_eq!(config.platform, Some(crate::platform::Platform::DocFx));
        assert_eq!(config.base_path.as_deref(), Some("/cpp/"));
        let err = Config::parse("\nplatform = \"jekyll\"\n").unwrap_err();
        assert!(err.starts_with("line 2: `platform`: unknown platform `jekyll`"), "{err}");
        assert!(Config::parse("base_path = \"cpp\"\n").is_err());
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let err = Config::parse("nav = []\nmax_file_size = \"big\"\n").unwrap_err();
        assert!(err.starts_with("line 2: `max_file_size`: invalid type: string"), "{err}");
        let err = Config::parse("[redirects]\n\"old.md\" = 3\n").unwrap_err();
        assert!(err.starts_with("line 2: `old.md`: invalid type: integer"), "{err}");
    }
}
