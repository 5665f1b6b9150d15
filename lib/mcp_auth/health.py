"""Readiness: can this instance reach what a request needs? Names of failing dependencies only."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mcp_auth.errors import McpAuthError

if TYPE_CHECKING:
    from mcp_auth.secrets import SecretStore
    from mcp_auth.store.users import UserDirectory

TIMEOUT = 3.0


async def check_readiness(
    users: UserDirectory, secrets: SecretStore | None, secret_names: Sequence[str]
) -> list[str]:
    """The dependencies that failed (empty when ready): ``firestore``, ``secret_manager``."""
    failing: list[str] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            await users.probe()
    except (McpAuthError, TimeoutError, OSError):
        failing.append("firestore")
    if secrets is not None and secret_names:
        try:
            async with asyncio.timeout(TIMEOUT):
                for name in secret_names:
                    await secrets.get(name)
        except (McpAuthError, TimeoutError, OSError):
            failing.append("secret_manager")
    return failing
