//! How a tree is published: which generator builds which folder, read from its
//! configuration file (DocFX `docfx.json` and `.openpublishing.publish.config.json`,
//! `mkdocs.yml`, `docusaurus.config.*`, Hugo's `hugo.*`/`config.*`, mdBook's
//! `book.toml`, Sphinx's `conf.py`), or GitHub/GitLab rendering when none is found.
//!
//! Detection only reads configuration files; what the pages say (front matter,
//! links) is used later, when the site model is built (`site.rs`). A config
//! that cannot be read or parsed is a warning naming it, and its defaults apply.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

use crate::jsconf::{self, Js};
use crate::nav;
use crate::report::Warning;
use crate::resolve::normalize;
use crate::tree::{Tree, file_name, join, parent, push_warning};

/// A documentation platform: how links and anchors resolve on the published site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Platform {
    /// Rendered by GitHub: file paths, case-insensitive heading fragments.
    GitHub,
    /// Rendered by GitLab: file paths, case-sensitive fragments, collapsed `-`.
    GitLab,
    /// DocFX / Microsoft Learn docsets.
    DocFx,
    /// MkDocs (`docs_dir`, `use_directory_urls`).
    Mkdocs,
    /// Docusaurus (doc ids, slugs, static directories, versioned docs).
    Docusaurus,
    /// Hugo (`content/`, `static/`, page bundles).
    Hugo,
    /// mdBook (`src/`, `.md` and `.html` links).
    MdBook,
    /// Sphinx with MyST Markdown.
    Sphinx,
}

impl Platform {
    /// Every platform, in a stable order.
    pub const ALL: [Platform; 8] = [
        Platform::GitHub,
        Platform::GitLab,
        Platform::DocFx,
        Platform::Mkdocs,
        Platform::Docusaurus,
        Platform::Hugo,
        Platform::MdBook,
        Platform::Sphinx,
    ];

    /// The stable name used on the command line, in `doclinks.toml` and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::GitHub => "github",
            Platform::GitLab => "gitlab",
            Platform::DocFx => "docfx",
            Platform::Mkdocs => "mkdocs",
            Platform::Docusaurus => "docusaurus",
            Platform::Hugo => "hugo",
            Platform::MdBook => "mdbook",
            Platform::Sphinx => "sphinx",
        }
    }

    /// Whether the platform publishes a site built from a configuration (not
    /// a repository host rendering files as they are).
    pub(crate) fn is_site(self) -> bool {
        !matches!(self, Platform::GitHub | Platform::GitLab)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Platform, String> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let names: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown platform `{s}` (expected one of {})", names.join(", "))
        })
    }
}

/// What a check found out about how the tree is published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlatformInfo {
    /// The platform of the tree (the first site found, or GitHub/GitLab).
    pub platform: Platform,
    /// The configuration file it was detected from, relative to the root.
    pub source: Option<String>,
    /// How it was chosen: `detected`, `--platform` or `doclinks.toml`.
    pub chosen_by: String,
    /// Every site of the tree: platform, configuration file, content folder.
    pub sites: Vec<SiteInfo>,
    /// What was inferred and from what (a DocFX base path, …).
    pub notes: Vec<String>,
}

impl Default for PlatformInfo {
    fn default() -> PlatformInfo {
        PlatformInfo {
            platform: Platform::GitHub,
            source: None,
            chosen_by: "detected".to_owned(),
            sites: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One published site in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SiteInfo {
    /// Its platform.
    pub platform: Platform,
    /// Its configuration file, relative to the root.
    pub config: Option<String>,
    /// The folder whose pages it publishes, relative to the root (empty: the root).
    pub content: String,
}

/// One `build.content` entry of a `docfx.json`: the files of a folder and the
/// URL path they are published under.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    /// The source folder, root-relative.
    pub(crate) src: String,
    /// The URL path under the docset's base path (`module`, `` for none).
    pub(crate) dest: String,
    /// `files` and `exclude` globs, relative to `src`; `None` for every file.
    files: Option<(globset::GlobSet, globset::GlobSet)>,
    patterns: Vec<String>,
}

impl PartialEq for Mapping {
    fn eq(&self, other: &Mapping) -> bool {
        (&self.src, &self.dest, &self.patterns) == (&other.src, &other.dest, &other.patterns)
    }
}

impl Eq for Mapping {}

impl Mapping {
    /// Every file of `src`, published at `dest`.
    pub(crate) fn all(src: String, dest: String) -> Mapping {
        Mapping { src, dest, files: None, patterns: Vec::new() }
    }

    /// Whether the entry publishes `rel` (relative to `src`). A Markdown page
    /// counts where a `.yml` one would: DocFX reference pages are often
    /// written in Markdown and converted to YAML before the build (MAML2Yaml).
    pub(crate) fn contains(&self, rel: &str) -> bool {
        let Some((files, exclude)) = &self.files else { return true };
        let as_yml = rel.strip_suffix(".md").map(|stem| format!("{stem}.yml"));
        let included = files.is_match(rel) || as_yml.as_deref().is_some_and(|y| files.is_match(y));
        included && !exclude.is_match(rel)
    }
}

/// A docs plugin instance of a Docusaurus site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocsInstance {
    /// The plugin id (`default` for the preset's docs).
    pub(crate) id: String,
    /// The content folder, root-relative.
    pub(crate) path: String,
    /// The URL path the docs are served under, without slashes (`docs`, `` for `/`).
    pub(crate) route: String,
    /// `lastVersion` when the config sets it.
    pub(crate) last_version: Option<String>,
}

/// What a platform's configuration says, as root-relative paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Spec {
    DocFx {
        /// The docset folder (where `docfx.json` is).
        docset: String,
        /// Content folders and the URL path each is published under.
        mappings: Vec<Mapping>,
        /// The docset's base path (`cpp`), when the config gives it.
        base_path: Option<String>,
        /// Redirect files: `redirection_files` of the publish config, and the
        /// `.openpublishing.redirection*.json` files next to it.
        redirect_files: Vec<String>,
        /// `breadcrumb_path` of `globalMetadata`, a hint for the base path.
        breadcrumb: Option<String>,
    },
    Mkdocs {
        docs_dir: String,
        use_directory_urls: bool,
        /// The path of `site_url` (`mkdocs-material` for `https://x.io/mkdocs-material/`).
        site_path: String,
        pymdownx_slugs: bool,
        redirects: Vec<(String, String)>,
    },
    Docusaurus {
        site_dir: String,
        base_url: String,
        docs: Vec<DocsInstance>,
        static_dirs: Vec<String>,
        blog: Option<(String, String)>,
        pages: String,
        trailing_slash: Option<bool>,
    },
    Hugo {
        site_dir: String,
        content_dirs: Vec<String>,
        static_dirs: Vec<String>,
        assets_dir: String,
        lower_paths: bool,
        /// A custom link render hook: destinations doclinks cannot resolve may
        /// be the hook's own (a glossary term), so they are not reported.
        link_hook: bool,
        /// `markup.goldmark.parser.autoDefinitionTermID`: terms get ids.
        term_ids: bool,
    },
    MdBook {
        book_dir: String,
        src: String,
        /// `[output.html.redirect]`: old page → new page, book-relative.
        redirects: Vec<(String, String)>,
    },
    Sphinx {
        src: String,
        heading_anchors: bool,
    },
}

/// One detected site: its platform, where its configuration is, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    pub(crate) platform: Platform,
    pub(crate) config: Option<String>,
    pub(crate) spec: Spec,
}

impl Detected {
    /// The folders whose pages this site publishes.
    pub(crate) fn content_roots(&self) -> Vec<String> {
        match &self.spec {
            Spec::DocFx { docset, .. } => vec![docset.clone()],
            Spec::Mkdocs { docs_dir, .. } => vec![docs_dir.clone()],
            Spec::Docusaurus { site_dir, docs, .. } => {
                let mut roots: Vec<String> = docs.iter().map(|d| d.path.clone()).collect();
                roots.push(site_dir.clone());
                roots
            }
            Spec::Hugo { content_dirs, .. } => content_dirs.clone(),
            Spec::MdBook { src, .. } => vec![src.clone()],
            Spec::Sphinx { src, .. } => vec![src.clone()],
        }
    }
}

/// Names of the files that make a directory the root of a published site.
pub(crate) const CONFIG_NAMES: &[&str] = &[
    ".openpublishing.publish.config.json",
    "docfx.json",
    "mkdocs.yml",
    "mkdocs.yaml",
    "docusaurus.config.js",
    "docusaurus.config.ts",
    "docusaurus.config.mjs",
    "docusaurus.config.cjs",
    "docusaurus.config.mts",
    "hugo.toml",
    "hugo.yaml",
    "hugo.yml",
    "hugo.json",
    "book.toml",
    "conf.py",
];

/// The platform a config file name stands for (Hugo's generic `config.*`
/// names count only beside a `content` folder; `conf.py` only with a Sphinx
/// index beside it).
fn platform_of(tree: &Tree, rel: &str) -> Option<Platform> {
    let name = file_name(rel);
    let dir = parent(rel);
    Some(match name {
        ".openpublishing.publish.config.json" | "docfx.json" => Platform::DocFx,
        "mkdocs.yml" | "mkdocs.yaml" => Platform::Mkdocs,
        n if n.starts_with("docusaurus.config.") => Platform::Docusaurus,
        "hugo.toml" | "hugo.yaml" | "hugo.yml" | "hugo.json" => Platform::Hugo,
        "config.toml" | "config.yaml" | "config.yml" | "config.json"
            if tree.is_dir(&join(dir, "content")) && !tree.is_dir(&join(dir, "src")) =>
        {
            Platform::Hugo
        }
        "book.toml" => Platform::MdBook,
        "conf.py"
            if ["index.rst", "index.md", "README.md"]
                .iter()
                .any(|i| tree.index(&join(dir, i)).is_some()) =>
        {
            Platform::Sphinx
        }
        _ => return None,
    })
}

/// How deep below the root configuration files are looked for.
const MAX_CONFIG_DEPTH: usize = 3;

/// Finds and reads the site configurations of the tree. With `forced`, only
/// sites of that platform count, and one with default settings at the root
/// stands in when the tree has no configuration for it.
pub(crate) fn detect(
    tree: &Tree,
    forced: Option<Platform>,
    warnings: &Mutex<Vec<Warning>>,
) -> Vec<Detected> {
    let mut configs: Vec<(String, Platform)> = Vec::new();
    // The publish config is a hidden file: the walk skips it.
    for hidden in [".openpublishing.publish.config.json"] {
        if tree.root.read(hidden).is_ok() {
            configs.push((hidden.to_owned(), Platform::DocFx));
        }
    }
    for path in &tree.files {
        if path.split('/').count() > MAX_CONFIG_DEPTH + 1 {
            continue;
        }
        if let Some(platform) = platform_of(tree, path) {
            configs.push((path.clone(), platform));
        }
    }
    // Shallowest first; at equal depth the order of CONFIG_NAMES.
    let rank = |name: &str| CONFIG_NAMES.iter().position(|n| *n == name).unwrap_or(usize::MAX);
    configs.sort_by_key(|(path, _)| (path.split('/').count(), rank(file_name(path)), path.clone()));
    let mut sites: Vec<Detected> = Vec::new();
    for (path, platform) in configs {
        if forced.is_some_and(|f| f != platform) {
            continue;
        }
        let read = |what: &str| match nav::read_text(&tree.root, &path) {
            Ok(text) => Some(text),
            Err(e) => {
                push_warning(
                    warnings,
                    &tree.abs(&path),
                    format!("{e}; its {what} settings are not used"),
                );
                None
            }
        };
        let warn = |message: String| push_warning(warnings, &tree.abs(&path), message);
        let dir = parent(&path).to_owned();
        let found: Vec<Detected> = match platform {
            Platform::DocFx if file_name(&path) == "docfx.json" => {
                if sites
                    .iter()
                    .any(|s| matches!(&s.spec, Spec::DocFx { docset, .. } if *docset == dir))
                {
                    continue;
                }
                read("DocFX")
                    .map(|text| docfx(tree, &path, &text, None, &warn))
                    .into_iter()
                    .collect()
            }
            Platform::DocFx => read("publishing")
                .map_or_else(Vec::new, |text| publish_config(tree, &path, &text, warnings, &warn)),
            Platform::Mkdocs => {
                read("mkdocs").map(|text| mkdocs(&path, &text, &warn)).into_iter().collect()
            }
            Platform::Docusaurus => read("Docusaurus")
                .map(|text| docusaurus(tree, &path, &text, &warn))
                .into_iter()
                .collect(),
            Platform::Hugo => {
                read("Hugo").map(|text| hugo(tree, &path, &text, &warn)).into_iter().collect()
            }
            Platform::MdBook => {
                read("mdBook").map(|text| mdbook(&path, &text, &warn)).into_iter().collect()
            }
            Platform::Sphinx => {
                read("Sphinx").map(|text| sphinx(&path, &text)).into_iter().collect()
            }
            Platform::GitHub | Platform::GitLab => Vec::new(),
        };
        for site in found {
            // A docset listed by the publish config and found again by its
            // docfx.json is one site.
            if !sites.iter().any(|s| s.spec == site.spec) {
                sites.push(site);
            }
        }
    }
    // Redirect files of Microsoft Learn at the root, with no other site
    // configuration: a DocFX docset whose config lives elsewhere.
    if sites.is_empty()
        && forced.is_none_or(|f| f == Platform::DocFx)
        && let Some(first) = root_redirect_files(tree, "").first()
    {
        let mut site = default_site(tree, Platform::DocFx);
        site.config = Some(first.clone());
        sites.push(site);
    }
    if let Some(platform) = forced
        && platform.is_site()
        && sites.is_empty()
    {
        sites.push(default_site(tree, platform));
    }
    sites
}

/// A site of `platform` at the root with the platform's defaults, for
/// `--platform` on a tree without its configuration.
fn default_site(tree: &Tree, platform: Platform) -> Detected {
    let or_root = |dir: &str| if tree.is_dir(dir) { dir.to_owned() } else { String::new() };
    let spec = match platform {
        Platform::DocFx => Spec::DocFx {
            docset: String::new(),
            mappings: vec![Mapping::all(String::new(), String::new())],
            base_path: None,
            redirect_files: root_redirect_files(tree, ""),
            breadcrumb: None,
        },
        Platform::Mkdocs => Spec::Mkdocs {
            docs_dir: or_root("docs"),
            use_directory_urls: true,
            site_path: String::new(),
            pymdownx_slugs: false,
            redirects: Vec::new(),
        },
        Platform::Docusaurus => Spec::Docusaurus {
            site_dir: String::new(),
            base_url: String::new(),
            docs: vec![DocsInstance {
                id: "default".to_owned(),
                path: or_root("docs"),
                route: "docs".to_owned(),
                last_version: None,
            }],
            static_dirs: vec!["static".to_owned()],
            blog: Some(("blog".to_owned(), "blog".to_owned())),
            pages: "src/pages".to_owned(),
            trailing_slash: None,
        },
        Platform::Hugo => Spec::Hugo {
            site_dir: String::new(),
            content_dirs: vec![or_root("content")],
            static_dirs: vec!["static".to_owned()],
            assets_dir: "assets".to_owned(),
            lower_paths: true,
            link_hook: false,
            term_ids: false,
        },
        Platform::MdBook => {
            Spec::MdBook { book_dir: String::new(), src: or_root("src"), redirects: Vec::new() }
        }
        Platform::Sphinx | Platform::GitHub | Platform::GitLab => {
            Spec::Sphinx { src: String::new(), heading_anchors: true }
        }
    };
    Detected { platform, config: None, spec }
}

/// The platform of a tree without site configuration: GitLab when it has GitLab
/// CI and no GitHub folder, GitHub otherwise.
pub(crate) fn host(tree: &Tree) -> (Platform, Option<String>) {
    let gitlab = tree.root.read(".gitlab-ci.yml").is_ok();
    let github = std::fs::symlink_metadata(tree.root.join(".github")).is_ok();
    if gitlab && !github {
        (Platform::GitLab, Some(".gitlab-ci.yml".to_owned()))
    } else {
        (Platform::GitHub, None)
    }
}

/// `dir/rel` normalised; a path that climbs out of the root is `None`.
fn under(dir: &str, rel: &str) -> Option<String> {
    let rel = rel.trim().trim_start_matches("./");
    normalize(dir, rel.trim_end_matches('/'))
}

/// The `.openpublishing.redirection*.json` files directly in `dir`.
fn root_redirect_files(tree: &Tree, dir: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(tree.abs(dir)) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(".openpublishing.redirection") && n.ends_with(".json"))
        .map(|n| join(dir, &n))
        .collect();
    names.sort();
    names
}

/// `.openpublishing.publish.config.json`: its docsets (each a `docfx.json` in
/// its `build_source_folder`) and its `redirection_files`.
fn publish_config(
    tree: &Tree,
    path: &str,
    text: &str,
    warnings: &Mutex<Vec<Warning>>,
    warn: &dyn Fn(String),
) -> Vec<Detected> {
    let json = match crate::jsonc::parse(text) {
        Ok(json) => json,
        Err(e) => {
            warn(format!("{e}; its docsets and redirection files are not used"));
            return Vec::new();
        }
    };
    let dir = parent(path);
    let mut redirect_files: Vec<String> = json["redirection_files"]
        .as_array()
        .map(|files| {
            files.iter().filter_map(|f| f.as_str()).filter_map(|f| under(dir, f)).collect()
        })
        .unwrap_or_default();
    for file in root_redirect_files(tree, dir) {
        if !redirect_files.contains(&file) {
            redirect_files.push(file);
        }
    }
    let mut out = Vec::new();
    let docsets = json["docsets_to_publish"].as_array().cloned().unwrap_or_default();
    for docset in &docsets {
        let Some(folder) = docset["build_source_folder"].as_str().and_then(|f| under(dir, f))
        else {
            continue;
        };
        let config = join(&folder, "docfx.json");
        let redirects = Some(redirect_files.clone());
        match nav::read_text(&tree.root, &config) {
            Ok(text) => {
                let warn_docfx =
                    |message: String| push_warning(warnings, &tree.abs(&config), message);
                out.push(docfx(tree, &config, &text, redirects, &warn_docfx));
            }
            Err(_) => out.push(Detected {
                platform: Platform::DocFx,
                config: Some(path.to_owned()),
                spec: Spec::DocFx {
                    docset: folder.clone(),
                    mappings: vec![Mapping::all(folder, String::new())],
                    base_path: None,
                    redirect_files: redirect_files.clone(),
                    breadcrumb: None,
                },
            }),
        }
    }
    if out.is_empty() {
        // A publish config without docsets still says where the redirects are.
        out.push(Detected {
            platform: Platform::DocFx,
            config: Some(path.to_owned()),
            spec: Spec::DocFx {
                docset: dir.to_owned(),
                mappings: vec![Mapping::all(dir.to_owned(), String::new())],
                base_path: None,
                redirect_files,
                breadcrumb: None,
            },
        });
    }
    out
}

/// `docfx.json`: the content folders with their `dest`, and the breadcrumb.
fn docfx(
    tree: &Tree,
    path: &str,
    text: &str,
    redirect_files: Option<Vec<String>>,
    warn: &dyn Fn(String),
) -> Detected {
    let docset = parent(path).to_owned();
    let json = crate::jsonc::parse(text).unwrap_or_else(|e| {
        warn(format!("{e}; the docset is read with DocFX's defaults"));
        serde_json::Value::Null
    });
    let build = &json["build"];
    let mut mappings: Vec<Mapping> = Vec::new();
    let globs = |value: &serde_json::Value| -> Vec<String> {
        match value {
            serde_json::Value::String(s) => vec![s.clone()],
            serde_json::Value::Array(items) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        }
    };
    for entry in build["content"].as_array().into_iter().flatten() {
        let src = entry["src"].as_str().unwrap_or(".");
        let dest = entry["dest"].as_str().unwrap_or("").trim_matches('/').to_owned();
        let Some(src) = under(&docset, src) else { continue };
        let (files, exclude) = (globs(&entry["files"]), globs(&entry["exclude"]));
        let build_set = |patterns: &[String]| {
            let mut set = globset::GlobSetBuilder::new();
            for pattern in patterns {
                match globset::Glob::new(pattern.trim_start_matches("./")) {
                    Ok(glob) => {
                        set.add(glob);
                    }
                    Err(e) => warn(format!("`{pattern}` is not a valid glob ({e}); it is ignored")),
                }
            }
            set.build().ok()
        };
        let sets = if files.is_empty() { None } else { build_set(&files).zip(build_set(&exclude)) };
        let mut patterns = files;
        patterns.extend(exclude.iter().map(|e| format!("!{e}")));
        let mapping = Mapping { src, dest, files: sets, patterns };
        if !mappings.contains(&mapping) {
            mappings.push(mapping);
        }
    }
    if mappings.is_empty() {
        mappings.push(Mapping::all(docset.clone(), String::new()));
    }
    // The most specific folder first, so that a file maps to its deepest source.
    mappings.sort_by_key(|m| std::cmp::Reverse(m.src.len()));
    let breadcrumb = build["globalMetadata"]["breadcrumb_path"].as_str().map(str::to_owned);
    Detected {
        platform: Platform::DocFx,
        config: Some(path.to_owned()),
        spec: Spec::DocFx {
            docset: docset.clone(),
            mappings,
            base_path: None,
            redirect_files: redirect_files.unwrap_or_else(|| root_redirect_files(tree, &docset)),
            breadcrumb,
        },
    }
}

fn mkdocs(path: &str, text: &str, warn: &dyn Fn(String)) -> Detected {
    let dir = parent(path);
    let parsed = nav::parse_mkdocs(text).unwrap_or_else(|e| {
        warn(format!("{e}; the site is read with mkdocs' defaults"));
        nav::Mkdocs { docs_dir: "docs".to_owned(), ..nav::Mkdocs::default() }
    });
    let docs_dir = under(dir, &parsed.docs_dir).unwrap_or_default();
    let redirects = parsed
        .redirects
        .iter()
        .filter_map(|(old, new)| Some((under(dir, old)?, under(dir, new)?)))
        .collect();
    Detected {
        platform: Platform::Mkdocs,
        config: Some(path.to_owned()),
        spec: Spec::Mkdocs {
            docs_dir,
            use_directory_urls: parsed.use_directory_urls,
            site_path: parsed.site_path,
            pymdownx_slugs: toc_uses_pymdownx(text),
            redirects,
        },
    }
}

/// Whether the `toc` extension of a mkdocs.yml slugifies with
/// `pymdownx.slugs` (the `!!python/...` tag is lost by YAML parsers, so the
/// `toc` entry's lines are read).
fn toc_uses_pymdownx(text: &str) -> bool {
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("- toc:").or_else(|| trimmed.strip_prefix("toc:"))
        else {
            continue;
        };
        if rest.contains("pymdownx.slugs") {
            return true;
        }
        let indent = line.len() - trimmed.len();
        while let Some(next) = lines.peek() {
            let next_trimmed = next.trim_start();
            if !next_trimmed.is_empty() && next.len() - next_trimmed.len() <= indent {
                break;
            }
            if next_trimmed.contains("pymdownx.slugs") {
                return true;
            }
            lines.next();
        }
    }
    false
}

/// `docusaurus.config.*`, read as data (see `jsconf.rs`): docs instances
/// (the preset's `docs` and every content-docs plugin), static folders, the
/// blog, `baseUrl` and `trailingSlash`.
fn docusaurus(tree: &Tree, path: &str, text: &str, warn: &dyn Fn(String)) -> Detected {
    let site_dir = parent(path).to_owned();
    let objects = jsconf::objects(text);
    let config = objects
        .iter()
        .find(|o| {
            o.get("baseUrl").is_some() || o.get("presets").is_some() || o.get("plugins").is_some()
        })
        .cloned()
        .unwrap_or(Js::Object(Vec::new()));
    if objects.is_empty() {
        warn(
            "no configuration object found; the site is read with Docusaurus' defaults".to_owned(),
        );
    }
    let base_url =
        config.get("baseUrl").and_then(Js::as_str).unwrap_or("/").trim_matches('/').to_owned();
    let trailing_slash = config.get("trailingSlash").and_then(Js::as_bool);
    let mut static_dirs: Vec<String> = config
        .get("staticDirectories")
        .map(Js::strings)
        .unwrap_or_else(|| vec!["static".to_owned()])
        .iter()
        .filter_map(|d| under(&site_dir, d))
        .collect();
    static_dirs.dedup();
    let mut docs = Vec::new();
    let mut blog = Some((under(&site_dir, "blog").unwrap_or_default(), "blog".to_owned()));
    let mut default_docs = true;
    let mut visit = Visit {
        site_dir: &site_dir,
        docs: &mut docs,
        blog: &mut blog,
        default_docs: &mut default_docs,
    };
    visit.value(&config, None, None);
    if default_docs && !docs.iter().any(|d| d.id == "default") {
        docs.push(DocsInstance {
            id: "default".to_owned(),
            path: under(&site_dir, "docs").unwrap_or_default(),
            route: "docs".to_owned(),
            last_version: None,
        });
    }
    docs.retain(|d| tree.is_dir(&d.path) || d.path.is_empty());
    Detected {
        platform: Platform::Docusaurus,
        config: Some(path.to_owned()),
        spec: Spec::Docusaurus {
            pages: under(&site_dir, "src/pages").unwrap_or_default(),
            site_dir,
            base_url,
            docs,
            static_dirs,
            blog,
            trailing_slash,
        },
    }
}

/// A walk over a Docusaurus config that collects docs and blog instances.
struct Visit<'a> {
    site_dir: &'a str,
    docs: &'a mut Vec<DocsInstance>,
    blog: &'a mut Option<(String, String)>,
    default_docs: &'a mut bool,
}

impl Visit<'_> {
    /// `key` is the property holding `value`; `plugin` the name of the plugin
    /// whose options array holds it.
    fn value(&mut self, value: &Js, key: Option<&str>, plugin: Option<&str>) {
        match value {
            Js::Object(_) => {
                let is_blog = key == Some("blog") || plugin.is_some_and(|p| p.contains("blog"));
                let is_pages = key == Some("pages") || plugin.is_some_and(|p| p.contains("pages"));
                let is_docs = key == Some("docs")
                    || plugin.is_some_and(|p| p.contains("docs"))
                    || (!is_blog && !is_pages && value.get("sidebarPath").is_some());
                if is_docs {
                    let id = value.get("id").and_then(Js::as_str).unwrap_or("default").to_owned();
                    let path = value.get("path").and_then(Js::as_str).unwrap_or("docs");
                    let route = value.get("routeBasePath").and_then(Js::as_str).unwrap_or("docs");
                    if let Some(path) = under(self.site_dir, path) {
                        let last_version =
                            value.get("lastVersion").and_then(Js::as_str).map(str::to_owned);
                        self.docs.retain(|d| d.id != id);
                        self.docs.push(DocsInstance {
                            id,
                            path,
                            route: route.trim_matches('/').to_owned(),
                            last_version,
                        });
                    }
                } else if is_blog {
                    let path = value.get("path").and_then(Js::as_str).unwrap_or("blog");
                    let route = value.get("routeBasePath").and_then(Js::as_str).unwrap_or("blog");
                    if let Some(path) = under(self.site_dir, path) {
                        *self.blog = Some((path, route.trim_matches('/').to_owned()));
                    }
                }
                if let Js::Object(pairs) = value {
                    for (k, v) in pairs {
                        if !is_docs && !is_blog {
                            self.value(v, Some(k), None);
                        }
                    }
                }
            }
            Js::Bool(false) if key == Some("docs") => *self.default_docs = false,
            Js::Bool(false) if key == Some("blog") => *self.blog = None,
            Js::Array(items) => {
                // `['@docusaurus/plugin-content-docs', {options}]`
                let name = items.first().and_then(Js::as_str).filter(|n| {
                    n.contains("plugin")
                        || n.contains("content-")
                        || n.contains("preset")
                        || *n == "classic"
                });
                for item in items {
                    self.value(
                        item,
                        None,
                        name.filter(|n| !n.contains("preset") && *n != "classic"),
                    );
                }
            }
            Js::Opaque { inner, .. } => {
                for item in inner {
                    self.value(item, key, plugin);
                }
            }
            _ => {}
        }
    }
}

/// A config file of any of Hugo's formats as JSON values.
fn config_value(path: &str, text: &str) -> Result<serde_json::Value, String> {
    if path.ends_with(".toml") {
        toml::from_str::<toml::Value>(text)
            .map_err(|e| format!("malformed TOML: {}", e.message()))
            .and_then(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
    } else if path.ends_with(".json") {
        crate::jsonc::parse(text)
    } else {
        let docs = yaml_rust2::YamlLoader::load_from_str(text)
            .map_err(|e| format!("malformed YAML: {e}"))?;
        Ok(docs.first().map(yaml_to_json).unwrap_or(serde_json::Value::Null))
    }
}

fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> serde_json::Value {
    use yaml_rust2::Yaml;
    match yaml {
        Yaml::String(s) | Yaml::Real(s) => serde_json::Value::String(s.clone()),
        Yaml::Integer(i) => serde_json::Value::from(*i),
        Yaml::Boolean(b) => serde_json::Value::Bool(*b),
        Yaml::Array(items) => serde_json::Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(map) => serde_json::Value::Object(
            map.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), yaml_to_json(v))))
                .collect(),
        ),
        _ => serde_json::Value::Null,
    }
}

/// Hugo's config: `contentDir`, `staticDir`, `assetDir`, module mounts,
/// `disablePathToLower`, and whether a custom link render hook exists.
fn hugo(tree: &Tree, path: &str, text: &str, warn: &dyn Fn(String)) -> Detected {
    let site_dir = parent(path).to_owned();
    let value = config_value(path, text).unwrap_or_else(|e| {
        warn(format!("{e}; the site is read with Hugo's defaults"));
        serde_json::Value::Null
    });
    let get = |key: &str| {
        value.as_object().and_then(|o| {
            o.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone())
        })
    };
    let strings = |v: Option<serde_json::Value>, default: &str| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => vec![s],
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()
            }
            _ => vec![default.to_owned()],
        }
    };
    let mut content_dirs: Vec<String> =
        strings(get("contentDir"), "content").iter().filter_map(|d| under(&site_dir, d)).collect();
    let mut static_dirs: Vec<String> =
        strings(get("staticDir"), "static").iter().filter_map(|d| under(&site_dir, d)).collect();
    let assets_dir = strings(get("assetDir"), "assets")
        .first()
        .and_then(|d| under(&site_dir, d))
        .unwrap_or_default();
    let mounts = get("module").and_then(|m| m.get("mounts").cloned());
    let mut mounted_content = Vec::new();
    for mount in mounts.as_ref().and_then(|m| m.as_array()).into_iter().flatten() {
        let (Some(source), Some(target)) = (mount["source"].as_str(), mount["target"].as_str())
        else {
            continue;
        };
        let Some(source) = under(&site_dir, source) else { continue };
        match target.trim_matches('/') {
            "content" => mounted_content.push(source),
            "static" => static_dirs.push(source),
            _ => {}
        }
    }
    // Each language may have its own content folder (`languages.fr.contentDir`).
    if let Some(languages) = get("languages").as_ref().and_then(|l| l.as_object().cloned()) {
        for language in languages.values() {
            let dir = language
                .as_object()
                .and_then(|l| l.iter().find(|(k, _)| k.eq_ignore_ascii_case("contentDir")))
                .and_then(|(_, v)| v.as_str());
            if let Some(dir) = dir.and_then(|d| under(&site_dir, d)) {
                mounted_content.push(dir);
            }
        }
    }
    // Mounts replace the default content folder, as in Hugo.
    if !mounted_content.is_empty() {
        content_dirs = mounted_content;
    }
    content_dirs.dedup();
    static_dirs.dedup();
    let lower_paths = !get("disablePathToLower").and_then(|v| v.as_bool()).unwrap_or(false);
    let term_ids = get("markup")
        .and_then(|m| m.get("goldmark").cloned())
        .and_then(|g| g.get("parser").cloned())
        .and_then(|p| p.get("autoDefinitionTermID").and_then(|v| v.as_bool()))
        .unwrap_or(false);
    let link_hook =
        ["layouts/_markup/render-link.html", "layouts/_default/_markup/render-link.html"]
            .iter()
            .any(|hook| tree.index(&join(&site_dir, hook)).is_some());
    Detected {
        platform: Platform::Hugo,
        config: Some(path.to_owned()),
        spec: Spec::Hugo {
            site_dir,
            content_dirs,
            static_dirs,
            assets_dir,
            lower_paths,
            link_hook,
            term_ids,
        },
    }
}

fn mdbook(path: &str, text: &str, warn: &dyn Fn(String)) -> Detected {
    let book_dir = parent(path).to_owned();
    let value: toml::Value = toml::from_str(text).unwrap_or_else(|e| {
        warn(format!("malformed TOML: {}; the book is read with mdBook's defaults", e.message()));
        toml::Value::Table(toml::map::Map::new())
    });
    let src =
        value.get("book").and_then(|b| b.get("src")).and_then(|s| s.as_str()).unwrap_or("src");
    let src = under(&book_dir, src).unwrap_or_else(|| book_dir.clone());
    let mut redirects = Vec::new();
    if let Some(map) = value
        .get("output")
        .and_then(|o| o.get("html"))
        .and_then(|h| h.get("redirect"))
        .and_then(|r| r.as_table())
    {
        let sorted: BTreeMap<&String, &toml::Value> = map.iter().collect();
        for (old, new) in sorted {
            if let Some(new) = new.as_str() {
                redirects.push((old.trim_start_matches('/').to_owned(), new.to_owned()));
            }
        }
    }
    Detected {
        platform: Platform::MdBook,
        config: Some(path.to_owned()),
        spec: Spec::MdBook { book_dir, src, redirects },
    }
}

fn sphinx(path: &str, text: &str) -> Detected {
    let heading_anchors = text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("myst_heading_anchors") && !l.contains("= 0")
    });
    Detected {
        platform: Platform::Sphinx,
        config: Some(path.to_owned()),
        spec: Spec::Sphinx { src: parent(path).to_owned(), heading_anchors },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip() {
        for platform in Platform::ALL {
            assert_eq!(platform.as_str().parse::<Platform>(), Ok(platform));
        }
        let err = "jekyll".parse::<Platform>().unwrap_err();
        assert!(
            err.starts_with("unknown platform `jekyll` (expected one of github, gitlab, docfx"),
            "{err}"
        );
    }

    #[test]
    fn hugo_config_formats() {
        let toml = config_value(
            "hugo.toml",
            "contentDir = 'c'\n[[module.mounts]]\nsource = 'content/en'\ntarget = 'content'\n",
        )
        .unwrap();
        assert_eq!(toml["contentDir"], "c");
        assert_eq!(toml["module"]["mounts"][0]["source"], "content/en");
        let yaml = config_value("hugo.yaml", "staticDir: [a, b]\n").unwrap();
        assert_eq!(yaml["staticDir"], serde_json::json!(["a", "b"]));
        assert!(config_value("hugo.toml", "x = ").is_err());
    }
}
