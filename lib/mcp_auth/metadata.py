"""OAuth 2.0 Protected Resource Metadata (RFC 9728) for this server, and what its origin answers.

The authorization servers advertised are the ones a client can sign in at: ``MCP_AUTH_AUTHORIZATION_SERVERS``,
else the built-in one (``oauth``), else the jwt provider's issuer when it publishes keys (a JWKS URL: an
identity provider). An issuer whose tokens are signed with a shared HS256 key is not advertised: it names
the tokens a team mints, and serves no metadata a client could follow.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mcp_auth.config import Settings


def protected_resource_metadata(settings: Settings) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resource": settings.resource_url,
        "bearer_methods_supported": ["header"],
        "resource_name": "MCP server",
    }
    if settings.authorization_servers:
        doc["authorization_servers"] = list(settings.authorization_servers)
    elif "oauth" in settings.providers:
        from mcp_auth.oauth import issuer_of

        doc["authorization_servers"] = [issuer_of(settings.resource_url)]
    elif settings.jwt_issuer and settings.jwt_jwks_url and "jwt" in settings.providers:
        doc["authorization_servers"] = [settings.jwt_issuer]
    if settings.scopes_supported:
        doc["scopes_supported"] = list(settings.scopes_supported)
    return doc


def metadata_paths(settings: Settings) -> frozenset[str]:
    """Both the plain and the path-suffixed well-known paths (RFC 9728 §3.1)."""
    from urllib.parse import urlsplit

    suffixed = urlsplit(settings.metadata_url).path
    return frozenset({"/.well-known/oauth-protected-resource", suffixed})


class MetadataDocument:
    """Serves the protected-resource metadata; any origin may read it (browser-based clients discover with it)."""

    def __init__(self, settings: Settings) -> None:
        self._body = json.dumps(protected_resource_metadata(settings)).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = Response(self._body, media_type="application/json", headers={"Access-Control-Allow-Origin": "*"})
        await response(scope, receive, send)


class OriginIndex:
    """``GET /``: the deployment's origin, which is also the built-in authorization server's issuer, answers
    with where to go (the MCP endpoint and its metadata) rather than 404."""

    def __init__(self, settings: Settings) -> None:
        self._body = json.dumps(
            {"resource": settings.resource_url, "resource_metadata": settings.metadata_url, "health": "/healthz"}
        ).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Response(self._body, media_type="application/json")(scope, receive, send)
