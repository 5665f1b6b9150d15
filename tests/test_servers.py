"""The per-user server cache and chain, in process: hits build nothing, a new record version rebuilds,
the bound holds, concurrent misses build once, and every server gets the one chain in its one order."""

from __future__ import annotations

import asyncio

import pytest
from mcp.server.mcpserver import MCPServer

from mcp_auth import Toolset, ToolsetFactory, UserRecord, prompt, resource, tool
from mcp_auth.observe import AuditMiddleware
from mcp_auth.ratelimit import MemoryWindows, RateLimiter, RateLimits, ToolRateLimitMiddleware
from mcp_auth.servers import ServerCache, assemble
from mcp_auth.tools import DeadlineMiddleware, ScopeMiddleware


def ping() -> str:
    """Answer pong."""
    return "pong"


def page(id: str) -> str:
    """A page."""
    return id


def greeting(name: str = "you") -> str:
    """Greet."""
    return f"Hello {name}"


ONE = Toolset(
    "one",
    tools=[tool(ping, scopes=["a"])],
    resources=[resource(page, "page://{id}", scopes=["b"])],
    prompts=[prompt(greeting, scopes=["c"])],
)
FACTORY = ToolsetFactory([ONE])


def record(uid: str = "u1", version: str = "v1") -> UserRecord:
    return UserRecord(uid=uid, toolsets=frozenset({"one"}), version=version)


async def test_a_hit_builds_nothing_and_a_new_record_version_rebuilds():
    cache = ServerCache(FACTORY)
    first = await cache.get(record())
    assert await cache.get(record()) is first and cache.builds == 1
    changed = await cache.get(record(version="v2"))
    assert changed is not first and cache.builds == 2


async def test_eviction_keeps_the_bound():
    cache = ServerCache(FACTORY, max_size=3)
    for n in range(10):
        await cache.get(record(uid=f"u{n}"))
    assert len(cache) == 3 and cache.builds == 10
    await cache.get(record(uid="u9"))
    assert cache.builds == 10  # the most recent users are still there
    await cache.get(record(uid="u0"))
    assert cache.builds == 11  # an evicted one costs only a rebuild


async def test_concurrent_misses_for_one_user_build_once():
    release = asyncio.Event()
    built: list[str] = []

    async def slow_factory(user: UserRecord) -> MCPServer:
        built.append(user.uid)
        await release.wait()
        return MCPServer("slow")

    cache = ServerCache(slow_factory)
    waiting = [asyncio.ensure_future(cache.get(record())) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    servers = await asyncio.gather(*waiting)
    assert built == ["u1"] and len({id(s) for s in servers}) == 1


async def test_a_failed_build_reaches_every_waiter_and_the_next_request_tries_again():
    attempts: list[int] = []
    release = asyncio.Event()

    async def flaky(user: UserRecord) -> MCPServer:
        attempts.append(1)
        await release.wait()
        if len(attempts) == 1:
            raise RuntimeError("upstream down")
        return MCPServer("ok")

    cache = ServerCache(flaky)
    waiting = [asyncio.ensure_future(cache.get(record())) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and len(attempts) == 1
    assert (await cache.get(record())).server.name == "ok"


async def test_every_server_gets_the_chain_in_its_one_order():
    limiter = RateLimiter(MemoryWindows())
    cache = ServerCache(FACTORY, limiter=limiter, limits=RateLimits.from_strings())
    server = (await cache.get(record())).server
    ours = [type(m) for m in server.middleware if type(m).__module__.startswith("mcp_auth.")]  # after the SDK's own
    assert ours == [AuditMiddleware, ScopeMiddleware, ToolRateLimitMiddleware, DeadlineMiddleware]


@pytest.mark.parametrize("sdk_spans", [True, False])
async def test_the_sdks_span_per_message_is_kept_only_while_tracing_is_on(sdk_spans):
    cache = ServerCache(FACTORY, sdk_spans=sdk_spans)
    server = (await cache.get(record())).server
    names = [type(m).__name__ for m in server.middleware]
    assert ("OpenTelemetryMiddleware" in names) is sdk_spans
    assert names[-3:] == ["AuditMiddleware", "ScopeMiddleware", "DeadlineMiddleware"]  # the chain is unchanged


@pytest.mark.parametrize(
    ("exporter", "team_provider", "wanted"),
    [("none", False, False), ("none", True, True), ("otlp", False, True), ("gcp", False, True)],
)
def test_the_sdks_spans_are_wanted_with_tracing_on_or_a_tracer_provider_already_set(exporter, team_provider, wanted):
    """In a fresh interpreter: a tracer provider is process-wide and cannot be unset."""
    import subprocess
    import sys

    script = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        f"if {team_provider}:\n"
        "    trace.set_tracer_provider(TracerProvider())\n"
        "from mcp_auth.servers import sdk_spans_wanted\n"
        f"print(sdk_spans_wanted({exporter!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == str(wanted)


def test_a_server_is_assembled_from_the_selected_toolsets_with_the_scope_of_each_item():
    server, rules = assemble(FACTORY.select(record()))
    assert dict(rules.tools) == {"ping": frozenset({"a"})}
    assert dict(rules.prompts) == {"greeting": frozenset({"c"})}
    assert rules.for_resource("page://42") == frozenset({"b"}) and rules.for_resource("other://1") == frozenset()
    assert FACTORY.scopes == frozenset({"a", "b", "c"})
    assert server.name == "mcp-auth-server"


@pytest.mark.parametrize(
    ("select", "message"),
    [
        (lambda user, toolsets: [Toolset("stranger")], "does not hold"),
    ],
)
def test_a_selection_outside_the_factory_is_refused(select, message):
    from mcp_auth import ConfigError

    with pytest.raises(ConfigError, match=message):
        ToolsetFactory([ONE], select=select).select(record())


def test_the_factorys_extensions_are_given_to_every_users_server():
    from mcp_auth import TaskPolicy, TasksExtension
    from mcp_auth.tasks import TASKS_EXTENSION_ID

    tasks = TasksExtension({"ping": TaskPolicy()})
    factory = ToolsetFactory([ONE], extensions=[tasks])
    from mcp_auth._sdk import lowlevel_server

    def advertised(server) -> dict:
        return lowlevel_server(server).get_capabilities().extensions or {}

    server, _ = assemble(factory.select(record()), extensions=factory.extensions)
    assert TASKS_EXTENSION_ID in advertised(server)
    plain, _ = assemble(FACTORY.select(record()))
    assert TASKS_EXTENSION_ID not in advertised(plain)
