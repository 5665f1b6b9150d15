"""The per-user token vault: ``users/{uid}/connections/{provider}``, tokens sealed at rest.

    {sealed: "v1.<key id>.<nonce>.<ciphertext>",   the access and refresh tokens, AES-GCM (sealing.py)
     key_id, provider, scopes, token_type, expires_at, refresh_expires_at, has_refresh,
     connected_at, updated_at, lease_until}

``credential(uid, provider)`` reads the document (one read by key), opens the tokens, and refreshes
them first when the access token expires within ``refresh_margin`` seconds. A refresh is single-flight
per (user, provider): on this instance concurrent callers share one, and across instances a lease
(``lease_until``, taken with an update-time precondition) lets one instance call the provider while
the others wait and reread, so a provider that rotates refresh tokens never sees one used twice.
A refresh the provider refuses (``invalid_grant``) removes the connection: the user connects again.
An access token the provider rejected (``forget``) is renewed at its next use on this instance, or at once
with ``settle`` (which a tool call awaits before answering, ``connect.py``), so that every instance sees
the new token, or no connection, in Firestore.
``disconnect`` revokes at the provider (where it has a revocation endpoint), then deletes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mcp_auth.connections.oauth2 import GrantRejected, ProviderClient, Tokens
from mcp_auth.connections.sealing import Sealer, Unsealable
from mcp_auth.credentials.model import Credential, validate_provider
from mcp_auth.errors import CredentialUnavailable, McpAuthError
from mcp_auth.store.connections import UserConnections
from mcp_auth.store.users import validate_uid

if TYPE_CHECKING:
    from mcp_auth.store.firestore import ClientFactory

logger = logging.getLogger("mcp_auth.connections")


@dataclass(frozen=True, slots=True)
class Connection:
    """What may be shown about a connection: never a token."""

    provider: str
    scopes: tuple[str, ...]
    expires_at: float | None
    has_refresh: bool
    connected_at: datetime | None
    updated_at: datetime | None
    key_id: str


class TokenVault:
    """Stores, refreshes, lists and removes users' downstream tokens."""

    def __init__(
        self,
        *,
        providers: Mapping[str, ProviderClient],
        sealer: Sealer,
        db: ClientFactory,
        refresh_margin: float = 60.0,
        lease: float = 15.0,
        wait: float = 0.2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._providers = dict(providers)
        self._sealer = sealer
        self._db = db
        self._margin = refresh_margin
        self._lease = lease
        self._wait = wait
        self._clock = clock
        self._inflight: dict[tuple[str, str], asyncio.Future[Credential | None]] = {}
        self._rejected: dict[tuple[str, str], str] = {}

    def __repr__(self) -> str:
        return f"TokenVault(providers={sorted(self._providers)})"

    @property
    def providers(self) -> Mapping[str, ProviderClient]:
        return self._providers

    def _store(self, uid: str) -> UserConnections:
        return UserConnections(self._db, uid)

    # -- reading ------------------------------------------------------------------------

    async def credential(self, uid: str, provider: str) -> Credential | None:
        """The user's usable credential, refreshed if it is about to expire; None when not connected."""
        key = (validate_uid(uid), validate_provider(provider))
        stored = await self._store(key[0]).get(key[1])
        if stored is None:
            return None
        data = stored.data
        if self._usable(data) and not await self._was_rejected(key, data):
            return await self._open(key, data)
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(self._renew(key))
            self._inflight[key] = future
            future.add_done_callback(lambda f: self._landed(key, f))
        return await asyncio.shield(future)

    async def connections(self, uid: str) -> list[Connection]:
        return [_connection(s.id, s.data) for s in await self._store(uid).connections(limit=100)]

    def forget(self, uid: str, provider: str, access_token: str | None = None) -> None:
        """The provider refused ``access_token``: the next use refreshes it, or, without a refresh token, forgets it."""
        if access_token:
            self._rejected[(uid, provider)] = _digest(access_token)
            while len(self._rejected) > 10_000:
                self._rejected.pop(next(iter(self._rejected)))

    async def settle(self, uid: str, provider: str) -> None:
        """After ``forget``: refresh the rejected token now, or remove the connection if the provider refuses the
        refresh too (or there is no refresh token). Never raises: a failure leaves it to the next use."""
        try:
            await self.credential(uid, provider)
        except McpAuthError as exc:
            logger.warning("A rejected %s token could not be renewed now (%s); its next use tries again", provider, exc)
        except Exception as exc:  # a task nobody else reads: its failure is logged here, never lost
            logger.error("Renewing a rejected %s token failed: %s", provider, type(exc).__name__)

    # -- writing ------------------------------------------------------------------------

    async def store(self, uid: str, provider: str, tokens: Tokens) -> None:
        """Seal and save what the provider issued (a new connection, or a reconnection that replaces one)."""
        key = (validate_uid(uid), validate_provider(provider))
        now = datetime.now(UTC)
        fields = await self._fields(key, tokens)
        await self._store(key[0]).put(key[1], {**fields, "provider": provider, "connected_at": now})
        self._rejected.pop(key, None)

    async def disconnect(self, uid: str, provider: str) -> bool:
        """Revoke at the provider where it can be, then delete; False if there was no connection."""
        key = (validate_uid(uid), validate_provider(provider))
        store = self._store(key[0])
        stored = await store.get(key[1])
        if stored is None:
            return False
        client = self._providers.get(provider)
        if client is not None:
            try:
                access, refresh = _tokens(await self._sealer.open(stored.data["sealed"], context=_context(key)))
            except (Unsealable, KeyError, ValueError):
                logger.warning("The stored %s tokens could not be opened for revocation; deleting them", provider)
            else:
                if refresh and client.provider.type != "github":
                    await client.revoke(refresh, hint="refresh_token")
                await client.revoke(access)
        await store.delete(key[1])
        self._rejected.pop(key, None)
        return True

    # -- inside -------------------------------------------------------------------------

    def _usable(self, data: Mapping[str, Any]) -> bool:
        expires = data.get("expires_at")
        return expires is None or float(expires) - self._margin > self._clock()

    async def _was_rejected(self, key: tuple[str, str], data: Mapping[str, Any]) -> bool:
        rejected = self._rejected.get(key)
        if rejected is None:
            return False
        access, _ = _tokens(await self._sealer.open(data["sealed"], context=_context(key)))
        return _digest(access) == rejected

    async def _open(self, key: tuple[str, str], data: Mapping[str, Any]) -> Credential:
        try:
            access, _ = _tokens(await self._sealer.open(data["sealed"], context=_context(key)))
        except (Unsealable, KeyError, ValueError):
            logger.error("The stored %s tokens of a user could not be opened (key retired or data altered)", key[1])
            raise CredentialUnavailable(
                f"Your {self._label(key[1])} connection cannot be read; disconnect and connect it again."
            ) from None
        return Credential(
            user_id=key[0],
            provider=key[1],
            access_token=access,
            token_type=str(data.get("token_type") or "bearer"),
            expires_at=data.get("expires_at"),
            scopes=tuple(data.get("scopes") or ()),
        )

    async def _renew(self, key: tuple[str, str]) -> Credential | None:
        """Refresh under the cross-instance lease; whoever loses the lease waits and rereads."""
        store = self._store(key[0])
        deadline = self._clock() + self._lease * 2
        while True:
            stored = await store.get(key[1])
            if stored is None:
                return None
            data = stored.data
            if self._usable(data) and not await self._was_rejected(key, data):
                return await self._open(key, data)
            if float(data.get("lease_until") or 0) > self._clock():
                if self._clock() > deadline:
                    raise CredentialUnavailable(f"Your {self._label(key[1])} token is being renewed; try again.")
                await asyncio.sleep(self._wait)
                continue
            if not await store.take_lease(key[1], self._clock() + self._lease, read=stored):
                continue  # another instance took the lease (or the user disconnected): read again
            return await self._refresh(key, store, data)

    async def _refresh(
        self, key: tuple[str, str], store: UserConnections, data: Mapping[str, Any]
    ) -> Credential | None:
        client = self._providers.get(key[1])
        _, refresh = _tokens(await self._sealer.open(data["sealed"], context=_context(key)))
        if client is None or not refresh:
            await self._drop(store, key, "it cannot be used and has no refresh token")
            return None
        try:
            tokens = await client.refresh(refresh)
        except GrantRejected:
            await self._drop(store, key, "the provider refused its refresh token")
            return None
        except BaseException:
            await store.update(key[1], {}, release_lease=True)
            raise
        if tokens.refresh_token is None:  # the provider keeps the refresh token it issued before
            tokens = Tokens(**{**_fields_of(tokens), "refresh_token": refresh})
        fields = await self._fields(key, tokens)
        await store.update(key[1], fields, release_lease=True)
        self._rejected.pop(key, None)
        return await self._open(key, fields)

    async def _drop(self, store: UserConnections, key: tuple[str, str], why: str) -> None:
        logger.info("A user's %s connection was removed: %s", key[1], why)
        await store.delete(key[1])
        self._rejected.pop(key, None)

    async def _fields(self, key: tuple[str, str], tokens: Tokens) -> dict[str, Any]:
        plaintext = json.dumps({"access_token": tokens.access_token, "refresh_token": tokens.refresh_token}).encode()
        return {
            "sealed": await self._sealer.seal(plaintext, context=_context(key)),
            "key_id": await self._sealer.key_id(),
            "scopes": list(tokens.scopes),
            "token_type": tokens.token_type,
            "expires_at": tokens.expires_at,
            "refresh_expires_at": tokens.refresh_expires_at,
            "has_refresh": tokens.refresh_token is not None,
            "updated_at": datetime.now(UTC),
        }

    def _label(self, provider: str) -> str:
        client = self._providers.get(provider)
        return client.provider.label if client else provider

    def _landed(self, key: tuple[str, str], future: asyncio.Future[Credential | None]) -> None:
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.cancelled():
            future.exception()


def _context(key: tuple[str, str]) -> str:
    return f"users/{key[0]}/connections/{key[1]}"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _tokens(plaintext: bytes) -> tuple[str, str | None]:
    data = json.loads(plaintext)
    return data["access_token"], data.get("refresh_token")


def _fields_of(tokens: Tokens) -> dict[str, Any]:
    return {name: getattr(tokens, name) for name in Tokens.__slots__}


def _connection(provider: str, data: Mapping[str, Any]) -> Connection:
    return Connection(
        provider=provider,
        scopes=tuple(data.get("scopes") or ()),
        expires_at=data.get("expires_at"),
        has_refresh=bool(data.get("has_refresh")),
        connected_at=data.get("connected_at"),
        updated_at=data.get("updated_at"),
        key_id=str(data.get("key_id") or ""),
    )
