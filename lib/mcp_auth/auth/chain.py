"""Several providers tried in order: the first that accepts the credential decides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_auth.auth.base import AuthProvider, Credentials
from mcp_auth.errors import ConfigError, InvalidToken, MissingToken
from mcp_auth.principal import Principal

if TYPE_CHECKING:
    from mcp_auth.store.revocations import RevocationWatch


class ProviderChain:
    name = "chain"

    def __init__(self, providers: Sequence[AuthProvider]) -> None:
        if not providers:
            raise ConfigError("At least one auth provider is required.")
        self._providers = tuple(providers)

    def accepts(self, credentials: Credentials) -> bool:
        return any(p.accepts(credentials) for p in self._providers)

    async def authenticate(self, credentials: Credentials) -> Principal:
        for provider in self._providers:
            if provider.accepts(credentials):
                return await provider.authenticate(credentials)
        if credentials.bearer is None and credentials.api_key is None:
            raise MissingToken()
        raise InvalidToken("The credential is not of any kind this server accepts.")

    def follow(self, watch: RevocationWatch) -> None:
        """Every provider that caches verifications keeps them fresh through ``watch``."""
        follow_revocations(self._providers, watch)


def follow_revocations(providers: Sequence[object], watch: RevocationWatch) -> None:
    """Hand ``watch`` to each provider (or chain) that caches what it verified (``CachedProvider.follow``)."""
    for provider in providers:
        follow = getattr(provider, "follow", None)
        if callable(follow):
            follow(watch)
