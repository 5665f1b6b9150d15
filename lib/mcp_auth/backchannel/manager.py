"""The SDK's stateless session manager, with a back-channel for handshake-era requests.

mcp 2.3 serves a handshake-era request statelessly by building a fresh transport whose
context says ``can_send_request=False``: a tool's ``ctx.elicit`` or ``create_message`` fails with
``NoBackChannelError``, because the client's reply (a separate POST) has nowhere to land. Here the
same construction runs over ``RoutedStreams``, which route the reply through the mailbox, and the
context says ``True``. 2026-07-28 requests never reach this path (the SDK's single-exchange entry
serves them, with ``input_required`` instead of server requests).

The override is of the manager's one per-request hook (``_sdk.STATELESS_REQUEST_HOOK``); ``tests/test_sdk.py``
pins it and every private name used here, so an SDK release that changes them fails the tests instead of
silently losing the back-channel.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from anyio.abc import TaskStatus
from mcp.server.connection import Connection
from mcp.server.runner import serve_connection
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp.shared.transport_context import TransportContext
from mcp_types import DEFAULT_NEGOTIATED_VERSION
from starlette.types import Receive, Scope, Send

from mcp_auth._sdk import manager_lifespan_state, manager_task_group, read_stream_writer
from mcp_auth.backchannel.mailbox import Mailbox
from mcp_auth.backchannel.streams import RoutedStreams

logger = logging.getLogger("mcp_auth.backchannel")

_BACK_CHANNEL = TransportContext(kind="streamable-http", can_send_request=True)


class BackChannelSessionManager(StreamableHTTPSessionManager):
    """A stateless manager whose handshake-era requests may send requests to the client."""

    def __init__(self, app: Any, *, mailbox: Mailbox, uid: str, **options: Any) -> None:
        super().__init__(app, stateless=True, **options)
        self._mailbox = mailbox
        self._uid = uid

    async def _handle_stateless_request(
        self, protocol_version_hint: str | None, scope: Scope, receive: Receive, send: Send
    ) -> None:
        transport = StreamableHTTPServerTransport(
            mcp_session_id=None,
            is_json_response_enabled=self.json_response,
            event_store=None,
            security_settings=self.security_settings,
        )

        async def run(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
            async with transport.connect() as (read, write), anyio.create_task_group() as tg:
                inject = read_stream_writer(transport)
                streams = RoutedStreams(read, write, inject=inject, mailbox=self._mailbox, uid=self._uid).start(tg)
                task_status.started()
                dispatcher: JSONRPCDispatcher[TransportContext] = JSONRPCDispatcher(
                    streams.read_stream,
                    streams.write_stream,
                    inline_methods=frozenset({"initialize"}),
                    transport_builder=lambda _metadata: _BACK_CHANNEL,
                )
                # Born ready, like the SDK's stateless path; server requests made outside a request
                # handler's context ride the stream of the request this POST carries.
                connection = Connection.from_envelope(
                    protocol_version_hint or DEFAULT_NEGOTIATED_VERSION, None, None, outbound=dispatcher
                )
                try:
                    await serve_connection(
                        self.app, dispatcher, connection=connection, lifespan_state=manager_lifespan_state(self)
                    )
                except Exception:
                    logger.exception("Stateless request crashed")
                finally:
                    tg.cancel_scope.cancel()

        task_group = manager_task_group(self)
        if task_group is None:
            raise RuntimeError("Task group is not initialized. Make sure to use run().")
        try:
            await task_group.start(run)
            await transport.handle_request(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await transport.terminate()
