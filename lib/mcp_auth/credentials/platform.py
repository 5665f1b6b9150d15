"""The platform's credential API: ``GET {base}/api/credentials/{userId}/{provider}``.

One request per call, authenticated with the platform service token; the
caller's bearer token is added as ``X-User-Authorization`` only when the
deployment forwards it. 5xx answers, 429, timeouts and connection failures are
retried with exponential backoff and jitter until ``deadline`` seconds have
passed in total; every other answer is final. See docs/credentials.md.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from mcp_auth.credentials.model import Credential, NotConnected
from mcp_auth.errors import CredentialUnavailable
from mcp_auth.http import http_client

logger = logging.getLogger("mcp_auth.credentials")

TokenSource = Callable[[], Awaitable[str]]
MAX_RESPONSE_BYTES = 64 * 1024


class _Retryable(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PlatformClient:
    """Asks the platform for one user's credential for one provider."""

    def __init__(
        self,
        *,
        base_url: str,
        service_token: TokenSource,
        deadline: float = 8.0,
        attempt_timeout: float = 5.0,
        max_attempts: int = 4,
        client: Callable[[], httpx.AsyncClient] = http_client,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url[:100]!r}")
        if not 0 < attempt_timeout <= deadline:
            raise ValueError("attempt_timeout must be positive and at most deadline")
        self._base = base_url.rstrip("/")
        self._service_token = service_token
        self._deadline = deadline
        self._attempt_timeout = attempt_timeout
        self._max_attempts = max_attempts
        self._client = client

    def __repr__(self) -> str:
        return f"PlatformClient(base_url={self._base!r}, deadline={self._deadline})"

    async def fetch(self, user_id: str, provider: str, *, user_token: str | None = None) -> Credential | NotConnected:
        url = f"{self._base}/api/credentials/{quote(user_id, safe='')}/{quote(provider, safe='')}"
        started = time.monotonic()
        retrying = AsyncRetrying(
            stop=stop_before_delay(self._deadline) | stop_after_attempt(self._max_attempts),
            wait=wait_random_exponential(multiplier=0.1, max=1.0),
            retry=retry_if_exception_type(_Retryable),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    remaining = self._deadline - (time.monotonic() - started)
                    if remaining <= 0:
                        raise _Retryable("deadline exceeded")
                    return await self._once(url, user_id, provider, user_token, min(self._attempt_timeout, remaining))
        except _Retryable as exc:
            n = retrying.statistics.get("attempt_number", 1)
            logger.warning(
                "Platform credential API failed for provider %s after %d attempt(s): %s", provider, n, exc.reason
            )
            raise CredentialUnavailable(
                f"The platform could not provide your {provider} credential right now ({exc.reason}); "
                "try again in a moment."
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, url: str, user_id: str, provider: str, user_token: str | None, seconds: float
    ) -> Credential | NotConnected:
        headers = {"Authorization": f"Bearer {await self._service_token()}", "Accept": "application/json"}
        if user_token:
            headers["X-User-Authorization"] = f"Bearer {user_token}"
        try:
            response = await self._client().get(url, headers=headers, timeout=seconds)
        except httpx.TimeoutException:
            raise _Retryable("timed out") from None
        except httpx.TransportError as exc:
            raise _Retryable(f"connection failed: {type(exc).__name__}") from None
        status = response.status_code
        if status == 404:
            return NotConnected(connect_url=_connect_url(_json(response)))
        if status >= 500 or status == 429:
            raise _Retryable(f"HTTP {status}")
        if status in (401, 403):
            logger.error(
                "The platform refused the service token (HTTP %d): check MCP_AUTH_PLATFORM_TOKEN_SECRET", status
            )
            raise CredentialUnavailable(
                "This server is not authorised to read credentials from the platform; tell an administrator."
            )
        if status != 200:
            raise CredentialUnavailable(f"The platform answered HTTP {status} for your {provider} credential.")
        return _credential(user_id, provider, _json(response))


def _json(response: httpx.Response) -> Any:
    if len(response.content) > MAX_RESPONSE_BYTES:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _connect_url(body: Any) -> str | None:
    url = body.get("connect_url") if isinstance(body, dict) else None
    if isinstance(url, str) and len(url) <= 2048 and urlsplit(url).scheme in ("https", "http"):
        return url
    return None


def _credential(user_id: str, provider: str, body: Any) -> Credential:
    def bad(what: str) -> CredentialUnavailable:
        logger.error("The platform's credential response for provider %s is malformed: %s", provider, what)
        return CredentialUnavailable(f"The platform returned an unusable {provider} credential; tell an administrator.")

    if not isinstance(body, dict):
        raise bad("not a JSON object")
    token = body.get("access_token")
    if not isinstance(token, str) or not token or len(token) > 8192 or not token.isprintable():
        raise bad("access_token missing or not a printable string")
    token_type = body.get("token_type", "bearer")
    if not isinstance(token_type, str):
        raise bad("token_type is not a string")
    scopes = body.get("scopes", [])
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad("scopes is not a list of strings")
    try:
        expires_at = _expiry(body.get("expires_at"))
    except ValueError:
        raise bad("expires_at is neither epoch seconds nor an RFC 3339 time") from None
    return Credential(
        user_id=user_id,
        provider=provider,
        access_token=token,
        token_type=token_type.lower(),
        expires_at=expires_at,
        scopes=tuple(scopes),
    )


def _expiry(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(value)
        return float(value)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(value)
        return parsed.timestamp()
    raise ValueError(value)
