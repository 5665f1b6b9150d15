"""Server-to-client requests for handshake-era clients, served statelessly (``MCP_AUTH_BACKCHANNEL``).

A tool that calls ``ctx.elicit(...)``, ``ctx.session.create_message(...)`` or ``list_roots()``
for a 2025-11-25 (or older) client sends the request on the open response stream; the client
answers with a POST that may reach any instance. ``mailbox.py`` routes that answer to the
waiting request through Firestore, ``streams.py`` gives each request globally unique ids and
feeds the answer back; ``transport.serve_handshake_request`` serves the request over those streams. The app
recognises the answering POST (``client_reply``) after authentication and hands it to
``Mailbox.deliver``, which only fills a slot the same user has pending.

    MCP_AUTH_BACKCHANNEL=firestore   (default) the above
    MCP_AUTH_BACKCHANNEL=off         the SDK's stateless behaviour: those calls raise NoBackChannelError
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mcp_auth.backchannel.mailbox import (
    MAX_REPLY_BYTES,
    DuplicateReply,
    InvalidReply,
    Mailbox,
    ReplyError,
    ReplyTooLarge,
    UnknownReply,
)

if TYPE_CHECKING:
    from mcp_auth.config import Settings

__all__ = [
    "MAX_REPLY_BYTES",
    "DuplicateReply",
    "InvalidReply",
    "Mailbox",
    "ReplyError",
    "ReplyTooLarge",
    "UnknownReply",
    "build_mailbox",
    "client_reply",
]


def build_mailbox(settings: Settings) -> Mailbox | None:
    """The instance's mailbox, or ``None`` with ``MCP_AUTH_BACKCHANNEL=off``. Firestore is reached on first use."""
    if settings.backchannel == "off":
        return None
    from mcp_auth.store.handle import user_stores

    return Mailbox(
        user_stores(project=settings.project, database=settings.firestore_database),
        ttl=timedelta(seconds=settings.tool_timeout + 60),
    )


def client_reply(body: bytes, headers: Mapping[str, str]) -> dict[str, Any] | None:
    """The JSON-RPC response a handshake-era client POSTed, or ``None`` for any other message.

    Requests and notifications (which carry ``method``) go to the SDK as before; so does anything
    sent as 2026-07-28, whose clients never answer server requests. The reply's shape is checked
    when it is delivered (``Mailbox.deliver``).
    """
    if b'"result"' not in body and b'"error"' not in body:
        return None  # the common case, without parsing
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

    version = headers.get("mcp-protocol-version")
    if version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
        return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or "method" in message or "id" not in message:
        return None
    return message if "result" in message or "error" in message else None
