"""Two instances of the conformance fixture function (which enables the tasks extension), behind JWT auth.

tasks_pair      (instance A, instance B, resource URL): both serve the same resource, so a
                token for one is good on the other; send requests to either with ``TaskClient``
TaskClient      a spec 2026-07-28 client over raw HTTP (routing headers, per-request ``_meta``)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests._fixtures.http import mcp_request, messages
from tests.interop.conftest import CONFORMANCE_SOURCE

RESOURCE = "http://localhost:1/mcp"  # a loopback resource: each instance accepts Host localhost:1
EXTENSION = "io.modelcontextprotocol/tasks"


class TaskClient:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    async def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        tasks: bool = True,
        headers: dict[str, str] | None = None,
        version: str = "2026-07-28",
    ) -> httpx.Response:
        params = dict(params or {})
        params["_meta"] = {
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {"extensions": {EXTENSION: {}}} if tasks else {},
            "io.modelcontextprotocol/clientInfo": {"name": "tasks-tests", "version": "1"},
        }
        sent = {"Host": "localhost:1", "Mcp-Method": method}
        name = params.get("taskId") if method.startswith("tasks/") else params.get("name")
        if isinstance(name, str):
            sent["Mcp-Name"] = name
        request = mcp_request(
            method,
            params,
            token=self.token,
            protocol=version,
            headers={**sent, **(headers or {})},
            request_id=uuid.uuid4().hex,
        )
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(f"{self.base}/mcp", **request)

    async def message(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        response = await self.send(method, params, **kwargs)
        assert response.status_code < 500, response.text
        return parse(response)

    async def result(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        message = await self.message(method, params, **kwargs)
        assert "result" in message, message
        return message["result"]

    async def error(self, method: str, params: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        message = await self.message(method, params, **kwargs)
        assert "error" in message, message
        return message["error"]

    async def until(self, task_id: str, statuses: set[str], *, attempts: int = 200) -> dict[str, Any]:
        """Poll tasks/get until the task shows one of ``statuses`` (bounded by attempts, not by time)."""
        task: dict[str, Any] = {}
        for _ in range(attempts):
            task = await self.result("tasks/get", {"taskId": task_id})
            if task["status"] in statuses:
                return task
            await asyncio.sleep(0.1)
        raise AssertionError(f"task {task_id} never reached {statuses}: {task}")


def parse(response: httpx.Response) -> dict[str, Any]:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        return next(m for m in messages(response) if "result" in m or "error" in m)
    return response.json()


@pytest.fixture
async def tasks_pair(start_function: Callable[..., Any]) -> tuple[Any, Any]:
    instances = [start_function(_SOURCE=str(CONFORMANCE_SOURCE), MCP_AUTH_RESOURCE_URL=RESOURCE) for _ in range(2)]
    return instances[0], instances[1]


@pytest.fixture
def client_for(mint: Callable[..., str]) -> Callable[[Any, str], TaskClient]:
    def make(instance: Any, uid: str) -> TaskClient:
        return TaskClient(instance.base, mint(uid, audience=RESOURCE))

    return make
