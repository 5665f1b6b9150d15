"""The router stage: which ASGI app answers a path, and the route name a log line carries.

Router({path: (name, app)}, not_found=...)    exact paths only; the edge has already turned
                                              ``<mcp path>/`` into the MCP path itself
get_only(app)                                 405 for anything but GET and HEAD
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.challenge import plain_error


class Router:
    def __init__(self, table: Mapping[str, tuple[str, ASGIApp]], *, mcp_path: str) -> None:
        self._table = dict(table)
        self._mcp_path = mcp_path
        self._aliases = {mcp_path.rstrip("/") + "/": "mcp"}

    def route_name(self, path: str) -> str:
        """``mcp``, ``metadata``, ``healthz``, ``readyz``, ``index``, ``extra`` or ``unknown`` (as the client sent
        it)."""
        entry = self._table.get(path)
        return entry[0] if entry is not None else self._aliases.get(path, "unknown")

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(self._table)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        entry = self._table.get(scope["path"])
        if entry is None:
            response = plain_error(404, "not_found", f"No such endpoint; the MCP endpoint is {self._mcp_path}.")
            await response(scope, receive, send)
            return
        await entry[1](scope, receive, send)


class get_only:
    """``app`` for GET and HEAD; 405 with ``Allow`` for any other method."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        response = plain_error(405, "method_not_allowed", "This endpoint accepts GET only.", {"Allow": "GET, HEAD"})
        await response(scope, receive, send)
