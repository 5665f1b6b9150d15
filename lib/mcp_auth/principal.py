"""The authenticated caller of one request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

AuthMethod = str  # "jwt", "oauth", "api_key", "dev", ...


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: produced by an auth provider, consumed everywhere else.

    ``user_id`` is the stable id that keys the user's Firestore data.
    ``scopes`` are the scopes the credential grants (not yet intersected with
    the user record). ``claims`` are the verified claims, read-only.
    ``expires_at`` (epoch seconds) bounds how long a verification may be cached.
    ``issued_at`` (epoch seconds) is when the credential was made, compared with the user's last
    sign-out; by default the numeric ``iat`` claim, if any.
    """

    user_id: str
    auth_method: AuthMethod
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    expires_at: float | None = None
    issued_at: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.user_id, str) or not self.user_id:
            raise ValueError("Principal.user_id must be a non-empty string")
        if not isinstance(self.claims, MappingProxyType):
            object.__setattr__(self, "claims", MappingProxyType(dict(self.claims)))
        if not isinstance(self.scopes, frozenset):
            object.__setattr__(self, "scopes", frozenset(self.scopes))
        iat = self.claims.get("iat")
        if self.issued_at is None and isinstance(iat, int | float) and not isinstance(iat, bool):
            object.__setattr__(self, "issued_at", float(iat))
