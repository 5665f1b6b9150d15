"""Audit records, optionally also kept in Firestore (``MCP_AUTH_AUDIT_FIRESTORE=true``), off the request path.

The request's log line (``observe.emit``) is the authoritative audit record. When this sink is on,
each audit record is also written to the global ``audit`` collection, one document per request:

    user        the authenticated uid (absent when no credential was verified)
    at          when the request ended (UTC)
    expire_at   ``at`` + MCP_AUTH_AUDIT_RETENTION_DAYS: Firestore's TTL policy deletes the document after it
    route, status, outcome, latency_ms, trace
    auth        {decision, method, reason}
    mcp         {method, tool, latency_ms}

Nothing else: no token, key, argument, header or address. Like every global collection it holds
owner uids only.

The response never waits for Firestore: ``submit`` appends to a bounded in-process queue and wakes
one background task, which commits what has queued in batches. A full queue or a failed write drops
records with a counted WARNING line (logger ``mcp_auth.audit``, at most one a minute, carrying the
count since the last); a request never fails because of this sink. When the serving loop ends
(graceful shutdown: the loop cancels its remaining tasks), the task writes what is still queued
before it exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud.firestore import AsyncClient

    from mcp_auth.config import Settings
    from mcp_auth.observe import RequestRecord

logger = logging.getLogger("mcp_auth.audit")

COLLECTION = "audit"
BATCH_SIZE = 200  # documents per commit (Firestore allows 500 writes per batch)
QUEUE_SIZE = 5000  # records an instance holds before it drops new ones
WRITE_TIMEOUT = 10.0  # seconds one commit (retries included) may take
_WARN_EVERY = 60.0  # least seconds between two "dropped" warnings


def audit_document(record: RequestRecord, *, now: datetime, retention: timedelta) -> dict[str, Any]:
    """The Firestore document of one audit record: the same facts as its log line, no secrets."""
    doc: dict[str, Any] = {
        "at": now,
        "expire_at": now + retention,
        "route": record.route,
        "status": record.status,
        "outcome": record.outcome,
        "latency_ms": round(record.latency() * 1000, 3),
        "auth": {"decision": record.auth_decision, "method": record.auth_method, "reason": record.auth_reason},
    }
    if record.user:
        doc["user"] = record.user
    if record.trace:
        doc["trace"] = record.trace
    if record.mcp_method:
        doc["mcp"] = {"method": record.mcp_method, "tool": record.tool}
        if record.tool_latency is not None:
            doc["mcp"]["latency_ms"] = round(record.tool_latency * 1000, 3)
    return doc


class FirestoreAuditSink:
    """A bounded queue of audit documents, written to Firestore by one background task per event loop."""

    def __init__(
        self,
        *,
        project: str | None,
        database: str = "(default)",
        retention_days: int = 30,
        queue_size: int = QUEUE_SIZE,
        batch_size: int = BATCH_SIZE,
        client: AsyncClient | None = None,
    ) -> None:
        if not 1 <= batch_size <= 500:
            raise ValueError(f"batch_size must be 1-500 (a Firestore batch's limit), got {batch_size}.")
        self._project, self._database, self._client = project, database, client
        self._retention = timedelta(days=retention_days)
        self._queue: deque[dict[str, Any]] = deque()
        self._queue_size, self._batch_size = queue_size, batch_size
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self._unreported = 0
        self._last_warning = float("-inf")

    def submit(self, record: RequestRecord) -> None:
        """Queue the record's document; never blocks, never raises."""
        try:
            if len(self._queue) >= self._queue_size:
                self._drop(1, "the queue is full (Firestore is slower than the request rate)")
                return
            self._queue.append(audit_document(record, now=datetime.now(UTC), retention=self._retention))
            self._ensure_running()
        except Exception:
            logger.exception("audit: could not queue a record for Firestore")

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done() or self._wake is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run(self._wake), name="mcp_auth audit writer")
        self._wake.set()

    async def _run(self, wake: asyncio.Event) -> None:
        try:
            while True:
                await wake.wait()
                wake.clear()
                while self._queue:
                    await self._write_batch()
        except asyncio.CancelledError:  # the loop is ending (graceful shutdown): write what is left
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.flush(), timeout=WRITE_TIMEOUT)
            raise

    async def flush(self) -> None:
        """Write everything queued now (tests, shutdown)."""
        while self._queue:
            await self._write_batch()

    async def aclose(self) -> None:
        """Stop the writer after it wrote what is queued (an embedding program's shutdown; tests)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.flush()

    async def _write_batch(self) -> None:
        docs = [self._queue.popleft() for _ in range(min(self._batch_size, len(self._queue)))]
        try:
            client = self._firestore()
            batch = client.batch()
            collection = client.collection(COLLECTION)
            for doc in docs:
                batch.set(collection.document(), doc)
            await asyncio.wait_for(batch.commit(), timeout=WRITE_TIMEOUT)
        except asyncio.CancelledError:  # shutdown interrupted the write: the final flush retries these
            self._queue.extendleft(reversed(docs))
            raise
        except Exception as exc:
            self._drop(len(docs), f"the Firestore write failed ({type(exc).__name__})")
        else:
            self.written += len(docs)

    def _firestore(self) -> AsyncClient:
        if self._client is None:
            from mcp_auth.store.firestore import firestore_client

            self._client = firestore_client(project=self._project, database=self._database)
        return self._client

    def _drop(self, count: int, why: str) -> None:
        """Count dropped records; one WARNING per minute at most says how many since the last one, and why."""
        self.dropped += count
        self._unreported += count
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning, unreported, self._unreported = now, self._unreported, 0
            logger.warning(
                "audit: dropped %d record(s) bound for Firestore: %s; the request log lines remain the audit record",
                unreported,
                why,
                extra={"audit_dropped": unreported, "audit_dropped_total": self.dropped},
            )


async def recent_for_user(client: AsyncClient, user: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """A user's newest audit documents, newest first (index: lib/mcp_auth/store/indexes.json, audit_by_user)."""
    from google.cloud.firestore import Query
    from google.cloud.firestore_v1.base_query import FieldFilter

    from mcp_auth.store.users import validate_uid

    query = (
        client.collection(COLLECTION)
        .where(filter=FieldFilter("user", "==", validate_uid(user)))
        .order_by("at", direction=Query.DESCENDING)
        .order_by("__name__", direction=Query.DESCENDING)
        .limit(limit)
    )
    return [data for snapshot in await query.get() if (data := snapshot.to_dict()) is not None]


def build_audit_sink(settings: Settings) -> FirestoreAuditSink | None:
    """The sink ``MCP_AUTH_AUDIT_FIRESTORE`` asks for (None when off)."""
    if not settings.audit_firestore:
        return None
    return FirestoreAuditSink(
        project=settings.project, database=settings.firestore_database, retention_days=settings.audit_retention_days
    )
