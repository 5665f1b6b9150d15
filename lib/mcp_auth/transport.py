"""Serve one HTTP request with one MCP server, statelessly.

functions-framework gives no lifespan hook, so each request runs its own
short-lived ``StreamableHTTPSessionManager`` in stateless mode: a 2026-07-28
request goes to the SDK's single-exchange path, a handshake-era request gets a
fresh transport with no session kept. Both stream SSE when a tool emits
notifications, with keep-alive comments while a stream is idle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer


_drain_configured = False


def _let_streams_finish_on_shutdown() -> None:
    """On SIGTERM, sse-starlette would cut every open SSE stream at once, losing in-flight tool results.

    Our streams are single responses that end by themselves (and tool calls have a deadline), so we let
    the server's graceful shutdown wait for them instead.
    """
    global _drain_configured
    if not _drain_configured:
        from sse_starlette.sse import AppStatus

        AppStatus.disable_automatic_graceful_drain()
        _drain_configured = True


async def serve_mcp(server: MCPServer, scope: Scope, receive: Receive, send: Send, *, max_body_bytes: int) -> None:
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

    _let_streams_finish_on_shutdown()

    manager = StreamableHTTPSessionManager(
        app=server._lowlevel_server,  # noqa: SLF001 - the SDK exposes no public handle for a per-request manager
        stateless=True,
        json_response=False,
        security_settings=None,  # Host/Origin are checked at our edge, before authentication
        max_request_body_size=max_body_bytes,
    )
    async with manager.run():
        await manager.handle_request(scope, receive, send)
