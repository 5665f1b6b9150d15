"""Tasks-extension fixtures the conformance suite names (``greet``, ``slow_compute``, ``failing_job``, ...).

``register_task_fixtures(server)`` adds the tools and installs the framework's
``TasksExtension`` (task state in Firestore under the caller, so the suite's
two instances share every task).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    InputRequiredResult,
    TextContent,
)
from mcp_types.jsonrpc import INTERNAL_ERROR

from mcp_auth.tasks import TaskPolicy, TasksExtension, install, start_task, task_elicit

CONFIRM = {"type": "object", "properties": {"confirm": {"type": "boolean"}}, "required": ["confirm"]}
NAME = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}

TASKS = TasksExtension(
    {
        "slow_compute": TaskPolicy(),
        "failing_job": TaskPolicy(required=True),
        "protocol_error_job": TaskPolicy(),
        "confirm_delete": TaskPolicy(),
        "multi_input": TaskPolicy(),
        "test_tool_with_task": TaskPolicy(required=True, deferred=True),
    },
    ttl=timedelta(minutes=10),
    poll_interval=timedelta(milliseconds=200),
    watch_interval=timedelta(milliseconds=200),
    max_runtime=timedelta(minutes=2),
)


def greet(name: str) -> str:
    """Greets by name (never a task)."""
    return f"Hello, {name}!"


async def slow_compute(seconds: float = 1.0, label: str = "") -> str:
    """Sleeps `seconds` (at most 120), then answers; a task for clients with the tasks extension."""
    await asyncio.sleep(min(max(seconds, 0.0), 120.0))
    return f"Computed {label or 'result'} after {seconds:g} s"


async def failing_job() -> str:
    """Always reports a tool error after a short delay; runs only as a task."""
    await asyncio.sleep(0.3)
    raise ToolError("failing_job failed on purpose")


async def protocol_error_job() -> str:
    """Fails with a JSON-RPC (protocol) error, which fails its task."""
    await asyncio.sleep(0.1)
    raise MCPError(code=INTERNAL_ERROR, message="protocol_error_job failed on purpose")


async def confirm_delete(filename: str) -> str:
    """Asks the user to confirm, then reports what it did."""
    answer = await task_elicit(f"Delete {filename}?", CONFIRM)
    confirmed = answer.get("action") == "accept" and bool((answer.get("content") or {}).get("confirm"))
    return f"{'Deleted' if confirmed else 'Kept'} {filename}"


async def multi_input() -> str:
    """Asks two questions at once and answers once both are answered."""
    first, second = await asyncio.gather(task_elicit("First name?", NAME), task_elicit("Second name?", NAME))
    names = [(a.get("content") or {}).get("name", "?") for a in (first, second)]
    return f"Got {names[0]} and {names[1]}"


async def test_tool_with_task(ctx: Context) -> CallToolResult | InputRequiredResult:
    """Asks for a name with an input-required round, then continues as a task."""
    answer = (ctx.input_responses or {}).get("user_name")
    if answer is None:
        request = ElicitRequest(
            method="elicitation/create",
            params=ElicitRequestFormParams(mode="form", message="What is your name?", requested_schema=NAME),
        )
        return InputRequiredResult(input_requests={"user_name": request})
    content = answer if isinstance(answer, dict) else answer.model_dump(by_alias=True, exclude_none=True)
    name = str((content.get("content") or {}).get("name", "stranger"))
    await start_task()
    await asyncio.sleep(0.2)
    return CallToolResult(content=[TextContent(type="text", text=f"Hello, {name}!")])


def register_task_fixtures(server: MCPServer) -> MCPServer:
    for fn in (greet, slow_compute, failing_job, protocol_error_job, confirm_delete, multi_input, test_tool_with_task):
        server.add_tool(fn)
    return install(server, TASKS)


__all__: list[Any] = ["register_task_fixtures"]
