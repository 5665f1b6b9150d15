"""Shared window counters: where instances take their leases from.

    WindowStore      protocol: ``acquire(window_id, amount=, limit=, expires_at=) -> Grant``
    MemoryWindows    one process (tests, local development)
    FirestoreWindows ``rate_limits/{window_id}`` documents, one atomic increment per lease

A document holds ``used`` (units asked for by instances so far; it may pass
``limit``), ``limit`` and ``expires_at`` (a TTL policy on that field deletes old
windows). ``acquire`` adds ``amount`` to ``used`` with a server-side increment
and reads back the new total, so the units ``[used - amount, used)`` belong to
the caller alone; only those below ``limit`` are granted. No transaction, no
contention retries, and instances together are never granted more than the
limit of one window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from google.cloud.firestore import AsyncClient

COLLECTION = "rate_limits"
TIMEOUT = 5.0
"""Seconds a lease may take before the limiter falls back to counting locally (the store's request-path
budget). The increment is not idempotent, so it is sent once, never retried."""


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int  # units now leased to the caller (may be fewer than asked for, or 0)
    remaining: int  # units left in the shared window after this grant


def grant_of(total: int, *, amount: int, limit: int) -> Grant:
    """The caller's share once the shared counter reads ``total`` after adding ``amount``."""
    start = total - amount
    return Grant(max(0, min(amount, limit - start)), max(0, limit - total))


class WindowStore(Protocol):
    async def acquire(self, window_id: str, *, amount: int, limit: int, expires_at: float) -> Grant: ...


class MemoryWindows:
    """Windows in this process's memory; counts every ``acquire`` call in ``calls``."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}
        self.calls = 0

    async def acquire(self, window_id: str, *, amount: int, limit: int, expires_at: float) -> Grant:
        self.calls += 1
        total = self._used[window_id] = self._used.get(window_id, 0) + amount
        return grant_of(total, amount=amount, limit=limit)


class FirestoreWindows:
    """Windows in Firestore, shared by every instance of the deployment."""

    def __init__(self, client: AsyncClient | Callable[[], AsyncClient], *, collection: str = COLLECTION) -> None:
        """``client`` may be a callable: then the client is made on the first write, on the serving loop."""
        self._client = client
        self._collection = collection
        self.calls = 0

    async def acquire(self, window_id: str, *, amount: int, limit: int, expires_at: float) -> Grant:
        from google.cloud import firestore

        self.calls += 1
        client = self._client() if callable(self._client) else self._client
        ref = client.collection(self._collection).document(window_id)
        result = await ref.set(
            {
                "used": firestore.Increment(amount),
                "limit": limit,
                "expires_at": datetime.fromtimestamp(expires_at, UTC),
            },
            merge=True,
            timeout=TIMEOUT,
        )
        transforms = list(getattr(result, "transform_results", ()) or ())
        if not transforms:
            raise RuntimeError("Firestore returned no increment result for a rate-limit window.")
        total = int(transforms[0].integer_value)
        return grant_of(total, amount=amount, limit=limit)
