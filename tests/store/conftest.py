"""A ``UserStore`` on the session emulator for a fresh user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from mcp_auth.store.handle import UserStore
from mcp_auth.store.users import UserRecord, UserRepository
from tests.store.warmup import warm


@pytest.fixture
async def new_store(user_repo: UserRepository) -> AsyncIterator[object]:
    await warm(user_repo)

    async def make(settings: dict | None = None) -> UserStore:
        uid = f"store-{uuid.uuid4().hex[:12]}"
        await user_repo.create(UserRecord(uid=uid, settings=settings or {}))
        return UserStore(user_repo._client, uid)

    yield make
