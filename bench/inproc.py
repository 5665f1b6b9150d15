"""Per-request CPU cost without HTTP: the ASGI apps called directly, in this process.

Separates what the framework adds from the server, the client and the
network: the bare baseline's ASGI callable against ``wrap_server(FACTORY)``
with the team's factory, both answering the same ``tools/call``. The full
stack's user directory reads from an in-memory repository here (its cache
makes that a hit after the first request anyway); the HTTP runs count the
real Firestore calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import importlib.util
import io
import json
import logging
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from bench.load import PROTOCOLS, answered, echo_call
from bench.stack import ROOT, SOURCES, UNREACHED_RATE, USER, mint

Asgi = Callable[
    [dict[str, Any], Callable[[], Awaitable[dict[str, Any]]], Callable[[dict[str, Any]], Awaitable[None]]],
    Awaitable[None],
]
RESOURCE = "http://127.0.0.1:8080/mcp"


class _Repository:
    """Stands in for ``UserRepository``: the one user, as Firestore would return it."""

    async def get(self, uid: str) -> Any:
        from mcp_auth.store.users import UserRecord

        return UserRecord(uid=uid, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"}), version="v1")


def _load_bare() -> Asgi:
    spec = importlib.util.spec_from_file_location("bench_bare_main", SOURCES["bare"])
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module._serve


def _build_full(key: str, *, limits: str = "off") -> Asgi:
    """The full stack in process; ``limits``: the per-user and per-tool rate (``off``: both off)."""
    functions = str(ROOT / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    from factory import FACTORY
    from mcp_auth import Settings, wrap_server
    from mcp_auth.store.users import UserDirectory

    env = {
        "MCP_AUTH_RESOURCE_URL": RESOURCE,
        "MCP_AUTH_PROVIDERS": "jwt",
        "MCP_AUTH_JWT_ISSUER": "https://issuer.bench/",
        "MCP_AUTH_JWT_HS256_KEY": key,
        "MCP_AUTH_FIRST_LOGIN": "reject",
        "GOOGLE_CLOUD_PROJECT": "demo-bench",
        # one bench user calls far more than a person would: per-user limits off, the address limit stays
        "MCP_AUTH_RATE_LIMIT_USER": limits,
        "MCP_AUTH_RATE_LIMIT_TOOL": limits,
    }
    settings = Settings.from_env({**{k: v for k, v in os.environ.items() if not k.startswith("MCP_AUTH_")}, **env})
    from mcp_auth.ratelimit import MemoryWindows, RateLimiter

    # the production lease and credit, counted in memory: no Firestore in process
    limits_set = settings.rate_limits
    limiter = RateLimiter(MemoryWindows(), lease=limits_set.lease, credit=limits_set.credit)
    return wrap_server(
        FACTORY,
        settings=settings,
        users=UserDirectory(_Repository()),  # type: ignore[arg-type]
        limiter=limiter,
    )


def _scope(headers: dict[str, str]) -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"Host": "127.0.0.1:8080", **headers}.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/mcp",
        "raw_path": b"/mcp",
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def _call(app: Asgi, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    delivered = False
    never = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _time(app: Asgi, scope: dict[str, Any], body: bytes, *, requests: int) -> float:
    """CPU seconds per request: the process's CPU time (every thread: the SDK runs a plain function's tool on a
    worker thread), which, unlike the wall clock, does not count this loop waiting for that thread to be woken."""
    for _ in range(min(20, requests)):
        status, payload = await _call(app, scope, body)
        if not answered(status, payload):
            raise RuntimeError(f"in-process call answered {status}: {payload[:300]!r}")
    started = time.process_time()
    for _ in range(requests):
        await _call(app, scope, body)
    return (time.process_time() - started) / requests


@contextlib.contextmanager
def _log_level(level: int) -> Iterator[None]:
    """ "full_quiet" is the full stack with MCP_AUTH_LOG_LEVEL=WARNING: no request or audit lines."""
    root = logging.getLogger()
    saved = root.level
    root.setLevel(level)
    try:
        yield
    finally:
        root.setLevel(saved)


async def measure(*, requests: int, rounds: int = 3) -> dict[str, dict[str, float]]:
    """CPU microseconds per request, bare and full, per protocol: the least of ``rounds`` alternating rounds of
    ``requests`` each (short rounds, many of them: the least is the one the shared machine disturbed least)."""
    key = secrets.token_urlsafe(48)
    apps = {"bare": _load_bare(), "full": _build_full(key)}
    token = mint(key, USER, RESOURCE)
    results: dict[str, dict[str, float]] = {}
    for protocol in PROTOCOLS:
        headers, body = echo_call(protocol)
        scopes = {"bare": _scope(headers), "full": _scope({**headers, "Authorization": f"Bearer {token}"})}
        best = {kind: float("inf") for kind in (*apps, "full_quiet")}
        for round_ in range(rounds):
            for kind in best if round_ % 2 else reversed(best):  # each goes first in turn
                app, scope = (apps["full"], scopes["full"]) if kind == "full_quiet" else (apps[kind], scopes[kind])
                with _log_level(logging.WARNING if kind == "full_quiet" else logging.INFO):
                    best[kind] = min(best[kind], await _time(app, scope, body, requests=requests))
        results[protocol] = {f"{kind}_us": seconds * 1e6 for kind, seconds in best.items()}
    results["log_line"] = _log_line_cost()
    results["limits"] = await _limits_cost(requests=requests, rounds=rounds)
    results["rounds"], results["requests"] = rounds, requests  # type: ignore[assignment]
    results["profile"] = await _profile_summary(apps["full"], token, requests)
    return results


async def _limits_cost(*, requests: int, rounds: int, users: int = 1000) -> dict[str, float]:
    """CPU microseconds per request of the full stack with the per-user and per-tool limits on (at a rate never
    reached, ``UNREACHED_RATE``) and off, ``users`` users called in turn: the many-users cell of section 3 without
    HTTP. Each user stays within its credit, as in that cell, so the limiter's cost is its bookkeeping in memory."""
    key = secrets.token_urlsafe(48)
    apps = {"off": _build_full(key, limits="off"), "on": _build_full(key, limits=UNREACHED_RATE)}
    headers, body = echo_call(PROTOCOLS[0])
    scopes = [
        _scope({**headers, "Authorization": f"Bearer {mint(key, f'inproc-user-{n:05d}', RESOURCE)}"})
        for n in range(users)
    ]
    for app in apps.values():  # every user's record and server cached, as after the cell's warm-up
        for scope in scopes:
            status, payload = await _call(app, scope, body)
            if not answered(status, payload):
                raise RuntimeError(f"in-process call answered {status}: {payload[:300]!r}")
    best = dict.fromkeys(apps, float("inf"))
    for round_ in range(rounds):
        for kind in best if round_ % 2 else reversed(best):
            start = round_ * requests % users
            turn = [scopes[(start + i) % users] for i in range(requests)]
            started = time.process_time()
            for scope in turn:
                await _call(apps[kind], scope, body)
            best[kind] = min(best[kind], (time.process_time() - started) / requests)
    return {"users": users, **{f"{kind}_us": seconds * 1e6 for kind, seconds in best.items()}}


def _short(path: str) -> str:
    """A source path without the machine's part: relative to the checkout, a package, or the standard library."""
    if path.startswith(str(ROOT)):
        return str(Path(path).relative_to(ROOT)).removeprefix("lib/")
    return path.split("site-packages/")[-1].split("/lib/")[-1]


async def _profile_summary(app: Asgi, token: str, requests: int, top: int = 15) -> Any:
    """The full stack's busiest functions (cProfile self time) per 2026-07-28 request: what to make faster."""
    headers, body = echo_call(PROTOCOLS[0])
    scope = _scope({**headers, "Authorization": f"Bearer {token}"})
    await _time(app, scope, body, requests=min(50, requests))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await _call(app, scope, body)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for (path, line, name), (_calls, total_calls, self_s, cumulative_s, _callers) in stats.items():
        where = _short(path)
        rows.append(
            {
                "function": f"{where}:{line}({name})",
                "calls_per_request": total_calls / requests,
                "self_us": self_s / requests * 1e6,
                "cumulative_us": cumulative_s / requests * 1e6,
            }
        )
    rows.sort(key=lambda row: -row["self_us"])
    return {"requests": requests, "protocol": PROTOCOLS[0], "top_self": rows[:top]}


def _log_line_cost(calls: int = 5000) -> dict[str, float]:
    """One audit-style INFO line through the handler the framework configured: formatting, and all of it."""
    audit = logging.getLogger("mcp_auth.audit")
    extra = {"audit": True, "event": "tool_call", "user": USER, "tool": "echo", "outcome": "ok", "latency_ms": 0.5}
    handler = logging.getLogger().handlers[0]
    record = audit.makeRecord(audit.name, logging.INFO, __file__, 0, "audit %s", ("tool_call",), None, extra=extra)

    def best(call: Callable[[], object]) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            for _ in range(calls):
                call()
            times.append((time.perf_counter() - started) / calls)
        return min(times) * 1e6

    with _log_level(logging.INFO):
        return {
            "format_us": best(lambda: handler.format(record)),
            "total_us": best(lambda: audit.info("audit %s", "tool_call", extra=extra)),
        }


def run(*, requests: int, rounds: int = 3) -> dict[str, dict[str, float]]:
    """``measure`` in a child process: the framework logs every request to stdout, which goes to /dev/null there."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "inproc.json"
        subprocess.run(
            [sys.executable, "-m", "bench.inproc", "measure", str(requests), str(rounds), str(out)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=True,
            timeout=600,
        )
        return json.loads(out.read_text())


def profile(kind: str, protocol: str, *, requests: int = 2000, top: int = 30) -> str:
    """cProfile of ``requests`` in-process requests (a diagnostic: ``python -m bench.inproc full``)."""
    key = secrets.token_urlsafe(48)
    app = _load_bare() if kind == "bare" else _build_full(key)
    headers, body = echo_call(protocol)
    if kind == "full":
        headers = {**headers, "Authorization": f"Bearer {mint(key, USER, RESOURCE)}"}
    scope = _scope(headers)

    async def go() -> None:
        await _time(app, scope, body, requests=50)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            await _call(app, scope, body)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
        print(out.getvalue())

    asyncio.run(go())
    return ""


if __name__ == "__main__":
    if sys.argv[1:2] == ["measure"]:
        requests, rounds, out = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
        out.write_text(json.dumps(asyncio.run(measure(requests=requests, rounds=rounds))))
    else:
        profile(sys.argv[1] if len(sys.argv) > 1 else "full", sys.argv[2] if len(sys.argv) > 2 else PROTOCOLS[0])
