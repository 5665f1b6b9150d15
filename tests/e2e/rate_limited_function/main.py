"""The production function with rate limits wired around it, until ``wrap_server`` wires them itself.

Every POST to the MCP endpoint spends one unit of the ``ip`` limit
(``RATE_TEST_LIMIT``, e.g. ``12/minute``) before dispatch; a used-up window
answers 429 with ``Retry-After``. Each built server gets the per-tool limit
(``RATE_TEST_TOOL_LIMIT``, overridable by the user record's ``quotas``). The limiter's clock is frozen at
``RATE_TEST_NOW`` (epoch seconds) so that a test never straddles a window.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import functions_framework.aio
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "functions"))

from mcp.server.mcpserver import MCPServer

from factory import FACTORY
from mcp_auth import UserRecord, wrap_server
from mcp_auth.proxies import address_key, client_origin
from mcp_auth.ratelimit import (
    FirestoreWindows,
    RateLimiter,
    RateLimits,
    ToolRateLimitMiddleware,
    parse_rate,
    rate_limited_response,
)
from mcp_auth.servers import assemble
from mcp_auth.store.firestore import firestore_client

RATE = parse_rate(os.environ["RATE_TEST_LIMIT"])
LIMITS = RateLimits.from_strings(ip="off", user="off", tool=os.environ.get("RATE_TEST_TOOL_LIMIT", "off"))
NOW = float(os.environ["RATE_TEST_NOW"])
_limiters: list[RateLimiter] = []


def limiter() -> RateLimiter:
    if not _limiters:  # the Firestore client belongs to the running event loop
        store = FirestoreWindows(firestore_client(project=os.environ.get("GOOGLE_CLOUD_PROJECT")))
        _limiters.append(RateLimiter(store, lease=10, clock=lambda: NOW))
    return _limiters[0]


def build_limited_server(record: UserRecord) -> MCPServer:
    server, _ = assemble(FACTORY.select(record))
    server.middleware.append(ToolRateLimitMiddleware(limiter(), LIMITS))
    return server


app = wrap_server(build_limited_server)


async def limited(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["method"] == "POST":
        ip = address_key(client_origin(scope, Headers(scope=scope)).ip)  # the right end, as the framework reads it
        decision = await limiter().check("ip", ip, RATE)
        if not decision.allowed:
            await rate_limited_response(decision)(scope, receive, send)
            return
    await app(scope, receive, send)


class _Asgi(Response):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await limited(scope, receive, send)


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return _Asgi()
