"""A freshly started emulator on a busy machine can miss its first deadlines: wait until it answers a write."""

from __future__ import annotations

import asyncio
import time

from mcp_auth.errors import StoreUnavailable
from mcp_auth.store.users import UserRecord, UserRepository


async def warm(repo: UserRepository, *, within: float = 60.0) -> None:
    give_up = time.monotonic() + within
    while True:
        try:
            await repo.create(UserRecord(uid="warmup"))
            return
        except StoreUnavailable:
            if time.monotonic() > give_up:
                raise
            await asyncio.sleep(0.5)
