#!/usr/bin/env bash
# The steps of the doclinks GitHub Action (action.yml at the repository root),
# one subcommand each. They live in this file rather than inline in action.yml
# so that shellcheck can read them and `cargo xtask e2e` can run them outside
# GitHub, which it cannot reach.
#
#   doclinks.sh locate    key and directory of the cached build  (GITHUB_OUTPUT: key, dir;
#                         its bin/ goes on GITHUB_PATH for the job's later steps)
#   doclinks.sh install   build doclinks into DOCLINKS_ROOT from the action's sources
#   doclinks.sh check     SARIF report, annotations and exit code (GITHUB_OUTPUT: sarif-file, exit-code)
set -euo pipefail

# The action's own checkout: action.yml sits at its root, this file one below.
source_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# macOS runners have shasum but no sha256sum.
if command -v sha256sum >/dev/null 2>&1; then sha256=(sha256sum); else sha256=(shasum -a 256); fi

step_locate() {
    # The cache key covers every file the binary is built from, so a hit is
    # always the doclinks of the action's version, never a stale one.
    local hash
    hash=$(
        cd "$source_dir" &&
            find Cargo.toml Cargo.lock rust-toolchain.toml crates/doclinks crates/tidy-io -type f -print0 |
            LC_ALL=C sort -z | xargs -0 "${sha256[@]}" | "${sha256[@]}" | cut -c1-16
    )
    local dir=${RUNNER_TEMP:?}/doclinks-$hash
    echo "key=doclinks-${RUNNER_OS:-local}-${RUNNER_ARCH:-local}-$hash" >>"$GITHUB_OUTPUT"
    echo "dir=$dir" >>"$GITHUB_OUTPUT"
    # Later steps of the caller's job can run `doclinks fix` and the like.
    echo "$dir/bin" >>"$GITHUB_PATH"
}

step_install() {
    local root=${DOCLINKS_ROOT:?DOCLINKS_ROOT names the install directory}
    if ! command -v cargo >/dev/null 2>&1; then
        echo "::error title=doclinks::cargo is missing: set up Rust before this action (for example with dtolnay/rust-toolchain@stable)"
        exit 1
    fi
    # From the action's directory, so its rust-toolchain.toml applies rather
    # than the checked-out repository's; --locked builds with the Cargo.lock
    # the action's version was tested with.
    cd "$source_dir"
    cargo install --locked --root "$root" --path crates/doclinks
}

step_check() {
    local doclinks=${DOCLINKS:?DOCLINKS names the doclinks binary}
    # Split on whitespace like a shell would, without globbing or quote handling.
    local -a args=()
    read -r -a args <<<"${DOCLINKS_ARGS:-}"
    if [ "${SARIF:-true}" = true ]; then
        local sarif_file=${SARIF_FILE:-doclinks.sarif}
        # --report-only: the report is complete whatever it finds; a usage or
        # input error (exit 2) still stops the step here.
        "$doclinks" check --report-only --format sarif ${args[@]+"${args[@]}"} >"$sarif_file"
        echo "sarif-file=$sarif_file" >>"$GITHUB_OUTPUT"
    fi
    local code=0
    "$doclinks" check --format github ${args[@]+"${args[@]}"} || code=$?
    echo "exit-code=$code" >>"$GITHUB_OUTPUT"
    # 1 (broken links) is for the action's last step to judge after the upload;
    # anything else is an error of its own.
    if [ "$code" -ne 0 ] && [ "$code" -ne 1 ]; then
        echo "::error title=doclinks::doclinks check exited with $code (usage or input error)"
        exit "$code"
    fi
}

case "${1:-}" in
locate | install | check) "step_$1" ;;
*)
    echo "usage: $0 locate|install|check" >&2
    exit 2
    ;;
esac
