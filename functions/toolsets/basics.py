"""``basics``: who am I, and an echo that can report progress. Enough to prove the path."""

from __future__ import annotations

import anyio
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from mcp_auth import Toolset, current_user, tool


class WhoAmI(BaseModel):
    user_id: str
    auth_method: str
    scopes: list[str]
    toolsets: list[str]


def whoami() -> WhoAmI:
    """Who the server thinks you are: user id, how you authenticated, your scopes and toolsets."""
    user = current_user()
    return WhoAmI(
        user_id=user.user_id,
        auth_method=user.auth_method,
        scopes=sorted(user.scopes),
        toolsets=sorted(user.record.toolsets),
    )


def echo(text: str = Field(max_length=10_000, description="Text to send back.")) -> str:
    """Send the text back unchanged."""
    return text


async def echo_with_progress(
    ctx: Context,
    text: str = Field(max_length=10_000, description="Text to send back."),
    steps: int = Field(default=3, ge=1, le=20, description="How many progress notifications to send first."),
    delay: float = Field(default=0.2, ge=0, le=5, description="Seconds to wait between steps."),
) -> str:
    """Send the text back after reporting progress ``steps`` times (streams as SSE)."""
    for step in range(1, steps + 1):
        await ctx.report_progress(step, steps, f"step {step} of {steps}")
        await anyio.sleep(delay)
    return text


TOOLSET = Toolset(
    "basics",
    description="Who am I, and an echo that can report progress.",
    tools=[
        tool(whoami, structured_output=True, annotations=ToolAnnotations(readOnlyHint=True)),
        tool(echo, scopes=["mcp:tools"]),
        tool(echo_with_progress, scopes=["mcp:tools"]),
    ],
)
