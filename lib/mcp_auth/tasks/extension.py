"""The tasks extension (``io.modelcontextprotocol/tasks``, SEP-2663) for an ``MCPServer``.

    tasks = TasksExtension({"export_report": TaskPolicy(), "rebuild_index": TaskPolicy(required=True)})
    server = MCPServer("team", extensions=[tasks])        # or install(server, tasks) on a built server

A ``tools/call`` for a listed tool from a client that declares the extension is
answered with a ``CreateTaskResult`` once the task is stored in Firestore; the
tool runs on, and ``tasks/get`` / ``tasks/update`` / ``tasks/cancel`` reach the
task from any instance. A client without the extension gets the ordinary
result (or, for a ``required`` tool, error -32021 naming the extension).
Only spec 2026-07-28 requests see any of this: handshake-era clients get the
tools' plain results and ``Method not found`` for ``tasks/*``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding
from mcp.shared.exceptions import MCPError
from mcp.shared.inbound import decode_header_value
from mcp_types import CallToolRequestParams, RequestParams
from mcp_types.jsonrpc import HEADER_MISMATCH, INTERNAL_ERROR, INVALID_PARAMS, MISSING_REQUIRED_CLIENT_CAPABILITY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field

from mcp_auth.errors import McpAuthError, UpstreamError
from mcp_auth.tasks.run import Run, RunSettings, start_handler, supervise
from mcp_auth.tasks.store import MAX_INPUT_BYTES, TaskStore, TaskView, UnknownTask

TASKS_EXTENSION_ID = "io.modelcontextprotocol/tasks"
_TASK_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_RESPONSES = 64


@dataclass(frozen=True, slots=True)
class TaskPolicy:
    """How one tool runs as a task.

    ``required``: the tool only runs as a task; a client without the extension gets error -32021.
    ``deferred``: the tool starts inside the request and becomes a task when it calls
    ``start_task()`` (for example after gathering input with an input-required round);
    otherwise the task is created before the tool starts.
    """

    required: bool = False
    deferred: bool = False


class TaskIdParams(RequestParams):
    model_config = ConfigDict(extra="ignore")
    task_id: Any = Field(default=None, alias="taskId")


class UpdateParams(TaskIdParams):
    input_responses: Any = Field(default=None, alias="inputResponses")


class TasksExtension(Extension):
    """Opt-in tasks for the tools named in ``tools``; task state lives in the caller's Firestore data."""

    identifier = TASKS_EXTENSION_ID

    def __init__(
        self,
        tools: Mapping[str, TaskPolicy],
        *,
        ttl: timedelta = timedelta(hours=1),
        poll_interval: timedelta = timedelta(seconds=1),
        max_runtime: timedelta = timedelta(minutes=15),
        lease: timedelta = timedelta(seconds=60),
        watch_interval: timedelta = timedelta(seconds=1),
    ) -> None:
        if not tools:
            raise ValueError("TasksExtension needs at least one tool name mapped to a TaskPolicy.")
        for name, policy in tools.items():
            if not isinstance(name, str) or not isinstance(policy, TaskPolicy):
                raise TypeError(f"tools maps tool names to TaskPolicy, got {name!r}: {type(policy).__name__}.")
        if ttl < timedelta(minutes=1) or ttl > timedelta(days=30):
            raise ValueError(f"ttl is between one minute and 30 days, got {ttl}.")
        if max_runtime <= timedelta(0) or max_runtime > ttl:
            raise ValueError(f"max_runtime is positive and at most ttl ({ttl}), got {max_runtime}.")
        if not timedelta(0) < watch_interval < lease:
            raise ValueError(f"watch_interval ({watch_interval}) is positive and shorter than lease ({lease}).")
        if poll_interval < timedelta(milliseconds=100):
            raise ValueError(f"poll_interval is at least 100 ms, got {poll_interval}.")
        self._tools = dict(tools)
        self._settings = RunSettings(
            ttl=ttl,
            poll_interval_ms=int(poll_interval.total_seconds() * 1000),
            lease=lease,
            watch_interval=watch_interval.total_seconds(),
            max_runtime=max_runtime.total_seconds(),
        )

    def methods(self) -> Sequence[MethodBinding]:
        versions = frozenset(MODERN_PROTOCOL_VERSIONS)
        return (
            MethodBinding("tasks/get", TaskIdParams, self._get, protocol_versions=versions),
            MethodBinding("tasks/update", UpdateParams, self._update, protocol_versions=versions),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel, protocol_versions=versions),
        )

    # -- tools/call ---------------------------------------------------------
    async def intercept_tool_call(
        self, params: CallToolRequestParams, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        policy = self._tools.get(params.name)
        if policy is None or ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return await call_next(ctx)
        if not _declared(ctx):
            if policy.required:
                raise _missing_extension(f"The tool {params.name!r} runs only as a task")
            return await call_next(ctx)
        run = Run(store=TaskStore.for_current_user(), settings=self._settings, tool=params.name)
        if not policy.deferred:
            task = await _stored(run.begin())
            work = start_handler(run, lambda: call_next(ctx))
            _supervise(run, work)
            return create_task_result(task)
        work = start_handler(run, lambda: call_next(ctx))
        try:
            await asyncio.wait({work, run.created}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if not run.created.done():
                work.cancel()
            raise
        if run.created.done():
            _supervise(run, work)
            return create_task_result(run.created.result())
        run.created.cancel()
        result: HandlerResult = work.result()  # the tool finished without becoming a task: its ordinary result
        return result

    # -- tasks/* ------------------------------------------------------------
    async def _get(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        task_id = _task_id(ctx, params)
        view = await _stored(TaskStore.for_current_user().get(task_id))
        return {"resultType": "complete", **view.wire(detailed=True)}

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: UpdateParams) -> dict[str, Any]:
        task_id = _task_id(ctx, params)
        responses = _responses(params.input_responses)
        await _stored(TaskStore.for_current_user().answer(task_id, responses))
        return {"resultType": "complete"}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> dict[str, Any]:
        task_id = _task_id(ctx, params)
        await _stored(TaskStore.for_current_user().cancel(task_id))
        return {"resultType": "complete"}


def create_task_result(task: TaskView) -> dict[str, Any]:
    """The ``CreateTaskResult`` for ``task``: ``resultType: "task"`` and the task's fields, flat."""
    return {"resultType": "task", **task.wire(detailed=False)}


def _supervise(run: Run, work: asyncio.Task[Any]) -> None:
    from mcp_auth.tasks.run import spawn

    spawn(supervise(run, work, _dump))


def _dump(result: Any) -> dict[str, Any]:
    from mcp_types import InputRequiredResult

    if isinstance(result, InputRequiredResult):
        raise MCPError(
            code=INTERNAL_ERROR,
            message="The tool asked for input with an input-required result while "
            "running as a task; use mcp_auth.tasks.task_elicit instead.",
        )
    if isinstance(result, BaseModel):
        return result.model_dump(by_alias=True, mode="json", exclude_none=True)
    if isinstance(result, dict):
        return result
    raise MCPError(code=INTERNAL_ERROR, message=f"The tool returned {type(result).__name__}, not a tool result.")


def _declared(ctx: ServerRequestContext[Any, Any]) -> bool:
    capabilities = ctx.session.client_capabilities
    extensions = capabilities.extensions if capabilities is not None else None
    return extensions is not None and TASKS_EXTENSION_ID in extensions


def _missing_extension(what: str) -> MCPError:
    return MCPError(
        code=MISSING_REQUIRED_CLIENT_CAPABILITY,
        message=f"{what}: declare the {TASKS_EXTENSION_ID!r} extension in the request's client capabilities.",
        data={"requiredCapabilities": {"extensions": {TASKS_EXTENSION_ID: {}}}},
    )


def _task_id(ctx: ServerRequestContext[Any, Any], params: TaskIdParams) -> str:
    """The request's task id, after the capability and routing-header checks, in that order."""
    if not _declared(ctx):
        raise _missing_extension(f"{ctx.method} is part of the tasks extension")
    task_id = params.task_id
    if not isinstance(task_id, str):
        raise MCPError(code=INVALID_PARAMS, message="params.taskId is required and must be a string.")
    headers = getattr(ctx.request, "headers", None)
    if headers is not None:  # Streamable HTTP: Mcp-Name carries the task id (SEP-2663 routing headers)
        if decode_header_value(headers.get("mcp-name")) != task_id:
            raise MCPError(
                code=HEADER_MISMATCH,
                message="The Mcp-Name header must equal params.taskId on tasks/get, tasks/update and tasks/cancel.",
            )
    if not _TASK_ID.fullmatch(task_id):
        raise _unknown()
    return task_id


def _responses(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MCPError(
            code=INVALID_PARAMS,
            message="params.inputResponses is required and must be an object mapping input request keys to responses.",
        )
    if len(value) > _MAX_RESPONSES:
        raise MCPError(code=INVALID_PARAMS, message=f"params.inputResponses holds at most {_MAX_RESPONSES} entries.")
    import json

    kept: dict[str, Any] = {}
    for key, response in value.items():
        if not isinstance(response, dict):
            raise MCPError(code=INVALID_PARAMS, message="Each entry of params.inputResponses must be an object.")
        if len(json.dumps(response)) > MAX_INPUT_BYTES:
            raise MCPError(code=INVALID_PARAMS, message=f"An input response is at most {MAX_INPUT_BYTES} bytes.")
        if re.fullmatch(r"k[0-9a-f]{16}", key):  # keys this server issues; anything else is ignored (spec)
            kept[key] = response
    return kept


def _unknown() -> MCPError:
    return MCPError(code=INVALID_PARAMS, message=UnknownTask().message)


async def _stored(awaitable: Any) -> Any:
    """Store errors as JSON-RPC errors: unknown tasks -32602, an unavailable store -32603 (retryable)."""
    try:
        return await awaitable
    except UnknownTask:
        raise _unknown() from None
    except UpstreamError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=f"Temporarily unavailable, retry shortly: {exc.message}") from None
    except McpAuthError as exc:
        raise MCPError(code=INTERNAL_ERROR, message=exc.message) from None
