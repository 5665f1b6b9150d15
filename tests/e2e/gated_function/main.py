"""The production function plus one test-only tool that waits for the client.

``progress_then_wait`` reports progress, then waits until the client creates
the file named by ``gate``. A client can only create it after receiving the
first progress notification, so the call completes only if notifications are
streamed live rather than delivered with the result.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import functions_framework.aio
from mcp.server.mcpserver import Context
from starlette.requests import Request
from starlette.responses import Response

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "functions"))

from factory import FACTORY
from mcp_auth import Toolset, ToolsetFactory, tool, wrap_server


async def progress_then_wait(ctx: Context, gate: str) -> str:
    await ctx.report_progress(1, 2, "waiting for the gate")
    with anyio.move_on_after(20):
        while not Path(gate).exists():
            await anyio.sleep(0.05)
        await ctx.report_progress(2, 2, "released")
        return "released"
    return "gate never opened: the progress notification did not reach the client in time"


GATE = Toolset("gate", tools=[tool(progress_then_wait)])
GATED = ToolsetFactory(  # every user gets the gate beside the toolsets their record names
    [*FACTORY.toolsets.values(), GATE],
    select=lambda record, toolsets: [toolsets[n] for n in sorted(record.toolsets) if n in toolsets] + [GATE],
)

app = wrap_server(GATED)


@functions_framework.aio.http
async def mcp(request: Request) -> Response:
    return await app.handle(request)
