"""A verification cache in front of any auth provider.

Successful verifications are kept in a bounded LRU for at most ``ttl`` seconds
and never past the credential's own expiry (``Principal.expires_at``).
Entries are keyed by a SHA-256 hash of the credential (the raw token is never
stored), failures are never cached, and concurrent verifications of one
credential share one call to the wrapped provider.

What a cache hit means: a credential revoked at the issuer (introspection) is
still accepted by this instance for up to ``ttl`` seconds; keep ``ttl`` short
where that matters. Changes made through this framework (``keys revoke``,
``users sign-out``, ``users disable``) reach the cache at once when it
follows the instance's revocation watch (``follow``; ``store/revocations.py``):
the user's entries are forgotten, and while the watch is not live an entry is
trusted only briefly.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from cachetools import LRUCache

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.errors import ConfigError
from mcp_auth.principal import Principal

if TYPE_CHECKING:
    from mcp_auth.store.revocations import RevocationWatch


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
        # key -> (deadline, when it was verified (monotonic), principal); an expired entry is dropped when next
        # looked up or evicted
        self._entries: LRUCache[bytes, tuple[float, float, Principal]] = LRUCache(max_entries)
        self._inflight: dict[bytes, asyncio.Future[Principal]] = {}
        self._trusts: Callable[[float], bool] | None = None
        self._forgotten = 0  # counts forget_user() calls: a verification that began before one is not kept

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
            if self._clock() < entry[0] and (self._trusts is None or self._trusts(time.monotonic() - entry[1])):
                return entry[2]
            self._entries.pop(key, None)
        flight = self._inflight.get(key)
        if flight is None:
            flight = asyncio.ensure_future(self._verify(key, credentials))
            self._inflight[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        return await asyncio.shield(flight)

    async def _verify(self, key: bytes, credentials: Credentials) -> Principal:
        generation = self._forgotten
        principal = await self._provider.authenticate(credentials)
        now = self._clock()
        deadline = now + self._ttl
        if principal.expires_at is not None and principal.expires_at < deadline:
            deadline = principal.expires_at
        if deadline > now and generation == self._forgotten:  # nor is one past its expiry (within leeway)
            self._entries[key] = (deadline, time.monotonic(), principal)
        return principal

    def _landed(self, key: bytes, flight: asyncio.Future[Principal]) -> None:
        if self._inflight.get(key) is flight:
            del self._inflight[key]
        if not flight.cancelled():
            flight.exception()  # retrieved here so an unawaited failure is not reported as lost

    def clear(self) -> None:
        """Forget every cached verification (for example after a key was revoked)."""
        self.forget_user(None)

    def forget_user(self, uid: str | None) -> None:
        """Forget the cached verifications of ``uid``'s credentials (None: of everyone's)."""
        self._forgotten += 1
        if uid is None:
            self._entries.clear()
            return
        for key in [k for k, (_, _, principal) in self._entries.items() if principal.user_id == uid]:
            del self._entries[key]

    def follow(self, watch: RevocationWatch) -> None:
        """Keep the cache fresh through ``watch`` (the instance's revocation listener)."""
        self._trusts = watch.trusts
        watch.subscribe(self.forget_user)

    def __len__(self) -> int:
        return len(self._entries)
