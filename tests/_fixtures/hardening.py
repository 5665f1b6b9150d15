"""Fixtures for the hardening suites (fault injection).

    restartable_firestore   a Firestore emulator of its own on a fixed loopback port that a test can
                            kill and start again on the same port, keeping its data (see below), or
                            freeze and thaw (SIGSTOP/SIGCONT: a backend that accepts and never answers)
    watched_mint            ``mint`` that registers every token with the session's leak watch

The emulator keeps its documents in memory. A production Firestore outage loses nothing that was
acknowledged, so ``outage()`` models one: it snapshots the documents through the emulator's export
endpoint, kills the process, and ``restart()`` starts a new process on the same port that imports
the snapshot. Clients see connections refused in between, exactly as during a real outage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcp_auth.devtools.emulator import FirestoreEmulator, find_launcher, free_port


class RestartableFirestore(FirestoreEmulator):
    def __init__(self, *, port: int, log_path: Path, export_dir: Path) -> None:
        super().__init__(port=port, log_path=log_path)
        self._export_dir = export_dir
        self._snapshot: Path | None = None

    def start(self, *, timeout: float = 60.0) -> RestartableFirestore:
        argv = [str(find_launcher()), "start", "--host=127.0.0.1", f"--port={self.port}"]
        if self._snapshot is not None:
            argv.append(f"--import-data={self._snapshot}")
        with open(self._log_path or os.devnull, "ab") as log:
            self._process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the Firestore emulator exited with {self._process.returncode}")
            if self.ready():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Firestore emulator did not answer on {self.host}")

    def snapshot(self, project: str) -> Path:
        """Export every document of ``project`` (what a durable store would still hold)."""
        target = self._export_dir / f"snap-{time.monotonic_ns()}"
        target.mkdir(parents=True)
        body = json.dumps({"database": f"projects/{project}/databases/(default)", "export_directory": str(target)})
        request = urllib.request.Request(
            f"http://{self.host}/emulator/v1/projects/{project}:export",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        found = sorted(target.rglob("*.overall_export_metadata"))
        if not found:
            raise RuntimeError("the emulator export wrote no metadata file")
        self._snapshot = found[0]
        return found[0]

    def kill(self) -> None:
        """SIGKILL the emulator's process group: no goodbye to open connections."""
        process = self._process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self._process = None

    def freeze(self) -> None:
        """SIGSTOP the emulator: connections stay open and nothing answers (a hung backend)."""
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self._process is not None:
            os.killpg(self._process.pid, signal.SIGCONT)

    def stop(self) -> None:
        self.thaw()
        super().stop()

    def outage(self, project: str) -> None:
        self.snapshot(project)
        self.kill()

    def restart(self) -> RestartableFirestore:
        return self.start()


@pytest.fixture
def restartable_firestore(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestartableFirestore]:
    base = tmp_path_factory.mktemp("firestore-faults")
    emulator = RestartableFirestore(port=free_port(), log_path=base / "emulator.log", export_dir=base / "exports")
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def watched_mint(mint, leak_watch):
    """``mint`` whose every token is registered with the session's leak watch."""

    def make(*args, **kwargs) -> str:
        return leak_watch.secret(mint(*args, **kwargs))

    return make


@pytest.fixture
def seed_user(user_repo):
    """``await seed_user(record)``: create a user record, retrying while a freshly started emulator warms up
    (its first writes can miss the store deadline on a busy machine)."""
    from mcp_auth.errors import StoreUnavailable

    async def create(record):
        for attempt in range(4):
            try:
                return await user_repo.create(record)
            except StoreUnavailable:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")

    return create
