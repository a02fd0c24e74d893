#!/usr/bin/env bash
# The project's test command: `make test` runs it, and CI runs that through .ci/run.
#
# On a fresh machine it creates .venv, starts the local stack (`wfe stack up` installs
# PostgreSQL and downloads Kafka on first use), then runs ruff, mypy and pytest against it.
# Arguments are passed to pytest. The stack is stopped at exit unless WFE_KEEP_STACK=1.
# Every check runs even when an earlier one fails; the exit status is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

export PIP_DISABLE_PIP_VERSION_CHECK=1
results=()
failed=0
stack_touched=0

now_ds() { # wall clock in tenths of a second
    local us=${EPOCHREALTIME/[.,]/}
    echo $((us / 100000))
}

# phase NAME COMMAND...: run and time one step, remember how it went, return its status.
phase() {
    local name=$1 start status=0 took
    shift
    start=$(now_ds)
    printf '\n==> %s\n' "$name"
    "$@" || status=$?
    took=$(($(now_ds) - start))
    took="$((took / 10)).$((took % 10)) s"
    if ((status == 0)); then
        results+=("$(printf '  %-12s %9s  ok' "$name" "$took")")
    else
        results+=("$(printf '  %-12s %9s  FAILED (exit %d)' "$name" "$took" "$status")")
    fi
    printf '<== %s: %s\n' "$name" "$took"
    return "$status"
}

finish() {
    local status=$?
    ((failed)) && status=1
    if ((stack_touched)); then
        if [[ ${WFE_KEEP_STACK:-0} == 1 ]]; then
            printf '\nstack left running (WFE_KEEP_STACK=1); stop it with: make stack-down\n'
        else
            phase "stack down" wfe stack down || status=1
        fi
    fi
    printf '\nphases:\n'
    printf '%s\n' "${results[@]}"
    failed_tests
    ((status == 0)) && printf 'all passed\n' || printf 'FAILED\n'
    exit "$status"
}
trap finish EXIT

# The names of the tests that failed, last, where a reader of only the log's tail sees them.
junit=.wfe/pytest.xml
failed_tests() {
    [[ -s $junit ]] || return 0
    python3 - "$junit" <<'PY'
import sys
import xml.etree.ElementTree as ET

failures = []
for case in ET.parse(sys.argv[1]).iter("testcase"):
    problem = case.find("failure")
    if problem is None:
        problem = case.find("error")
    if problem is not None:
        message = (problem.get("message") or "").partition("\n")[0]
        failures.append(f"  {case.get('classname')}::{case.get('name')}: {message[:160]}")
if failures:
    print("failed tests:", *failures, sep="\n")
PY
}

setup_venv() {
    # A venv made without ensurepip (Debian's python3-venv missing) has python but no pip.
    if [[ ! -x .venv/bin/pip ]]; then
        if ! python3 -m venv .venv && ((EUID == 0)); then
            apt-get update -q && apt-get install -y -q python3-venv && python3 -m venv .venv
        fi
    fi
    .venv/bin/python -m pip install -q -e '.[dev]'
}

phase "virtualenv" setup_venv
export VIRTUAL_ENV="$PWD/.venv" PATH="$PWD/.venv/bin:$PATH"

stack_touched=1
phase "stack up" wfe stack up
stack_env=$(wfe stack env) # separately, so a failure stops the run (eval would hide it)
eval "$stack_env"

phase "ruff check" ruff check . || failed=1
phase "ruff format" ruff format --check . || failed=1
phase "mypy" mypy || failed=1

# The dashboard's browser test drives Debian's Chromium (Playwright's own download fails
# offline); a no-op when it is installed.
install_chromium() {
    [[ -x /usr/bin/chromium ]] && return 0
    ((EUID == 0)) || { echo "chromium missing: apt-get install chromium (as root)" >&2; return 1; }
    apt-get update -q && apt-get install -y -q chromium
}
phase "chromium" install_chromium || failed=1
rm -f "$junit"
phase "pytest" pytest -q -p no:cacheprovider --junitxml="$junit" "$@" || failed=1
