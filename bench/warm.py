"""Warm latency and throughput of ``tools/call``: subjects measured in alternating rounds, same client, same run.

Every subject runs as deployed (functions-framework, one uvicorn worker) on loopback and is loaded
by ``wrk`` (``bench/wrk.py``). The full stack authenticates every request with an HS256 JWT (a
verification-cache hit after a user's first request), finds the user record in its cache and the
user's server in the server cache. Each full-stack subject reaches Firestore through a counting
proxy of its own, so reads and writes are counted per instance. A run records, beside wrk's
figures, the server's CPU seconds (all processes of its group) and its Firestore calls.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench import wrk
from bench.fsproxy import CountingProxy
from bench.load import MODERN, PROTOCOLS, answered, echo_call, raw_request
from bench.stack import USER, Function, full_env, mint


@dataclass
class Subject:
    """One running function and the callers it is loaded with (no tokens: unauthenticated, the bare SDK)."""

    name: str
    function: Function
    tokens: list[str] = field(default_factory=list)
    proxy: CountingProxy | None = None

    @classmethod
    def bare(cls) -> Subject:
        return cls("bare", Function.start("bare", {}))

    @classmethod
    def full(
        cls,
        name: str,
        firestore: str,
        hs256_key: str,
        *,
        users: Sequence[str] = (USER,),
        user_cache_ttl: int | None = None,
        rate_limits: bool = False,
    ) -> Subject:
        """The full stack behind a counting proxy of its own, with one token per user in ``users``."""
        proxy = CountingProxy(firestore).__enter__()
        try:
            env = full_env(proxy.host, hs256_key, user_cache_ttl=user_cache_ttl, rate_limits=rate_limits)
            function = Function.start("full", env)
        except BaseException:
            proxy.__exit__(None, None, None)
            raise
        return cls(name, function, [mint(hs256_key, uid, function.url) for uid in users], proxy)

    def stop(self) -> None:
        self.function.stop()
        if self.proxy is not None:
            self.proxy.__exit__(None, None, None)

    def call(self, protocol: str, token: str | None = None) -> tuple[dict[str, str], bytes]:
        headers, body = echo_call(protocol)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers, body

    def requests(self, protocol: str) -> list[bytes]:
        """The raw requests wrk replays in turn: one per user (one alone for the bare SDK)."""
        tokens: Sequence[str | None] = self.tokens or [None]
        return [raw_request(self.function.url, *self.call(protocol, token)) for token in tokens]

    def firestore(self) -> Any:
        return self.proxy.snapshot() if self.proxy is not None else None

    def run(self, protocol: str, *, concurrency: int, duration: float) -> dict[str, Any]:
        """One measured wrk run, with the server's CPU seconds and (full stack) its Firestore calls."""
        before, cpu_before, wall_start = self.firestore(), self.function.cpu_seconds(), time.time()
        summary = wrk.run(self.function.url, self.requests(protocol), connections=concurrency, duration=duration)
        cpu = self.function.cpu_seconds() - cpu_before
        after = self.firestore()
        self.function.check_alive()
        summary |= {"wall_start": wall_start, "wall_end": time.time(), "server_cpu_s": round(cpu, 3)}
        summary["server_cpu_us_per_request"] = round(cpu / summary["requests"] * 1e6, 1) if summary["requests"] else 0
        if before is not None:
            summary["firestore_reads"] = CountingProxy.reads(after - before)
            summary["firestore_writes"] = CountingProxy.writes(after - before)
            summary["firestore_listens"] = CountingProxy.listens(after - before)
        return summary

    def warm_up(self, protocols: Sequence[str]) -> None:
        """Every user once per protocol (their verification, record and server cached), then one short run."""
        with httpx.Client(timeout=30) as client:
            for protocol in protocols:
                for token in self.tokens or [None]:
                    headers, body = self.call(protocol, token)
                    response = client.post(self.function.url, content=body, headers=headers)
                    if not answered(response.status_code, response.content):
                        raise RuntimeError(f"{self.name} answered {response.status_code}: {response.text[:300]}")
        for protocol in protocols:
            self.run(protocol, concurrency=16, duration=1)


def first_request(subject: Subject) -> dict[str, Any]:
    """Firestore calls of the first request for a known user on a fresh instance (the cold path)."""
    headers, body = subject.call(MODERN, subject.tokens[0])
    before = subject.firestore()
    response = httpx.post(subject.function.url, content=body, headers=headers, timeout=30)
    if not answered(response.status_code, response.content):
        raise RuntimeError(f"the full stack answered {response.status_code}: {response.text[:300]}")
    counts = subject.firestore() - before
    return {
        "at": time.time(),
        "reads": CountingProxy.reads(counts),
        "writes": CountingProxy.writes(counts),
        "methods": dict(counts),
    }


def rounds(
    subjects: Sequence[Subject],
    *,
    concurrencies: Sequence[int],
    duration: float,
    rounds: int,
    protocols: Sequence[str] = PROTOCOLS,
    progress: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Every (protocol, concurrency) cell ``rounds`` times, each subject once per round, back to back.

    Within a cell the subjects' order rotates from round to round (and from cell to cell), so each goes
    first in turn and slow drifts of a shared machine hit them alike. ``runs[name][i]`` is round ``i``.
    """
    cells = [
        {"protocol": protocol, "concurrency": concurrency, "runs": {s.name: [] for s in subjects}}
        for protocol in protocols
        for concurrency in concurrencies
    ]
    for round_ in range(rounds):
        for index, cell in enumerate(cells):
            shift = (round_ + index) % len(subjects)
            order = [*subjects[shift:], *subjects[:shift]]
            for subject in order:
                cell["runs"][subject.name].append(
                    subject.run(cell["protocol"], concurrency=cell["concurrency"], duration=duration)
                )
            progress(
                f"  round {round_ + 1}/{rounds} {cell['protocol']} x{cell['concurrency']}: "
                + " | ".join(
                    f"{name} {runs[-1]['rps']:.0f} req/s p99 {runs[-1]['p99_ms']:.1f} ms errors {runs[-1]['errors']}"
                    for name, runs in cell["runs"].items()
                )
            )
    return cells


def soak(subject: Subject, *, seconds: float, concurrency: int = 64) -> dict[str, Any]:
    """The full stack under ``concurrency`` clients for ``seconds``: errors, Firestore calls, memory."""
    rss_before = subject.function.rss_kib()
    summary = subject.run(MODERN, concurrency=concurrency, duration=seconds)
    summary["rss_before_kib"] = rss_before
    summary["rss_after_kib"] = subject.function.rss_kib()
    return summary
