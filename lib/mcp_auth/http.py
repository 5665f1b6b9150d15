"""The process's one pooled ``httpx.AsyncClient`` for outbound calls, per event loop.

Every outbound call (the platform's credential API, a toolset's third-party API)
goes through ``http_client()``, so connections are pooled and every request has
explicit timeouts. An ``AsyncClient`` is bound to the event loop that first used
it, so there is one per running loop, created on first use.

The client sends no credentials of its own and follows no redirects: each caller
adds the ``Authorization`` header meant for the one host it calls, so a token is
never carried to another host by a redirect.

With tracing on (``MCP_AUTH_OTEL_EXPORTER``), every request sent through ``Transport``
(this client's, and the JWKS and introspection clients') is a CLIENT span that sends
``traceparent`` to the callee (``tracing.send_in_span``); with it off, nothing here
touches OpenTelemetry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""Default per-request timeouts (seconds); callers may pass a tighter ``timeout=`` per request."""

LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=30.0)

USER_AGENT = "mcp-auth-server"

_clients: dict[int, tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]] = {}

Send = Callable[[httpx.Request], Awaitable[httpx.Response]]
#: Set by tracing (``tracing.build_tracing``): sends a request inside its CLIENT span. None: tracing is off.
_traced: Callable[[httpx.Request, Send], Awaitable[httpx.Response]] | None = None


def trace_outbound(send: Callable[[httpx.Request, Send], Awaitable[httpx.Response]] | None) -> None:
    """Route every request of ``Transport`` through ``send`` (None: straight to the network)."""
    global _traced
    _traced = send


class Transport(httpx.AsyncHTTPTransport):
    """httpx's transport, each request a CLIENT span when tracing is on (one check otherwise)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if _traced is None:
            return await super().handle_async_request(request)
        return await _traced(request, super().handle_async_request)


def http_client() -> httpx.AsyncClient:
    """The pooled client of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    entry = _clients.get(id(loop))
    if entry is not None and entry[0] is loop and not entry[1].is_closed:
        return entry[1]
    _forget_closed_loops()
    client = httpx.AsyncClient(
        timeout=TIMEOUT,
        transport=Transport(limits=LIMITS),
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
