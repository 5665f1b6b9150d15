"""`mcp-proxy` (PyPI) in a virtualenv of its own: it needs `mcp<2`, this project runs `mcp` 2.

``ensure_mcp_proxy()`` creates the virtualenv under the user's cache directory on first use and
returns the path of its ``mcp-proxy`` command.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

MCP_PROXY_VERSION = "0.13.0"
_REQUIREMENTS = (f"mcp-proxy=={MCP_PROXY_VERSION}", "mcp<2")


def _cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "mcp-auth-server-tests" / f"mcp-proxy-{MCP_PROXY_VERSION}"


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
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *_REQUIREMENTS],
        ):
            result = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"installing mcp-proxy failed ({' '.join(argv[:4])}):\n{result.stderr[-2000:]}")
        stamp.write_text(" ".join(_REQUIREMENTS))
    return command
