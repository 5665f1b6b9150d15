"""Sign-in delegated to an upstream OpenID Connect provider (Google by default).

Each authorization request gets its own upstream ``state``; the upstream nonce and
PKCE verifier are derived from it, so only its hash needs storing. The ID token
is verified (signature by the provider's JWKS, issuer, audience, expiry, nonce)
and the upstream tokens are dropped: MCP clients only ever see our own tokens.

A multi-tenant Microsoft Entra ID discovery document names its issuer as a template
(``https://login.microsoftonline.com/{tenantid}/v2.0``): the ID token is then verified against
the issuer of the tenant it names, which must be one of ``tenants``.

``SignInStep`` is the seam for a provider without ID tokens (plain OAuth 2: ``github.GitHubSignIn``): a step
that redeems the code itself and returns the account's claims in the same shape.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import McpAuthError, UpstreamError
from mcp_auth.oauth.signin import SignInPolicy as SignInPolicy  # re-exported: who may sign in, as whom
from mcp_auth.oauth.signin import SignInRefused

Page = Callable[[Request], Awaitable[Response]]


class UpstreamUnavailable(UpstreamError):
    pass


class SignInStep(Protocol):
    """Where users sign in: an upstream OpenID provider (``Upstream``), GitHub (``github.GitHubSignIn``) or,
    locally, the development page (``dev_signin.DevSignIn``). ``pages`` are routes the step serves on this
    server itself."""

    @property
    def pages(self) -> Mapping[str, Page]: ...

    async def authorization_url(self, *, state: str, redirect_uri: str) -> str: ...

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]: ...


class SignInRules(Protocol):
    """Which user a signed-in account is (``SignInPolicy``, or the development page's user id)."""

    async def user_id(self, claims: dict[str, Any]) -> str: ...


def _derive(label: str, state: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(f"{label}:{state}".encode()).digest()).rstrip(b"=").decode()


def nonce_for(state: str) -> str:
    return _derive("nonce", state)


def verifier_for(state: str) -> str:
    return _derive("pkce", state)


class Upstream:
    """One upstream OpenID provider, discovered lazily from ``issuer``."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: Callable[[], Awaitable[str]],
        http: Callable[[], httpx.AsyncClient],
        scopes: str = "openid email profile",
        tenants: tuple[str, ...] = (),
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._tenants = tenants
        self._verifiers: dict[str, JwtProvider] = {}
        self._client_id = client_id
        self._secret = client_secret
        self._http = http
        self._scopes = scopes
        self._metadata: dict[str, Any] | None = None
        self._jwks_cache: JwksCache | None = None

    @property
    def pages(self) -> Mapping[str, Page]:
        return MappingProxyType({})  # the provider serves its own

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            url = f"{self.issuer}/.well-known/openid-configuration"
            try:
                response = await self._http().get(url, timeout=5.0)
                response.raise_for_status()
                document = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                raise UpstreamUnavailable(
                    f"The sign-in provider's discovery document could not be read ({type(exc).__name__}); retry."
                ) from exc
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(document.get(name), str):
                    raise UpstreamUnavailable(f"The sign-in provider's discovery document lacks {name}.")
            self._metadata = document
        return self._metadata

    async def authorization_url(self, *, state: str, redirect_uri: str) -> str:
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier_for(state).encode()).digest()).rstrip(b"=")
        params = {
            "response_type": "code",
            "client_id": self._client_id,
            "redirect_uri": redirect_uri,
            "scope": self._scopes,
            "state": state,
            "nonce": nonce_for(state),
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
        }
        return f"{(await self.metadata())['authorization_endpoint']}?{urlencode(params)}"

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        """Redeem the upstream code; the verified ID token claims."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier_for(state),
        }
        try:
            response = await self._http().post(
                metadata["token_endpoint"],
                data=form,
                auth=(self._client_id, await self._secret()),
                timeout=10.0,
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"The sign-in provider could not be reached ({type(exc).__name__}).") from exc
        if response.status_code != 200:
            raise SignInRefused(f"The sign-in provider refused the sign-in (HTTP {response.status_code}).")
        try:
            body = response.json()
        except ValueError:
            body = None
        id_token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(id_token, str):
            raise SignInRefused("The sign-in provider returned no ID token.")
        try:
            verifier = self._verifier(metadata, id_token)
            principal = await verifier.authenticate(Credentials(bearer=id_token, api_key=None))
        except McpAuthError as exc:
            raise SignInRefused(f"The sign-in provider's ID token is not valid: {exc.message}") from exc
        claims = dict(principal.claims)
        if claims.get("nonce") != nonce_for(state):
            raise SignInRefused("The ID token's nonce does not belong to this sign-in.")
        return claims

    def _verifier(self, metadata: dict[str, Any], id_token: str) -> JwtProvider:
        """The ID token verifier of the issuer the token must come from (per tenant for a templated issuer)."""
        issuer = str(metadata.get("issuer") or self.issuer)
        if TENANT_TEMPLATE in issuer:
            tenant = _unverified_claim(id_token, "tid")
            if tenant is None or tenant not in self._tenants:
                raise SignInRefused(
                    "Your account's Microsoft Entra tenant may not sign in to this server: sign in with an account "
                    "of your organisation's tenant."
                )
            issuer = issuer.replace(TENANT_TEMPLATE, tenant)
        verifier = self._verifiers.get(issuer)
        if verifier is None:
            if len(self._verifiers) >= len(self._tenants) + 1:
                self._verifiers.clear()  # bounded: one per allowed tenant
            verifier = self._verifiers[issuer] = JwtProvider(
                issuer=issuer,
                audience=self._client_id,
                jwks=self._jwks(metadata["jwks_uri"]),
                leeway=60,
            )
        return verifier

    def _jwks(self, url: str) -> JwksCache:
        if self._jwks_cache is None:
            self._jwks_cache = JwksCache(url, client=self._http())
        return self._jwks_cache


TENANT_TEMPLATE = "{tenantid}"


def _unverified_claim(token: str, name: str) -> str | None:
    """A string claim of a JWT's payload before verification (only to choose which issuer to verify against)."""
    import json

    parts = token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16_384:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    value = payload.get(name) if isinstance(payload, dict) else None
    return value if isinstance(value, str) and len(value) <= 64 else None
