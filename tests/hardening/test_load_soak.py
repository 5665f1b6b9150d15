"""Load and soak on loopback: two instances behind a round-robin proxy, many users, mixed tool calls.

The default run is short (``HARDENING_LOAD_SECONDS``, 12 s); ``make soak`` runs the same test for
``SOAK_SECONDS`` (default 600). Every answer is checked for the caller (multi-tenant isolation
under load), and the resident memory of each instance is sampled from /proc: after a warm-up it
must stop growing. A summary (throughput, p99, errors, memory per instance) is printed; latency
is reported, never asserted.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from mcp_auth.store.users import UserRecord
from tests.hardening.loadmix import RssSampler, VirtualUser, protocols, run_mix, seconds_from_env
from tests.hardening.logscan import server_errors

# Timeouts here assume the machine is not shared with other tests: run apart from the parallel phase.
pytestmark = pytest.mark.serial

DURATION = seconds_from_env("HARDENING_LOAD_SECONDS", 12)
USERS = int(os.environ.get("HARDENING_LOAD_USERS", "8"))
# A Python process settles within a few MiB once its caches are warm; a leak of even a few
# hundred bytes per request exceeds this within a soak.
RSS_LIMIT = int(float(os.environ.get("HARDENING_RSS_LIMIT_MIB", "48")) * 1024 * 1024)
BASICS = frozenset({"whoami", "echo", "echo_with_progress"})
NOTES = frozenset({"create_note", "get_note", "list_notes", "update_note", "delete_note", "search_notes"})
SCOPES = "mcp:tools notes:read notes:write"


async def test_two_instances_under_mixed_load_answer_every_user_as_themselves_without_leaking_memory(
    start_function, round_robin_proxy, seed_user, watched_mint
):
    proxy = round_robin_proxy()
    public = proxy.url + "/mcp"
    instances = [start_function(MCP_AUTH_RESOURCE_URL=public, MCP_AUTH_USER_CACHE_TTL="5") for _ in range(2)]
    proxy.route_to([fn.base for fn in instances])
    users: list[VirtualUser] = []
    for i, protocol in zip(range(USERS), protocols(), strict=False):
        # users with basics and notes, with basics only, and (every fourth) with no tools at all
        toolsets = [{"basics", "notes"}, {"basics"}, {"basics", "notes"}, set()][i % 4]
        uid = f"load-{i}-{uuid.uuid4().hex[:8]}"
        await seed_user(UserRecord(uid=uid, toolsets=frozenset(toolsets), scopes=frozenset(SCOPES.split())))
        tools = (BASICS if toolsets else frozenset()) | (NOTES if "notes" in toolsets else frozenset())
        token = watched_mint(uid, audience=public, ttl=int(DURATION) + 600, scopes=SCOPES)
        users.append(VirtualUser(uid=uid, token=token, tools=tools, protocol=protocol))
    samplers = [RssSampler(f"instance-{n}", fn.process.pid) for n, fn in enumerate(instances)]

    result = await run_mix(public, users, duration=DURATION, samplers=samplers)

    summary = {
        **result.summary(),
        "memory": [s.summary() for s in samplers],
        "proxy_hits": {f"instance-{n}": proxy.hits[fn.base] for n, fn in enumerate(instances)},
    }
    print("\nload summary:", json.dumps(summary, indent=1))
    assert result.isolation_violations == []
    assert result.load.errors == 0, result.load.error_kinds
    assert result.load.ok > 0 and all(proxy.hits[fn.base] > 0 for fn in instances)
    for sampler in samplers:
        assert len(sampler.samples) >= 4
        assert sampler.growth(after_fraction=0.5) < RSS_LIMIT, sampler.summary()
    for fn in instances:
        assert server_errors(fn.output()) == []
