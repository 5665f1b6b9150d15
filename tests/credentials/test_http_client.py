"""The pooled outbound client: one per event loop, explicit timeouts, no redirects followed."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from mcp_auth.http import close_http_client, http_client


async def test_one_client_per_loop_with_explicit_timeouts():
    client = http_client()
    assert http_client() is client
    assert client.timeout.connect == 5.0 and client.timeout.read == 10.0
    assert client.follow_redirects is False
    assert "authorization" not in client.headers


async def test_another_loop_gets_its_own_client():
    mine = http_client()

    async def other():
        try:
            return id(http_client())
        finally:
            await close_http_client()

    with ThreadPoolExecutor(1) as pool:
        theirs = pool.submit(asyncio.run, other()).result()
    assert theirs != id(mine)
    assert http_client() is mine


async def test_a_closed_client_is_replaced():
    client = http_client()
    await close_http_client()
    assert client.is_closed
    assert http_client() is not client
