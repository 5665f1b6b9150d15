"""Cloud Run functions entry point: ``mcp`` serves the MCP endpoint and its metadata.

Deploy with entry point ``mcp``; run locally with ``make dev``. The toolsets served are
those of the factory ``MCP_AUTH_FACTORY`` names: ``factory:FACTORY`` (``functions/factory.py``)
unless set otherwise. The command line (``mcp-auth users``, ``mcp-auth stdio``) finds it the same way.
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from mcp_auth import wrap_server

app = wrap_server()


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return await app.handle(request)
