"""Serve one HTTP request with one MCP server, statelessly, with no session manager.

functions-framework gives no lifespan hook, so each request enters the server's lifespan
itself. The SDK's ``StreamableHTTPSessionManager`` would add, per request, its own lock,
task group, lifespan and a second buffering of the body; this module serves both protocol
generations from the same pieces the manager assembles, without the manager:

    2026-07-28       the SDK's single-exchange entry (``_sdk.serve_modern_request``)
    handshake era    a fresh ``StreamableHTTPServerTransport`` and a dispatcher on it, as the
                     manager's stateless mode builds them (``serve_handshake_request``); with a
                     mailbox its streams are routed (``backchannel/``) so a tool may send requests
                     to the client, otherwise such a request fails as the SDK's would

Both stream SSE when a tool emits notifications, with keep-alive comments while a stream is idle.
The body is capped once: a request that passed the edge (``edge.BODY`` in its scope) was read
under the same cap; any other is re-buffered under ``max_body_bytes``.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskStatus
from mcp.server.connection import Connection
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.transport_security import RequestBodyLimitMiddleware
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.types import Receive, Scope, Send

from mcp_auth._sdk import lowlevel_server, read_stream_writer, serve_modern_request, set_sse_keepalive
from mcp_auth.edge import BODY

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.backchannel import Mailbox

logger = logging.getLogger("mcp_auth.transport")

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
    _configure_streams(keepalive_seconds)
    lowlevel = lowlevel_server(server)
    version = _protocol_version(scope)
    async with lowlevel.lifespan(lowlevel) as lifespan_state:
        if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:  # where the manager sends it too
            serve = functools.partial(serve_modern_request, lowlevel, lifespan_state)
        else:
            routed = mailbox if uid is not None else None
            serve = functools.partial(serve_handshake_request, lowlevel, lifespan_state, version, routed, uid)
        if BODY in scope:
            await serve(scope, receive, send)
        else:
            await RequestBodyLimitMiddleware(serve, max_body_bytes)(scope, receive, send)


_SERVER_REQUESTS = TransportContext(kind="streamable-http", can_send_request=True)
_NO_SERVER_REQUESTS = TransportContext(kind="streamable-http", can_send_request=False)


async def serve_handshake_request(
    server: Server[Any],
    lifespan_state: Any,
    version: str | None,
    mailbox: Mailbox | None,
    uid: str | None,
    scope: Scope,
    receive: Receive,
    send: Send,
) -> None:
    """One handshake-era POST on a fresh transport, as ``StreamableHTTPSessionManager`` serves it statelessly.

    The same construction as the manager's ``_handle_stateless_request`` (``tests/test_sdk.py`` compares
    them): a transport with no session, a dispatcher on its streams that runs ``initialize`` inline, a
    connection born ready at the header's version. With a ``mailbox`` the streams are routed
    (``backchannel/streams.py``) and the context says server requests can be sent; without one they
    cannot (``NoBackChannelError``, the SDK's stateless behaviour).

    No task group outlives the request and nothing is cancelled on the way out: terminating the transport
    ends its streams, so the dispatcher returns by itself and cancels a call still running for a client
    that hung up (``tests/test_transport.py``).
    """
    from mcp_auth.backchannel.streams import RoutedStreams

    transport = StreamableHTTPServerTransport(
        mcp_session_id=None, is_json_response_enabled=False, event_store=None, security_settings=None
    )
    async with anyio.create_task_group() as tg:

        async def run(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read, write):
                routed = None
                if mailbox is not None and uid is not None:
                    inject = read_stream_writer(transport)
                    routed = RoutedStreams(read, write, inject=inject, mailbox=mailbox, uid=uid).start(tg)
                    read, write = routed.read_stream, routed.write_stream
                task_status.started()
                context = _SERVER_REQUESTS if routed is not None else _NO_SERVER_REQUESTS
                dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                    read, write, inline_methods=frozenset({"initialize"}), transport_builder=lambda _metadata: context
                )
                # Born ready, like the SDK's stateless path; with the back-channel, server requests made
                # outside a request handler's context ride the stream of the request this POST carries.
                connection = Connection.from_envelope(
                    version or DEFAULT_NEGOTIATED_VERSION,
                    None,
                    None,
                    **({"outbound": dispatcher} if routed is not None else {}),  # else the SDK's default: none
                )
                try:
                    await serve_connection(server, dispatcher, connection=connection, lifespan_state=lifespan_state)
                except Exception:
                    logger.exception("Stateless request crashed")
                finally:
                    if routed is not None:
                        routed.stop_waiting()

        try:
            await tg.start(run)
            await transport.handle_request(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await transport.terminate()


_VERSION_HEADER = b"mcp-protocol-version"


def _protocol_version(scope: Scope) -> str | None:
    return next((v.decode("latin-1") for k, v in scope["headers"] if k == _VERSION_HEADER), None)
