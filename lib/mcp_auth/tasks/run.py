"""Running a task's work after the request that started it has been answered.

The work is an asyncio task of this process, detached from the request: the
response (``CreateTaskResult``) goes out while the tool keeps running. A
watcher reads the task's document every ``watch_interval`` while the work runs:
it renews the lease, hands answers written by ``tasks/update`` (on any
instance) to the tool waiting for them, and stops the tool when
``tasks/cancel`` (on any instance) marked the task cancelled.

Inside a running task a tool asks the client for input with ``task_input`` or
``task_elicit``; a tool registered ``deferred`` decides itself when to become
a task with ``start_task``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp_auth.errors import McpAuthError
from mcp_auth.store.documents import Document
from mcp_auth.tasks.store import MAX_INPUT_BYTES, TERMINAL, TaskStore, TaskView, new_input_key

logger = logging.getLogger("mcp_auth.tasks")

_running: set[asyncio.Task[Any]] = set()  # strong references: the event loop keeps only weak ones


class NotInTask(McpAuthError):
    status = 500


class TaskCancelled(Exception):
    """The client cancelled the task while the tool waited for input."""


@dataclass(frozen=True, slots=True)
class RunSettings:
    ttl: timedelta
    poll_interval_ms: int
    lease: timedelta
    watch_interval: float
    max_runtime: float


@dataclass
class Run:
    """One task's work on this instance."""

    store: TaskStore
    settings: RunSettings
    tool: str
    task: TaskView | None = None
    created: asyncio.Future[TaskView] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    cancelled: bool = False

    async def begin(self) -> TaskView:
        """Create the task document (once) and tell the request to answer with it."""
        if self.task is None:
            self.task = await self.store.create(
                tool=self.tool,
                ttl=self.settings.ttl,
                poll_interval_ms=self.settings.poll_interval_ms,
                lease=self.settings.lease,
            )
            if not self.created.done():
                self.created.set_result(self.task)
        return self.task


_current_run: ContextVar[Run | None] = ContextVar("mcp_auth_task_run", default=None)


def spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
    """Run ``coro`` outside the request's cancel scope, kept alive until it ends."""
    task = asyncio.ensure_future(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def start_handler(run: Run, handler: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
    """Start the tool's handler in its own asyncio task, with ``run`` as its current task run."""

    async def body() -> Any:
        _current_run.set(run)
        return await handler()

    return spawn(body())


async def supervise(run: Run, work: asyncio.Task[Any], dump: Callable[[Any], dict[str, Any]]) -> None:
    """Wait for the work, watching the task meanwhile, then store its outcome."""
    if run.task is None:
        raise RuntimeError("supervise() needs a begun task run")  # begin() runs before supervision starts
    task_id = run.task.task_id
    watcher = spawn(_watch(run, work))
    try:
        try:
            result = await asyncio.wait_for(asyncio.shield(work), timeout=run.settings.max_runtime)
        except TimeoutError:
            work.cancel()
            await run.store.finish(
                task_id,
                error={
                    "code": -32603,
                    "message": f"The task ran longer than {run.settings.max_runtime:g} seconds and was stopped.",
                },
            )
            return
        except asyncio.CancelledError:
            if run.cancelled:
                return  # tasks/cancel already stored the status
            raise
        except TaskCancelled:
            return
        except Exception as exc:
            await run.store.finish(task_id, error=error_of(exc))
            return
        await run.store.finish(task_id, result=dump(result))
    except McpAuthError as exc:  # the store failed: the lease runs out and tasks/get reports the task failed
        logger.warning("could not store the outcome of task %s: %s", task_id, exc.message)
    finally:
        watcher.cancel()


def error_of(exc: BaseException) -> dict[str, Any]:
    from mcp.shared.exceptions import MCPError

    if isinstance(exc, MCPError):
        body: dict[str, Any] = {"code": exc.error.code, "message": exc.error.message}
        if exc.error.data is not None:
            body["data"] = exc.error.data
        return body
    logger.error("task work raised %s", type(exc).__name__, exc_info=exc)
    return {"code": -32603, "message": "The task failed with an internal error; it has been logged."}


async def _watch(run: Run, work: asyncio.Task[Any]) -> None:
    if run.task is None:
        raise RuntimeError("_watch() needs a begun task run")
    task_id = run.task.task_id
    renew_every = run.settings.lease / 3
    renewed = datetime.now(UTC)
    while not work.done():
        await asyncio.sleep(run.settings.watch_interval)
        try:
            doc = await run.store.read(task_id)
        except McpAuthError as exc:
            logger.info("task %s watch: %s", task_id, exc.message)
            continue
        if doc.data.get("status") in TERMINAL:
            run.cancelled = doc.data.get("status") == "cancelled"
            for future in run.waiting.values():
                if not future.done():
                    future.set_exception(TaskCancelled())
            work.cancel()
            return
        answers = doc.data.get("input_responses") or {}
        for key, future in list(run.waiting.items()):
            if key in answers and not future.done():
                try:
                    value = json.loads(answers[key])
                except ValueError:
                    value = {}
                future.set_result(value if isinstance(value, dict) else {"value": value})
        if datetime.now(UTC) - renewed >= renew_every:
            renewed = datetime.now(UTC)
            lease_until = renewed + run.settings.lease
            with contextlib.suppress(McpAuthError):
                await run.store.mutate(task_id, functools.partial(_extend_lease, until=lease_until))


def _extend_lease(doc: Document, *, until: datetime) -> dict[str, Any] | None:
    """The lease's new end, unless the task has finished meanwhile."""
    return None if doc.data.get("status") in TERMINAL else {"lease_until": until}


async def start_task() -> bool:
    """From a tool registered ``deferred``: answer the call with a task now and keep running in it.

    Returns ``True`` once the task exists (the client has its id); ``False`` when
    this call cannot become a task (the client did not declare the extension),
    in which case the tool simply carries on and returns its result directly.
    """
    run = _current_run.get()
    if run is None:
        return False
    await run.begin()
    return True


async def task_input(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the client for input from inside a running task and wait for its answer.

    ``method`` and ``params`` are the server-to-client request (``elicitation/create``,
    ``sampling/createMessage``, ``roots/list``); the answer is its result, as a dict.
    The task shows ``input_required`` until the client answers with ``tasks/update``.
    """
    run = _current_run.get()
    if run is None or run.task is None:
        raise NotInTask("task_input() works only inside a tool running as a task.")
    request = {"method": method, "params": dict(params)}
    text = json.dumps(request)
    if len(text) > MAX_INPUT_BYTES:
        raise ValueError(f"An input request is at most {MAX_INPUT_BYTES} bytes of JSON, got {len(text)}.")
    key = new_input_key()
    future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    run.waiting[key] = future
    task_id = run.task.task_id
    try:
        await run.store.mutate(
            task_id, lambda d: None if d.data.get("status") in TERMINAL else {f"input_requests.{key}": text}
        )
        answer = await future
    finally:
        run.waiting.pop(key, None)
    with contextlib.suppress(McpAuthError):  # forget the answered question (the write is conditional, see mutate)
        await run.store.mutate(
            task_id,
            lambda d: (
                None
                if d.data.get("status") in TERMINAL
                else {
                    field: {k: v for k, v in (d.data.get(field) or {}).items() if k != key}
                    for field in ("input_requests", "input_responses")
                }
            ),
        )
    return answer


async def task_elicit(message: str, requested_schema: Mapping[str, Any]) -> dict[str, Any]:
    """Ask the user a form question from inside a running task; returns ``{"action": ..., "content": ...}``."""
    return await task_input(
        "elicitation/create", {"mode": "form", "message": message, "requestedSchema": dict(requested_schema)}
    )
