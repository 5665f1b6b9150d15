"""The function under functions-framework, in a subprocess, exactly as deployed.

function_env       the settings every test server gets (HS256 key, issuer, emulator)
start_function     factory: start_function(**env_overrides) -> RunningFunction; stopped after the test
                   (_SOURCE=path serves another main.py; a None value removes a setting)
function_server    session: one server with the default settings
mint               mint(user, scopes=..., **claims) -> a token the default servers accept

A RunningFunction can also wait until it has heard of a change to a user (``heard``): its revocation
listener's ``revocation applied`` log lines, counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from mcp_auth.devtools.emulator import FirestoreEmulator, free_port
from tests._fixtures.firestore import TEST_PROJECT

ROOT = Path(__file__).resolve().parents[2]
ISSUER = "https://issuer.test/"


@dataclass
class RunningFunction:
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path
    _stopped: bool = field(default=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def revocations_applied(self, uid: str) -> int:
        """How many times this instance logged that it forgot what it cached about ``uid`` (a record change
        or key revocation its listener heard: ``store/revocations.py``)."""
        count = 0
        for line in self.output().splitlines():
            if '"revocation applied"' in line and uid in json.loads(line).get("uids", []):
                count += 1
        return count

    async def heard(self, uid: str, *, more_than: int, timeout: float = 30.0) -> None:
        """Wait until this instance has applied more than ``more_than`` revocations naming ``uid``."""
        deadline = time.monotonic() + timeout
        while self.revocations_applied(uid) <= more_than:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.base} never heard of a change to {uid}:\n{self.output()[-3000:]}")
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def launch_function(env: dict[str, str], log_dir: Path, *, source: Path | None = None) -> RunningFunction:
    port = int(env.get("PORT") or free_port())
    env = {**env, "MCP_AUTH_RESOURCE_URL": env.get("MCP_AUTH_RESOURCE_URL") or f"http://127.0.0.1:{port}/mcp"}
    log = log_dir / f"function-{port}.log"
    with log.open("wb") as out:
        process = _popen(port, env, out, source)
    running = RunningFunction(port=port, env=env, process=process, log=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the function exited with {process.returncode}:\n{running.output()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{running.base}/healthz", timeout=1).status_code == 200:
                return running
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"the function did not start within 60 s:\n{running.output()}")


def _popen(port: int, env: dict[str, str], out: Any, source: Path | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "functions_framework",
            "--source",
            str(source or ROOT / "functions" / "main.py"),
            "--target",
            "mcp",
            "--asgi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env={k: v for k, v in {**os.environ, **env}.items() if v is not None},
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )


@pytest.fixture(scope="session")
def function_env(firestore_emulator: FirestoreEmulator) -> dict[str, str]:
    return {
        "FIRESTORE_EMULATOR_HOST": firestore_emulator.host,
        "GOOGLE_CLOUD_PROJECT": TEST_PROJECT,
        "MCP_AUTH_PROVIDERS": "jwt",
        "MCP_AUTH_JWT_ISSUER": ISSUER,
        "MCP_AUTH_JWT_HS256_KEY": secrets.token_urlsafe(48),
        "MCP_AUTH_FIRST_LOGIN": "reject",
        "MCP_AUTH_SCOPES_SUPPORTED": "mcp:tools",
        "MCP_AUTH_USER_CACHE_TTL": "0",
        # Shared test servers see many calls and refusals a minute from one address; rate limits
        # have their own tests (tests/e2e/test_rate_limits*.py), which turn them on.
        "MCP_AUTH_RATE_LIMIT_IP": "off",
        "MCP_AUTH_RATE_LIMIT_USER": "off",
        "MCP_AUTH_RATE_LIMIT_TOOL": "off",
    }


@pytest.fixture(scope="session")
def function_server(
    function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningFunction]:
    running = launch_function(function_env, tmp_path_factory.mktemp("function"))
    yield running
    running.stop()


@pytest.fixture
def start_function(
    function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., RunningFunction]]:
    started: list[RunningFunction] = []

    def start(**overrides: str | None) -> RunningFunction:
        env = {**function_env, **overrides}
        source = env.pop("_SOURCE", None)
        running = launch_function(
            {k: v for k, v in env.items() if v is not None},
            tmp_path_factory.mktemp("fn"),
            source=Path(source) if source else None,
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def mint(function_env: dict[str, str]) -> Callable[..., str]:
    key = function_env["MCP_AUTH_JWT_HS256_KEY"].encode()

    def make(user: str, *, audience: str, scopes: str | None = "mcp:tools", ttl: int = 600, **claims: Any) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": ISSUER, "aud": audience, "sub": user, "iat": now, "exp": now + ttl}
        if scopes is not None:
            body["scope"] = scopes
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="HS256")

    return make
