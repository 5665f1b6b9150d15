"""Serve one HTTP request with one MCP server, statelessly.

functions-framework gives no lifespan hook, so each request runs its own
short-lived ``StreamableHTTPSessionManager`` in stateless mode: a 2026-07-28
request goes to the SDK's single-exchange path, a handshake-era request gets a
fresh transport with no session kept (and, with a mailbox, a back-channel for the
tool's requests to the client: ``backchannel/``). Both stream SSE when a tool emits
notifications, with keep-alive comments while a stream is idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from mcp_auth._sdk import lowlevel_server, set_sse_keepalive

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

    options: dict[str, Any] = {
        "json_response": False,
        "security_settings": None,  # Host/Origin are checked at our edge, before authentication
        "max_request_body_size": max_body_bytes,
    }
    lowlevel = lowlevel_server(server)
    if mailbox is not None and uid is not None:
        from mcp_auth.backchannel.manager import BackChannelSessionManager

        manager: StreamableHTTPSessionManager = BackChannelSessionManager(lowlevel, mailbox=mailbox, uid=uid, **options)
    else:
        manager = StreamableHTTPSessionManager(app=lowlevel, stateless=True, **options)
    async with manager.run():
        await manager.handle_request(scope, receive, send)
