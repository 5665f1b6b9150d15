"""Opaque OAuth access tokens, verified by RFC 7662 token introspection.

Each verification is one POST to the authorization server's introspection
endpoint, authenticated with this server's client credentials (HTTP Basic, as
RFC 6749 §2.3.1 describes). Put a ``CachedProvider`` in front: a revoked token
then stays accepted for at most the cache TTL.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import quote_plus

import httpx

from mcp_auth.auth.base import Credentials
from mcp_auth.auth.jwks import default_timeout, https_url
from mcp_auth.auth.jwt import API_KEY_PREFIX, MAX_TOKEN_BYTES, client_id_from_claims, scopes_from_claims
from mcp_auth.errors import (
    ConfigError,
    ExpiredToken,
    InvalidToken,
    MissingToken,
    UpstreamError,
    WrongAudience,
)
from mcp_auth.http import Transport
from mcp_auth.principal import Principal

logger = logging.getLogger(__name__)

_MAX_RESPONSE_BYTES = 64 * 1024
_UNREACHABLE = "The authorization server's token introspection failed ({}): retry shortly."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class SecretSource(Protocol):
    """Where the client secret comes from (the secret store, which caches and rotates it)."""

    async def get(self) -> str: ...


class _Fixed:
    def __init__(self, value: str) -> None:
        self._value = value

    async def get(self) -> str:
        return self._value


class IntrospectionProvider:
    """Verifies opaque bearer tokens with the authorization server (RFC 7662).

    Keyword-only settings: ``endpoint`` (https; http only on loopback),
    ``client_id`` and ``client_secret`` (this server's credentials at the
    authorization server), ``audience`` (required; the response's ``aud`` must
    contain one of its values), ``issuer`` (optional; checked against ``iss``
    when given), ``user_id_claim`` (``sub`` by default; ``username`` for servers
    that only send that), ``timeout`` (total seconds per call, default 3),
    ``leeway`` (0-60 s on ``exp``/``nbf``), ``client`` (the shared
    ``httpx.AsyncClient``; one is made and closed by ``aclose`` otherwise).

    The constructor raises ``ConfigError`` naming the bad setting.
    ``authenticate`` raises ``MissingToken``; ``InvalidToken`` (inactive,
    oversized, missing subject, wrong issuer); ``ExpiredToken``;
    ``WrongAudience``; or ``UpstreamError`` (503) when the endpoint is down,
    slow, answers with an error or refuses our client credentials.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        client_id: str,
        client_secret: str | SecretSource,
        audience: str | Sequence[str] | None,
        issuer: str | None = None,
        user_id_claim: str = "sub",
        timeout: float = 3.0,
        leeway: float = 30.0,
        client: httpx.AsyncClient | None = None,
        name: str = "oauth",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._endpoint = https_url(endpoint, "IntrospectionProvider endpoint")
        if not isinstance(client_id, str) or not client_id:
            raise ConfigError("IntrospectionProvider needs client_id: this server's client id at the issuer.")
        if isinstance(client_secret, str):
            if not client_secret:
                raise ConfigError("IntrospectionProvider needs client_secret: this server's client secret.")
            self._secret: SecretSource = _Fixed(client_secret)
        elif callable(getattr(client_secret, "get", None)):
            self._secret = client_secret
        else:
            raise ConfigError("IntrospectionProvider needs client_secret: a string or an object with async get().")
        self._client_id = client_id
        values = (audience,) if isinstance(audience, str) else tuple(audience or ())
        if not values or not all(isinstance(v, str) and v for v in values):
            raise ConfigError("IntrospectionProvider needs audience: the canonical URL of this server.")
        self._audience = frozenset(values)
        if issuer is not None and (not isinstance(issuer, str) or not issuer):
            raise ConfigError("IntrospectionProvider issuer, when given, must be the issuer's URL.")
        self._issuer = issuer
        if not isinstance(user_id_claim, str) or not user_id_claim:
            raise ConfigError("IntrospectionProvider user_id_claim must name a claim, e.g. 'sub'.")
        self._user_id_claim = user_id_claim
        if not _is_number(timeout) or not 0.01 <= timeout <= 30:
            raise ConfigError(f"IntrospectionProvider timeout must be between 0.01 and 30 seconds, got {timeout!r}.")
        self._timeout = float(timeout)
        if not _is_number(leeway) or not 0 <= leeway <= 60:
            raise ConfigError(f"IntrospectionProvider leeway must be between 0 and 60 seconds, got {leeway!r}.")
        self._leeway = float(leeway)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=default_timeout(timeout), follow_redirects=False, transport=Transport()
        )
        self._http_timeout = default_timeout(timeout)
        self._clock = clock
        self.name = name

    def __repr__(self) -> str:  # never show the secret
        return f"IntrospectionProvider(endpoint={self._endpoint!r}, client_secret=<set>)"

    def accepts(self, credentials: Credentials) -> bool:
        """Any bearer token that is not an API key."""
        return credentials.bearer is not None and not credentials.bearer.startswith(API_KEY_PREFIX)

    async def authenticate(self, credentials: Credentials) -> Principal:
        token = credentials.bearer
        if token is None:
            raise MissingToken()
        if not token or len(token) > MAX_TOKEN_BYTES or not token.isascii():
            raise InvalidToken(f"The token is empty, larger than {MAX_TOKEN_BYTES} bytes or not ASCII.")
        response = await self._introspect(token)
        return self._principal(response)

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> IntrospectionProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _introspect(self, token: str) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self._timeout):
                status, body = await self._post(token)
        except TimeoutError:
            logger.warning("token introspection timed out after %.1fs", self._timeout)
            raise UpstreamError(_UNREACHABLE.format("timed out")) from None
        except httpx.HTTPError as error:
            logger.warning("token introspection failed: %s", type(error).__name__)
            raise UpstreamError(_UNREACHABLE.format("unreachable")) from None
        if status in (401, 403):
            logger.error("the introspection endpoint refused our client credentials (HTTP %d)", status)
            raise UpstreamError(_UNREACHABLE.format("this server's client credentials were refused"))
        if status != 200 or body is None:
            logger.warning("token introspection answered HTTP %d", status)
            raise UpstreamError(_UNREACHABLE.format(f"HTTP {status}"))
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            document = None
        if not isinstance(document, dict):
            raise UpstreamError(_UNREACHABLE.format("the answer is not a JSON object"))
        return document

    async def _basic_authorization(self) -> str:
        pair = f"{quote_plus(self._client_id)}:{quote_plus(await self._secret.get())}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    async def _post(self, token: str) -> tuple[int, bytes | None]:
        request = self._client.stream(
            "POST",
            self._endpoint,
            data={"token": token, "token_type_hint": "access_token"},  # nosec B105 - 'access_token' is the RFC 7662 token_type_hint value
            headers={"Authorization": await self._basic_authorization(), "Accept": "application/json"},
            timeout=self._http_timeout,
        )
        async with request as response:
            if response.status_code != 200:
                return response.status_code, None
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_RESPONSE_BYTES:
                    return 502, None
        return 200, bytes(body)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        if claims.get("active") is not True:
            raise InvalidToken("The token is not active (revoked, expired or unknown): obtain a new one.")
        now = self._clock()
        exp = claims.get("exp")
        nbf = claims.get("nbf")
        if (exp is not None and not _is_number(exp)) or (nbf is not None and not _is_number(nbf)):
            raise InvalidToken("The introspection answer has a malformed 'exp' or 'nbf'.")
        if exp is not None and exp <= now - self._leeway:
            raise ExpiredToken()
        if nbf is not None and nbf > now + self._leeway:
            raise InvalidToken("The token is not valid yet ('nbf' in the future).")
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise InvalidToken("The token was issued by an issuer this server does not trust ('iss').")
        aud = claims.get("aud")
        audiences = {aud} if isinstance(aud, str) else set()
        if isinstance(aud, list):
            audiences = {item for item in aud if isinstance(item, str)}
        if not audiences:
            raise WrongAudience("The token has no audience ('aud'): it must name this server.")
        if not audiences & self._audience:
            raise WrongAudience()
        user_id = claims.get(self._user_id_claim)
        if not isinstance(user_id, str) or not user_id:
            raise InvalidToken(f"The token has no subject: its '{self._user_id_claim}' is missing or empty.")
        return Principal(
            user_id=user_id,
            auth_method="oauth",
            scopes=scopes_from_claims(claims),
            client_id=client_id_from_claims(claims),
            claims=claims,
            expires_at=float(exp) if exp is not None else None,
        )
