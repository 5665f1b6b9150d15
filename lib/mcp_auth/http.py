"""The process's one pooled ``httpx.AsyncClient`` for outbound calls, per event loop.

Every outbound call (the platform's credential API, a toolset's third-party API)
goes through ``http_client()``, so connections are pooled and every request has
explicit timeouts. An ``AsyncClient`` is bound to the event loop that first used
it, so there is one per running loop, created on first use.

The client sends no credentials of its own and follows no redirects: each caller
adds the ``Authorization`` header meant for the one host it calls, so a token is
never carried to another host by a redirect.
"""

from __future__ import annotations

import asyncio

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Default per-request timeouts (seconds); callers may pass a tighter ``timeout=`` per request."""

LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)

USER_AGENT = "mcp-auth-server"

_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}


def http_client() -> httpx.AsyncClient:
    """The pooled client of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is not None and entry[0] is loop and not entry[1].is_closed:
        return entry[1]
    _forget_closed_loops()
    client = httpx.AsyncClient(
        timeout=TIMEOUT,
        limits=LIMITS,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )
    _clients[id(loop)] = (loop, client)
    return client


async def close_http_client() -> None:
    """Close the running loop's client (call before the loop ends, e.g. in a CLI or a test)."""
    entry = _clients.pop(id(asyncio.get_running_loop()), None)
    if entry is not None:
        await entry[1].aclose()


def _forget_closed_loops() -> None:
    for key in [k for k, (loop, _) in _clients.items() if loop.is_closed()]:
        del _clients[key]
