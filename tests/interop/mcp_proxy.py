"""`mcp-proxy` (PyPI) in a virtualenv of its own: it needs `mcp<2`, this project runs `mcp` 2.

``ensure_mcp_proxy()`` creates the virtualenv under the user's cache directory on first use,
installed from ``requirements/mcp-proxy.txt`` (hash-locked by ``make lock`` from
``requirements/mcp-proxy.in``), and returns the path of its ``mcp-proxy`` command. A changed lock
gets a virtualenv of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parents[2] / "requirements" / "mcp-proxy.txt"
_INSTALL = ("-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes", "-r", str(LOCK))


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mcp-auth-server-tests" / f"mcp-proxy-{hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]}"


def ensure_mcp_proxy() -> Path:
    venv = _cache_dir()
    command = venv / "bin" / "mcp-proxy"
    stamp = venv / ".installed"
    if stamp.exists() and command.exists():
        return command
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f"{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent test runs: one installs, the others wait
        if stamp.exists() and command.exists():
            return command
        for argv in (
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [str(venv / "bin" / "python"), *_INSTALL],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"installing mcp-proxy failed ({' '.join(argv[:4])}):\n{result.stderr[-2000:]}")
        stamp.write_text(LOCK.read_text())
    return command
