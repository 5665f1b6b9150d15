"""Tasks (``io.modelcontextprotocol/tasks``): long tool calls answered with a task the client polls.

    from mcp_auth.tasks import TaskPolicy, TasksExtension, task_elicit

    tasks = TasksExtension({"export_report": TaskPolicy()})
    server = MCPServer("team", extensions=[tasks])

Task state lives in Firestore under the caller (``users/{uid}/mcp_tasks``), so
any instance answers ``tasks/get``, ``tasks/update`` and ``tasks/cancel``;
see docs/tasks.md for what Cloud Run does to work that outlives its request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mcp_auth.tasks.extension import TASKS_EXTENSION_ID, TaskPolicy, TasksExtension, create_task_result
from mcp_auth.tasks.run import TaskCancelled, start_task, task_elicit, task_input
from mcp_auth.tasks.store import COLLECTION, TaskStore, UnknownTask

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

__all__ = [
    "COLLECTION",
    "TASKS_EXTENSION_ID",
    "TaskCancelled",
    "TaskPolicy",
    "TaskStore",
    "TasksExtension",
    "UnknownTask",
    "create_task_result",
    "install",
    "start_task",
    "task_elicit",
    "task_input",
]


def install(server: MCPServer, extension: TasksExtension) -> MCPServer:
    """Add ``extension`` to a server that is already built (``MCPServer(extensions=[...])`` is the usual way).

    mcp 2.3 fixes extensions at construction; this applies one afterwards through
    the same steps the constructor takes.
    """
    from mcp_auth._sdk import apply_extension

    apply_extension(server, extension)
    return server
