"""The processes a benchmark run needs: the full-stack function and the bare baseline.

full_env(firestore_host, key)   settings the full-stack function runs with (JWT HS256, Firestore)
Function.start(kind, env)       functions-framework serving functions/main.py ("full") or the
                                bare baseline ("bare") on a free loopback port, as deployed (only
                                what the function archive installs is importable: bench/runtime.py)
seed_user(host, uid)            the user record the benchmark's tokens name
seed_users(host, uids)          many such records (the many-users cell)
mint(key, uid, audience)        an HS256 token the full stack accepts
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import jwt

from bench.runtime import deployed
from mcp_auth.devtools.emulator import free_port

ROOT = Path(__file__).resolve().parents[1]
SOURCES = {"full": ROOT / "functions" / "main.py", "bare": ROOT / "bench" / "baseline" / "main.py"}
PROJECT = "demo-mcp-auth-bench"
ISSUER = "https://issuer.bench/"
USER = "bench-user"


#: A per-user and per-tool rate no benchmark run reaches: the limiter's full path runs, nothing is refused.
UNREACHED_RATE = "1000000/minute"


def full_env(
    firestore_host: str, hs256_key: str, *, user_cache_ttl: int | None = None, rate_limits: bool = False
) -> dict[str, str]:
    env = {
        "FIRESTORE_EMULATOR_HOST": firestore_host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "MCP_AUTH_PROVIDERS": "jwt",
        "MCP_AUTH_JWT_ISSUER": ISSUER,
        "MCP_AUTH_JWT_HS256_KEY": hs256_key,
        "MCP_AUTH_FIRST_LOGIN": "reject",
        # one bench user calls far more than a person would: per-user limits off (one cell turns them on at a
        # rate never reached), the address limit stays
        "MCP_AUTH_RATE_LIMIT_USER": UNREACHED_RATE if rate_limits else "off",
        "MCP_AUTH_RATE_LIMIT_TOOL": UNREACHED_RATE if rate_limits else "off",
        "MCP_AUTH_SCOPES_SUPPORTED": "mcp:tools",
    }
    if user_cache_ttl is not None:
        env["MCP_AUTH_USER_CACHE_TTL"] = str(user_cache_ttl)
    return env


def function_command(kind: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "functions_framework",
        "--source",
        str(SOURCES[kind]),
        "--target",
        "mcp",
        "--asgi",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """A subject process's environment: this one's without any MCP_AUTH_* or emulator setting, plus ``extra``,
    importing only what a deployment installs (``bench/runtime.py``)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MCP_AUTH_") and k not in ("FIRESTORE_EMULATOR_HOST", "K_SERVICE")
    }
    return deployed({**base, **extra})


@dataclass
class Function:
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    started_at: float

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    @classmethod
    def spawn(cls, kind: str, env: dict[str, str]) -> Function:
        """Start the process and return at once (``started_at`` is just before the spawn)."""
        port = free_port()
        env = clean_env({**env, "MCP_AUTH_RESOURCE_URL": f"http://127.0.0.1:{port}/mcp"} if kind == "full" else env)
        log = tempfile.TemporaryFile()
        started = time.perf_counter()
        process = subprocess.Popen(
            function_command(kind, port),
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        return cls(kind=kind, port=port, process=process, log=log, started_at=started)

    @classmethod
    def start(cls, kind: str, env: dict[str, str], *, timeout: float = 60.0) -> Function:
        running = cls.spawn(kind, env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            running.check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{running.port}/healthz", timeout=1).status_code == 200:
                    return running
            time.sleep(0.05)
        running.stop()
        raise RuntimeError(f"the {kind} function did not start within {timeout:.0f} s")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"the {self.kind} function exited with {self.process.returncode}:\n{self.output()}")

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def rss_kib(self) -> int:
        """Resident memory of the server process (Linux), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU seconds of every live process in the function's group (gunicorn and its worker)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == self.process.pid:  # the process group: start_new_session made it the pid
                    total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def seed_user(firestore_host: str, uid: str = USER) -> None:
    """Create (or overwrite) ``users/{uid}`` with the basics toolset and the mcp:tools scope."""
    seed_users(firestore_host, [uid])


def seed_users(firestore_host: str, uids: Sequence[str]) -> None:
    """``seed_user`` for each of ``uids``, in batched writes."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = firestore_host

    async def create() -> None:
        from mcp_auth.store.firestore import close_clients, firestore_client
        from mcp_auth.store.users import UserRecord

        client = firestore_client(project=PROJECT)
        for start in range(0, len(uids), 400):
            batch = client.batch()
            for uid in uids[start : start + 400]:
                record = UserRecord(uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"}))
                batch.set(client.collection("users").document(uid), record.to_document())
            await batch.commit()
        await close_clients()

    asyncio.run(create())


def mint(key: str, uid: str, audience: str, *, ttl: int = 3600) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "sub": uid, "iat": now, "exp": now + ttl, "scope": "mcp:tools"}
    return jwt.encode(claims, key.encode(), algorithm="HS256")
