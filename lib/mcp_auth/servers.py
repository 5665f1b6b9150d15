"""Per-user MCP servers: assembled from the toolsets the team's factory selects, cached per instance.

The cache key is (user id, record version): a changed record (new toolsets,
say) builds a new server on the next request, and an evicted server costs
only a rebuild. Built servers hold no request state, so any instance can build
the same one from Firestore.

A ``ToolsetFactory`` only selects; ``assemble`` builds the server from the selected
toolsets' prebuilt tools, resources and prompts, with the scope each needs. A plain
callable returning an ``MCPServer`` is accepted too (its tools' scopes are read from
their ``_meta``).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from mcp_auth.errors import McpAuthError
from mcp_auth.observe import AuditMiddleware
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
    """A user's server and the scopes each of its tools, prompts and resources requires."""

    __slots__ = ("rules", "server")

    def __init__(self, server: MCPServer, rules: ScopeRules) -> None:
        self.server = server
        self.rules = rules


def assemble(toolsets: Sequence[Toolset], *, name: str = "mcp-auth-server",
             instructions: str | None = None) -> tuple[MCPServer, ScopeRules]:
    """One user's MCP server from their toolsets (prebuilt objects: nothing is parsed per user)."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name, instructions=instructions, tools=[t for ts in toolsets for t in ts.tools],
                       log_level="WARNING")
    for toolset in toolsets:
        for entry in toolset.resources:
            server.resource(entry.uri, name=entry.name, title=entry.title, description=entry.description,
                            mime_type=entry.mime_type)(entry.fn)
        for entry in toolset.prompts:
            server.add_prompt(entry.prompt)
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
        middleware: Callable[[], list[Any]] | None = None,
        request_state: RequestState | None = None,
    ) -> None:
        if not callable(factory) and not isinstance(factory, ToolsetFactory):
            raise TypeError(f"factory must be a ToolsetFactory or callable, got {type(factory).__name__}")
        self._factory = factory
        self._tool_timeout = tool_timeout
        self._middleware = middleware or list
        self._servers: LRUCache[tuple[str, str], BuiltServer] = LRUCache(maxsize=max_size)
        self._request_state = request_state  # shared requestState key and user binding (request_state.py)
        self.builds = 0

    async def get(self, record: UserRecord) -> BuiltServer:
        key = (record.uid, record.version)
        if self._request_state is not None:
            await self._request_state.refresh()  # rereads the shared keys when due
        built = self._servers.get(key)
        if built is None:
            server, rules = await self._build(record)
            if self._request_state is not None:
                self._request_state.install(server)
            server.middleware.append(AuditMiddleware())  # outside the scope check: refusals are audited too
            server.middleware.append(ScopeMiddleware(rules))  # a forbidden call spends no quota
            server.middleware.extend(self._middleware())  # e.g. the per-tool rate limit
            server.middleware.append(DeadlineMiddleware(self._tool_timeout))
            built = BuiltServer(server, rules)
            self._servers[key] = built
        return built

    async def _build(self, record: UserRecord) -> tuple[MCPServer, ScopeRules]:
        from mcp.server.mcpserver import MCPServer

        factory = self._factory
        if isinstance(factory, ToolsetFactory):
            self.builds += 1
            return assemble(factory.select(record), name=factory.server_name, instructions=factory.instructions)
        built = factory(record)
        if inspect.isawaitable(built):
            built = await built
        if not isinstance(built, MCPServer):
            raise FactoryError(f"The server factory returned {type(built).__name__}, not an MCPServer.")
        self.builds += 1
        return built, ScopeRules(tools={t.name: required_scopes(t.meta) for t in await built.list_tools()})

    def __len__(self) -> int:
        return len(self._servers)
