"""The interop Node project beside this file: installed from the lock file (`npm ci`) on first use, then its tools.

The lock file pins the conformance suite (0.1.16 and the 0.2 pre-release, the
latter under the alias ``conformance-next``), the Inspector, both TypeScript SDK
generations and the Node.js 22 runtime they need (npm package ``node``), so the
machine's own Node only has to run npm. After a change to package.json, regenerate the lock
with `npm install --package-lock-only` in this directory: `npm ci` installs only from a lock
that matches package.json, every optional platform package included (tests/test_npm_locks.py).
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent
NODE_MODULES = PROJECT_DIR / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"
CONFORMANCE = NODE_MODULES / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
CONFORMANCE_NEXT = NODE_MODULES / "conformance-next" / "dist" / "index.js"
INSPECTOR = NODE_MODULES / "@modelcontextprotocol" / "inspector" / "clients" / "launcher" / "build" / "index.js"
_STAMP = NODE_MODULES / ".installed-from-lock"


class NodeToolsUnavailable(RuntimeError):
    """The interop Node project could not be installed."""


def _lock_digest() -> str:
    return hashlib.sha256((PROJECT_DIR / "package-lock.json").read_bytes()).hexdigest()


def installed() -> bool:
    """node_modules holds what package-lock.json names (installed by ensure_installed)."""
    return NODE.exists() and _STAMP.exists() and _STAMP.read_text().strip() == _lock_digest()


def ensure_installed() -> Path:
    """Install from the lock file unless node_modules matches package-lock.json; returns the node binary."""
    digest = _lock_digest()
    if installed():
        return NODE
    npm = shutil.which("npm")
    if npm is None:
        raise NodeToolsUnavailable("npm was not found on PATH: install Node.js with npm (any version), then rerun.")
    tag = hashlib.sha256(bytes(PROJECT_DIR)).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"interop-npm-install-{tag}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs: one installs, the others wait
        if installed():
            return NODE
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if result.returncode != 0 or not NODE.exists():
            output = (result.stdout + result.stderr)[-3000:]
            raise NodeToolsUnavailable(f"`npm ci` in {PROJECT_DIR} failed (exit {result.returncode}):\n{output}")
        _STAMP.write_text(digest)
    return NODE
