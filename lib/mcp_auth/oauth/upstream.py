"""Sign-in delegated to an upstream OpenID Connect provider (Google by default).

Each authorization request gets its own upstream ``state``; the upstream nonce and
PKCE verifier are derived from it, so only its hash needs storing. The ID token
is verified (signature by the provider's JWKS, issuer, audience, expiry, nonce).
MCP clients only ever see our own tokens; of the provider's, only its refresh token is
kept (sealed, ``recheck.py``), so that each refresh of ours asks the provider about the
account again (``Upstream.recheck``: a refresh_token grant, its new ID token verified).

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
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import Response

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import JwksCache
from mcp_auth.auth.jwt import JwtProvider
from mcp_auth.errors import McpAuthError, UpstreamError
from mcp_auth.oauth.graph import GraphUnavailable, member_groups, overage
from mcp_auth.oauth.signin import SignInPolicy as SignInPolicy  # re-exported: who may sign in, as whom
from mcp_auth.oauth.signin import SignInRefused

Page = Callable[[Request], Awaitable[Response]]
UPSTREAM_GRANT = "mcp_auth:upstream_grant"
"""The key under which a ``Rechecking`` step's ``sign_in`` returns what it keeps to ask the provider again
(a dict of the provider's tokens): taken out of the claims by the callback and sealed, never a claim."""
MAX_UPSTREAM_TOKEN = 8192


class UpstreamUnavailable(UpstreamError):
    """The provider cannot be asked now. ``grant``: at a refresh, what to keep of the provider's tokens all the
    same (it rotated them before the failure)."""

    grant: dict[str, Any] | None = None


class SignInStep(Protocol):
    """Where users sign in: an upstream OpenID provider (``Upstream``), GitHub (``github.GitHubSignIn``) or,
    locally, the development page (``dev_signin.DevSignIn``). ``pages`` are routes the step serves on this
    server itself."""

    @property
    def pages(self) -> Mapping[str, Page]: ...

    async def authorization_url(self, *, state: str, redirect_uri: str) -> str: ...

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]: ...


@runtime_checkable
class Rechecking(Protocol):
    """A step that can ask the provider about a signed-in account again, at each refresh of our tokens."""

    async def recheck(self, grant: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the account's claims now, the grant to keep): ``SignInRefused`` if the provider no longer
        accepts the grant or the account, ``UpstreamUnavailable`` if it cannot be asked now."""
        ...


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
        params: tuple[tuple[str, str], ...] = (),
        graph: str | None = None,
    ) -> None:
        """``params``: further authorization request parameters (``Preset.authorization_params``); ``graph``
        (Entra): the Microsoft Graph base URL an account's groups are read from when its ID token has too
        many to list (``graph.py``; None: never asked)."""
        self.issuer = issuer.rstrip("/")
        self._graph = graph
        self._tenants = tenants
        self._verifiers: dict[str, JwtProvider] = {}
        self._client_id = client_id
        self._secret = client_secret
        self._http = http
        self._scopes, self._params = scopes, params
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
            **dict(self._params),
        }
        return f"{(await self.metadata())['authorization_endpoint']}?{urlencode(params)}"

    async def sign_in(self, *, code: str, state: str, redirect_uri: str) -> dict[str, Any]:
        """Redeem the upstream code; the verified ID token claims, with the provider's refresh token (if it
        gave one) under ``UPSTREAM_GRANT``."""
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
        claims.pop(UPSTREAM_GRANT, None)
        await self._overage(claims, body)
        refresh = body.get("refresh_token") if isinstance(body, dict) else None
        if _usable(refresh) and isinstance(claims.get("sub"), str):
            claims[UPSTREAM_GRANT] = {"kind": "oidc", "refresh_token": refresh, "sub": claims["sub"]}
        return claims

    async def recheck(self, grant: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Ask the provider again with the refresh token kept at sign-in: the claims of the ID token it
        issues now (or, where it sends none, of its userinfo endpoint), for the same ``sub``."""
        refresh, sub = grant.get("refresh_token"), grant.get("sub")
        if grant.get("kind") != "oidc" or not _usable(refresh) or not isinstance(sub, str):
            raise SignInRefused("This sign-in kept no refresh token of the sign-in provider: sign in again.")
        metadata = await self.metadata()
        form = {"grant_type": "refresh_token", "refresh_token": refresh}
        try:
            response = await self._http().post(
                metadata["token_endpoint"], data=form, auth=(self._client_id, await self._secret()), timeout=10.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"The sign-in provider could not be reached ({type(exc).__name__}).") from exc
        body = _json(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise UpstreamUnavailable(f"The sign-in provider answered HTTP {response.status_code}.")
        error = body.get("error") if isinstance(body, dict) else None
        if error in ("invalid_client", "unauthorized_client") or response.status_code == 401:
            raise UpstreamUnavailable(  # this deployment's client is refused, not the account: nothing decided
                "The sign-in provider refused this server's client credentials: check "
                "MCP_AUTH_OAUTH_UPSTREAM_CLIENT_ID and MCP_AUTH_OAUTH_UPSTREAM_CLIENT_SECRET."
            )
        if response.status_code != 200 or not isinstance(body, dict):
            code = error[:60] if isinstance(error, str) else f"HTTP {response.status_code}"
            raise SignInRefused(
                f"The sign-in provider no longer accepts this sign-in ({code}): the account may have been "
                "disabled or removed, or its access to this app revoked. Sign in again."
            )
        id_token = body.get("id_token")
        if isinstance(id_token, str):
            try:
                principal = await self._verifier(metadata, id_token).authenticate(
                    Credentials(bearer=id_token, api_key=None)
                )
            except UpstreamError as exc:
                raise UpstreamUnavailable(exc.message) from exc
            except McpAuthError as exc:
                raise SignInRefused(f"The sign-in provider's new ID token is not valid: {exc.message}") from exc
            claims = dict(principal.claims)
        else:
            claims = await self._userinfo(metadata, body.get("access_token"))
        if claims.get("sub") != sub:
            raise SignInRefused("The sign-in provider answered the refresh for another account: sign in again.")
        claims.pop(UPSTREAM_GRANT, None)
        rotated = body.get("refresh_token")
        kept = {**grant, "refresh_token": rotated if _usable(rotated) else refresh}
        try:
            await self._overage(claims, body)
        except GraphUnavailable as exc:
            exc.grant = kept  # the provider may have spent the previous refresh token
            raise
        return claims, kept

    async def _overage(self, claims: dict[str, Any], body: Any) -> None:
        """Entra left the account's groups out of its ID token (too many): read them from Microsoft Graph
        with the access token of the same answer, into ``groups``."""
        if self._graph is not None and overage(claims):
            named = next((v for k in ("email", "preferred_username") if isinstance(v := claims.get(k), str)), None)
            claims["groups"] = await member_groups(self._http, self._graph, body.get("access_token"), account=named)

    async def _userinfo(self, metadata: dict[str, Any], access_token: Any) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not _usable(access_token):
            raise SignInRefused("The sign-in provider's refresh answer holds no ID token: sign in again.")
        try:
            response = await self._http().get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=10.0
            )
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"The sign-in provider could not be reached ({type(exc).__name__}).") from exc
        if response.status_code >= 500:
            raise UpstreamUnavailable(f"The sign-in provider's userinfo answered HTTP {response.status_code}.")
        body = _json(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise SignInRefused(f"The sign-in provider refused to describe the account (HTTP {response.status_code}).")
        return body

    def _verifier(self, metadata: dict[str, Any], id_token: str) -> JwtProvider:
        """The ID token verifier of the issuer the token must come from (per tenant for a templated issuer)."""
        issuer = str(metadata.get("issuer") or self.issuer)
        if TENANT_TEMPLATE in issuer:
            tenant = _unverified_claim(id_token, "tid")
            if tenant is None or tenant not in self._tenants:
                raise SignInRefused(
                    "Your Microsoft account belongs to another organisation (Microsoft Entra tenant) than the ones "
                    "this server accepts. Sign in with the work account your organisation gave you, or ask your "
                    "administrator whether your organisation can be allowed."
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


def _usable(token: Any) -> bool:
    return isinstance(token, str) and 0 < len(token) <= MAX_UPSTREAM_TOKEN


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


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
