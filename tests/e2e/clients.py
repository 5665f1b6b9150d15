"""Real MCP clients over real HTTP, for the end-to-end tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests._fixtures.http import authorization

Mode = Literal["auto", "legacy"]
MODES: tuple[Mode, ...] = ("auto", "legacy")

# functions-framework's gunicorn closes a connection idle for 2 s. A client that keeps one longer (httpx: 5 s)
# can send its next request at the moment the server closes it and read an empty answer (a ReadError): a
# test that waits about 2 s between calls, e.g. for an emulator to restart, would fail by chance. The
# client lets its idle connections go first.
LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=1.0)


@asynccontextmanager
async def mcp_client(url: str, token: str | None, *, mode: Mode = "auto") -> AsyncIterator[Client]:
    headers = authorization(token) if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60), limits=LIMITS) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, raise_exceptions=True) as client:
            yield client
