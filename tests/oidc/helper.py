"""`OidcServer`: a running test authorization server and what tests do with it.

Protocol calls are async (httpx, a fresh client per call, so each flow has its
own cookie jar and no client outlives its event loop). `start_oidc_server()`
starts one instance and stops it on exit.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
import jwt
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from tests.oidc.process import start_process, stop_process
from tests.oidc.protocol import (
    AuthorizationResponse,
    AuthorizationServerError,
    KeyState,
    oauth_json,
    pkce_pair,
    same_endpoint,
    with_login_hint,
)
from tests.oidc.settings import (
    CONFIDENTIAL_CLIENT,
    DEFAULT_REDIRECT_URI,
    INTROSPECTION_CLIENT,
    PUBLIC_CLIENT,
    SERVICE_CLIENT,
    OidcSettings,
    resource,
)

_TIMEOUT = httpx.Timeout(10.0)
_MAX_REDIRECTS = 20


class OidcServer:
    """One running oidc-provider instance on loopback."""

    def __init__(self, *, issuer: str, metadata: dict[str, Any], settings: OidcSettings, admin_token: str) -> None:
        self.issuer = issuer
        self.metadata = metadata
        self.settings = settings
        self._admin_token = admin_token
        self._clients = {client["client_id"]: client for client in settings.clients}

    # --- what clients and resource servers are configured with ---------------------------------
    @property
    def jwks_url(self) -> str:
        return str(self.metadata["jwks_uri"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    @property
    def registration_endpoint(self) -> str:
        return str(self.metadata["registration_endpoint"])

    def client(self, client_id: str) -> dict[str, Any]:
        """A pre-registered client's metadata (with its `client_secret` when confidential)."""
        if client_id not in self._clients:
            raise KeyError(f"no pre-registered client {client_id!r}; have {sorted(self._clients)}")
        return self._clients[client_id]

    def client_auth(self, client_id: str) -> tuple[str, str] | None:
        """HTTP Basic credentials for a confidential client; None for a public or unknown one
        (a Client ID Metadata Document URL, say)."""
        secret = self._clients.get(client_id, {}).get("client_secret")
        return (client_id, secret) if secret else None

    # --- token endpoint ---------------------------------------------------------------------------
    async def token_request(self, form: dict[str, str], *, client_id: str) -> httpx.Response:
        """POST to the token endpoint as `client_id` (Basic auth, or client_id in the form if public)."""
        return await self._post_as_client(self.token_endpoint, form, client_id=client_id)

    async def _post_as_client(self, url: str, form: dict[str, str], *, client_id: str) -> httpx.Response:
        auth = self.client_auth(client_id)
        data = dict(form) if auth else {**form, "client_id": client_id}
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            return await http.post(url, data=data, auth=auth or httpx.USE_CLIENT_DEFAULT)

    async def client_credentials(
        self, resource: str, scopes: Sequence[str] = ("tools:read",), *, client_id: str = SERVICE_CLIENT
    ) -> dict[str, Any]:
        """A client-credentials token response for `resource` (a JWT access token unless the
        resource is configured as opaque)."""
        form = {"grant_type": "client_credentials", "resource": resource, "scope": " ".join(scopes)}
        return oauth_json(await self.token_request(form, client_id=client_id))

    async def exchange_code(
        self, response: AuthorizationResponse, *, client_id: str = PUBLIC_CLIENT, resource: str | None = None
    ) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "code": response.code,
            "code_verifier": response.code_verifier,
            "redirect_uri": response.redirect_uri,
        }
        if resource:
            form["resource"] = resource
        return oauth_json(await self.token_request(form, client_id=client_id))

    async def refresh(
        self,
        refresh_token: str,
        *,
        client_id: str = PUBLIC_CLIENT,
        resource: str | None = None,
        scopes: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if resource:
            form["resource"] = resource
        if scopes is not None:
            form["scope"] = " ".join(scopes)
        return oauth_json(await self.token_request(form, client_id=client_id))

    # --- authorization endpoint (no browser) -----------------------------------------------------
    def authorization_url(
        self,
        *,
        client_id: str = PUBLIC_CLIENT,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        resource: str | None = None,
        scopes: Sequence[str] = ("tools:read",),
        code_challenge: str,
        state: str,
        account: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> str:
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        if resource:
            params["resource"] = resource
        if account:
            params["login_hint"] = account
        params.update(extra or {})
        return f"{self.authorization_endpoint}?{urlencode(params)}"

    async def follow_authorization(
        self,
        url: str,
        *,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        account: str | None = None,
        browser: httpx.AsyncClient | None = None,
    ) -> str:
        """Drive an authorization request (built by anyone, e.g. an MCP client) through sign-in
        and consent as a browser would; returns the URL the chain redirected to at `redirect_uri`
        (with code and state, or error), without requesting it. Redirects through other servers
        (an authorization server that delegates sign-in here, say) are followed too.
        `account` signs in: it is added as login_hint to every request to this server's
        authorization endpoint along the way (unless one is there); without it the server's
        default account signs in. `browser`: a client to use instead of a fresh one (its
        cookies, its mounted transports)."""
        async with contextlib.AsyncExitStack() as stack:
            if browser is None:
                browser = await stack.enter_async_context(httpx.AsyncClient(timeout=_TIMEOUT))
            for _ in range(_MAX_REDIRECTS):
                if account and same_endpoint(url, self.authorization_endpoint):
                    url = with_login_hint(url, account)
                response = await browser.get(url, follow_redirects=False)
                location = response.headers.get("location")
                if not response.is_redirect or not location:
                    raise AuthorizationServerError(
                        "no_redirect",
                        f"{url} answered HTTP {response.status_code}: {response.text[:300]}",
                        response.status_code,
                    )
                url = urljoin(str(response.url), location)
                if same_endpoint(url, redirect_uri):
                    return url
        raise AuthorizationServerError("redirect_loop", f"no redirect to {redirect_uri} after {_MAX_REDIRECTS} hops")

    async def authorize(
        self,
        *,
        account: str | None = None,
        resource: str | None = None,
        scopes: Sequence[str] = ("tools:read",),
        client_id: str = PUBLIC_CLIENT,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        extra: dict[str, str] | None = None,
    ) -> AuthorizationResponse:
        """Run the front-channel half of authorization code + PKCE; raises on an error redirect."""
        verifier, challenge = pkce_pair()
        state = secrets.token_urlsafe(16)
        url = self.authorization_url(
            client_id=client_id,
            redirect_uri=redirect_uri,
            resource=resource,
            scopes=scopes,
            code_challenge=challenge,
            state=state,
            account=account,
            extra=extra,
        )
        callback = await self.follow_authorization(url, redirect_uri=redirect_uri)
        query = {name: values[0] for name, values in parse_qs(urlsplit(callback).query).items()}
        if "error" in query:
            raise AuthorizationServerError(query["error"], query.get("error_description", ""))
        if query.get("state") != state or "code" not in query:
            raise AuthorizationServerError("bad_callback", f"unexpected redirect {callback}")
        return AuthorizationResponse(query["code"], state, verifier, redirect_uri, callback)

    async def authorization_code_flow(
        self,
        *,
        account: str | None = None,
        resource: str | None = None,
        scopes: Sequence[str] = ("tools:read",),
        client_id: str = PUBLIC_CLIENT,
        redirect_uri: str = DEFAULT_REDIRECT_URI,
        extra: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Sign in as `account`, consent, redeem the code: the token response."""
        response = await self.authorize(
            account=account,
            resource=resource,
            scopes=scopes,
            client_id=client_id,
            redirect_uri=redirect_uri,
            extra=extra,
        )
        return await self.exchange_code(response, client_id=client_id, resource=resource)

    # --- introspection, revocation, registration, userinfo ---------------------------------------
    async def introspect(
        self, token: str, *, client_id: str = INTROSPECTION_CLIENT, token_type_hint: str | None = None
    ) -> dict[str, Any]:
        """RFC 7662 introspection (opaque access tokens and refresh tokens; JWTs are refused)."""
        form = {"token": token, **({"token_type_hint": token_type_hint} if token_type_hint else {})}
        return oauth_json(await self._post_as_client(self.introspection_endpoint, form, client_id=client_id))

    async def revoke(self, token: str, *, client_id: str = PUBLIC_CLIENT, token_type_hint: str | None = None) -> None:
        form = {"token": token, **({"token_type_hint": token_type_hint} if token_type_hint else {})}
        response = await self._post_as_client(self.revocation_endpoint, form, client_id=client_id)
        if response.status_code != 200:
            oauth_json(response)

    async def register_client(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """RFC 7591 dynamic registration; returns the registered metadata (client_id, secret, ...).
        The helper's other methods then know the client by its id."""
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            registered = oauth_json(await http.post(self.registration_endpoint, json=metadata))
        self._clients[registered["client_id"]] = registered
        return registered

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            response = await http.get(
                self.metadata["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}
            )
        return oauth_json(response)

    # --- keys ---------------------------------------------------------------------------------------
    async def jwks(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            return oauth_json(await http.get(self.jwks_url))

    async def decode(self, token: str, *, audience: str) -> dict[str, Any]:
        """Verify a JWT (signature against the JWKS as served now, iss, aud, exp) with PyJWT."""
        kid = jwt.get_unverified_header(token).get("kid")
        jwk_set = jwt.PyJWKSet.from_dict(await self.jwks())
        key = next((k for k in jwk_set.keys if k.key_id == kid), None)
        if key is None:
            raise jwt.InvalidKeyError(f"kid {kid!r} is not in the JWKS")
        return jwt.decode(token, key, algorithms=["RS256", "ES256"], audience=audience, issuer=self.issuer)

    async def key_state(self) -> KeyState:
        return KeyState(**await self._admin("GET", "/__admin/keys"))

    async def rotate_keys(self) -> KeyState:
        """New RS256 and ES256 keys sign from now on; the previous ones stay in the JWKS."""
        return KeyState(**await self._admin("POST", "/__admin/keys/rotate"))

    async def retire_old_keys(self) -> KeyState:
        """Remove every key but the current ones from the JWKS."""
        return KeyState(**await self._admin("POST", "/__admin/keys/retire"))

    # --- changing the running server --------------------------------------------------------------
    async def add_resource(self, indicator: str, **definition: Any) -> None:
        """Define (or redefine) a resource server; keywords as for `resource()`."""
        await self._admin("POST", "/__admin/resources", {"resource": indicator, **resource(**definition)})

    async def add_account(self, account_id: str, **claims: Any) -> None:
        await self._admin("POST", "/__admin/accounts", {"id": account_id, "claims": claims})

    async def remove_account(self, account_id: str) -> None:
        """The account is gone: a refresh of its tokens is refused (invalid_grant) from now on."""
        await self._admin("POST", "/__admin/accounts/remove", {"id": account_id})

    async def set_default_account(self, account_id: str | None) -> None:
        await self._admin("POST", "/__admin/default-account", {"account": account_id})

    async def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as http:
            response = await http.request(
                method,
                f"{self.issuer}{path}",
                json=body,
                headers={"Authorization": f"Bearer {self._admin_token}"},
            )
        return oauth_json(response)


@contextlib.contextmanager
def start_oidc_server(workdir: Path, settings: OidcSettings | None = None) -> Iterator[OidcServer]:
    """Start one server (state and logs in `workdir`) and stop it on exit."""
    settings = settings or OidcSettings()
    admin_token = secrets.token_urlsafe(32)
    process: subprocess.Popen[bytes]
    process, issuer, metadata = start_process(settings.to_json(admin_token=admin_token), workdir)
    try:
        yield OidcServer(issuer=issuer, metadata=metadata, settings=settings, admin_token=admin_token)
    finally:
        stop_process(process)


__all__ = [
    "CONFIDENTIAL_CLIENT",
    "INTROSPECTION_CLIENT",
    "PUBLIC_CLIENT",
    "SERVICE_CLIENT",
    "AuthorizationResponse",
    "AuthorizationServerError",
    "KeyState",
    "OidcServer",
    "pkce_pair",
    "start_oidc_server",
]


class MemoryStorage:
    """Token and client storage for the mcp SDK's OAuthClientProvider, in memory."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
