"""Replies to server-to-client requests, delivered to the waiting request from any instance.

A handshake-era client (2025-11-25 and older) answers a server's ``sampling/createMessage``,
``elicitation/create`` or ``roots/list`` with a separate POST, which the load balancer may send
to any instance. Each server-to-client request therefore gets a slot:

    users/{uid}/mcp_replies/{doc}   state: pending | answered
                                    reply: the client's JSON-RPC response, as JSON text
                                    expire_at: the TTL policy's field (the tool deadline plus a minute)

The waiting instance writes the slot before the request leaves, then waits on it; the instance
that receives the reply checks that a slot of *that user* is pending under that id and fills it.
A reply that lands on the waiting instance itself is handed over in memory (no Firestore write).
Ids are random (``srv-`` and 128 bits), and a slot lives under its user, so a reply authenticated
as another user, a guessed id and an expired one are all the same ``UnknownReply``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from mcp_auth.errors import McpAuthError, StoreUnavailable
from mcp_auth.store.documents import Conflict, NotFound, UserCollection, document_id
from mcp_auth.store.handle import UserStore

logger = logging.getLogger("mcp_auth.backchannel")

COLLECTION = "mcp_replies"
REPLY_ID = re.compile(r"^srv-[0-9a-f]{32}$")
MAX_REPLY_BYTES = 900 * 1024
"""The largest reply kept: a Firestore document stops at 1 MiB."""


class ReplyError(McpAuthError):
    """A POSTed reply the server cannot accept (the client's request is not retried)."""

    status = 400


class InvalidReply(ReplyError):
    status = 400


class UnknownReply(ReplyError):
    status = 404

    def __init__(self) -> None:
        super().__init__(
            "No request of this server is waiting for a reply with this id from you: it may have "
            "timed out or been answered already. Retry the tool call if it is still needed."
        )


class DuplicateReply(ReplyError):
    status = 409

    def __init__(self) -> None:
        super().__init__("This request was answered already; the first answer was kept.")


class ReplyTooLarge(ReplyError):
    status = 413

    def __init__(self) -> None:
        super().__init__(f"The reply is larger than {MAX_REPLY_BYTES} bytes; send a shorter answer.")


class LostReply(McpAuthError):
    """The slot vanished while waiting (expired by TTL or removed): the request fails."""

    status = 504


class Slot:
    """One server-to-client request waiting for its reply."""

    __slots__ = ("_answer", "_arrived", "_docs", "_polls", "doc_id", "reply_id", "uid")

    def __init__(self, docs: UserCollection, uid: str, reply_id: str, *, polls: tuple[float, float]) -> None:
        self._docs = docs
        self._polls = polls  # first and longest interval between reads of the slot
        self.uid = uid
        self.reply_id = reply_id
        self.doc_id = document_id(COLLECTION, reply_id)
        self._arrived = anyio.Event()
        self._answer: dict[str, Any] | None = None

    def hand_over(self, message: dict[str, Any]) -> None:
        """Deliver a reply received by this instance (no Firestore round trip)."""
        if self._answer is not None:
            raise DuplicateReply()
        self._answer = message
        self._arrived.set()

    async def wait(self) -> dict[str, Any]:
        """The client's JSON-RPC response, from this instance's memory or from the slot in Firestore."""
        delay, max_poll = self._polls
        while self._answer is None:
            with anyio.move_on_after(delay):
                await self._arrived.wait()
            if self._answer is not None:
                break
            try:
                doc = await self._docs.get(self.doc_id)
            except NotFound:
                raise LostReply("The reply slot expired before the client answered.") from None
            except StoreUnavailable:
                logger.warning("reply slot unreadable; polling again", extra={"reply_id": self.reply_id})
            else:
                if doc.data.get("state") == "answered":
                    self._answer = json.loads(doc.data["reply"])
            delay = min(delay * 2, max_poll)
        return self._answer

    async def discard(self) -> None:
        """Remove the slot (best effort: the TTL policy removes what this misses)."""
        with contextlib.suppress(NotFound, Conflict, StoreUnavailable):
            await self._docs.delete(self.doc_id)


class Mailbox:
    """This instance's view of every user's reply slots."""

    def __init__(
        self,
        stores: Callable[[str], UserStore],
        *,
        ttl: timedelta,
        first_poll: float = 0.05,
        max_poll: float = 1.0,
    ) -> None:
        if first_poll <= 0 or max_poll < first_poll:
            raise ValueError(f"poll intervals must satisfy 0 < first_poll <= max_poll, got {first_poll}, {max_poll}")
        self._stores = stores
        self._ttl = ttl
        self._polls = (first_poll, max_poll)
        self._waiting: dict[str, Slot] = {}

    def _docs(self, uid: str) -> UserCollection:
        store = self._stores(uid)
        return store.collection(COLLECTION)

    async def open(self, uid: str) -> Slot:
        """Write a pending slot for a new request id; the request may leave once this returns."""
        docs = self._docs(uid)
        slot = Slot(docs, uid, f"srv-{uuid.uuid4().hex}", polls=self._polls)
        await docs.create({"state": "pending", "expire_at": datetime.now(UTC) + self._ttl}, request_id=slot.reply_id)
        self._waiting[slot.reply_id] = slot
        return slot

    async def close(self, slot: Slot) -> None:
        """The request stopped waiting (answered, withdrawn or ended): later answers are unknown."""
        self._waiting.pop(slot.reply_id, None)
        await slot.discard()

    async def deliver(self, uid: str, message: dict[str, Any]) -> None:
        """Accept ``uid``'s reply for the request it names, wherever that request waits."""
        _check_shape(message)
        reply_id = message.get("id")
        if not isinstance(reply_id, str) or not REPLY_ID.fullmatch(reply_id):
            raise UnknownReply()
        text = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) > MAX_REPLY_BYTES:
            raise ReplyTooLarge()
        local = self._waiting.get(reply_id)
        if local is not None and local.uid == uid:
            local.hand_over(message)
            return
        docs = self._docs(uid)
        doc_id = document_id(COLLECTION, reply_id)
        try:
            doc = await docs.get(doc_id)
            if doc.data.get("state") != "pending":
                raise DuplicateReply()
            await docs.update(doc_id, {"state": "answered", "reply": text}, version=doc.version)
        except NotFound:
            raise UnknownReply() from None
        except Conflict:
            raise DuplicateReply() from None


def _check_shape(message: dict[str, Any]) -> None:
    if message.get("jsonrpc") != "2.0":
        raise InvalidReply('A reply is a JSON-RPC 2.0 response: set "jsonrpc": "2.0".')
    if ("result" in message) == ("error" in message):
        raise InvalidReply('A reply has exactly one of "result" and "error".')
    if "result" in message and not isinstance(message["result"], dict):
        raise InvalidReply('A reply\'s "result" must be an object.')
    if "error" in message:
        error = message["error"]
        code = error.get("code") if isinstance(error, dict) else None
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(error.get("message"), str):
            raise InvalidReply('A reply\'s "error" must be an object with an integer "code" and a string "message".')
