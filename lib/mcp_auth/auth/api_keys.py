"""API-key authentication: ``Authorization: Bearer mak_…`` or ``X-API-Key: mak_…``.

Keys are looked up by their public id and checked with a constant-time HMAC
comparison against every current pepper (so the pepper can rotate). Unknown
id and wrong secret answer alike. ``last_used_at`` is written at most once a
minute per key, off the request path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from mcp_auth.auth.base import Credentials
from mcp_auth.config import Settings
from mcp_auth.errors import ExpiredToken, InvalidToken, MissingToken
from mcp_auth.principal import Principal
from mcp_auth.store.api_keys import PREFIX, ApiKeyRepository, digest, matches, parse_key

logger = logging.getLogger("mcp_auth.api_keys")
_WRONG = "The API key is unknown or its secret is wrong: check it, or create a new one."
TOUCH_INTERVAL = 60.0


class ApiKeyProvider:
    name = "api_key"

    def __init__(
        self,
        *,
        settings: Settings,
        peppers: Callable[[], Awaitable[Sequence[bytes]]],
        repository: ApiKeyRepository | None = None,
    ) -> None:
        self._settings = settings
        self._peppers = peppers
        self._repository = repository
        self._touched: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()

    def accepts(self, credentials: Credentials) -> bool:
        return credentials.api_key is not None or (credentials.bearer or "").startswith(PREFIX)

    def _repo(self) -> ApiKeyRepository:
        if self._repository is None:
            from mcp_auth.store.firestore import firestore_client

            self._repository = ApiKeyRepository(
                firestore_client(project=self._settings.project, database=self._settings.firestore_database)
            )
        return self._repository

    async def authenticate(self, credentials: Credentials) -> Principal:
        if credentials.api_key is not None and credentials.bearer is not None:
            raise InvalidToken("Send either an Authorization header or an X-API-Key header, not both.")
        key = credentials.api_key if credentials.api_key is not None else credentials.bearer
        if key is None:
            raise MissingToken()
        key_id, secret = parse_key(key)
        peppers = await self._peppers()
        record = await self._repo().get(key_id)
        if record is None:
            digest(secret, peppers[0])  # same work as a real comparison: no timing hint that the id is unknown
            raise InvalidToken(_WRONG)
        if not matches(secret, record.digest, peppers):
            raise InvalidToken(_WRONG)
        if record.revoked:
            raise InvalidToken("This API key was revoked: create a new one ('mcp-auth keys create').")
        expires = record.expires_at
        if expires is not None and expires <= datetime.now(UTC):
            raise ExpiredToken("This API key has expired: create a new one ('mcp-auth keys create').")
        self._touch(key_id, record.last_used_at)
        return Principal(
            user_id=record.uid,
            auth_method="api_key",
            scopes=record.scopes,
            client_id=f"api_key:{key_id}",
            expires_at=expires.timestamp() if expires else None,
            issued_at=record.created_at.timestamp() if record.created_at else None,
        )

    def _touch(self, key_id: str, last_used: datetime | None) -> None:
        now = time.time()
        previous = max(self._touched.get(key_id, 0.0), last_used.timestamp() if last_used else 0.0)
        if now - previous < TOUCH_INTERVAL:
            return
        self._touched[key_id] = now
        if len(self._touched) > 100_000:
            self._touched.clear()
        task = asyncio.get_running_loop().create_task(self._write_touch(key_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _write_touch(self, key_id: str) -> None:
        try:
            await self._repo().touch(key_id)
        except Exception as exc:  # a missed last-used time must never fail a request
            logger.warning("could not record last use of API key %s: %s", key_id, type(exc).__name__)
