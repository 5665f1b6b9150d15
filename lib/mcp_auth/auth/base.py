"""The provider protocol and the credential a provider is handed.

A provider turns one credential into a ``Principal`` or raises an
``AuthError`` subclass saying precisely why not. Providers never see the raw
HTTP request: ``Credentials`` carries what was sent, already split out of the
headers by the edge (so duplicated ``Authorization`` headers are rejected in
one place).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from mcp_auth.principal import Principal


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the client sent. ``bearer`` is the token after ``Bearer ``;
    ``api_key`` the value of ``X-API-Key``. Either may be None."""

    bearer: str | None = None
    api_key: str | None = None

    def __repr__(self) -> str:  # never print a token
        return f"Credentials(bearer={'<set>' if self.bearer else None}, api_key={'<set>' if self.api_key else None})"


@runtime_checkable
class AuthProvider(Protocol):
    """One way of authenticating.

    ``accepts`` says whether this provider should try the credential at all
    (a JWT provider declines an ``mak_`` API key, so the chain moves on);
    ``authenticate`` verifies it. Raise ``MissingToken`` only when the provider
    needs a credential and none was sent.
    """

    name: str

    def accepts(self, credentials: Credentials) -> bool: ...

    async def authenticate(self, credentials: Credentials) -> Principal: ...
