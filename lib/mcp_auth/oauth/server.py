"""``AuthorizationServer``: the built-in OAuth 2.1 server's settings, parts and routes.

    /.well-known/oauth-authorization-server   RFC 8414 metadata
    /.well-known/openid-configuration         the same document (clients try both)
    /oauth/jwks                               public keys of our access tokens
    /oauth/register                           RFC 7591 dynamic registration (rate-limited)
    /oauth/authorize                          PKCE S256, resource indicator, upstream sign-in
    /oauth/callback                           upstream OpenID provider's redirect target -> consent page
    /oauth/consent                            the user's answer (allow/deny) -> our code
    /oauth/token                              authorization_code and refresh_token grants
    /oauth/revoke                             RFC 7009
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.challenge import plain_error
from mcp_auth.errors import McpAuthError
from mcp_auth.oauth import authorize as front
from mcp_auth.oauth import consent
from mcp_auth.oauth import tokens as back
from mcp_auth.oauth.keys import ALGORITHM, SigningKeys
from mcp_auth.oauth.store import OAuthStore
from mcp_auth.oauth.upstream import SignInPolicy, Upstream

logger = logging.getLogger("mcp_auth.oauth")
Handler = Callable[[Request], Awaitable[Response]]


def issuer_of(resource_url: str) -> str:
    """The authorization server's issuer: the deployment's own origin."""
    parts = urlsplit(resource_url)
    return f"{parts.scheme}://{parts.netloc}"


class AuthorizationServer:
    def __init__(
        self,
        *,
        resource: str,
        keys: SigningKeys,
        store: OAuthStore,
        upstream: Upstream,
        policy: SignInPolicy,
        http: Callable[[], httpx.AsyncClient],
        scopes: tuple[str, ...] = (),
        access_ttl: int = 600,
        refresh_ttl: int = 30 * 86_400,
        client_ttl: int = 365 * 86_400,
        registration_rate: int = 10,
        allow_loopback: bool = False,
    ) -> None:
        self.resource = resource.rstrip("/")
        self.issuer = issuer_of(resource)
        self.callback_url = f"{self.issuer}/oauth/callback"
        self.keys, self.store, self.upstream, self.policy, self.http = keys, store, upstream, policy, http
        self.scopes = scopes
        self.access_ttl, self.refresh_ttl, self.client_ttl = access_ttl, refresh_ttl, client_ttl
        self.registration_rate = registration_rate
        self.allow_loopback = allow_loopback

    def granted_scope(self, requested: str | None) -> str:
        """The scope string to grant: what was asked for (all supported scopes if nothing)."""
        asked = set((requested or "").split())
        if not self.scopes:
            return " ".join(sorted(asked))
        unknown = asked - set(self.scopes)
        if unknown:
            raise ValueError(f"Unknown scope(s) {' '.join(sorted(unknown))}; supported: {' '.join(self.scopes)}.")
        return " ".join(sorted(asked or self.scopes))

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        doc: dict[str, Any] = {
            "issuer": base,
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "registration_endpoint": f"{base}/oauth/register",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "jwks_uri": f"{base}/oauth/jwks",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
        }
        if self.scopes:
            doc["scopes_supported"] = list(self.scopes)
        return doc

    @property
    def routes(self) -> Mapping[str, ASGIApp]:
        async def metadata(request: Request) -> Response:
            return JSONResponse(self.metadata(), headers={"Access-Control-Allow-Origin": "*",
                                                          "Cache-Control": "max-age=300"})

        async def jwks(request: Request) -> Response:
            return JSONResponse(await self.keys.jwks(), headers={"Access-Control-Allow-Origin": "*",
                                                                 "Cache-Control": "max-age=60"})

        async def register(request: Request) -> Response:
            return await back.registration(self, request, _remote(request))

        get_only = {"GET", "HEAD"}
        table: dict[str, tuple[Handler, set[str] | None]] = {
            "/.well-known/oauth-authorization-server": (metadata, get_only),
            "/.well-known/openid-configuration": (metadata, get_only),
            "/oauth/jwks": (jwks, get_only),
            "/oauth/register": (register, None),
            "/oauth/authorize": (lambda r: front.authorize(self, r), None),
            "/oauth/callback": (lambda r: front.callback(self, r), None),
            "/oauth/consent": (lambda r: consent.answer(self, r), None),
            "/oauth/token": (lambda r: back.token(self, r), None),
            "/oauth/revoke": (lambda r: back.revoke(self, r), None),
        }
        return {path: _Endpoint(handler, methods) for path, (handler, methods) in table.items()}


def _remote(request: Request) -> str:
    """The address to rate-limit: the client address the edge resolved for this request (trusting only
    the configured load balancers' forwarded headers); else the last X-Forwarded-For hop (added by Cloud
    Run's front end, unlike the earlier ones, which the client can write)."""
    from mcp_auth.observe import current_record

    record = current_record.get()
    if record is not None and record.remote_ip:
        return record.remote_ip
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[-1].strip()[:64]
    return request.client.host if request.client else "unknown"


class _Endpoint:
    """One route as plain ASGI: framework errors become OAuth error answers, never a 500."""

    def __init__(self, handler: Handler, methods: set[str] | None) -> None:
        self._handler, self._methods = handler, methods

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._methods is not None and request.method not in self._methods:
            response = plain_error(405, "method_not_allowed", "This endpoint accepts GET only.", {"Allow": "GET"})
        else:
            try:
                response = await self._handler(request)
            except McpAuthError as exc:
                retry = getattr(exc, "retry_after", None)
                response = plain_error(503 if exc.status >= 500 else exc.status, "temporarily_unavailable",
                                       exc.message, {"Retry-After": str(retry)} if retry else None)
        await response(scope, receive, send)
