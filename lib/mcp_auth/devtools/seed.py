"""``python -m mcp_auth.devtools.seed USER``: record the Firestore layout this code writes (what
``mcp-auth migrate`` does), create the development user (toolset basics, scope mcp:tools) unless it
exists, and print a week-long token for it. ``mcp-auth dev`` runs it with the development environment
(the emulator's address, the development key) before it starts the function, so the function finds the
layout recorded and has nothing to warn about."""

from __future__ import annotations

import asyncio
import sys

from mcp_auth.config import Settings
from mcp_auth.devtools.tokens import mint_token

WEEK = 7 * 24 * 3600


async def seed(settings: Settings, user: str) -> str:
    from mcp_auth.store.firestore import close_clients, firestore_client
    from mcp_auth.store.migrations import migrate, plan
    from mcp_auth.store.users import UserRecord, UserRepository

    client = firestore_client(project=settings.project, database=settings.firestore_database)
    repository = UserRepository(client)
    try:
        await migrate(client, await plan(client))
        if await repository.get(user) is None:
            await repository.create(
                UserRecord(uid=user, toolsets=frozenset({"basics"}), scopes=frozenset({"mcp:tools"}))
            )
    finally:
        await close_clients()
    return mint_token(settings, user=user, scopes=["mcp:tools"], ttl=WEEK)


if __name__ == "__main__":
    print(asyncio.run(seed(Settings.from_env(), sys.argv[1])))
