"""The back-channel's seam in the SDK: fail loudly if an SDK release moves it."""

from __future__ import annotations

import inspect

from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from mcp_auth.backchannel.manager import BackChannelSessionManager


def test_the_override_matches_the_sdk_hook_it_replaces() -> None:
    ours = inspect.signature(BackChannelSessionManager._handle_stateless_request)
    theirs = inspect.signature(StreamableHTTPSessionManager._handle_stateless_request)
    assert list(ours.parameters) == list(theirs.parameters)


def test_the_sdk_still_routes_stateless_requests_through_that_hook() -> None:
    source = inspect.getsource(StreamableHTTPSessionManager._handle_request)
    assert "self._handle_stateless_request(" in source
    manager_source = inspect.getsource(StreamableHTTPSessionManager.run)
    assert "self._lifespan_state = " in manager_source and "self._task_group = " in manager_source


def test_the_transport_still_exposes_the_sending_end_of_its_read_stream_that_replies_enter_by() -> None:
    from mcp.server.streamable_http import StreamableHTTPServerTransport

    assert "self._read_stream_writer = " in inspect.getsource(StreamableHTTPServerTransport.connect)
