"""The bare baseline: a stateless MCP function with the same ``echo`` tool, no authentication.

What a team would write with the MCP SDK and functions-framework alone: one
``MCPServer`` built at import from a prebuilt ``Tool``, and (functions-framework
has no lifespan hook) a per-request stateless ``StreamableHTTPSessionManager``
streaming SSE. Serve with ``--target mcp --asgi``.
"""

from __future__ import annotations

import functions_framework.aio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools.base import Tool
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


def echo(text: str = Field(max_length=10_000, description="Text to send back.")) -> str:
    """Send the text back unchanged."""
    return text


server = MCPServer("bare-baseline", tools=[Tool.from_function(echo)], log_level="WARNING")


async def _serve(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/healthz":
        await Response(b'{"status":"ok"}', media_type="application/json")(scope, receive, send)
        return
    if scope["method"] != "POST":
        await Response(status_code=405, headers={"Allow": "POST"})(scope, receive, send)
        return
    manager = StreamableHTTPSessionManager(app=server._lowlevel_server, stateless=True, json_response=False)
    async with manager.run():
        await manager.handle_request(scope, receive, send)


class _AsgiResponse(Response):
    def __init__(self) -> None:
        pass

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(scope, receive, send)


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return _AsgiResponse()
