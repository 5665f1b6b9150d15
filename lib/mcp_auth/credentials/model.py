"""What the resolver hands to tools, and the errors it raises.

CredentialNotConnected   (UserError, 403)   the user has not connected the provider: tell them where
CredentialsNotConfigured (ConfigError)      the deployment has no credential source: tell an administrator
CredentialUnavailable    (UpstreamError, 503, mcp_auth.errors)   the platform could not be asked: retry later
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from mcp_auth.errors import ConfigError, UserError

_PROVIDER = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


def validate_provider(provider: str) -> str:
    """Provider names appear in URLs and document ids: lower-case letters, digits, '-' and '_'."""
    if not isinstance(provider, str) or not _PROVIDER.fullmatch(provider):
        raise ConfigError(
            "A provider name is 1-64 lower-case letters, digits, '-' and '_', starting with a letter or digit."
        )
    return provider


@dataclass(frozen=True, slots=True)
class Credential:
    """One user's credential for one provider. The token never appears in a ``repr``."""

    user_id: str
    provider: str
    access_token: str = field(repr=False)
    token_type: str = "bearer"  # noqa: S105 - a token type, not a token
    expires_at: float | None = None
    """Seconds since the epoch after which the platform says the token is no longer valid."""
    scopes: tuple[str, ...] = ()

    @property
    def authorization(self) -> str:
        """The value of an ``Authorization`` header for the provider's API (and only for it)."""
        return f"Bearer {self.access_token}"


class Resolver(Protocol):
    """What ``user_credential`` asks: the platform's ``CredentialResolver``, or the vault in front of it."""

    async def resolve(
        self, user_id: str, provider: str, *, user_token: str | None = None, display_name: str | None = None
    ) -> Credential: ...

    def forget(self, user_id: str, provider: str, access_token: str | None = None) -> None: ...


class CredentialNotConnected(UserError):
    """The user has not connected ``provider`` (the platform answered 404), or the connection expired."""

    def __init__(
        self, provider: str, *, display_name: str | None = None, connect_url: str | None = None, expired: bool = False
    ) -> None:
        self.provider = provider
        self.connect_url = connect_url
        name = display_name or provider
        state = f"Your {name} connection has expired" if expired else f"Your {name} account is not connected"
        where = f" at {connect_url}" if connect_url else " in the platform's connections page"
        super().__init__(f"{state}: connect {name}{where}, then try again.")


@dataclass(frozen=True, slots=True)
class NotConnected:
    """The platform's 404: the user has not connected the provider."""

    connect_url: str | None = None
    expired: bool = False


class CredentialsNotConfigured(ConfigError):
    """A tool asked for a user's credential on a deployment that has no credential source."""
