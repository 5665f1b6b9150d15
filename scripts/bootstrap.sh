#!/usr/bin/env bash
# Creates .venv and installs the project with its development extras.
# Re-runs the install only when pyproject.toml changed since the last run.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "error: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1))." >&2
    echo "       Install it, or point PYTHON at one: PYTHON=python3.12 make test" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.installed
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "bootstrap: installing packages into .venv" >&2
    .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
    .venv/bin/python -m pip install --quiet -e ".[dev]" 2>&1 | grep -vE "^WARNING: Location|^\s*$" >&2 || true
    .venv/bin/python -c 'import mcp_auth, mcp, functions_framework, google.cloud.firestore' \
        || { echo "error: installing the project into .venv failed (see pip output above)." >&2; exit 1; }
    echo "$want" > "$stamp"
fi
