//! Finding the root of a documentation tree from where the user stands: the
//! nearest ancestor holding `doclinks.toml` or a platform configuration, or
//! the top level of the git work tree.
//!
//! Root-absolute links (`/guide/x.md`) resolve against the root, so running
//! from a subdirectory must not make that subdirectory the root (issue 9,
//! finding 5). Two refinements keep a site whole: a DocFX `docfx.json` whose
//! ancestor holds the `.openpublishing.publish.config.json` that lists it
//! yields that ancestor (the redirect files live there), and a Docusaurus site
//! whose docs folder is outside it (`path: '../docs'`) yields their common
//! parent.

use std::path::{Path, PathBuf};

use crate::config::CONFIG_FILE;
use crate::error::Error;
use crate::platform::CONFIG_NAMES;

/// [`Discovered::because`] when no marker and no git work tree was found:
/// the starting directory is the root.
pub(crate) const FALLBACK: &str = "the current directory";

/// The root found for a starting directory, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Discovered {
    /// The root, canonicalized.
    pub root: PathBuf,
    /// What made it the root: `doclinks.toml`, a platform config's name,
    /// `git top level`, or `the current directory`.
    pub because: String,
}

/// Whether `dir` holds a file that makes it a root, and which.
fn marker(dir: &Path) -> Option<String> {
    if dir.join(CONFIG_FILE).is_file() {
        return Some(CONFIG_FILE.to_owned());
    }
    CONFIG_NAMES
        .iter()
        .filter(|name| {
            **name != "conf.py" || dir.join("index.rst").is_file() || dir.join("index.md").is_file()
        })
        .find(|name| dir.join(name).is_file())
        .map(|name| (*name).to_owned())
}

/// Whether `dir` or a directory up to three levels below it (not hidden, not
/// vendored) holds `doclinks.toml` or a site configuration: what makes a tree
/// named on the command line a site of its own where nothing above it is one.
#[cfg(feature = "cli")]
pub(crate) fn holds_site(dir: &Path) -> bool {
    fn walk(dir: &Path, depth: usize, budget: &mut usize) -> bool {
        if marker(dir).is_some() {
            return true;
        }
        let Ok(entries) = std::fs::read_dir(dir) else { return false };
        for entry in entries.flatten() {
            // A bounded look: a huge folder is not walked here.
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let skipped = name.starts_with('.') || crate::tree::VENDORED.contains(&&*name);
            if depth > 0
                && !skipped
                && entry.file_type().is_ok_and(|t| t.is_dir())
                && walk(&entry.path(), depth - 1, budget)
            {
                return true;
            }
        }
        false
    }
    walk(dir, 3, &mut 10_000)
}

/// The root for `start` (a directory): see the module documentation.
pub fn discover_root(start: &Path) -> Result<Discovered, Error> {
    let start = std::fs::canonicalize(start).map_err(|e| Error::io("cannot open", start, e))?;
    let top = crate::git::top_level(&start).and_then(|t| std::fs::canonicalize(t).ok());
    let mut found: Option<(PathBuf, String)> = None;
    for dir in start.ancestors() {
        if let Some(name) = marker(dir) {
            found = Some((dir.to_path_buf(), name));
            break;
        }
        if top.as_deref() == Some(dir) {
            break;
        }
    }
    let Some((mut root, because)) = found else {
        return Ok(match top {
            Some(top) => Discovered { root: top, because: "git top level".to_owned() },
            None => Discovered { root: start, because: FALLBACK.to_owned() },
        });
    };
    if because == "docfx.json" {
        // The publish config above a docset is where its redirects are listed.
        for dir in root.ancestors().skip(1) {
            if dir.join(".openpublishing.publish.config.json").is_file() {
                root = dir.to_path_buf();
                return Ok(Discovered {
                    root,
                    because: ".openpublishing.publish.config.json".to_owned(),
                });
            }
            if top.as_deref() == Some(dir) {
                break;
            }
        }
    }
    if because.starts_with("docusaurus.config.") {
        // Read like every config: a regular file, capped.
        let bytes = tidy_io::read_file(&root.join(&because), 1 << 20).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        if (text.contains("'../") || text.contains("\"../"))
            && let Some(parent) = root.parent()
            && top.as_deref().is_none_or(|t| parent.starts_with(t))
        {
            root = parent.to_path_buf();
        }
    }
    Ok(Discovered { root, because })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_marker_wins_and_docfx_climbs_to_its_publish_config() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("docs/sub")).unwrap();
        std::fs::create_dir_all(base.join("site/website")).unwrap();
        std::fs::write(base.join("doclinks.toml"), "").unwrap();
        let found = discover_root(&base.join("docs/sub")).unwrap();
        assert_eq!(
            (found.root, found.because.as_str()),
            (base.canonicalize().unwrap(), "doclinks.toml")
        );

        std::fs::write(base.join("docs/docfx.json"), "{}").unwrap();
        assert_eq!(
            discover_root(&base.join("docs/sub")).unwrap().root,
            base.join("docs").canonicalize().unwrap()
        );
        std::fs::write(base.join(".openpublishing.publish.config.json"), "{}").unwrap();
        let found = discover_root(&base.join("docs/sub")).unwrap();
        assert_eq!(found.root, base.canonicalize().unwrap());
        assert_eq!(found.because, ".openpublishing.publish.config.json");

        std::fs::write(
            base.join("site/website/docusaurus.config.js"),
            "module.exports = {presets: [['classic', {docs: {path: '../docs'}}]]}",
        )
        .unwrap();
        let found = discover_root(&base.join("site/website")).unwrap();
        assert_eq!(found.root, base.join("site").canonicalize().unwrap());
    }
}
