"""Per-user servers: build cost, memory per cached server, and 10,000 distinct users.

Runs the team's real factory (``functions/factory.py``) through the framework's
``ServerCache``, in this process. Memory is what ``tracemalloc`` sees allocated
by Python (the servers' own objects; shared prebuilt tools are counted once).
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import time
import tracemalloc
from typing import Any

from bench.stack import ROOT


def _factory() -> Any:
    functions = str(ROOT / "functions")
    if functions not in sys.path:
        sys.path.insert(0, functions)
    from factory import FACTORY

    return FACTORY


def _record(i: int) -> Any:
    from mcp_auth.store.users import UserRecord

    return UserRecord(
        uid=f"user-{i:05d}",
        toolsets=frozenset({"basics"}),
        scopes=frozenset({"mcp:tools"}),
        version="2026-01-01T00:00:00+00:00",
    )


async def build_cost(*, users: int) -> dict[str, float]:
    """Seconds per build: the bare SDK constructor, the team's selection assembled, and a ServerCache miss."""
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.servers import ServerCache

    factory = _factory()
    from mcp_auth.servers import assemble
    from toolsets import basics

    records = [_record(i) for i in range(users)]
    started = time.perf_counter()
    for _ in records:
        MCPServer("bare", tools=list(basics.TOOLSET.tools), log_level="WARNING")
    bare = (time.perf_counter() - started) / users
    started = time.perf_counter()
    for record in records:
        assemble(factory.select(record))
    factory_build = (time.perf_counter() - started) / users
    cache = ServerCache(factory, max_size=users)
    started = time.perf_counter()
    for record in records:
        await cache.get(record)
    miss = (time.perf_counter() - started) / users
    started = time.perf_counter()
    for record in records:
        await cache.get(record)
    hit = (time.perf_counter() - started) / users
    return {
        "bare_sdk_build_us": bare * 1e6,
        "factory_build_us": factory_build * 1e6,
        "cache_miss_us": miss * 1e6,
        "cache_hit_us": hit * 1e6,
        "users": users,
    }


async def memory_per_server(*, users: int) -> dict[str, float]:
    """Bytes allocated per cached server (ServerCache holding ``users`` servers)."""
    from mcp_auth.servers import ServerCache

    records = [_record(i) for i in range(users)]
    cache = ServerCache(_factory(), max_size=users)
    await cache.get(_record(-1))  # first build pays one-time imports and caches, outside the measurement
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for record in records:
        await cache.get(record)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"bytes_per_server": (after - before) / users, "users": users}


async def many_users(*, users: int, requests: int, cache_size: int, seed: int = 9) -> dict[str, Any]:
    """``requests`` requests from ``users`` distinct users (Zipf-like popularity) through a bounded cache."""
    from mcp_auth.servers import ServerCache

    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(users)]
    order = rng.choices(range(users), weights=weights, k=requests)
    records = [_record(i) for i in range(users)]
    cache = ServerCache(_factory(), max_size=cache_size)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    largest, samples = 0, []
    started = time.perf_counter()
    for n, i in enumerate(order, 1):
        await cache.get(records[i])
        largest = max(largest, len(cache))
        if n % max(1, requests // 10) == 0:
            samples.append(tracemalloc.get_traced_memory()[0] - base)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    distinct = len(set(order))
    return {
        "users": users,
        "distinct_seen": distinct,
        "requests": requests,
        "cache_size": cache_size,
        "builds": cache.builds,
        "hit_rate": 1 - cache.builds / requests,
        "largest_cache": largest,
        "memory_samples_mib": [round(s / 2**20, 1) for s in samples],
        "peak_mib": peak / 2**20,
        "seconds": elapsed,
    }


def run(*, users: int, memory_users: int, requests: int, cache_size: int) -> dict[str, Any]:
    async def all_of_them() -> dict[str, Any]:
        return {
            "build": await build_cost(users=memory_users),
            "memory": await memory_per_server(users=memory_users),
            "many_users": await many_users(users=users, requests=requests, cache_size=cache_size),
        }

    return asyncio.run(all_of_them())
