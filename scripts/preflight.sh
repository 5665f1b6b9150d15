#!/usr/bin/env bash
# Checks the tools a target needs before any long install, so a first run fails in seconds with
# one message per missing piece saying what to install, instead of after minutes of pip.
#
#   scripts/preflight.sh dev    Python 3.11+, Java 11+ and the Firestore emulator (make dev)
#   scripts/preflight.sh test   the same, plus Node.js 20+ with npm (make test: the OAuth and
#                               interop test servers run on Node)
#   scripts/preflight.sh fast   the same as dev (make test-fast: its tests share one Firestore
#                               emulator and start no Node servers)
#
# Exits 0 when everything is there, 1 when something is missing (every missing piece is
# reported), 2 on a bad argument. PYTHON names the interpreter, as for scripts/bootstrap.sh.
set -uo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
    dev | test | fast) ;;
    *)
        echo "usage: scripts/preflight.sh dev|test|fast (got: '${mode}')" >&2
        exit 2
        ;;
esac

PYTHON="${PYTHON:-python3}"
missing=0

report() {
    echo "preflight: $*" >&2
    missing=$((missing + 1))
}

# The major version in `java -version` output: 'openjdk version "17.0.15"' -> 17, '"1.8.0_392"' -> 8.
java_major() {
    java -version 2>&1 | sed -n 's/.*version "\([0-9][0-9.]*\).*/\1/p' | head -n 1 |
        awk -F. '{ print ($1 == "1") ? $2 : $1 }'
}

check_python() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        report "Python 3.11 or newer is needed and '$PYTHON' was not found. Install it" \
            "(Debian/Ubuntu: sudo apt-get install python3 python3-venv), or point PYTHON at one: PYTHON=python3.12 make $target"
        return 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
        report "Python 3.11 or newer is needed; $PYTHON is $("$PYTHON" --version 2>&1)." \
            "Install a newer one (Debian/Ubuntu: sudo apt-get install python3.11 python3.11-venv)," \
            "then: PYTHON=python3.11 make $target"
        return 1
    fi
    if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        report "$PYTHON cannot create virtualenvs (no venv/ensurepip module)." \
            "Debian/Ubuntu: sudo apt-get install python3-venv"
        return 1
    fi
}

check_java() {
    if ! command -v java >/dev/null 2>&1; then
        report "Java 11 or newer is needed (the Firestore emulator is a Java program) and 'java' was not found on PATH." \
            "Debian/Ubuntu: sudo apt-get install default-jre-headless"
        return
    fi
    local major
    major="$(java_major)"
    if [ -z "$major" ] || [ "$major" -lt 11 ]; then
        report "Java 11 or newer is needed (the Firestore emulator is a Java program); found:" \
            "$(java -version 2>&1 | head -n 1). Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless"
    fi
}

# The emulator is found exactly as `mcp-auth dev` and the tests find it (find_launcher in
# lib/mcp_auth/devtools/emulator.py, a standard-library module loaded by path: no venv needed).
check_emulator() {
    local found
    found="$(
        "$PYTHON" - <<'EOF' 2>/dev/null
import importlib.util
spec = importlib.util.spec_from_file_location("emulator", "lib/mcp_auth/devtools/emulator.py")
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
try:
    print(module.find_launcher())
except module.EmulatorError:
    pass
EOF
    )"
    if [ -n "$found" ]; then
        return
    fi
    if [ -n "${MCP_AUTH_FIRESTORE_EMULATOR:-}" ]; then
        report "MCP_AUTH_FIRESTORE_EMULATOR is set to '$MCP_AUTH_FIRESTORE_EMULATOR', which is not an executable" \
            "file: point it at the emulator's cloud_firestore_emulator launcher, or unset it."
    elif command -v gcloud >/dev/null 2>&1; then
        report "The Firestore emulator is not installed. Install it with: gcloud components install cloud-firestore-emulator" \
            "(a Google Cloud CLI installed from the apt repository: sudo apt-get install google-cloud-cli-firestore-emulator)."
    else
        report "The Firestore emulator is needed and the Google Cloud CLI ('gcloud') was not found. Install the CLI" \
            "with its emulator: add the Google Cloud CLI apt repository (see the CLI's installation guide), then" \
            "sudo apt-get install google-cloud-cli google-cloud-cli-firestore-emulator"
    fi
}

check_node() {
    if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
        report "Node.js 20 or newer with npm is needed for the tests (the OAuth and interop test servers run on" \
            "Node; the suite installs its own Node 22 with npm on first use) and 'node' or 'npm' was not found on" \
            "PATH. Install Node.js 20+ with npm: Debian 13/Ubuntu 24.10 and later: sudo apt-get install nodejs npm;" \
            "older releases: the Node.js project's packages or nvm (nvm install 22)."
        return
    fi
    local major
    major="$(node --version 2>/dev/null | sed -n 's/^v\([0-9][0-9]*\).*/\1/p')"
    if [ -z "$major" ] || [ "$major" -lt 20 ]; then
        report "Node.js 20 or newer is needed to run npm for the tests; found node $(node --version 2>&1)." \
            "Install Node.js 20+ (the Node.js project's packages, or nvm: nvm install 22)."
    elif ! npm --version >/dev/null 2>&1; then
        report "npm does not run with this Node.js ($(node --version 2>&1)): reinstall npm, or Node.js 20+ with its npm."
    fi
}

case "$mode" in
    dev) target=dev ;;
    test) target=test ;;
    fast) target=test-fast ;;
esac

if check_python; then
    check_emulator
else
    echo "preflight: (the Firestore emulator is looked for once Python is there)" >&2
fi
check_java
if [ "$mode" = test ]; then
    check_node
fi

if [ "$missing" -gt 0 ]; then
    echo "preflight: 'make $target' needs the above first; nothing was installed." >&2
    exit 1
fi
