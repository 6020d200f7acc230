#!/usr/bin/env bash
# Runs the test suite once per PySlowFast generation (called by `make test`).
#
#   PY       python of the pyslowfast 1.0 environment
#   MAIN_PY  python of the GitHub-main environment
#   TREES    GitHub-main SlowFast clones, space separated (may be empty)
#
# Each clone goes on PYTHONPATH, as SlowFast's INSTALL.md says. The first
# clone gets the whole suite; each further clone only the tests whose outcome
# depends on the clone (SNAPSHOT_TESTS: SlowFast's own tools and run_net.py,
# and the CPU run of tools/gpu_check.py, which runs those tools and so runs
# only under a clone whose tools import: bac7b67), as the rest runs the
# plugin over SlowFast's library, which the snapshots here share (HEAD's
# differs from bac7b67's only in formatting). pytest's exit
# status 5 (no test collected) counts as a pass. Exits non-zero if any run
# failed, after all have run.
set -u
cd "$(dirname "$0")/.."

status=0
summary=()

SNAPSHOT_TESTS="tests/test_pyslowfast_main.py tests/test_gpu_check.py"

run() {  # run LABEL PYTHON [PYTHONPATH [TESTS]]
    local label=$1 python=$2 path=${3:-} tests=${4:-tests} start rc
    echo "=== tests under $label: $tests"
    start=$SECONDS
    env -u PYSLOWFAST_ROOT ${path:+PYTHONPATH="$path"} "$python" -m pytest $tests --durations=10
    rc=$?
    if [ $rc -eq 5 ]; then
        echo "pytest collected no test under $label"
        rc=0
    fi
    [ $rc -eq 0 ] || status=1
    summary+=("$label: exit $rc in $((SECONDS - start)) s")
}

run "pyslowfast 1.0" "$PY"
if [ -z "${TREES// /}" ]; then
    summary+=("GitHub main: skipped, no SlowFast clone found; run make test PYSLOWFAST_ROOT=/path/to/SlowFast to include one")
else
    tests=tests
    for tree in $TREES; do
        run "GitHub main at $tree" "$MAIN_PY" "$tree" "$tests"
        tests=$SNAPSHOT_TESTS
    done
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit $status
