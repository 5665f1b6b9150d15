#!/usr/bin/env bash
# Runs the whole test suite. Emulators and servers are started (and stopped) by the
# pytest fixtures in tests/_fixtures/. pytest's "no tests ran" (exit 5) counts as failure.
#
# With no arguments: lint, then the suite on every core (pytest-xdist, one worker per core, at
# most four; each worker starts its own emulators; a test file stays on one worker), then the
# tests marked `serial` (load, soak and fault injection, whose timeouts assume the machine is
# not shared with other tests) on their own. With arguments: lint, then `pytest <arguments>`.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check lib functions tests bench scripts || exit 1
.venv/bin/ruff format --check --quiet lib functions tests bench scripts || { echo "Run: make format" >&2; exit 1; }
.venv/bin/mypy || exit 1

pytest_phase() {
    .venv/bin/python -m pytest "$@"
    local status=$?
    if [ "$status" -eq 5 ]; then
        echo "error: pytest collected no tests (pytest $*)" >&2
        return 1
    fi
    return "$status"
}

if [ "$#" -gt 0 ]; then
    pytest_phase "$@"
    exit $?
fi
workers="${TEST_WORKERS:-auto}"
pytest_phase -n "$workers" --maxprocesses=4 --dist loadfile -m "not serial" --durations=15
parallel=$?
pytest_phase -m serial
serial=$?
[ "$parallel" -eq 0 ] && [ "$serial" -eq 0 ]
