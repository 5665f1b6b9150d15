"""``mcp-auth dev`` run as a developer runs it, in a checkout of its own.

The checkout is a temporary directory holding a copy of ``functions/`` (so ``.dev/`` starts empty)
and ``.venv``, a link to this interpreter's environment (so the README's ``.venv/bin/mcp-auth`` is
the CLI under test). ``dev_server`` is one run per test; ``shared_dev_server`` one per test module,
for tests that only talk to it. Both stop the runner with SIGTERM, as Ctrl-C or a supervisor would.
"""

from __future__ import annotations

import os
import queue
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mcp_auth.devtools.emulator import free_port

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the console scripts installed beside this interpreter
READY = "Ctrl-C stops everything."


def clean_env() -> dict[str, str]:
    """This process's environment without the settings of the tests' own servers and emulators."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_AUTH_", "FIRESTORE_", "GOOGLE_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"
    return env


@dataclass
class DevServer:
    checkout: Path
    port: int
    banner: str
    process: subprocess.Popen[str]
    output: RunnerOutput

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def shell(self, command: str) -> subprocess.CompletedProcess[str]:
        """``command`` in a shell in the checkout after ``source .dev/env``, the CLI on PATH as .venv/bin is."""
        return subprocess.run(
            ["bash", "-c", f"source .dev/env && {command}"],
            cwd=self.checkout,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def settings(self) -> dict[str, str]:
        """``.dev/env`` read as the shell reads it (a value may span lines: the PEM signing key)."""
        words = shlex.split((self.checkout / ".dev" / "env").read_text())
        return dict(word.partition("=")[::2] for word in words if word != "export")


def make_checkout(path: Path) -> Path:
    shutil.copytree(ROOT / "functions", path / "functions", ignore=shutil.ignore_patterns("__pycache__"))
    (path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    return path


def start_runner(checkout: Path, *args: str) -> subprocess.Popen[str]:
    """``mcp-auth dev ARGS`` in ``checkout``, its output (stdout and stderr) on one pipe."""
    return subprocess.Popen(
        [str(BIN / "mcp-auth"), "dev", *args],
        cwd=checkout,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


class RunnerOutput:
    """The runner's output (stdout and stderr), read by a thread of its own as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._process = process
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self._process.stdout is not None
        with self._process.stdout:
            for line in self._process.stdout:
                self._lines.put(line)
        self._lines.put(None)

    def until(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Everything read up to the first line ``predicate`` accepts (or the end of the output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                self._lines.put(None)
                break
            self.seen.append(line)
            if predicate(line):
                return "".join(self.seen)
        raise AssertionError(f"no such line (exit {self._process.poll()}):\n{''.join(self.seen)[-4000:]}")

    def until_ready(self, timeout: float) -> str:
        try:
            return self.until(lambda line: line.strip() == READY, timeout)
        except AssertionError as exc:
            raise AssertionError(f"mcp-auth dev did not get ready: {exc}") from None

    def until_exit(self, timeout: float) -> str:
        """The whole output, once the runner exited (it must within ``timeout``)."""
        self._process.wait(timeout=timeout)
        try:
            self.until(lambda line: False, timeout)
        except AssertionError:
            pass
        return "".join(self.seen)


def stop_runner(process: subprocess.Popen[str]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # what Ctrl-C or a supervisor sends; the runner stops what it started
        try:
            return process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise
    return process.returncode


def _run(checkout: Path) -> Iterator[DevServer]:
    port = free_port()
    process = start_runner(checkout, "--port", str(port))
    try:
        output = RunnerOutput(process)
        banner = output.until_ready(timeout=180)
        yield DevServer(checkout, port, banner, process, output)
    finally:
        stop_runner(process)


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    yield from _run(make_checkout(tmp_path / "checkout"))


@pytest.fixture(scope="module")
def shared_dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    yield from _run(make_checkout(tmp_path_factory.mktemp("dev") / "checkout"))


def processes_in(directory: Path) -> dict[int, str]:
    """Live processes (zombies left out) working in ``directory``: what a run there started and left."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if Path(os.readlink(entry / "cwd")) != directory.resolve():
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        if state != "Z":
            found[int(entry.name)] = command.strip()
    return found


def kill_groups(pids: Iterator[int] | list[int]) -> None:
    """SIGKILL to the process group of each pid (what a test found left running)."""
    for pid in pids:
        try:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
