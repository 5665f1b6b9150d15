"""``python -m mcp_auth.devtools.seed USER``: record the Firestore layout this code writes (what
``mcp-auth migrate`` does), create the development user (toolset basics, scope mcp:tools; toolset github
too when GitHub is a connected-account provider) unless it exists, give an existing one the github
toolset in that case, and print a week-long token for it. ``mcp-auth dev`` runs it with the development environment
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
    github = any(p.name == "github" for p in settings.connections)  # the stand-in of mcp-auth dev
    toolsets = frozenset({"basics", "github"} if github else {"basics"})
    try:
        await migrate(client, await plan(client))
        found = await repository.get(user)
        if found is None:
            await repository.create(UserRecord(uid=user, toolsets=toolsets, scopes=frozenset({"mcp:tools"})))
        elif github and "github" not in found.toolsets:
            await repository.change(user, "toolsets", ["github"])
    finally:
        await close_clients()
    return mint_token(settings, user=user, scopes=["mcp:tools"], ttl=WEEK)


if __name__ == "__main__":
    print(asyncio.run(seed(Settings.from_env(), sys.argv[1])))
