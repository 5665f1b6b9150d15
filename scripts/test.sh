#!/usr/bin/env bash
# Runs the whole test suite. Emulators and servers are started (and stopped) by the
# pytest fixtures in tests/_fixtures/. pytest's "no tests ran" (exit 5) counts as failure.
set -uo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check lib functions tests bench scripts || exit 1
.venv/bin/ruff format --check --quiet lib functions tests bench scripts || { echo "Run: make format" >&2; exit 1; }
.venv/bin/mypy || exit 1
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
