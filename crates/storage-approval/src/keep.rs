//! The keep rule: which copies of a duplicate group stay, and why.
//!
//! Every copy that must stay, stays: a protected copy, a copy a page of ROOT links
//! to (a group whose several copies are linked keeps all of them), a copy matching
//! a keep glob (`duplicates.keep`, `--keep-path`). Only when no copy is one of those
//! is one copy chosen, the one most likely to be the original: a name without a
//! copy marker (` (copy)`, ` - Copy`, ` (1)`, `Copy of `, `_copy`, `.bak`, `~`,
//! `.orig`) over one with a marker; then a path outside backup, tmp, cache and
//! archive folders; then the oldest modification time; then the shallowest path;
//! then the first name. The old rule ("shallowest, then smallest name") kept
//! `README (copy).md` over `README.md`, because a space sorts before a dot.

/// Why a copy is in the running, for one group. Built by the scan.
#[derive(Debug, Clone)]
pub(crate) struct Candidate<'a> {
    /// Path relative to ROOT.
    pub(crate) rel: &'a str,
    /// Modification time, nanoseconds since the epoch.
    pub(crate) mtime: i128,
    /// Protected by the policy: never proposed, always kept.
    pub(crate) protected: bool,
    /// A page (of those that stay) linking to this copy.
    pub(crate) linked_from: Option<&'a str>,
    /// The first keep glob it matches.
    pub(crate) keep_glob: Option<&'a str>,
}

/// What the rule decided for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Indexes (into the candidates) of the copies that stay, the primary one first:
    /// the one each delete names as its kept copy and re-checks before it runs.
    pub(crate) kept: Vec<usize>,
    /// Why the primary copy stays when it must (protected, linked, a keep glob).
    forced: Option<String>,
}

impl Decision {
    /// Why the primary copy stays rather than candidate `other`, in words for the
    /// report and the dry run.
    pub(crate) fn reason(&self, candidates: &[Candidate<'_>], other: usize) -> String {
        match &self.forced {
            Some(why) => why.clone(),
            None => rank_reason(&candidates[self.kept[0]], &candidates[other]),
        }
    }
}

/// Directory names whose files are taken for copies rather than originals.
const COPY_FOLDERS: [&str; 14] = [
    "backup", "backups", "bak", "tmp", "temp", "cache", "caches", ".cache", "archive", "archives",
    "old", "trash", "copy", "copies",
];

/// Whether `text` contains `needle`, ignoring ASCII case (the markers are ASCII).
fn contains_ignore_case(text: &[u8], needle: &[u8]) -> bool {
    text.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn starts_with_ignore_case(text: &[u8], prefix: &[u8]) -> bool {
    text.len() >= prefix.len() && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn ends_with_ignore_case(text: &[u8], suffix: &[u8]) -> bool {
    text.len() >= suffix.len() && text[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

/// The copy marker in a file name, if it has one. Asked of every copy of every
/// group, so it allocates nothing.
pub(crate) fn copy_marker(name: &str) -> Option<&'static str> {
    let bytes = name.as_bytes();
    if starts_with_ignore_case(bytes, b"copy of ") {
        return Some("Copy of ");
    }
    for suffix in [".bak", "~", ".orig"] {
        if ends_with_ignore_case(bytes, suffix.as_bytes()) {
            return Some(suffix);
        }
    }
    // The markers that sit before the extension: `name (copy).md`, `name_copy.md`.
    let stem = match name.rfind('.') {
        Some(0) | None => bytes,
        Some(dot) => &bytes[..dot],
    };
    for (marker, shown) in [(" (copy", " (copy)"), (" - copy", " - Copy"), ("_copy", "_copy")] {
        if contains_ignore_case(stem, marker.as_bytes()) {
            return Some(shown);
        }
    }
    // ` (1)`, ` (2)`: what browsers and file managers add to a second download.
    let stem = std::str::from_utf8(stem).unwrap_or_default();
    if let Some(open) = stem.rfind(" (")
        && let Some(number) = stem[open + 2..].strip_suffix(')')
        && !number.is_empty()
        && number.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(" (1)");
    }
    None
}

/// The first directory of `rel` that holds copies rather than originals: a
/// backup, tmp, cache or archive folder (`backup/`, `backup-2024/`), or a folder
/// whose own name has a copy marker (`logs-copy/`).
pub(crate) fn copy_folder(rel: &str) -> Option<&str> {
    let dirs = rel.rsplit_once('/').map_or("", |(dirs, _)| dirs);
    dirs.split('/').filter(|d| !d.is_empty()).find(|dir| {
        let bytes = dir.as_bytes();
        let word_at_start = COPY_FOLDERS.iter().any(|word| {
            starts_with_ignore_case(bytes, word.as_bytes())
                && bytes
                    .get(word.len())
                    .is_none_or(|&next| !next.is_ascii_alphanumeric() && next.is_ascii())
        });
        word_at_start
            || copy_marker(dir).is_some()
            || ends_with_ignore_case(bytes, b"-copy")
            || ends_with_ignore_case(bytes, b".old")
    })
}

fn depth(rel: &str) -> usize {
    rel.matches('/').count()
}

fn file_name(rel: &str) -> &str {
    rel.rsplit_once('/').map_or(rel, |(_, name)| name)
}

/// The order of the last part of the rule (lower is better): no copy marker, not
/// in a copy folder, oldest, shallowest, first name.
fn rank_key<'a>(c: &Candidate<'a>) -> (bool, bool, i128, usize, &'a str) {
    (
        copy_marker(file_name(c.rel)).is_some(),
        copy_folder(c.rel).is_some(),
        c.mtime,
        depth(c.rel),
        c.rel,
    )
}

/// Why `best` ranks before `other` by the last part of the rule: the first
/// criterion on which they differ.
fn rank_reason(best: &Candidate<'_>, other: &Candidate<'_>) -> String {
    let (b, o) = (rank_key(best), rank_key(other));
    if b.0 != o.0 {
        let marker = copy_marker(file_name(other.rel)).unwrap_or_default();
        format!("its name has no copy marker; this one has `{marker}`")
    } else if b.1 != o.1 {
        let folder = copy_folder(other.rel).unwrap_or_default();
        format!("outside backup, tmp, cache and archive folders; this one is in `{folder}/`")
    } else if b.2 != o.2 {
        "an older modification time".to_owned()
    } else if b.3 != o.3 {
        "a shallower path".to_owned()
    } else {
        "first by name".to_owned()
    }
}

/// Applies the rule to one group (at least two candidates).
pub(crate) fn decide(candidates: &[Candidate<'_>]) -> Decision {
    // Copies that must stay, in the order their reasons weigh.
    let must = |c: &Candidate<'_>| -> Option<(u8, String)> {
        if c.protected {
            Some((0, "protected by the policy".to_owned()))
        } else if let Some(page) = c.linked_from {
            Some((1, format!("linked from `{page}`")))
        } else {
            c.keep_glob.map(|glob| (2, format!("matches the keep glob `{glob}`")))
        }
    };
    let mut forced: Vec<(u8, usize, String)> = candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| must(c).map(|(weight, why)| (weight, i, why)))
        .collect();
    if !forced.is_empty() {
        forced.sort_by(|a, b| {
            (a.0, rank_key(&candidates[a.1])).cmp(&(b.0, rank_key(&candidates[b.1])))
        });
        let kept: Vec<usize> = forced.iter().map(|f| f.1).collect();
        let mut reason = forced.swap_remove(0).2;
        if kept.len() > 1 {
            let others = kept.len() - 1;
            let copies = if others == 1 { "copy stays" } else { "copies stay" };
            reason.push_str(&format!("; {others} other {copies} too"));
        }
        return Decision { kept, forced: Some(reason) };
    }
    // Each key once: a group can hold 200,000 copies.
    let keys: Vec<_> = candidates.iter().map(rank_key).collect();
    let best = (0..candidates.len())
        .min_by(|&a, &b| keys[a].cmp(&keys[b]))
        .expect("a group has candidates");
    Decision { kept: vec![best], forced: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(rel: &str, mtime: i128) -> Candidate<'_> {
        Candidate { rel, mtime, protected: false, linked_from: None, keep_glob: None }
    }

    /// The copies that stay, and why the first stays rather than the last candidate.
    fn kept<'a>(candidates: &[Candidate<'a>]) -> (Vec<&'a str>, String) {
        let d = decide(candidates);
        let why = d.reason(candidates, candidates.len() - 1);
        (d.kept.iter().map(|&i| candidates[i].rel).collect(), why)
    }

    #[test]
    fn copy_markers_are_found_in_names_only_where_copies_put_them() {
        for name in [
            "README (copy).md",
            "README (copy 2).md",
            "README - Copy.md",
            "Copy of README.md",
            "readme_copy.md",
            "notes.txt.bak",
            "notes.txt~",
            "main.rs.orig",
            "photo (1).jpg",
            "photo (12).jpg",
        ] {
            assert!(copy_marker(name).is_some(), "{name}");
        }
        for name in ["README.md", "copyright.md", "photo (a).jpg", "backup.md", "(1).md", "a.md"] {
            assert_eq!(copy_marker(name), None, "{name}");
        }
    }

    #[test]
    fn copy_folders_are_backup_tmp_cache_and_archive_folders() {
        assert_eq!(copy_folder("backup/logs-copy/api.md"), Some("backup"));
        assert_eq!(copy_folder("docs/Backup-2024/a.png"), Some("Backup-2024"));
        assert_eq!(copy_folder("specification/logs-copy/api.md"), Some("logs-copy"));
        assert_eq!(copy_folder("docs/.cache/a"), Some(".cache"));
        assert_eq!(copy_folder("docs/backups_old/a"), Some("backups_old"));
        assert_eq!(copy_folder("docs/copy/a.md"), Some("copy"));
        for rel in
            ["backup.md", "docs/backupper/a", "tmpl/a.md", "docs/cached.md", "a/b/c", "copyright/a"]
        {
            assert_eq!(copy_folder(rel), None, "{rel}");
        }
    }

    #[test]
    fn the_original_is_kept_over_its_copies() {
        // The report: a space sorts before a dot, and the copy was kept.
        let (keep, why) = kept(&[copy("README.md", 5), copy("README (copy).md", 5)]);
        assert_eq!(keep, ["README.md"]);
        assert_eq!(why, "its name has no copy marker; this one has ` (copy)`");
        let (keep, why) =
            kept(&[copy("specification/logs/api.md", 5), copy("backup/logs-copy/api.md", 5)]);
        assert_eq!(keep, ["specification/logs/api.md"]);
        assert_eq!(why, "outside backup, tmp, cache and archive folders; this one is in `backup/`");
        let (keep, why) = kept(&[copy("b/c/old.png", 3), copy("a/new.png", 9)]);
        assert_eq!((keep, why.as_str()), (vec!["b/c/old.png"], "an older modification time"));
        assert_eq!(
            kept(&[copy("c/x", 3), copy("a/b/x", 3)]),
            (vec!["c/x"], "a shallower path".to_owned())
        );
        assert_eq!(kept(&[copy("a", 3), copy("b", 3)]).1, "first by name");
    }

    #[test]
    fn every_linked_copy_stays_and_a_link_beats_the_name() {
        let mut group = [copy("img/logo.png", 1), copy("img/logo (copy).png", 9), copy("z", 0)];
        group[1].linked_from = Some("index.md");
        let (keep, why) = kept(&group);
        assert_eq!(keep, ["img/logo (copy).png"]);
        assert_eq!(why, "linked from `index.md`");
        group[0].linked_from = Some("guide.md");
        let (keep, why) = kept(&group);
        assert_eq!(keep, ["img/logo.png", "img/logo (copy).png"]);
        assert!(why.ends_with("1 other copy stays too"), "{why}");
    }

    #[test]
    fn protected_and_keep_glob_copies_stay() {
        let mut group = [copy("a", 1), copy("vault/a", 9), copy("docs/a", 9)];
        group[2].keep_glob = Some("docs/**");
        assert_eq!(kept(&group), (vec!["docs/a"], "matches the keep glob `docs/**`".to_owned()));
        group[1].protected = true;
        assert_eq!(kept(&group).0, ["vault/a", "docs/a"]);
    }
}
