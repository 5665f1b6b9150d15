"""``/healthz`` (liveness: the process answers) and ``/readyz`` (can this instance reach what a request
needs? Names of failing dependencies only)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from mcp_auth.errors import McpAuthError

if TYPE_CHECKING:
    from mcp_auth.secrets import SecretStore
    from mcp_auth.store.users import UserDirectory

TIMEOUT = 3.0
logger = logging.getLogger("mcp_auth")


async def check_readiness(users: UserDirectory, secrets: SecretStore | None, secret_names: Sequence[str]) -> list[str]:
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


async def liveness(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"status": "ok"})(scope, receive, send)


class Readiness:
    """``/readyz``: 200 when Firestore and the configured secrets answer, else 503 naming what failed.

    Anyone may call it, so its cost is bounded: at most one probe runs at a time, and its answer serves
    every call for ``interval`` seconds (a probe is one Firestore read and one read per secret)."""

    def __init__(
        self,
        users: Callable[[], UserDirectory],
        secrets: SecretStore | None,
        secret_names: Sequence[str],
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users, self._secrets, self._names = users, secrets, tuple(secret_names)
        self._interval, self._clock = interval, clock
        self._lock = asyncio.Lock()
        self._answer: tuple[float, list[str]] | None = None

    async def failing(self) -> list[str]:
        async with self._lock:
            if self._answer is None or self._clock() - self._answer[0] >= self._interval:
                self._answer = (self._clock(), await check_readiness(self._users(), self._secrets, self._names))
            return self._answer[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        failing = await self.failing()
        if failing:
            logger.error("not ready: %s unavailable", ", ".join(failing), extra={"failing": failing})
            response = JSONResponse({"status": "unavailable"}, status_code=503, headers={"Retry-After": "5"})
        else:
            response = JSONResponse({"status": "ready"})
        await response(scope, receive, send)
