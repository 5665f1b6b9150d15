"""An asynchronous JWKS cache: the issuer's public signing keys, fetched and kept.

Unlike PyJWT's ``PyJWKClient`` (blocking urllib, one fetch per unknown ``kid``,
keys dropped when a fetch fails), this cache

* fetches with one ``httpx.AsyncClient`` and a bounded total deadline, so a
  slow key server never hangs a request;
* keeps a key set for ``ttl`` seconds, then refreshes it;
* refreshes early on an unknown ``kid`` at most once per ``refresh_cooldown``
  (a flood of made-up ``kid`` values costs one fetch per cooldown);
* keeps the last good key set while the issuer is down (up to ``max_stale``);
* lets concurrent refreshes share one fetch.

A ``kid`` is only ever a dictionary key here: it never builds a URL or a path.
Symmetric (``oct``) keys and encryption keys are dropped on load, so a key set
can never turn a public key into an HMAC secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from ipaddress import ip_address
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcp_auth.errors import ConfigError, InvalidToken, JwksUnavailable

if TYPE_CHECKING:
    import httpx
    from jwt import PyJWK

logger = logging.getLogger(__name__)

#: The asymmetric algorithms each key type can verify. An algorithm outside a
#: key's family is never tried with that key (this is what makes RS/HS or
#: ES256/ES384 confusion impossible).
_RSA = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
_EC_BY_CURVE: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "P-256": frozenset({"ES256"}),
        "P-384": frozenset({"ES384"}),
        "P-521": frozenset({"ES512"}),
    }
)
_OKP_BY_CURVE: Mapping[str, frozenset[str]] = MappingProxyType({"Ed25519": frozenset({"EdDSA"})})

ASYMMETRIC_ALGORITHMS: frozenset[str] = _RSA | frozenset().union(*_EC_BY_CURVE.values(), *_OKP_BY_CURVE.values())

_MAX_JWKS_BYTES = 256 * 1024


def key_algorithms(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The algorithms a JWK may verify: its family, narrowed to its ``alg`` if it names one."""
    kty = jwk.get("kty")
    if kty == "RSA":
        family = _RSA
    elif kty == "EC":
        family = _EC_BY_CURVE.get(jwk.get("crv"), frozenset())  # type: ignore[arg-type]
    elif kty == "OKP":
        family = _OKP_BY_CURVE.get(jwk.get("crv"), frozenset())  # type: ignore[arg-type]
    else:  # "oct" and anything unknown: never a verification key from a public set
        return frozenset()
    declared = jwk.get("alg")
    if declared is None:
        return family
    return family & {declared} if isinstance(declared, str) else frozenset()


class SigningKey:
    """One usable public key from a key set: its id, parsed key and allowed algorithms."""

    __slots__ = ("algorithms", "jwk", "kid")

    def __init__(self, kid: str | None, jwk: PyJWK, algorithms: frozenset[str]) -> None:
        self.kid = kid
        self.jwk = jwk
        self.algorithms = algorithms

    @property
    def key(self) -> Any:
        """The ``cryptography`` public key object."""
        return self.jwk.key


def parse_key_set(document: Any) -> dict[str | None, tuple[SigningKey, ...]]:
    """Turn a JWKS document into usable signing keys by ``kid``.

    Keys that cannot verify signatures (``oct``, ``use: enc``, unknown types or
    curves, unparsable members) are skipped; raises ``ValueError`` if none is left.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("the document is not a JWK set (no 'keys' list)")
    from jwt import PyJWK  # here, not at import: PyJWT and cryptography load when a key set is first read
    from jwt.exceptions import PyJWTError

    by_kid: dict[str | None, list[SigningKey]] = {}
    for member in document["keys"]:
        if not isinstance(member, dict) or member.get("use", "sig") != "sig":
            continue
        algorithms = key_algorithms(member)
        kid = member.get("kid")
        if not algorithms or (kid is not None and not isinstance(kid, str)):
            continue
        try:
            jwk = PyJWK.from_dict(member, algorithm=min(algorithms))
        except (PyJWTError, ValueError, TypeError):
            continue
        by_kid.setdefault(kid, []).append(SigningKey(kid, jwk, algorithms))
    if not by_kid:
        raise ValueError("the JWK set has no usable signing keys")
    return {kid: tuple(keys) for kid, keys in by_kid.items()}


def https_url(url: str, setting: str) -> str:
    """``url`` if absolute https (plain http on loopback only), else ``ConfigError`` naming ``setting``."""
    parts = urlsplit(url) if isinstance(url, str) else urlsplit("")
    if not parts.hostname or parts.scheme not in ("https", "http"):
        raise ConfigError(f"{setting} must be an absolute https URL, got {url!r}.")
    if parts.scheme == "http":
        try:
            loopback = ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            raise ConfigError(f"{setting} must use https (plain http only on loopback), got {url!r}.")
    return url


def default_timeout(total: float) -> httpx.Timeout:
    """Explicit httpx timeouts, each bounded by ``total``."""
    import httpx  # here, not at import: a deployment verifying HS256 tokens never fetches a key set

    return httpx.Timeout(total, connect=min(total, 2.0), pool=min(total, 2.0))


class JwksCache:
    """Public signing keys of one issuer, fetched from its JWKS URL and cached.

    ``client`` is the process's shared ``httpx.AsyncClient``; without one the
    cache makes its own (closed by ``aclose``). ``clock`` is a monotonic clock.

    Raises ``ConfigError`` for a non-https URL (http is allowed on loopback) or
    out-of-range settings. ``signing_keys`` raises ``JwksUnavailable`` when no
    usable key set can be had and ``InvalidToken`` for an unknown ``kid``.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        ttl: float = 300.0,
        refresh_cooldown: float = 30.0,
        fetch_timeout: float = 3.0,
        max_stale: float = 86_400.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = https_url(url, "The JWKS URL")
        for setting, value, low, high in (
            ("ttl", ttl, 1.0, 86_400.0),
            ("refresh_cooldown", refresh_cooldown, 0.0, 3_600.0),
            ("fetch_timeout", fetch_timeout, 0.01, 30.0),
            ("max_stale", max_stale, 0.0, 30 * 86_400.0),
        ):
            if not (isinstance(value, int | float) and low <= value <= high):
                raise ConfigError(f"JwksCache {setting} must be between {low:g} and {high:g} seconds, got {value!r}.")
        self._own_client = client is None
        if client is None:
            import httpx  # here, not at import (``default_timeout``)

            from mcp_auth.http import Transport

            client = httpx.AsyncClient(
                timeout=default_timeout(fetch_timeout), follow_redirects=False, transport=Transport()
            )
        self._client = client
        self._ttl = ttl
        self._cooldown = refresh_cooldown
        self._fetch_timeout = fetch_timeout
        self._timeout = default_timeout(fetch_timeout)
        self._max_stale = max_stale
        self._clock = clock
        self._keys: dict[str | None, tuple[SigningKey, ...]] | None = None
        self._fetched_at = -math.inf  # last good fetch
        self._attempted_at = -math.inf  # last fetch attempt, good or not
        self._inflight: asyncio.Task[None] | None = None
        self._last_fetch_ok = False

    async def signing_keys(self, kid: str | None) -> tuple[SigningKey, ...]:
        """The keys with this ``kid`` (all keys when ``kid`` is None)."""
        now = self._clock()
        if self._keys is None or now - self._fetched_at >= self._ttl:
            if now - self._attempted_at >= self._cooldown or self._inflight is not None:
                await self._refresh()
            keys = self._usable_keys()
        else:
            keys = self._keys
        if kid is None:
            return tuple(k for group in keys.values() for k in group)
        found = keys.get(kid)
        if found is None and (self._inflight is not None or self._clock() - self._attempted_at >= self._cooldown):
            await self._refresh()
            found = self._usable_keys().get(kid)
        if found is None:
            if not self._last_fetch_ok:  # the issuer may have a new key we could not fetch
                raise JwksUnavailable("The issuer's signing keys (JWKS) could not be refreshed: retry soon.")
            raise InvalidToken("The token was signed with a key this server does not know (unknown 'kid').")
        return found

    async def refresh(self) -> None:
        """Fetch the key set now (sharing a fetch already under way); never raises."""
        await self._refresh()

    async def aclose(self) -> None:
        if self._inflight is not None:
            self._inflight.cancel()
        if self._own_client:
            await self._client.aclose()

    async def __aenter__(self) -> JwksCache:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def _usable_keys(self) -> dict[str | None, tuple[SigningKey, ...]]:
        if self._keys is None:
            raise JwksUnavailable("The issuer's signing keys (JWKS) could not be fetched: retry shortly.")
        if self._clock() - self._fetched_at >= self._ttl + self._max_stale:
            raise JwksUnavailable("The issuer's signing keys (JWKS) are out of date and cannot be refetched.")
        return self._keys

    async def _refresh(self) -> None:
        if self._inflight is None:
            self._attempted_at = self._clock()
            self._inflight = asyncio.ensure_future(self._fetch())
            self._inflight.add_done_callback(self._finished)
        await asyncio.shield(self._inflight)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if self._inflight is task:
            self._inflight = None

    async def _fetch(self) -> None:
        """One bounded fetch; on success replaces the key set, on failure keeps it."""
        try:
            async with asyncio.timeout(self._fetch_timeout):
                keys = await self._download()
        except Exception as error:  # any failure keeps the old keys; a fetch never fails a request itself
            self._last_fetch_ok = False
            if isinstance(error, TimeoutError):
                reason = "timed out"
            elif isinstance(error, ValueError):
                reason = str(error)
            else:
                reason = type(error).__name__
            logger.warning(
                "JWKS fetch failed (%s); %s",
                reason,
                "keeping the previous key set" if self._keys is not None else "no key set yet",
            )
            return
        self._keys = keys
        self._fetched_at = self._clock()
        self._last_fetch_ok = True

    async def _download(self) -> dict[str | None, tuple[SigningKey, ...]]:
        async with self._client.stream(
            "GET", self.url, headers={"Accept": "application/json"}, timeout=self._timeout
        ) as response:
            if response.status_code != 200:
                raise ValueError(f"HTTP {response.status_code} from the JWKS URL")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    raise ValueError(f"the JWKS document is larger than {_MAX_JWKS_BYTES} bytes")
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise ValueError("the JWKS document is not JSON") from None
        return parse_key_set(document)
