"""Helpers for the secret store tests."""

from __future__ import annotations

import asyncio
import secrets as random_secrets
from collections.abc import Callable


def secret_value() -> bytes:
    """A fresh random secret value, easy to search for in logs."""
    return f"s3cr3t-{random_secrets.token_hex(16)}".encode()


async def wait_until(condition: Callable[[], bool]) -> None:
    """Yield to the event loop until `condition` holds (the test timeout bounds it)."""
    while not condition():
        await asyncio.sleep(0.01)
