"""A verification cache in front of any auth provider.

Successful verifications are kept in a bounded LRU for at most ``ttl`` seconds
and never past the credential's own expiry (``Principal.expires_at``).
Entries are keyed by a SHA-256 hash of the credential (the raw token is never
stored), failures are never cached, and concurrent verifications of one
credential share one call to the wrapped provider.

What a cache hit means: a credential revoked at the issuer (introspection) or
an API key revoked in the store is still accepted by this instance for up to
``ttl`` seconds. Keep ``ttl`` short where that matters.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from cachetools import LRUCache

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.errors import ConfigError
from mcp_auth.principal import Principal


class CachedProvider:
    """Wraps ``provider``; same ``name``, ``accepts`` and errors, fewer upstream calls.

    ``ttl``: longest life of an entry, 1-3600 s (default 300). ``max_entries``:
    LRU bound (default 10 000). ``clock``: wall-clock seconds, the same clock as
    ``exp`` (default ``time.time``). Raises ``ConfigError`` for settings out of range.
    """

    def __init__(
        self,
        provider: AuthProvider,
        *,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(provider, AuthProvider):
            raise ConfigError(f"CachedProvider wraps an auth provider, got {type(provider).__name__}.")
        if not isinstance(ttl, int | float) or not 1 <= ttl <= 3600:
            raise ConfigError(f"CachedProvider ttl must be between 1 and 3600 seconds, got {ttl!r}.")
        if not isinstance(max_entries, int) or not 1 <= max_entries <= 10_000_000:
            raise ConfigError(f"CachedProvider max_entries must be between 1 and 10000000, got {max_entries!r}.")
        self.name = provider.name
        self._provider = provider
        self._ttl = float(ttl)
        self._clock = clock
        # key -> (deadline, principal); an expired entry is dropped when next looked up or evicted
        self._entries: LRUCache[bytes, tuple[float, Principal]] = LRUCache(max_entries)
        self._inflight: dict[bytes, asyncio.Future[Principal]] = {}

    @staticmethod
    def _cache_key(credentials: Credentials) -> bytes:
        bearer, api_key = credentials.bearer, credentials.api_key
        if api_key is None:
            material = f"b\x00{bearer}"
        elif bearer is None:
            material = f"k\x00{api_key}"
        else:
            material = f"bk\x00{bearer}\x00{api_key}"
        return hashlib.sha256(material.encode()).digest()

    def accepts(self, credentials: Credentials) -> bool:
        return self._provider.accepts(credentials)

    async def authenticate(self, credentials: Credentials) -> Principal:
        if credentials.bearer is None and credentials.api_key is None:
            return await self._provider.authenticate(credentials)
        key = self._cache_key(credentials)
        entry = self._entries.get(key)
        if entry is not None:
            if self._clock() < entry[0]:
                return entry[1]
            self._entries.pop(key, None)
        flight = self._inflight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._verify(key, credentials))
            self._inflight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    async def _verify(self, key: bytes, credentials: Credentials) -> Principal:
        principal = await self._provider.authenticate(credentials)
        now = self._clock()
        deadline = now + self._ttl
        if principal.expires_at is not None and principal.expires_at < deadline:
            deadline = principal.expires_at
        if deadline > now:  # a credential already past its expiry (within leeway) is not kept
            self._entries[key] = (deadline, principal)
        return principal

    def _landed(self, key: bytes, flight: asyncio.Future[Principal]) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here so an unawaited failure is not reported as lost

    def clear(self) -> None:
        """Forget every cached verification (for example after a key was revoked)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
