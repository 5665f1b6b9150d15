"""Development access tokens: HS256 JWTs signed with the local development key."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError


def mint_token(settings: Settings, *, user: str, scopes: Sequence[str] | None, ttl: int) -> str:
    """An HS256 access token the local server accepts (development key from MCP_AUTH_JWT_HS256_KEY)."""
    import jwt

    from mcp_auth.store.users import validate_uid

    if not settings.jwt_hs256_key or not settings.jwt_issuer:
        raise ConfigError("Minting needs MCP_AUTH_JWT_HS256_KEY and MCP_AUTH_JWT_ISSUER (run 'make dev' first).")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": validate_uid(user),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        "client_id": "mcp-auth-cli",
    }
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    return jwt.encode(claims, settings.jwt_hs256_key.encode(), algorithm="HS256")
