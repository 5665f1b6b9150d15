"""A closed-loop load of many users, each with their own token, mixing tool calls and checking every answer.

The benchmark's generator (``bench/load.py``) replays one request; here every virtual user sends
its own sequence (``whoami``, ``echo`` with a unique text, ``tools/list``, a streamed
``echo_with_progress``, and for users of the notes toolset ``create_note`` and ``list_notes``) in
both protocol generations and checks that each answer is for that user: ``whoami`` names the
caller, ``echo`` returns the caller's own text, ``tools/list`` shows the caller's toolsets,
``list_notes`` shows only notes the caller created. Latency statistics reuse the benchmark's ``LoadResult``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from bench.load import HANDSHAKE, MODERN, LoadResult

from tests._fixtures.http import mcp_request


@dataclass(frozen=True)
class VirtualUser:
    uid: str
    token: str
    tools: frozenset[str]  # what tools/list must show this user
    protocol: str = MODERN

    @property
    def mix(self) -> tuple[str, ...]:
        basics = ("whoami", "echo", "list", "echo", "progress", "whoami", "echo")
        return basics + ("note", "notes") if "create_note" in self.tools else basics


@dataclass
class MixResult:
    load: LoadResult
    calls: dict[str, int] = field(default_factory=dict)
    isolation_violations: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        violations = len(self.isolation_violations)
        return {**self.load.summary(), "calls": dict(self.calls), "isolation_violations": violations}


def final_message(content_type: str, payload: bytes) -> dict[str, Any] | None:
    text = payload.decode(errors="replace")
    if content_type.startswith("text/event-stream"):
        datas = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = datas[-1] if datas else ""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def check(user: VirtualUser, kind: str, expected: str, message: dict[str, Any] | None) -> str | None:
    """None when the answer is right for ``user``; else what is wrong (an isolation violation or an error)."""
    result = (message or {}).get("result")
    if not isinstance(result, dict):
        return f"error: {kind} got no result: {str(message)[:200]}"
    if kind == "list":
        names = frozenset(t.get("name") for t in result.get("tools", []))
        return None if names == user.tools else f"isolation: {user.uid} sees tools {sorted(names)}"
    content = result.get("structuredContent") or {}
    if kind in ("note", "notes") and result.get("isError"):
        return f"error: {kind} tool error: {str(result)[:200]}"
    if kind == "note":
        return None if content.get("title") == expected else f"error: create_note answered {str(content)[:100]}"
    if kind == "notes":
        titles = [str(n.get("title")) for n in content.get("notes", [])]
        foreign = [t for t in titles if not t.startswith(user.uid + "#")]
        return None if not foreign else f"isolation: {user.uid} lists notes {foreign[:3]!r}"
    if "whoami" not in user.tools:
        return None if result.get("isError") else f"isolation: {user.uid} called a tool it does not have"
    if result.get("isError"):
        return f"error: {kind} tool error: {str(result)[:200]}"
    if kind == "whoami":
        who = (result.get("structuredContent") or {}).get("user_id")
        return None if who == user.uid else f"isolation: {user.uid} was answered as {who!r}"
    texts = [c.get("text") for c in result.get("content", []) if isinstance(c, dict)]
    return None if expected in texts else f"isolation: {user.uid} got echo {texts!r}, sent {expected!r}"


async def run_mix(
    url: str,
    users: Sequence[VirtualUser],
    *,
    duration: float,
    request_timeout: float = 30.0,
    samplers: Sequence[RssSampler] = (),
) -> MixResult:
    """Each user loops over its call mix for ``duration`` seconds; RSS samplers run alongside."""
    result = MixResult(load=LoadResult(concurrency=len(users), seconds=0.0))
    counter = itertools.count(1)
    connector = aiohttp.TCPConnector(limit=len(users))
    timeout = aiohttp.ClientTimeout(total=request_timeout)
    deadline = time.monotonic() + duration

    async def one(session: aiohttp.ClientSession, user: VirtualUser, kind: str) -> None:
        n = next(counter)
        expected = f"{user.uid}#{n}"
        method, params = {
            "whoami": ("tools/call", {"name": "whoami", "arguments": {}}),
            "echo": ("tools/call", {"name": "echo", "arguments": {"text": expected}}),
            "progress": (
                "tools/call",
                {"name": "echo_with_progress", "arguments": {"text": expected, "steps": 2, "delay": 0}},
            ),
            "list": ("tools/list", {}),
            "note": ("tools/call", {"name": "create_note", "arguments": {"title": expected}}),
            "notes": ("tools/call", {"name": "list_notes", "arguments": {"limit": 50}}),
        }[kind]
        request = mcp_request(method, params, token=user.token, protocol=user.protocol, request_id=n)
        headers, body = request["headers"], request["content"]
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                status, content_type = response.status, response.headers.get("content-type", "")
        except (aiohttp.ClientError, TimeoutError) as exc:
            _count(result.load.error_kinds, type(exc).__name__)
            result.load.errors += 1
            return
        _count(result.calls, kind)
        problem = (
            f"error: HTTP {status}"
            if status != 200
            else check(user, kind, expected, final_message(content_type, payload))
        )
        if problem is None:
            result.load.latencies.append(time.perf_counter() - started)
            return
        result.load.errors += 1
        _count(result.load.error_kinds, problem.split(":")[0] + ": " + problem.split(":")[1][:40])
        if problem.startswith("isolation"):
            result.isolation_violations.append(problem)

    async def client(session: aiohttp.ClientSession, user: VirtualUser) -> None:
        for kind in itertools.cycle(user.mix):
            if time.monotonic() >= deadline:
                return
            await one(session, user, kind)

    sampling = [asyncio.create_task(s.run()) for s in samplers]
    began = time.perf_counter()
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(client(session, u) for u in users))
    finally:
        result.load.seconds = time.perf_counter() - began
        for task in sampling:
            task.cancel()
        await asyncio.gather(*sampling, return_exceptions=True)
    return result


def _count(counts: dict[str, int], key: str) -> None:
    counts[key] = counts.get(key, 0) + 1


def protocols() -> itertools.cycle[str]:
    return itertools.cycle((MODERN, HANDSHAKE))


class RssSampler:
    """Resident memory of a process and its children, sampled from /proc while a load runs."""

    def __init__(self, name: str, pid: int, *, interval: float = 0.5) -> None:
        self.name, self.pid, self.interval = name, pid, interval
        self.samples: list[tuple[float, int]] = []  # (seconds since start, bytes)

    async def run(self) -> None:
        started = time.monotonic()
        while True:
            self.samples.append((time.monotonic() - started, process_tree_rss(self.pid)))
            await asyncio.sleep(self.interval)

    def growth(self, *, after_fraction: float = 0.0) -> int:
        """Bytes gained from the sample at ``after_fraction`` of the run to the highest later sample."""
        if len(self.samples) < 2:
            return 0
        end = self.samples[-1][0]
        start_value = next(v for t, v in self.samples if t >= end * after_fraction)
        return max(v for t, v in self.samples if t >= end * after_fraction) - start_value

    def summary(self) -> dict[str, Any]:
        mib = 1024 * 1024
        values = [v for _, v in self.samples] or [0]
        return {
            "instance": self.name,
            "rss_start_mib": round(values[0] / mib, 1),
            "rss_end_mib": round(values[-1] / mib, 1),
            "rss_peak_mib": round(max(values) / mib, 1),
            "growth_after_warmup_mib": round(self.growth(after_fraction=0.25) / mib, 1),
            "growth_second_half_mib": round(self.growth(after_fraction=0.5) / mib, 1),
        }


def process_tree_rss(pid: int) -> int:
    """VmRSS of ``pid`` plus its descendants, in bytes (0 for a process that is gone)."""
    total = 0
    for p in [pid, *_descendants(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def _descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return found
    for child in map(int, children):
        found += [child, *_descendants(child)]
    return found


def seconds_from_env(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)
