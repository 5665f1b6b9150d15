"""``CredentialResolver``: a user's credential for a provider, cached and kept fresh.

    resolve(user, provider)
      1. read the credential version in Firestore            (one document, by key)
      2. cached entry for (user, provider) at that version?  -> use it
      3. else ask the platform (one request per key, shared) -> cache it:
           a credential for min(ttl, expires_at - margin); "not connected" for negative_ttl

Because step 1 runs on every call, a bumped version (the credential-updated
webhook) makes every instance refetch before its next use of the credential.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from mcp_auth.credentials.cache import Key, SingleFlightCache
from mcp_auth.credentials.model import Credential, CredentialNotConnected, NotConnected, validate_provider
from mcp_auth.store.credential_versions import CredentialVersions
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from mcp_auth.credentials.platform import PlatformClient  # its HTTP stack loads only when a platform is set

_Cached = Credential | NotConnected


class CredentialResolver:
    """Resolves per-user downstream credentials through the platform, with a bounded cache."""

    def __init__(
        self,
        *,
        platform: PlatformClient,
        versions: CredentialVersions,
        ttl: float = 300.0,
        negative_ttl: float = 30.0,
        expiry_margin: float = 30.0,
        max_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0 or negative_ttl < 0 or expiry_margin < 0:
            raise ValueError("ttl must be positive; negative_ttl and expiry_margin must not be negative")
        self._platform = platform
        self._versions = versions
        self._ttl = ttl
        self._negative_ttl = negative_ttl
        self._margin = expiry_margin
        self._wall = wall_clock
        self._cache: SingleFlightCache[_Cached] = SingleFlightCache(max_size=max_size, clock=clock)

    def __repr__(self) -> str:
        return f"CredentialResolver(platform={self._platform!r}, ttl={self._ttl}, cached={len(self._cache)})"

    async def resolve(
        self, user_id: str, provider: str, *, user_token: str | None = None, display_name: str | None = None
    ) -> Credential:
        """The user's credential, or ``CredentialNotConnected``/``CredentialUnavailable``/``StoreUnavailable``."""
        key: Key = (validate_uid(user_id), validate_provider(provider))
        version = await self._versions.current(user_id, provider)
        found = self._cache.get(key, version)
        if found is None:
            found = await self._cache.shared(key, version, partial(self._fetch, key, version, user_token))
        if isinstance(found, NotConnected):
            raise CredentialNotConnected(
                provider, display_name=display_name, connect_url=found.connect_url, expired=found.expired
            )
        if found.expires_at is not None and found.expires_at <= self._wall():
            self._cache.forget(key)
            raise CredentialNotConnected(provider, display_name=display_name, expired=True)
        return found

    def forget(self, user_id: str, provider: str, access_token: str | None = None) -> None:
        """Drop this instance's cached entry (other instances learn through the version document)."""
        self._cache.forget((user_id, provider))

    async def _fetch(self, key: Key, version: int, user_token: str | None) -> _Cached:
        result = await self._platform.fetch(*key, user_token=user_token)
        if isinstance(result, NotConnected):
            self._cache.put(key, result, version=version, ttl=self._negative_ttl)
            return result
        if result.expires_at is None:
            ttl = self._ttl
        else:
            remaining = result.expires_at - self._wall()
            if remaining <= 0:
                return NotConnected(expired=True)
            ttl = min(self._ttl, remaining - self._margin)  # <= 0: usable now, but not cached
        self._cache.put(key, result, version=version, ttl=ttl)
        return result
