#!/usr/bin/env bash
# Installs what `make bench` needs beyond the virtualenv: the load generator wrk (4.x, with LuaJIT).
# With apt-get and root (or sudo that asks no password) it installs the Debian package; otherwise it
# says how to install wrk and exits 1, having installed nothing.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        as_root() { "$@"; }
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        as_root() { sudo -n "$@"; }
    fi
    if declare -F as_root >/dev/null; then
        echo "bench: installing the load generator wrk (apt-get install wrk)" >&2
        as_root apt-get update -qq && as_root apt-get install -y -qq wrk >/dev/null
        if command -v wrk >/dev/null 2>&1; then
            exit 0
        fi
    fi
fi
echo "bench: the load generator wrk is needed and was not found on PATH. Install it:" \
    "Debian/Ubuntu: sudo apt-get install wrk; macOS: brew install wrk; or build it from its source" \
    "(github.com/wg/wrk)." >&2
exit 1
