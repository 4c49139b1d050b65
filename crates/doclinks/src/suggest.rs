//! Fix candidates for broken links, each with a confidence and a reason, in
//! the order they are tried.
//!
//! High confidence is for evidence that names the new place: a rename recorded
//! in git (which wins over every heuristic, and follows a linking page that
//! moved too), a redirect map the platform config lists, a case-only
//! difference, `\` written for `/`, a file name that exists once in the tree.
//! A same-named file one `../` away or with another extension is medium unless
//! its name is unique; so are names whose words are close (`instalation` for
//! `installation`, not `using-tiles` for `using-views`). Several candidates are
//! low and left for triage.
//!
//! Candidates are paths; `check.rs` writes each in the link's style and keeps
//! it only if the new destination resolves on the platform.

use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use crate::config::Config;
use crate::fast::{HashMap, HashSet};
use crate::report::{Confidence, Fix};
use crate::resolve::{encode_path, normalize};
use crate::site::{Missing, Model};
use crate::tree::{Entry, Tree, file_name, parent, stem};

/// A proposed target path (root-relative) before it is written as a link.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) path: String,
    pub(crate) confidence: Confidence,
    pub(crate) reason: String,
}

/// A close match by words: the path and its score.
type Similar = Option<(String, f64)>;

/// A file name of the tree, its length in characters and its words: one of
/// these for every distinct name once a close name is searched for, so it is
/// kept small (48 bytes and one allocation; a list of words was ~300 bytes).
struct Name<'t> {
    name: &'t str,
    /// Its words (see [`words`]), each followed by a NUL, which no word holds.
    words: Box<str>,
    /// Where its extension (see [`extension`]) starts in `name`.
    ext_at: u32,
    chars: u32,
    /// How many words, and the bytes of its words together.
    count: u32,
    letters: u32,
}

impl<'t> Name<'t> {
    fn of(name: &'t str) -> Name<'t> {
        let list = words(name);
        let letters = list.iter().map(String::len).sum::<usize>();
        let mut words = String::with_capacity(letters + list.len());
        for word in &list {
            words.push_str(word);
            words.push('\0');
        }
        let small = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Name {
            name,
            words: words.into_boxed_str(),
            ext_at: small(name.len() - extension(name).len()),
            chars: small(name.chars().count()),
            count: small(list.len()),
            letters: small(letters),
        }
    }

    fn ext(&self) -> &'t str {
        &self.name[self.ext_at as usize..]
    }

    fn words(&self) -> impl Iterator<Item = &str> {
        self.words.split_terminator('\0')
    }
}

pub(crate) struct Suggester<'t> {
    tree: &'t Tree,
    /// `[redirects]` of doclinks.toml: old root-relative path to new.
    redirects: HashMap<String, String>,
    source: String,
    /// Renames and recent changes in git, read once, when first asked.
    history: OnceLock<crate::git::History>,
    /// New path to old, for pages that moved themselves.
    moved_from: OnceLock<HashMap<String, String>>,
    /// Close matches by file name, cached per (directory, name).
    similar: Mutex<HashMap<(String, String), Similar>>,
    /// Close matches anywhere in the tree, which depend on the name alone:
    /// cached per name, so the same broken name in many folders costs one scan.
    similar_anywhere: Mutex<HashMap<String, Similar>>,
    /// Every file name of the tree once, split into words: what a search
    /// for a close name anywhere goes through, split once, not per search.
    names: OnceLock<Vec<Name<'t>>>,
    /// Pages as they were before their last change in git, parsed.
    previous: Mutex<HashMap<String, Option<crate::extract::Extracted>>>,
}

impl<'t> Suggester<'t> {
    pub(crate) fn new(tree: &'t Tree, config: &Config) -> Suggester<'t> {
        let source = config
            .source
            .as_deref()
            .and_then(std::path::Path::file_name)
            .map_or_else(|| "doclinks.toml".to_owned(), |n| n.to_string_lossy().into_owned());
        let redirects = config
            .redirects
            .iter()
            .filter_map(|(old, new)| Some((normalize("", old)?, normalize("", new)?)))
            .collect();
        Suggester {
            tree,
            redirects,
            source,
            history: OnceLock::new(),
            moved_from: OnceLock::new(),
            similar: Mutex::new(HashMap::default()),
            similar_anywhere: Mutex::new(HashMap::default()),
            names: OnceLock::new(),
            previous: Mutex::new(HashMap::default()),
        }
    }

    fn exists(&self, path: &str) -> bool {
        !matches!(self.tree.lookup(path), Entry::Missing)
    }

    fn renames(&self) -> &HashMap<String, String> {
        // The answer now depends on git's uncommitted renames too.
        crate::results::used_renames();
        &self.history().renames
    }

    fn history(&self) -> &crate::git::History {
        self.history.get_or_init(|| crate::git::history(&self.tree.root))
    }

    /// Follows renames from `old` to a path that exists. A path named from a
    /// URL may differ in letter case from the file git knows (Hugo lowercases
    /// URLs): one rename of the same path in other case counts too.
    fn renamed(&self, old: &str) -> Option<String> {
        let renames = self.renames();
        let mut current = match renames.get(old) {
            Some(new) => new,
            None => {
                let lower = old.to_lowercase();
                let mut same = renames.iter().filter(|(k, _)| k.to_lowercase() == lower);
                match (same.next(), same.next()) {
                    (Some((_, new)), None) => new,
                    _ => return None,
                }
            }
        };
        let mut seen = HashSet::default();
        while !self.exists(current) {
            if !seen.insert(current.clone()) {
                return None;
            }
            current = renames.get(current)?;
        }
        Some(current.clone())
    }

    /// Whether git records a rename of `path` (in any letter case) to a file
    /// that exists.
    pub(crate) fn was_renamed(&self, path: &str) -> bool {
        self.renamed(path).is_some()
    }

    /// Where the page `file` was before its last rename, if it moved.
    fn old_location(&self, file: &str) -> Option<&String> {
        self.moved_from
            .get_or_init(|| {
                let mut back = HashMap::default();
                for (old, new) in self.renames() {
                    back.entry(new.clone()).or_insert_with(|| old.clone());
                }
                back
            })
            .get(file)
    }

    /// Whether exactly one file of the tree has this name, in any letter case
    /// (`Params.md` and `params.md` are two candidates, not one).
    fn unique_name(&self, name: &str) -> bool {
        self.tree.named_in_any_case(name) == 1
    }

    /// Every candidate for a missing target, best first.
    pub(crate) fn candidates(
        &self,
        model: &Model,
        file: &str,
        missing: &Missing<'_>,
    ) -> Vec<Candidate> {
        let mut out = Vec::new();
        let high =
            |path: String, reason: String| Candidate { path, confidence: Confidence::High, reason };
        let wanted = missing.wanted.as_str();
        let link = &missing.link;
        // Git renames first: of the target, then of the linking page (the link
        // was written where the page used to be), then of both.
        if let Some(new) = self.renamed(wanted) {
            out.push(high(new, "renamed in git history".to_owned()));
        }
        if !link.root_absolute
            && !link.tilde
            && let Some(old_file) = self.old_location(file)
            && let Some(old_path) = normalize(parent(old_file), &link.path.replace('\\', "/"))
        {
            // A URL written without the extension (`rect` for `rect.md`) named
            // the page beside the old location too.
            let old_target = if self.exists(&old_path) || link.has_extension() {
                old_path
            } else {
                ["md", "mdx"]
                    .iter()
                    .map(|ext| format!("{old_path}.{ext}"))
                    .chain([format!("{old_path}/index.md")])
                    .find(|p| self.tree.index(p).is_some() || self.renamed(p).is_some())
                    .unwrap_or(old_path)
            };
            if self.exists(&old_target) {
                out.push(high(
                    old_target.clone(),
                    format!("the linking page moved from {old_file} in git history"),
                ));
            } else if let Some(new) = self.renamed(&old_target) {
                out.push(high(
                    new,
                    format!("both moved in git history (this page from {old_file})"),
                ));
            }
        }
        if let Some(redirect) = model.redirect_for_file(self.tree, file, wanted)
            && let Some(to) = &redirect.to
        {
            out.push(high(to.clone(), format!("redirect map in {}", redirect.source)));
        }
        if let Some(new) = self.redirects.get(wanted).filter(|n| self.exists(n)) {
            out.push(high(new.clone(), format!("redirect map in {} [redirects]", self.source)));
        }
        if (link.root_absolute || !link.has_extension())
            && !link.tilde
            && self.tree.index(wanted).is_some()
        {
            // The page is where the URL says, but served elsewhere (its slug or id).
            out.push(high(wanted.to_owned(), format!("`{wanted}` is served at another URL")));
        }
        if let Some(variant) = &missing.case_variant {
            out.push(high(variant.clone(), "case-only mismatch".to_owned()));
        } else {
            let variants = self.tree.case_variants(wanted);
            if variants.len() > 1 {
                out.push(Candidate {
                    path: variants[0].to_owned(),
                    confidence: Confidence::Low,
                    reason: format!("{} paths differ only in case", variants.len()),
                });
            }
        }
        if link.path.contains('\\') {
            let base = if link.root_absolute { "" } else { parent(file) };
            if let Some(path) = normalize(base, &link.path.replace('\\', "/"))
                && self.exists(&path)
            {
                out.push(high(path, "`\\` written for the path separator `/`".to_owned()));
            }
        }
        let scope = model.scope(self.tree, file);
        for mut candidate in self.by_name(file, missing) {
            // The same name in another version or content folder is a guess.
            if candidate.confidence > Confidence::Low
                && scope.is_some()
                && model.scope(self.tree, &candidate.path) != scope
            {
                candidate.confidence = match candidate.confidence {
                    Confidence::High => Confidence::Medium,
                    _ => Confidence::Low,
                };
                candidate.reason.push_str(", in another content folder");
            }
            out.push(candidate);
        }
        out
    }

    /// Candidates found by the file name: the same name once in the tree
    /// (high), the same stem or one `../` away (medium unless unique), names of
    /// close words (medium), several files of that name (low).
    fn by_name(&self, file: &str, missing: &Missing<'_>) -> Vec<Candidate> {
        let mut out = Vec::new();
        let wanted = missing.wanted.as_str();
        let name = file_name(wanted).replace('\\', "/");
        let name = file_name(&name).to_owned();
        let others = |v: &[usize]| -> Vec<usize> {
            v.iter().copied().filter(|&i| self.tree.files[i] != wanted).collect()
        };
        let named = others(&self.tree.named(&name));
        let unique = |path: &str| self.unique_name(file_name(path));
        if named.len() == 1 && self.unique_name(&name) {
            out.push(Candidate {
                path: self.tree.files[named[0]].clone(),
                confidence: Confidence::High,
                reason: format!("`{name}` exists once in the tree"),
            });
        }
        if !name.contains('.') || name.ends_with(".md") && named.is_empty() {
            // An extensionless link (`page` for `page.md`), or `page.md` for `page.mdx`.
            let base = name.trim_end_matches(".md");
            for ext in ["md", "mdx"] {
                let with = others(&self.tree.named(&format!("{base}.{ext}")));
                if with.len() == 1
                    && format!("{base}.{ext}") != name
                    && self.unique_name(&format!("{base}.{ext}"))
                {
                    out.push(Candidate {
                        path: self.tree.files[with[0]].clone(),
                        confidence: Confidence::High,
                        reason: format!("`{base}.{ext}` exists once in the tree"),
                    });
                }
            }
        }
        let same_stem: Vec<usize> = self
            .tree
            .in_dir(parent(wanted))
            .into_iter()
            .filter(|&i| stem(file_name(&self.tree.files[i])) == stem(&name))
            .collect();
        let same_stem = others(&same_stem);
        if same_stem.len() == 1 {
            let path = self.tree.files[same_stem[0]].clone();
            let confidence = if unique(&path) { Confidence::High } else { Confidence::Medium };
            let reason = format!("extension changed to `{}`", file_name(&path));
            out.push(Candidate { path, confidence, reason });
        }
        if let Some(candidate) = self.climb(file, missing) {
            out.push(candidate);
        }
        if let Some((path, score)) = self.similar(wanted) {
            out.push(Candidate {
                path,
                confidence: Confidence::Medium,
                reason: format!("similar file name ({:.0}% of its words)", score * 100.0),
            });
        }
        if named.len() > 1 {
            let mut paths: Vec<&String> = named.iter().map(|&i| &self.tree.files[i]).collect();
            paths.sort_by_cached_key(|p| (strsim::levenshtein(p, wanted), p.as_str()));
            let listed: Vec<&str> = paths.iter().take(3).map(|p| p.as_str()).collect();
            for path in &paths {
                out.push(Candidate {
                    path: (*path).clone(),
                    confidence: Confidence::Low,
                    reason: format!("{} files named `{name}`: {}", named.len(), listed.join(", ")),
                });
            }
        }
        out
    }

    /// One `../` too many or too few, when exactly one variant exists.
    fn climb(&self, file: &str, missing: &Missing<'_>) -> Option<Candidate> {
        let link = &missing.link;
        if link.root_absolute || link.tilde {
            return None;
        }
        let written = link.path.replace('\\', "/");
        let mut found = Vec::new();
        if let Some(rest) = written.strip_prefix("../")
            && let Some(path) = normalize(parent(file), rest)
            && self.exists(&path)
        {
            found.push((path, "one `../` too many"));
        }
        if let Some(path) = normalize(parent(file), &format!("../{written}"))
            && self.exists(&path)
        {
            found.push((path, "one `../` too few"));
        }
        if found.len() != 1 {
            return None;
        }
        let (path, reason) = found.pop()?;
        let unique = self.unique_name(file_name(&path));
        let confidence = if unique { Confidence::High } else { Confidence::Medium };
        Some(Candidate { path, confidence, reason: reason.to_owned() })
    }

    /// The one file whose name's words are close to the missing name's: in
    /// the same directory first, then anywhere among files of its extension.
    fn similar(&self, wanted: &str) -> Option<(String, f64)> {
        let key = (parent(wanted).to_owned(), file_name(wanted).to_owned());
        if let Some(hit) = self.similar.lock().expect("similarity cache").get(&key) {
            return hit.clone();
        }
        let name = file_name(wanted);
        let same_dir = self
            .tree
            .in_dir(parent(wanted))
            .into_iter()
            .map(|i| self.tree.files[i].as_str())
            .filter(|p| extension(p) == extension(name));
        let mut hit =
            best_by_words(same_dir, |p| file_name(p), name).map(|(p, s)| (p.to_owned(), s));
        if hit.is_none() {
            hit = self.similar_anywhere(name);
        }
        self.similar.lock().expect("similarity cache").insert(key, hit.clone());
        hit
    }

    fn names(&self) -> &[Name<'t>] {
        self.names.get_or_init(|| {
            let names: Vec<&str> = self.tree.distinct_names().collect();
            names.into_par_iter().map(Name::of).collect()
        })
    }

    /// The one file whose name is a close match of `name`, anywhere in the tree.
    fn similar_anywhere(&self, name: &str) -> Similar {
        if let Some(hit) = self.similar_anywhere.lock().expect("similarity cache").get(name) {
            return hit.clone();
        }
        let hit = close_name(self.names(), name).and_then(|(best, score)| {
            match self.tree.named(best).as_slice() {
                [only] => Some((self.tree.files[*only].clone(), score)),
                _ => None,
            }
        });
        self.similar_anywhere
            .lock()
            .expect("similarity cache")
            .insert(name.to_owned(), hit.clone());
        hit
    }

    /// A fragment that named a heading of `page` before its last change in
    /// git, when the headings are as many as before: the heading at the same
    /// place now (high: git names the new id).
    pub(crate) fn reworded_heading(
        &self,
        page: &str,
        fragment: &str,
        current: &crate::extract::Extracted,
        flavor: crate::slug::Flavor,
        terms: bool,
    ) -> Option<(String, Confidence, String)> {
        // Only pages git changed recently: a git run per page of a large
        // tree would cost more than the whole check.
        let recent = &self.history().recent;
        let changed_in = recent.get(page)?;
        let old = {
            let mut cache = self.previous.lock().expect("previous versions lock");
            cache
                .entry(page.to_owned())
                .or_insert_with(|| {
                    crate::git::previous_version(&self.tree.root, page, changed_in.as_deref())
                        .map(|text| crate::extract::extract(&text))
                })
                .as_ref()
                .map(|doc| doc.heading_ids(flavor, terms))?
        };
        let new = current.heading_ids(flavor, terms);
        let at = old.iter().position(|id| id == fragment)?;
        if old.len() != new.len() || new[at] == old[at] || new.iter().any(|id| id == fragment) {
            return None;
        }
        Some((new[at].clone(), Confidence::High, "heading reworded in git history".to_owned()))
    }

    /// A fix for a fragment that matches none of the target's anchors.
    pub(crate) fn anchor(
        &self,
        fragment: &str,
        anchors: &crate::check::AnchorNames,
    ) -> Option<(String, Confidence, String)> {
        let lower = fragment.to_lowercase();
        // Compared without a lowercased copy of each anchor when both are
        // ASCII (a page has hundreds of anchors, a broken fragment is
        // compared with each).
        let same_but_case = |a: &str| {
            if a.is_ascii() && lower.is_ascii() {
                a.len() == lower.len()
                    && a.bytes().zip(lower.bytes()).all(|(x, y)| x.to_ascii_lowercase() == y)
            } else {
                a.to_lowercase() == lower
            }
        };
        let mut case_only = anchors.iter().filter(|a| same_but_case(a));
        if let (Some(a), None) = (case_only.next(), case_only.next()) {
            return Some((
                a.to_owned(),
                Confidence::High,
                "anchor differs only in case".to_owned(),
            ));
        }
        let slugged =
            crate::slug::slug(&crate::resolve::percent_decode(fragment).replace('-', " "));
        let slugged_plain = crate::slug::slug(fragment);
        for s in [slugged_plain, slugged] {
            if !s.is_empty() && anchors.contains(&s) {
                return Some((
                    s,
                    Confidence::High,
                    "fragment written as heading text, not its slug".to_owned(),
                ));
            }
        }
        let Some((best, score)) = closest_anchor(anchors.iter(), fragment) else {
            let glued = glued_anchor(&lower, anchors.iter())?;
            let reason = "the one anchor holding the fragment whole (a label glued to the heading)";
            return Some((glued.to_owned(), Confidence::Medium, reason.to_owned()));
        };
        Some((
            best.to_owned(),
            Confidence::Medium,
            format!("close match of a heading ({:.0}% of its words)", score * 100.0),
        ))
    }
}

/// Whether two names are close enough in length to be similar by words.
/// The one name of `names` (of the same extension) that is close to `name`
/// by words, with its score: [`best_by_words`] over them, faster.
fn close_name<'t>(names: &[Name<'t>], name: &str) -> Option<(&'t str, f64)> {
    let (ext, length, target) = (extension(name), name.chars().count(), words(name));
    let letters: usize = target.iter().map(String::len).sum();
    // Names far apart in length or in number of words cannot score near
    // 0.8 (nor spoil a winner): most names are skipped before any edit
    // distance is computed.
    let near = |n: &&Name<'t>| {
        n.name != name
            && n.ext() == ext
            && close_in_length(n.chars as usize, length)
            && (n.letters as usize == letters || may_score(target.len(), n.count as usize))
    };
    // Scored on both cores (a page's broken links are searched one by one);
    // the winner does not depend on the order. The words are split into a
    // list each thread reuses.
    let scored: Vec<(&str, f64)> = names
        .par_iter()
        .filter(near)
        .map_init(Vec::new, |list: &mut Vec<&str>, n| {
            list.clear();
            list.extend(n.words());
            (n.name, similarity_of_word_lists(&target, list))
        })
        .collect();
    clear_winner(scored.into_iter())
}

/// Whether names of `a` and `b` words can score 0.75 or more by words when
/// their letters differ: each word pairs with one word at most, for a
/// similarity of 1 at most, so the score is at most `2·min / (a + b)`. A
/// name below 0.75 can neither win (0.8) nor come within 0.05 of a winner.
fn may_score(a: usize, b: usize) -> bool {
    8 * a.min(b) >= 3 * (a + b)
}

/// Whether names of `a` and `b` characters can be close by words.
fn close_in_length(a: usize, b: usize) -> bool {
    a.abs_diff(b) * 100 <= a.max(b) * 45
}

fn extension(name: &str) -> &str {
    let name = file_name(name);
    name.rfind('.').map_or("", |i| &name[i..])
}

/// The words of a name: its stem split at non-alphanumerics and lower-to-upper
/// case changes, lowercased (`getStarted-guide.md` → `get`, `started`, `guide`).
fn words(name: &str) -> Vec<String> {
    let stem = match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    };
    let mut out = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in stem.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    // A number prefix orders pages (`01-intro`); it is not part of the name.
    if out.len() > 1 && out[0].bytes().all(|b| b.is_ascii_digit()) {
        out.remove(0);
    }
    out
}

/// How close two names are by their words, from 0 to 1: each word of `a` is
/// paired with the most similar unpaired word of `b`, a pair counts when its
/// words are one edit apart (up to five letters; two edits up to ten, three
/// beyond), and the score is the paired similarity over the words of both. Names equal but for their
/// separators (`setup`, `set-up`) score 1. Digits must match exactly:
/// `c4702` is not `c4703`.
#[cfg(test)]
fn word_similarity(a: &str, b: &str) -> f64 {
    similarity_of_words(&words(a), b)
}

/// [`word_similarity`] with the first name already split into words.
fn similarity_of_words(wa: &[String], b: &str) -> f64 {
    similarity_of_word_lists(wa, &words(b))
}

/// The digits of a word, in order.
fn digits(word: &str) -> impl Iterator<Item = char> + '_ {
    word.chars().filter(char::is_ascii_digit)
}

/// [`word_similarity`] of two names split into words.
fn similarity_of_word_lists(wa: &[impl AsRef<str>], wb: &[impl AsRef<str>]) -> f64 {
    if wa.is_empty() || wb.is_empty() {
        return 0.0;
    }
    // Compared as they come, not joined: this runs for every name of a
    // tree when a broken link is searched for.
    if wa.iter().flat_map(|w| w.as_ref().bytes()).eq(wb.iter().flat_map(|w| w.as_ref().bytes())) {
        return 1.0;
    }
    // Which words of `wb` are paired: a bit each (a list past 64 words).
    let mut used_bits = 0u64;
    let mut used_list = vec![false; if wb.len() > 64 { wb.len() } else { 0 }];
    let mut total = 0.0;
    for word in wa {
        let word = word.as_ref();
        let mut best: Option<(usize, f64)> = None;
        for (j, other) in wb.iter().enumerate() {
            let other = other.as_ref();
            let used =
                if j < 64 && used_list.is_empty() { used_bits >> j & 1 == 1 } else { used_list[j] };
            if used {
                continue;
            }
            if !digits(word).eq(digits(other)) {
                continue;
            }
            // One edit in a word of up to five letters, two up to ten, three beyond.
            let (length, other_length) = (word.chars().count(), other.chars().count());
            let longest = length.max(other_length);
            let allowed = match longest {
                0..=5 => 1,
                6..=10 => 2,
                _ => 3,
            };
            // The distance is at least the difference in length.
            if length.abs_diff(other_length) > allowed {
                continue;
            }
            let distance = edit_distance(word, other);
            if distance > allowed {
                continue;
            }
            let similarity = 1.0 - distance as f64 / longest as f64;
            if best.is_none_or(|(_, s)| similarity > s) {
                best = Some((j, similarity));
            }
        }
        if let Some((j, similarity)) = best {
            if used_list.is_empty() {
                used_bits |= 1 << j;
            } else {
                used_list[j] = true;
            }
            total += similarity;
        }
    }
    2.0 * total / (wa.len() + wb.len()) as f64
}

/// The item whose key is closest to `target` by words, when it scores at
/// least 0.8 and clearly above every other item. Identical keys do not count
/// (the target itself).
/// The one anchor that is `fragment` (lowercase) with more glued before or
/// after it: a heading `<div>Required</div>**`renderItem`**` has the id
/// `requiredrenderitem`, and links to it say `#renderitem`; a platform badge
/// makes `prop-ios` of `prop`. Word similarity sees one word against another
/// there; short fragments match too much.
fn glued_anchor<'a>(fragment: &str, anchors: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    if fragment.chars().count() < 6 {
        return None;
    }
    // One word glued on (a label, a platform badge), not a longer heading
    // that happens to end in the same words (`#feedback`, `custom-site-feedback`).
    let one_word = |extra: &str| {
        let extra = extra.trim_matches(['-', '_']);
        !extra.is_empty() && !extra.contains(['-', '_'])
    };
    let mut holding = anchors.filter(|a| {
        a.strip_suffix(fragment).or_else(|| a.strip_prefix(fragment)).is_some_and(one_word)
    });
    match (holding.next(), holding.next()) {
        (Some(anchor), None) => Some(anchor),
        _ => None,
    }
}

fn best_by_words<'a>(
    items: impl Iterator<Item = &'a str>,
    key: impl Fn(&'a str) -> &'a str,
    target: &str,
) -> Option<(&'a str, f64)> {
    let target_words = words(target);
    let scored = items
        .filter(|&item| key(item) != target)
        .map(|item| (item, similarity_of_words(&target_words, key(item))));
    clear_winner(scored)
}

/// [`best_by_words`] over a page's anchors, faster: an anchor that is ASCII
/// without capitals (nearly all are: they are slugs) is split without
/// allocating, and one whose number of words keeps it below 0.75 (see
/// [`may_score`]) is not scored; it could neither win nor spoil a winner.
fn closest_anchor<'a>(
    anchors: impl Iterator<Item = &'a str>,
    fragment: &str,
) -> Option<(&'a str, f64)> {
    let target = words(fragment);
    let letters: usize = target.iter().map(String::len).sum();
    let mut list: Vec<&'a str> = Vec::new();
    let scored = anchors.filter(|&a| a != fragment).map(|a| {
        if !plain_words(a, &mut list) {
            return (a, similarity_of_words(&target, a));
        }
        let own_letters: usize = list.iter().map(|w| w.len()).sum();
        if own_letters != letters && !may_score(target.len(), list.len()) {
            return (a, 0.0);
        }
        (a, similarity_of_word_lists(&target, &list))
    });
    clear_winner(scored)
}

/// [`words`] of a name that is ASCII without capitals, as slices of the name:
/// nothing to lowercase and no case change to split at. `false` (and `out`
/// untouched) for any other name.
fn plain_words<'n>(name: &'n str, out: &mut Vec<&'n str>) -> bool {
    if !name.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return false;
    }
    let stem = match name.rfind('.') {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    };
    out.clear();
    out.extend(stem.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()));
    if out.len() > 1 && out[0].bytes().all(|b| b.is_ascii_digit()) {
        out.remove(0);
    }
    true
}

/// Levenshtein distance in characters, as `strsim::levenshtein` counts it;
/// two ASCII words of up to 63 letters (every word the search compares, in
/// practice) on one row on the stack instead of a vector each time.
fn edit_distance(a: &str, b: &str) -> usize {
    const MAX: usize = 63;
    if !(a.is_ascii() && b.is_ascii()) || b.len() > MAX {
        return strsim::levenshtein(a, b);
    }
    let b = b.as_bytes();
    let mut row = [0usize; MAX + 1];
    for (j, cell) in row.iter_mut().enumerate().take(b.len() + 1) {
        *cell = j;
    }
    for (i, &x) in a.as_bytes().iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(x != y);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// The item of the highest score when it is at least 0.8 and clearly above
/// every other item's.
fn clear_winner<'a>(scored: impl Iterator<Item = (&'a str, f64)>) -> Option<(&'a str, f64)> {
    let mut best: Option<(&str, f64)> = None;
    let mut second = 0.0;
    for (item, score) in scored {
        match best {
            Some((_, b)) if score <= b => second = f64::max(second, score),
            _ => {
                if let Some((_, b)) = best {
                    second = f64::max(second, b);
                }
                best = Some((item, score));
            }
        }
    }
    let (item, score) = best?;
    (score >= 0.8 && score - second >= 0.05).then_some((item, score))
}

/// Writes an anchor fix: the destination as written up to `#`, then the anchor.
pub(crate) fn write_anchor(raw_target: &str, anchor: &str) -> String {
    let base = raw_target.find('#').map_or(raw_target, |i| &raw_target[..i]);
    format!("{base}#{}", encode_path(anchor))
}

pub(crate) fn fix(path: String, confidence: Confidence, reason: String) -> Fix {
    Fix { new_target: path, confidence, reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The close-name search skips names that cannot matter, and finds
        /// what a search of every name of the extension finds.
        #[test]
        fn the_close_name_search_finds_what_a_full_search_finds(
            names in proptest::collection::btree_set(
                "(intro|install|instal|setup|set|up|guide|c4702|c4703|api|apis|x)([-_](intro|install|guide|setup|api|ref|v2|2)){0,4}[.](md|yml)",
                0..40,
            ),
            wanted in "(intro|install|instal|setup|guide|c4702|api)([-_](intro|install|guide|up|api|ref|v2)){0,4}[.](md|yml)",
        ) {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let split: Vec<Name<'_>> = names.iter().map(|n| Name::of(n)).collect();
            let full = best_by_words(
                names.iter().copied().filter(|n| {
                    extension(n) == extension(&wanted)
                        && close_in_length(n.chars().count(), wanted.chars().count())
                }),
                |n| n,
                &wanted,
            );
            proptest::prop_assert_eq!(close_name(&split, &wanted), full);
        }
    }

    proptest::proptest! {
        /// The anchor search finds what scoring every anchor finds.
        #[test]
        fn the_anchor_search_finds_what_a_full_search_finds(
            anchors in proptest::collection::btree_set(
                "(intro|install|instal|Setup|set|up|guide|c4702|01|api|x|é)([-_.](intro|install|guide|setup|api|ref|v2|2)){0,4}",
                0..40,
            ),
            fragment in "(intro|install|instal|setup|guide|c4702|api|01)([-_](intro|install|guide|up|api|ref|v2)){0,4}",
        ) {
            let anchors: Vec<&str> = anchors.iter().map(String::as_str).collect();
            proptest::prop_assert_eq!(
                closest_anchor(anchors.iter().copied(), &fragment),
                best_by_words(anchors.iter().copied(), |a| a, &fragment)
            );
        }

        /// Plain names split as [`words`] splits them; others are left to it.
        #[test]
        fn plain_words_are_words(name in "[a-z0-9._ -]{0,24}|[A-Za-zé0-9-]{0,12}") {
            let mut list = Vec::new();
            if plain_words(&name, &mut list) {
                proptest::prop_assert_eq!(list, words(&name));
            } else {
                proptest::prop_assert!(name.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()));
            }
        }

        #[test]
        fn edit_distance_is_strsims(a in "[a-zé]{0,12}", b in "[a-zé]{0,12}|[a-c]{60,70}") {
            proptest::prop_assert_eq!(edit_distance(&a, &b), strsim::levenshtein(&a, &b));
        }
    }

    #[test]
    fn words_split_names() {
        assert_eq!(words("getStarted-guide.md"), ["get", "started", "guide"]);
        assert_eq!(words("C4702_warning.md"), ["c4702", "warning"]);
        assert_eq!(words("README"), ["readme"]);
        assert_eq!(words("01-intro.md"), ["intro"]);
    }

    #[test]
    fn similarity_by_words_not_raw_edit_distance() {
        assert!(word_similarity("instalation.md", "installation.md") >= 0.8);
        assert!(word_similarity("getting-started.md", "getting-started-guide.md") >= 0.8);
        assert_eq!(word_similarity("setup.md", "set-up.md"), 1.0);
        // One of two words entirely different: unrelated pages.
        assert!(word_similarity("using-tiles.md", "using-views.md") < 0.8);
        assert!(word_similarity("compiler-warning-c4702.md", "compiler-warning-c4703.md") < 0.8);
        assert!(word_similarity("a.md", "b.md") < 0.8);
        assert!(word_similarity("new-nme.md", "new-name.md") >= 0.8);
    }

    #[test]
    fn best_needs_a_clear_winner() {
        let items = ["installation.md", "usage.md"];
        assert_eq!(
            best_by_words(items.into_iter(), |s| s, "instalation.md").map(|b| b.0),
            Some("installation.md")
        );
        let tied = ["install-guide.md", "install-guides.md"];
        assert_eq!(best_by_words(tied.into_iter(), |s| s, "install-guidez.md"), None);
    }

    #[test]
    fn a_label_glued_to_a_heading_is_found_only_when_one_anchor_holds_the_fragment() {
        let anchors = ["requiredrenderitem", "keyextractor", "sections"];
        assert_eq!(glued_anchor("renderitem", anchors.into_iter()), Some("requiredrenderitem"));
        let two = ["requiredrenderitem", "renderitem-props"];
        assert_eq!(glued_anchor("renderitem", two.into_iter()), None, "two hold it: no guess");
        assert_eq!(glued_anchor("item", anchors.into_iter()), None, "too short to say");
        assert_eq!(glued_anchor("sections", anchors.into_iter()), None, "itself is no fix");
        let badge = ["ios_backgroundcolor-ios", "custom-site-feedback", "was-this-page-helpful"];
        assert_eq!(
            glued_anchor("ios_backgroundcolor", badge.into_iter()),
            Some("ios_backgroundcolor-ios")
        );
        assert_eq!(glued_anchor("feedback", badge.into_iter()), None, "two words are a heading");
    }

    #[test]
    fn anchor_fixes_keep_the_destination() {
        assert_eq!(write_anchor("page.md?x=1#Old", "new-anchor"), "page.md?x=1#new-anchor");
    }
}
