//! `cargo xtask ci`: the single CI entry point. Steps run in order and the first
//! failure stops the run with the step's name.

use std::time::Instant;

use crate::util::{cargo, run_command};

type Step = fn() -> Result<(), String>;

pub(crate) fn run() -> Result<(), String> {
    let steps: [(&str, Step); 9] = [
        ("fmt", fmt),
        ("clippy", clippy),
        ("test", test),
        ("doctest", doctest),
        ("doc", doc),
        ("no-default-features", no_default_features),
        ("package", package),
        ("deny", deny),
        ("e2e", crate::e2e::run),
    ];
    let started = Instant::now();
    let mut took = Vec::new();
    for (name, step) in steps {
        println!("\n==> xtask ci: {name}");
        let step_started = Instant::now();
        step().map_err(|e| format!("ci step `{name}` failed: {e}"))?;
        took.push(format!("{name} {:.0} s", step_started.elapsed().as_secs_f64()));
    }
    // Where the time goes, so that a slow step is seen before CI gets slow.
    println!(
        "\nxtask ci: all steps passed in {:.0} s ({})",
        started.elapsed().as_secs_f64(),
        took.join(", ")
    );
    Ok(())
}

fn fmt() -> Result<(), String> {
    run_command(cargo().args(["fmt", "--all", "--", "--check"]))
}

fn clippy() -> Result<(), String> {
    run_command(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))
}

fn test() -> Result<(), String> {
    // nextest runs each test in its own process, which suits the multi-process
    // lock tests; it does not run doc tests, so those are a step of their own.
    if cargo_subcommand_works("nextest") {
        run_command(cargo().args(["nextest", "run", "--workspace", "--locked", "--no-fail-fast"]))
    } else {
        run_command(cargo().args(["test", "--workspace", "--locked", "--lib", "--bins", "--tests"]))
    }
}

fn doctest() -> Result<(), String> {
    run_command(cargo().args(["test", "--workspace", "--locked", "--doc"]))
}

fn doc() -> Result<(), String> {
    run_command(
        cargo()
            .args(["doc", "--workspace", "--no-deps", "--locked"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )
}

/// The published libraries, in dependency order.
const LIBRARIES: [&str; 5] =
    ["tidy-io", "multilock", "doclinks", "failure-rules", "storage-approval"];

/// The libraries without their `cli` feature. `--workspace` unifies features (the
/// binaries turn `cli` on), so only a build that selects the libraries alone proves
/// that the bare libraries compile, lint clean and pass their unit and doc tests
/// without clap and the binaries. One build for the five, not one each: no library
/// turns on another's `cli` (the workspace dependencies have
/// `default-features = false`), and five separate feature resolutions compiled
/// the shared dependencies five times (226 s of a cold CI run, against 61 s for
/// `cargo package` of every crate).
fn no_default_features() -> Result<(), String> {
    let libraries = LIBRARIES.iter().flat_map(|library| ["-p", library]);
    let bare = ["--no-default-features", "--locked"];
    run_command(
        cargo()
            .args(["clippy"])
            .args(libraries.clone())
            .args(bare)
            .args(["--lib", "--tests", "--", "-D", "warnings"]),
    )?;
    run_command(cargo().args(["test"]).args(libraries).args(bare))
}

/// `cargo package` for every published crate (not xtask and the root package
/// tidykit-hooks, which are never published), which also builds each one from its
/// packaged sources (the verify step), with the workspace's own crates served from a
/// temporary local registry: a file missing from a package, or a path dependency
/// without a version, fails here and not at publish time. The verify build shares
/// the target directory, so only the five crates themselves are compiled again.
/// `--offline`: the earlier steps fetched every dependency; `--allow-dirty`: a local
/// run checks the working tree as it is.
fn package() -> Result<(), String> {
    forget_unpacked_packages()?;
    forget_packaged_builds(&crate::util::target_dir().join("debug"))?;
    run_command(cargo().args([
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--exclude",
        "tidykit-hooks",
        "--locked",
        "--offline",
        "--allow-dirty",
    ]))
}

/// cargo unpacks each crate of its temporary registry into
/// `CARGO_HOME/registry/src/-HASH/NAME-VERSION` (HASH of the registry's path, `-` for
/// a local one) and, registry crates being immutable, reuses that copy on every later
/// run, even when the `.crate` has changed since: the verify build then compiles a
/// crate against the sources of its dependency from an earlier run (seen: a
/// storage-approval missing a function added to tidy-io since). So the copies of the
/// workspace's own crates from local registries go first; cargo unpacks them again.
fn forget_unpacked_packages() -> Result<(), String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let Ok(registries) = std::fs::read_dir(cargo_home.join("registry/src")) else {
        return Ok(());
    };
    for registry in registries.flatten() {
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for library in LIBRARIES {
            let unpacked = registry.path().join(format!("{library}-{}", env!("CARGO_PKG_VERSION")));
            if unpacked.is_dir() {
                remove(&unpacked, |p| std::fs::remove_dir_all(p))?;
            }
        }
    }
    Ok(())
}

/// The same staleness in the target directory: a crate from a registry is
/// fingerprinted by name, version and source, not by its files, so the verify build
/// reuses what an earlier run compiled from that registry's copy of tidy-io,
/// multilock or doclinks. Those builds are found by their dep-info files, which list
/// sources under `registry/src/-HASH/NAME-VERSION/`, and removed; workspace builds,
/// whose sources are the crates' own folders, are left alone.
fn forget_packaged_builds(profile_dir: &std::path::Path) -> Result<(), String> {
    let deps = profile_dir.join("deps");
    let Ok(entries) = std::fs::read_dir(&deps) else { return Ok(()) };
    let version = env!("CARGO_PKG_VERSION");
    let mut stale = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((krate, hash)) = name.strip_suffix(".d").and_then(|s| s.rsplit_once('-')) else {
            continue;
        };
        let Some(library) = LIBRARIES.iter().find(|l| l.replace('-', "_") == krate) else {
            continue;
        };
        let sources = std::fs::read_to_string(entry.path()).unwrap_or_default();
        if sources.contains("/registry/src/-")
            && sources.contains(&format!("/{library}-{version}/"))
        {
            stale.push((krate.to_owned(), hash.to_owned(), *library));
        }
    }
    for (krate, hash, library) in stale {
        let prefixes = [format!("{krate}-{hash}."), format!("lib{krate}-{hash}.")];
        for entry in std::fs::read_dir(&deps).map_err(|e| e.to_string())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
                remove(&entry.path(), |p| std::fs::remove_file(p))?;
            }
        }
        let fingerprint = profile_dir.join(".fingerprint").join(format!("{library}-{hash}"));
        if fingerprint.is_dir() {
            remove(&fingerprint, |p| std::fs::remove_dir_all(p))?;
        }
    }
    Ok(())
}

fn remove(
    path: &std::path::Path,
    how: fn(&std::path::Path) -> std::io::Result<()>,
) -> Result<(), String> {
    how(path).map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn deny() -> Result<(), String> {
    if !cargo_subcommand_works("deny") {
        println!("cargo-deny is missing: installing it with `cargo install --locked cargo-deny`");
        run_command(cargo().args(["install", "--locked", "cargo-deny"]))?;
    }
    // Advisories need the network; they belong to a scheduled job, not every run.
    run_command(cargo().args(["deny", "--locked", "check", "licenses", "bans", "sources"]))
}

fn cargo_subcommand_works(subcommand: &str) -> bool {
    cargo()
        .args([subcommand, "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
