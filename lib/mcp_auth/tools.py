"""Declaring tools with the scopes they need, and enforcing them.

    tool(fn, scopes=["notes:write"])   a prebuilt ``Tool`` whose required scopes
                                       travel in its ``_meta`` (clients can see them)

Enforcement has two layers. Before dispatch, a 2026-07-28 request whose
``Mcp-Method``/``Mcp-Name`` headers name a tool the caller may not use is
answered HTTP 403 ``insufficient_scope`` (``McpAuthApp``). Inside the server,
``ScopeMiddleware`` checks every ``tools/call`` (the only check a
handshake-era request gets) and removes from ``tools/list`` the tools the
caller's scopes do not allow: a user sees only what they can call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver.tools.base import Tool
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent

from mcp_auth.context import current_user

SCOPES_META_KEY = "mcp-auth/requiredScopes"
INSUFFICIENT_SCOPE = -32003
"""JSON-RPC error code for a tools/call the caller's scopes do not allow (server-defined range)."""

ScopeMap = Mapping[str, frozenset[str]]


def tool(fn: Callable[..., Any], *, scopes: Iterable[str] = (), **kwargs: Any) -> Tool:
    """``Tool.from_function`` plus the scopes a caller needs to list and call it."""
    required = sorted(set(scopes))
    meta = dict(kwargs.pop("meta", None) or {})
    if required:
        meta[SCOPES_META_KEY] = required
    return Tool.from_function(fn, meta=meta or None, **kwargs)


def required_scopes(meta: Mapping[str, Any] | None) -> frozenset[str]:
    value = (meta or {}).get(SCOPES_META_KEY) or ()
    return frozenset(v for v in value if isinstance(v, str))


def missing_scopes(scope_map: ScopeMap, name: str, granted: frozenset[str]) -> frozenset[str]:
    return scope_map.get(name, frozenset()) - granted


class ScopeMiddleware:
    """MCP server middleware enforcing per-tool scopes for the current user."""

    def __init__(self, scope_map: ScopeMap) -> None:
        self._scopes = dict(scope_map)

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method == "tools/call" and ctx.params:
            name = ctx.params.get("name")
            if isinstance(name, str):
                missing = missing_scopes(self._scopes, name, current_user().scopes)
                if missing:
                    needed = " ".join(sorted(missing))
                    raise MCPError(
                        code=INSUFFICIENT_SCOPE,
                        message=f"insufficient_scope: the tool {name!r} needs scope(s) {needed}.",
                        data={"error": "insufficient_scope", "scope": needed},
                    )
        result = await call_next(ctx)
        if ctx.method == "tools/list" and self._scopes:
            result = _visible(result, current_user().scopes, self._scopes)
        return result


class DeadlineMiddleware:
    """Cancels a tool call that runs past ``seconds`` and tells the client why, as a tool error."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        try:
            async with asyncio.timeout(self._seconds):
                return await call_next(ctx)
        except TimeoutError:
            name = ctx.params.get("name") if ctx.params else None
            message = (
                f"The tool {name!r} did not finish within {self._seconds:g} s and was cancelled "
                "(MCP_AUTH_TOOL_TIMEOUT); retry with a smaller request or ask an administrator to raise the limit."
            )
            return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def _visible(result: HandlerResult, granted: frozenset[str], scope_map: ScopeMap) -> HandlerResult:
    def allowed(name: Any) -> bool:
        return not (scope_map.get(name, frozenset()) - granted)

    if isinstance(result, dict) and isinstance(result.get("tools"), list):
        return {**result, "tools": [t for t in result["tools"] if allowed(_name(t))]}
    tools = getattr(result, "tools", None)
    if isinstance(tools, list) and hasattr(result, "model_copy"):
        return result.model_copy(update={"tools": [t for t in tools if allowed(_name(t))]})
    return result


def _name(item: Any) -> Any:
    return item.get("name") if isinstance(item, dict) else getattr(item, "name", None)


