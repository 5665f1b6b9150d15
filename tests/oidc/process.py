"""Installs and runs the Node authorization server (server.js beside this file).

`ensure_installed()` runs `npm ci` from the committed package-lock.json the first
time (and again whenever the lock file changes); it also brings the Node.js
runtime oidc-provider 9 supports (22 LTS, the npm package `node`), so the
machine's own Node only has to be able to run npm. `start_process()` starts one
server, waits for its discovery document and returns it with its issuer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import httpx

PROJECT_DIR = Path(__file__).resolve().parent
NODE_MODULES = PROJECT_DIR / "node_modules"
NODE = NODE_MODULES / ".bin" / "node"
SERVER_SCRIPT = PROJECT_DIR / "server.js"
_STAMP = NODE_MODULES / ".installed-from-lock"
_RELATIVE_DIR = PROJECT_DIR.relative_to(PROJECT_DIR.parents[1]).as_posix()
_START_TIMEOUT = 60.0
_INSTALL_TIMEOUT = 600.0


class OidcServerUnavailable(RuntimeError):
    """The test authorization server could not be installed or started."""


def _lock_digest() -> str:
    return hashlib.sha256((PROJECT_DIR / "package-lock.json").read_bytes()).hexdigest()


def _installed(digest: str) -> bool:
    return NODE.exists() and _STAMP.exists() and _STAMP.read_text().strip() == digest


def installed() -> bool:
    """node_modules holds what package-lock.json names (installed by ensure_installed)."""
    return _installed(_lock_digest())


def ensure_installed() -> None:
    """Run `npm ci` in this directory unless node_modules matches package-lock.json."""
    digest = _lock_digest()
    if _installed(digest):
        return
    npm = shutil.which("npm")
    if npm is None:
        raise OidcServerUnavailable(
            "npm was not found on PATH. The OAuth test server runs on Node.js: install Node.js "
            f"(with npm), or run `npm ci` in {_RELATIVE_DIR} by hand on a machine that has it."
        )
    # Several test runs may share this working tree: one installs, the others wait.
    lock_path = Path(tempfile.gettempdir()) / f"oidc-npm-ci-{hashlib.sha256(bytes(PROJECT_DIR)).hexdigest()[:16]}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(digest):
            return
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT,
            check=False,
        )
        if result.returncode != 0 or not NODE.exists():
            output = (result.stdout + result.stderr).strip()[-3000:]
            if result.returncode == 0:
                output += (
                    "\nnpm ci succeeded but node_modules/.bin/node is missing: the `node` package's install"
                    " script fetches the Node.js runtime; allow install scripts (see allowScripts in"
                    " package.json) and retry."
                )
            raise OidcServerUnavailable(f"`npm ci` in {PROJECT_DIR} failed (exit {result.returncode}):\n{output}")
        _STAMP.write_text(digest)


def _read_ready_line(stream: BinaryIO, timeout: float) -> dict[str, Any] | None:
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        return None
    return json.loads(line) if line.strip() else None


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(OSError):
            if process.stdin:
                process.stdin.close()  # the server exits when its stdin closes
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
    for stream in (process.stdin, process.stdout):
        if stream:
            with contextlib.suppress(OSError):
                stream.close()


def start_process(settings: dict[str, Any], workdir: Path) -> tuple[subprocess.Popen[bytes], str, dict[str, Any]]:
    """Start server.js with `settings`; returns (process, issuer, discovery document)."""
    ensure_installed()
    settings_path = workdir / "settings.json"
    settings_path.write_text(json.dumps(settings))
    settings_path.chmod(0o600)  # it holds client secrets
    log_path = workdir / "server.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [str(NODE), str(SERVER_SCRIPT), str(settings_path)],
            cwd=PROJECT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        assert process.stdout is not None
        ready = _read_ready_line(process.stdout, _START_TIMEOUT)
        if ready is None:
            raise OidcServerUnavailable(f"the OAuth test server did not start; see {log_path}")
        issuer = str(ready["issuer"])
        give_up = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2.0)
                if response.status_code == 200:
                    return process, issuer, response.json()
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > give_up:
                raise OidcServerUnavailable(
                    f"the OAuth test server never served its discovery document; see {log_path}"
                )
            time.sleep(0.05)
    except BaseException:
        stop_process(process)
        raise
