"""Enforcing the scopes that tools, resources and prompts declare (``toolsets.py``).

Enforcement has two layers. Before dispatch, on every protocol generation, a
``tools/call`` of a tool the caller may not use is answered HTTP 403
``insufficient_scope`` with a challenge naming the missing scopes, so a client can
step up (the MCP endpoint, with ``forbidden_calls``): the tool is found in the
body the edge already holds, or in the ``Mcp-Method``/``Mcp-Name`` headers of a
2026-07-28 request. Inside the server, ``ScopeMiddleware`` checks every
``tools/call``, ``prompts/get`` and ``resources/read`` again and removes from the
lists what the caller's scopes do not allow: a user sees only what they can use.

What counts as a call, before dispatch:

    a request       a message with ``"method": "tools/call"`` and an ``id``
    a batch         an array of messages (2025-03-26 only): refused whole if any call in it is
                    forbidden, the challenge naming every scope missing. Per-message errors
                    would run the allowed calls, and the client's retry after stepping up would
                    run them a second time; one 403 lets it re-authorize once, then send it all.
    a notification  no ``id``: not a call. Nothing runs (the transport accepts it, 202), so
                    there is nothing to refuse; answering 403 would only tell which tools exist.
    anything else   not JSON, or no ``tools/call`` in it: left to the transport and the server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel

from mcp_auth import bounded_json
from mcp_auth.context import current_user
from mcp_auth.toolsets import SCOPES_META_KEY, required_scopes

if TYPE_CHECKING:
    from mcp_auth.toolsets import ToolsetResource

__all__ = [
    "INSUFFICIENT_SCOPE",
    "SCOPES_META_KEY",
    "DeadlineMiddleware",
    "ScopeMap",
    "ScopeMiddleware",
    "ScopeRules",
    "forbidden_calls",
    "missing_scopes",
    "required_scopes",
]

INSUFFICIENT_SCOPE = -32003
"""JSON-RPC error code for a call the caller's scopes do not allow (server-defined range)."""

ScopeMap = Mapping[str, frozenset[str]]
_NONE: frozenset[str] = frozenset()


def missing_scopes(scope_map: ScopeMap, name: str, granted: frozenset[str]) -> frozenset[str]:
    return scope_map.get(name, _NONE) - granted


def forbidden_calls(body: bytes, scope_map: ScopeMap, granted: frozenset[str]) -> dict[str, frozenset[str]]:
    """Each tool that the ``tools/call`` request(s) in ``body`` name and ``granted`` does not allow, with the
    scopes it misses (the module docstring says what counts as a call).

    A body that cannot hold a ``tools/call`` (no such text and no escape that could spell it) is not
    parsed; any other is parsed once by ``bounded_json`` (linear, depth-capped; the body is size-capped).
    """
    if b"tools/call" not in body and b"\\" not in body:
        return {}
    try:
        parsed = bounded_json.loads(body)
    except ValueError:  # not JSON: the transport answers its parse error
        return {}
    refused: dict[str, frozenset[str]] = {}
    for message in parsed if isinstance(parsed, list) else (parsed,):
        if not isinstance(message, dict) or message.get("method") != "tools/call" or message.get("id") is None:
            continue
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if isinstance(name, str):
            missing = missing_scopes(scope_map, name, granted)
            if missing:
                refused[name] = missing
    return refused


@dataclass(frozen=True)
class ScopeRules:
    """What each tool (by name), prompt (by name) and resource (by URI or URI template) of one
    server needs."""

    tools: ScopeMap = field(default_factory=dict)
    prompts: ScopeMap = field(default_factory=dict)
    resources: Sequence[ToolsetResource] = ()

    def __bool__(self) -> bool:
        return bool(self.tools or self.prompts or self.resources)

    def for_resource(self, uri: str) -> frozenset[str]:
        """The scopes the resource at ``uri`` needs (the first resource or template that matches)."""
        for entry in self.resources:
            if entry.matches(uri):
                return entry.scopes
        return _NONE

    def listed_resource(self, uri_or_template: str) -> frozenset[str]:
        for entry in self.resources:
            if entry.uri == uri_or_template:
                return entry.scopes
        return _NONE


class ScopeMiddleware:
    """MCP server middleware enforcing per-tool, per-prompt and per-resource scopes for the current user."""

    def __init__(self, rules: ScopeRules) -> None:
        self._rules = rules

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if not self._rules:
            return await call_next(ctx)
        method, params = ctx.method, ctx.params or {}
        if method in ("tools/call", "prompts/get"):
            name = params.get("name")
            if isinstance(name, str):
                rules = self._rules.tools if method == "tools/call" else self._rules.prompts
                kind = "tool" if method == "tools/call" else "prompt"
                _refuse_missing(f"the {kind} {name!r}", rules.get(name, _NONE))
        elif method == "resources/read" and isinstance(params.get("uri"), str):
            _refuse_missing(f"the resource {params['uri'][:200]!r}", self._rules.for_resource(params["uri"]))
        result = await call_next(ctx)
        listing = _LISTINGS.get(method)
        if listing is not None:
            key, field_name, scopes_of = listing
            granted = current_user().scopes
            result = _filtered(
                result, key, lambda item: not (scopes_of(self._rules, _field(item, field_name)) - granted)
            )
        return result


def _refuse_missing(what: str, needed: frozenset[str]) -> None:
    missing = needed - current_user().scopes
    if missing:
        scope = " ".join(sorted(missing))
        raise MCPError(
            code=INSUFFICIENT_SCOPE,
            message=f"insufficient_scope: {what} needs scope(s) {scope}.",
            data={"error": "insufficient_scope", "scope": scope},
        )


def _by_name(rules: ScopeMap) -> Callable[[Any], frozenset[str]]:
    return lambda name: rules.get(name, _NONE) if isinstance(name, str) else _NONE


_LISTINGS: dict[str, tuple[str, str, Callable[[ScopeRules, Any], frozenset[str]]]] = {
    "tools/list": ("tools", "name", lambda rules, name: _by_name(rules.tools)(name)),
    "prompts/list": ("prompts", "name", lambda rules, name: _by_name(rules.prompts)(name)),
    "resources/list": ("resources", "uri", lambda rules, uri: rules.listed_resource(str(uri))),
    "resources/templates/list": (
        "resourceTemplates",
        "uri_template",
        lambda rules, uri: rules.listed_resource(str(uri)),
    ),
}


def _field(item: Any, name: str) -> Any:
    if isinstance(item, dict):
        return item.get(name, item.get("uriTemplate") if name == "uri_template" else None)
    return getattr(item, name, None)


def _filtered(result: HandlerResult, key: str, allowed: Callable[[Any], bool]) -> HandlerResult:
    if isinstance(result, dict) and isinstance(result.get(key), list):
        return {**result, key: [item for item in result[key] if allowed(item)]}
    attribute = "resource_templates" if key == "resourceTemplates" else key
    items = getattr(result, attribute, None)
    if isinstance(items, list) and isinstance(result, BaseModel):
        return result.model_copy(update={attribute: [item for item in items if allowed(item)]})
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
