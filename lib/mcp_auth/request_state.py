"""The ``requestState`` of multi-round-trip requests, sealed with a key every instance shares.

A 2026-07-28 tool (or prompt, or resource) may answer ``input_required``: questions for
the client plus an opaque ``requestState`` the client echoes on its retry. The MCP SDK
seals that state (AES-256-GCM, ``mcp.server.request_state``), but under a key each
``MCPServer`` draws at random, so a retry that lands on another instance - or on the same
instance after its server was rebuilt - is refused. This module replaces that key with
one read from Secret Manager and binds every sealed state to:

    principal   the caller's user id (``current_user()``): state minted for one user is
                refused for another, whatever credential either presents
    audience    the deployment's resource URL, the same on every instance

``MCP_AUTH_REQUEST_STATE_KEY_SECRET`` names the secret. Its newest enabled versions
(up to ``KEY_VERSIONS``) form the key ring: the newest seals, every one unseals. A
version this instance first sees after it started seals only once one refresh interval
has passed, so every instance already accepts it (rotation without refused retries).
Without the setting an instance keeps one random key for its lifetime (state survives
server rebuilds on that instance only) and says so at start-up: a warning on Cloud Run, a
debug line elsewhere (a local run is one instance, and its console is for a person).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from mcp.server.request_state import (
    AESGCMRequestStateCodec,
    InvalidRequestState,
    RequestStateBoundary,
    RequestStateSecurity,
)

from mcp_auth.context import current_user
from mcp_auth.errors import ConfigError, SecretUnavailable

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from mcp_auth.config import Settings
    from mcp_auth.secrets import SecretStore

__all__ = ["KeyRing", "RequestState", "build_request_state"]

logger = logging.getLogger("mcp_auth.request_state")

SETTING = "MCP_AUTH_REQUEST_STATE_KEY_SECRET"
KEY_VERSIONS = 3
MIN_KEY_BYTES = 32
#: Seconds a sealed state stays valid (the SDK's default): a user has this long to answer.
STATE_TTL = 600.0


def _principal(ctx: Any) -> str:
    """The user the state belongs to; outside an authenticated request this raises, and the SDK refuses."""
    return current_user().user_id


class KeyRing:
    """The shared keys, as the SDK's synchronous codec; ``refresh()`` rereads them from Secret Manager."""

    def __init__(
        self,
        store: SecretStore,
        secret: str,
        *,
        refresh_interval: float,
        count: int = KEY_VERSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store, self._secret, self._count = store, secret, count
        self._refresh_interval = float(refresh_interval)
        self._clock = clock
        self._codec: AESGCMRequestStateCodec | None = None
        self._keys: tuple[bytes, ...] = ()
        self._first_seen: dict[bytes, float] = {}
        self._next_check = 0.0
        self._sealing: bytes | None = None

    @property
    def secret(self) -> str:
        return self._secret

    async def load(self) -> None:
        """Read the ring now; raises ``ConfigError``/``SecretUnavailable`` naming the secret."""
        keys = tuple(await self._store.versions(self._secret, count=self._count))
        for number, key in enumerate(keys):
            if len(key) < MIN_KEY_BYTES:
                which = "newest" if number == 0 else f"{number + 1}th newest"
                raise ConfigError(
                    f"The {which} enabled version of secret '{self._secret}' ({SETTING}) is {len(key)} bytes; "
                    f"request-state keys need at least {MIN_KEY_BYTES} random bytes. Add a new version, e.g. "
                    f"`openssl rand -base64 48 | gcloud secrets versions add {self._secret} --data-file=-`."
                )
        now = self._clock()
        started = not self._first_seen
        for key in keys:
            # Keys read at start-up are in use elsewhere already; later ones wait one refresh interval.
            self._first_seen.setdefault(key, -float("inf") if started else now)
        self._first_seen = {k: self._first_seen[k] for k in keys}
        self._keys = keys
        self._next_check = now + self._refresh_interval
        self._rebuild(now)

    async def refresh(self) -> None:
        """Reread the ring when due; on failure keep the current keys and retry later."""
        now = self._clock()
        if now < self._next_check:
            if self._sealing is not None and self._sealing != self._sealer(now):
                self._rebuild(now)  # a rotated-in key finished its grace period
            return
        try:
            await self.load()
        except (SecretUnavailable, ConfigError) as exc:
            self._next_check = now + min(30.0, self._refresh_interval)
            logger.warning("Keeping the current request-state keys: rereading %s failed: %s", SETTING, exc)

    def _sealer(self, now: float) -> bytes:
        ready = [k for k in self._keys if self._first_seen[k] <= now - self._refresh_interval]
        return ready[0] if ready else self._keys[-1]

    def _rebuild(self, now: float) -> None:
        sealing = self._sealer(now)
        ordered = [sealing, *(k for k in self._keys if k != sealing)]
        self._codec = AESGCMRequestStateCodec(ordered)
        self._sealing = sealing

    # -- mcp.server.request_state.RequestStateCodec ------------------------------
    def seal(self, payload: bytes) -> str:
        if self._codec is None:
            raise InvalidRequestState("request-state keys not loaded")
        return self._codec.seal(payload)

    def unseal(self, token: str) -> bytes:
        if self._codec is None:
            raise InvalidRequestState("request-state keys not loaded")
        return self._codec.unseal(token)

    def __repr__(self) -> str:
        return f"KeyRing(secret={self._secret!r}, versions={len(self._keys)})"


class RequestState:
    """What ``ServerCache`` installs on every server it builds (see ``install``)."""

    def __init__(self, *, audience: str, ring: KeyRing | None = None, ttl: float = STATE_TTL) -> None:
        if not audience:
            raise ConfigError("The request-state audience (MCP_AUTH_RESOURCE_URL) must not be empty.")
        self.ring = ring
        self.audience = audience
        if ring is None:
            self.security = RequestStateSecurity(
                keys=[os.urandom(32)], ttl=ttl, bind_principal=_principal, audience=audience
            )
        else:
            self.security = RequestStateSecurity(codec=ring, ttl=ttl, bind_principal=_principal, audience=audience)

    @property
    def shared(self) -> bool:
        return self.ring is not None

    def install(self, server: MCPServer) -> None:
        """Replace the SDK's per-server boundary (random key, no principal) with the shared one, in place."""
        boundary = RequestStateBoundary(self.security, default_audience=self.audience)
        chain = server.middleware
        positions = [i for i, m in enumerate(chain) if isinstance(m, RequestStateBoundary)]
        for i in positions:
            chain[i] = boundary
        if not positions:
            chain.insert(0, boundary)

    async def refresh(self) -> None:
        if self.ring is not None:
            await self.ring.refresh()


def build_request_state(settings: Settings, secrets: SecretStore | None = None) -> RequestState:
    """The request-state policy ``MCP_AUTH_REQUEST_STATE_KEY_SECRET`` asks for, its keys read now.

    A missing or unusable secret stops the start with a message naming it; a bad name
    raises ``ConfigError``. ``secrets`` is reused when the app already has a store.
    """
    raw = settings.request_state_key_secret
    if not raw:
        if settings.on_cloud_run:
            logger.warning(
                "%s is not set: a multi-round-trip (input_required) retry that reaches another instance is "
                "refused. Set it to a Secret Manager secret shared by all instances (Terraform: "
                "request_state_key = true).",
                SETTING,
            )
        else:
            logger.debug(
                "%s is not set: multi-round-trip (input_required) state is sealed with a key of this instance "
                "only and will not survive on another instance or a restart.",
                SETTING,
            )
        return RequestState(audience=settings.resource_url)
    name = raw.strip()
    from mcp_auth.secrets.names import resolve

    if name != raw or not name:  # never echo the value: a misplaced key must not reach a log
        raise ConfigError(
            f"{SETTING} must be a Secret Manager secret name without surrounding spaces "
            f"(got a value of {len(raw)} characters)."
        )
    if not settings.project:
        raise ConfigError(
            f"{SETTING} is set, so reading it from Secret Manager needs a project: set GOOGLE_CLOUD_PROJECT "
            "(or run with Google credentials that name one)."
        )
    try:
        ref = resolve(name, project=settings.project)
    except ConfigError as exc:
        raise ConfigError(f"{SETTING}: {exc.message}") from None
    if "/versions/" in name:
        raise ConfigError(
            f"{SETTING} pins a version of secret '{ref.secret}': name the secret without a version; "
            f"its {KEY_VERSIONS} newest enabled versions form the key ring."
        )
    if secrets is None:
        from mcp_auth.secrets import SecretStore

        secrets = SecretStore(
            project=settings.project,
            endpoint=settings.secret_manager_endpoint,
            refresh_interval=settings.secret_refresh_seconds,
        )
    ring = KeyRing(secrets, name, refresh_interval=settings.secret_refresh_seconds)
    try:
        _run(ring.load())
    except SecretUnavailable as exc:
        raise ConfigError(
            f"Cannot start: {SETTING} names secret '{ref.secret}', whose request-state keys could not be read. "
            f"{exc.message}"
        ) from None
    logger.info("Request-state keys loaded from secret %s", ref.secret)
    return RequestState(audience=settings.resource_url, ring=ring)


def _run(coro: Any) -> None:
    """Run ``coro`` to completion in a thread of its own, inside or outside an event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()
