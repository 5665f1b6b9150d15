"""Access tokens the server accepts: HS256 JWTs signed with the deployment's key or the local one.

signing_key(settings, secret)   the newest enabled version of the HS256 key secret, read from
                                Secret Manager with the caller's own Google credentials
mint_token(settings, ...)       a JWT with the configured issuer and audience, signed with that
                                key or, locally, the development key (MCP_AUTH_JWT_HS256_KEY)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from mcp_auth.config import Settings
from mcp_auth.errors import ConfigError

#: HMAC keys shorter than this are refused by the verifier (``mcp_auth.auth.jwt``).
MIN_KEY_BYTES = 32


async def signing_key(settings: Settings, secret: str) -> bytes:
    """The payload of the newest enabled version of ``secret``: the one the server verifies with first."""
    from mcp_auth.secrets import SecretStore

    project = settings.project
    if not project:
        raise ConfigError(
            f"Reading secret {secret!r} needs a project: set GOOGLE_CLOUD_PROJECT, or use Google credentials "
            "that name one (gcloud config set project …)."
        )
    store = SecretStore(project=project, endpoint=settings.secret_manager_endpoint)
    try:
        key = await store.get(secret)
    finally:
        store.close()
    if len(key) < MIN_KEY_BYTES or key.lstrip().startswith((b"-----BEGIN", b"ssh-", b"ecdsa-")):
        raise ConfigError(
            f"Secret {secret!r} does not hold an HS256 key the server accepts (at least {MIN_KEY_BYTES} random "
            "bytes, not a PEM or SSH key): add a version with one."
        )
    return key


def mint_token(
    settings: Settings, *, user: str, scopes: Sequence[str] | None, ttl: int, key: bytes | None = None
) -> str:
    """An HS256 access token for ``user`` (a person or a service principal: any user id with a record).

    ``key`` is the deployment's signing key (``signing_key``); without it, the development key.
    """
    import jwt

    from mcp_auth.store.users import validate_uid

    if key is None:
        if not settings.jwt_hs256_key:
            raise ConfigError(
                "Minting needs a signing key: MCP_AUTH_JWT_HS_SECRET (or --secret) names a deployment's "
                "Secret Manager secret; MCP_AUTH_JWT_HS256_KEY is the local development key (run 'make dev' first)."
            )
        key = settings.jwt_hs256_key.encode()
    if not settings.jwt_issuer:
        raise ConfigError("Minting needs MCP_AUTH_JWT_ISSUER: the issuer the server accepts.")
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
    return jwt.encode(claims, key, algorithm="HS256")
