//! Repository invariants written as tests, so that a plain `cargo test` catches
//! what review would otherwise have to: every Rust file says what it holds,
//! no test is skipped or asserts a panic, no stub is left, and every tool has
//! its guide.

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use crate::util::project_root;

    const TOOLS: [&str; 4] = ["multilock", "doclinks", "failure-rules", "storage-approval"];

    fn rust_files() -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                if name == "target" || name.to_string_lossy().starts_with('.') {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        for top in ["crates", "xtask"] {
            walk(&project_root().join(top), &mut files);
        }
        files.sort();
        files
    }

    fn relative(path: &Path) -> String {
        path.strip_prefix(project_root()).unwrap_or(path).display().to_string()
    }

    #[test]
    fn every_rust_file_starts_with_a_module_doc() {
        let missing: Vec<String> = rust_files()
            .into_iter()
            .filter(|path| {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                // Test modules pulled in by `mod x;` from a documented file are
                // documented by that file's list; everything else opens with `//!`.
                !text.trim_start().starts_with("//!")
            })
            .map(|p| relative(&p))
            .collect();
        assert!(missing.is_empty(), "files without a `//!` doc comment at the top: {missing:#?}");
    }

    #[test]
    fn no_skipped_tests_no_panic_asserting_tests_no_stubs() {
        // Spelled in pieces so this file does not trip its own check.
        let banned = [
            ["#[", "ignore"].concat(),
            ["#[", "should_panic"].concat(),
            ["todo", "!("].concat(),
            ["unimplemented", "!("].concat(),
            ["not ", "implemented"].concat(),
        ];
        let mut offenders = Vec::new();
        for path in rust_files() {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for (number, line) in text.lines().enumerate() {
                for needle in &banned {
                    if line.contains(needle.as_str()) {
                        offenders.push(format!(
                            "{}:{}: {}",
                            relative(&path),
                            number + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "skipped tests, panic-asserting tests or stubs: {offenders:#?}"
        );
    }

    #[test]
    fn every_tool_has_a_guide_and_a_performance_section() {
        let performance =
            std::fs::read_to_string(project_root().join("docs/PERFORMANCE.md")).unwrap();
        for tool in TOOLS {
            assert!(
                project_root().join(format!("docs/{tool}.md")).is_file(),
                "docs/{tool}.md is missing"
            );
            assert!(
                performance.contains(&format!("## {tool}")),
                "docs/PERFORMANCE.md has no `## {tool}` section"
            );
        }
    }

    #[test]
    fn files_are_written_and_confined_only_by_tidy_io() {
        // Issue 8: one atomic-write and one confinement implementation. Library
        // and binary code (not tests) of every other crate goes through tidy-io;
        // these are the calls a second implementation would be made of.
        let banned = [
            ["tempfile", "::Builder"].concat(),
            [".persist", "("].concat(),
            [".persist", "_noclobber("].concat(),
            ["OFlags::", "EXCL"].concat(),
            ["std::fs::", "write("].concat(),
            ["File::", "create("].concat(),
            ["fs::", "renameat("].concat(),
        ];
        let mut offenders = Vec::new();
        for path in rust_files() {
            let rel = relative(&path);
            if !rel.contains("/src/")
                || rel.starts_with("crates/tidy-io/")
                || rel.starts_with("xtask/")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Unit tests at the end of a file may write fixtures as they like.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (number, line) in code.lines().enumerate() {
                let doc_or_comment = line.trim_start().starts_with("//");
                if !doc_or_comment && banned.iter().any(|needle| line.contains(needle.as_str())) {
                    offenders.push(format!("{rel}:{}: {}", number + 1, line.trim()));
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "file writes outside tidy-io (use tidy_io::write_output, Root::write, replace or Dir): {offenders:#?}"
        );
    }

    #[test]
    fn toolchain_is_pinned_to_stable_not_a_version() {
        let toolchain =
            std::fs::read_to_string(project_root().join("rust-toolchain.toml")).unwrap();
        assert!(toolchain.contains(r#"channel = "stable""#), "{toolchain}");
    }

    #[test]
    fn ci_script_calls_the_readme_test_command() {
        let readme = std::fs::read_to_string(project_root().join("README.md")).unwrap();
        let ci = std::fs::read_to_string(project_root().join(".ci/run")).unwrap();
        assert!(readme.contains("cargo xtask ci") && readme.contains("cargo xtask demo"));
        assert!(ci.contains("cargo xtask ci"));
    }
}
