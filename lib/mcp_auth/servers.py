"""Per-user MCP servers: built by the team's factory, cached per instance.

The cache key is (user id, record version): a changed record (new toolsets,
say) builds a new server on the next request, and an evicted server costs
only a rebuild. Built servers hold no request state, so any instance can build
the same one from Firestore.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from mcp_auth.errors import McpAuthError
from mcp_auth.observe import AuditMiddleware
from mcp_auth.store.users import UserRecord
from mcp_auth.tools import DeadlineMiddleware, ScopeMap, ScopeMiddleware, required_scopes

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.request_state import RequestState

ServerFactory = Callable[[UserRecord], "MCPServer | Awaitable[MCPServer]"]


class FactoryError(McpAuthError):
    status = 500


class BuiltServer:
    """A user's server and the scopes each of its tools requires."""

    __slots__ = ("scopes", "server")

    def __init__(self, server: MCPServer, scopes: ScopeMap) -> None:
        self.server = server
        self.scopes = scopes


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
        if not callable(factory):
            raise TypeError(f"factory must be callable, got {type(factory).__name__}")
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
            server = await self._build(record)
            if self._request_state is not None:
                self._request_state.install(server)
            scopes = {t.name: required_scopes(t.meta) for t in await server.list_tools()}
            server.middleware.append(AuditMiddleware())  # outside the scope check: refusals are audited too
            server.middleware.append(ScopeMiddleware(scopes))  # a forbidden call spends no quota
            server.middleware.extend(self._middleware())  # e.g. the per-tool rate limit
            server.middleware.append(DeadlineMiddleware(self._tool_timeout))
            built = BuiltServer(server, scopes)
            self._servers[key] = built
        return built

    async def _build(self, record: UserRecord) -> MCPServer:
        from mcp.server.mcpserver import MCPServer

        built = self._factory(record)
        if inspect.isawaitable(built):
            built = await built
        if not isinstance(built, MCPServer):
            raise FactoryError(f"The server factory returned {type(built).__name__}, not an MCPServer.")
        self.builds += 1
        return built

    def __len__(self) -> int:
        return len(self._servers)
