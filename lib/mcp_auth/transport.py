"""Serve one HTTP request with one MCP server, statelessly.

functions-framework gives no lifespan hook, so each request enters the server's
lifespan itself. A 2026-07-28 request goes straight to the SDK's single-exchange
entry (``_sdk.serve_modern_request``): no session manager, task group or second
copy of the body, none of which that path uses. A handshake-era request runs a
short-lived ``StreamableHTTPSessionManager`` in stateless mode: a fresh transport
with no session kept (and, with a mailbox, a back-channel for the tool's requests
to the client: ``backchannel/``). Both stream SSE when a tool emits notifications,
with keep-alive comments while a stream is idle.

The body is capped once: a request that passed the edge (``edge.BODY`` in its scope)
was read under the same cap; any other is re-buffered under ``max_body_bytes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Receive, Scope, Send

from mcp_auth._sdk import lowlevel_server, serve_modern_request, set_sse_keepalive
from mcp_auth.edge import BODY

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.backchannel import Mailbox


_configured_keepalive: float | None = None


def _configure_streams(keepalive_seconds: float) -> None:
    """Keep-alive interval of idle SSE streams, and no forced drain on shutdown (once per value).

    On SIGTERM, sse-starlette would cut every open SSE stream at once, losing in-flight tool results.
    Our streams are single responses that end by themselves (and tool calls have a deadline), so we let
    the server's graceful shutdown wait for them instead. The interval is ``MCP_AUTH_SSE_KEEPALIVE``, so
    proxies that cut idle connections sooner can be served (``_sdk.set_sse_keepalive``).
    """
    global _configured_keepalive
    if _configured_keepalive != keepalive_seconds:
        set_sse_keepalive(keepalive_seconds)
        _configured_keepalive = keepalive_seconds


async def serve_mcp(
    server: MCPServer,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    max_body_bytes: int,
    keepalive_seconds: float = 15,
    mailbox: Mailbox | None = None,
    uid: str | None = None,
) -> None:
    """Serve the request; with a ``mailbox``, handshake-era tools may send requests to the client (as ``uid``)."""
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    _configure_streams(keepalive_seconds)
    lowlevel = lowlevel_server(server)
    version = _protocol_version(scope)
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:  # where the manager sends it too
        async with lowlevel.lifespan(lowlevel) as lifespan_state:

            async def modern(scope: Scope, receive: Receive, send: Send) -> None:
                await serve_modern_request(lowlevel, lifespan_state, scope, receive, send)

            if BODY in scope:
                await modern(scope, receive, send)
            else:
                await RequestBodyLimitMiddleware(modern, max_body_bytes)(scope, receive, send)
        return

    options: dict[str, Any] = {
        "json_response": False,
        "security_settings": None,  # Host/Origin are checked at our edge, before authentication
        "max_request_body_size": max_body_bytes,
    }
    if mailbox is not None and uid is not None:
        from mcp_auth.backchannel.manager import BackChannelSessionManager

        manager: StreamableHTTPSessionManager = BackChannelSessionManager(lowlevel, mailbox=mailbox, uid=uid, **options)
    else:
        manager = StreamableHTTPSessionManager(app=lowlevel, stateless=True, **options)
    async with manager.run():
        await manager.handle_request(scope, receive, send)


_VERSION_HEADER = b"mcp-protocol-version"


def _protocol_version(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == _VERSION_HEADER), None)
