#!/bin/sh
# The origin's tidy run, with the real tools: four phases, each inside a
# `multilock run` holding the locks its writes need. The tools inside use that
# hold; a lock they need beyond it they take themselves, after it in the
# canonical order queue → runs → archive → docs, so no composition can deadlock.
#
#   tidy-run.sh REPO LOGS_REPORT LOGS_APPROVAL MOVES_REPORT MOVES_APPROVAL
#
# REPO is a git repository with `.multilock` at its root (the lock directory
# every tool finds there). The two reports were scanned and approved by a human
# beforehand (`storage-approval scan`, then `approve`); running this script
# again, or several copies of it at once, does each approved action once.
#
# Exit status: 0 when every phase ran; the first failing phase's status otherwise.
set -eu

if [ "$#" -ne 5 ]; then
    echo "usage: tidy-run.sh REPO LOGS_REPORT LOGS_APPROVAL MOVES_REPORT MOVES_APPROVAL" >&2
    exit 2
fi
repo=$1 logs_report=$2 logs_approval=$3 moves_report=$4 moves_approval=$5
cd "$repo"
# Every phase waits as long as it takes: other runs hold the same locks for
# seconds at most, and a waiter names whom it waits for after one second.
run() {
    multilock --dir .multilock run "$@"
}

# Phase -1, queue retry: recorded failures become rules. failure-rules writes
# docs/LEARNED_ERROR_MITIGATIONS.json under `docs`, which it takes itself
# (after `queue`: allowed).
run --lock queue -- failure-rules analyze --execute .autonomous_runs >/dev/null

# Phase 0.5, runs cleanup: old logs move to the archive. The report's policy
# names `runs` besides `archive`; both are held here, so execute uses the hold.
run --lock runs --lock archive -- \
    storage-approval execute --report "$logs_report" --approval "$logs_approval" --execute >/dev/null

# Phase 1-2, execute moves: junk and duplicates, then the docs links they broke
# (doclinks fix exits 1 when links that need a human are left: not a failure here).
run --lock queue --lock archive --lock docs -- sh -c '
    storage-approval execute --report "$1" --approval "$2" --execute >/dev/null &&
    { doclinks fix docs >/dev/null; [ $? -le 1 ]; }' phase-1-2 "$moves_report" "$moves_approval"

# Phase 3, archive consolidation: the docs are checked and repaired once more
# under archive + docs, so no link points at a file the archive took.
run --lock archive --lock docs -- sh -c 'doclinks fix docs >/dev/null; [ $? -le 1 ]'
