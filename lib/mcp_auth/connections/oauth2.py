"""This server as an OAuth 2 client of a downstream provider: code exchange, refresh, revocation.

    exchange(code, verifier, redirect_uri) -> Tokens      RFC 6749 §4.1.3 (+ RFC 7636 code_verifier)
    refresh(refresh_token)                 -> Tokens      RFC 6749 §6
    revoke(token)                                         RFC 7009, or GitHub's grant deletion

``oauth2`` providers get the client secret by HTTP Basic (RFC 6749 §2.3.1); GitHub in the body, with
``Accept: application/json`` (its token endpoint answers form-encoded otherwise, and answers errors
with a 200). Answers are read up to 64 KiB. A token or secret never reaches a log line or an error
message: only the provider, the status and the RFC 6749 error code do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from mcp_auth.bounded_json import loads
from mcp_auth.connections.providers import ConnectionProvider
from mcp_auth.errors import CredentialUnavailable
from mcp_auth.http import http_client

logger = logging.getLogger("mcp_auth.connections")

MAX_RESPONSE_BYTES = 64 * 1024
MAX_TOKEN_CHARS = 8192
ClientSecret = Callable[[], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Tokens:
    """What a token endpoint answered. Tokens never appear in a ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expires_at: float | None = None
    refresh_expires_at: float | None = None
    scopes: tuple[str, ...] = ()
    token_type: str = "bearer"  # noqa: S105 - a token type, not a token


class GrantRejected(Exception):
    """The provider refused the code or refresh token (``invalid_grant``): the user must connect again."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ProviderClient:
    """One provider's token and revocation endpoints, with this deployment's client credentials."""

    def __init__(
        self,
        provider: ConnectionProvider,
        *,
        client_secret: ClientSecret,
        client: Callable[[], httpx.AsyncClient] = http_client,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.provider = provider
        self._secret = client_secret
        self._client = client
        self._timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"ProviderClient({self.provider.name!r})"

    async def exchange(self, code: str, *, redirect_uri: str, verifier: str | None) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier:
            form["code_verifier"] = verifier
        return await self._token(form)

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def revoke(self, token: str, *, hint: str = "access_token") -> bool:
        """Ask the provider to revoke ``token`` (and, for GitHub, the whole grant); False if it could not be asked."""
        p = self.provider
        secret = await self._secret()
        try:
            if p.type == "github" and p.api_url:
                response = await self._client().request(
                    "DELETE",
                    f"{p.api_url}/applications/{p.client_id}/grant",
                    json={"access_token": token},
                    auth=(p.client_id, secret),
                    headers={"Accept": "application/vnd.github+json"},
                    timeout=self._timeout,
                )
                ok = response.status_code in (204, 404, 422)  # 404/422: already gone
            elif p.revoke_url:
                response = await self._client().post(
                    p.revoke_url,
                    data={"token": token, "token_type_hint": hint},
                    auth=(p.client_id, secret),
                    timeout=self._timeout,
                )
                ok = response.status_code == 200
            else:
                return False
        except httpx.HTTPError as exc:
            logger.warning("Revocation at %s failed: %s", p.name, type(exc).__name__)
            return False
        if not ok:
            logger.warning("Revocation at %s answered HTTP %d", p.name, response.status_code)
        return ok

    async def _token(self, form: dict[str, str]) -> Tokens:
        p = self.provider
        secret = await self._secret()
        headers = {"Accept": "application/json"}
        try:
            if p.type == "github":
                form = {**form, "client_id": p.client_id, "client_secret": secret}
                response = await self._client().post(p.token_url, data=form, headers=headers, timeout=self._timeout)
            else:
                response = await self._client().post(
                    p.token_url, data=form, headers=headers, auth=(p.client_id, secret), timeout=self._timeout
                )
        except httpx.HTTPError as exc:
            logger.warning("Token endpoint of %s failed: %s", p.name, type(exc).__name__)
            raise CredentialUnavailable(f"{p.label} could not be reached; try again in a moment.") from None
        body = _json(response)
        error = body.get("error") if isinstance(body, Mapping) else None
        if isinstance(error, str):
            logger.warning("Token endpoint of %s refused the %s grant: %s", p.name, form["grant_type"], error[:64])
            if error in ("invalid_grant", "bad_verification_code", "bad_refresh_token", "incorrect_client_credentials"):
                raise GrantRejected(error[:64])
            raise CredentialUnavailable(f"{p.label} refused to issue a token ({error[:64]}).")
        if response.status_code != 200 or not isinstance(body, Mapping):
            logger.warning("Token endpoint of %s answered HTTP %d", p.name, response.status_code)
            raise CredentialUnavailable(f"{p.label} could not issue a token right now; try again in a moment.")
        return self._tokens(body)

    def _tokens(self, body: Mapping[str, Any]) -> Tokens:
        access, refresh = body.get("access_token"), body.get("refresh_token")
        if not isinstance(access, str) or not _token_ok(access) or (refresh is not None and not _token_ok(refresh)):
            raise CredentialUnavailable(f"{self.provider.label} answered without a usable token.")
        now = self._clock()
        scope = body.get("scope")
        scopes = tuple(s for s in scope.replace(",", " ").split() if s) if isinstance(scope, str) else ()
        token_type = body.get("token_type")
        return Tokens(
            access_token=access,
            refresh_token=refresh,
            expires_at=_after(now, body.get("expires_in")),
            refresh_expires_at=_after(now, body.get("refresh_token_expires_in")),
            scopes=scopes[:64],
            token_type=token_type.lower()[:32] if isinstance(token_type, str) else "bearer",
        )


def _token_ok(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_CHARS and value.isprintable() and " " not in value


def _after(now: float, seconds: Any) -> float | None:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < 10 * 365 * 86400:
        return None
    return now + float(seconds)


def _json(response: httpx.Response) -> Any:
    content = response.content
    if len(content) > MAX_RESPONSE_BYTES:
        return None
    try:
        return loads(content)
    except ValueError:
        return None
