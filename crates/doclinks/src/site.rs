//! The site model: how each page of the tree is published, and how a link
//! written in it resolves there.
//!
//! Every file belongs to at most one site (the one whose content folder holds
//! it); files outside every site are rendered by the repository host (GitHub or
//! GitLab), where a link is a path to a file. A site knows its routes (the URL
//! each page and asset is served at), its redirects, and its rules: DocFX's
//! case-insensitive paths, `~/` and `\` separators, mkdocs' directory URLs,
//! Docusaurus' doc ids, slugs, static folders and versions, Hugo's sections and
//! bundles, mdBook's `.html` links.
//!
//! Resolution is deliberately forgiving where a site is: a relative link to a
//! file that exists resolves, whatever the platform (the page also renders on
//! the repository host), and a root-absolute URL outside what the model knows
//! is a `site_link`, never a broken link. The same resolver judges fix
//! proposals (`check.rs`): a fix is kept only if its new destination resolves.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::extract::{Extracted, Front};
use crate::fast::HashMap;
use crate::platform::{Detected, DocsInstance, Mapping, Platform, SiteInfo, Spec};
use crate::report::Warning;
use crate::resolve::{Class, Link, classify, encode_path, normalize, percent_decode, relative};
use crate::slug::Flavor;
use crate::tree::{Entry, Tree, file_name, is_markdown, join, parent, push_warning, stem};

/// Where a redirect sends a page that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Redirect {
    /// The file of the tree the redirect leads to, root-relative.
    pub(crate) to: Option<String>,
    /// The URL as the redirect file writes it.
    pub(crate) url: String,
    /// The file the redirect is listed in, root-relative: one string for all
    /// of a file's redirects (a DocFX docset lists thousands).
    pub(crate) source: Arc<str>,
}

/// What a link leads to.
#[derive(Debug)]
pub(crate) enum Resolution<'a> {
    /// A URL with a scheme, a template: not checked.
    External,
    /// `file:///…`, `C:\…`.
    AbsolutePath,
    /// Climbs above the root with `..`.
    OutsideRoot,
    /// A page of the published site that is not in the tree.
    Site,
    /// A URL of the site the model does not know, which would be served from
    /// one of these files of the tree: a site link unless git says such a
    /// file was here (then it is a missing page).
    SiteGuess(Link<'a>, Vec<String>),
    /// Into a directory the walk could not read: not known either way.
    Unreadable,
    /// An existing file or directory.
    Found(Found<'a>),
    /// A page that is gone, which the site's redirects still serve.
    Redirected(Link<'a>, Redirect),
    /// Nothing there on the platform.
    Missing(Missing<'a>),
}

/// A link that resolves.
#[derive(Debug)]
pub(crate) struct Found<'a> {
    /// The file or directory, root-relative.
    pub(crate) path: String,
    /// The page whose anchors a fragment is checked against.
    pub(crate) page: Option<usize>,
    /// Other pages served at the same URL (DocFX monikers: one page per
    /// version); a fragment is fine if any of them has it.
    pub(crate) also: Vec<usize>,
    pub(crate) link: Link<'a>,
}

/// A link that does not resolve.
#[derive(Debug)]
pub(crate) struct Missing<'a> {
    pub(crate) link: Link<'a>,
    /// The root-relative path of the file the link names (for a URL, the
    /// source file it would be served from).
    pub(crate) wanted: String,
    /// The file it names with other letter case, on a case-sensitive platform.
    pub(crate) case_variant: Option<String>,
}

/// How the renderer that shows a page gives it anchors, and how a fragment is matched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AnchorRules {
    pub(crate) flavor: Flavor,
    /// Fragments match whatever their letter case (GitHub).
    pub(crate) insensitive: bool,
    /// Fragments are judged at all.
    pub(crate) judge: bool,
    /// Definition list terms have ids too (Hugo's `autoDefinitionTermID`).
    pub(crate) terms: bool,
}

/// The URL a page is served at, as a route key (no leading or trailing `/`).
#[derive(Debug, Clone)]
struct Url {
    /// Shared with the route table's key: one string a page.
    key: Arc<str>,
    /// Served with a trailing slash (directory URLs), so relative links
    /// resolve from the URL itself, not from its parent.
    dir_like: bool,
}

/// The per-platform switches of resolution.
#[derive(Debug, Clone)]
enum Rules {
    DocFx {
        docset: String,
        mappings: Vec<Mapping>,
    },
    Mkdocs,
    Docusaurus {
        site_dir: String,
        content_dir: HashMap<usize, String>,
        maybe_slash: bool,
        static_dirs: Vec<String>,
    },
    Hugo {
        link_hook: bool,
    },
    MdBook,
    Sphinx,
}

pub(crate) struct Site {
    pub(crate) platform: Platform,
    pub(crate) config: Option<String>,
    roots: Vec<String>,
    pub(crate) flavor: Flavor,
    /// Whether `#fragments` into this site's pages are judged at all.
    judge_fragments: bool,
    /// Definition list terms get ids.
    term_ids: bool,
    rules: Rules,
    routes: HashMap<Arc<str>, usize>,
    /// Further pages at a route that has several (one per DocFX moniker).
    also: HashMap<String, Vec<usize>>,
    urls: HashMap<usize, Url>,
    /// Route keys are lowercase, and lookups are lowercased.
    urls_insensitive: bool,
    /// Files are found whatever their letter case (DocFX).
    files_insensitive: bool,
    /// `\` is a path separator (DocFX).
    backslashes: bool,
    /// The URL path all routes are under (a DocFX base path, mkdocs' site path).
    base: String,
    /// Whether a root-absolute link must start with `base` to be this site's.
    base_required: bool,
    /// Route prefixes the model knows completely: an unknown URL under one is
    /// broken; any other unknown URL is a page the model does not know.
    checked: Vec<String>,
    /// One redirect by the URL and the file it moves away from, shared.
    redirects_by_url: HashMap<String, Arc<Redirect>>,
    redirects_by_file: HashMap<String, Arc<Redirect>>,
    /// Whether a link to a redirected source file works (DocFX follows it,
    /// mdBook writes a redirect page); mkdocs and Docusaurus only redirect URLs.
    file_redirects_work: bool,
    uids: HashMap<String, usize>,
}

/// Every site of the tree and the host that renders the rest.
pub(crate) struct Model {
    pub(crate) host: Platform,
    pub(crate) host_source: Option<String>,
    pub(crate) sites: Vec<Site>,
    /// The site each file belongs to, by file index.
    owner: Vec<Option<usize>>,
    /// What was inferred (a DocFX base path) and from what.
    pub(crate) notes: Vec<String>,
}

/// What the model needs from parsed pages: their front matter keys and their
/// root-absolute links, nothing else (the results cache's run key holds just
/// these; a page cached on disk gives them without being decoded whole).
/// The front matter of a page that has none.
static NO_FRONT: Front = Front { id: None, slug: None, uid: None, url: None, aliases: Vec::new() };

pub(crate) trait Pages {
    /// The front matter keys of page `index` (`None`: not a page read).
    fn front(&self, index: usize) -> Option<&Front>;
    /// Calls `each` with every root-absolute link destination of page `index`.
    fn root_links(&self, index: usize, each: &mut dyn FnMut(&str));
}

fn strip_prefix_dir<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    if dir.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(dir)
            .and_then(|rest| rest.strip_prefix('/').or((rest.is_empty()).then_some("")))
    }
}

/// `a/b.md` → `a/b`.
fn without_extension(path: &str) -> &str {
    let name = file_name(path);
    match crate::tree::last(name, b'.') {
        Some(0) | None => path,
        Some(i) => &path[..path.len() - (name.len() - i)],
    }
}

/// A page path as Hugo looks it up: `a/b.md` as `a/b`, `a/b/` as `a/b`.
fn without_extension_if_page(path: &str) -> &str {
    if is_markdown(path) { without_extension(path) } else { path }
}

/// The extension of the file name, ASCII-lowercased (borrowed when it is
/// lowercase already).
fn extension(path: &str) -> Cow<'_, str> {
    let name = file_name(path);
    let Some(dot) = crate::tree::last(name, b'.') else { return Cow::Borrowed("") };
    let ext = &name[dot + 1..];
    if ext.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(ext.to_ascii_lowercase())
    } else {
        Cow::Borrowed(ext)
    }
}

/// A route key: no leading or trailing `/`, no empty segments.
fn key(path: &str) -> String {
    key_of(path).into_owned()
}

/// [`key`], borrowed from `path` when it has no empty segment inside (nearly
/// every path: the site model looks up every page's routes and every
/// root-absolute link).
fn key_of(path: &str) -> Cow<'_, str> {
    let trimmed = trim_slashes(path);
    if has_double_slash(trimmed) {
        Cow::Owned(trimmed.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/"))
    } else {
        Cow::Borrowed(trimmed)
    }
}

/// `path` without its leading and trailing `/`s (`str::trim_matches`, by
/// bytes: route keys are made for every page and root-absolute link).
fn trim_slashes(path: &str) -> &str {
    let bytes = path.as_bytes();
    let start = bytes.iter().position(|&b| b != b'/').unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != b'/').map_or(start, |i| i + 1);
    &path[start..end]
}

/// Whether `path` has two `/` in a row.
fn has_double_slash(path: &str) -> bool {
    let bytes = path.as_bytes();
    memchr::memchr_iter(b'/', bytes).any(|i| bytes.get(i + 1) == Some(&b'/'))
}

/// `text` lowercased, borrowed when lowercasing cannot change it.
fn lowercase(text: Cow<'_, str>) -> Cow<'_, str> {
    if text.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        text
    } else {
        Cow::Owned(text.to_lowercase())
    }
}

/// Docusaurus' number prefixes: `01-intro` → `intro`; dates and versions
/// (`2021-01-31`, `1.2`) are kept.
fn strip_number_prefix(name: &str) -> &str {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return name;
    }
    let rest = &name[digits..];
    let separators = rest.bytes().take_while(|b| matches!(b, b'-' | b'_' | b'.' | b' ')).count();
    let suffix = &rest[separators..];
    if separators == 0 || suffix.is_empty() || suffix.starts_with(|c: char| c.is_ascii_digit()) {
        return name;
    }
    suffix
}

impl Model {
    /// Builds the model of every detected site over the walked tree.
    pub(crate) fn build(
        tree: &Tree,
        detected: Vec<Detected>,
        host: (Platform, Option<String>),
        base_path: Option<&str>,
        pages: &(dyn Pages + Sync),
        warnings: &Mutex<Vec<Warning>>,
    ) -> Model {
        // Sites are built side by side (a monorepo has many docsets), each
        // with its own notes and warnings, which are then kept in site order.
        let built: Vec<(Site, Vec<String>, Vec<Warning>)> = detected
            .into_par_iter()
            .map(|d| {
                let (mut notes, own) = (Vec::new(), Mutex::new(Vec::new()));
                let site = Site::build(tree, d, base_path, pages, &own, &mut notes);
                (site, notes, own.into_inner().expect("site warnings lock"))
            })
            .collect();
        let mut notes = Vec::new();
        let mut sites = Vec::with_capacity(built.len());
        for (site, site_notes, site_warnings) in built {
            sites.push(site);
            notes.extend(site_notes);
            warnings.lock().expect("warnings lock").extend(site_warnings);
        }
        // A file belongs to the site of the longest content root it is in;
        // of roots of one length, to the first site's. Shorter roots are laid
        // down first and longer ones over them.
        let mut roots: Vec<(usize, usize, &str)> = sites
            .iter()
            .enumerate()
            .flat_map(|(s, site)| site.roots.iter().map(move |root| (root.len(), s, root.as_str())))
            .collect();
        roots.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        let mut owner = vec![None; tree.files.len()];
        for (_, s, root) in roots {
            for index in tree.under(root) {
                owner[index] = Some(s);
            }
        }
        Model { host: host.0, host_source: host.1, sites, owner, notes }
    }

    /// The sites, for reports.
    pub(crate) fn infos(&self) -> Vec<SiteInfo> {
        self.sites
            .iter()
            .map(|s| SiteInfo {
                platform: s.platform,
                config: s.config.clone(),
                content: s.roots.first().cloned().unwrap_or_default(),
            })
            .collect()
    }

    fn site_of(&self, tree: &Tree, file: &str) -> Option<&Site> {
        let index = tree.index(file)?;
        self.owner.get(index).copied().flatten().map(|s| &self.sites[s])
    }

    fn site_index_of(&self, tree: &Tree, file: &str) -> Option<usize> {
        self.owner.get(tree.index(file)?).copied().flatten()
    }

    /// How a `#fragment` from `from` into the page `target` is judged: the
    /// slug flavor, whether letter case matters, and whether it is judged at
    /// all. The renderer that shows the target when the link is followed
    /// decides: the linking page's site for a page of the same site, the
    /// repository host for links from host-rendered files, and the target's own
    /// renderer otherwise.
    pub(crate) fn fragment_rules(&self, tree: &Tree, from: &str, target: usize) -> AnchorRules {
        let from_site = self.site_index_of(tree, from);
        let target_site = self.owner.get(target).copied().flatten();
        let viewer = match (from_site, target_site) {
            (Some(a), Some(b)) if a == b => Some(a),
            (None, _) => None,
            (Some(_), b) => b,
        };
        let rules =
            |flavor, insensitive, judge, terms| AnchorRules { flavor, insensitive, judge, terms };
        match viewer {
            Some(s) => {
                let site = &self.sites[s];
                rules(site.flavor, false, site.judge_fragments, site.term_ids)
            }
            None if self.host == Platform::GitLab => rules(Flavor::GitLab, false, true, false),
            None => rules(Flavor::GitHub, true, true, false),
        }
    }

    /// Whether a fragment is the platform's own syntax rather than an anchor
    /// (DocFX tabs, `#tab/visual-studio`).
    pub(crate) fn is_special_fragment(&self, tree: &Tree, from: &str, fragment: &str) -> bool {
        matches!(self.site_of(tree, from).map(|s| s.platform), Some(Platform::DocFx))
            && fragment.starts_with("tab/")
    }

    /// Resolves `dest`, written in `from`, the way the platform that renders
    /// `from` does.
    pub(crate) fn resolve<'a>(
        &self,
        tree: &Tree,
        dest: &'a str,
        from: &str,
        site_prefixes: &[String],
    ) -> Resolution<'a> {
        let link = match classify(dest) {
            Class::External => return Resolution::External,
            Class::AbsolutePath => return Resolution::AbsolutePath,
            Class::Xref(uid) => return self.xref(tree, uid, dest, from),
            Class::Path(link) => link,
        };
        if link.root_absolute
            && site_prefixes.iter().any(|p| {
                link.path_as_written.starts_with(p.as_str())
                    || link.path_as_written == p.trim_end_matches('/')
            })
        {
            return Resolution::Site;
        }
        if link.same_file {
            let page = tree.index(from);
            return Resolution::Found(Found {
                path: from.to_owned(),
                page,
                also: Vec::new(),
                link,
            });
        }
        match self.site_of(tree, from) {
            None => host_resolve(tree, link, from),
            Some(site) => site.resolve(self, tree, link, from),
        }
    }

    /// `xref:uid`: a page of the tree with that `uid`, or a page elsewhere
    /// on the site (the cross-reference service resolves it).
    fn xref<'a>(&self, tree: &Tree, uid: &'a str, dest: &'a str, from: &str) -> Resolution<'a> {
        let uid = uid.split(['?', '#']).next().unwrap_or(uid);
        let uid = percent_decode(uid);
        for site in &self.sites {
            if let Some(&file) = site.uids.get(uid.as_ref()) {
                let Class::Path(mut link) = classify("") else { return Resolution::Site };
                link.fragment = dest.find('#').map(|i| percent_decode(&dest[i + 1..]));
                let _ = from;
                return Resolution::Found(Found {
                    path: tree.files[file].clone(),
                    page: Some(file),
                    also: Vec::new(),
                    link,
                });
            }
        }
        Resolution::Site
    }

    /// Writes `target` (a root-relative file) as a destination for a link in
    /// `from`, in the style of `link`: relative stays relative, a site URL
    /// stays a site URL (never a `.md` path on a site that serves pages by
    /// URL), `~/` stays `~/`. `None` when the style cannot name the target
    /// (an asset the site does not serve at any URL).
    pub(crate) fn write(
        &self,
        tree: &Tree,
        target: &str,
        link: &Link<'_>,
        from: &str,
    ) -> Option<String> {
        let site = self.site_of(tree, from);
        let is_dir = tree.is_dir(target);
        let mut path = if link.tilde {
            let Some(Site { rules: Rules::DocFx { docset, .. }, .. }) = site else { return None };
            format!("~/{}", encode_path(&relative(docset, target)))
        } else if link.root_absolute {
            match site {
                Some(site) if site.serves_urls() => site.absolute_url(tree, target, link)?,
                _ => format!("/{}", encode_path(target)),
            }
        } else {
            match site {
                Some(site) if site.serves_urls() && !link.has_extension() && !is_dir => {
                    site.relative_url(tree, target, from, link)?
                }
                _ => {
                    let mut rel = relative(parent(from), target);
                    if let Some(Site { platform: Platform::MdBook, .. }) = site
                        && extension(link.name()) == "html"
                        && is_markdown(target)
                    {
                        rel = format!("{}.html", without_extension(&rel));
                    }
                    let mut rel = encode_path(&rel);
                    if link.path_as_written.starts_with("./") && !rel.starts_with("../") {
                        rel = format!("./{rel}");
                    }
                    rel
                }
            }
        };
        // Keep the author's spelling when the new path is the old one but for
        // letter case: `foo(1).md` stays unencoded, `<a b.md>` keeps its space.
        // `path_as_written` is unescaped, so characters that may have needed a
        // backslash or an entity where they stood keep their percent-encoding.
        let decoded = percent_decode(&path);
        if decoded != path
            && decoded.to_lowercase() == link.path_as_written.to_lowercase()
            && !decoded.contains(['<', '>', '\\', '"', '\'', '&'])
            && balanced_parens(&decoded)
        {
            path = decoded.into_owned();
        }
        if is_dir && link.trailing_slash && !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(link.suffix);
        Some(path)
    }

    /// Redirects of the site `from` belongs to, or of any site, for a file
    /// that is gone (root-relative).
    pub(crate) fn redirect_for_file(
        &self,
        tree: &Tree,
        from: &str,
        wanted: &str,
    ) -> Option<&Redirect> {
        let own = self.site_of(tree, from);
        own.into_iter().chain(self.sites.iter()).find_map(|site| site.file_redirect(wanted))
    }

    /// The content folder a file's links are judged in: a Docusaurus
    /// version's folder, else the site's content folder; `None` for files the
    /// host renders. A fix into another one (another version) is not sure.
    pub(crate) fn scope(&self, tree: &Tree, file: &str) -> Option<String> {
        let index = tree.index(file)?;
        let site = &self.sites[self.owner.get(index).copied().flatten()?];
        if let Rules::Docusaurus { content_dir, .. } = &site.rules
            && let Some(dir) = content_dir.get(&index)
        {
            return Some(dir.clone());
        }
        site.roots
            .iter()
            .filter(|r| strip_prefix_dir(file, r).is_some())
            .max_by_key(|r| r.len())
            .cloned()
    }

    /// The files a page includes (DocFX `[!INCLUDE]`, MDX imports), resolved.
    pub(crate) fn includes(&self, tree: &Tree, page: usize, doc: &Extracted) -> Vec<usize> {
        let from = &tree.files[page];
        doc.includes()
            .iter()
            .filter_map(|raw| {
                let decoded = percent_decode(raw).replace('\\', "/");
                let site = self.site_of(tree, from);
                let mut paths: Vec<String> = Vec::new();
                match decoded.strip_prefix("~/") {
                    Some(rest) => {
                        if let Some(Rules::DocFx { docset, .. }) = site.map(|s| &s.rules) {
                            paths.extend(normalize(docset, rest));
                        }
                    }
                    None if decoded.starts_with("@site/") => {}
                    None => {
                        if !decoded.starts_with('/') {
                            paths.extend(normalize(parent(from), &decoded));
                        }
                        // Hugo includes name files from the content folder.
                        if let Some(Site { rules: Rules::Hugo { .. }, roots, .. }) = site {
                            for root in roots {
                                paths.extend(normalize(root, decoded.trim_start_matches('/')));
                            }
                        }
                    }
                }
                paths.iter().find_map(|path| {
                    tree.index(path).or_else(|| {
                        let variants = tree.case_variants(path);
                        (variants.len() == 1).then(|| tree.index(variants[0])).flatten()
                    })
                })
            })
            .collect()
    }
}

/// Whether every `)` closes an earlier `(`, as an unbracketed destination needs.
fn balanced_parens(text: &str) -> bool {
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => {}
        }
    }
    depth == 0
}

/// A file or directory of the tree at `path`, as a resolution.
fn found_at<'a>(tree: &Tree, path: String, link: Link<'a>) -> Result<Resolution<'a>, Link<'a>> {
    match tree.lookup(&path) {
        Entry::File(index) => {
            Ok(Resolution::Found(Found { path, page: index, also: Vec::new(), link }))
        }
        Entry::Dir => {
            let page = tree.dir_index(&path);
            Ok(Resolution::Found(Found { path, page, also: Vec::new(), link }))
        }
        Entry::Missing if tree.in_unreadable(&path).is_some() => Ok(Resolution::Unreadable),
        Entry::Missing => Err(link),
    }
}

/// GitHub and GitLab: a path to a file, from the linking file or (`/x`) the root.
fn host_resolve<'a>(tree: &Tree, link: Link<'a>, from: &str) -> Resolution<'a> {
    let base = if link.root_absolute { "" } else { parent(from) };
    let Some(path) = normalize(base, &link.path) else { return Resolution::OutsideRoot };
    match found_at(tree, path.clone(), link) {
        Ok(found) => found,
        Err(link) => missing(tree, link, path),
    }
}

/// A missing path, with its case variant when there is exactly one.
fn missing<'a>(tree: &Tree, link: Link<'a>, wanted: String) -> Resolution<'a> {
    // Below a folder the walk could not read nothing is known to be missing,
    // whichever way (file, route, URL) the link led there.
    if tree.in_unreadable(&wanted).is_some() {
        return Resolution::Unreadable;
    }
    let variants = tree.case_variants(&wanted);
    // The path itself existing is not a letter-case problem (its URL is).
    let case_variant = match variants.as_slice() {
        [only] if *only != wanted => Some((*only).to_owned()),
        _ => None,
    };
    Resolution::Missing(Missing { link, wanted, case_variant })
}

impl Site {
    fn build(
        tree: &Tree,
        detected: Detected,
        base_path: Option<&str>,
        pages: &dyn Pages,
        warnings: &Mutex<Vec<Warning>>,
        notes: &mut Vec<String>,
    ) -> Site {
        let roots = detected.content_roots();
        let mut site = Site {
            platform: detected.platform,
            config: detected.config.clone(),
            roots,
            flavor: Flavor::GitHub,
            judge_fragments: true,
            term_ids: false,
            rules: Rules::Mkdocs,
            routes: HashMap::default(),
            also: HashMap::default(),
            urls: HashMap::default(),
            urls_insensitive: false,
            files_insensitive: false,
            backslashes: false,
            base: String::new(),
            base_required: false,
            checked: Vec::new(),
            redirects_by_url: HashMap::default(),
            redirects_by_file: HashMap::default(),
            file_redirects_work: false,
            uids: HashMap::default(),
        };
        match detected.spec {
            Spec::DocFx { docset, mappings, base_path: configured, redirect_files, breadcrumb } => {
                site.flavor = Flavor::Markdig;
                site.urls_insensitive = true;
                site.files_insensitive = true;
                site.backslashes = true;
                site.base_required = true;
                site.file_redirects_work = true;
                site.rules = Rules::DocFx { docset: docset.clone(), mappings: mappings.clone() };
                for mapping in &mappings {
                    let (src, dest) = (&mapping.src, &mapping.dest);
                    for i in tree.under(src) {
                        let file = &tree.files[i];
                        let rel = strip_prefix_dir(file, src).unwrap_or(file);
                        if !mapping.contains(rel) {
                            continue;
                        }
                        let ext = extension(rel);
                        let page = matches!(ext.as_ref(), "md" | "yml" | "yaml");
                        let url_path = if page { without_extension(rel) } else { rel };
                        let url = key(&join(dest, url_path)).to_lowercase();
                        let index_page = page && stem(file_name(rel)).eq_ignore_ascii_case("index");
                        if index_page {
                            let dir: Arc<str> = key(&join(dest, parent(rel))).to_lowercase().into();
                            site.add_route(Arc::clone(&dir), i);
                            site.urls.entry(i).or_insert(Url { key: dir, dir_like: true });
                        }
                        let url: Arc<str> = url.into();
                        site.add_route(Arc::clone(&url), i);
                        site.urls.entry(i).or_insert(Url { key: url, dir_like: false });
                    }
                    site.checked.push(key(dest).to_lowercase());
                }
                for i in tree.under(&docset) {
                    if let Some(uid) = pages.front(i).and_then(|f| f.uid.as_ref()) {
                        site.uids.entry(uid.clone()).or_insert(i);
                    }
                }
                let raw = read_docfx_redirects(tree, &redirect_files, warnings);
                site.base = match configured.or(base_path.map(str::to_owned)) {
                    Some(base) => {
                        let base = key(&base).to_lowercase();
                        notes.push(format!(
                            "{}: base path /{base}/ from doclinks.toml",
                            docset_label(&docset)
                        ));
                        base
                    }
                    None => {
                        let (base, note) =
                            site.infer_base(tree, &docset, &raw, breadcrumb.as_deref(), pages);
                        notes.push(note);
                        base.unwrap_or_default()
                    }
                };
                site.docfx_redirects(tree, raw);
            }
            Spec::Mkdocs { docs_dir, use_directory_urls, site_path, pymdownx_slugs, redirects } => {
                site.flavor =
                    if pymdownx_slugs { Flavor::Pymdownx } else { Flavor::PythonMarkdown };
                site.base = site_path;
                for i in tree.under(&docs_dir) {
                    let file = &tree.files[i];
                    let rel = strip_prefix_dir(file, &docs_dir).unwrap_or(file);
                    let url = if is_markdown(rel) {
                        let name = stem(file_name(rel));
                        if name == "index" || name.eq_ignore_ascii_case("readme") {
                            Url { key: key(parent(rel)).into(), dir_like: true }
                        } else if use_directory_urls {
                            Url { key: key(without_extension(rel)).into(), dir_like: true }
                        } else {
                            Url {
                                key: format!("{}.html", key(without_extension(rel))).into(),
                                dir_like: false,
                            }
                        }
                    } else {
                        Url { key: key(rel).into(), dir_like: false }
                    };
                    site.routes.entry(Arc::clone(&url.key)).or_insert(i);
                    site.urls.insert(i, url);
                }
                let source: Arc<str> = Arc::from("mkdocs.yml redirect_maps");
                for (old, new) in redirects {
                    let to = tree.index(&new).map(|_| new.clone());
                    let redirect = Arc::new(Redirect { to, url: new, source: source.clone() });
                    if let Some(old_rel) = strip_prefix_dir(&old, &docs_dir) {
                        let stem_key = key(without_extension(old_rel));
                        site.redirects_by_url.insert(stem_key, Arc::clone(&redirect));
                    }
                    site.redirects_by_file.insert(old, redirect);
                }
            }
            Spec::Docusaurus {
                site_dir,
                base_url,
                docs,
                static_dirs,
                blog,
                pages: pages_dir,
                trailing_slash,
            } => {
                site.base = base_url;
                let mut content_dir = HashMap::default();
                for instance in &docs {
                    site.docusaurus_docs(
                        tree,
                        instance,
                        &site_dir,
                        trailing_slash,
                        pages,
                        &mut content_dir,
                    );
                }
                for dir in &static_dirs {
                    for i in tree.under(dir) {
                        let rel = strip_prefix_dir(&tree.files[i], dir).unwrap_or_default();
                        if file_name(rel) == "_redirects" {
                            site.netlify_redirects(tree, i);
                        }
                        let url: Arc<str> = key(rel).into();
                        site.routes.entry(Arc::clone(&url)).or_insert(i);
                        site.urls.entry(i).or_insert(Url { key: url, dir_like: false });
                    }
                }
                for i in tree.under(&pages_dir) {
                    let rel = strip_prefix_dir(&tree.files[i], &pages_dir).unwrap_or_default();
                    if rel.split('/').any(|s| s.starts_with('_')) {
                        continue;
                    }
                    let ext = extension(rel);
                    if !matches!(ext.as_ref(), "js" | "jsx" | "ts" | "tsx" | "md" | "mdx") {
                        continue;
                    }
                    let path = without_extension(rel);
                    let url: Arc<str> =
                        if file_name(path) == "index" { key(parent(path)) } else { key(path) }
                            .into();
                    site.routes.entry(Arc::clone(&url)).or_insert(i);
                    site.urls
                        .entry(i)
                        .or_insert(Url { key: url, dir_like: trailing_slash == Some(true) });
                }
                if let Some((dir, route)) = &blog {
                    site.docusaurus_blog(tree, dir, route, trailing_slash, pages);
                }
                site.rules = Rules::Docusaurus {
                    site_dir,
                    content_dir,
                    maybe_slash: trailing_slash.is_none(),
                    static_dirs,
                };
            }
            Spec::Hugo {
                content_dirs,
                static_dirs,
                assets_dir,
                lower_paths,
                link_hook,
                term_ids,
                ..
            } => {
                site.flavor = Flavor::Hugo;
                site.term_ids = term_ids;
                site.urls_insensitive = lower_paths;
                for dir in &content_dirs {
                    for i in tree.under(dir) {
                        let rel = strip_prefix_dir(&tree.files[i], dir).unwrap_or_default();
                        let front = pages.front(i).unwrap_or(&NO_FRONT);
                        let url = if is_markdown(rel) || extension(rel) == "html" {
                            let name = stem(file_name(rel));
                            let mut url = if name == "_index" || name == "index" {
                                key(parent(rel))
                            } else {
                                key(without_extension(rel))
                            };
                            if let Some(slug) = &front.slug
                                && name != "_index"
                                && name != "index"
                            {
                                url = key(&join(parent(&url), slug));
                            }
                            if let Some(explicit) = &front.url {
                                url = key(explicit);
                            }
                            for alias in &front.aliases {
                                let alias = hugo_key(alias, lower_paths);
                                site.redirects_by_url.insert(
                                    alias,
                                    Arc::new(Redirect {
                                        to: Some(tree.files[i].clone()),
                                        url: url.clone(),
                                        source: format!("aliases of {}", tree.files[i]).into(),
                                    }),
                                );
                            }
                            Url { key: hugo_key(&url, lower_paths).into(), dir_like: true }
                        } else {
                            Url { key: key(rel).into(), dir_like: false }
                        };
                        if lower_paths && !url.dir_like {
                            site.routes.entry(url.key.to_lowercase().into()).or_insert(i);
                        }
                        site.routes.entry(Arc::clone(&url.key)).or_insert(i);
                        site.urls.entry(i).or_insert(url);
                    }
                    for sub in tree.dirs().filter(|d| parent(d) == dir.as_str()) {
                        site.checked.push(hugo_key(file_name(sub), lower_paths));
                    }
                }
                let mut served = static_dirs.clone();
                if link_hook {
                    served.push(assets_dir.clone());
                }
                for dir in &served {
                    for i in tree.under(dir) {
                        let rel = strip_prefix_dir(&tree.files[i], dir).unwrap_or_default();
                        let url: Arc<str> = key(rel).into();
                        site.routes.entry(Arc::clone(&url)).or_insert(i);
                        site.urls.entry(i).or_insert(Url { key: url, dir_like: false });
                    }
                }
                site.rules = Rules::Hugo { link_hook };
            }
            Spec::MdBook { book_dir, src, redirects } => {
                site.flavor = Flavor::MdBook;
                site.rules = Rules::MdBook;
                site.file_redirects_work = true;
                for i in tree.under(&src) {
                    let rel = strip_prefix_dir(&tree.files[i], &src).unwrap_or_default();
                    let url: Arc<str> = if is_markdown(rel) {
                        format!("{}.html", key(without_extension(rel))).into()
                    } else {
                        key(rel).into()
                    };
                    if stem(file_name(rel)).eq_ignore_ascii_case("readme") {
                        site.routes
                            .entry(key(&join(parent(rel), "index.html")).into())
                            .or_insert(i);
                    }
                    site.routes.entry(Arc::clone(&url)).or_insert(i);
                    site.urls.entry(i).or_insert(Url { key: url, dir_like: false });
                }
                let source: Arc<str> = format!(
                    "{} [output.html.redirect]",
                    detected.config.as_deref().unwrap_or("book.toml")
                )
                .into();
                for (old, new) in redirects {
                    let new_key = key(&normalize(parent(&old), &new).unwrap_or_default());
                    let to = site.routes.get(new_key.as_str()).map(|&i| tree.files[i].clone());
                    let redirect = Arc::new(Redirect { to, url: new, source: Arc::clone(&source) });
                    let _ = &book_dir;
                    site.redirects_by_url.insert(key(&old), Arc::clone(&redirect));
                    if let Some(md) = old.strip_suffix(".html") {
                        site.redirects_by_file.insert(join(&src, &format!("{md}.md")), redirect);
                    }
                }
            }
            Spec::Sphinx { src, heading_anchors } => {
                site.rules = Rules::Sphinx;
                site.judge_fragments = heading_anchors;
                for i in tree.under(&src) {
                    let rel = strip_prefix_dir(&tree.files[i], &src).unwrap_or_default();
                    site.routes.entry(key(without_extension(rel)).into()).or_insert(i);
                }
            }
        }
        site
    }

    /// A route to page `i`; a route that has a page already keeps it first
    /// and records `i` as another page at the same URL.
    fn add_route(&mut self, url: Arc<str>, i: usize) {
        match self.routes.get(&url) {
            Some(&first) if first != i => {
                let also = self.also.entry(url.to_string()).or_default();
                if !also.contains(&i) {
                    also.push(i);
                }
            }
            Some(_) => {}
            None => {
                self.routes.insert(url, i);
            }
        }
    }

    fn serves_urls(&self) -> bool {
        matches!(
            self.rules,
            Rules::DocFx { .. } | Rules::Mkdocs | Rules::Docusaurus { .. } | Rules::Hugo { .. }
        )
    }

    fn route_key(&self, path: &str) -> String {
        self.route_key_of(path).into_owned()
    }

    /// [`Site::route_key`], borrowed from `path` where it can be.
    fn route_key_of<'p>(&self, path: &'p str) -> Cow<'p, str> {
        let k = key_of(path);
        if self.urls_insensitive { lowercase(k) } else { k }
    }

    fn route(&self, path: &str) -> Option<usize> {
        let k = self.route_key_of(path);
        if let Some(&i) = self.routes.get(k.as_ref()) {
            return Some(i);
        }
        // `page/index.html` and `page.html` name the page at `page/`.
        let trimmed =
            k.strip_suffix("/index.html").or_else(|| k.strip_suffix("index.html")).unwrap_or(&k);
        if trimmed != k {
            return self.routes.get(trimmed.trim_end_matches('/')).copied();
        }
        None
    }

    /// A file of the tree at `path`, whatever its letter case where the site
    /// ignores case.
    fn file(&self, tree: &Tree, path: &str) -> Option<String> {
        if !matches!(tree.lookup(path), Entry::Missing) {
            return Some(path.to_owned());
        }
        if self.files_insensitive {
            let variants = tree.case_variants(path);
            if variants.len() == 1 {
                return Some(variants[0].to_owned());
            }
        }
        None
    }

    fn file_redirect(&self, wanted: &str) -> Option<&Redirect> {
        let k = if self.files_insensitive { wanted.to_lowercase() } else { wanted.to_owned() };
        self.redirects_by_file.get(&k).map(Arc::as_ref)
    }

    fn url_redirect(&self, url_key: &str) -> Option<&Redirect> {
        let k = self.route_key(url_key);
        if let Some(r) = self.redirects_by_url.get(&k) {
            return Some(r);
        }
        // Splats: `/old/*  /new/:splat`.
        self.redirects_by_url.iter().find_map(|(from, r)| {
            let prefix = from.strip_suffix('*')?;
            (k.starts_with(prefix.trim_end_matches('/')) && !prefix.is_empty()).then_some(&**r)
        })
    }

    fn resolve<'a>(
        &self,
        model: &Model,
        tree: &Tree,
        mut link: Link<'a>,
        from: &str,
    ) -> Resolution<'a> {
        if self.backslashes && link.path.contains('\\') {
            link.path = Cow::Owned(link.path.replace('\\', "/"));
        }
        if link.tilde {
            let Rules::DocFx { docset, .. } = &self.rules else {
                return self.relative(model, tree, link, from);
            };
            let Some(path) = normalize(docset, &link.path[2..]) else {
                return Resolution::OutsideRoot;
            };
            return match self.file(tree, &path) {
                Some(real) => found_at(tree, real, link).unwrap_or(Resolution::Site),
                None => missing(tree, link, path),
            };
        }
        if link.root_absolute {
            self.absolute(tree, link)
        } else {
            self.relative(model, tree, link, from)
        }
    }

    /// The page a route leads to, or the redirect it hits.
    fn by_url<'a>(
        &self,
        tree: &Tree,
        url: &str,
        link: Link<'a>,
    ) -> Result<Resolution<'a>, Link<'a>> {
        if let Some(i) = self.route(url) {
            let path = tree.files[i].clone();
            let page = Some(i);
            let also = self.also.get(&self.route_key(url)).cloned().unwrap_or_default();
            return Ok(Resolution::Found(Found { path, page, also, link }));
        }
        if let Some(redirect) = self.url_redirect(url) {
            return Ok(Resolution::Redirected(link, redirect.clone()));
        }
        Err(link)
    }

    /// A root-absolute link: a URL of the site, or (on the host's terms) a
    /// file from the root of the repository.
    fn absolute<'a>(&self, tree: &Tree, mut link: Link<'a>) -> Resolution<'a> {
        let url = key(&link.path);
        let url_lower = url.to_lowercase();
        let base = &self.base;
        let under_base =
            !base.is_empty() && (url_lower == *base || url_lower.starts_with(&format!("{base}/")));
        let rest: String = if under_base {
            url.get(base.len()..).unwrap_or("").trim_start_matches('/').to_owned()
        } else {
            url.clone()
        };
        if under_base || !self.base_required {
            match self.by_url(tree, &rest, link) {
                Ok(resolution) => return resolution,
                Err(back) => link = back,
            }
        }
        // A file path from the root, as GitHub reads it (Docusaurus: from the
        // content folders and the site folder first).
        if link.has_extension() {
            let mut dirs: Vec<String> = Vec::new();
            if let Rules::Docusaurus { site_dir, .. } = &self.rules {
                dirs.extend(self.roots.iter().cloned());
                dirs.push(site_dir.clone());
            }
            dirs.push(String::new());
            for dir in dirs {
                if let Some(path) = normalize(&dir, url.as_str())
                    && let Some(real) = self.file(tree, &path)
                {
                    match found_at(tree, real, link) {
                        Ok(found) => return found,
                        Err(back) => link = back,
                    }
                }
            }
        }
        if self.base_required && !under_base {
            return Resolution::Site;
        }
        match self.wanted_for_url(tree, &rest) {
            Some(wanted) => missing(tree, link, wanted),
            None => match self.guesses_for_url(&rest) {
                guesses if guesses.is_empty() => Resolution::Site,
                guesses => Resolution::SiteGuess(link, guesses),
            },
        }
    }

    /// The files a URL the model does not know would be served from.
    fn guesses_for_url(&self, rest: &str) -> Vec<String> {
        let rest = key(rest);
        if rest.is_empty() {
            return Vec::new();
        }
        match &self.rules {
            Rules::DocFx { mappings, .. } => mappings
                .iter()
                .filter_map(|m| {
                    strip_prefix_dir(&rest.to_lowercase(), &m.dest.to_lowercase())
                        .map(|w| (m, w.to_owned()))
                })
                .filter(|(_, within)| !within.is_empty())
                .map(|(m, within)| join(&m.src, &format!("{within}.md")))
                .collect(),
            Rules::Hugo { .. } => self
                .roots
                .iter()
                .flat_map(|root| {
                    [
                        join(root, &format!("{rest}.md")),
                        join(root, &join(&rest, "_index.md")),
                        join(root, &join(&rest, "index.md")),
                    ]
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The source file a URL of this site would be served from, when the
    /// model knows that part of the site (else the URL is a page the model
    /// does not know: a site link).
    fn wanted_for_url(&self, tree: &Tree, rest: &str) -> Option<String> {
        let rest_key = self.route_key(rest);
        match &self.rules {
            Rules::DocFx { mappings, .. } => {
                // Checked only where the URL's folder exists in a content folder:
                // another docset may share the base path (`/powershell/dsc/…`).
                // The mappings with the most specific URL folder holding the URL.
                let holds =
                    |m: &&Mapping| strip_prefix_dir(&rest_key, &m.dest.to_lowercase()).is_some();
                let deepest = mappings.iter().filter(holds).map(|m| m.dest.len()).max()?;
                let shared = mappings.iter().any(|m| !m.dest.is_empty());
                for mapping in mappings.iter().filter(holds).filter(|m| m.dest.len() == deepest) {
                    let (src, dest) = (&mapping.src, &mapping.dest);
                    let Some(within) =
                        strip_prefix_dir(&rest_key, &dest.to_lowercase()).map(str::to_owned)
                    else {
                        continue;
                    };
                    // A page right under a URL folder that docsets share
                    // (`/powershell/module/x`) may be another docset's.
                    if shared && !within.contains('/') {
                        continue;
                    }
                    let dir = join(src, parent(&within));
                    let real_dir = if tree.is_dir(&dir) {
                        Some(dir.clone())
                    } else {
                        let variants = tree.case_variants(&dir);
                        (variants.len() == 1).then(|| variants[0].to_owned())
                    };
                    if let Some(real_dir) = real_dir {
                        let name = file_name(rest.trim_end_matches('/'));
                        return Some(join(&real_dir, &format!("{name}.md")));
                    }
                }
                None
            }
            Rules::Docusaurus { .. }
                if extension(rest).len() <= 5
                    && !extension(rest).is_empty()
                    && !is_markdown(rest) =>
            {
                // An asset: served from a static folder that has its folder.
                let statics = self.static_dirs();
                for dir in &statics {
                    let wanted = join(dir, &key(rest));
                    let folder = parent(&wanted);
                    if tree.is_dir(folder) || !tree.case_variants(folder).is_empty() {
                        return Some(wanted);
                    }
                }
                let under_docs = self
                    .checked
                    .iter()
                    .filter(|c| !c.is_empty())
                    .any(|c| rest_key.starts_with(&format!("{c}/")));
                under_docs.then(|| statics.first().map(|d| join(d, &key(rest)))).flatten()
            }
            Rules::Docusaurus { .. } => {
                let checked = self
                    .checked
                    .iter()
                    .filter(|c| !c.is_empty())
                    .find(|c| rest_key == **c || rest_key.starts_with(&format!("{c}/")))?;
                let within = rest_key[checked.len()..].trim_start_matches('/');
                if within.starts_with("category/")
                    || within.starts_with("tags/")
                    || within == "tags"
                {
                    return None;
                }
                let content = self.docs_content_for(checked)?;
                Some(join(&content, &format!("{within}.md")))
            }
            Rules::Hugo { .. } => {
                let first = rest_key.split('/').next()?;
                if !self.checked.iter().any(|c| c == first) {
                    return None;
                }
                let root = self.roots.first()?;
                if rest.contains('.') && extension(rest).len() <= 4 && !extension(rest).is_empty() {
                    return Some(join(root, rest));
                }
                Some(join(root, &format!("{}.md", key(rest))))
            }
            Rules::Mkdocs | Rules::MdBook | Rules::Sphinx => None,
        }
    }

    /// The static folders of a Docusaurus site.
    fn static_dirs(&self) -> Vec<String> {
        let Rules::Docusaurus { static_dirs, .. } = &self.rules else { return Vec::new() };
        static_dirs.clone()
    }

    /// The content folder a checked Docusaurus route prefix serves.
    fn docs_content_for(&self, prefix: &str) -> Option<String> {
        let Rules::Docusaurus { content_dir, .. } = &self.rules else { return None };
        // The content folder of any page under this prefix.
        self.urls.iter().find_map(|(i, url)| {
            (&*url.key == prefix || url.key.starts_with(&format!("{prefix}/")))
                .then(|| content_dir.get(i).cloned())
                .flatten()
        })
    }

    /// A relative link: a file from the linking page's folder (every
    /// platform), else a URL from the page's own URL.
    fn relative<'a>(
        &self,
        model: &Model,
        tree: &Tree,
        mut link: Link<'a>,
        from: &str,
    ) -> Resolution<'a> {
        let Some(path) = normalize(parent(from), &link.path) else {
            // mdBook books are published under a path of a larger site
            // (`../std/` from the Rust book): above the root is that site.
            return if matches!(self.rules, Rules::MdBook) {
                Resolution::Site
            } else {
                Resolution::OutsideRoot
            };
        };
        if matches!(self.rules, Rules::MdBook)
            && !self.roots.iter().any(|r| strip_prefix_dir(&path, r).is_some())
            && !tree.is_dir(&path)
            && matches!(tree.lookup(&path), Entry::Missing)
        {
            return Resolution::Site;
        }
        if let Some(real) = self.file(tree, &path) {
            match found_at(tree, real, link) {
                Ok(found) => return found,
                Err(back) => link = back,
            }
        }
        match self.relative_rules(tree, &path, link, from) {
            Ok(resolution) => return resolution,
            Err(back) => link = back,
        }
        if let Some(redirect) = self.file_redirect(&path).cloned() {
            if self.file_redirects_work {
                return Resolution::Redirected(link, redirect);
            }
        } else if let Some(redirect) = model.redirect_for_file(tree, from, &path).cloned()
            && self.file_redirects_work
        {
            return Resolution::Redirected(link, redirect);
        }
        if let Rules::Hugo { link_hook: true } = self.rules
            && !link.path.contains(['/', '.'])
        {
            // A bare word is the render hook's to interpret (a glossary term).
            return Resolution::Site;
        }
        let names_pages = self.serves_urls() || matches!(self.rules, Rules::Sphinx);
        let wanted = if !link.has_extension() && names_pages && !link.trailing_slash {
            format!("{path}.md")
        } else if matches!(self.rules, Rules::MdBook) && extension(&path) == "html" {
            // mdBook serves `x.md` as `x.html`: the page meant is the Markdown file.
            format!("{}.md", without_extension(&path))
        } else {
            path
        };
        missing(tree, link, wanted)
    }

    fn relative_rules<'a>(
        &self,
        tree: &Tree,
        path: &str,
        mut link: Link<'a>,
        from: &str,
    ) -> Result<Resolution<'a>, Link<'a>> {
        let ext = extension(link.name());
        match &self.rules {
            Rules::MdBook | Rules::Sphinx if ext == "html" => {
                let md = format!("{}.md", without_extension(path));
                let readme = join(parent(path), "README.md");
                for candidate in [md, readme] {
                    if (candidate.ends_with("README.md") && file_name(path) != "index.html")
                        || tree.index(&candidate).is_none()
                    {
                        continue;
                    }
                    return found_at(tree, candidate, link);
                }
                if let Some(redirect) = self.url_redirect(&self.book_key(path)) {
                    return Ok(Resolution::Redirected(link, redirect.clone()));
                }
                return Err(link);
            }
            Rules::Sphinx if ext.is_empty() => {
                for e in ["md", "rst", "ipynb"] {
                    let candidate = format!("{path}.{e}");
                    if tree.index(&candidate).is_some() {
                        return found_at(tree, candidate, link);
                    }
                }
                return Err(link);
            }
            Rules::Docusaurus { site_dir, content_dir, .. }
                if is_markdown(link.name())
                    && !link.path.starts_with("./")
                    && !link.path.starts_with("../") =>
            {
                let from_index = tree.index(from);
                let mut dirs: Vec<&str> = Vec::new();
                if let Some(dir) = from_index.and_then(|i| content_dir.get(&i)) {
                    dirs.push(dir);
                }
                dirs.push(site_dir);
                for dir in dirs {
                    if let Some(candidate) = normalize(dir, &link.path)
                        && tree.index(&candidate).is_some()
                    {
                        return found_at(tree, candidate, link);
                    }
                }
            }
            _ => {}
        }
        if !self.serves_urls() {
            return Err(link);
        }
        if let Rules::Hugo { .. } = self.rules {
            // Hugo's GetPage and ref: relative to the page, then to the content folder.
            for root in self.roots.clone() {
                if let Some(path) = normalize(&root, &link.path) {
                    let found = self.route(&key(without_extension_if_page(
                        strip_prefix_dir(&path, &root).unwrap_or(&path),
                    )));
                    if let Some(i) = found {
                        return found_at(tree, tree.files[i].clone(), link);
                    }
                }
            }
        }
        // A URL relative to the page's own URL.
        let Some(from_url) = tree.index(from).and_then(|i| self.urls.get(&i)) else {
            return self.url_from_file_path(tree, path, link);
        };
        let mut bases = vec![url_dir(from_url, from_url.dir_like)];
        if let Rules::Docusaurus { maybe_slash: true, .. } = self.rules {
            bases.push(url_dir(from_url, !from_url.dir_like));
        }
        for base in bases {
            let Some(target) = normalize(&base, &link.path) else { continue };
            match self.by_url(tree, &target, link) {
                Ok(resolution) => return Ok(resolution),
                Err(back) => link = back,
            }
        }
        self.url_from_file_path(tree, path, link)
    }

    /// A relative URL read as a path from the page's folder: `page` for
    /// `page.md`, `dir/` for `dir/index.md` (DocFX and Hugo serve pages at
    /// their path without the extension).
    fn url_from_file_path<'a>(
        &self,
        tree: &Tree,
        path: &str,
        link: Link<'a>,
    ) -> Result<Resolution<'a>, Link<'a>> {
        if link.has_extension() {
            return Err(link);
        }
        let path = path.trim_end_matches('/');
        let mut candidates = vec![format!("{path}.md"), join(path, "index.md")];
        match self.rules {
            Rules::DocFx { .. } => {
                candidates.extend([format!("{path}.yml"), join(path, "index.yml")])
            }
            Rules::Hugo { .. } => candidates.push(join(path, "_index.md")),
            Rules::Docusaurus { .. } => {
                candidates.extend([format!("{path}.mdx"), join(path, "index.mdx")])
            }
            _ => {}
        }
        for candidate in candidates {
            if let Some(real) = self.file(tree, &candidate).filter(|c| tree.index(c).is_some()) {
                // Hugo and DocFX reach pages this way; others only by URL.
                if matches!(self.rules, Rules::DocFx { .. } | Rules::Hugo { .. }) {
                    return found_at(tree, real, link);
                }
            }
        }
        Err(link)
    }

    fn book_key(&self, path: &str) -> String {
        for root in &self.roots {
            if let Some(rel) = strip_prefix_dir(path, root) {
                return key(rel);
            }
        }
        key(path)
    }

    /// The site URL of `target`, for a root-absolute fix.
    fn absolute_url(&self, tree: &Tree, target: &str, link: &Link<'_>) -> Option<String> {
        let url = self.urls.get(&tree.index(target)?)?;
        let mut out = String::from("/");
        let keep_base = !self.base.is_empty()
            && (self.base_required || key(&link.path).to_lowercase().starts_with(&self.base));
        if keep_base {
            out.push_str(&self.base);
            if !url.key.is_empty() {
                out.push('/');
            }
        }
        out.push_str(&encode_path(&url.key));
        if url.dir_like && link.trailing_slash && !out.ends_with('/') {
            out.push('/');
        }
        Some(out)
    }

    /// The URL of `target` relative to the page `from`'s URL.
    fn relative_url(
        &self,
        tree: &Tree,
        target: &str,
        from: &str,
        link: &Link<'_>,
    ) -> Option<String> {
        let to = self.urls.get(&tree.index(target)?)?;
        let from_url = self.urls.get(&tree.index(from)?)?;
        let base = url_dir(from_url, from_url.dir_like);
        let mut rel = relative(&base, &to.key);
        if rel == "." {
            rel = String::new();
        }
        let mut out = encode_path(&rel);
        if to.dir_like && link.trailing_slash && !out.is_empty() {
            out.push('/');
        }
        if out.is_empty() {
            out = "./".to_owned();
        }
        if link.path_as_written.starts_with("./") && !out.starts_with('.') {
            out = format!("./{out}");
        }
        Some(out)
    }

    /// The docs of one Docusaurus docs instance, every version.
    fn docusaurus_docs(
        &mut self,
        tree: &Tree,
        instance: &DocsInstance,
        site_dir: &str,
        trailing_slash: Option<bool>,
        pages: &dyn Pages,
        content_dir: &mut HashMap<usize, String>,
    ) {
        let prefix =
            if instance.id == "default" { String::new() } else { format!("{}_", instance.id) };
        let versions_file = join(site_dir, &format!("{prefix}versions.json"));
        let versions: Vec<String> = tree
            .root
            .read(&versions_file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<String>>(&bytes).ok())
            .unwrap_or_default();
        let last = instance
            .last_version
            .clone()
            .or_else(|| versions.first().cloned())
            .unwrap_or_else(|| "current".to_owned());
        let mut dirs = vec![("current".to_owned(), instance.path.clone())];
        for version in &versions {
            dirs.push((
                version.clone(),
                join(site_dir, &format!("{prefix}versioned_docs/version-{version}")),
            ));
        }
        // Translations (`i18n/fr/docusaurus-plugin-content-docs/current/…`) are
        // pages of the same routes in another locale: their links resolve as the
        // original page's do, and they add no routes of their own.
        let plugin = if instance.id == "default" {
            "docusaurus-plugin-content-docs".to_owned()
        } else {
            format!("docusaurus-plugin-content-docs-{}", instance.id)
        };
        let i18n = join(site_dir, "i18n");
        let locales: Vec<String> =
            tree.dirs().filter(|d| parent(d) == i18n.as_str()).cloned().collect();
        let mut translated = Vec::new();
        for (version, original) in &dirs {
            let folder = if version == "current" {
                "current".to_owned()
            } else {
                format!("version-{version}")
            };
            for locale in &locales {
                let dir = join(&join(locale, &plugin), &folder);
                translated.push((version.clone(), dir, Some(original.clone())));
            }
        }
        // (version, folder, the original's folder for a translation)
        let dirs: Vec<(String, String, Option<String>)> =
            dirs.into_iter().map(|(v, d)| (v, d, None)).chain(translated).collect();
        for (version, dir, original) in dirs {
            let routed = original.is_none();
            let segment = if version == last {
                String::new()
            } else if version == "current" {
                "next".to_owned()
            } else {
                version.clone()
            };
            let route = key(&join(&instance.route, &segment));
            if routed {
                self.checked.push(route.clone());
            }
            for i in tree.under(&dir) {
                let file = &tree.files[i];
                let Some(rel) = strip_prefix_dir(file, &dir) else { continue };
                if !is_markdown(rel) {
                    continue;
                }
                // A translation's `x.md` links fall back to the original docs.
                content_dir.insert(i, original.clone().unwrap_or_else(|| dir.clone()));
                let front = pages.front(i).unwrap_or(&NO_FRONT);
                let slug = docusaurus_slug(rel, front);
                let url: Arc<str> = key(&join(&route, &slug)).into();
                self.urls.insert(
                    i,
                    Url { key: Arc::clone(&url), dir_like: trailing_slash == Some(true) },
                );
                if routed && !rel.split('/').any(|s| s.starts_with('_')) {
                    self.routes.entry(url).or_insert(i);
                }
            }
        }
    }

    /// Docusaurus blog posts: `2021-01-31-title.md` at `blog/2021/01/31/title`.
    fn docusaurus_blog(
        &mut self,
        tree: &Tree,
        dir: &str,
        route: &str,
        trailing_slash: Option<bool>,
        pages: &dyn Pages,
    ) {
        for i in tree.under(dir) {
            let file = &tree.files[i];
            let Some(rel) = strip_prefix_dir(file, dir) else { continue };
            if !is_markdown(rel) || rel.split('/').any(|s| s.starts_with('_')) {
                continue;
            }
            let front = pages.front(i).unwrap_or(&NO_FRONT);
            let name = stem(file_name(rel));
            let post = if name == "index" { file_name(parent(rel)) } else { name };
            let dated = post.len() > 11
                && post.as_bytes()[4] == b'-'
                && post.as_bytes()[7] == b'-'
                && post.as_bytes()[10] == b'-'
                && post[..10].bytes().all(|b| b.is_ascii_digit() || b == b'-');
            let folder = if name == "index" { parent(parent(rel)) } else { parent(rel) };
            let tail = match &front.slug {
                Some(slug) if slug.starts_with('/') => key(slug),
                Some(slug) => key(&join(folder, slug)),
                None if dated => key(&join(
                    folder,
                    &format!("{}/{}/{}/{}", &post[..4], &post[5..7], &post[8..10], &post[11..]),
                )),
                None => key(&join(folder, post)),
            };
            let url: Arc<str> = key(&join(route, &tail)).into();
            self.routes.entry(Arc::clone(&url)).or_insert(i);
            self.urls.insert(i, Url { key: url, dir_like: trailing_slash == Some(true) });
        }
    }

    /// A Netlify `_redirects` file: `/from /to [status]` lines.
    fn netlify_redirects(&mut self, tree: &Tree, index: usize) {
        let Ok(bytes) = tree.root.read(&tree.files[index]) else { return };
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines() {
            let mut parts = line.split_whitespace();
            let (Some(from), Some(to)) = (parts.next(), parts.next()) else { continue };
            if from.starts_with('#') || !from.starts_with('/') {
                continue;
            }
            let to_key = key(to.split(['?', '#']).next().unwrap_or(to));
            let target = (!to.contains("://"))
                .then(|| self.route(&to_key))
                .flatten()
                .map(|i| tree.files[i].clone());
            let source = tree.files[index].as_str().into();
            let redirect = Redirect { to: target, url: to.to_owned(), source };
            self.redirects_by_url.insert(self.route_key(from), Arc::new(redirect));
        }
    }

    /// The base path of a DocFX docset: the URL prefix under which
    /// root-absolute links of its pages (and its redirect URLs) lead to its
    /// own files, found by counting.
    fn infer_base(
        &self,
        tree: &Tree,
        docset: &str,
        redirects: &[RawRedirect],
        breadcrumb: Option<&str>,
        pages: &dyn Pages,
    ) -> (Option<String>, String) {
        let mut votes: HashMap<String, usize> = HashMap::default();
        // Every page's root-absolute links pass here: cut by bytes, and a
        // base's count found without making its key again.
        let mut vote = |url: &str| {
            let url = &url[..url.bytes().position(|b| b == b'?' || b == b'#').unwrap_or(url.len())];
            let Some(rest) = url.strip_prefix('/') else { return };
            // Empty segments dropped (`a//b/` is `a/b`); most links have none,
            // and are cut where they stand.
            let empty_segment = rest.is_empty()
                || rest.starts_with('/')
                || rest.ends_with('/')
                || has_double_slash(rest);
            let rest: Cow<'_, str> = if empty_segment {
                Cow::Owned(rest.split('/').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/"))
            } else {
                Cow::Borrowed(rest)
            };
            // The first one or two segments as the base, with a path after it.
            for cut in memchr::memchr_iter(b'/', rest.as_bytes()).take(2) {
                if self.route(&rest[cut + 1..]).is_some() {
                    let base = lowercase(Cow::Borrowed(&rest[..cut]));
                    match votes.get_mut(base.as_ref()) {
                        Some(count) => *count += 1,
                        None => drop(votes.insert(base.into_owned(), 1)),
                    }
                }
            }
        };
        for i in tree.under(docset) {
            if !is_markdown(&tree.files[i]) {
                continue;
            }
            pages.root_links(i, &mut |dest| {
                if !dest.starts_with("//") {
                    vote(dest);
                }
            });
        }
        for redirect in redirects {
            vote(&redirect.url);
        }
        if let Some(breadcrumb) = breadcrumb {
            vote(&breadcrumb.replace("toc.json", "toc"));
        }
        let mut ranked: Vec<(String, usize)> = votes.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let label = docset_label(docset);
        match ranked.first() {
            Some((base, count))
                if *count >= 2 && ranked.get(1).is_none_or(|(_, second)| count > second) =>
            {
                (
                    Some(base.clone()),
                    format!(
                        "{label}: base path /{base}/ inferred from {count} root-absolute links and redirects that lead into its files (the config gives none)"
                    ),
                )
            }
            _ => (
                None,
                format!(
                    "{label}: no base path found (the config gives none and no root-absolute links lead into its files); root-absolute links are site links"
                ),
            ),
        }
    }

    fn docfx_redirects(&mut self, tree: &Tree, raw: Vec<RawRedirect>) {
        let mut sources: HashMap<String, Arc<str>> = HashMap::default();
        for entry in raw {
            let url_key = entry.url.split(['?', '#']).next().unwrap_or(&entry.url).to_owned();
            let to = if let Some(rest) = url_key.strip_prefix('/') {
                let rest = key(rest).to_lowercase();
                strip_prefix_dir(&rest, &self.base)
                    .filter(|_| !self.base.is_empty())
                    .and_then(|within| self.route(within))
                    .map(|i| tree.files[i].clone())
            } else if !url_key.contains("://") {
                normalize(parent(&entry.source_path), &url_key).and_then(|p| self.file(tree, &p))
            } else {
                None
            };
            let source = sources.entry(entry.file).or_insert_with_key(|file| file.as_str().into());
            let redirect = Arc::new(Redirect { to, url: entry.url, source: Arc::clone(source) });
            // The URL the gone page had: for root-absolute links to it.
            if let Some(url) = self.url_for_source(&entry.source_path) {
                self.redirects_by_url.entry(url).or_insert_with(|| Arc::clone(&redirect));
            }
            self.redirects_by_file.entry(entry.source_path.to_lowercase()).or_insert(redirect);
        }
        // Chains: a redirect whose target is itself redirected, followed
        // through the redirects as listed. A redirect in both maps is followed
        // once and stays one.
        let by_url = self.redirects_by_url.clone();
        let mut followed: HashMap<*const Redirect, Option<Arc<Redirect>>> = HashMap::default();
        for redirect in
            self.redirects_by_file.values_mut().chain(self.redirects_by_url.values_mut())
        {
            let end = followed
                .entry(Arc::as_ptr(redirect))
                .or_insert_with(|| follow_chain(redirect, &by_url, &self.base).map(Arc::new));
            if let Some(end) = end {
                *redirect = Arc::clone(end);
            }
        }
    }

    /// The URL a (gone) source file had, by the content folder it was in.
    fn url_for_source(&self, source: &str) -> Option<String> {
        let Rules::DocFx { mappings, .. } = &self.rules else { return None };
        mappings.iter().find_map(|mapping| {
            let rel = strip_prefix_dir(source, &mapping.src).filter(|rel| mapping.contains(rel))?;
            Some(key(&join(&mapping.dest, without_extension(rel))).to_lowercase())
        })
    }
}

/// The folder URL relative links of a page resolve from.
fn url_dir(url: &Url, dir_like: bool) -> String {
    if dir_like { url.key.to_string() } else { parent(&url.key).to_owned() }
}

fn hugo_key(path: &str, lower: bool) -> String {
    let k = key(path);
    if lower { k.to_lowercase() } else { k }
}

fn docset_label(docset: &str) -> String {
    if docset.is_empty() { "the docset".to_owned() } else { format!("docset {docset}/") }
}

/// The URL tail of a Docusaurus doc: its slug, or its folders and id (number
/// prefixes stripped); an index page (`index`, `README`, or named as its
/// folder) is served at its folder.
pub(crate) fn docusaurus_slug(rel: &str, front: &crate::extract::Front) -> String {
    let dirs: Vec<&str> =
        parent(rel).split('/').filter(|s| !s.is_empty()).map(strip_number_prefix).collect();
    let dir = dirs.join("/");
    if let Some(slug) = &front.slug {
        return if slug.starts_with('/') { key(slug) } else { key(&join(&dir, slug)) };
    }
    let name = strip_number_prefix(stem(file_name(rel)));
    let is_index = name.eq_ignore_ascii_case("index")
        || name.eq_ignore_ascii_case("readme")
        || dirs.last().is_some_and(|d| d.eq_ignore_ascii_case(name));
    // Docusaurus decides by the file name, whatever `id` says.
    if is_index {
        return dir;
    }
    let id = front.id.as_deref().unwrap_or(name);
    let id = id.rsplit('/').next().unwrap_or(id);
    key(&join(&dir, id))
}

/// Where a DocFX redirect ends up after at most five further redirects of
/// the docset (`by_url`, as listed), while it leads to no file of the tree;
/// `None` when it takes no hop (it leads to a file, or out of the docset).
fn follow_chain(
    first: &Redirect,
    by_url: &HashMap<String, Arc<Redirect>>,
    base: &str,
) -> Option<Redirect> {
    let mut end: Option<Redirect> = None;
    for _ in 0..5 {
        let at = end.as_ref().unwrap_or(first);
        if at.to.is_some() {
            break;
        }
        let Some(rest) = at.url.strip_prefix('/') else { break };
        let rest = key(rest.split(['?', '#']).next().unwrap_or(rest)).to_lowercase();
        let Some(within) = strip_prefix_dir(&rest, base) else { break };
        let Some(next) = by_url.get(within) else { break };
        let (url, to) = (next.url.clone(), next.to.clone());
        end = Some(Redirect { to, url, source: Arc::clone(&first.source) });
    }
    end
}

/// One entry of a DocFX redirect file.
pub(crate) struct RawRedirect {
    /// The gone page, root-relative.
    source_path: String,
    url: String,
    /// The redirect file, root-relative.
    file: String,
}

/// Reads DocFX redirect files: `source_path` is relative to the file's folder,
/// `source_path_from_root` to the root.
fn read_docfx_redirects(
    tree: &Tree,
    files: &[String],
    warnings: &Mutex<Vec<Warning>>,
) -> Vec<RawRedirect> {
    let mut out = Vec::new();
    for file in files {
        let json = match crate::nav::read_text(&tree.root, file)
            .and_then(|t| crate::jsonc::parse(&t))
        {
            Ok(json) => json,
            Err(e) if e.contains("No such file") || e.contains("not found") => continue,
            Err(e) => {
                push_warning(warnings, &tree.abs(file), format!("{e}; its redirects are not used"));
                continue;
            }
        };
        let Some(entries) = json.get("redirections").and_then(|r| r.as_array()) else { continue };
        for entry in entries {
            let source = match (
                entry.get("source_path_from_root").and_then(|s| s.as_str()),
                entry.get("source_path").and_then(|s| s.as_str()),
            ) {
                (Some(from_root), _) => normalize("", from_root.trim_start_matches('/')),
                (None, Some(path)) => normalize(parent(file), &path.replace('\\', "/")),
                (None, None) => None,
            };
            let url = entry.get("redirect_url").and_then(|u| u.as_str());
            if let (Some(source_path), Some(url)) = (source, url) {
                out.push(RawRedirect { source_path, url: url.to_owned(), file: file.clone() });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Front;
    use proptest::prelude::*;

    proptest! {
        /// The byte-wise path helpers answer as the `str` methods they
        /// stand for, on paths of slashes, dots and other text.
        #[test]
        fn path_helpers_match_the_str_methods(path in "[/.aé]{0,12}") {
            prop_assert_eq!(trim_slashes(&path), path.trim_matches('/'));
            prop_assert_eq!(has_double_slash(&path), path.contains("//"));
            let joined = path.trim_matches('/').split('/').filter(|s| !s.is_empty());
            prop_assert_eq!(key_of(&path), joined.collect::<Vec<_>>().join("/"));
            prop_assert_eq!(crate::tree::last(&path, b'/'), path.rfind('/'));
            prop_assert_eq!(crate::tree::last(&path, b'.'), path.rfind('.'));
        }
    }

    #[test]
    fn docusaurus_slugs() {
        let none = Front::default();
        assert_eq!(docusaurus_slug("guides/01-intro.md", &none), "guides/intro");
        assert_eq!(docusaurus_slug("02-guides/guides.md", &none), "guides");
        assert_eq!(docusaurus_slug("guides/index.mdx", &none), "guides");
        assert_eq!(docusaurus_slug("2021-01-31-notes.md", &none), "2021-01-31-notes");
        let id = Front { id: Some("custom".into()), ..Front::default() };
        assert_eq!(docusaurus_slug("guides/intro.md", &id), "guides/custom");
        assert_eq!(docusaurus_slug("guides/guides.md", &id), "guides");
        let slug = Front { slug: Some("/start".into()), ..Front::default() };
        assert_eq!(docusaurus_slug("guides/intro.md", &slug), "start");
        let relative = Front { slug: Some("begin".into()), ..Front::default() };
        assert_eq!(docusaurus_slug("guides/intro.md", &relative), "guides/begin");
    }

    #[test]
    fn number_prefixes() {
        assert_eq!(strip_number_prefix("01-intro"), "intro");
        assert_eq!(strip_number_prefix("1_setup"), "setup");
        assert_eq!(strip_number_prefix("2021-01-31"), "2021-01-31");
        assert_eq!(strip_number_prefix("v1"), "v1");
        assert_eq!(strip_number_prefix("42"), "42");
    }
}
