"""The message streams between one request's transport and its dispatcher, with a back-channel.

The dispatcher numbers its server-to-client requests 1, 2, ... per transport, so the ids of two
requests (or two instances) collide. On the way out each request gets a slot in the mailbox and
leaves under the slot's global id, on the stream of the client request being served; on the way
in, the reply (delivered by the mailbox from whichever instance received it) re-enters the
transport's read stream under the dispatcher's own id. Everything else passes through unchanged.
"""

from __future__ import annotations

import contextvars
import logging
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

from mcp_auth.backchannel.mailbox import LostReply, Mailbox, Slot
from mcp_auth.errors import McpAuthError

logger = logging.getLogger("mcp_auth.backchannel")


class RoutedStreams:
    """``read_stream``/``write_stream`` for a dispatcher, over a transport's pair, for user ``uid``.

    ``inject`` is the sending end of the transport's read stream: a reply enters there, as if the
    transport had received it, so the common case (no server request) costs no extra task or hop.
    Waits for replies run in ``tg``, which must outlive the dispatcher: ``RoutedStreams(...).start(tg)``;
    ``stop_waiting()`` ends those still open once the dispatcher is done.
    """

    def __init__(self, read: Any, write: Any, *, inject: Any, mailbox: Mailbox, uid: str) -> None:
        self._transport_write = write
        self._inject = inject
        self._mailbox = mailbox
        self._uid = uid
        self.read_stream = _Tap(read, self)
        self.write_stream = _RoutingSend(self)
        self._client_request: RequestId | None = None  # the request this POST carries
        self._waiting: dict[RequestId, tuple[Slot, anyio.CancelScope]] = {}
        self._tg: anyio.abc.TaskGroup | None = None

    def start(self, tg: anyio.abc.TaskGroup) -> Self:
        self._tg = tg
        return self

    def stop_waiting(self) -> None:
        """The dispatcher is done: end the waits for replies still open (each closes its slot)."""
        for _slot, scope in list(self._waiting.values()):
            scope.cancel()

    def received(self, item: SessionMessage | Exception) -> None:
        if isinstance(item, SessionMessage) and isinstance(item.message, JSONRPCRequest):
            self._client_request = item.message.id

    # -- outbound -------------------------------------------------------------
    async def close_write(self) -> None:
        await self._transport_write.aclose()

    async def send(self, item: SessionMessage) -> None:
        message = item.message
        if isinstance(message, JSONRPCRequest):
            rewritten = await self._outgoing_request(item, message)
            if rewritten is None:
                return
            item = rewritten
        elif isinstance(message, JSONRPCNotification) and message.method == "notifications/cancelled":
            item = self._outgoing_cancel(item, message)
        await self._transport_write.send(item)

    async def _outgoing_request(self, item: SessionMessage, message: JSONRPCRequest) -> SessionMessage | None:
        related = item.metadata.related_request_id if isinstance(item.metadata, ServerMessageMetadata) else None
        related = related if related is not None else self._client_request
        if related is None or self._tg is None:  # a notification POST has no response stream to ride
            await self._fail(message.id, "This request has no open response stream to send a server request on.")
            return None
        try:
            slot = await self._mailbox.open(self._uid)
        except McpAuthError as exc:
            await self._fail(message.id, f"The reply channel is unavailable: {exc.message}")
            return None
        scope = anyio.CancelScope()
        self._waiting[message.id] = (slot, scope)
        self._tg.start_soon(self._await_reply, message.id, slot, scope)
        return SessionMessage(
            message=message.model_copy(update={"id": slot.reply_id}),
            metadata=ServerMessageMetadata(related_request_id=related),
        )

    def _outgoing_cancel(self, item: SessionMessage, message: JSONRPCNotification) -> SessionMessage:
        params = dict(message.params or {})
        request_id = params.get("requestId")
        waiting = self._waiting.pop(request_id, None) if isinstance(request_id, int | str) else None
        if waiting is None:
            return item
        slot, scope = waiting
        scope.cancel()
        params["requestId"] = slot.reply_id
        metadata = item.metadata if isinstance(item.metadata, ServerMessageMetadata) else None
        if (metadata is None or metadata.related_request_id is None) and self._client_request is not None:
            metadata = ServerMessageMetadata(related_request_id=self._client_request)
        return SessionMessage(message=message.model_copy(update={"params": params}), metadata=metadata)

    async def _await_reply(self, local_id: RequestId, slot: Slot, scope: anyio.CancelScope) -> None:
        """Feed the reply to the dispatcher; answered, abandoned or ended, the slot is removed (a late answer: 404)."""
        try:
            with scope:
                try:
                    reply = await slot.wait()
                except LostReply as exc:
                    await self._fail(local_id, exc.message)
                    return
                await self._deliver(_reply_message(local_id, reply))
        finally:
            self._waiting.pop(local_id, None)
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await self._mailbox.close(slot)

    async def _fail(self, local_id: RequestId, text: str) -> None:
        error = ErrorData(code=INTERNAL_ERROR, message=text)
        await self._deliver(JSONRPCError(jsonrpc="2.0", id=local_id, error=error))

    async def _deliver(self, message: JSONRPCResponse | JSONRPCError) -> None:
        try:
            await self._inject.send(SessionMessage(message=message))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            logger.debug("reply %r arrived after its request ended", message.id)


def _reply_message(local_id: RequestId, reply: dict[str, Any]) -> JSONRPCResponse | JSONRPCError:
    if "error" in reply:
        return JSONRPCError(jsonrpc="2.0", id=local_id, error=ErrorData.model_validate(reply["error"]))
    return JSONRPCResponse(jsonrpc="2.0", id=local_id, result=reply["result"])


class _Closing:
    """``async with stream:`` closes it, as the SDK's stream protocols expect."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class _Tap(_Closing):
    """The transport's read stream, unchanged, noting the id of the client request it carries."""

    def __init__(self, inner: Any, streams: RoutedStreams) -> None:
        self._inner = inner
        self._streams = streams

    @property
    def last_context(self) -> contextvars.Context | None:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        item: SessionMessage | Exception = await self._inner.receive()
        self._streams.received(item)
        return item

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None


class _RoutingSend(_Closing):
    """The dispatcher's write stream: server requests get a slot and a global id on the way out."""

    def __init__(self, streams: RoutedStreams) -> None:
        self._streams = streams

    async def send(self, item: SessionMessage, /) -> None:
        await self._streams.send(item)

    async def aclose(self) -> None:
        await self._streams.close_write()
