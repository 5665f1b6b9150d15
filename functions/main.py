"""Cloud Run functions entry point: ``mcp`` serves the MCP endpoint and its metadata.

Deploy with entry point ``mcp``; run locally with ``make dev``.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from factory import build_server
from mcp_auth import wrap_server

app = wrap_server(build_server)


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return await app.handle(request)
