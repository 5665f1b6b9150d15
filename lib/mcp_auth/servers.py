"""Per-user MCP servers: assembled from the toolsets the team's factory selects, cached per instance.

The cache key is (user id, record version): a changed record (new toolsets,
say) builds a new server on the next request, and an evicted server costs
only a rebuild. Built servers hold no request state, so any instance can build
the same one from Firestore.

A ``ToolsetFactory`` only selects; ``assemble`` builds the server from the selected
toolsets' prebuilt tools, resources and prompts, with the scope each needs. A plain
callable returning an ``MCPServer`` is accepted too (its tools' scopes are read from
their ``_meta``).

Every built server gets the same per-user chain, in this order (outermost first), here
and nowhere else (after the SDK's OpenTelemetry span per message, which is dropped while nothing
would record it: ``sdk_spans_wanted``):

    request state    the shared key that seals input_required state (``request_state.py``)
    audit            method, tool, outcome, latency into the request's record (``observe.py``)
    scopes           tools, prompts and resources the caller's scopes do not allow (``tools.py``)
    per-tool limit   the user's calls of one tool per window (``ratelimit/``)
    deadline         a tool call past ``MCP_AUTH_TOOL_TIMEOUT`` is cancelled (``tools.py``)
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from mcp_auth._sdk import drop_sdk_spans
from mcp_auth.errors import McpAuthError
from mcp_auth.observe import AuditMiddleware
from mcp_auth.ratelimit import RateLimiter, RateLimits, ToolRateLimitMiddleware
from mcp_auth.store.users import UserRecord
from mcp_auth.tools import DeadlineMiddleware, ScopeMiddleware, ScopeRules
from mcp_auth.toolsets import Toolset, ToolsetFactory, required_scopes

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.request_state import RequestState

ServerFactory = ToolsetFactory | Callable[[UserRecord], "MCPServer | Awaitable[MCPServer]"]


class FactoryError(McpAuthError):
    status = 500


class BuiltServer:
    """A user's server and the scopes each of its tools, prompts and resources requires; ``tool_scopes``
    is every scope its tools need, so a caller holding them all needs no check of its calls."""

    __slots__ = ("rules", "server", "tool_scopes")

    def __init__(self, server: MCPServer, rules: ScopeRules) -> None:
        self.server = server
        self.rules = rules
        self.tool_scopes: frozenset[str] = frozenset().union(*rules.tools.values())


def sdk_spans_wanted(exporter: str) -> bool:
    """Whether users' servers keep the SDK's OpenTelemetry span per message: with the framework's tracing on
    (``MCP_AUTH_OTEL_EXPORTER``), or when the process already has a tracer provider (a team's own set-up,
    an auto-instrumentation agent). Otherwise nothing would record them and each costs every request."""
    from opentelemetry import trace

    return exporter != "none" or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def assemble(
    toolsets: Sequence[Toolset],
    *,
    name: str = "mcp-auth-server",
    instructions: str | None = None,
    extensions: Sequence[Any] = (),
) -> tuple[MCPServer, ScopeRules]:
    """One user's MCP server from their toolsets (prebuilt objects: nothing is parsed per user)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(
        name,
        instructions=instructions,
        tools=[t for ts in toolsets for t in ts.tools],
        extensions=list(extensions) or None,
        log_level="WARNING",
    )
    for toolset in toolsets:
        for entry in toolset.resources:
            server.resource(
                entry.uri, name=entry.name, title=entry.title, description=entry.description, mime_type=entry.mime_type
            )(entry.fn)
        for prompt in toolset.prompts:
            server.add_prompt(prompt.prompt)
    rules = ScopeRules(
        tools={t.name: required_scopes(t.meta) for ts in toolsets for t in ts.tools},
        prompts={p.name: p.scopes for ts in toolsets for p in ts.prompts},
        resources=tuple(r for ts in toolsets for r in ts.resources),
    )
    return server, rules


class ServerCache:
    def __init__(
        self,
        factory: ServerFactory,
        *,
        max_size: int = 1024,
        tool_timeout: float = 60.0,
        limiter: RateLimiter | None = None,
        limits: RateLimits | None = None,
        request_state: RequestState | None = None,
        call_context: bool = False,
        sdk_spans: bool = True,
    ) -> None:
        if not callable(factory) and not isinstance(factory, ToolsetFactory):
            raise TypeError(f"factory must be a ToolsetFactory or callable, got {type(factory).__name__}")
        self._factory = factory
        self._tool_timeout = tool_timeout
        self._limiter, self._limits = limiter, limits
        self._servers: LRUCache[tuple[str, str], BuiltServer] = LRUCache(maxsize=max_size)
        self._building: dict[tuple[str, str], asyncio.Future[BuiltServer]] = {}
        self._request_state = request_state  # shared requestState key and user binding (request_state.py)
        self._call_context = call_context  # connected accounts elicit from inside user_credential
        self._sdk_spans = sdk_spans  # False: no OpenTelemetry span per message (tracing is off)
        self.builds = 0

    async def get(self, record: UserRecord) -> BuiltServer:
        key = (record.uid, record.version)
        if self._request_state is not None:
            await self._request_state.refresh()  # rereads the shared keys when due
        built = self._servers.get(key)
        if built is not None:
            return built
        pending = self._building.get(key)
        if pending is not None:  # concurrent misses for one user build once
            return await asyncio.shield(pending)
        pending = self._building[key] = asyncio.get_running_loop().create_future()
        try:
            server, rules = await self._build(record)
            self._add_chain(server, rules)
            built = self._servers[key] = BuiltServer(server, rules)
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved here: a build nobody else waited for is not "never retrieved"
            raise
        else:
            pending.set_result(built)
        finally:
            del self._building[key]
        return built

    def _add_chain(self, server: MCPServer, rules: ScopeRules) -> None:
        """The per-user chain (module docstring), in its one order."""
        if not self._sdk_spans:
            drop_sdk_spans(server)
        if self._request_state is not None:
            self._request_state.install(server)
        server.middleware.append(AuditMiddleware())  # outside the scope check: refusals are audited too
        server.middleware.append(ScopeMiddleware(rules))  # before the limit: a forbidden call spends no quota
        if self._limiter is not None and self._limits is not None:
            server.middleware.append(ToolRateLimitMiddleware(self._limiter, self._limits))
        server.middleware.append(DeadlineMiddleware(self._tool_timeout))
        if self._call_context:
            from mcp_auth.connections.connect import CallContext

            server.middleware.append(CallContext())

    async def _build(self, record: UserRecord) -> tuple[MCPServer, ScopeRules]:
        from mcp.server.mcpserver import MCPServer

        factory = self._factory
        if isinstance(factory, ToolsetFactory):
            self.builds += 1
            return assemble(
                factory.select(record),
                name=factory.server_name,
                instructions=factory.instructions,
                extensions=factory.extensions,
            )
        built = factory(record)
        if inspect.isawaitable(built):
            built = await built
        if not isinstance(built, MCPServer):
            raise FactoryError(f"The server factory returned {type(built).__name__}, not an MCPServer.")
        self.builds += 1
        return built, ScopeRules(tools={t.name: required_scopes(t.meta) for t in await built.list_tools()})

    def __len__(self) -> int:
        return len(self._servers)
