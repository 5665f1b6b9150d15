"""A bounded per-(user, provider) cache of credentials, with one fetch per key at a time.

Entries carry the credential version they were fetched under and a monotonic
expiry: the resolver's TTL, never past the credential's own ``expires_at``
(less a safety margin). "Not connected" answers are cached too, briefly.
Concurrent misses for one key (and version) share one fetch; a caller that is
cancelled does not cancel the fetch others wait for.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

V = TypeVar("V")
Key = tuple[str, str]


@dataclass(slots=True)
class Entry(Generic[V]):
    value: V = field(repr=False)
    version: int
    expires: float


class SingleFlightCache(Generic[V]):
    """An LRU map of ``(user_id, provider)`` to entries, bounded at ``max_size``."""

    def __init__(self, *, max_size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._max_size = max_size
        self._clock = clock
        self._entries: OrderedDict[Key, Entry[V]] = OrderedDict()
        self._inflight: dict[tuple[Key, int], asyncio.Future[V]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Key, version: int) -> V | None:
        """The cached value if it was fetched under ``version`` and has not expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.version != version or self._clock() >= entry.expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry.value

    def put(self, key: Key, value: V, *, version: int, ttl: float) -> None:
        if ttl <= 0:
            return
        current = self._entries.get(key)
        if current is not None and current.version > version:
            return  # a fetch under a newer version already landed
        self._entries[key] = Entry(value, version, self._clock() + ttl)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_size:
            self._entries.popitem(last=False)

    def forget(self, key: Key) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    async def shared(self, key: Key, version: int, fetch: Callable[[], Awaitable[V]]) -> V:
        """Run ``fetch`` once for concurrent callers of the same key and version."""
        flight = (key, version)
        future = self._inflight.get(flight)
        if future is None:
            future = asyncio.ensure_future(fetch())
            self._inflight[flight] = future
            future.add_done_callback(lambda f: self._landed(flight, f))
        return await asyncio.shield(future)

    def _landed(self, flight: tuple[Key, int], future: asyncio.Future[V]) -> None:
        if self._inflight.get(flight) is future:
            del self._inflight[flight]
        if not future.cancelled():
            future.exception()  # retrieved, so an unawaited failure is not reported as lost
