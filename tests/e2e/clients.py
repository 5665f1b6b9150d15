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


@asynccontextmanager
async def mcp_client(url: str, token: str | None, *, mode: Mode = "auto") -> AsyncIterator[Client]:
    headers = authorization(token) if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=60)) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode, raise_exceptions=True) as client:
            yield client
