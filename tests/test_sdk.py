"""Every private name ``mcp_auth._sdk`` reaches, checked against the installed SDK and libraries: an
upgrade that moves one fails here, by name, instead of silently changing behaviour."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mcp_auth import _sdk

LIB = Path(__file__).resolve().parents[1] / "lib" / "mcp_auth"


def test_lowlevel_server_is_the_servers_lowlevel_server():
    server = MCPServer("probe")
    assert _sdk.lowlevel_server(server) is vars(server)["_lowlevel_server"]


def test_the_modern_transport_still_reads_its_keepalive_from_the_module_constant():
    from mcp.server import _streamable_http_modern as modern

    assert isinstance(modern._SSE_PING_INTERVAL, float)
    assert "_SSE_PING_INTERVAL" in inspect.getsource(modern)


def test_sse_starlette_still_has_the_class_default_and_the_drain_switch():
    from sse_starlette.sse import AppStatus, EventSourceResponse

    assert isinstance(EventSourceResponse.DEFAULT_PING_INTERVAL, int | float)
    assert callable(AppStatus.disable_automatic_graceful_drain)


def test_set_sse_keepalive_sets_both_intervals():
    from mcp.server import _streamable_http_modern as modern
    from sse_starlette.sse import EventSourceResponse

    before = (modern._SSE_PING_INTERVAL, EventSourceResponse.DEFAULT_PING_INTERVAL)
    try:
        _sdk.set_sse_keepalive(7)
        assert (modern._SSE_PING_INTERVAL, EventSourceResponse.DEFAULT_PING_INTERVAL) == (7.0, 7)
    finally:
        modern._SSE_PING_INTERVAL, EventSourceResponse.DEFAULT_PING_INTERVAL = before


def test_the_manager_still_sends_a_modern_request_to_the_single_exchange_entry_we_call():
    from mcp.server import _streamable_http_modern as modern

    source = inspect.getsource(StreamableHTTPSessionManager._handle_request)
    assert "handle_modern_request(" in source and "HANDSHAKE_PROTOCOL_VERSIONS" in source
    parameters = list(inspect.signature(modern.handle_modern_request).parameters)
    assert parameters == ["app", "security_settings", "json_response", "lifespan_state", "scope", "receive", "send"]


def test_the_managers_stateless_path_still_builds_what_serve_handshake_request_builds():
    """``transport.serve_handshake_request`` is the manager's stateless construction without the manager: if the
    SDK changes how it builds a stateless exchange, this fails and the copy is compared again."""
    from mcp_auth import transport

    theirs = inspect.getsource(StreamableHTTPSessionManager._handle_stateless_request)
    ours = inspect.getsource(transport.serve_handshake_request)
    for piece in (
        "StreamableHTTPServerTransport(",
        "mcp_session_id=None",
        "event_store=None",
        ".connect()",
        "JSONRPCDispatcher(",
        'inline_methods=frozenset({"initialize"})',
        "transport_builder=",
        "Connection.from_envelope(",
        "DEFAULT_NEGOTIATED_VERSION",
        "serve_connection(",
        "lifespan_state=",
        ".handle_request(scope, ",
        "await http_transport.terminate()" if "http_transport" in theirs else ".terminate()",
        "CancelScope(shield=True)",
    ):
        assert piece in theirs, piece
        assert piece.replace("http_transport", "transport") in ours, piece
    assert "self._handle_stateless_request(" in inspect.getsource(StreamableHTTPSessionManager._handle_request)


def test_the_transport_still_exposes_the_sending_end_of_its_read_stream():
    assert "self._read_stream_writer = " in inspect.getsource(StreamableHTTPServerTransport.connect)


def test_the_sdk_still_installs_its_span_middleware_where_drop_sdk_spans_removes_it():
    server = MCPServer("probe")
    before = [type(m).__name__ for m in server.middleware]
    assert before.count("OpenTelemetryMiddleware") == 1
    _sdk.drop_sdk_spans(server)
    assert [type(m).__name__ for m in server.middleware] == [n for n in before if n != "OpenTelemetryMiddleware"]
    assert server.middleware is _sdk.lowlevel_server(server).middleware  # the list the runner applies


def test_an_extension_can_still_be_applied_the_way_the_constructor_does():
    constructor = inspect.getsource(MCPServer.__init__)
    assert "_apply_extension(" in constructor and "_install_extension_interceptor(" in constructor


def test_the_async_firestore_client_still_keeps_its_api_where_it_is_closed():
    from google.cloud import firestore

    assert hasattr(firestore.AsyncClient, "_firestore_api_internal")  # None until the first call builds it


@pytest.mark.parametrize("path", sorted(p for p in LIB.rglob("*.py") if p.name != "_sdk.py"), ids=lambda p: p.name)
def test_no_other_module_reaches_a_private_name_of_the_sdk(path):
    tree = ast.parse(path.read_text())
    private_imports = [
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and node.module
        and node.module.split(".")[0] in ("mcp", "sse_starlette")
        and any(part.startswith("_") for part in node.module.split(".") + [a.name for a in node.names])
    ]
    assert private_imports == []
    assert "noqa: SLF001" not in path.read_text()
