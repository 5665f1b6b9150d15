"""The layout version of the Firestore database: which shape of documents it holds.

    meta/layout    version (int), updated_at: written only by ``mcp-auth migrate`` (migrations.py)

``LAYOUT_VERSION`` is the layout this code writes. A database without ``meta/layout`` is layout 0:
a new database, or one written by 0.1.0, before layouts were recorded. Each framework release that
changes what it stores adds a step to ``migrations.MIGRATIONS`` and raises ``LAYOUT_VERSION``; the
code of a release still reads the layout before it, so instances can serve while the migration runs.

``LayoutGate`` is what the server does about it, once per instance (not per request):

* the recorded layout is newer than ``LAYOUT_VERSION`` (code older than the data, e.g. a rollback past
  a migration): every MCP request is refused with 503 ``layout_too_new`` and one error line says so;
* it is older, or none is recorded: one warning line asks for ``mcp-auth migrate``; requests are served;
* Firestore does not answer: requests are served (loading the user fails on its own) and the check is
  tried again on a request at least ``retry_interval`` seconds later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.errors import ConfigError, StoreUnavailable
from mcp_auth.store.firestore import TIMEOUT, bounded_retry
from mcp_auth.store.rest import Snapshot, document_reader

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncDocumentReference, DocumentSnapshot

    from mcp_auth.store.firestore import ClientFactory

LAYOUT_VERSION = 1
"""The layout this code writes (see migrations.MIGRATIONS for how each one came about)."""
META, LAYOUT = "meta", "layout"
logger = logging.getLogger("mcp_auth")


class LayoutTooNew(ConfigError):
    """The database was migrated by a newer framework than this code: serving it could corrupt it."""

    status = 503


class CorruptLayout(ConfigError):
    """``meta/layout`` exists but holds no layout number."""


@dataclass(frozen=True, slots=True)
class RecordedLayout:
    version: int
    """0 when no layout is recorded."""
    recorded: bool
    """``meta/layout`` exists."""
    update_time: datetime | None = None
    """The document's update time: the precondition of the next write (None when not recorded)."""


def layout_ref(client: AsyncClient) -> AsyncDocumentReference:
    return client.collection(META).document(LAYOUT)


def parse_version(data: dict[str, Any]) -> int:
    version = data.get("version")
    if type(version) is not int or version < 1:  # bool is an int subclass: refused too
        raise CorruptLayout(
            f"meta/layout holds version {str(version)[:40]!r}, not a layout number (1 or more): "
            "restore the document from a backup, or delete it and run `mcp-auth migrate` again."
        )
    return version


async def read_layout(client: AsyncClient | ClientFactory) -> RecordedLayout:
    """The recorded layout; ``StoreUnavailable`` if Firestore does not answer. From a client factory it may
    be read over REST (``rest.py``)."""
    snap: DocumentSnapshot[Any] | Snapshot | None = None
    rest = document_reader(client)
    if rest is not None:
        snap = await rest.get(META, LAYOUT)
    if snap is None:
        from google.api_core import exceptions as gexc

        try:
            snap = await layout_ref(client() if callable(client) else client).get(
                timeout=TIMEOUT, retry=bounded_retry()
            )
        except (gexc.GoogleAPICallError, gexc.RetryError, TimeoutError) as exc:
            raise StoreUnavailable(f"The database is unavailable ({type(exc).__name__}); retry shortly.") from exc
    if not snap.exists:
        return RecordedLayout(version=0, recorded=False)
    return RecordedLayout(version=parse_version(snap.to_dict() or {}), recorded=True, update_time=snap.update_time)


def too_new(version: int, known: int = LAYOUT_VERSION) -> LayoutTooNew:
    return LayoutTooNew(
        f"The database's layout is version {version}, newer than this code knows ({known}): it was migrated "
        "by a newer framework version. Deploy that version (or newer); `mcp-auth migrate` never moves a "
        "layout back."
    )


def behind(layout: RecordedLayout, known: int = LAYOUT_VERSION) -> str:
    """The warning for a layout older than this code."""
    what = f"layout {layout.version}" if layout.recorded else "no layout version (a new database, or one from 0.1.0)"
    return f"the database records {what}; this code writes layout {known}: run `mcp-auth migrate`"


class LayoutGate:
    """The per-instance check of the database's layout against this code's (see the module docstring).

    The request path tests ``ok`` (an attribute) and awaits ``check()`` only until the check has settled,
    so a settled instance makes no read for it; concurrent first requests share one read."""

    def __init__(
        self,
        client: Callable[[], AsyncClient],
        *,
        known: int = LAYOUT_VERSION,
        retry_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client, self._known = client, known
        self._retry_interval, self._clock = retry_interval, clock
        self.ok = False
        """True once the layout is known to be servable: the request path skips ``check()``."""
        self._refusal: LayoutTooNew | None = None
        self._next_attempt = float("-inf")
        self._pending: asyncio.Future[None] | None = None

    async def check(self) -> None:
        """Raise ``LayoutTooNew`` if this instance must not serve the database."""
        if self._refusal is not None:
            raise self._refusal
        if self.ok or self._clock() < self._next_attempt:
            return
        pending = self._pending
        if pending is None or pending.get_loop() is not asyncio.get_running_loop():
            pending = self._pending = asyncio.ensure_future(self._settle())
        try:
            await asyncio.shield(pending)
        finally:
            if pending.done() and self._pending is pending:
                self._pending = None
        if self._refusal is not None:
            raise self._refusal

    async def _settle(self) -> None:
        try:
            layout = await read_layout(self._client)
        except (StoreUnavailable, CorruptLayout) as exc:
            self._next_attempt = self._clock() + self._retry_interval
            logger.warning("layout: could not read the database's layout version (%s); serving", exc)
            return
        if layout.version > self._known:
            self._refusal = too_new(layout.version, self._known)
            logger.error("layout: %s Every MCP request is refused until then.", self._refusal.message)
            return
        if layout.version < self._known:
            logger.warning("layout: %s", behind(layout, self._known))
        self.ok = True
