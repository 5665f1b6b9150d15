"""Warm latency and throughput of ``tools/call``: full stack against the bare baseline, same client, same run.

Both functions run as deployed (functions-framework, one uvicorn worker) on
loopback. The full stack authenticates every request with the same HS256 JWT
(a verification-cache hit after the first), finds the user record in its
cache and the user's server in the server cache. Firestore traffic goes
through the counting proxy, so reads and writes per request are counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from bench.fsproxy import CountingProxy
from bench.load import MODERN, PROTOCOLS, LoadResult, answered, echo_call, run_load
from bench.stack import USER, Function, full_env, mint


class Pair:
    """The full-stack and bare functions of one run, and how to load either."""

    def __init__(
        self,
        proxy: CountingProxy,
        hs256_key: str,
        *,
        user_cache_ttl: int | None = None,
        bare: bool = True,
        rate_limits: bool = False,
    ) -> None:
        self.proxy = proxy
        env = full_env(proxy.host, hs256_key, user_cache_ttl=user_cache_ttl, rate_limits=rate_limits)
        self.full = Function.start("full", env)
        self.bare: Function | None = None
        if bare:
            try:
                self.bare = Function.start("bare", {})
            except BaseException:
                self.full.stop()
                raise
        self.token = mint(hs256_key, USER, self.full.url)

    def stop(self) -> None:
        self.full.stop()
        if self.bare is not None:
            self.bare.stop()

    def function(self, kind: str) -> Function:
        """The running full or bare function."""
        function = self.full if kind == "full" else self.bare
        if function is None:
            raise RuntimeError("this pair runs the full stack only")
        return function

    def request(self, kind: str, protocol: str) -> tuple[str, dict[str, str], bytes]:
        headers, body = echo_call(protocol)
        if kind == "full":
            return self.full.url, {**headers, "Authorization": f"Bearer {self.token}"}, body
        return self.function("bare").url, headers, body

    def load(self, kind: str, protocol: str, *, concurrency: int, duration: float, warmup: int) -> dict[str, Any]:
        url, headers, body = self.request(kind, protocol)
        before = self.proxy.snapshot()
        wall_start = time.time()
        result: LoadResult = asyncio.run(
            run_load(url, headers, body, concurrency=concurrency, duration=duration, warmup=warmup)
        )
        after = self.proxy.snapshot()
        self.function(kind).check_alive()
        summary = result.summary()
        summary["wall_start"], summary["wall_end"] = wall_start, time.time()
        if kind == "full":
            summary["firestore_reads"] = CountingProxy.reads(after - before)
            summary["firestore_writes"] = CountingProxy.writes(after - before)
        return summary


def first_request(pair: Pair) -> dict[str, Any]:
    """Firestore calls of the first request for a known user on a fresh instance (the cold path)."""
    url, headers, body = pair.request("full", MODERN)
    before = pair.proxy.snapshot()
    response = httpx.post(url, content=body, headers=headers, timeout=30)
    if not answered(response.status_code, response.content):
        raise RuntimeError(f"the full stack answered {response.status_code}: {response.text[:300]}")
    counts = pair.proxy.snapshot() - before
    return {
        "at": time.time(),
        "reads": CountingProxy.reads(counts),
        "writes": CountingProxy.writes(counts),
        "methods": dict(counts),
    }


def matrix(
    pair: Pair,
    *,
    concurrencies: Sequence[int],
    duration: float,
    warmup: int,
    protocols: Sequence[str] = PROTOCOLS,
    progress: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Every (protocol, concurrency) cell, bare and full back to back; the order alternates per cell."""
    cells = []
    flip = False
    for protocol in protocols:
        for concurrency in concurrencies:
            order = ("full", "bare") if flip else ("bare", "full")
            flip = not flip
            cell: dict[str, Any] = {"protocol": protocol, "concurrency": concurrency}
            for kind in order:
                cell[kind] = pair.load(
                    kind, protocol, concurrency=concurrency, duration=duration, warmup=max(5, warmup // concurrency)
                )
            progress(
                f"  {protocol} x{concurrency}: bare {cell['bare']['rps']:.0f} req/s "
                f"p99 {cell['bare']['p99_ms']:.1f} ms | full {cell['full']['rps']:.0f} req/s "
                f"p99 {cell['full']['p99_ms']:.1f} ms, errors {cell['bare']['errors']}/{cell['full']['errors']}"
            )
            cells.append(cell)
    return cells


def soak(pair: Pair, *, seconds: float, concurrency: int = 64) -> dict[str, Any]:
    """The full stack under ``concurrency`` clients for ``seconds``: errors, Firestore calls, memory."""
    rss_before = pair.full.rss_kib()
    summary = pair.load("full", MODERN, concurrency=concurrency, duration=seconds, warmup=2)
    summary["rss_before_kib"] = rss_before
    summary["rss_after_kib"] = pair.full.rss_kib()
    return summary
