"""The process's one async Firestore client, created lazily inside the event loop.

The google-cloud import costs a few hundred milliseconds, so it happens on
first use, not at module import. With ``FIRESTORE_EMULATOR_HOST`` set the
client talks to the emulator with anonymous credentials.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from mcp_auth._sdk import close_firestore_client
from mcp_auth.errors import ConfigError

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

#: What repositories are built from: a function returning the running event loop's client.
ClientFactory: TypeAlias = "Callable[[], AsyncClient]"

EMULATOR_PROJECT = "demo-mcp-auth"
"""The project the emulator is given when none is set."""

_clients: dict[tuple[int, str | None, str], AsyncClient] = {}


def firestore_client(*, project: str | None, database: str = "(default)") -> AsyncClient:
    """Return the client for this event loop (gRPC channels are bound to one loop)."""
    loop_id = id(asyncio.get_running_loop())
    key = (loop_id, project, database)
    client = _clients.get(key)
    if client is None:
        from google.cloud import firestore

        if project is None and not os.environ.get("FIRESTORE_EMULATOR_HOST"):
            raise ConfigError(
                "Reaching Firestore needs a project: set GOOGLE_CLOUD_PROJECT "
                "(or run with Google credentials that name one)."
            )
        client = firestore.AsyncClient(project=project or EMULATOR_PROJECT, database=database)
        _clients[key] = client
    return client


async def close_clients() -> None:
    """Close the clients of the running loop (call before the loop ends, e.g. in a CLI)."""
    loop_id = id(asyncio.get_running_loop())
    for key in [k for k in _clients if k[0] == loop_id]:
        await close_firestore_client(_clients.pop(key))


TIMEOUT = 5.0
"""Seconds one Firestore call (retries included) may take on the request path."""


def bounded_retry() -> object:
    """Transient errors are retried briefly; the library's default would wait up to 300 s."""
    from google.api_core import retry_async

    return retry_async.AsyncRetry(
        initial=0.1, maximum=1.0, multiplier=2.0, timeout=TIMEOUT, predicate=retry_async.if_transient_error
    )
