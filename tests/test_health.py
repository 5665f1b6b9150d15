"""/readyz is open to anyone, so what it costs is bounded: one probe at a time, one answer per interval."""

from __future__ import annotations

import asyncio

from mcp_auth.health import Readiness
from mcp_auth.store.users import UserDirectory


async def test_concurrent_and_repeated_calls_share_one_probe_per_interval(user_repo, clock):
    probes: list[int] = []

    def directory() -> UserDirectory:  # called once per probe
        probes.append(1)
        return UserDirectory(user_repo)

    ready = Readiness(directory, None, (), interval=2.0, clock=clock)
    answers = await asyncio.gather(*(ready.failing() for _ in range(20)))
    assert answers == [[]] * 20 and len(probes) == 1
    clock.advance(1.9)
    assert await ready.failing() == [] and len(probes) == 1
    clock.advance(0.2)
    assert await ready.failing() == [] and len(probes) == 2
