from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from mcp_auth.store.users import UserRecord, UserRepository


@pytest.fixture
def make_user(user_repo: UserRepository) -> Callable[..., Awaitable[UserRecord]]:
    """Create a user record with a fresh id: make_user(toolsets=..., scopes=..., status=...)."""

    async def make(*, toolsets: tuple[str, ...] = ("basics",), scopes: tuple[str, ...] = ("mcp:tools",),
                   status: str = "active", prefix: str = "user") -> UserRecord:
        uid = f"{prefix}-{uuid.uuid4().hex[:12]}"
        record = await user_repo.create(
            UserRecord(uid=uid, toolsets=frozenset(toolsets), scopes=frozenset(scopes))
        )
        if status != "active":
            record = await user_repo.update(uid, status=status)
        return record

    return make
