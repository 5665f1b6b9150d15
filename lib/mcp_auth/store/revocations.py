"""Access taken away on every instance at once: a feed of revocation events, and each instance's watch on it.

    revocations/{auto}   {uid, kind, at (Firestore's time), expire_at (TTL policy: a day later)}

Every change to a user record (``users sign-out``, ``disable``, ``revoke``, a toolset removed, a
record deleted: ``UserRepository``) and ``keys revoke`` is written in one batch with an event naming
the user (``add_event``); erasing a user ends with an event that names nobody (its uid must not
outlive the erasure), on which instances forget every user. Every serving instance listens to the
feed: one Firestore real-time listener per instance, started just after its first request
(``RevocationWatch``). For each event it drops what the instance cached about that user (the user
record, every verification of the user's credentials), so the instance's next request for that user
reads the record again and meets the change. A warm request reads nothing more than before: the
events are pushed to the listener.

How soon is "at once": on a running instance, within the listener's delivery time (milliseconds); an
instance that gets CPU only while it serves catches up as soon as a request wakes it. While the
listener is not live (starting, or its stream broke and is reconnecting) the caches it would keep
fresh are trusted for at most ``STALE_AFTER`` seconds, so the worst case is bounded by that, not by
the caches' own TTLs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from mcp_auth.heap import LISTENER, settle
from mcp_auth.store.firestore import EMULATOR_PROJECT

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient, AsyncWriteBatch

logger = logging.getLogger("mcp_auth.revocations")

REVOCATIONS = "revocations"
Kind = Literal["record", "sign_out", "deleted", "key", "erased"]
KEEP = timedelta(days=1)
"""How long an event is kept (the collection's TTL policy deletes it after ``expire_at``)."""
LOOKBACK = timedelta(minutes=5)
"""A starting listener also hears the events of this long before it started (clock skew, a slow start)."""
STALE_AFTER = 5.0
"""Seconds a cache the watch keeps fresh is trusted while the watch is not live."""

START_DELAY = 0.5
"""Seconds after an instance's first request that its listener starts opening."""
RETRY = 10.0
"""Seconds before a listener that could not start is tried again."""

Forget = Callable[[str | None], None]
"""What a cache does on an event: forget the user named (None: every user)."""


def add_event(batch: AsyncWriteBatch, client: AsyncClient, uid: str | None, kind: Kind) -> None:
    """Add an event for ``uid`` (None: every user) to ``batch``: it lands with the change it announces, or
    not at all. ``uid`` is a validated user id."""
    from google.cloud.firestore import SERVER_TIMESTAMP

    batch.set(  # set, not create: a retried commit writes the same event again, harmlessly
        client.collection(REVOCATIONS).document(),
        {"uid": uid, "kind": kind, "at": SERVER_TIMESTAMP, "expire_at": datetime.now(UTC) + KEEP},
    )


class RevocationWatch:
    """One instance's listener on the feed; ``forget`` callbacks run on the serving event loop.

    ``start()`` is called by the request path (cheap after the first call); the listener runs on
    the Firestore library's own thread. ``live`` says whether the listener has its initial snapshot
    and no error since; ``trusts(age)`` is what a cache asks before serving an entry ``age`` seconds old.
    """

    def __init__(
        self,
        *,
        project: str | None,
        database: str,
        forget: Sequence[Forget] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._project = project
        self._database = database
        self._forget = list(forget)
        self._clock = clock
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watch: Any = None
        self._client: Any = None
        self._live = False
        self._starting = False
        self._retry_at = 0.0
        self._lock = threading.Lock()
        self.applied = 0
        """Events applied since start (for tests and the health of the listener)."""

    def subscribe(self, forget: Forget) -> None:
        self._forget.append(forget)

    @property
    def live(self) -> bool:
        """The listener has had its first snapshot and is streaming."""
        watch = self._watch
        return self._live and watch is not None and bool(watch.is_active)

    def trusts(self, age: float) -> bool:
        """Whether a cache this watch keeps fresh may serve an entry ``age`` seconds old."""
        return age < STALE_AFTER or self.live

    def start(self) -> None:
        """Start listening, from the serving loop: at once after the first call, unless the listener ended
        (then it starts again). The listener itself starts on a thread; until it is live, ``trusts`` says no
        to entries older than ``STALE_AFTER``."""
        if self._starting:
            watch = self._watch
            if watch is None or watch.is_active:  # opening, or streaming
                return
            self.stop()  # the stream ended for good: open another
        if self._clock() < self._retry_at:
            return
        self._starting = True
        self._loop = asyncio.get_running_loop()
        # a moment after, not beside, the first request: a cold instance answers it without the listener's cost
        self._loop.call_later(START_DELAY, self._spawn)

    def _spawn(self) -> None:
        if self._starting and self._watch is None:
            threading.Thread(target=self._open, name="mcp-auth-revocations", daemon=True).start()

    def _open(self) -> None:
        from google.cloud import firestore
        from google.cloud.firestore_v1.base_query import FieldFilter

        try:
            client: Any = firestore.Client(project=self._project or EMULATOR_PROJECT, database=self._database)
            since = datetime.now(UTC) - LOOKBACK
            query = client.collection(REVOCATIONS).where(filter=FieldFilter("at", ">=", since))
            watch: Any = query.on_snapshot(self._heard)
            with self._lock:
                stopped = not self._starting  # stop() came while this thread was opening
                if not stopped:
                    self._watch, self._client = watch, client
            if stopped:
                watch.unsubscribe()
                client.close()
            else:
                settle(LISTENER)  # the process's last large import is done: keep it out of the collector's scans
        except Exception as exc:  # the caches fall back to STALE_AFTER; a request after RETRY tries again
            logger.warning("revocation listener could not start: %s", type(exc).__name__)
            self._retry_at = self._clock() + RETRY
            self._starting = False

    def _heard(self, snapshots: list[Any], changes: list[Any], read_time: Any) -> None:
        """The library's thread: hand the users named by new events (None: everyone) to the serving loop."""
        uids: set[str | None] = set()
        for change in changes:
            if change.type.name == "ADDED":
                uid = (change.document.to_dict() or {}).get("uid")
                uids.add(uid if isinstance(uid, str) else None)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._apply, uids)

    def _apply(self, uids: set[str | None]) -> None:
        for uid in (None,) if None in uids else uids:
            for forget in self._forget:
                forget(uid)
        if uids:  # the users by id when they are few (a listener's first snapshot may bring many)
            named = sorted(uid or "*" for uid in uids)
            logger.info("revocation applied", extra={"users": len(named), "uids": named if len(named) <= 20 else []})
        self.applied += len(uids)
        self._live = True

    def stop(self) -> None:
        with self._lock:
            watch, self._watch = self._watch, None
            client, self._client = self._client, None
        self._live = self._starting = False
        if watch is not None:
            watch.unsubscribe()
        if client is not None:
            client.close()
