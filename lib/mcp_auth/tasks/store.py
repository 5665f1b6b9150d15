"""Task state in Firestore, under the caller: ``users/{uid}/mcp_tasks/{taskId}``.

The collection is reached through the per-user store handle (``user_store()``),
so a task id names a document only inside its owner's data: another user's id,
a guessed id, a malformed id and an expired task all answer the same way
(``UnknownTask``). Any instance can read or change any task; the instance that
runs the work keeps a lease on it, so a task whose instance stopped is reported
failed instead of ``working`` forever.

Stored fields::

    tool, status                      status is working | completed | failed | cancelled
    input_requests  {key: json}       what the running tool asked the client
    input_responses {key: json}       what the client answered (tasks/update)
    result_json / error_json          the outcome, as JSON text
    ttl_ms, poll_interval_ms, expires_at (the TTL policy's field), lease_until
    created_at, updated_at, request_id (kept by the store)

``input_required`` is never stored: a working task with a request that has no
answer yet is input_required, so concurrent questions and answers never
overwrite a shared status field.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp_auth.context import user_store
from mcp_auth.errors import McpAuthError
from mcp_auth.store.documents import Conflict, Document, NotFound, UserCollection

COLLECTION = "mcp_tasks"
TERMINAL = frozenset({"completed", "failed", "cancelled"})
MAX_OUTCOME_BYTES = 512 * 1024
"""A result or error larger than this fails the task: Firestore documents stop at 1 MiB."""
MAX_INPUT_BYTES = 64 * 1024
"""One input request or response, as JSON."""
_ATTEMPTS = 8


class UnknownTask(McpAuthError):
    status = 404

    def __init__(self) -> None:
        super().__init__(
            "Unknown task id: no task of yours has that id (it may have expired). "
            "Call the tool again to start a new task."
        )


@dataclass(frozen=True, slots=True)
class TaskView:
    """One task as a client sees it (``status`` already derived)."""

    task_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    ttl_ms: int
    poll_interval_ms: int
    input_requests: dict[str, Any]
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    status_message: str | None

    def wire(self, *, detailed: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "taskId": self.task_id,
            "status": self.status,
            "createdAt": _iso(self.created_at),
            "lastUpdatedAt": _iso(self.updated_at),
            "ttlMs": self.ttl_ms,
            "pollIntervalMs": self.poll_interval_ms,
        }
        if self.status_message:
            body["statusMessage"] = self.status_message
        if detailed:
            if self.status == "input_required":
                body["inputRequests"] = self.input_requests
            elif self.status == "completed" and self.result is not None:
                body["result"] = self.result
            elif self.status == "failed" and self.error is not None:
                body["error"] = self.error
        return body


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.now(UTC)


def lease_error() -> dict[str, Any]:
    return {
        "code": -32603,
        "message": "The server instance running this task stopped before it finished; call the tool again.",
    }


class TaskStore:
    """The caller's tasks. Build one per request with ``TaskStore.for_current_user()``."""

    def __init__(self, collection: UserCollection) -> None:
        self._docs = collection

    @classmethod
    def for_current_user(cls) -> TaskStore:
        return cls(user_store().collection(COLLECTION))

    async def create(self, *, tool: str, ttl: timedelta, poll_interval_ms: int, lease: timedelta) -> TaskView:
        """Write the task and return it: a ``tasks/get`` for its id resolves once this returns."""
        now = datetime.now(UTC)
        doc = await self._docs.create(
            {
                "tool": tool[:200],
                "status": "working",
                "input_requests": {},
                "input_responses": {},
                "ttl_ms": int(ttl.total_seconds() * 1000),
                "poll_interval_ms": poll_interval_ms,
                "expires_at": now + ttl,
                "lease_until": now + lease,
            },
            request_id=secrets.token_hex(16),
        )
        return self.view(doc)

    async def get(self, task_id: str) -> TaskView:
        return self.view(await self._read(task_id))

    async def read(self, task_id: str) -> Document:
        return await self._read(task_id)

    async def _read(self, task_id: str) -> Document:
        try:
            doc = await self._docs.get(task_id)
        except NotFound:
            raise UnknownTask() from None
        expires = doc.data.get("expires_at")
        if isinstance(expires, datetime) and expires <= datetime.now(UTC):
            raise UnknownTask()  # the TTL policy deletes it some time later; it is gone already for clients
        return doc

    def view(self, doc: Document) -> TaskView:
        data = doc.data
        status = str(data.get("status", "working"))
        error = _loads(data.get("error_json"))
        lease = data.get("lease_until")
        if status not in TERMINAL and isinstance(lease, datetime) and lease < datetime.now(UTC):
            status, error = "failed", lease_error()
        requests = data.get("input_requests") or {}
        responses = data.get("input_responses") or {}
        pending = {k: _loads(v) for k, v in sorted(requests.items()) if k not in responses}
        if status == "working" and pending:
            status = "input_required"
        return TaskView(
            task_id=doc.id,
            status=status,
            created_at=_as_datetime(data.get("created_at")),
            updated_at=_as_datetime(data.get("updated_at")),
            ttl_ms=int(data.get("ttl_ms") or 0),
            poll_interval_ms=int(data.get("poll_interval_ms") or 1000),
            input_requests=pending,
            result=_loads(data.get("result_json")) if status == "completed" else None,
            error=error if status == "failed" else None,
            status_message=data.get("status_message") if isinstance(data.get("status_message"), str) else None,
        )

    async def mutate(self, task_id: str, change: Callable[[Document], Mapping[str, Any] | None]) -> Document:
        """Apply ``change(current)`` with optimistic concurrency, retrying when another writer got there first.

        ``change`` returns the fields to write, or ``None`` to leave the task as it is.
        """
        for attempt in range(_ATTEMPTS):
            doc = await self._read(task_id)
            changes = change(doc)
            if not changes:
                return doc
            try:
                return await self._docs.update(task_id, changes, version=doc.version)
            except Conflict:
                await asyncio.sleep(random.uniform(0.01, 0.05) * (attempt + 1))  # noqa: S311 # nosec B311: retry jitter, not security
            except NotFound:
                raise UnknownTask() from None
        raise Conflict("The task is changing too quickly to update; retry shortly.")

    async def cancel(self, task_id: str) -> None:
        """Mark the task cancelled unless it already ended (cancelling an ended task is a no-op)."""

        def change(doc: Document) -> dict[str, Any] | None:
            if self.view(doc).status in TERMINAL:
                return None
            return {"status": "cancelled", "status_message": "Cancelled at the client's request."}

        await self.mutate(task_id, change)

    async def answer(self, task_id: str, responses: Mapping[str, Any]) -> None:
        """Record answers to outstanding input requests; answers to anything else are ignored."""

        def change(doc: Document) -> dict[str, Any] | None:
            requests = doc.data.get("input_requests") or {}
            answered = doc.data.get("input_responses") or {}
            if self.view(doc).status in TERMINAL:
                return None
            fields = {
                f"input_responses.{key}": json.dumps(value)
                for key, value in responses.items()
                if key in requests and key not in answered
            }
            return fields or None

        await self.mutate(task_id, change)

    async def finish(
        self, task_id: str, *, result: dict[str, Any] | None = None, error: dict[str, Any] | None = None
    ) -> bool:
        """Store the outcome unless the task already ended (a cancelled task keeps its status)."""
        if result is not None:
            text, status, key = json.dumps(result), "completed", "result_json"
        else:
            text, status, key = json.dumps(error or lease_error()), "failed", "error_json"
        if len(text) > MAX_OUTCOME_BYTES:
            text = json.dumps(
                {
                    "code": -32603,
                    "message": f"The task's outcome is {len(text)} bytes; a task keeps at "
                    f"most {MAX_OUTCOME_BYTES}. Return less data.",
                }
            )
            status, key = "failed", "error_json"
        stored = False

        def change(doc: Document) -> dict[str, Any] | None:
            nonlocal stored
            if doc.data.get("status") in TERMINAL:
                return None
            stored = True
            return {"status": status, key: text, "input_requests": {}, "input_responses": {}}

        await self.mutate(task_id, change)
        return stored


def _loads(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def new_input_key() -> str:
    """A request key unique over the task's lifetime, safe as a Firestore field-path segment."""
    return "k" + secrets.token_hex(8)
