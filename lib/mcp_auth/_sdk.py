"""Every place the framework reaches past the MCP SDK's (and sse-starlette's) public API.

Each function below names what it touches, why, and the public alternative to watch for;
``tests/test_sdk.py`` has a test per name that fails when an SDK release moves it, so an
upgrade breaks a test here instead of silently changing behaviour. Nothing is patched at
import: each is applied where it is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools.base import Tool


def forbid_extra_arguments(tool: Tool) -> Tool:
    """Reject unknown argument names instead of dropping them, and publish ``additionalProperties: false``.

    Touches ``Tool.fn_metadata.arg_model`` (the pydantic model the SDK validates arguments with;
    it ignores extra fields). Watch for: a ``strict``/``extra`` option on ``Tool.from_function``.
    """
    base = tool.fn_metadata.arg_model
    # defer_build: the validator is built by the tool's first call, not at import (a cold start builds every
    # toolset's tools, and a user calls few of them); the published schema is the parameters below
    config = ConfigDict(**{**base.model_config, "extra": "forbid", "defer_build": True})
    tool.fn_metadata.arg_model = type(base.__name__, (base,), {"model_config": config, "__module__": base.__module__})
    tool.parameters = {**tool.parameters, "additionalProperties": False}
    return tool


def lowlevel_server(server: MCPServer) -> Server[Any]:
    """The low-level ``Server`` behind an ``MCPServer``, which a per-request session manager serves.

    Touches ``MCPServer._lowlevel_server``. Watch for: a public accessor, or a session manager
    that takes an ``MCPServer``.
    """
    return server._lowlevel_server


def drop_sdk_spans(server: MCPServer) -> None:
    """Remove the SDK's ``OpenTelemetryMiddleware`` (a span per inbound message) from the server's middleware.

    The SDK installs it on every server and documents dropping it from ``middleware`` as the way to opt
    out; the class is private (``mcp.server._otel``). Watch for: a public opt-out flag or a public class.
    """
    from mcp.server._otel import OpenTelemetryMiddleware

    server.middleware[:] = [m for m in server.middleware if not isinstance(m, OpenTelemetryMiddleware)]


def set_sse_keepalive(seconds: float) -> None:
    """The keep-alive interval of idle SSE streams, and no forced drain of open streams on SIGTERM.

    The SDK reads its keep-alive interval from module constants: sse-starlette's
    ``EventSourceResponse.DEFAULT_PING_INTERVAL`` (handshake-era streams) and the SDK's private
    ``mcp.server._streamable_http_modern._SSE_PING_INTERVAL`` (2026-07-28 streams); both are set
    here, when the first request is served (never at import). ``AppStatus.disable_automatic_graceful_drain``
    is sse-starlette's public switch: our streams end by themselves, so shutdown waits for them.
    Watch for: a keep-alive option on ``StreamableHTTPSessionManager``.
    """
    from mcp.server import _streamable_http_modern as modern
    from sse_starlette.sse import AppStatus, EventSourceResponse

    AppStatus.disable_automatic_graceful_drain()  # type: ignore[no-untyped-call]
    EventSourceResponse.DEFAULT_PING_INTERVAL = seconds  # type: ignore[assignment]  # used as a float by sleep
    modern._SSE_PING_INTERVAL = float(seconds)


async def serve_modern_request(server: Server[Any], lifespan_state: Any, scope: Any, receive: Any, send: Any) -> None:
    """Serve one 2026-07-28 POST with the SDK's single-exchange entry, as the session manager would (no
    Host/Origin settings: our edge checks those; SSE allowed).

    Touches ``mcp.server._streamable_http_modern.handle_modern_request``, which
    ``StreamableHTTPSessionManager._handle_request`` calls for such a request after its task group, lifespan
    and body re-buffering, none of which this path uses (the caller enters the lifespan, the edge caps the
    body). Watch for: a public single-request entry, or a manager cheap enough to build per request.
    """
    from mcp.server._streamable_http_modern import handle_modern_request

    await handle_modern_request(server, None, False, lifespan_state, scope, receive, send)


def read_stream_writer(transport: Any) -> Any:
    """The sending end of a ``StreamableHTTPServerTransport``'s read stream (``_read_stream_writer``, set
    by ``connect()``): a client's reply routed from another instance enters the transport there.
    Watch for: a public way to feed a message into a connected transport."""
    return transport._read_stream_writer


def apply_extension(server: MCPServer, extension: Any) -> None:
    """Add an extension to an ``MCPServer`` already built: the two steps its constructor takes
    (``_apply_extension``, ``_install_extension_interceptor``). Watch for: ``MCPServer.add_extension``."""
    server._apply_extension(extension)
    server._install_extension_interceptor()


async def close_firestore_client(client: Any) -> None:
    """Close an async Firestore client's gRPC channel (``_firestore_api_internal.transport``); the async
    client has no ``close()``. Watch for: ``AsyncClient.close``."""
    api = client._firestore_api_internal
    if api is not None:
        await api.transport.close()
