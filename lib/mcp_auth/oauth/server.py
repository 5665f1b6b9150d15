"""``AuthorizationServer``: the built-in OAuth 2.1 server's settings, parts and routes.

    /.well-known/oauth-authorization-server   RFC 8414 metadata
    /.well-known/openid-configuration         the same document (clients try both)
    /oauth/jwks                               public keys of our access tokens
    /oauth/register                           RFC 7591 dynamic registration (limited per address)
    /oauth/authorize                          PKCE S256, resource indicator, upstream sign-in (limited per address)
    /oauth/callback                           upstream OpenID provider's redirect target -> consent page
    /oauth/consent                            the user's answer (allow/deny) -> our code
    /oauth/token                              authorization_code and refresh_token grants (limited per address)
    /oauth/revoke                             RFC 7009
    /oauth/dev-sign-in                        the local development sign-in page (dev_signin.py), when enabled

Each route declares its body cap (``max_body_bytes``), which the edge enforces while the body
streams in, before the handler runs; routes that never read a body accept none.

The per-address limits on ``/oauth/authorize`` and ``/oauth/token`` use the shared ``RateLimiter``
(leases from Firestore windows), not the registration counter: these endpoints see far more traffic
than registration (every sign-in, every token refresh), and the limiter costs one Firestore write per
lease rather than two calls per request, refuses a known-exhausted address from memory (a flood costs
no Firestore call once its window is used up), and keeps admitting on a per-instance count when
Firestore is down instead of failing sign-ins. Registration keeps its exact per-minute counter: it is
rare, and a registration writes a document anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcp_auth.challenge import plain_error
from mcp_auth.connections.sealing import Sealer
from mcp_auth.errors import McpAuthError
from mcp_auth.oauth import authorize as front
from mcp_auth.oauth import consent
from mcp_auth.oauth import tokens as back
from mcp_auth.oauth.clients import MetadataDocuments
from mcp_auth.oauth.keys import ALGORITHM, SigningKeys
from mcp_auth.oauth.store import OAuthStore
from mcp_auth.oauth.upstream import SignInRules, SignInStep
from mcp_auth.proxies import address_key, client_origin
from mcp_auth.ratelimit import FirestoreWindows, Rate, RateLimiter

if TYPE_CHECKING:
    from mcp_auth.auth.jwt import JwtProvider
    from mcp_auth.oauth.groups import GroupGrants

logger = logging.getLogger("mcp_auth.oauth")
Handler = Callable[[Request], Awaitable[Response]]
Admission = Callable[[Request], Awaitable[Response | None]]

FORM_BYTES = 16 * 1024
"""Body cap of the token, revocation and registration requests (form or JSON)."""
CONSENT_BYTES = 4 * 1024
"""Body cap of the consent page's answer (an approval token and a decision)."""
NO_BODY = 0
"""Body cap of the routes that read no body (metadata, keys, the front-channel GETs)."""
SEALING_SECRET = "MCP_AUTH_OAUTH_SIGNING_KEY_SECRET"  # noqa: S105  # nosec B105 - a setting name, not a secret
"""The setting whose key versions the sealing keys derive from (named in errors)."""


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
        upstream: SignInStep,
        policy: SignInRules,
        http: Callable[[], httpx.AsyncClient],
        scopes: tuple[str, ...] = (),
        access_ttl: int = 600,
        refresh_ttl: int = 30 * 86_400,
        client_ttl: int = 365 * 86_400,
        registration_rate: int = 10,
        authorize_rate: int = 60,
        token_rate: int = 120,
        limiter: RateLimiter | None = None,
        allow_loopback: bool = False,
        groups: GroupGrants | None = None,
        sealer: Sealer | None = None,
    ) -> None:
        """``registration_rate``, ``authorize_rate`` and ``token_rate`` are requests per client address
        (an IPv6 client's /64) and minute; ``limiter`` counts the last two (default: Firestore windows in
        the store's database). ``groups`` re-applies the group grants at each refresh (``groups.py``) where the
        sign-in step cannot ask its provider again (``recheck.py``); ``sealer`` seals what a sign-in keeps to
        ask it (default: keys derived from the signing key)."""
        self.resource = resource.rstrip("/")
        self.issuer = issuer_of(resource)
        self.callback_url = f"{self.issuer}/oauth/callback"
        self.keys, self.store, self.upstream, self.policy, self.http = keys, store, upstream, policy, http
        self.scopes = scopes
        self.access_ttl, self.refresh_ttl, self.client_ttl = access_ttl, refresh_ttl, client_ttl
        self.registration_rate = registration_rate
        self.address_rates = {"oauth_authorize": Rate(authorize_rate, 60), "oauth_token": Rate(token_rate, 60)}
        self.limiter = limiter or RateLimiter(FirestoreWindows(lambda: self.store.client))
        self.allow_loopback = allow_loopback
        self.groups = groups
        self.sealer = sealer or Sealer(keys.sealing_keys, secret_name=SEALING_SECRET)
        self.documents = MetadataDocuments()

    def verifier(self, *, leeway: int = 30) -> JwtProvider:
        """Verifies the access tokens this server issues (issuer = its origin, audience = its resource),
        with the keys that sign them."""
        from mcp_auth.auth.jwt import JwtProvider

        return JwtProvider(
            issuer=self.issuer,
            audience=self.resource,
            jwks=self.keys,  # type: ignore[arg-type]
            jwks_algorithms=("ES256",),
            leeway=leeway,
            name="oauth",
            own_issuer_only=True,  # beside the jwt provider, its tokens go to it
        )

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
            return JSONResponse(
                self.metadata(), headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"}
            )

        async def jwks(request: Request) -> Response:
            return JSONResponse(
                await self.keys.jwks(), headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=60"}
            )

        async def register(request: Request) -> Response:
            return await back.registration(self, request, _remote(request))

        def limited(kind: str) -> Admission:
            return lambda request: self.admit(kind, request)

        get_only = {"GET", "HEAD"}
        table: dict[str, tuple[Handler, set[str] | None, int, Admission | None]] = {
            "/.well-known/oauth-authorization-server": (metadata, get_only, NO_BODY, None),
            "/.well-known/openid-configuration": (metadata, get_only, NO_BODY, None),
            "/oauth/jwks": (jwks, get_only, NO_BODY, None),
            "/oauth/register": (register, None, FORM_BYTES, None),
            "/oauth/authorize": (lambda r: front.authorize(self, r), None, NO_BODY, limited("oauth_authorize")),
            "/oauth/callback": (lambda r: front.callback(self, r), None, NO_BODY, None),
            "/oauth/consent": (lambda r: consent.answer(self, r), None, CONSENT_BYTES, None),
            "/oauth/token": (lambda r: back.token(self, r), None, FORM_BYTES, limited("oauth_token")),
            "/oauth/revoke": (lambda r: back.revoke(self, r), None, FORM_BYTES, None),
            # the sign-in step's own pages (the local development sign-in): a form's answer at most
            **{path: (page, None, CONSENT_BYTES, None) for path, page in self.upstream.pages.items()},
        }
        return {
            path: _Endpoint(handler, methods, max_body_bytes=cap, admit=admit)
            for path, (handler, methods, cap, admit) in table.items()
        }

    async def admit(self, kind: str, request: Request) -> Response | None:
        """None if the client address may make one more ``kind`` request this minute, else the 429."""
        decision = await self.limiter.check(kind, _remote(request), self.address_rates[kind])
        if decision.allowed:
            return None
        endpoint = kind.removeprefix("oauth_")
        return plain_error(
            429,
            "too_many_requests",
            f"Too many {endpoint} requests from this address (at most {decision.limit} a minute): "
            f"retry in {decision.retry_after} s.",
            {"Retry-After": str(decision.retry_after)},
        )


def _remote(request: Request) -> str:
    """The rate-limit key of the client: its address as the edge resolved it (trusting only the
    configured load balancers' forwarded headers), an IPv6 client's /64 (``proxies.address_key``)."""
    from mcp_auth.observe import record_of

    record = record_of(request.scope)
    ip = record.remote_ip if record is not None else client_origin(request.scope, request.headers).ip
    return address_key(ip)


class _Endpoint:
    """One route as plain ASGI: its body cap (``max_body_bytes``, enforced by the edge before this
    runs), its per-address limit, and framework errors as OAuth error answers, never a 500."""

    def __init__(
        self, handler: Handler, methods: set[str] | None, *, max_body_bytes: int, admit: Admission | None = None
    ) -> None:
        self._handler, self._methods, self._admit = handler, methods, admit
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._methods is not None and request.method not in self._methods:
            response = plain_error(405, "method_not_allowed", "This endpoint accepts GET only.", {"Allow": "GET"})
        else:
            try:
                refused = await self._admit(request) if self._admit is not None else None
                response = refused or await self._handler(request)
            except McpAuthError as exc:
                retry = getattr(exc, "retry_after", None)
                response = plain_error(
                    503 if exc.status >= 500 else exc.status,
                    "temporarily_unavailable",
                    exc.message,
                    {"Retry-After": str(retry)} if retry else None,
                )
        await response(scope, receive, send)
