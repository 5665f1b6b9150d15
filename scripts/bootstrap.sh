#!/usr/bin/env bash
# Creates .venv and installs into it, only from the hash-locked requirements (requirements/*.txt):
#
#   scripts/bootstrap.sh            dev: requirements/dev.txt (runtime, tests, linters, build tools)
#   scripts/bootstrap.sh runtime    runtime: requirements/runtime.txt and build.txt (what `make dev` needs)
#
# then the framework (lib/, editable, without dependencies: the lock has them) and the template.
# An install runs again only when a lock or pyproject file changed since the last one of that mode
# (a current dev install also serves runtime: it pins the same runtime versions).
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-dev}"
case "$mode" in
    dev) locks=(requirements/dev.txt) ;;
    runtime) locks=(requirements/runtime.txt requirements/build.txt) ;;
    *)
        echo "error: unknown mode '$mode' (use: scripts/bootstrap.sh [dev|runtime])" >&2
        exit 2
        ;;
esac

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
    echo "error: Python 3.11 or newer is required (found: $("$PYTHON" --version 2>&1))." >&2
    echo "       Install it, or point PYTHON at one: PYTHON=python3.12 make test" >&2
    exit 1
fi

for lock in "${locks[@]}"; do
    [ -f "$lock" ] || { echo "error: $lock is missing: run 'make lock' (or restore it from git)." >&2; exit 1; }
done

stamp_of() {  # the inputs of one mode's install
    case "$1" in
        dev) cat requirements/dev.txt lib/pyproject.toml pyproject.toml ;;
        runtime) cat requirements/runtime.txt requirements/build.txt lib/pyproject.toml pyproject.toml ;;
    esac | sha256sum | cut -d' ' -f1
}
want="$(stamp_of "$mode")"
stamp=".venv/.installed-$mode"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
if [ "$mode" = runtime ] && [ -f .venv/.installed-dev ] && [ "$(cat .venv/.installed-dev)" = "$(stamp_of dev)" ]; then
    exit 0
fi

if [ ! -x .venv/bin/python ]; then
    echo "bootstrap: creating .venv" >&2
    "$PYTHON" -m venv .venv
fi

#: pip's lines that say nothing new (the rest show what is being fetched and installed).
noise='^(Requirement already satisfied|Looking in|Ignoring |WARNING: Location|  Using cached|  Attempting uninstall|    Found existing|      Successfully uninstalled)|^\s*$'
run_pip() {
    .venv/bin/python -m pip --disable-pip-version-check "$@" 2>&1 | { grep -vE "$noise" || true; } >&2
    return "${PIPESTATUS[0]}"
}
fail() {
    echo "error: $1 failed (see pip's output above)." >&2
    exit 1
}

# No stamp until this install completes: an interrupted one runs again.
rm -f .venv/.installed-dev .venv/.installed-runtime .venv/.installed
requirements=()
for lock in "${locks[@]}"; do requirements+=(-r "$lock"); done
echo "bootstrap: installing the $mode packages from ${locks[*]} into .venv (hash-checked; the first time takes a few minutes)" >&2
run_pip install --progress-bar off --require-hashes --only-binary=:all: "${requirements[@]}" \
    || fail "installing ${locks[*]}"
# The template first: it may replace an older install of itself that owned the `mcp-auth` command.
echo "bootstrap: installing the template and the framework (lib/, editable)" >&2
quiet_pip() {
    local log
    log="$(mktemp)"
    .venv/bin/python -m pip --disable-pip-version-check install --quiet --no-deps --no-build-isolation "$@" >"$log" 2>&1 \
        || { cat "$log" >&2; rm -f "$log"; return 1; }
    rm -f "$log"
}
quiet_pip -e . || fail "installing the template"
quiet_pip -e ./lib || fail "installing the framework from lib/"
# A dependency changed without `make lock`: say so, and install again next time (no stamp), so
# that `make lock` itself can still run in this environment.
if ! drift="$(.venv/bin/python scripts/lock.py --check 2>&1)"; then
    echo "bootstrap: warning: the locks disagree with what they are made from; run 'make lock':" >&2
    echo "$drift" | sed 's/^/  /' >&2
    exit 0
fi
.venv/bin/python -c 'import mcp_auth, mcp, functions_framework, google.cloud.firestore' \
    || { echo "error: the packages in .venv do not import (see above)." >&2; exit 1; }
echo "$want" > "$stamp"
